//! The browser login with an OpenID Connect provider, handled by the server
//! (backend for frontend): authorization code flow with PKCE (S256), `state` bound
//! to the browser that started the login (see [`super::pending`]) and `nonce`; the
//! tokens stay on the server, the browser only gets the httpOnly session cookie and
//! never a token (the logout URL names the client, not the ID token). The ID token
//! is verified (signature, `iss`, `aud` = client id, `exp`, `nonce`); roles come
//! from its claim path, or from the access token when that is a JWT for the
//! configured audience (Keycloak puts roles there).
//!
//! The session's tokens are refreshed with the refresh token once the access token
//! is about to expire. The role is read again from the refreshed tokens alone: when
//! they grant no ccm role (it was removed at the provider, or the provider sends
//! neither an ID token nor a JWT access token on refresh) the session ends, as it
//! does when the refresh is refused. Refreshes of one session are single-flight
//! across every process on the store (`super::session_refresh`).
//!
//! Pending logins and sessions live in the key-value store (`super::pending`,
//! `super::session`), so a login started on one process completes on another.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ccm_core::ports::{Clock, KeyValueStore};
use ccm_core::secret::Secret;
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::jwt::{JwtError, JwtVerifier};
use super::pending::{PendingError, PendingLogin, PendingLogins, ReturnTo};
use super::session::later;
use super::Role;
use ccm_assembly::config::OidcConfig;

/// Refresh this long before the access token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Tokens of a browser session, kept on the server (in the session's record in
/// the key-value store; `Debug` hides the refresh token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTokens {
    /// Refresh token, when the provider issued one.
    pub refresh_token: Option<Secret>,
    /// When the access token expires (wall-clock time: processes share it).
    pub access_expires_at: Timestamp,
}

impl SessionTokens {
    /// True when the tokens should be refreshed at `now`.
    pub fn due(&self, now: Timestamp) -> bool {
        later(now, REFRESH_MARGIN) >= self.access_expires_at
    }
}

/// A completed login or refresh.
#[derive(Clone, Debug)]
pub struct Login {
    /// Who.
    pub subject: String,
    /// Their role.
    pub role: Role,
    /// Their tokens.
    pub tokens: SessionTokens,
    /// Where to send the browser.
    pub return_to: ReturnTo,
}

/// Why a login step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The browser's request or the provider's answer was refused (401).
    #[error("login refused: {0}")]
    Refused(String),
    /// The provider could not be reached (503).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

/// The browser login of one provider and client.
pub struct OidcLogin {
    config: OidcConfig,
    client_id: String,
    redirect_url: String,
    post_logout_url: String,
    http: reqwest::Client,
    verifier: Arc<JwtVerifier>,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    pending: PendingLogins,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    super::session::random_token()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn encode(value: &str) -> String {
    crate::cli::client::encode(value)
}

fn id_token_error(error: JwtError) -> LoginError {
    match error {
        JwtError::KeysUnavailable(m) => LoginError::Unavailable(m),
        other => LoginError::Refused(format!("ID token: {other}")),
    }
}

impl OidcLogin {
    /// The login for `config` (which has a client id) at `public_url`, keeping
    /// its pending logins in `kv` and timing tokens by `clock`.
    pub fn new(
        config: OidcConfig,
        public_url: &str,
        verifier: Arc<JwtVerifier>,
        kv: Arc<dyn KeyValueStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, reqwest::Error> {
        let Some(client_id) = config.client_id.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = public_url.trim_end_matches('/');
        Ok(Some(Self {
            redirect_url: config
                .redirect_url
                .clone()
                .unwrap_or_else(|| format!("{base}/auth/callback")),
            post_logout_url: config
                .post_logout_redirect_url
                .clone()
                .unwrap_or_else(|| format!("{base}/")),
            client_id,
            http,
            verifier,
            discovery: tokio::sync::Mutex::new(None),
            pending: PendingLogins::new(kv, clock.clone(), config.max_pending_logins),
            clock,
            config,
        }))
    }

    /// How many logins are started and not completed (on every process).
    pub async fn pending_count(&self) -> Result<usize, ccm_core::ports::store::StoreError> {
        self.pending.count().await
    }

    async fn discovery(&self) -> Result<Discovery, LoginError> {
        let mut cached = self.discovery.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let found: Discovery = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| LoginError::Unavailable(format!("{url}: {e}")))?
            .json()
            .await
            .map_err(|e| LoginError::Unavailable(format!("{url}: {e}")))?;
        *cached = Some(found.clone());
        Ok(found)
    }

