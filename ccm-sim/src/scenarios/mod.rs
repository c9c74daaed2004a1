//! # Scenarios run against every store
//!
//! A scenario drives the real [`ccm_core::fleet::Fleet`] engine over the simulator
//! and checks what came of it. It names no store adapter: it reaches the store
//! through a [`StoreOpener`], so the same scenario runs on the in-memory store
//! here and on SQLite and PostgreSQL in those crates' tests, and a crash can be a
//! whole process restart (every handle on the store dropped, the store opened
//! again) while the simulated cloud and CML carry on, as the real ones would.
//!
//! * [`lablet_day`]: a business day of lablets with the autoscaler on, with
//!   crashes of the engine at random points, including inside a step.

pub mod lablet_day;

use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ports::store::StoreError;
use ccm_core::ports::{KeyValueStore, MetricSeries, Store};
use ccm_core::store::{MemoryKeyValueStore, MemoryMetricSeries, MemoryStore};

/// The store as a process opens it at start-up, seen through each port it serves.
#[derive(Clone)]
pub struct OpenedStore {
    /// Resources, events, jobs, leases.
    pub store: Arc<dyn Store>,
    /// Autoscaler cooldowns and decisions.
    pub kv: Arc<dyn KeyValueStore>,
    /// The per-worker metrics time series.
    pub series: Arc<dyn MetricSeries>,
}

impl OpenedStore {
    /// One store that serves every port (the SQL stores do).
    pub fn serving_all<S>(store: Arc<S>) -> Self
    where
        S: Store + KeyValueStore + MetricSeries + 'static,
    {
        Self {
            store: store.clone(),
            kv: store.clone(),
            series: store,
        }
    }
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStore").finish_non_exhaustive()
    }
}

/// Opens the store the way a starting process does. A scenario calls it once at
/// the start and again after every crash, having dropped every handle the
/// crashed process held.
#[async_trait]
pub trait StoreOpener: Send + Sync {
    /// Opens the store (a durable store: from its file or URL, migrations and all).
    async fn open(&self) -> Result<OpenedStore, StoreError>;
}

/// The in-memory stores of one process. They outlive the engine, so a crash here
/// is the engine's alone (its queues and caches are lost, the state is not): what
/// the in-memory store can model of a crash.
#[derive(Default)]
pub struct MemoryStores {
    store: Arc<MemoryStore>,
    kv: Arc<MemoryKeyValueStore>,
    series: Arc<MemoryMetricSeries>,
}

impl MemoryStores {
    /// Empty stores.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StoreOpener for MemoryStores {
    async fn open(&self) -> Result<OpenedStore, StoreError> {
        Ok(OpenedStore {
            store: self.store.clone(),
            kv: self.kv.clone(),
            series: self.series.clone(),
        })
    }
}
