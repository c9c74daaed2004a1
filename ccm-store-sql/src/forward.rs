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

/// `impl MetricSeries for $store`, forwarding to `series_append`, `series_read`,
/// `series_prune` and `series_compact`.
#[macro_export]
macro_rules! forward_metric_series {
    ($store:ty) => {
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
                Ok(self.series_read(worker, since, until, step_seconds).await?)
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