    /// The provider URL that starts a login of the browser holding `binding` (the
    /// value of its login cookie).
    pub async fn start(
        &self,
        return_to: ReturnTo,
        login_hint: Option<&str>,
        binding: &str,
    ) -> Result<String, LoginError> {
        let discovery = self.discovery().await?;
        let state = self.pending.new_state();
        let verifier = random() + &random();
        let nonce = random();
        let mut url = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={}&code_challenge_method=S256",
            discovery.authorization_endpoint,
            encode(&self.client_id),
            encode(&self.redirect_url),
            encode(&self.config.scopes),
            challenge(&verifier),
        );
        if let Some(hint) = login_hint {
            url.push_str(&format!("&login_hint={}", encode(hint)));
        }
        let login = PendingLogin::new(verifier, nonce, return_to, binding);
        self.pending
            .insert(&state, login)
            .await
            .map_err(|e| LoginError::Unavailable(format!("keeping the pending login: {e}")))?;
        Ok(url)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, LoginError> {
        let discovery = self.discovery().await?;
        let mut request = self.http.post(&discovery.token_endpoint);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        match &self.config.client_secret {
            Some(secret) => request = request.basic_auth(&self.client_id, Some(secret.expose())),
            None => fields.push(("client_id", &self.client_id)),
        }
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(LoginError::Unavailable(format!(
                "token endpoint: HTTP {status}"
            )));
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(LoginError::Refused(format!(
                "token endpoint: HTTP {status} {text}"
            )));
        }
        response
            .json()
            .await
            .map_err(|e| LoginError::Refused(format!("token endpoint answer: {e}")))
    }

    async fn role_from(&self, id_claims: Option<&Value>, access_token: &str) -> Option<Role> {
        if let Some(role) = id_claims.and_then(|c| self.verifier.role_of(c)) {
            return Some(role);
        }
        let access = self
            .verifier
            .verify_claims(access_token, &self.config.audience)
            .await
            .ok()?;
        self.verifier.role_of(&access)
    }

    fn tokens_from(&self, answer: &TokenAnswer) -> SessionTokens {
        let expires_in = answer.expires_in.unwrap_or(300);
        SessionTokens {
            refresh_token: answer.refresh_token.clone().map(Secret::new),
            access_expires_at: later(self.clock.now(), Duration::from_secs(expires_in)),
        }
    }

    /// Completes a login from the provider's redirect, for the browser bringing
    /// `binding` (the value of its login cookie).
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        binding: Option<&str>,
    ) -> Result<Login, LoginError> {
        let pending = self
            .pending
            .take(state, binding)
            .await
            .map_err(|e| match e {
                PendingError::Store(store) => {
                    LoginError::Unavailable(format!("reading the pending login: {store}"))
                }
                refused => LoginError::Refused(refused.to_string()),
            })?;
        let answer = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_url),
                ("code_verifier", &pending.verifier),
            ])
            .await?;
        let id_token = answer
            .id_token
            .as_deref()
            .ok_or_else(|| LoginError::Refused("no ID token in the answer".into()))?;
        let claims = self
            .verifier
            .verify_claims(id_token, &self.client_id)
            .await
            .map_err(id_token_error)?;
        if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
            return Err(LoginError::Refused("ID token nonce does not match".into()));
        }
        let role = self
            .role_from(Some(&claims), &answer.access_token)
            .await
            .ok_or_else(|| LoginError::Refused("the account has no ccm role".into()))?;
        Ok(Login {
            subject: JwtVerifier::subject_of(&claims),
            role,
            tokens: self.tokens_from(&answer),
            return_to: pending.return_to,
        })
    }

    /// New tokens and the role they grant now, for a session whose access token is
    /// due. Tokens granting no ccm role are refused: the previous role is never
    /// kept.
    pub async fn refresh(
        &self,
        tokens: &SessionTokens,
    ) -> Result<(Role, SessionTokens), LoginError> {
        let refresh = tokens
            .refresh_token
            .as_ref()
            .ok_or_else(|| LoginError::Refused("the session expired (no refresh token)".into()))?;
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ])
            .await?;
        let id_claims = match &answer.id_token {
            Some(id_token) => Some(
                self.verifier
                    .verify_claims(id_token, &self.client_id)
                    .await
                    .map_err(id_token_error)?,
            ),
            None => None,
        };
        let role = self
            .role_from(id_claims.as_ref(), &answer.access_token)
            .await
            .ok_or_else(|| LoginError::Refused("the refreshed tokens grant no ccm role".into()))?;
        let mut fresh = self.tokens_from(&answer);
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = tokens.refresh_token.clone();
        }
        Ok((role, fresh))
    }

    /// Where to send the browser to end the provider's session too. It names the
    /// client, not the ID token: a URL handed to the browser leaks through history
    /// and referrers, and an ID token must not be usable by whoever finds it.
    pub async fn end_session_url(&self) -> Option<String> {
        let discovery = self.discovery().await.ok()?;
        let endpoint = discovery.end_session_endpoint?;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Some(format!(
            "{endpoint}{separator}client_id={}&post_logout_redirect_uri={}",
            encode(&self.client_id),
            encode(&self.post_logout_url),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_rfc_7636_example() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
