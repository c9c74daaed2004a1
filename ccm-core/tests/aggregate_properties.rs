//! Random command sequences on workers and lablets: states never leave the
//! transition tables, refused commands change nothing, capacity is never
//! over-committed, and replaying the emitted events rebuilds the same state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use ccm_core::ids::{CmlLabId, DefinitionId, InstanceId, LabletId, Region, WorkerId};
use ccm_core::lablet::{Lablet, LabletAccess, LabletPhase, NewLablet, Timeslot};
use ccm_core::replay::EventSourced;
use ccm_core::resources::{PortRange, Resources};
use ccm_core::state_machine::StateMachine;
use ccm_core::time::{epoch, plus_seconds, Timestamp};
use ccm_core::topology::pat::AccessProtocol;
use ccm_core::version::SemVer;
use ccm_core::worker::{
    ActivityEvent, Allocation, Capacity, CmlService, CmlServiceState, IdleSettings, LifecycleState,
    NewWorker, PauseReason, ResumeReason, Worker,
};
use ccm_core::DomainError;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum WorkerCmd {
    Start,
    Stop(PauseReason),
    Terminate,
    Idle(bool),
    Drain(bool),
    Observe(LifecycleState),
    Cml(CmlServiceState),
    Tag(u8),
    Activity,
    Allocate {
        lablet: u8,
        cpus: u8,
        mem: u8,
        nodes: u8,
        ports: Vec<u16>,
    },
    Release(u8),
    Assign(u8),
    Delete,
}

fn lifecycle() -> impl Strategy<Value = LifecycleState> {
    proptest::sample::select(LifecycleState::all().to_vec())
}

fn worker_cmd() -> impl Strategy<Value = WorkerCmd> {
    prop_oneof![
        Just(WorkerCmd::Start),
        prop_oneof![Just(PauseReason::IdleTimeout), Just(PauseReason::Manual)]
            .prop_map(WorkerCmd::Stop),
        Just(WorkerCmd::Terminate),
        any::<bool>().prop_map(WorkerCmd::Idle),
        any::<bool>().prop_map(WorkerCmd::Drain),
        lifecycle().prop_map(WorkerCmd::Observe),
        lifecycle().prop_map(WorkerCmd::Observe),
        lifecycle().prop_map(WorkerCmd::Observe),
        prop_oneof![
            Just(CmlServiceState::Available),
            Just(CmlServiceState::Starting),
            Just(CmlServiceState::Unavailable)
        ]
        .prop_map(WorkerCmd::Cml),
        any::<u8>().prop_map(WorkerCmd::Tag),
        Just(WorkerCmd::Activity),
        (
            0u8..6,
            0u8..20,
            0u8..80,
            0u8..8,
            proptest::collection::vec(2000u16..2012, 0..4)
        )
            .prop_map(|(lablet, cpus, mem, nodes, ports)| WorkerCmd::Allocate {
                lablet,
                cpus,
                mem,
                nodes,
                ports
            }),
        (0u8..6).prop_map(WorkerCmd::Release),
        (0u8..3).prop_map(WorkerCmd::Assign),
        Just(WorkerCmd::Delete),
    ]
}

fn new_worker() -> (Worker, DomainEvent) {
    let mut capacity = Capacity::new(Resources::new(48, 192, 1000), 40);
    capacity.port_range = PortRange {
        first: 2000,
        last: 2009,
    };
    Worker::create(
        WorkerId::from_u128(1),
        NewWorker {
            name: "w1".into(),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            capacity,
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: IdleSettings::default(),
            created_by: Some("admin".into()),
            image: None,
        },
        epoch(),
    )
}

