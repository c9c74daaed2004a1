//! Lablet lifecycle edge cases on the simulator: failures retried and ending in
//! `failed` with capacity released, a lost worker leading to a new placement,
//! cancellation, an idempotent import after a crash, the warm pool, a worker
//! started by hand that an earlier drain must not stop, and a worker that is up
//! kept over one still booting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::definition::{LabletDefinition, NewDefinition};
use ccm_core::event::{EventPayload, ScalingAction};
use ccm_core::fleet::{FleetSettings, LabAction, WhenLabletsBound};
use ccm_core::ids::WorkerId;
use ccm_core::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::{Clock, CmlClient, Store};
use ccm_core::time::plus_seconds;
use ccm_core::worker::LifecycleState;
use ccm_core::DomainError;

mod support;

use support::SimWorld as World;

async fn world(settings: FleetSettings) -> World {
    World::new(3, settings).await
}

/// Definitions and bookings the lifecycle tests share.
trait Bookings {
    async fn definition(&self, warm_pool_depth: u32) -> LabletDefinition;
    async fn book(&self, definition: &LabletDefinition, in_minutes: i64) -> Lablet;
}

impl Bookings for World {
    async fn definition(&self, warm_pool_depth: u32) -> LabletDefinition {
        self.fleet
            .create_definition(support::ccna(warm_pool_depth))
            .await
            .unwrap()
    }

    async fn book(&self, definition: &LabletDefinition, in_minutes: i64) -> Lablet {
        let start = plus_seconds(self.clock.now(), in_minutes * 60);
        self.fleet
            .create_lablet(
                definition.id,
                NewLablet {
                    owner: "student".into(),
                    timeslot: Timeslot {
                        start,
                        end: plus_seconds(start, 3600),
                    },
                    reservation_id: None,
                    on_demand: false,
                },
            )
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_unreachable_cml_fails_the_lablet_after_the_retry_limit_and_releases_capacity() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    // Imports are refused on this CML from now on.
    w.sim
        .update_faults(|f| {
            f.cml_error_rates.insert("import_lab".into(), 1.0);
        })
        .unwrap();
    let lablet = w.book(&definition, 20).await;
    w.run_for(40 * 60).await;
    let failed = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(failed.status.phase, LabletPhase::Failed);
    let reason = &failed.status.history[0].reason;
    assert!(
        reason
            .as_deref()
            .unwrap()
            .contains("gave up after 5 attempts"),
        "{reason:?}"
    );
    let attempts = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event.payload, EventPayload::LabletAttemptFailed { .. }))
        .count();
    assert_eq!(attempts, 5);
    let held = w.fleet.get_worker(worker).await.unwrap();
    assert!(
        held.status.capacity.allocations.is_empty(),
        "capacity released"
    );
    assert!(
        failed.meta.finalizers.is_empty(),
        "nothing left to tear down"
    );
}

#[tokio::test]
async fn a_lablet_whose_worker_is_lost_is_placed_again_on_another() {
    let w = world(FleetSettings::default()).await;
    let first = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let second = w.worker("w2").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 60).await;
    w.run_for(30 * 60).await;
    let bound = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(bound.status.phase, LabletPhase::Ready);
    let lost = bound.status.worker_id.unwrap();
    let survivor = if lost == first { second } else { first };
    let instance = w.fleet.get_worker(lost).await.unwrap().instance_id.unwrap();
    w.sim.terminate_externally(&instance).unwrap();
    w.run_for(20 * 60).await;
    let moved = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(moved.status.worker_id, Some(survivor));
    assert!(matches!(
        moved.status.phase,
        LabletPhase::Ready | LabletPhase::Running
    ));
    let gone = w.fleet.get_worker(lost).await.unwrap();
    assert_eq!(gone.status.lifecycle, LifecycleState::Terminated);
    assert!(gone.status.capacity.allocations.is_empty());
}

