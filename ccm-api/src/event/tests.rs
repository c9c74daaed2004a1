use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ccm_core::event::{EventPayload, FieldChange as CoreFieldChange, ScalingAction as Core};
use ccm_core::ids::{CmlLabId, InstanceId, WorkerId};
use ccm_core::lab::{LabOperation, LabState};
use ccm_core::lablet::LabletPhase;
use ccm_core::testing::store::{at, sample_definition, sample_lab, sample_lablet, sample_worker};
use ccm_core::worker::{ActivityEvent, AlertMetric, Allocation, PauseReason, ResumeReason};
use serde_json::{json, Value};
use utoipa::PartialSchema;

use super::data::samples;
use super::*;

/// One payload of every domain event type, every optional part filled in.
fn every_payload() -> Vec<EventPayload> {
    let mut worker = sample_worker(1, "cml-eu-1", "eu-west-1");
    worker.status.activity.recent.push_back(ActivityEvent {
        at: at(30),
        source: "cml".into(),
        detail: "alice opened n0's console".into(),
    });
    worker.status.catalog = Some(Arc::new(ccm_core::catalog::NodeCatalog {
        node_definitions: BTreeSet::from(["iosv".to_owned()]),
        image_definitions: BTreeMap::from([("iosv-159-3".to_owned(), "iosv".to_owned())]),
        cml_version: Some("2.8.1".into()),
        synced_at: Some(at(40)),
        truncated: true,
    }));
    let definition = sample_definition(2, "ccna-basics", 1);
    let mut lablet = sample_lablet(3, &definition, "alice", 600);
    lablet.status.ports = vec![5000];
    let lab = sample_lab(4, worker.id, "ccna");
    let cml_lab = CmlLabId::new("cml-4".to_owned());
    let operation = LabOperation {
        at: at(50),
        action: "started".into(),
        actor: Some("alice".into()),
    };
    let activity = ActivityEvent {
        at: at(60),
        source: "telemetry".into(),
        detail: "node n1 started".into(),
    };
    let status = worker.status.clone();
    let request = ccm_core::worker::NewWorker {
        name: "cml-eu-1".into(),
        region: ccm_core::ids::Region::new("eu-west-1"),
        instance_type: "m5zn.metal".into(),
        capacity: worker.status.capacity.clone(),
        tags: BTreeMap::from([("team".to_owned(), "netops".to_owned())]),
        labels: BTreeMap::from([("pool".to_owned(), "a".to_owned())]),
        idle: worker.spec.idle,
        created_by: Some("alice".into()),
        image: Some("cml-2.9".into()),
    };
    vec![
        EventPayload::WorkerCreatedV2 {
            request: request.clone(),
        },
        EventPayload::WorkerImportedV2 {
            request,
            instance: ccm_core::worker::aggregate::ImportedInstance {
                instance_id: InstanceId::new("i-0abc".to_owned()),
                ami: worker.ami.clone(),
                network: worker.network.clone(),
                ec2_state: ccm_core::ports::cloud::InstanceState::Stopped,
                launched_at: Some(at(5)),
            },
        },
        EventPayload::LabletCreatedV2 {
            name: "ccna-alice".into(),
            definition_id: lablet.spec.definition_id,
            request: ccm_core::lablet::NewLablet {
                owner: "alice".into(),
                timeslot: lablet.spec.timeslot,
                reservation_id: Some("r-1".into()),
                on_demand: false,
            },
        },
        EventPayload::WorkerCreated {
            worker: Box::new(worker.clone()),
        },
        EventPayload::WorkerImported {
            worker: Box::new(worker.clone()),
        },
        EventPayload::WorkerSpecUpdated {
            spec: worker.spec.clone(),
        },
        EventPayload::WorkerStatusUpdated {
            from: status.lifecycle,
            to: ccm_core::worker::LifecycleState::Running,
            ec2_state: Some(ccm_core::ports::cloud::InstanceState::Running),
            reason: Some("instance running".into()),
        },
        EventPayload::WorkerInstanceAssigned {
            instance_id: InstanceId::new("i-0abc1234def567890".to_owned()),
            ami: worker.ami.clone(),
            network: ccm_core::worker::Network {
                endpoint: Some("https://10.0.0.5".into()),
                public_ip: Some("203.0.113.5".into()),
                private_ip: Some("10.0.0.5".into()),
            },
            launched_at: Some(at(5)),
        },
        EventPayload::WorkerNetworkUpdated {
            network: worker.network.clone(),
        },
        EventPayload::WorkerCmlUpdated {
            cml: status.cml.clone(),
        },
        EventPayload::WorkerCmlCertificateChanged {
            expected: "ab".repeat(32),
            presented: "cd".repeat(32),
        },
        EventPayload::WorkerCmlCertificateAccepted {
            sha256: "cd".repeat(32),
            by: Some("admin".into()),
        },
        EventPayload::WorkerLicenceUpdated {
            licence: status.licence.clone(),
        },
        EventPayload::WorkerMetricsUpdated {
            metrics: Box::new(status.metrics.clone()),
        },
        EventPayload::WorkerTagsUpdated {
            tags: BTreeMap::from([("team".to_owned(), "netops".to_owned())]),
        },
        EventPayload::WorkerActivityRecorded {
            activity: activity.clone(),
        },
        EventPayload::WorkerPaused {
            reason: PauseReason::IdleTimeout,
        },
        EventPayload::WorkerResumed {
            reason: ResumeReason::ScaleUp,
            snooze_until: at(900),
        },
        EventPayload::WorkerMonitoringEnabled {},
        EventPayload::WorkerCatalogSynced {
            catalog: Box::new(status.catalog.as_deref().cloned().unwrap_or_default()),
        },
        EventPayload::WorkerAlertRaised {
            metric: AlertMetric::Memory,
            value: 91.5,
            threshold: 90.0,
        },
        EventPayload::WorkerAlertCleared {
            metric: AlertMetric::Cpu,
            value: 12.25,
        },
        EventPayload::WorkerTelemetryRead {
            high_water: at(70),
            activity: vec![activity],
        },
        EventPayload::WorkerLicenceRegistrationStarted {},
        EventPayload::WorkerLicenceRegistrationCompleted {
            licence: status.licence.clone(),
        },
        EventPayload::WorkerLicenceRegistrationFailed {
            error: "smart licensing unreachable".into(),
        },
        EventPayload::WorkerLicenceDeregistered {},
        EventPayload::WorkerCapacityAllocated {
            lablet: lablet.id,
            allocation: Allocation {
                resources: definition.needs.resources,
                nodes: 4,
                ports: vec![5000, 5001],
            },
        },
        EventPayload::WorkerUnmanagedUsageObserved {
            usage: ccm_core::worker::UnmanagedUsage {
                resources: ccm_core::resources::Resources::new(2, 4, 10),
                nodes: 3,
                labs: 1,
            },
        },
        EventPayload::WorkerCapacityReleased { lablet: lablet.id },
        EventPayload::WorkerTerminationRequested {
            by: Some("admin".into()),
        },
        EventPayload::WorkerDeletionRequested { by: None },
        EventPayload::LabDiscoveredV2 {
            worker_id: worker.id,
            cml_lab_id: lab.cml_lab_id.clone(),
            title: lab.title.clone(),
            description: "ospf practice".into(),
            owner: Some("alice".into()),
            state: LabState::Started,
            node_count: 4,
            link_count: 3,
        },
        EventPayload::LabDiscovered {
            lab: Box::new(lab.clone()),
        },
        EventPayload::LabStateChanged {
            worker_id: worker.id,
            cml_lab_id: cml_lab.clone(),
            from: LabState::Stopped,
            to: LabState::Started,
            operation: operation.clone(),
        },
        EventPayload::LabUpdated {
            worker_id: worker.id,
            cml_lab_id: cml_lab.clone(),
            changes: vec![CoreFieldChange {
                field: "title".into(),
                from: "ccna".into(),
                to: "ccna (week 2)".into(),
            }],
        },
        EventPayload::LabOperationRecorded {
            worker_id: worker.id,
            cml_lab_id: cml_lab.clone(),
            operation,
        },
        EventPayload::LabGone {
            worker_id: worker.id,
            cml_lab_id: cml_lab.clone(),
        },
        EventPayload::DefinitionCreated {
            definition: Box::new(definition.clone()),
        },
        EventPayload::DefinitionActivationChanged { active: false },
        EventPayload::LabletCreated {
            lablet: Box::new(lablet.clone()),
        },
        EventPayload::LabletPhaseChanged {
            from: LabletPhase::Pending,
            to: LabletPhase::Scheduled,
            reason: Some("placed".into()),
        },
        EventPayload::LabletBound {
            worker_id: worker.id,
            ports: vec![5000, 5001],
        },
        EventPayload::LabletUnbound {
            reason: "worker lost".into(),
        },
        EventPayload::LabletLabAssigned {
            cml_lab_id: cml_lab,
        },
        EventPayload::LabletAccessAssigned {
            access: vec![ccm_core::lablet::LabletAccess {
                node: "n0".into(),
                label: "r1".into(),
                protocol: ccm_core::topology::pat::AccessProtocol::Telnet,
                host: "203.0.113.5".into(),
                port: 5000,
            }],
        },
        EventPayload::LabletCancelRequested {
            by: Some("alice".into()),
        },
        EventPayload::LabletExtended {
            from: ccm_core::time::from_unix_seconds(1_780_000_000),
            to: ccm_core::time::from_unix_seconds(1_780_001_800),
            by: Some("alice".into()),
        },
        EventPayload::LabletRescheduled {
            from: ccm_core::lablet::Timeslot {
                start: ccm_core::time::from_unix_seconds(1_780_000_000),
                end: ccm_core::time::from_unix_seconds(1_780_003_600),
            },
            to: ccm_core::lablet::Timeslot {
                start: ccm_core::time::from_unix_seconds(1_780_000_600),
                end: ccm_core::time::from_unix_seconds(1_780_004_200),
            },
            reason: "not ready by the estimate".into(),
        },
        EventPayload::LabletDeletionRequested { by: None },
        EventPayload::LabletLabReleased {},
        EventPayload::LabletAttemptFailed {
            attempt: 2,
            error: "CML timed out".into(),
        },
        EventPayload::FleetScalingDecided {
            action: Core::Launch,
            workers: vec![WorkerId::from_u128(9), WorkerId::from_u128(10)],
            reason: "3 lablets unplaced".into(),
        },
    ]
}