fn run_worker_cmd(
    w: &mut Worker,
    cmd: &WorkerCmd,
    now: Timestamp,
) -> Result<Vec<DomainEvent>, DomainError> {
    match cmd.clone() {
        WorkerCmd::Start => w.request_start(ResumeReason::Manual, now),
        WorkerCmd::Stop(reason) => w.request_stop(reason, now),
        WorkerCmd::Terminate => w.request_terminate(Some("ops".into()), now),
        WorkerCmd::Idle(on) => w.set_idle_detection(on, now),
        WorkerCmd::Drain(on) => w.set_draining(on, now),
        WorkerCmd::Observe(state) => w.observe_lifecycle(
            state,
            Some(ccm_core::ports::cloud::InstanceState::from_name(
                state.as_str(),
            )),
            None,
            now,
        ),
        WorkerCmd::Cml(state) => w.observe_cml(
            CmlService {
                state,
                ..CmlService::default()
            },
            now,
        ),
        WorkerCmd::Tag(n) => {
            let mut tags = BTreeMap::new();
            tags.insert("n".to_owned(), (n % 3).to_string());
            w.replace_tags(tags, now)
        }
        WorkerCmd::Activity => w.record_activity(
            ActivityEvent {
                at: now,
                source: "telemetry:start_lab".into(),
                detail: String::new(),
            },
            now,
        ),
        WorkerCmd::Allocate {
            lablet,
            cpus,
            mem,
            nodes,
            ports,
        } => w.allocate(
            LabletId::from_u128(u128::from(lablet) + 100),
            Allocation {
                resources: Resources::new(u64::from(cpus), u64::from(mem), 10),
                nodes: u32::from(nodes),
                ports,
            },
            now,
        ),
        WorkerCmd::Release(lablet) => w.release(LabletId::from_u128(u128::from(lablet) + 100), now),
        WorkerCmd::Assign(n) => w.assign_instance(
            InstanceId::new(format!("i-{n}")),
            None,
            Default::default(),
            Some(now),
            now,
        ),
        WorkerCmd::Delete => w.request_deletion(Some("ops".into()), now),
    }
}

fn assert_json_round_trip(event: &DomainEvent) {
    let json = serde_json::to_value(event).unwrap();
    assert_eq!(
        json["type"],
        event.type_name(),
        "JSON type must be the versioned name"
    );
    let back: DomainEvent = serde_json::from_value(json).unwrap();
    assert_eq!(&back, event);
}

fn assert_capacity_sound(worker: &Worker) {
    let cap = &worker.status.capacity;
    assert!(cap.allocated().fits_within(&cap.declared), "over-committed");
    let ports = cap.allocated_ports();
    let mut unique = ports.clone();
    unique.dedup();
    assert_eq!(ports.len(), unique.len(), "a port was given twice");
    assert!(ports.iter().all(|p| cap.port_range.contains(*p)));
    let node_cap = cap
        .node_slots
        .min(worker.status.licence.effective_node_limit());
    assert!(cap.allocated_nodes() <= node_cap);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn worker_commands_respect_tables_and_replay(
        cmds in proptest::collection::vec(worker_cmd(), 1..60)
    ) {
        let (mut worker, created) = new_worker();
        let mut log = vec![created];
        for (step, cmd) in cmds.iter().enumerate() {
            let now = plus_seconds(epoch(), (step as i64 + 1) * 60);
            let before = worker.clone();
            match run_worker_cmd(&mut worker, cmd, now) {
                Ok(events) => {
                    prop_assert!(before
                        .status
                        .lifecycle
                        .check_transition(worker.status.lifecycle)
                        .is_ok());
                    for e in &events {
                        assert_json_round_trip(e);
                    }
                    log.extend(events);
                }
                Err(_) => prop_assert_eq!(&worker, &before, "a refused command changed the worker"),
            }
            assert_capacity_sound(&worker);
            let a = &worker.status.activity;
            prop_assert!(a.pause_count == a.resume_count || a.pause_count == a.resume_count + 1);
        }
        let replayed = Worker::from_events(&log).unwrap();
        prop_assert_eq!(replayed, worker);
    }
}

#[derive(Clone, Debug)]
enum LabletCmd {
    Bind(u8),
    Unbind,
    Transition(LabletPhase),
    AssignLab(u8),
    AssignAccess(u16),
    ReleaseLab,
    Fail,
    Cancel,
}

fn lablet_cmd() -> impl Strategy<Value = LabletCmd> {
    let phase = proptest::sample::select(LabletPhase::all().to_vec());
    prop_oneof![
        (0u8..3).prop_map(LabletCmd::Bind),
        Just(LabletCmd::Unbind),
        phase.clone().prop_map(LabletCmd::Transition),
        phase.prop_map(LabletCmd::Transition),
        (0u8..3).prop_map(LabletCmd::AssignLab),
        (2000u16..2003).prop_map(LabletCmd::AssignAccess),
        Just(LabletCmd::ReleaseLab),
        Just(LabletCmd::Fail),
        Just(LabletCmd::Cancel),
    ]
}

