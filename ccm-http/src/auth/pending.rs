//! Browser logins started at `/auth/login` and not completed yet. Anyone may start
//! one without credentials, so everything kept here is bounded: at most `capacity`
//! logins (the oldest is forgotten first, so a flood only pushes out logins older
//! than itself instead of locking everybody out until it expires), each forgotten
//! after [`PENDING_TTL`], each small (fixed-size secrets plus a [`ReturnTo`] of at
//! most [`MAX_RETURN_TO_BYTES`]). The bounds live here alone so they carry over
//! when pending logins move into the store.
//!
//! A login is bound to the browser that started it (login CSRF): `/auth/login`
//! gives the browser a random binding value in a cookie and the pending login
//! keeps only its hash; the callback completes the login only when it brings the
//! same value.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::api_keys::hash_key;
use super::session::same_secret;

/// Logins not completed within this time are forgotten.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// The longest `return_to` accepted.
pub const MAX_RETURN_TO_BYTES: usize = 2048;

/// Why a `return_to` was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidReturnTo {
    /// Longer than [`MAX_RETURN_TO_BYTES`].
    #[error("return_to is longer than {MAX_RETURN_TO_BYTES} bytes")]
    TooLong,
    /// Not a path on this server.
    #[error("return_to must be a local path starting with a single `/`")]
    NotLocal,
    /// A character browsers may read as something else (a backslash is a slash to
    /// them, tabs and newlines are dropped from URLs) or one that cannot go into a
    /// `Location` header.
    #[error("return_to may hold only printable ASCII without `\\` (percent-encode the rest)")]
    BadCharacter,
}

/// A local path to send the browser to after login: starts with one `/` (not
/// `//` or `/\`, which browsers read as another host), printable ASCII without
/// spaces or backslashes, at most [`MAX_RETURN_TO_BYTES`]. Such a value is always a
/// valid `Location` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    /// The dashboard's root, where a login without `return_to` lands.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// The path asked for, `/` when none.
    pub fn parse(path: Option<&str>) -> Result<Self, InvalidReturnTo> {
        let Some(path) = path else {
            return Ok(Self::root());
        };
        if path.len() > MAX_RETURN_TO_BYTES {
            return Err(InvalidReturnTo::TooLong);
        }
        if !path
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
        {
            return Err(InvalidReturnTo::BadCharacter);
        }
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(InvalidReturnTo::NotLocal);
        }
        Ok(Self(path.to_owned()))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login waiting for the provider's redirect.
pub struct PendingLogin {
    /// PKCE code verifier.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// Where to go after login.
    pub return_to: ReturnTo,
    binding_hash: String,
    created: Instant,
    order: u64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verifier and nonce are secrets until the login completes.
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// A login started now by the browser holding `binding`.
    pub fn new(verifier: String, nonce: String, return_to: ReturnTo, binding: &str) -> Self {
        Self {
            verifier,
            nonce,
            return_to,
            binding_hash: hash_key(binding),
            created: Instant::now(),
            order: 0,
        }
    }

    fn expired(&self) -> bool {
        self.created.elapsed() >= PENDING_TTL
    }
}

/// Why a callback's state was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// No such login, or it expired or was pushed out.
    #[error("unknown or expired login state")]
    Unknown,
    /// The login was started by another browser (or the binding cookie is gone).
    #[error("this login was not started by this browser")]
    OtherBrowser,
}

#[derive(Default)]
struct Inner {
    by_state: HashMap<String, PendingLogin>,
    /// Creation order (a counter, so the first entry is the oldest) to state.
    oldest_first: BTreeMap<u64, String>,
    next: u64,
}

impl Inner {
    fn remove(&mut self, state: &str) -> Option<PendingLogin> {
        let login = self.by_state.remove(state)?;
        self.oldest_first.remove(&login.order);
        Some(login)
    }

    fn pop_oldest(&mut self) -> Option<PendingLogin> {
        let (_, state) = self.oldest_first.pop_first()?;
        self.by_state.remove(&state)
    }

