//! The port impls of a SQL store, written once: each store implements the
//! key-value and metric-series ports with inherent `kv_*` and `series_*` methods
//! that return its own error, and these macros forward each port method to them,
//! folding the error into `StoreError` (the store's `From` impl decides how).
//! The calling crate depends on `ccm-core` and `async-trait`.

/// `impl KeyValueStore for $store`, forwarding to `kv_get`, `kv_put`, `kv_take`,
/// `kv_delete`, `kv_list`, `kv_count` and `kv_purge_expired`.
#[macro_export]
macro_rules! forward_key_value_store {
    ($store:ty) => {
        #[::async_trait::async_trait]
        impl ::ccm_core::ports::kv::KeyValueStore for $store {
            async fn get(
                &self,
                namespace: &str,
                key: &str,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<Option<::ccm_core::ports::kv::KvEntry>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.kv_get(namespace, key, now).await?)
            }

            async fn put(
                &self,
                namespace: &str,
                key: &str,
                value: &str,
                expect: ::ccm_core::ports::kv::Expect,
                expires_at: Option<::ccm_core::time::Timestamp>,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self
                    .kv_put(namespace, key, value, expect, expires_at, now)
                    .await?)
            }

            async fn take(
                &self,
                namespace: &str,
                key: &str,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<Option<::ccm_core::ports::kv::KvEntry>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.kv_take(namespace, key, now).await?)
            }

            async fn delete(
                &self,
                namespace: &str,
                key: &str,
            ) -> Result<(), ::ccm_core::ports::store::StoreError> {
                Ok(self.kv_delete(namespace, key).await?)
            }

            async fn list(
                &self,
                namespace: &str,
                now: ::ccm_core::time::Timestamp,
                limit: usize,
            ) -> Result<Vec<::ccm_core::ports::kv::KvEntry>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.kv_list(namespace, now, limit).await?)
            }

            async fn count(
                &self,
                namespace: &str,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self.kv_count(namespace, now).await?)
            }

            async fn purge_expired(
                &self,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self.kv_purge_expired(now).await?)
            }
        }
    };
}

/// `impl MetricSeries for $store`: `read` is written here, one query on the
/// store's `pool` in `$dialect`'s spelling; the others forward to
/// `series_append`, `series_prune` and `series_compact`.
#[macro_export]
macro_rules! forward_metric_series {
    ($store:ty, $dialect:ty) => {
        #[::async_trait::async_trait]
        impl ::ccm_core::ports::metric_series::MetricSeries for $store {
            async fn append(
                &self,
                points: &[::ccm_core::ports::metric_series::MetricPoint],
            ) -> Result<(), ::ccm_core::ports::store::StoreError> {
                Ok(self.series_append(points).await?)
            }

            async fn read(
                &self,
                worker: ::ccm_core::ids::WorkerId,
                since: ::ccm_core::time::Timestamp,
                until: ::ccm_core::time::Timestamp,
                step_seconds: u32,
            ) -> Result<
                Vec<::ccm_core::ports::metric_series::MetricPoint>,
                ::ccm_core::ports::store::StoreError,
            > {
                let rows = ::sqlx::query(&$crate::series::read_sql::<$dialect>())
                    .bind(worker.to_string())
                    .bind($crate::series::bound(since))
                    .bind($crate::series::bound(until))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::SqlStoreError::from)?;
                let points = rows
                    .iter()
                    .map(|row| $crate::series::weighted_point(row, worker))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(::ccm_core::ports::metric_series::bucket_weighted(
                    points,
                    since,
                    step_seconds,
                ))
            }

            async fn prune(
                &self,
                before: ::ccm_core::time::Timestamp,
            ) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self.series_prune(before).await?)
            }

            async fn compact(
                &self,
                now: ::ccm_core::time::Timestamp,
                retention: &::ccm_core::ports::metric_series::MetricRetention,
            ) -> Result<
                ::ccm_core::ports::metric_series::CompactReport,
                ::ccm_core::ports::store::StoreError,
            > {
                Ok(self.series_compact(now, retention).await?)
            }
        }
    };
}

