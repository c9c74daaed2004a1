//! Browser logins started at `/auth/login` and not completed yet, kept in the
//! key-value store (namespace [`NAMESPACE`], key = the OAuth `state`) so the
//! provider may send the browser back to any process. Anyone may start one
//! without credentials, so everything kept here is bounded: at most `capacity`
//! logins (the oldest is forgotten first, so a flood only pushes out logins older
//! than itself instead of locking everybody out until it expires), each expiring
//! after [`PENDING_TTL`] (and purged with the store's other expired records), each
//! small (fixed-size secrets plus a [`ReturnTo`] of at most
//! [`MAX_RETURN_TO_BYTES`]). States begin with their creation time, so the store's
//! key order is age order and the oldest are found without reading them all.
//!
//! A login is bound to the browser that started it (login CSRF): `/auth/login`
//! gives the browser a random binding value in a cookie and the pending login
//! keeps only its hash; the callback completes the login only when it brings the
//! same value. Completing takes the record atomically, so a login completes once
//! even when the browser's callback reaches two processes.

use std::sync::Arc;
use std::time::Duration;

use ccm_core::ports::kv::{Expect, KvEntry, MAX_KEY_BYTES};
use ccm_core::ports::store::StoreError;
use ccm_core::ports::{Clock, KeyValueStore};
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::api_keys::hash_key;
use super::session::{later, random_token, same_secret};

/// The key-value namespace of pending logins.
pub const NAMESPACE: &str = "login-pending";
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
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verifier and nonce are secrets until the login completes.
        f.debug_struct("PendingLogin")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// A login started by the browser holding `binding`.
    pub fn new(verifier: String, nonce: String, return_to: ReturnTo, binding: &str) -> Self {
        Self {
            verifier,
            nonce,
            return_to,
            binding_hash: hash_key(binding),
        }
    }

    fn started_by(&self, binding: Option<&str>) -> bool {
        binding.is_some_and(|b| same_secret(&hash_key(b), &self.binding_hash))
    }
}

/// The stored form of a [`PendingLogin`] (private: the JSON is this module's).
#[derive(Serialize, Deserialize)]
struct Record {
    verifier: String,
    nonce: String,
    return_to: String,
    binding_hash: String,
}

impl Record {
    fn of(login: &PendingLogin) -> Self {
        Self {
            verifier: login.verifier.clone(),
            nonce: login.nonce.clone(),
            return_to: login.return_to.as_str().to_owned(),
            binding_hash: login.binding_hash.clone(),
        }
    }

    /// The login of a stored entry; `None` when unreadable (a record this build
    /// cannot read is as good as absent: the user starts again).
    fn read(entry: &KvEntry) -> Option<PendingLogin> {
        let record: Record = serde_json::from_str(&entry.value).ok()?;
        Some(PendingLogin {
            verifier: record.verifier,
            nonce: record.nonce,
            return_to: ReturnTo::parse(Some(&record.return_to)).ok()?,
            binding_hash: record.binding_hash,
        })
    }
}

/// Why a callback's state was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PendingError {
    /// No such login, or it expired, was pushed out or was completed already.
    #[error("unknown or expired login state")]
    Unknown,
    /// The login was started by another browser (or the binding cookie is gone).
    #[error("this login was not started by this browser")]
    OtherBrowser,
    /// The key-value store failed.
    #[error("pending logins: {0}")]
    Store(#[from] StoreError),
}

/// The pending logins of every process on one key-value store.
pub struct PendingLogins {
    kv: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    capacity: usize,
}

impl std::fmt::Debug for PendingLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // States are credentials until used: none is shown.
        f.debug_struct("PendingLogins")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// A state beginning with `now` in fixed-width hex microseconds, then 256 random
/// bits: key order is creation order, and the state stays unguessable.
fn ordered_state(now: Timestamp) -> String {
    let micros = u64::try_from(now.timestamp_micros()).unwrap_or(0);
    format!("{micros:016x}{}", random_token())
}

impl PendingLogins {
    /// At most `capacity` pending logins (at least one) in `kv`, timed by `clock`.
    pub fn new(kv: Arc<dyn KeyValueStore>, clock: Arc<dyn Clock>, capacity: usize) -> Self {
        Self {
            kv,
            clock,
            capacity: capacity.max(1),
        }
    }

    /// A fresh OAuth `state` for a login started now.
    pub fn new_state(&self) -> String {
        ordered_state(self.clock.now())
    }

    /// Keeps `login` under `state` (from [`Self::new_state`]), forgetting the
    /// oldest logins first when full.
    pub async fn insert(&self, state: &str, login: PendingLogin) -> Result<(), StoreError> {
        let now = self.clock.now();
        let live = usize::try_from(self.kv.count(NAMESPACE, now).await?).unwrap_or(usize::MAX);
        if live >= self.capacity {
            // Counting and inserting are not one step: logins started at once on
            // several processes may each see room, so the bound may be exceeded by
            // at most the number of logins being started at the same moment; the
            // next insert brings it back.
            let oldest = self
                .kv
                .list(NAMESPACE, now, live - self.capacity + 1)
                .await?;
            for entry in oldest {
                self.kv.delete(NAMESPACE, &entry.key).await?;
            }
        }
        let value = serde_json::to_string(&Record::of(&login))
            .map_err(|e| StoreError::Unavailable(format!("encoding a pending login: {e}")))?;
        self.kv
            .put(
                NAMESPACE,
                state,
                &value,
                Expect::Absent,
                Some(later(now, PENDING_TTL)),
                now,
            )
            .await?;
        Ok(())
    }

