//! The lablet day of `ccm_sim::scenarios::lablet_day` on a SQLite file, where a
//! crash is a process restart: the engine, its job runner and the store (pool and
//! one-process lock) are dropped, and a new process opens the file again (which
//! fails if anything of the old process still held the lock). The simulated
//! cloud and CML carry on across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ports::store::StoreError;
use ccm_sim::scenarios::lablet_day::{run_day, DayPlan};
use ccm_sim::scenarios::{OpenedStore, StoreOpener};
use ccm_store_sqlite::SqliteStore;

/// 150 rather than the in-memory day's 200: the day's many small reads and
/// commits, decoded unoptimised, cost a debug build about 64 s for 200 lablets
/// and 45 s for 150 on an idle 2-core machine (35 s for 100), and a loaded
/// machine adds half again. At 150 the autoscaler still has to start the
/// stopped workers to place them (about 78 worker-hours).
const LABLETS: usize = 150;
const CRASHES: usize = 12;

/// A database file that every process of the day opens in turn.
struct SqliteFile {
    url: String,
}

#[async_trait]
impl StoreOpener for SqliteFile {
    async fn open(&self) -> Result<OpenedStore, StoreError> {
        Ok(OpenedStore::serving_all(Arc::new(
            SqliteStore::open(&self.url).await?,
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_on_sqlite_survives_process_restarts_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteFile {
        url: format!("sqlite://{}/ccm.db", dir.path().display()),
    };
    let plan = DayPlan::calm(11, LABLETS).with_random_crashes(99, CRASHES);
    let report = run_day(&file, &plan).await.unwrap();
    println!("{report}");
    assert!(report.is_clean(), "{report}");
}
