//! Browser sessions, kept in the key-value store so every process serving the
//! API knows them and they survive restarts: the session cookie holds a random id
//! and the store keeps a record under its SHA-256 hash only (namespace
//! [`NAMESPACE`]), so whoever reads the store cannot present a session. Each
//! session has a CSRF token that state-changing requests must echo in the
//! `x-csrf-token` header, and expires after the session lifetime (the record
//! expires with it and is purged with the store's other expired records).
//!
//! One-time login tokens (the admin link printed at start) are kept the same way
//! (namespace [`ONCE_NAMESPACE`], under their hash) and taken atomically, so of
//! several processes presented one link exactly one opens a session.
//!
//! At most `max_sessions` live sessions exist; beyond that new logins are refused
//! (503 `too_many_sessions`) and the sessions already open keep working: a login
//! needs credentials, so a full store means an operator should raise
//! `auth.max_sessions` or shorten `auth.session_ttl_seconds`, not that the users
//! already logged in should lose their work.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use ccm_core::ports::kv::{Expect, KvEntry};
use ccm_core::ports::store::StoreError;
use ccm_core::ports::{Clock, KeyValueStore};
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::api_keys::hash_key;
use super::oidc_login::{LoginError, SessionTokens};
use super::{AuthMethod, Principal, Role};
use crate::api::error::ApiError;

/// Name of the session cookie (httpOnly).
pub const SESSION_COOKIE: &str = "ccm_session";
/// Name of the cookie holding the CSRF token (readable by the page's script).
pub const CSRF_COOKIE: &str = "ccm_csrf";
/// Header that must carry the CSRF token on state-changing session requests.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The key-value namespace of sessions (key: hash of the cookie's id).
pub const NAMESPACE: &str = "session";
/// The key-value namespace of one-time login tokens (key: hash of the token).
pub const ONCE_NAMESPACE: &str = "login-once";

/// A logged-in browser, as read from the store.
#[derive(Clone)]
pub struct Session {
    /// Who.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// CSRF token.
    pub csrf: String,
    /// Expiry.
    pub expires_at: Timestamp,
    /// OIDC tokens of a browser login (none for the one-time admin link).
    pub tokens: Option<SessionTokens>,
    /// While set and in the future, a request (of any process) refreshes the
    /// tokens (`super::session_refresh`).
    pub(crate) refreshing_until: Option<Timestamp>,
    /// The record's version, for compare-and-swap.
    pub(crate) version: u64,
}

impl std::fmt::Debug for Session {
    // The CSRF token and the OIDC tokens are credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("subject", &self.subject)
            .field("role", &self.role)
            .field("expires_at", &self.expires_at)
            .field("oidc", &self.tokens.is_some())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The principal this session stands for.
    pub fn principal(&self) -> Principal {
        Principal {
            subject: self.subject.clone(),
            role: self.role,
            method: AuthMethod::Session {
                csrf: self.csrf.clone(),
            },
        }
    }

    /// True when the session's OIDC tokens should be refreshed at `now`.
    pub fn due(&self, now: Timestamp) -> bool {
        self.tokens.as_ref().is_some_and(|t| t.due(now))
    }

    /// True when a refresh is under way at `now` (claimed and not lapsed).
    pub(crate) fn refreshing(&self, now: Timestamp) -> bool {
        self.refreshing_until.is_some_and(|until| until > now)
    }
}

/// The stored form of a session (private: the JSON is this module's).
#[derive(Serialize, Deserialize)]
struct Record {
    subject: String,
    role: Role,
    csrf: String,
    expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokens: Option<SessionTokens>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refreshing_until: Option<Timestamp>,
}

/// The stored form of a one-time login grant.
#[derive(Serialize, Deserialize)]
struct Grant {
    subject: String,
    role: Role,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// As many sessions are open as allowed (`auth.max_sessions`).
    #[error(
        "the server holds its maximum of {max} browser sessions (auth.max_sessions); \
         try again when some have expired or ask an operator to raise the limit"
    )]
    Full {
        /// The bound.
        max: usize,
    },
    /// The key-value store failed.
    #[error("sessions: {0}")]
    Store(#[from] StoreError),
    /// The identity provider could not be reached to refresh the session.
    #[error("refreshing the session: {0}")]
    Provider(LoginError),
    /// Another request held the session's refresh for longer than a refresh may
    /// take, or the refresh task failed.
    #[error("refreshing the session: {0}")]
    Refresh(String),
}

