//! The key-value port: small records that must outlive one process and be shared
//! by every process on one store, which are not resources and need no events —
//! browser sessions, pending logins, one-time login tokens, relay cursors, the
//! autoscaler's cooldowns. Each record lives in a namespace, carries a version
//! for compare-and-swap, and may expire; expired records read as absent.
//!
//! Values are JSON text chosen by the caller; the port neither parses nor logs
//! them (a session record holds tokens).

use async_trait::async_trait;

use crate::ports::store::StoreError;
use crate::time::Timestamp;

/// Longest namespace, in bytes.
pub const MAX_NAMESPACE_BYTES: usize = 64;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// One stored record.
#[derive(Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key within its namespace.
    pub key: String,
    /// The value (JSON text).
    pub value: String,
    /// Starts at 1, increases by 1 on every write.
    pub version: u64,
    /// After this instant the record reads as absent.
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for KvEntry {
    // Values may hold credentials (session tokens): never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvEntry")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("version", &self.version)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl KvEntry {
    /// Whether the record is still live at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What a write expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Any,
    /// Write only when no live record exists (an expired one counts as absent).
    Absent,
    /// Write only when the live record has this version.
    Version(u64),
}

/// Shared small records, namespaced, versioned and expiring.
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// The live record, if any.
    async fn get(
        &self,
        namespace: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<KvEntry>, StoreError>;

    /// Writes `value` when `expect` holds, returning the new version (an expired
    /// record counts as absent, and its successor starts again at version 1). A
    /// failed expectation is [`StoreError::RecordConflict`] and changes nothing;
    /// a record beyond the bounds is [`StoreError::RecordTooLarge`].
    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        expect: Expect,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Removes and returns the live record atomically: of several processes
    /// taking one key at once, exactly one gets it (one-time tokens).
    async fn take(
        &self,
        namespace: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<KvEntry>, StoreError>;

    /// Removes the record; absent is not an error.
    async fn delete(&self, namespace: &str, key: &str) -> Result<(), StoreError>;

    /// Live records of a namespace in key order, at most `limit`.
    async fn list(
        &self,
        namespace: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KvEntry>, StoreError>;

    /// How many live records the namespace holds (for bounds on their number).
    async fn count(&self, namespace: &str, now: Timestamp) -> Result<u64, StoreError>;

    /// Deletes expired records of every namespace; returns how many went.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
}

/// Refuses namespaces, keys and values beyond the port's bounds, so every
/// adapter stores the same things. Adapters call it first in `put`.
pub fn check_bounds(namespace: &str, key: &str, value: &str) -> Result<(), StoreError> {
    let refuse = |what: &str, limit: usize| {
        Err(StoreError::RecordTooLarge {
            namespace: namespace.chars().take(MAX_NAMESPACE_BYTES).collect(),
            message: format!("{what} must be 1 to {limit} bytes"),
        })
    };
    if namespace.is_empty() || namespace.len() > MAX_NAMESPACE_BYTES {
        return refuse("the namespace", MAX_NAMESPACE_BYTES);
    }
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return refuse("the key", MAX_KEY_BYTES);
    }
    if value.len() > MAX_VALUE_BYTES {
        return refuse("the value", MAX_VALUE_BYTES);
    }
    Ok(())
}

/// Checks `expect` against the live version `actual` (`None` = absent): the
/// conflict a failed expectation returns, or `Ok`.
pub fn check_expectation(
    namespace: &str,
    key: &str,
    expect: Expect,
    actual: Option<u64>,
) -> Result<(), StoreError> {
    let holds = match expect {
        Expect::Any => true,
        Expect::Absent => actual.is_none(),
        Expect::Version(v) => actual == Some(v),
    };
    if holds {
        return Ok(());
    }
    Err(StoreError::RecordConflict {
        namespace: namespace.to_owned(),
        key: key.to_owned(),
        expected: match expect {
            Expect::Version(v) => Some(v),
            Expect::Absent | Expect::Any => None,
        },
        actual,
    })
}