    /// Takes the login of `state` when the browser brings its `binding`. A login
    /// presented by another browser stays for its own browser. Of several
    /// callbacks with one state (on any processes), at most one gets the login.
    pub async fn take(
        &self,
        state: &str,
        binding: Option<&str>,
    ) -> Result<PendingLogin, PendingError> {
        if state.is_empty() || state.len() > MAX_KEY_BYTES {
            return Err(PendingError::Unknown);
        }
        let now = self.clock.now();
        let entry = self
            .kv
            .get(NAMESPACE, state, now)
            .await?
            .ok_or(PendingError::Unknown)?;
        let Some(login) = Record::read(&entry) else {
            self.kv.delete(NAMESPACE, state).await?;
            return Err(PendingError::Unknown);
        };
        if !login.started_by(binding) {
            return Err(PendingError::OtherBrowser);
        }
        let taken = self
            .kv
            .take(NAMESPACE, state, now)
            .await?
            .ok_or(PendingError::Unknown)?;
        Record::read(&taken)
            .filter(|login| login.started_by(binding))
            .ok_or(PendingError::Unknown)
    }

    /// How many logins are pending.
    pub async fn count(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let live = self.kv.count(NAMESPACE, now).await?;
        Ok(usize::try_from(live).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::ports::VirtualClock;
    use ccm_core::store::MemoryKeyValueStore;
    use ccm_core::time::plus_seconds;

    fn login(binding: &str) -> PendingLogin {
        PendingLogin::new("v".into(), "n".into(), ReturnTo::root(), binding)
    }

    fn pending(capacity: usize) -> (PendingLogins, VirtualClock) {
        let clock = VirtualClock::new(plus_seconds(ccm_core::time::epoch(), 1_700_000_000));
        let kv = Arc::new(MemoryKeyValueStore::new());
        let logins = PendingLogins::new(kv, Arc::new(clock.clone()), capacity);
        (logins, clock)
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
    fn states_sort_by_creation_time() {
        let early = ordered_state(plus_seconds(ccm_core::time::epoch(), 9));
        let late = ordered_state(plus_seconds(ccm_core::time::epoch(), 10));
        assert!(early < late);
        assert_eq!(early.len(), 16 + 64);
        assert_ne!(early[16..], late[16..], "the random part differs");
    }

    #[tokio::test]
    async fn the_oldest_is_forgotten_when_full_and_a_login_needs_its_browser() {
        let (pending, clock) = pending(2);
        let mut states = Vec::new();
        for binding in ["b1", "b2", "b3"] {
            let state = pending.new_state();
            pending.insert(&state, login(binding)).await.unwrap();
            states.push(state);
            clock.advance_seconds(1);
        }
        let [s1, s2, s3] = [&states[0], &states[1], &states[2]];
        assert_eq!(pending.count().await.unwrap(), 2);
        assert_eq!(
            pending.take(s1, Some("b1")).await.unwrap_err(),
            PendingError::Unknown
        );
        assert_eq!(
            pending.take(s2, Some("b3")).await.unwrap_err(),
            PendingError::OtherBrowser
        );
        assert_eq!(
            pending.take(s2, None).await.unwrap_err(),
            PendingError::OtherBrowser
        );
        let taken = pending.take(s2, Some("b2")).await.unwrap();
        assert_eq!(taken.verifier, "v");
        assert_eq!(
            pending.take(s2, Some("b2")).await.unwrap_err(),
            PendingError::Unknown
        );
        assert_eq!(pending.count().await.unwrap(), 1);
        assert!(pending.take(s3, Some("b3")).await.is_ok());
        let huge = "a".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(
            pending.take(&huge, Some("b3")).await.unwrap_err(),
            PendingError::Unknown
        );
    }

    #[tokio::test]
    async fn a_pending_login_expires() {
        let (pending, clock) = pending(10);
        let state = pending.new_state();
        pending.insert(&state, login("b")).await.unwrap();
        clock.advance_seconds(PENDING_TTL.as_secs() as i64);
        assert_eq!(pending.count().await.unwrap(), 0);
        assert_eq!(
            pending.take(&state, Some("b")).await.unwrap_err(),
            PendingError::Unknown
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_callbacks_exactly_one_completes_the_login() {
        let (pending, _clock) = pending(10);
        let pending = Arc::new(pending);
        let state = pending.new_state();
        pending.insert(&state, login("b")).await.unwrap();
        let tries = (0..16).map(|_| {
            let pending = pending.clone();
            let state = state.clone();
            tokio::spawn(async move { pending.take(&state, Some("b")).await.is_ok() })
        });
        let won = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .filter(|won| *won.as_ref().unwrap())
            .count();
        assert_eq!(won, 1);
    }

    #[test]
    fn debug_shows_no_secret() {
        let login = PendingLogin::new("verifier-x".into(), "nonce-x".into(), ReturnTo::root(), "b");
        let shown = format!("{login:?}");
        assert!(!shown.contains("-x"), "{shown}");
    }
}