/// The `type` names the schema of [`EventData`] lists.
fn schema_types() -> BTreeSet<String> {
    let schema = serde_json::to_value(EventData::schema()).unwrap();
    let variants = schema["oneOf"].as_array().expect("oneOf");
    variants
        .iter()
        .map(|v| {
            let names = v["properties"]["type"]["enum"]
                .as_array()
                .expect("type enum");
            assert_eq!(names.len(), 1, "{v}");
            assert!(v["properties"].get("data").is_some(), "no data schema: {v}");
            names[0].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn every_event_type_reads_and_writes_the_same_json_through_the_wire_type() {
    let payloads = every_payload();
    let names: BTreeSet<&str> = payloads.iter().map(EventPayload::type_name).collect();
    assert_eq!(names.len(), payloads.len(), "one payload per type");
    for (n, payload) in payloads.into_iter().enumerate() {
        let stored = samples::stored(n as u64 + 1, payload);
        let domain = serde_json::to_value(&stored).unwrap();
        let wire = Event::from(&stored);
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            domain,
            "{}",
            stored.event.type_name()
        );
        // What the log holds reads back as the same wire event.
        let read: Event = serde_json::from_value(domain).unwrap();
        assert_eq!(read, wire);
    }
}

#[test]
fn the_schema_shows_every_event_type_with_its_data() {
    let built: BTreeSet<String> = every_payload()
        .iter()
        .map(|p| p.type_name().to_owned())
        .collect();
    assert_eq!(schema_types(), built);
}

#[test]
fn every_kind_and_scaling_action_keeps_its_name() {
    use ccm_core::event::ResourceKind as K;
    for kind in [
        K::Worker,
        K::Lab,
        K::Definition,
        K::Lablet,
        K::Job,
        K::Fleet,
    ] {
        assert_eq!(
            serde_json::to_value(ResourceKind::from(kind)).unwrap(),
            json!(kind.as_str())
        );
    }
    for action in [
        Core::Start,
        Core::Launch,
        Core::Drain,
        Core::Stop,
        Core::Blocked,
    ] {
        assert_eq!(
            serde_json::to_value(ScalingAction::from(action)).unwrap(),
            serde_json::to_value(action).unwrap()
        );
    }
}

#[test]
fn the_history_is_what_the_handler_wrote() {
    let stored: Vec<_> = every_payload()
        .into_iter()
        .take(3)
        .enumerate()
        .map(|(n, p)| samples::stored(n as u64 + 1, p))
        .collect();
    let before = json!({"events": stored, "next_after": 3, "end": false});
    let wire = EventHistory {
        events: stored.iter().map(Event::from).collect(),
        next_after: 3,
        end: false,
    };
    assert_eq!(serde_json::to_value(wire).unwrap(), before);
    let example: Value = serde_json::to_value(EventHistory::example()).unwrap();
    assert_eq!(example["events"][0]["type"], "lablet.phase.changed.v1");
}

#[test]
fn the_queries_read_as_before() {
    let q: EventHistoryQuery =
        serde_json::from_value(json!({"after": 5, "type": "worker.*", "worker": "a,b"})).unwrap();
    assert_eq!((q.after, q.types.as_deref()), (5, Some("worker.*")));
    assert_eq!(
        serde_json::from_value::<EventHistoryQuery>(json!({}))
            .unwrap()
            .after,
        0
    );
    assert!(serde_json::from_value::<EventHistoryQuery>(json!({"types": "x"})).is_err());
    let q: EventStreamQuery =
        serde_json::from_value(json!({"last_event_id": 9, "type": "lablet.*"})).unwrap();
    assert_eq!(
        (q.last_event_id, q.types.as_deref()),
        (Some(9), Some("lablet.*"))
    );
    assert!(serde_json::from_value::<EventStreamQuery>(json!({"after": 1})).is_err());
}

#[test]
#[ignore = "prints the schema of EventData for a person to read"]
fn print_the_event_schema() {
    let schema = serde_json::to_string_pretty(&EventData::schema()).unwrap();
    println!("{schema}");
}

fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                found.insert(r.trim_start_matches("#/components/schemas/").to_owned());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn every_schema_the_history_refers_to_comes_with_it() {
    use utoipa::ToSchema;
    let mut schemas = vec![(EventHistory::name().into_owned(), EventHistory::schema())];
    EventHistory::schemas(&mut schemas);
    let names: BTreeSet<String> = schemas.iter().map(|(n, _)| n.clone()).collect();
    let mut wanted = BTreeSet::new();
    for (_, schema) in &schemas {
        refs(&serde_json::to_value(schema).unwrap(), &mut wanted);
    }
    let missing: Vec<_> = wanted.difference(&names).collect();
    assert!(
        missing.is_empty(),
        "referred to but not registered: {missing:?}"
    );
    let empty = schemas.iter().find(|(n, _)| n == "EmptyEventData").unwrap();
    assert_eq!(
        serde_json::to_value(&empty.1).unwrap()["additionalProperties"],
        json!(false)
    );
}

#[test]
fn every_type_name_comes_from_the_domain_list() {
    let payloads = every_payload();
    let built: BTreeSet<&str> = payloads.iter().map(EventPayload::type_name).collect();
    let listed: BTreeSet<&str> = ccm_core::event::EVENT_TYPE_NAMES.iter().copied().collect();
    assert_eq!(
        listed.len(),
        ccm_core::event::EVENT_TYPE_NAMES.len(),
        "names repeat"
    );
    assert_eq!(built, listed, "every_payload() misses a type");
    for payload in &payloads {
        assert_eq!(EventData::from(payload).type_name(), payload.type_name());
    }
}

#[test]
fn the_event_schema_maps_every_type_to_its_own_object() {
    use utoipa::ToSchema;
    let schema = serde_json::to_value(<Event as PartialSchema>::schema()).unwrap();
    let mapping = schema["discriminator"]["mapping"].as_object().unwrap();
    let mapped: BTreeSet<&str> = mapping.keys().map(String::as_str).collect();
    let listed: BTreeSet<&str> = ccm_core::event::EVENT_TYPE_NAMES.iter().copied().collect();
    assert_eq!(mapped, listed);
    assert_eq!(schema["oneOf"].as_array().unwrap().len(), listed.len());
    let mut schemas = Vec::new();
    Event::schemas(&mut schemas);
    let by_name: BTreeMap<String, Value> = schemas
        .into_iter()
        .map(|(n, s)| (n, serde_json::to_value(s).unwrap()))
        .collect();
    let created = &by_name["WorkerCreatedEvent"];
    assert_eq!(
        created["properties"]["type"]["enum"],
        json!(["worker.created.v1"])
    );
    assert_eq!(
        created["properties"]["data"]["$ref"],
        "#/components/schemas/WorkerCreated"
    );
    for member in ["sequence", "id", "occurred_at", "subject", "type", "data"] {
        assert!(
            created["required"]
                .as_array()
                .unwrap()
                .contains(&json!(member)),
            "{member} is not required: {created}"
        );
    }
    assert_eq!(
        by_name["WorkerMonitoringEnabledEvent"]["properties"]["data"]["$ref"],
        "#/components/schemas/EmptyEventData"
    );
}
