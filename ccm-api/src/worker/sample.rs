//! Domain workers to build examples from and to test the mapping with: one with
//! every optional part filled, one as freshly created.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use ccm_core::catalog::NodeCatalog;
use ccm_core::ids::{ImageId, InstanceId, LabletId, Region, WorkerId};
use ccm_core::meta::ObjectMeta;
use ccm_core::ports::cloud::InstanceState;
use ccm_core::resources::{PortRange, Resources};
use ccm_core::worker::{
    Activity, ActivityEvent, AlertMetric, Allocation, AmiInfo, Audit, BillingLedger, Capacity,
    CloudWatchMetrics, CmlCertificate, CmlService, CmlServiceState, CmlStats, DesiredStatus,
    Ec2StatusChecks, IdleSettings, LicenceFeature, LicenceKind, LicenceState, LicenceStatus,
    LifecycleState, Network, PauseReason, ResumeReason, Sourced, UnmanagedUsage, Worker,
    WorkerMetrics, WorkerSpec, WorkerStatus,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// A fixed instant the samples are built around (2026-03-02T09:30:00Z).
pub(crate) fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0)
        .single()
        .unwrap_or_default()
}

/// `at()` shifted by `minutes`.
pub(crate) fn at_plus(minutes: i64) -> DateTime<Utc> {
    at() + Duration::minutes(minutes)
}

fn sourced<T>(value: T) -> Sourced<T> {
    Sourced {
        value: Some(value),
        observed_at: Some(at_plus(-1)),
        error: Some("CloudWatch throttled the last call".into()),
    }
}

fn status() -> WorkerStatus {
    let mut allocations = BTreeMap::new();
    allocations.insert(
        LabletId::from_u128(0x0193_5c2e_7d40_7c1a_9f00_0000_0000_0002),
        Allocation {
            resources: Resources::new(4, 8, 20),
            nodes: 3,
            ports: vec![2000, 2001, 2002],
        },
    );
    let mut image_definitions = BTreeMap::new();
    image_definitions.insert("iosv-159-3".to_owned(), "iosv".to_owned());
    WorkerStatus {
        lifecycle: LifecycleState::Running,
        ec2_state: Some(InstanceState::Running),
        reason: Some("observed running".into()),
        cml: CmlService {
            state: CmlServiceState::Available,
            version: Some("2.9.1+build.7".into()),
            ready: true,
            healthy: Some(true),
            last_error: Some("timeout reading system_health".into()),
            certificate: CmlCertificate {
                pinned_sha256: Some("ab".repeat(32)),
                pending_sha256: Some("cd".repeat(32)),
            },
        },
        licence: LicenceStatus {
            state: LicenceState::Registered,
            kind: Some(LicenceKind::Enterprise),
            expires_at: Some(at_plus(60 * 24 * 300)),
            features: vec![LicenceFeature {
                id: "regid.2019-10.com.cisco.CML_NODE_COUNT".into(),
                name: "CML - Node License".into(),
                status: "IN_USE".into(),
                in_use: 3,
            }],
            node_limit: Some(100),
            registration_requested_at: Some(at_plus(-600)),
            last_error: Some("smart licensing: communication failed".into()),
        },
        metrics: WorkerMetrics {
            ec2: sourced(Ec2StatusChecks {
                instance_status: "ok".into(),
                system_status: "ok".into(),
            }),
            cloudwatch: sourced(CloudWatchMetrics {
                cpu_percent: Some(12.5),
                memory_percent: Some(40.25),
                disk_percent: Some(31.0),
            }),
            cml: sourced(CmlStats {
                cpu_percent: Some(13.5),
                memory_percent: Some(41.0),
                disk_percent: Some(30.5),
                allocated_cpus: Some(4),
                allocated_memory_kib: Some(8_388_608),
                running_nodes: Some(3),
                total_nodes: Some(5),
                labs_count: Some(2),
                version: Some("2.9.1+build.7".into()),
                ready: Some(true),
            }),
        },
        activity: Activity {
            last_activity_at: Some(at_plus(-5)),
            recent: VecDeque::from(vec![ActivityEvent {
                at: at_plus(-5),
                source: "telemetry:start_lab".into(),
                detail: "lab ospf-basics started".into(),
            }]),
            pause_count: 2,
            resume_count: 2,
            last_pause_reason: Some(PauseReason::IdleTimeout),
            last_paused_at: Some(at_plus(-180)),
            last_resume_reason: Some(ResumeReason::Manual),
            last_resumed_at: Some(at_plus(-60)),
            snooze_until: Some(at_plus(0)),
            telemetry_high_water: Some(at_plus(-5)),
        },
        capacity: Capacity {
            declared: Resources::new(46, 180, 900),
            node_slots: 100,
            port_range: PortRange {
                first: 2000,
                last: 2999,
            },
            allocations,
            unmanaged: UnmanagedUsage {
                resources: Resources::new(2, 4, 16),
                nodes: 1,
                labs: 1,
            },
        },
        launched_at: Some(at_plus(-60 * 24)),
        transitioned_at: Some(at_plus(-60)),
        terminated_at: Some(at_plus(60 * 24 * 365)),
        next_refresh_at: Some(at_plus(5)),
        detailed_monitoring: true,
        alerts: BTreeSet::from([AlertMetric::Cpu, AlertMetric::CmlCertificate]),
        billing: BillingLedger {
            billing_since: Some(at_plus(-60)),
            days: BTreeMap::from([
                (at_plus(-60 * 24).date_naive(), 7_200),
                (at().date_naive(), 3_600),
            ]),
        },
        catalog: Some(Arc::new(NodeCatalog {
            node_definitions: BTreeSet::from(["alpine".to_owned(), "iosv".to_owned()]),
            image_definitions,
            cml_version: Some("2.9.1".into()),
            synced_at: Some(at_plus(-30)),
            truncated: true,
        })),
    }
}