fn definition() -> LabletDefinition {
    LabletDefinition::new(
        DefinitionId::from_u128(9),
        NewDefinition {
            name: "ccna".into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: "nodes: []".into(),
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 4,
                ports: 2,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 120,
            warm_pool_depth: 0,
        },
        epoch(),
    )
    .unwrap()
}

fn booking(start: i64, end: i64) -> NewLablet {
    NewLablet {
        owner: "student".into(),
        timeslot: Timeslot {
            start: plus_seconds(epoch(), start),
            end: plus_seconds(epoch(), end),
        },
        reservation_id: None,
        on_demand: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lablet_commands_respect_tables_and_replay(
        cmds in proptest::collection::vec(lablet_cmd(), 1..60)
    ) {
        let (mut lablet, created) =
            Lablet::create(LabletId::from_u128(5), &definition(), booking(3600, 7200), epoch())
                .unwrap();
        let mut log = vec![created];
        for (step, cmd) in cmds.iter().enumerate() {
            let now = plus_seconds(epoch(), step as i64 * 30);
            let before = lablet.clone();
            let result = match cmd.clone() {
                LabletCmd::Bind(w) => {
                    lablet.bind(WorkerId::from_u128(u128::from(w)), vec![2000, 2001], now)
                }
                LabletCmd::Unbind => lablet.unbind("worker lost".into(), now),
                LabletCmd::Transition(p) => lablet.transition(p, None, now),
                LabletCmd::AssignLab(n) => {
                    lablet.assign_lab(CmlLabId::new(format!("lab-{n}")), now)
                }
                LabletCmd::AssignAccess(port) => lablet.assign_access(
                    vec![LabletAccess {
                        node: "n0".into(),
                        label: "r1".into(),
                        protocol: AccessProtocol::Telnet,
                        host: "203.0.113.7".into(),
                        port,
                    }],
                    now,
                ),
                LabletCmd::ReleaseLab => lablet.release_lab(now),
                LabletCmd::Fail => lablet.record_failure("boom".into(), now),
                LabletCmd::Cancel => lablet.cancel(Some("ops".into()), now),
            };
            match result {
                Ok(events) => {
                    prop_assert!(before
                        .status
                        .phase
                        .check_transition(lablet.status.phase)
                        .is_ok());
                    // Releasing the lab or the binding takes the access with it.
                    if !events.is_empty() && matches!(cmd, LabletCmd::ReleaseLab | LabletCmd::Unbind) {
                        prop_assert!(lablet.status.access.is_empty(), "access outlived its lab");
                    }
                    for e in &events {
                        assert_json_round_trip(e);
                    }
                    log.extend(events);
                }
                Err(_) => prop_assert_eq!(&lablet, &before, "a refused command changed the lablet"),
            }
            if lablet.status.phase == LabletPhase::Scheduled {
                prop_assert!(lablet.status.worker_id.is_some(), "scheduled without a worker");
            }
            if lablet.status.phase == LabletPhase::Terminated {
                prop_assert!(lablet.meta.finalizers.is_empty());
                prop_assert!(lablet.status.ports.is_empty());
                prop_assert!(lablet.status.access.is_empty());
            }
            if lablet.status.phase.is_finished() && matches!(cmd, LabletCmd::AssignAccess(_)) {
                prop_assert!(lablet.status.access == before.status.access, "access given to a finished lablet");
            }

        }
        let replayed = Lablet::from_events(&log).unwrap();
        prop_assert_eq!(replayed, lablet);
    }
}

#[test]
fn replay_rejects_a_log_that_does_not_start_with_creation() {
    let (mut w, _) = new_worker();
    let events = w.request_stop(PauseReason::Manual, epoch()).unwrap();
    assert!(Worker::from_events(&events).is_err());
    assert!(Worker::from_events(&[]).is_err());
}

#[test]
fn replay_rejects_events_of_another_kind() {
    let (w, created) = new_worker();
    let foreign = DomainEvent::new(
        Subject {
            kind: ResourceKind::Lablet,
            id: w.id.to_string(),
        },
        EventPayload::LabletCancelRequested { by: None },
        epoch(),
    );
    assert!(Worker::from_events(&[created, foreign]).is_err());
}

#[test]
fn external_stop_is_told_apart_from_a_requested_one() {
    let (mut w, _) = new_worker();
    for s in [LifecycleState::Provisioning, LifecycleState::Running] {
        w.observe_lifecycle(s, None, None, epoch()).unwrap();
    }
    let events = w
        .observe_lifecycle(LifecycleState::Stopped, None, None, epoch())
        .unwrap();
    assert!(events.iter().any(|e| matches!(
        e.payload,
        EventPayload::WorkerPaused {
            reason: PauseReason::External
        }
    )));
    let t = plus_seconds(epoch(), 60);
    w.request_start(ResumeReason::Manual, t).unwrap();
    let events = w
        .observe_lifecycle(LifecycleState::Running, None, None, t)
        .unwrap();
    let resumed = events.iter().find_map(|e| match e.payload {
        EventPayload::WorkerResumed {
            reason,
            snooze_until,
        } => Some((reason, snooze_until)),
        _ => None,
    });
    assert_eq!(resumed, Some((ResumeReason::Manual, plus_seconds(t, 3600))));
    w.request_stop(PauseReason::IdleTimeout, t).unwrap();
    let events = w
        .observe_lifecycle(LifecycleState::Stopped, None, None, t)
        .unwrap();
    assert!(events.iter().any(|e| matches!(
        e.payload,
        EventPayload::WorkerPaused {
            reason: PauseReason::IdleTimeout
        }
    )));
    assert_eq!(w.status.activity.pause_count, 2);
    assert_eq!(
        w.status.activity.last_pause_reason,
        Some(PauseReason::IdleTimeout)
    );
}

#[test]
fn terminated_worker_refuses_new_desires_and_resurrection() {
    let (mut w, _) = new_worker();
    w.observe_lifecycle(LifecycleState::Terminated, None, None, epoch())
        .unwrap();
    let err = w.request_start(ResumeReason::Manual, epoch()).unwrap_err();
    assert_eq!(err.code(), "invalid_transition");
    let err = w
        .observe_lifecycle(LifecycleState::Running, None, None, epoch())
        .unwrap_err();
    assert_eq!(err.code(), "invalid_transition");
}

#[test]
fn allocation_refuses_each_exhausted_dimension() {
    let (mut w, _) = new_worker();
    let lablet = |n| LabletId::from_u128(n);
    let alloc = |cpus, mem, nodes, ports: Vec<u16>| Allocation {
        resources: Resources::new(cpus, mem, 10),
        nodes,
        ports,
    };
    let dimension = |err: DomainError| match err {
        DomainError::CapacityExceeded { dimension, .. } => dimension,
        other => panic!("unexpected {other}"),
    };
    assert_eq!(
        dimension(
            w.allocate(lablet(1), alloc(49, 1, 1, vec![]), epoch())
                .unwrap_err()
        ),
        "cpu"
    );
    assert_eq!(
        dimension(
            w.allocate(lablet(1), alloc(1, 193, 1, vec![]), epoch())
                .unwrap_err()
        ),
        "memory"
    );
    // Unlicensed CML runs five nodes however many slots the worker declares.
    assert_eq!(
        dimension(
            w.allocate(lablet(1), alloc(1, 1, 6, vec![]), epoch())
                .unwrap_err()
        ),
        "nodes"
    );
    w.allocate(lablet(1), alloc(1, 1, 1, vec![2000]), epoch())
        .unwrap();
    assert_eq!(
        dimension(
            w.allocate(lablet(2), alloc(1, 1, 1, vec![2000]), epoch())
                .unwrap_err()
        ),
        "ports"
    );
    assert_eq!(
        dimension(
            w.allocate(lablet(2), alloc(1, 1, 1, vec![1999]), epoch())
                .unwrap_err()
        ),
        "ports"
    );
}

#[test]
fn lablet_creation_validates_the_timeslot_against_the_definition() {
    let def = definition();
    let err = Lablet::create(LabletId::new(), &def, booking(0, 121 * 60), epoch()).unwrap_err();
    assert!(err.to_string().contains("maximum"), "{err}");
    assert!(Lablet::create(LabletId::new(), &def, booking(10, 0), epoch()).is_err());
    let mut inactive = def.clone();
    inactive.active = false;
    assert!(Lablet::create(LabletId::new(), &inactive, booking(0, 60), epoch()).is_err());
    let (lablet, _) = Lablet::create(LabletId::new(), &def, booking(0, 60), epoch()).unwrap();
    assert_eq!(
        lablet.meta.finalizers,
        vec![ccm_core::lablet::LAB_TEARDOWN_FINALIZER]
    );
}
