//! Lablets on one worker that end together release their capacity in turns:
//! their concurrent passes queue for the worker's record instead of
//! conflicting on its version and retrying. The store hook yields before
//! every call, so the passes interleave as they do on a real database; the
//! same run without yields, where no pass can interleave, is the baseline.
//! What is compared is the reads of worker records: a conflict costs the
//! losing pass a fresh read. (Commits do not compare: group commit merges
//! those of interleaved passes.)
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ccm_core::fleet::{CreateWorker, FleetSettings};
use ccm_core::ids::Region;
use ccm_core::lablet::LabletPhase;
use ccm_core::ports::Clock;
use ccm_core::time::plus_seconds;

mod support;
use support::HookedWorld;

const LABLETS: usize = 6;

/// Worker reads the engine made over the lablets' shared end, each lablet checked
/// to have ended on the one worker and given its capacity back.
async fn worker_reads_over_a_shared_ending(interleave: bool) -> usize {
    let worker_reads = Arc::new(AtomicUsize::new(0));
    let yielding = Arc::new(AtomicBool::new(false));
    let hook = {
        let (worker_reads, yielding) = (worker_reads.clone(), yielding.clone());
        Box::new(move |method: &'static str, _| {
            if method == "get_worker" {
                worker_reads.fetch_add(1, Ordering::SeqCst);
            }
            let yielding = yielding.load(Ordering::SeqCst);
            Box::pin(async move {
                if yielding {
                    tokio::task::yield_now().await;
                }
            }) as futures_util::future::BoxFuture<'static, ()>
        })
    };
    let world = HookedWorld::new(11, FleetSettings::default(), hook).await;
    let fleet = &world.fleet;
    let worker = fleet
        .create_worker(CreateWorker {
            idle_detection_disabled: true,
            ..CreateWorker::new("w1", Region::new("us-east-1"))
        })
        .await
        .unwrap();
    world.run_for(30 * 60).await;
    let definition = fleet.create_definition(support::ccna(0)).await.unwrap();
    let start = plus_seconds(world.world.clock.now(), 40 * 60);
    let mut ids = Vec::new();
    for n in 0..LABLETS {
        let lablet = support::book(fleet, &definition, &format!("student{n}"), start, 60).await;
        ids.push(lablet.id);
    }
    world.run_for(60 * 60).await;
    for id in &ids {
        let lablet = fleet.get_lablet(*id).await.unwrap();
        assert_eq!(lablet.status.phase, LabletPhase::Running);
        assert_eq!(lablet.status.worker_id, Some(worker.id));
    }
    yielding.store(interleave, Ordering::SeqCst);
    let before = worker_reads.load(Ordering::SeqCst);
    // Past the end (an hour and a half from now) and the teardowns.
    world.run_for(60 * 60).await;
    for id in &ids {
        let lablet = fleet.get_lablet(*id).await.unwrap();
        assert_eq!(lablet.status.phase, LabletPhase::Terminated);
    }
    let held = fleet.get_worker(worker.id).await.unwrap();
    assert!(held.status.capacity.allocations.is_empty(), "all released");
    worker_reads.load(Ordering::SeqCst) - before
}

#[tokio::test]
async fn lablets_ending_together_on_one_worker_release_without_a_conflict() {
    let alone = worker_reads_over_a_shared_ending(false).await;
    let interleaved = worker_reads_over_a_shared_ending(true).await;
    assert!(
        alone > LABLETS,
        "{alone} worker reads for {LABLETS} endings"
    );
    assert_eq!(
        interleaved, alone,
        "interleaved passes read the worker again (after conflicts)"
    );
}