/// A running worker with every optional part filled.
pub(crate) fn worker() -> Worker {
    let mut meta = ObjectMeta::new("cml-eu-1", at_plus(-60 * 24 * 2));
    meta.labels.insert("pool".into(), "training".into());
    meta.version = 42;
    meta.generation = 3;
    meta.observed_generation = 3;
    meta.finalizers.push("ccm/instance".into());
    meta.deletion_timestamp = Some(at_plus(60 * 24 * 365));
    meta.updated_at = at_plus(-1);
    Worker {
        id: WorkerId::from_u128(0x0193_5c2e_7d40_7c1a_9f00_0000_0000_0001),
        meta,
        region: Region::new("eu-west-1"),
        instance_id: Some(InstanceId::new("i-0abc1234def567890")),
        instance_type: "m5zn.metal".into(),
        ami: Some(AmiInfo {
            id: ImageId::new("ami-0123456789abcdef0"),
            name: Some("cml-2.9.1".into()),
            description: Some("Cisco Modeling Labs 2.9.1".into()),
            created_at: Some(at_plus(-60 * 24 * 30)),
        }),
        network: Network {
            endpoint: Some("https://cml-eu-1.example.net".into()),
            public_ip: Some("203.0.113.10".into()),
            private_ip: Some("10.0.1.10".into()),
        },
        tags: BTreeMap::from([("team".to_owned(), "netops".to_owned())]),
        spec: WorkerSpec {
            desired_status: DesiredStatus::Running,
            idle: IdleSettings {
                enabled: true,
                timeout_minutes: 60,
                snooze_minutes: 30,
            },
            draining: true,
            stop_reason: Some(PauseReason::Manual),
            start_reason: Some(ResumeReason::ScaleUp),
            monitoring_interval_seconds: Some(300),
            cml_endpoint: Some("https://cml-eu-1.example.net".into()),
            image: Some("cml-2.9".into()),
        },
        status: status(),
        audit: Audit {
            created_by: Some("alice@example.com".into()),
            terminated_by: Some("bob@example.com".into()),
        },
    }
}

/// A worker as just created: no instance yet, nothing observed.
#[cfg(test)]
pub(crate) fn bare_worker() -> Worker {
    use ccm_core::worker::NewWorker;
    let input = NewWorker {
        name: "cml-new".into(),
        region: Region::new("eu-west-1"),
        instance_type: "m5zn.metal".into(),
        capacity: Capacity::new(Resources::new(46, 180, 900), 100),
        tags: BTreeMap::new(),
        labels: BTreeMap::new(),
        idle: IdleSettings::default(),
        created_by: None,
        image: None,
    };
    Worker::create(
        WorkerId::from_u128(0x0193_5c2e_7d40_7c1a_9f00_0000_0000_0003),
        input,
        at(),
    )
    .0
}