    fn oldest_expired(&self) -> bool {
        self.oldest_first
            .first_key_value()
            .and_then(|(_, state)| self.by_state.get(state))
            .is_some_and(PendingLogin::expired)
    }
}

/// The pending logins of one server.
pub struct PendingLogins {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PendingLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // States are credentials until used: only the count is shown.
        f.debug_struct("PendingLogins")
            .field("capacity", &self.capacity)
            .field("pending", &self.len())
            .finish()
    }
}

impl PendingLogins {
    /// At most `capacity` pending logins (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    /// Keeps `login` under `state`, forgetting expired logins and, when full, the
    /// oldest one.
    pub fn insert(&self, state: String, mut login: PendingLogin) {
        self.with(|inner| {
            while inner.oldest_expired() {
                inner.pop_oldest();
            }
            while inner.by_state.len() >= self.capacity {
                if inner.pop_oldest().is_none() {
                    break;
                }
            }
            login.order = inner.next;
            inner.next += 1;
            inner.oldest_first.insert(login.order, state.clone());
            if let Some(replaced) = inner.by_state.insert(state, login) {
                inner.oldest_first.remove(&replaced.order);
            }
        });
    }

    /// Takes the login of `state` when the browser brings its `binding`. A login
    /// presented by another browser stays for its own browser.
    pub fn take(&self, state: &str, binding: Option<&str>) -> Result<PendingLogin, PendingError> {
        self.with(|inner| {
            let login = inner.by_state.get(state).ok_or(PendingError::Unknown)?;
            if login.expired() {
                inner.remove(state);
                return Err(PendingError::Unknown);
            }
            let bound = binding.is_some_and(|b| same_secret(&hash_key(b), &login.binding_hash));
            if !bound {
                return Err(PendingError::OtherBrowser);
            }
            inner.remove(state).ok_or(PendingError::Unknown)
        })
    }

    /// How many logins are pending.
    pub fn len(&self) -> usize {
        self.with(|inner| inner.by_state.len())
    }

    /// True when no login is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(binding: &str) -> PendingLogin {
        PendingLogin::new("v".into(), "n".into(), ReturnTo::root(), binding)
    }

    #[test]
    fn return_to_accepts_local_paths_only() {
        for good in [
            "/",
            "/workers",
            "/a//b?x=https://y#z",
            "/%2F%2Fevil.example",
        ] {
            assert_eq!(ReturnTo::parse(Some(good)).unwrap().as_str(), good);
        }
        assert_eq!(ReturnTo::parse(None).unwrap().as_str(), "/");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/a\nb",
            "/a b",
            "https://evil.example",
            "",
            "workers",
            "/é",
        ] {
            assert!(ReturnTo::parse(Some(bad)).is_err(), "{bad:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO_BYTES));
        assert_eq!(ReturnTo::parse(Some(&long)), Err(InvalidReturnTo::TooLong));
    }

    #[test]
    fn the_oldest_is_forgotten_when_full_and_a_login_needs_its_browser() {
        let pending = PendingLogins::new(2);
        pending.insert("s1".into(), login("b1"));
        pending.insert("s2".into(), login("b2"));
        pending.insert("s3".into(), login("b3"));
        assert_eq!(pending.len(), 2);
        assert_eq!(
            pending.take("s1", Some("b1")).unwrap_err(),
            PendingError::Unknown
        );
        assert_eq!(
            pending.take("s2", Some("b3")).unwrap_err(),
            PendingError::OtherBrowser
        );
        assert_eq!(
            pending.take("s2", None).unwrap_err(),
            PendingError::OtherBrowser
        );
        assert!(pending.take("s2", Some("b2")).is_ok());
        assert_eq!(
            pending.take("s2", Some("b2")).unwrap_err(),
            PendingError::Unknown
        );
        assert_eq!(pending.len(), 1);
    }
}
