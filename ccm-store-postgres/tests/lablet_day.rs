//! The lablet day of `ccm_sim::scenarios::lablet_day` on PostgreSQL (a schema of
//! its own), where a crash is a process restart: the engine, its job runner and
//! the store (both pools, the LISTEN task) are dropped, and a new process opens
//! the database again. The simulated cloud and CML carry on across restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ports::store::StoreError;
use ccm_sim::scenarios::lablet_day::{run_day, DayPlan};
use ccm_sim::scenarios::{OpenedStore, StoreOpener};
use ccm_store_postgres::PostgresStore;
use common::PgFactory;

/// 75 rather than the in-memory day's 200: every engine step is a dozen round
/// trips to the server, and a debug build took 85 s for 200 lablets, 61 s for
/// 100 and 42 s for 75 on an idle 2-core machine (about 35 s of it is the
/// day's steps whatever the count). At 75 the autoscaler still has to start
/// the stopped workers to place them (about 49 worker-hours).
const LABLETS: usize = 75;
const CRASHES: usize = 12;

#[async_trait]
impl StoreOpener for PgFactory {
    async fn open(&self) -> Result<OpenedStore, StoreError> {
        Ok(OpenedStore::serving_all(Arc::new(
            PostgresStore::open_with(self.options()).await?,
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_on_postgres_survives_process_restarts_at_random_points() {
    let database = PgFactory::new().await;
    let plan = DayPlan::calm(11, LABLETS).with_random_crashes(99, CRASHES);
    let day = run_day(&database, &plan).await;
    database.drop_schema().await;
    let report = day.unwrap();
    println!("{report}");
    assert!(report.is_clean(), "{report}");
}