#[tokio::test]
async fn a_cancelled_lablet_tears_its_lab_down_and_a_retried_import_finds_the_lab() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 10).await;
    let instance = w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .instance_id
        .unwrap();
    // A crash after the import reached CML but before its id was stored: the lab
    // exists under the lablet's title and must be found, not imported again.
    let ep = w.sim.cml_endpoint(worker, &instance);
    w.sim
        .cml()
        .import_lab(
            &ep,
            &definition.topology_yaml,
            Some(&format!("ccm-lablet-{}", lablet.id)),
        )
        .await
        .unwrap();
    w.run_for(5 * 60).await;
    let ready = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(ready.status.phase, LabletPhase::Ready);
    assert_eq!(w.sim.labs(&instance).unwrap().len(), 1, "imported once");
    w.fleet
        .cancel_lablet(lablet.id, Some("ops".into()))
        .await
        .unwrap();
    w.run_for(60).await;
    let done = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(done.status.phase, LabletPhase::Terminated);
    assert!(w.sim.labs(&instance).unwrap().is_empty(), "lab torn down");
    assert!(w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .status
        .capacity
        .allocations
        .is_empty());
    // Deleting the finished lablet removes its record.
    w.fleet.delete_lablet(lablet.id, None).await.unwrap();
    w.run_for(60).await;
    assert!(w.store.get_lablet(lablet.id).await.unwrap().is_none());
}

#[tokio::test]
async fn the_autoscaler_keeps_the_warm_pool_and_says_why() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    let w = world(settings).await;
    w.definition(2).await;
    w.run_for(40 * 60).await;
    let running = w
        .store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.status.lifecycle == LifecycleState::Running)
        .count();
    assert_eq!(running, 2, "warm pool depth 2");
    let decisions: Vec<(ScalingAction, String)> = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.payload {
            EventPayload::FleetScalingDecided { action, reason, .. } => Some((action, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0].0, ScalingAction::Launch);
    assert!(decisions[0].1.contains("warm pool"), "{}", decisions[0].1);
    // An hour later the pool is still there: scale-down keeps the warm pool.
    w.run_for(3600).await;
    let still = w
        .store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.status.lifecycle == LifecycleState::Running)
        .count();
    assert_eq!(still, 2);
}

/// Runs `w` in steps of 15 s until `done` holds for `id`, at most `seconds`.
async fn run_until_worker(
    w: &World,
    id: WorkerId,
    seconds: i64,
    done: impl Fn(&ccm_core::worker::Worker) -> bool,
) -> ccm_core::worker::Worker {
    for _ in 0..seconds / 15 {
        let worker = w.store.get_worker(id).await.unwrap().unwrap();
        if done(&worker) {
            return worker;
        }
        w.run_for(15).await;
    }
    let worker = w.store.get_worker(id).await.unwrap().unwrap();
    panic!(
        "worker {id} did not get there in {seconds} s: {:?}, {:?}",
        worker.status.lifecycle, worker.spec
    );
}

#[tokio::test]
async fn a_worker_started_by_hand_is_not_stopped_by_the_drain_it_had_before() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    settings.autoscaler.drain_grace_seconds = 120;
    let w = world(settings).await;
    let id = w.worker("by-hand").await;
    let running = |x: &ccm_core::worker::Worker| x.status.lifecycle == LifecycleState::Running;
    run_until_worker(&w, id, 1800, running).await;
    // Idle and not needed: the autoscaler drains it. The operator stops it
    // first, then wants it back.
    run_until_worker(&w, id, 600, |x| x.spec.draining).await;
    w.fleet
        .stop_worker(id, WhenLabletsBound::Refuse)
        .await
        .unwrap();
    let stopped = run_until_worker(&w, id, 900, |x| {
        x.status.lifecycle == LifecycleState::Stopped
    })
    .await;
    assert!(!stopped.spec.draining, "a stop ends the drain");
    w.fleet.start_worker(id).await.unwrap();
    let started = run_until_worker(&w, id, 1800, running).await;
    let snooze_until = started.status.activity.snooze_until.unwrap();

    // Well past the drain grace, within the snooze of a start by hand: it runs.
    let grace_passed = plus_seconds(w.clock.now(), 5 * 60);
    assert!(grace_passed < snooze_until);
    w.run_for(5 * 60).await;
    let kept = w.store.get_worker(id).await.unwrap().unwrap();
    assert!(running(&kept), "{:?}", kept.status.lifecycle);
    assert_eq!(
        kept.spec.desired_status,
        ccm_core::worker::DesiredStatus::Running
    );
    assert!(!kept.spec.draining);

    // After the snooze (an hour by default) the autoscaler treats it like any
    // idle worker again.
    let stopped_again = run_until_worker(&w, id, 3 * 3600, |x| {
        x.status.lifecycle == LifecycleState::Stopped
    })
    .await;
    assert_eq!(
        stopped_again.spec.stop_reason,
        Some(ccm_core::worker::PauseReason::ScaleDown)
    );
    assert!(w.clock.now() > snooze_until);
}

