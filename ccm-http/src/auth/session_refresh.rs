//! Refreshing a browser session's OIDC tokens once, whichever process and
//! request notice first that they are due. Providers rotate refresh tokens: each
//! works once, and a second refresh with the same token makes the provider end the
//! session. So a refresh is claimed before the provider is called: the claim is a
//! compare-and-swap on the session record's version that marks it
//! `refreshing_until` a deadline. The winner calls the provider and writes the new
//! tokens with another compare-and-swap on the version its claim produced; every
//! other request, on this process or another, re-reads the record until the new
//! tokens are there and uses them. A claim whose holder died lapses at its
//! deadline, and the next request claims again.
//!
//! The provider call runs in a task of its own, so a client that disconnects
//! mid-refresh does not cut it off after the provider spent the old refresh token.

use std::sync::Arc;
use std::time::Duration;

use ccm_core::ports::kv::Expect;

use super::oidc_login::{LoginError, OidcLogin};
use super::session::{later, Session, SessionError, Sessions};

/// How long a claim holds: longer than the token request's timeout (10 s) plus a
/// key fetch for the new ID token (10 s).
const CLAIM: Duration = Duration::from_secs(30);
/// How often a waiting request looks at the record again.
const POLL: Duration = Duration::from_millis(50);

/// The live session `id`, its tokens refreshed first when due; `None` when the
/// session ended (expired, logged out, or the provider refused the refresh).
pub async fn current(
    sessions: &Arc<Sessions>,
    login: &Arc<OidcLogin>,
    id: &str,
) -> Result<Option<Session>, SessionError> {
    // Real time, not the sessions' clock: waiting must end even when that clock
    // stands still.
    let give_up = tokio::time::Instant::now() + 2 * CLAIM;
    loop {
        let Some(session) = sessions.get(id).await? else {
            return Ok(None);
        };
        let now = sessions.now();
        if !session.due(now) {
            return Ok(Some(session));
        }
        if !session.refreshing(now) {
            let claim = Session {
                refreshing_until: Some(later(now, CLAIM)),
                ..session.clone()
            };
            match sessions
                .write(id, &claim, Expect::Version(session.version))
                .await
            {
                Ok(claimed) => {
                    let task = tokio::spawn(refresh(
                        sessions.clone(),
                        login.clone(),
                        id.to_owned(),
                        claimed,
                    ));
                    return task.await.map_err(|e| {
                        SessionError::Refresh(format!("the refresh task failed: {e}"))
                    })?;
                }
                // Another request claimed first (or the session changed): look again.
                Err(lost) if lost.is_conflict() => continue,
                Err(error) => return Err(error),
            }
        }
        if tokio::time::Instant::now() >= give_up {
            return Err(SessionError::Refresh(
                "another request has been refreshing this session for too long".into(),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Refreshes the tokens of `claimed` (whose claim this request won) and stores
/// the outcome.
async fn refresh(
    sessions: Arc<Sessions>,
    login: Arc<OidcLogin>,
    id: String,
    claimed: Session,
) -> Result<Option<Session>, SessionError> {
    let Some(tokens) = claimed.tokens.clone() else {
        return Ok(Some(claimed));
    };
    let claimed_version = claimed.version;
    match login.refresh(&tokens).await {
        Ok((role, fresh)) => {
            let next = Session {
                role,
                tokens: Some(fresh),
                refreshing_until: None,
                ..claimed
            };
            match sessions
                .write(&id, &next, Expect::Version(claimed_version))
                .await
            {
                Ok(written) => Ok(Some(written)),
                // Logged out meanwhile, or the claim lapsed and another request
                // took over: the record as it is now decides.
                Err(lost) if lost.is_conflict() => sessions.get(&id).await,
                Err(error) => Err(error),
            }
        }
        Err(LoginError::Refused(reason)) => {
            tracing::info!(%reason, "session refresh refused; session ended");
            sessions.close(&id).await?;
            Ok(None)
        }
        Err(unavailable @ LoginError::Unavailable(_)) => {
            // Release the claim so the next request tries again at once; if the
            // record changed meanwhile there is nothing to release.
            let released = Session {
                refreshing_until: None,
                ..claimed
            };
            if let Err(error) = sessions
                .write(&id, &released, Expect::Version(claimed_version))
                .await
            {
                if !error.is_conflict() {
                    tracing::warn!(%error, "could not release a session's refresh claim");
                }
            }
            Err(SessionError::Provider(unavailable))
        }
    }
}
