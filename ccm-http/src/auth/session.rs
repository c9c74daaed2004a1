//! Browser sessions kept in memory: the session cookie holds a random id (only its
//! hash is kept here), each session has a CSRF token that state-changing requests
//! must echo in the `x-csrf-token` header, and sessions expire. One-time login
//! tokens (the admin link printed at start) are exchanged for a session once.
//!
//! Sessions do not survive a restart: the user logs in again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::api_keys::hash_key;
use super::{AuthMethod, Principal, Role};

/// Name of the session cookie (httpOnly).
pub const SESSION_COOKIE: &str = "ccm_session";
/// Name of the cookie holding the CSRF token (readable by the page's script).
pub const CSRF_COOKIE: &str = "ccm_csrf";
/// Header that must carry the CSRF token on state-changing session requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// CSRF token.
    pub csrf: String,
    /// Expiry.
    pub expires_at: Instant,
    /// OIDC tokens of a browser login (none for the one-time admin link).
    pub tokens: Option<super::oidc_login::SessionTokens>,
    /// Held while the session's tokens are refreshed, shared by every copy of the
    /// session, so concurrent requests refresh once: with rotating refresh tokens
    /// a second refresh would spend a token the first already replaced, and the
    /// provider would end the session.
    pub refresh_lock: Arc<tokio::sync::Mutex<()>>,
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
}

#[derive(Debug)]
struct Grant {
    subject: String,
    role: Role,
    expires_at: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    grants: HashMap<String, Grant>,
}

/// Sessions and one-time login grants.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    inner: Mutex<Inner>,
}

pub(crate) fn random_token() -> String {
    crate::auth::api_keys::generate_key()
        .trim_start_matches(crate::auth::api_keys::KEY_PREFIX)
        .to_owned()
}

impl Sessions {
    /// Sessions lasting `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Session lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    /// A one-time login token for `subject` with `role`, valid for `valid_for`.
    pub fn grant_login(&self, subject: &str, role: Role, valid_for: Duration) -> String {
        let token = random_token();
        let grant = Grant {
            subject: subject.to_owned(),
            role,
            expires_at: Instant::now() + valid_for,
        };
        self.with(|inner| inner.grants.insert(hash_key(&token), grant));
        token
    }

    /// Exchanges a login token for a new session: `(session id, session)`. A token
    /// works once.
    pub fn redeem(&self, token: &str) -> Option<(String, Session)> {
        let now = Instant::now();
        let grant = self.with(|inner| inner.grants.remove(&hash_key(token)))?;
        if grant.expires_at <= now {
            return None;
        }
        Some(self.open(&grant.subject, grant.role))
    }

    /// Opens a session: `(session id, session)`.
    pub fn open(&self, subject: &str, role: Role) -> (String, Session) {
        self.open_with(subject, role, None)
    }

    /// Opens a session holding OIDC tokens: `(session id, session)`.
    pub fn open_with(
        &self,
        subject: &str,
        role: Role,
        tokens: Option<super::oidc_login::SessionTokens>,
    ) -> (String, Session) {
        let id = random_token();
        let session = Session {
            subject: subject.to_owned(),
            role,
            csrf: random_token(),
            expires_at: Instant::now() + self.ttl,
            tokens,
            refresh_lock: Arc::default(),
        };
        let stored = session.clone();
        self.with(|inner| {
            let now = Instant::now();
            inner.sessions.retain(|_, s| s.expires_at > now);
            inner.sessions.insert(hash_key(&id), stored);
        });
        (id, session)
    }

    /// The live session with this id.
    pub fn get(&self, id: &str) -> Option<Session> {
        let key = hash_key(id);
        self.with(|inner| {
            let live = inner
                .sessions
                .get(&key)
                .is_some_and(|s| s.expires_at > Instant::now());
            if live {
                inner.sessions.get(&key).cloned()
            } else {
                inner.sessions.remove(&key);
                None
            }
        })
    }

    /// Replaces a session's role and tokens after a refresh.
    pub fn update(&self, id: &str, role: Role, tokens: super::oidc_login::SessionTokens) {
        let key = hash_key(id);
        self.with(|inner| {
            if let Some(session) = inner.sessions.get_mut(&key) {
                session.role = role;
                session.tokens = Some(tokens);
            }
        });
    }

    /// Ends a session, returning it.
    pub fn take(&self, id: &str) -> Option<Session> {
        let key = hash_key(id);
        self.with(|inner| inner.sessions.remove(&key))
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        let key = hash_key(id);
        self.with(|inner| inner.sessions.remove(&key));
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

    #[test]
    fn a_login_token_works_once_and_sessions_expire() {
        let sessions = Sessions::new(Duration::from_millis(0));
        let token = sessions.grant_login("admin", Role::Admin, Duration::from_secs(60));
        let (id, session) = sessions.redeem(&token).unwrap();
        assert_eq!(session.role, Role::Admin);
        assert!(sessions.redeem(&token).is_none(), "second use");
        assert!(sessions.get(&id).is_none(), "ttl 0: already expired");
        let sessions = Sessions::new(Duration::from_secs(60));
        let (id, _) = sessions.open("u", Role::User);
        assert!(sessions.get(&id).is_some());
        sessions.close(&id);
        assert!(sessions.get(&id).is_none());
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
}