#[tokio::test]
async fn a_worker_holding_lablets_is_stopped_or_deleted_only_when_forced() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 10).await;
    w.run_for(5 * 60).await;
    let bound = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(bound.status.worker_id, Some(worker), "{:?}", bound.status);
    assert_eq!(bound.status.phase, LabletPhase::Ready);
    let before = w.fleet.get_worker(worker).await.unwrap();
    let instance = before.instance_id.clone().unwrap();
    assert_eq!(w.sim.labs(&instance).unwrap().len(), 1);
    let events_before = w.store.last_sequence().await.unwrap();

    // Unforced: refused, naming the lablet, and nothing changes.
    let named = |error: ccm_core::CoreError| match error {
        ccm_core::CoreError::Domain(DomainError::WorkerInUse {
            worker: id,
            lablets,
        }) => {
            assert_eq!(id, worker.to_string());
            assert_eq!(lablets, vec![lablet.id.to_string()]);
        }
        other => panic!("expected worker_in_use, got {other:?}"),
    };
    named(
        w.fleet
            .stop_worker(worker, WhenLabletsBound::Refuse)
            .await
            .unwrap_err(),
    );
    named(
        w.fleet
            .terminate_worker(worker, Some("ops".into()), WhenLabletsBound::Refuse)
            .await
            .unwrap_err(),
    );
    for terminate_instance in [false, true] {
        named(
            w.fleet
                .delete_worker(
                    worker,
                    terminate_instance,
                    WhenLabletsBound::Refuse,
                    Some("ops".into()),
                )
                .await
                .unwrap_err(),
        );
    }
    let after = w.fleet.get_worker(worker).await.unwrap();
    assert_eq!(after.spec, before.spec);
    assert_eq!(after.status.lifecycle, LifecycleState::Running);
    assert_eq!(w.store.last_sequence().await.unwrap(), events_before);

    // Forced: the lab is torn down while CML answers, then the worker stops,
    // and the lablet, not started yet, waits to be placed again with the
    // worker's leaving as the reason.
    w.fleet
        .stop_worker(worker, WhenLabletsBound::GoAhead)
        .await
        .unwrap();
    w.run_for(5 * 60).await;
    let stopped = w.fleet.get_worker(worker).await.unwrap();
    assert_eq!(stopped.status.lifecycle, LifecycleState::Stopped);
    assert!(stopped.status.capacity.allocations.is_empty());
    assert!(
        w.sim.labs(&instance).unwrap().is_empty(),
        "no lab left on the stopped worker's disk"
    );
    let replaced = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(replaced.status.phase, LabletPhase::Pending);
    assert_eq!(replaced.status.worker_id, None);
    assert!(
        replaced
            .status
            .history
            .iter()
            .any(|c| c.reason.as_deref().is_some_and(|r| r.contains("w1"))),
        "{:?}",
        replaced.status.history
    );
}

