//! A day in the life of a lablet fleet on the simulator, on the in-memory store:
//! 200 lablets in overlapping timeslots, workers starting stopped, with and without
//! crashes of the engine at random points (inside steps too). The scenario and its
//! checks live in `ccm_sim::scenarios::lablet_day`, shared with the SQLite and
//! PostgreSQL stores, where a crash restarts the whole process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_sim::scenarios::lablet_day::{run_day, DayPlan, DayReport};
use ccm_sim::scenarios::MemoryStores;

const LABLETS: usize = 200;
const CRASHES: usize = 12;

async fn clean_day(plan: DayPlan) -> DayReport {
    let report = run_day(&MemoryStores::new(), &plan).await.unwrap();
    println!("seed {}: {report}", plan.seed);
    assert!(report.is_clean(), "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_200_lablets_is_served_on_time_and_cleaned_up() {
    let report = clean_day(DayPlan::calm(11, LABLETS)).await;
    assert!(report.worker_hours >= report.lower_bound_hours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_day_survives_crashes_at_random_points() {
    clean_day(DayPlan::calm(11, LABLETS).with_random_crashes(99, CRASHES)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_days_with_other_crashes_are_on_time_too() {
    for seed in [1u64, 2, 3, 4] {
        clean_day(DayPlan::calm(seed, LABLETS).with_random_crashes(seed * 7, CRASHES)).await;
    }
}