impl SessionError {
    /// True for a compare-and-swap that lost: the record changed or went away.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(StoreError::RecordConflict { .. }))
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            full @ SessionError::Full { .. } => {
                tracing::warn!(error = %full, "browser login refused");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too_many_sessions",
                    full.to_string(),
                )
            }
            SessionError::Store(store) => ApiError::from(store),
            other @ (SessionError::Provider(_) | SessionError::Refresh(_)) => {
                ApiError::unavailable(&other)
            }
        }
    }
}

/// `now + after`, saturating at the end of representable time.
pub(crate) fn later(now: Timestamp, after: Duration) -> Timestamp {
    chrono::TimeDelta::from_std(after)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

pub(crate) fn random_token() -> String {
    crate::auth::api_keys::generate_key()
        .trim_start_matches(crate::auth::api_keys::KEY_PREFIX)
        .to_owned()
}

fn encode<T: Serialize>(what: &str, value: &T) -> Result<String, SessionError> {
    serde_json::to_string(value).map_err(|e| {
        SessionError::Store(StoreError::Unavailable(format!("encoding a {what}: {e}")))
    })
}

/// Sessions and one-time login grants of every process on one key-value store.
pub struct Sessions {
    kv: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    max_sessions: usize,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("ttl", &self.ttl)
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions lasting `ttl` in `kv`, at most `max_sessions` (at least one) live
    /// at once, timed by `clock` (wall-clock time in a server: cookies expire by it).
    pub fn new(
        kv: Arc<dyn KeyValueStore>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        max_sessions: usize,
    ) -> Self {
        Self {
            kv,
            clock,
            ttl,
            max_sessions: max_sessions.max(1),
        }
    }

    /// Session lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The sessions' time now.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A one-time login token for `subject` with `role`, valid for `valid_for`.
    pub async fn grant_login(
        &self,
        subject: &str,
        role: Role,
        valid_for: Duration,
    ) -> Result<String, SessionError> {
        let token = random_token();
        let grant = Grant {
            subject: subject.to_owned(),
            role,
        };
        let now = self.now();
        self.kv
            .put(
                ONCE_NAMESPACE,
                &hash_key(&token),
                &encode("login grant", &grant)?,
                Expect::Absent,
                Some(later(now, valid_for)),
                now,
            )
            .await?;
        Ok(token)
    }

    /// Exchanges a login token for a new session: `(session id, session)`. A token
    /// works once, on whichever process sees it first; `None` when it was used
    /// already, expired or never existed.
    pub async fn redeem(&self, token: &str) -> Result<Option<(String, Session)>, SessionError> {
        // Checked before the token is spent, so a full server keeps the link usable.
        self.admit().await?;
        let now = self.now();
        let Some(entry) = self.kv.take(ONCE_NAMESPACE, &hash_key(token), now).await? else {
            return Ok(None);
        };
        let Ok(grant) = serde_json::from_str::<Grant>(&entry.value) else {
            tracing::warn!("unreadable one-time login grant refused");
            return Ok(None);
        };
        self.insert(&grant.subject, grant.role, None)
            .await
            .map(Some)
    }

    /// Opens a session (holding the OIDC tokens of a browser login, if any):
    /// `(session id, session)`.
    pub async fn open(
        &self,
        subject: &str,
        role: Role,
        tokens: Option<SessionTokens>,
    ) -> Result<(String, Session), SessionError> {
        self.admit().await?;
        self.insert(subject, role, tokens).await
    }

    /// Refuses a new session while `max_sessions` are live. Counting and writing
    /// are not one step: logins completing at once on several processes may each
    /// see room, so the bound may be exceeded by at most the number of logins
    /// completing at the same moment.
    async fn admit(&self) -> Result<(), SessionError> {
        let live = self.kv.count(NAMESPACE, self.now()).await?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= self.max_sessions {
            return Err(SessionError::Full {
                max: self.max_sessions,
            });
        }
        Ok(())
    }

    async fn insert(
        &self,
        subject: &str,
        role: Role,
        tokens: Option<SessionTokens>,
    ) -> Result<(String, Session), SessionError> {
        let id = random_token();
        let now = self.now();
        let session = Session {
            subject: subject.to_owned(),
            role,
            csrf: random_token(),
            expires_at: later(now, self.ttl),
            tokens,
            refreshing_until: None,
            version: 0,
        };
        let written = self.write(&id, &session, Expect::Absent).await?;
        Ok((id, written))
    }

    /// Writes `session` under `id` when `expect` holds; the session as written
    /// (with its new version). A lost compare-and-swap is a conflict
    /// ([`SessionError::is_conflict`]).
    pub(crate) async fn write(
        &self,
        id: &str,
        session: &Session,
        expect: Expect,
    ) -> Result<Session, SessionError> {
        let record = Record {
            subject: session.subject.clone(),
            role: session.role,
            csrf: session.csrf.clone(),
            expires_at: session.expires_at,
            tokens: session.tokens.clone(),
            refreshing_until: session.refreshing_until,
        };
        let now = self.now();
        let version = self
            .kv
            .put(
                NAMESPACE,
                &hash_key(id),
                &encode("session", &record)?,
                expect,
                Some(session.expires_at),
                now,
            )
            .await?;
        Ok(Session {
            version,
            ..session.clone()
        })
    }

    fn read(entry: &KvEntry) -> Option<Session> {
        let Ok(record) = serde_json::from_str::<Record>(&entry.value) else {
            // Never the value: it holds the session's tokens.
            tracing::warn!(
                version = entry.version,
                "unreadable session record; treated as ended"
            );
            return None;
        };
        Some(Session {
            subject: record.subject,
            role: record.role,
            csrf: record.csrf,
            expires_at: record.expires_at,
            tokens: record.tokens,
            refreshing_until: record.refreshing_until,
            version: entry.version,
        })
    }

    /// The live session with this id.
    pub async fn get(&self, id: &str) -> Result<Option<Session>, SessionError> {
        let entry = self.kv.get(NAMESPACE, &hash_key(id), self.now()).await?;
        Ok(entry.as_ref().and_then(Self::read))
    }

    /// Ends a session, returning it when it was live.
    pub async fn take(&self, id: &str) -> Result<Option<Session>, SessionError> {
        let entry = self.kv.take(NAMESPACE, &hash_key(id), self.now()).await?;
        Ok(entry.as_ref().and_then(Self::read))
    }

    /// Ends a session.
    pub async fn close(&self, id: &str) -> Result<(), SessionError> {
        Ok(self.kv.delete(NAMESPACE, &hash_key(id)).await?)
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::ports::VirtualClock;
    use ccm_core::secret::Secret;
    use ccm_core::store::MemoryKeyValueStore;
    use ccm_core::time::{epoch, plus_seconds};

    struct Fixture {
        sessions: Arc<Sessions>,
        kv: Arc<MemoryKeyValueStore>,
        clock: VirtualClock,
    }

    fn fixture(max_sessions: usize) -> Fixture {
        let clock = VirtualClock::new(plus_seconds(epoch(), 1_700_000_000));
        let kv = Arc::new(MemoryKeyValueStore::new());
        let sessions = Arc::new(Sessions::new(
            kv.clone(),
            Arc::new(clock.clone()),
            Duration::from_secs(3600),
            max_sessions,
        ));
        Fixture {
            sessions,
            kv,
            clock,
        }
    }

    #[tokio::test]
    async fn a_login_token_works_once_and_sessions_expire() {
        let f = fixture(10);
        let token = f
            .sessions
            .grant_login("admin", Role::Admin, Duration::from_secs(60))
            .await
            .unwrap();
        let (id, session) = f.sessions.redeem(&token).await.unwrap().unwrap();
        assert_eq!(session.role, Role::Admin);
        assert!(
            f.sessions.redeem(&token).await.unwrap().is_none(),
            "second use"
        );
        assert!(f.sessions.get(&id).await.unwrap().is_some());
        f.clock.advance_seconds(3600);
        assert!(f.sessions.get(&id).await.unwrap().is_none(), "past its ttl");
        assert_eq!(f.kv.purge_expired(f.clock.now()).await.unwrap(), 1);

        let (id, _) = f.sessions.open("u", Role::User, None).await.unwrap();
        assert!(f.sessions.get(&id).await.unwrap().is_some());
        f.sessions.close(&id).await.unwrap();
        assert!(f.sessions.get(&id).await.unwrap().is_none());
        let (id, _) = f.sessions.open("u", Role::User, None).await.unwrap();
        assert_eq!(f.sessions.take(&id).await.unwrap().unwrap().subject, "u");
        assert!(f.sessions.take(&id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_expired_login_token_is_refused_and_purged() {
        let f = fixture(10);
        let token = f
            .sessions
            .grant_login("admin", Role::Admin, Duration::from_secs(60))
            .await
            .unwrap();
        f.clock.advance_seconds(60);
        assert!(f.sessions.redeem(&token).await.unwrap().is_none());
        assert_eq!(f.kv.count(ONCE_NAMESPACE, f.clock.now()).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn only_hashes_are_stored_and_debug_shows_no_secret() {
        let f = fixture(10);
        let token = f
            .sessions
            .grant_login("admin", Role::Admin, Duration::from_secs(60))
            .await
            .unwrap();
        let grants = f.kv.list(ONCE_NAMESPACE, f.clock.now(), 10).await.unwrap();
        assert_eq!(grants[0].key, hash_key(&token));
        let tokens = SessionTokens {
            refresh_token: Some(Secret::new("refresh-secret")),
            access_expires_at: f.clock.now(),
        };
        let (id, session) = f
            .sessions
            .open("u", Role::User, Some(tokens))
            .await
            .unwrap();
        let stored = f.kv.list(NAMESPACE, f.clock.now(), 10).await.unwrap();
        assert_eq!(stored[0].key, hash_key(&id));
        assert!(!stored[0].value.contains(&id));
        for shown in [format!("{session:?}"), format!("{:?}", f.sessions)] {
            assert!(!shown.contains(&session.csrf), "{shown}");
            assert!(!shown.contains("refresh-secret"), "{shown}");
            assert!(!shown.contains(&id), "{shown}");
        }
        let read = f.sessions.get(&id).await.unwrap().unwrap();
        assert_eq!(
            read.tokens, session.tokens,
            "the tokens survive the round trip"
        );
        assert_eq!(
            read.csrf, session.csrf,
            "the CSRF token is the one handed out"
        );
    }

    #[tokio::test]
    async fn new_logins_are_refused_beyond_the_bound_until_sessions_end() {
        let f = fixture(2);
        let (first, _) = f.sessions.open("a", Role::User, None).await.unwrap();
        f.clock.advance_seconds(1);
        f.sessions.open("b", Role::User, None).await.unwrap();
        let full = f.sessions.open("c", Role::User, None).await.unwrap_err();
        assert!(matches!(full, SessionError::Full { max: 2 }), "{full}");
        let answer = ApiError::from(full);
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.code, "too_many_sessions");
        // A full server keeps the login link usable for later.
        let token = f
            .sessions
            .grant_login("admin", Role::Admin, Duration::from_secs(7200))
            .await
            .unwrap();
        assert!(matches!(
            f.sessions.redeem(&token).await,
            Err(SessionError::Full { .. })
        ));
        assert!(
            f.sessions.get(&first).await.unwrap().is_some(),
            "open sessions keep working"
        );
        f.sessions.close(&first).await.unwrap();
        assert!(f.sessions.redeem(&token).await.unwrap().is_some());
        // Expired sessions do not count.
        f.clock.advance_seconds(3600);
        f.sessions.open("d", Role::User, None).await.unwrap();
        f.sessions.open("e", Role::User, None).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_redeems_of_one_token_exactly_one_gets_a_session() {
        let f = fixture(100);
        let token = f
            .sessions
            .grant_login("admin", Role::Admin, Duration::from_secs(60))
            .await
            .unwrap();
        let tries = (0..16).map(|_| {
            let sessions = f.sessions.clone();
            let token = token.clone();
            tokio::spawn(async move { sessions.redeem(&token).await.unwrap().is_some() })
        });
        let won = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .filter(|won| *won.as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
        assert_eq!(f.kv.count(NAMESPACE, f.clock.now()).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_write_against_a_stale_version_conflicts() {
        let f = fixture(10);
        let (id, session) = f.sessions.open("u", Role::User, None).await.unwrap();
        let newer = f
            .sessions
            .write(&id, &session, Expect::Version(session.version))
            .await
            .unwrap();
        assert_eq!(newer.version, session.version + 1);
        let stale = f
            .sessions
            .write(&id, &session, Expect::Version(session.version))
            .await
            .unwrap_err();
        assert!(stale.is_conflict(), "{stale}");
    }

    #[test]
    fn cookies_and_secret_comparison() {
        assert_eq!(
            cookie("a=1; ccm_session=xyz; b=2", "ccm_session"),
            Some("xyz")
        );
        assert_eq!(cookie("a=1", "ccm_session"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }

    #[test]
    fn later_saturates() {
        let now = plus_seconds(epoch(), 10);
        assert_eq!(
            later(now, Duration::from_secs(5)),
            plus_seconds(epoch(), 15)
        );
        assert_eq!(
            later(now, Duration::MAX),
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        );
    }
}