/// `impl Store for $store`, written once for both SQL stores. The reads of
/// records are here, over the store's `get_doc`, `list_docs`, `list_page`,
/// `grouped_counts` (rows of a group key and its count) and `update_api_key`,
/// the free functions `push_worker_filter` and `push_lablet_filter` (which
/// append `AND …` conditions in the database's own SQL) and
/// [`crate::filters`]; every other method forwards to the store's inherent
/// `*_inner` method of the same signature. The calling crate depends on
/// `ccm-core`, `async-trait` and `sqlx`.
#[macro_export]
macro_rules! forward_store {
    ($store:ty, $dialect:ty) => {
        #[::async_trait::async_trait]
        impl ::ccm_core::ports::store::Store for $store {
            async fn get_worker(
                &self,
                id: ::ccm_core::ids::WorkerId,
            ) -> Result<Option<::ccm_core::worker::Worker>, ::ccm_core::ports::store::StoreError>
            {
                let table = &$crate::rows::WORKERS;
                Ok(self.get_doc(table, "worker", &id.to_string()).await?)
            }

            async fn list_workers(
                &self,
                filter: &::ccm_core::ports::store::WorkerFilter,
            ) -> Result<Vec<::ccm_core::worker::Worker>, ::ccm_core::ports::store::StoreError>
            {
                let sql = $crate::rows::WORKERS.list_sql::<$dialect>();
                let mut query = ::sqlx::QueryBuilder::new(sql);
                push_worker_filter(&mut query, filter);
                let workers = self.list_docs("worker", query).await?;
                Ok(::ccm_core::ports::store::ListFilter::select(filter, workers))
            }

            async fn list_workers_page(
                &self,
                filter: &::ccm_core::ports::store::WorkerFilter,
                page: ::ccm_core::ports::store::PageRequest,
            ) -> Result<
                ::ccm_core::ports::store::Listed<::ccm_core::worker::Worker>,
                ::ccm_core::ports::store::StoreError,
            > {
                let order = $crate::rows::WORKERS.page_order_sql::<$dialect>();
                Ok(self
                    .list_page("worker", "workers", &order, page, |query| {
                        push_worker_filter(query, filter)
                    })
                    .await?)
            }

            async fn get_lab(
                &self,
                id: ::ccm_core::ids::LabRecordId,
            ) -> Result<Option<::ccm_core::lab::LabRecord>, ::ccm_core::ports::store::StoreError>
            {
                let table = &$crate::rows::LABS;
                Ok(self.get_doc(table, "lab", &id.to_string()).await?)
            }

            async fn list_labs(
                &self,
                filter: &::ccm_core::ports::store::LabFilter,
            ) -> Result<Vec<::ccm_core::lab::LabRecord>, ::ccm_core::ports::store::StoreError>
            {
                let sql = $crate::rows::LABS.list_sql::<$dialect>();
                let mut query = ::sqlx::QueryBuilder::new(sql);
                $crate::filters::push_lab_filter(&mut query, filter);
                let labs = self.list_docs("lab", query).await?;
                Ok(::ccm_core::ports::store::ListFilter::select(filter, labs))
            }

            async fn get_definition(
                &self,
                id: ::ccm_core::ids::DefinitionId,
            ) -> Result<
                Option<::ccm_core::definition::LabletDefinition>,
                ::ccm_core::ports::store::StoreError,
            > {
                let table = &$crate::rows::DEFINITIONS;
                Ok(self.get_doc(table, "definition", &id.to_string()).await?)
            }

            async fn list_definitions(
                &self,
                filter: &::ccm_core::ports::store::DefinitionFilter,
            ) -> Result<
                Vec<::ccm_core::definition::LabletDefinition>,
                ::ccm_core::ports::store::StoreError,
            > {
                let sql = $crate::rows::DEFINITIONS.list_sql::<$dialect>();
                let mut query = ::sqlx::QueryBuilder::new(sql);
                $crate::filters::push_definition_filter(&mut query, filter);
                let definitions = self.list_docs("definition", query).await?;
                Ok(::ccm_core::ports::store::ListFilter::select(filter, definitions))
            }

            async fn get_lablet(
                &self,
                id: ::ccm_core::ids::LabletId,
            ) -> Result<Option<::ccm_core::lablet::Lablet>, ::ccm_core::ports::store::StoreError>
            {
                let table = &$crate::rows::LABLETS;
                Ok(self.get_doc(table, "lablet", &id.to_string()).await?)
            }

            async fn list_lablets(
                &self,
                filter: &::ccm_core::ports::store::LabletFilter,
            ) -> Result<Vec<::ccm_core::lablet::Lablet>, ::ccm_core::ports::store::StoreError>
            {
                let sql = $crate::rows::LABLETS.list_sql::<$dialect>();
                let mut query = ::sqlx::QueryBuilder::new(sql);
                push_lablet_filter(&mut query, filter);
                let lablets = self.list_docs("lablet", query).await?;
                Ok(::ccm_core::ports::store::ListFilter::select(filter, lablets))
            }

            async fn list_lablets_page(
                &self,
                filter: &::ccm_core::ports::store::LabletFilter,
                page: ::ccm_core::ports::store::PageRequest,
            ) -> Result<
                ::ccm_core::ports::store::Listed<::ccm_core::lablet::Lablet>,
                ::ccm_core::ports::store::StoreError,
            > {
                let order = $crate::rows::LABLETS.page_order_sql::<$dialect>();
                Ok(self
                    .list_page("lablet", "lablets", &order, page, |query| {
                        push_lablet_filter(query, filter)
                    })
                    .await?)
            }

            async fn count_lablets_by_worker(
                &self,
                filter: &::ccm_core::ports::store::LabletFilter,
            ) -> Result<
                ::std::collections::BTreeMap<::ccm_core::ids::WorkerId, usize>,
                ::ccm_core::ports::store::StoreError,
            > {
                let mut query = ::sqlx::QueryBuilder::new(
                    "SELECT worker_id, COUNT(*) FROM lablets WHERE worker_id IS NOT NULL",
                );
                push_lablet_filter(&mut query, filter);
                query.push(" GROUP BY worker_id");
                let groups = self.grouped_counts(query).await?;
                Ok($crate::rows::counts_per_worker(groups)?)
            }

            async fn get_job(
                &self,
                name: &str,
            ) -> Result<Option<::ccm_core::job::JobRecord>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.get_doc(&$crate::rows::JOBS, "job", name).await?)
            }

            async fn list_jobs(
                &self,
            ) -> Result<Vec<::ccm_core::job::JobRecord>, ::ccm_core::ports::store::StoreError>
            {
                let sql = $crate::rows::JOBS.list_sql::<$dialect>();
                let mut jobs: Vec<::ccm_core::job::JobRecord> =
                    self.list_docs("job", ::sqlx::QueryBuilder::new(sql)).await?;
                jobs.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(jobs)
            }

            async fn commit(
                &self,
                changes: ::ccm_core::ports::store::ChangeSet,
            ) -> Result<::ccm_core::ports::store::CommitReceipt, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.commit_inner(changes).await?)
            }

            async fn generations(
                &self,
            ) -> Result<::ccm_core::ports::store::Generations, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.generations_inner().await?)
            }

            async fn read_events(
                &self,
                after: u64,
                limit: usize,
            ) -> Result<Vec<::ccm_core::event::StoredEvent>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.read_events_inner(after, limit).await?)
            }

            async fn last_sequence(&self) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self.last_sequence_inner().await?)
            }

            fn subscribe(&self) -> ::tokio::sync::watch::Receiver<u64> {
                self.newest.subscribe()
            }

            async fn first_sequence(&self) -> Result<u64, ::ccm_core::ports::store::StoreError> {
                Ok(self.first_sequence_inner().await?)
            }

            async fn read_compacted(
                &self,
                subjects: &[::ccm_core::event::Subject],
            ) -> Result<Vec<::ccm_core::event::StoredEvent>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.read_compacted_inner(subjects).await?)
            }

            async fn apply_compaction(
                &self,
                step: ::ccm_core::ports::store::CompactionStep,
            ) -> Result<bool, ::ccm_core::ports::store::StoreError> {
                Ok(self.apply_compaction_inner(step).await?)
            }

            async fn try_acquire_lease(
                &self,
                name: &str,
                holder: &str,
                ttl_seconds: u32,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<Option<::ccm_core::ports::store::Lease>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self
                    .try_acquire_lease_inner(name, holder, ttl_seconds, now)
                    .await?)
            }

            async fn renew_lease(
                &self,
                name: &str,
                holder: &str,
                token: u64,
                ttl_seconds: u32,
                now: ::ccm_core::time::Timestamp,
            ) -> Result<::ccm_core::ports::store::Lease, ::ccm_core::ports::store::StoreError> {
                Ok(self
                    .renew_lease_inner(name, holder, token, ttl_seconds, now)
                    .await?)
            }

            async fn release_lease(
                &self,
                name: &str,
                holder: &str,
                token: u64,
            ) -> Result<(), ::ccm_core::ports::store::StoreError> {
                Ok(self.release_lease_inner(name, holder, token).await?)
            }

            async fn get_lease(
                &self,
                name: &str,
            ) -> Result<Option<::ccm_core::ports::store::Lease>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self.get_lease_inner(name).await?)
            }

            async fn insert_api_key(
                &self,
                key: &::ccm_core::api_key::ApiKeyRecord,
            ) -> Result<(), ::ccm_core::ports::store::StoreError> {
                Ok(self.insert_api_key_inner(key).await?)
            }

            async fn find_api_key_by_hash(
                &self,
                key_hash: &str,
            ) -> Result<
                Option<::ccm_core::api_key::ApiKeyRecord>,
                ::ccm_core::ports::store::StoreError,
            > {
                Ok(self.find_api_key_by_hash_inner(key_hash).await?)
            }

            async fn list_api_keys(
                &self,
            ) -> Result<Vec<::ccm_core::api_key::ApiKeyRecord>, ::ccm_core::ports::store::StoreError>
            {
                let sql = format!(
                    "SELECT id, {} FROM api_keys",
                    <$dialect as $crate::Dialect>::BODY_AS_TEXT
                );
                let mut keys: Vec<::ccm_core::api_key::ApiKeyRecord> =
                    self.list_docs("api key", ::sqlx::QueryBuilder::new(sql)).await?;
                keys.sort_by_key(|k| (k.created_at, k.id));
                Ok(keys)
            }

            async fn revoke_api_key(
                &self,
                id: ::ccm_core::api_key::ApiKeyId,
                at: ::ccm_core::time::Timestamp,
            ) -> Result<Option<::ccm_core::api_key::ApiKeyRecord>, ::ccm_core::ports::store::StoreError>
            {
                Ok(self
                    .update_api_key(id, |key| {
                        key.revoked_at.get_or_insert(at);
                    })
                    .await?)
            }

            async fn touch_api_key(
                &self,
                id: ::ccm_core::api_key::ApiKeyId,
                at: ::ccm_core::time::Timestamp,
            ) -> Result<(), ::ccm_core::ports::store::StoreError> {
                self.update_api_key(id, |key| {
                    if key.last_used_at.is_none_or(|last| last < at) {
                        key.last_used_at = Some(at);
                    }
                })
                .await?;
                Ok(())
            }
        }
    };
}
