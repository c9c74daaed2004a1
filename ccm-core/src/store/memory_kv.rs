//! An in-memory [`KeyValueStore`], the reference for adapters' behaviour: one
//! process only, lost on exit.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::kv::{check_bounds, check_expectation, Expect, KeyValueStore, KvEntry};
use crate::ports::store::StoreError;
use crate::time::Timestamp;

/// Records by namespace and key.
#[derive(Debug, Default)]
pub struct MemoryKeyValueStore {
    records: Mutex<BTreeMap<(String, String), KvEntry>>,
}

impl MemoryKeyValueStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<(String, String), KvEntry>) -> T,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("key-value lock poisoned".into()))?;
        Ok(f(&mut guard))
    }
}

fn id(namespace: &str, key: &str) -> (String, String) {
    (namespace.to_owned(), key.to_owned())
}

#[async_trait]
impl KeyValueStore for MemoryKeyValueStore {
    async fn get(
        &self,
        namespace: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<KvEntry>, StoreError> {
        self.with(|m| {
            m.get(&id(namespace, key))
                .filter(|e| e.is_live(now))
                .cloned()
        })
    }

    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        expect: Expect,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        check_bounds(namespace, key, value)?;
        self.with(|m| {
            let live = m.get(&id(namespace, key)).filter(|e| e.is_live(now));
            let actual = live.map(|e| e.version);
            check_expectation(namespace, key, expect, actual)?;
            let version = actual.unwrap_or(0) + 1;
            m.insert(
                id(namespace, key),
                KvEntry {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    version,
                    expires_at,
                },
            );
            Ok(version)
        })?
    }

    async fn take(
        &self,
        namespace: &str,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<KvEntry>, StoreError> {
        self.with(|m| m.remove(&id(namespace, key)).filter(|e| e.is_live(now)))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), StoreError> {
        self.with(|m| {
            m.remove(&id(namespace, key));
        })
    }

    async fn list(
        &self,
        namespace: &str,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<KvEntry>, StoreError> {
        self.with(|m| {
            m.range(id(namespace, "")..)
                .take_while(|((ns, _), _)| ns == namespace)
                .map(|(_, e)| e)
                .filter(|e| e.is_live(now))
                .take(limit)
                .cloned()
                .collect()
        })
    }

    async fn count(&self, namespace: &str, now: Timestamp) -> Result<u64, StoreError> {
        self.with(|m| {
            m.range(id(namespace, "")..)
                .take_while(|((ns, _), _)| ns == namespace)
                .filter(|(_, e)| e.is_live(now))
                .count() as u64
        })
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.with(|m| {
            let before = m.len();
            m.retain(|_, e| e.is_live(now));
            (before - m.len()) as u64
        })
    }
}
