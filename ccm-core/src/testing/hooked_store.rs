//! A [`Store`] that runs a test's hook before each call and then forwards the
//! call to the store it wraps: the way a test counts calls, or lands a write of
//! "another process" between two steps of the code under test, without a
//! store of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::api_key::{ApiKeyId, ApiKeyRecord};
use crate::definition::LabletDefinition;
use crate::event::{StoredEvent, Subject};
use crate::ids::{DefinitionId, LabRecordId, LabletId, WorkerId};
use crate::job::JobRecord;
use crate::lab::LabRecord;
use crate::lablet::Lablet;
use crate::ports::store::{
    ChangeSet, CommitReceipt, CompactionReport, CompactionStep, DefinitionFilter, Generations,
    LabFilter, LabletFilter, Lease, Listed, PageRequest, Store, StoreError, WorkerFilter,
};
use crate::time::Timestamp;
use crate::worker::Worker;

/// What the hook is given: the name of the [`Store`] method about to run (as
/// spelled in the trait) and the wrapped store, to read or write it first.
pub type StoreHook =
    Box<dyn Fn(&'static str, Arc<dyn Store>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The wrapped store with a hook before every call (`subscribe` included).
pub struct HookedStore {
    inner: Arc<dyn Store>,
    hook: StoreHook,
}

impl HookedStore {
    /// Wraps `inner`; `hook` runs before each call and is awaited.
    pub fn new(inner: Arc<dyn Store>, hook: StoreHook) -> Self {
        Self { inner, hook }
    }

    async fn before(&self, method: &'static str) {
        (self.hook)(method, self.inner.clone()).await;
    }
}

#[async_trait]
impl Store for HookedStore {
    async fn get_worker(&self, id: WorkerId) -> Result<Option<Worker>, StoreError> {
        self.before("get_worker").await;
        self.inner.get_worker(id).await
    }
    async fn list_workers(&self, filter: &WorkerFilter) -> Result<Vec<Worker>, StoreError> {
        self.before("list_workers").await;
        self.inner.list_workers(filter).await
    }
    async fn list_workers_page(
        &self,
        filter: &WorkerFilter,
        page: PageRequest,
    ) -> Result<Listed<Worker>, StoreError> {
        self.before("list_workers_page").await;
        self.inner.list_workers_page(filter, page).await
    }
    async fn get_lab(&self, id: LabRecordId) -> Result<Option<LabRecord>, StoreError> {
        self.before("get_lab").await;
        self.inner.get_lab(id).await
    }
    async fn list_labs(&self, filter: &LabFilter) -> Result<Vec<LabRecord>, StoreError> {
        self.before("list_labs").await;
        self.inner.list_labs(filter).await
    }
    async fn get_definition(
        &self,
        id: DefinitionId,
    ) -> Result<Option<LabletDefinition>, StoreError> {
        self.before("get_definition").await;
        self.inner.get_definition(id).await
    }
    async fn list_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, StoreError> {
        self.before("list_definitions").await;
        self.inner.list_definitions(filter).await
    }
    async fn get_lablet(&self, id: LabletId) -> Result<Option<Lablet>, StoreError> {
        self.before("get_lablet").await;
        self.inner.get_lablet(id).await
    }
    async fn list_lablets(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, StoreError> {
        self.before("list_lablets").await;
        self.inner.list_lablets(filter).await
    }
    async fn list_lablets_page(
        &self,
        filter: &LabletFilter,
        page: PageRequest,
    ) -> Result<Listed<Lablet>, StoreError> {
        self.before("list_lablets_page").await;
        self.inner.list_lablets_page(filter, page).await
    }
    async fn count_lablets_by_worker(
        &self,
        filter: &LabletFilter,
    ) -> Result<BTreeMap<WorkerId, usize>, StoreError> {
        self.before("count_lablets_by_worker").await;
        self.inner.count_lablets_by_worker(filter).await
    }
    async fn get_job(&self, name: &str) -> Result<Option<JobRecord>, StoreError> {
        self.before("get_job").await;
        self.inner.get_job(name).await
    }
    async fn list_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.before("list_jobs").await;
        self.inner.list_jobs().await
    }
    async fn commit(&self, changes: ChangeSet) -> Result<CommitReceipt, StoreError> {
        self.before("commit").await;
        self.inner.commit(changes).await
    }
    async fn generations(&self) -> Result<Generations, StoreError> {
        self.before("generations").await;
        self.inner.generations().await
    }
    async fn read_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.before("read_events").await;
        self.inner.read_events(after, limit).await
    }
    async fn last_sequence(&self) -> Result<u64, StoreError> {
        self.before("last_sequence").await;
        self.inner.last_sequence().await
    }
    async fn first_sequence(&self) -> Result<u64, StoreError> {
        self.before("first_sequence").await;
        self.inner.first_sequence().await
    }
    async fn compact_events(
        &self,
        cutoff: Timestamp,
        max_events: u64,
    ) -> Result<CompactionReport, StoreError> {
        self.before("compact_events").await;
        self.inner.compact_events(cutoff, max_events).await
    }
    async fn read_compacted(&self, subjects: &[Subject]) -> Result<Vec<StoredEvent>, StoreError> {
        self.before("read_compacted").await;
        self.inner.read_compacted(subjects).await
    }
    async fn apply_compaction(&self, step: CompactionStep) -> Result<bool, StoreError> {
        self.before("apply_compaction").await;
        self.inner.apply_compaction(step).await
    }
    fn subscribe(&self) -> watch::Receiver<u64> {
        // Not async: the hook is not run (a receiver reads nothing yet).
        self.inner.subscribe()
    }
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        self.before("try_acquire_lease").await;
        self.inner
            .try_acquire_lease(name, holder, ttl_seconds, now)
            .await
    }
    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        self.before("renew_lease").await;
        self.inner
            .renew_lease(name, holder, token, ttl_seconds, now)
            .await
    }
    async fn release_lease(&self, name: &str, holder: &str, token: u64) -> Result<(), StoreError> {
        self.before("release_lease").await;
        self.inner.release_lease(name, holder, token).await
    }
    async fn get_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.before("get_lease").await;
        self.inner.get_lease(name).await
    }
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.before("insert_api_key").await;
        self.inner.insert_api_key(key).await
    }
    async fn find_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.before("find_api_key_by_hash").await;
        self.inner.find_api_key_by_hash(key_hash).await
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.before("list_api_keys").await;
        self.inner.list_api_keys().await
    }
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        at: Timestamp,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.before("revoke_api_key").await;
        self.inner.revoke_api_key(id, at).await
    }
    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<(), StoreError> {
        self.before("touch_api_key").await;
        self.inner.touch_api_key(id, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::store::sample_worker;

    #[tokio::test]
    async fn the_hook_runs_before_each_call_and_its_writes_are_seen_by_it() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = calls.clone();
        let worker = sample_worker(1, "w", "us-east-1");
        let id = worker.id;
        let store = HookedStore::new(
            Arc::new(MemoryStore::new()),
            Box::new(move |method, inner| {
                let seen = seen.clone();
                let worker = worker.clone();
                Box::pin(async move {
                    seen.lock().expect("calls").push(method);
                    if method == "get_worker" {
                        let write = ChangeSet::new().put_worker(worker);
                        inner.commit(write).await.expect("the hook's write");
                    }
                })
            }),
        );
        assert_eq!(store.list_jobs().await.expect("jobs"), Vec::new());
        let found = store.get_worker(id).await.expect("read");
        assert_eq!(found.map(|w| w.id), Some(id), "written before the read");
        assert_eq!(
            *calls.lock().expect("calls"),
            vec!["list_jobs", "get_worker"]
        );
    }
}