#[tokio::test]
async fn a_forced_stop_ends_a_running_lablet_and_a_forced_delete_leaves_no_lab_behind() {
    let w = world(FleetSettings::default()).await;
    let first = w.worker("w1").await;
    let second = w.worker("w2").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let running = w.book(&definition, 5).await;
    w.run_for(10 * 60).await;
    let started = w.fleet.get_lablet(running.id).await.unwrap();
    assert_eq!(started.status.phase, LabletPhase::Running);
    let host = started.status.worker_id.unwrap();
    let other = if host == first { second } else { first };
    let instance = w.fleet.get_worker(host).await.unwrap().instance_id.unwrap();

    // A running lablet on a worker stopped by force ends, its lab torn down.
    w.fleet
        .stop_worker(host, WhenLabletsBound::GoAhead)
        .await
        .unwrap();
    w.run_for(5 * 60).await;
    let ended = w.fleet.get_lablet(running.id).await.unwrap();
    assert!(
        matches!(
            ended.status.phase,
            LabletPhase::Stopped | LabletPhase::Terminated
        ),
        "{:?}",
        ended.status.phase
    );
    assert!(ended
        .status
        .history
        .iter()
        .any(|c| c.reason.as_deref().is_some_and(|r| r.contains("leaving"))));
    assert!(w.sim.labs(&instance).unwrap().is_empty());
    let stopped = w.fleet.get_worker(host).await.unwrap();
    assert_eq!(stopped.status.lifecycle, LifecycleState::Stopped);

    // A forced deletion that keeps the instance tears the labs down first.
    let booked = w.book(&definition, 10).await;
    w.run_for(5 * 60).await;
    let ready = w.fleet.get_lablet(booked.id).await.unwrap();
    assert_eq!(ready.status.worker_id, Some(other));
    assert_eq!(ready.status.phase, LabletPhase::Ready);
    let kept = w
        .fleet
        .get_worker(other)
        .await
        .unwrap()
        .instance_id
        .unwrap();
    assert_eq!(w.sim.labs(&kept).unwrap().len(), 1);
    let outcome = w
        .fleet
        .delete_worker(other, false, WhenLabletsBound::GoAhead, Some("ops".into()))
        .await
        .unwrap();
    assert_eq!(
        outcome.labs_torn_down,
        vec![ready.status.cml_lab_id.unwrap().to_string()]
    );
    assert!(outcome.labs_left.is_empty());
    assert!(
        w.sim.labs(&kept).unwrap().is_empty(),
        "nothing left unmanaged"
    );
    w.run_for(60).await;
    let orphan = w.fleet.get_lablet(booked.id).await.unwrap();
    assert_eq!(orphan.status.phase, LabletPhase::Pending);
    assert_eq!(orphan.status.worker_id, None);
}

#[tokio::test]
async fn a_lablets_lab_is_deleted_or_wiped_only_when_forced_and_the_lablet_then_ends() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 10).await;
    w.run_for(5 * 60).await;
    let ready = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(ready.status.phase, LabletPhase::Ready);
    let lab = ready.status.cml_lab_id.clone().unwrap();
    let instance = w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .instance_id
        .unwrap();

    for action in [LabAction::Delete, LabAction::Wipe] {
        match w
            .fleet
            .lab_action(worker, &lab, action, WhenLabletsBound::Refuse, None)
            .await
            .unwrap_err()
        {
            ccm_core::CoreError::Domain(DomainError::LabInUse {
                lab: named,
                lablet: owner,
                ..
            }) => {
                assert_eq!(named, lab.to_string());
                assert_eq!(owner, lablet.id.to_string());
            }
            other => panic!("expected lab_in_use, got {other:?}"),
        }
    }
    assert_eq!(w.sim.labs(&instance).unwrap().len(), 1, "the lab is kept");
    assert_eq!(
        w.fleet.get_lablet(lablet.id).await.unwrap().status.phase,
        LabletPhase::Ready
    );

    w.fleet
        .lab_action(
            worker,
            &lab,
            LabAction::Delete,
            WhenLabletsBound::GoAhead,
            Some("ops".into()),
        )
        .await
        .unwrap();
    assert!(w.sim.labs(&instance).unwrap().is_empty());
    let cancelled = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert!(cancelled.spec.cancel_requested);
    w.run_for(2 * 60).await;
    let ended = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert!(ended.status.phase.is_finished(), "{:?}", ended.status.phase);
    assert!(w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .status
        .capacity
        .allocations
        .is_empty());
}

/// Routers, a switch and a host: the switch and the external connector have no
/// console, and with two ports the second router goes without.
const CONSOLES: &str = "lab:\n  title: consoles\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: sw\n    node_definition: unmanaged_switch\n  - id: n2\n    label: host\n    node_definition: alpine\n    tags: [linux, 'serial:4001']\n  - id: n3\n    label: ext\n    node_definition: external_connector\n  - id: n4\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

#[tokio::test]
async fn a_running_lablet_lists_its_console_ports_and_its_lab_carries_them_as_tags() {
    use ccm_core::topology::pat::AccessProtocol;

    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w
        .fleet
        .create_definition(NewDefinition {
            name: "consoles".into(),
            topology_yaml: CONSOLES.into(),
            ..support::ccna(0)
        })
        .await
        .unwrap();
    let lablet = w.book(&definition, 10).await;
    w.run_for(15 * 60).await;
    let running = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(
        running.status.phase,
        LabletPhase::Running,
        "{:?}",
        running.status
    );
    let ports = running.status.ports.clone();
    assert_eq!(ports.len(), 2);

    // The access entries: the console nodes in topology order, the allocated
    // ports in order, on the worker's public address.
    let host_worker = w.fleet.get_worker(worker).await.unwrap();
    let public_ip = host_worker.network.public_ip.clone().unwrap();
    let access: Vec<(&str, &str, u16)> = running
        .status
        .access
        .iter()
        .map(|a| (a.node.as_str(), a.label.as_str(), a.port))
        .collect();
    assert_eq!(
        access,
        vec![("n0", "r1", ports[0]), ("n2", "host", ports[1])]
    );
    assert!(running
        .status
        .access
        .iter()
        .all(|a| a.protocol == AccessProtocol::Telnet && a.host == public_ip));

    // The lab on the simulated CML carries one `serial:<port>` tag on each of
    // those nodes, and none on the others; the author's fixed console tag is gone.
    let instance = host_worker.instance_id.clone().unwrap();
    let lab = running.status.cml_lab_id.clone().unwrap();
    let nodes = w.sim.lab_nodes(&instance, &lab).unwrap();
    let tags: Vec<(&str, Vec<&str>)> = nodes
        .iter()
        .map(|n| {
            (
                n.label.as_str(),
                n.tags.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let (first, second) = (
        format!("serial:{}", ports[0]),
        format!("serial:{}", ports[1]),
    );
    assert_eq!(
        tags,
        vec![
            ("r1", vec![first.as_str()]),
            ("sw", vec![]),
            ("host", vec!["linux", second.as_str()]),
            ("ext", vec![]),
            ("r2", vec![]),
        ]
    );

    // The event stream told it, with the import.
    let assigned: Vec<_> = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.payload {
            EventPayload::LabletAccessAssigned { access } => Some(access),
            _ => None,
        })
        .collect();
    assert_eq!(assigned, vec![running.status.access.clone()]);

    // When the lablet ends, the lab goes and the access with it.
    w.fleet
        .cancel_lablet(lablet.id, Some("ops".into()))
        .await
        .unwrap();
    w.run_for(60).await;
    let done = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(done.status.phase, LabletPhase::Terminated);
    assert!(done.status.access.is_empty());
}

/// The placement preview sees workers as the scheduler does: a worker booting
/// again after it was observed counts as it will be, so the preview places on
/// it (reading it as it is now would refuse it: not running) and the scheduler
/// then binds there.
#[tokio::test]
async fn the_preview_places_where_the_scheduler_then_binds() {
    let w = world(FleetSettings::default()).await;
    let id = w.worker("restarted").await;
    run_until_worker(&w, id, 1800, |x| {
        x.status.lifecycle == LifecycleState::Running && x.status.metrics.cml.observed_at.is_some()
    })
    .await;
    w.fleet
        .stop_worker(id, WhenLabletsBound::Refuse)
        .await
        .unwrap();
    run_until_worker(&w, id, 900, |x| {
        x.status.lifecycle == LifecycleState::Stopped
    })
    .await;
    w.fleet.start_worker(id).await.unwrap();
    let definition = w.definition(0).await;
    let booting = w.fleet.get_worker(id).await.unwrap();
    assert!(!booting.can_host_labs(), "{:?}", booting.status.lifecycle);

    let preview = w
        .fleet
        .preview_placement(definition.id, 1, None)
        .await
        .unwrap();
    let placed_on: Vec<WorkerId> = preview.plan.assignments.iter().map(|a| a.worker).collect();
    assert_eq!(placed_on, vec![id], "{:?}", preview.plan.unplaced);
    assert_eq!(preview.name(&id), "restarted");

    let lablet = w.book(&definition, 5).await;
    w.run_for(10 * 60).await;
    let bound = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(bound.status.worker_id, Some(id), "{:?}", bound.status);

    // A count out of bounds is refused before anything is read.
    for count in [0, ccm_core::fleet::MAX_PREVIEW_LABLETS + 1] {
        let refused = w.fleet.preview_placement(definition.id, count, None).await;
        assert!(
            matches!(refused, Err(ref e) if e.to_string().contains("count")),
            "{refused:?}"
        );
    }
}

/// A lab operation on a worker asked to stop is refused at once, before the
/// sweep has seen the instance go: the record may still say running while the
/// instance (and its CML) is already gone.
#[tokio::test]
async fn lab_operations_wait_for_a_worker_that_is_to_keep_running() {
    let w = world(FleetSettings::default()).await;
    let id = w.worker("going").await;
    run_until_worker(&w, id, 1800, |x| x.can_host_labs()).await;
    let lab = ccm_core::ids::CmlLabId::new("no-such-lab".to_owned());
    // A running worker's CML is asked (tearing down a lab it lacks is a no-op).
    let before = w
        .fleet
        .lab_action(id, &lab, LabAction::Delete, WhenLabletsBound::Refuse, None)
        .await;
    assert!(before.is_ok(), "{before:?}");
    w.fleet
        .stop_worker(id, WhenLabletsBound::Refuse)
        .await
        .unwrap();
    let stopping = w.fleet.get_worker(id).await.unwrap();
    assert!(stopping.can_host_labs(), "the record still says running");
    for refused in [
        w.fleet
            .lab_action(id, &lab, LabAction::Delete, WhenLabletsBound::Refuse, None)
            .await
            .map(|_| ()),
        w.fleet.download_lab(id, &lab).await.map(|_| ()),
    ] {
        let error = refused.unwrap_err();
        assert!(
            matches!(
                error,
                ccm_core::CoreError::Domain(DomainError::Validation { .. })
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("taken down"), "{error}");
    }
}

/// A class's two workers boot when a booking made after the first launch is
/// cancelled again: the worker that is up first must not be drained while its
/// CML is still coming up (nothing can be bound to it yet, so it only looks
/// empty), or the class waits for the later one and starts late.
#[tokio::test]
async fn a_worker_still_bringing_cml_up_is_not_drained_in_favour_of_a_later_one() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    let w = world(settings).await;
    let definition = w.definition(0).await;
    let start = plus_seconds(w.clock.now(), 34 * 60);
    let book = |owner: String| {
        let fleet = &w.fleet;
        let definition = definition.id;
        async move {
            fleet
                .create_lablet(
                    definition,
                    NewLablet {
                        owner,
                        timeslot: Timeslot {
                            start,
                            end: plus_seconds(start, 3600),
                        },
                        reservation_id: None,
                        on_demand: false,
                    },
                )
                .await
                .unwrap()
        }
    };
    // Twelve lablets fill one metal worker's 48 vCPU.
    let mut class = Vec::new();
    for student in 0..12 {
        class.push(book(format!("student{student}")).await);
    }
    w.run_for(150).await;
    let late_comer = book("late-comer".into()).await;
    w.run_for(90).await;
    let workers = w.store.list_workers(&Default::default()).await.unwrap();
    assert_eq!(workers.len(), 2, "one worker per booking wave");
    let first_up = workers
        .iter()
        .min_by_key(|x| x.status.launched_at)
        .map(|x| x.id)
        .unwrap();
    w.fleet.cancel_lablet(late_comer.id, None).await.unwrap();

    let until_start = ccm_core::time::seconds_between(w.clock.now(), start) - 30;
    w.run_for(until_start).await;
    for lablet in &class {
        let lablet = w.fleet.get_lablet(lablet.id).await.unwrap();
        assert_eq!(
            lablet.status.phase,
            LabletPhase::Ready,
            "{} not ready 30 s before its start: {:?}",
            lablet.id,
            lablet.status
        );
        assert_eq!(
            lablet.status.worker_id,
            Some(first_up),
            "the class waited for the later worker"
        );
    }
}
