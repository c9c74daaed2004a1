//! The controllers' calls to the outside world, checked on mocked ports where a
//! mock says the intent more plainly than the simulator: a step that outlived
//! its lease makes no cloud call at all; the worker controller starts a stopped
//! worker with one `StartInstances` for its instance and nothing else; the new
//! leader tears the lab of an ending lablet down exactly once (stop, wipe,
//! delete, in that order, on the lablet's worker). Each mock refuses any call it
//! was not told to expect, and is taken back from the engine at the end of the
//! test and checked there, so a call that should have come and did not fails too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{CmlLabId, ImageId, InstanceId, Region, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::lablet::{LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::cloud::{
    CloudError, DiscoveryFilter, Image, Instance, InstanceState, InstanceStatusCheck,
    LaunchRequest, MetricSample, MetricsQuery, StateChange,
};
use ccm_core::ports::cml::{
    CmlEndpoint, CmlError, CmlLab, ImageDefinition, LabImport, LabUsage, Licensing, NodeDefinition,
    SystemHealth, SystemInformation, SystemStats, TelemetryEvent,
};
use ccm_core::ports::store::ChangeSet;
use ccm_core::ports::{Clock, CloudProvider, CmlClient, Store, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::runtime::lease_gate::acting_under;
use ccm_core::runtime::{JobRunner, LeaderElector, Leadership, LeaseSettings};
use ccm_core::secret::Secret;
use ccm_core::store::MemoryStore;
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::worker::aggregate::ImportedInstance;
use ccm_core::worker::{Capacity, IdleSettings, LifecycleState, Network, NewWorker, Worker};
use ccm_sim::{SimConfig, Simulation};

mod support;
use mockall::{mock, Sequence};

const REGION: &str = "us-east-1";

mock! {
    pub Cloud {}

    #[async_trait]
    impl CloudProvider for Cloud {
        async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError>;
        async fn start(&self, region: &Region, ids: &[InstanceId]) -> Result<Vec<StateChange>, CloudError>;
        async fn stop(&self, region: &Region, ids: &[InstanceId]) -> Result<Vec<StateChange>, CloudError>;
        async fn terminate(&self, region: &Region, ids: &[InstanceId]) -> Result<Vec<StateChange>, CloudError>;
        async fn describe(&self, region: &Region, ids: &[InstanceId]) -> Result<Vec<Instance>, CloudError>;
        async fn status_checks(&self, region: &Region, ids: &[InstanceId]) -> Result<Vec<InstanceStatusCheck>, CloudError>;
        async fn metrics(&self, region: &Region, query: &MetricsQuery) -> Result<Vec<MetricSample>, CloudError>;
        async fn find_images(&self, region: &Region, name_pattern: &str) -> Result<Vec<Image>, CloudError>;
        async fn describe_images(&self, region: &Region, ids: &[ImageId]) -> Result<Vec<Image>, CloudError>;
        async fn discover(&self, region: &Region, filter: &DiscoveryFilter) -> Result<Vec<Instance>, CloudError>;
        async fn set_tags(&self, region: &Region, ids: &[InstanceId], tags: &BTreeMap<String, String>) -> Result<(), CloudError>;
        async fn remove_tags(&self, region: &Region, ids: &[InstanceId], keys: &[String]) -> Result<(), CloudError>;
        async fn enable_detailed_monitoring(&self, region: &Region, ids: &[InstanceId]) -> Result<(), CloudError>;
    }
}

// mockall cannot mock `import_lab` through `#[async_trait]` (its `Option<&str>`
// argument has a lifetime mockall does not name), so the CML mock has the
// port's methods as plain ones and the port delegates to them below, each
// call unchanged. `teardown_lab` and `certificate_fingerprint` keep the trait's
// own bodies, so a teardown shows as the stop, wipe and delete it is made of.
mock! {
    pub Cml {
        fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError>;
        fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError>;
        fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError>;
        fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError>;
        fn register_licence(&self, ep: &CmlEndpoint, token: &Secret, reregister: bool) -> Result<(), CmlError>;
        fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError>;
        fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError>;
        fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError>;
        fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError>;
        fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
        fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
        fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
        fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
        fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError>;
        fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError>;
        fn import_lab(&self, ep: &CmlEndpoint, topology_yaml: &str, title: Option<String>) -> Result<LabImport, CmlError>;
        fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError>;
        fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError>;
        fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError>;
        fn telemetry_events(&self, ep: &CmlEndpoint, after: Option<Timestamp>) -> Result<Vec<TelemetryEvent>, CmlError>;
    }
}

#[async_trait]
impl CmlClient for MockCml {
    async fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError> {
        MockCml::system_information(self, ep)
    }
    async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError> {
        MockCml::system_stats(self, ep)
    }
    async fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError> {
        MockCml::system_health(self, ep)
    }
    async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError> {
        MockCml::licensing(self, ep)
    }
    async fn register_licence(
        &self,
        ep: &CmlEndpoint,
        token: &Secret,
        reregister: bool,
    ) -> Result<(), CmlError> {
        MockCml::register_licence(self, ep, token, reregister)
    }
    async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError> {
        MockCml::deregister_licence(self, ep)
    }
    async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError> {
        MockCml::list_labs(self, ep)
    }
    async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError> {
        MockCml::get_lab(self, ep, lab)
    }
    async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError> {
        MockCml::lab_state(self, ep, lab)
    }
    async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        MockCml::start_lab(self, ep, lab)
    }
    async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        MockCml::stop_lab(self, ep, lab)
    }
    async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        MockCml::wipe_lab(self, ep, lab)
    }
    async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        MockCml::delete_lab(self, ep, lab)
    }
    async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError> {
        MockCml::lab_usage(self, ep, lab)
    }
    async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError> {
        MockCml::check_if_converged(self, ep, lab)
    }
    async fn import_lab(
        &self,
        ep: &CmlEndpoint,
        topology_yaml: &str,
        title: Option<&str>,
    ) -> Result<LabImport, CmlError> {
        MockCml::import_lab(self, ep, topology_yaml, title.map(str::to_owned))
    }
    async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError> {
        MockCml::download_lab(self, ep, lab)
    }
    async fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError> {
        MockCml::node_definitions(self, ep)
    }
    async fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError> {
        MockCml::image_definitions(self, ep)
    }
    async fn telemetry_events(
        &self,
        ep: &CmlEndpoint,
        after: Option<Timestamp>,
    ) -> Result<Vec<TelemetryEvent>, CmlError> {
        MockCml::telemetry_events(self, ep, after)
    }
}

/// A mock without expectations: any call through it fails the test.
fn refusing_cml() -> Arc<MockCml> {
    Arc::new(MockCml::new())
}

/// The mock behind `port`, once the engine that held it is gone, so the test
/// checks its expectations at a point of its choosing.
fn taken_back<T>(port: Arc<T>) -> T {
    Arc::try_unwrap(port).unwrap_or_else(|_| panic!("the engine still holds the mocked port"))
}

fn engine(
    store: &Arc<MemoryStore>,
    cloud: Arc<dyn CloudProvider>,
    cml: Arc<dyn CmlClient>,
    clock: &VirtualClock,
) -> Fleet {
    Fleet::new(
        Adapters {
            store: store.clone(),
            cloud,
            cml,
            clock: Arc::new(clock.clone()),
        },
        FleetSettings::default(),
    )
}

/// A job runner with no jobs: a step then runs the log watch and the two
/// controllers only.
fn no_jobs(store: &Arc<MemoryStore>, clock: &VirtualClock) -> JobRunner {
    JobRunner::new(store.clone(), Arc::new(clock.clone()))
}

fn elector(
    store: &Arc<MemoryStore>,
    clock: &VirtualClock,
    holder: &str,
    settings: LeaseSettings,
) -> Arc<LeaderElector> {
    Arc::new(LeaderElector::new(
        store.clone(),
        Arc::new(clock.clone()),
        holder,
        settings,
    ))
}

fn instance(id: &InstanceId, state: &str) -> Instance {
    Instance {
        instance_id: id.clone(),
        region: Region::new(REGION),
        instance_type: "m5zn.metal".into(),
        state: InstanceState::from_name(state),
        image_id: ImageId::new("ami-0cml"),
        launched_at: None,
        public_ip: None,
        private_ip: Some("10.0.0.5".into()),
        tags: BTreeMap::new(),
        detailed_monitoring: false,
    }
}

/// Records a worker adopting the stopped instance `id`, as an import would
/// (straight into the store, so the mock sees only the controllers' calls).
async fn stopped_worker(store: &MemoryStore, clock: &VirtualClock, id: &InstanceId) -> Worker {
    let (worker, event) = Worker::import(
        WorkerId::new(),
        NewWorker {
            name: "stopped".into(),
            region: Region::new(REGION),
            instance_type: "m5zn.metal".into(),
            capacity: Capacity::new(Resources::new(48, 192, 500), 100),
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: IdleSettings::default(),
            created_by: None,
            image: None,
        },
        ImportedInstance {
            instance_id: id.clone(),
            ami: None,
            network: Network::default(),
            ec2_state: InstanceState::Stopped,
            launched_at: None,
        },
        clock.now(),
    );
    store
        .commit(ChangeSet::new().put_worker(worker.clone()).events([event]))
        .await
        .unwrap();
    assert_eq!(worker.status.lifecycle, LifecycleState::Stopped);
    worker
}

fn create_input(name: &str) -> CreateWorker {
    CreateWorker {
        idle_detection_disabled: true,
        created_by: Some("admin".into()),
        ..CreateWorker::new(name, Region::new(REGION))
    }
}

#[tokio::test]
async fn a_step_run_after_the_lease_passed_to_another_process_makes_no_cloud_call() {
    let clock = VirtualClock::new(SimConfig::default().start);
    let store = Arc::new(MemoryStore::new());
    let this = elector(&store, &clock, "this", LeaseSettings::default());
    let other = elector(&store, &clock, "other", LeaseSettings::default());
    assert!(matches!(this.step().await, Leadership::Leading { .. }));
    let fence = this.fence().unwrap();

    let mut cloud = MockCloud::new();
    cloud.expect_launch().never();
    cloud.expect_start().never();
    cloud.expect_stop().never();
    cloud.expect_terminate().never();
    cloud.expect_describe().never();
    cloud.expect_status_checks().never();
    cloud.expect_metrics().never();
    cloud.expect_find_images().never();
    cloud.expect_describe_images().never();
    cloud.expect_discover().never();
    cloud.expect_set_tags().never();
    cloud.expect_remove_tags().never();
    cloud.expect_enable_detailed_monitoring().never();
    let cloud = Arc::new(cloud);
    let fleet = engine(&store, cloud.clone(), refusing_cml(), &clock);
    let runner = no_jobs(&store, &clock);

    // Work that would reach EC2: a new worker to launch, and a stopped one an
    // operator asks to start (commands any process serves; they call nothing).
    let created = fleet.create_worker(create_input("new")).await.unwrap();
    let stopped = stopped_worker(&store, &clock, &InstanceId::new("i-0stopped")).await;
    fleet.start_worker(stopped.id).await.unwrap();

    // This process's grant runs out unrenewed and the other one takes over.
    clock.advance_seconds(i64::from(LeaseSettings::default().duration_seconds) + 1);
    assert!(matches!(other.step().await, Leadership::Leading { .. }));
    assert_eq!(this.fence(), None);

    // A step of this process still in flight then: whatever it finds to do,
    // the gate stops every call before it reaches EC2. (Its writes carry the
    // old fence and are refused too, so how the step ends does not matter.)
    let _ = acting_under(this.clone(), fleet.step(&runner, Some(&fence))).await;

    assert_eq!(
        fleet.get_worker(created.id).await.unwrap().instance_id,
        None,
        "not launched"
    );
    assert_eq!(
        fleet.get_worker(stopped.id).await.unwrap().status.lifecycle,
        LifecycleState::Stopped
    );
    drop(fleet);
    taken_back(cloud).checkpoint();
}

#[tokio::test]
async fn the_leader_starts_a_stopped_worker_with_one_start_of_its_instance_and_nothing_else() {
    let clock = VirtualClock::new(SimConfig::default().start);
    let store = Arc::new(MemoryStore::new());
    // A grant long enough to cover the whole run without renewals.
    let leader = elector(
        &store,
        &clock,
        "leader",
        LeaseSettings {
            duration_seconds: 24 * 3600,
            ..LeaseSettings::default()
        },
    );
    assert!(matches!(leader.step().await, Leadership::Leading { .. }));
    let fence = leader.fence().unwrap();
    let id = InstanceId::new("i-0stopped");

    let started = Arc::new(AtomicBool::new(false));
    let mut cloud = MockCloud::new();
    // EC2 answers "stopped" until the instance is started, "running" after.
    {
        let started = started.clone();
        let id = id.clone();
        cloud.expect_describe().returning(move |_, ids| {
            assert_eq!(ids, std::slice::from_ref(&id));
            let state = if started.load(Ordering::SeqCst) {
                "running"
            } else {
                "stopped"
            };
            Ok(vec![instance(&id, state)])
        });
    }
    {
        let started = started.clone();
        let id = id.clone();
        cloud
            .expect_start()
            .withf(move |region, ids| region.as_str() == REGION && ids == std::slice::from_ref(&id))
            .times(1)
            .returning(move |_, ids| {
                started.store(true, Ordering::SeqCst);
                Ok(vec![StateChange {
                    instance_id: ids[0].clone(),
                    previous: InstanceState::Stopped,
                    current: InstanceState::Pending,
                }])
            });
    }
    cloud.expect_launch().never();
    cloud.expect_stop().never();
    cloud.expect_terminate().never();
    let cloud = Arc::new(cloud);
    let fleet = engine(&store, cloud.clone(), refusing_cml(), &clock);
    let runner = no_jobs(&store, &clock);

    let worker = stopped_worker(&store, &clock, &id).await;
    fleet.start_worker(worker.id).await.unwrap();
    // Ten minutes of steps: the controller looks at the worker again and again,
    // and must not start it a second time.
    let until = plus_seconds(clock.now(), 10 * 60);
    acting_under(
        leader.clone(),
        fleet.run_until(&runner, Some(&fence), &clock, until),
    )
    .await
    .unwrap();

    assert_eq!(
        fleet.get_worker(worker.id).await.unwrap().status.lifecycle,
        LifecycleState::Running
    );
    drop(fleet);
    taken_back(cloud).checkpoint();
}

#[tokio::test]
async fn the_lab_of_a_lablet_whose_timeslot_ends_is_torn_down_exactly_once() {
    // The old leader, on the simulator, brings a lablet to `running` on a worker.
    let mut config = SimConfig::default();
    config.cml.licensed_at_launch = true;
    let clock = VirtualClock::new(config.start);
    let sim = Simulation::with_virtual_clock(3, config, clock.clone());
    let store = Arc::new(MemoryStore::new());
    let old = engine(&store, Arc::new(sim.cloud()), Arc::new(sim.cml()), &clock);
    let mut runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
    old.register_jobs(&mut runner).await.unwrap();
    let run_for = |seconds: i64| {
        let until = plus_seconds(clock.now(), seconds);
        old.run_until(&runner, None, &clock, until)
    };
    let worker = old.create_worker(create_input("w1")).await.unwrap().id;
    run_for(30 * 60).await.unwrap();
    let definition = old.create_definition(support::ccna(0)).await.unwrap();
    let start = plus_seconds(clock.now(), 20 * 60);
    let end = plus_seconds(start, 3600);
    let lablet = old
        .create_lablet(
            definition.id,
            NewLablet {
                owner: "student".into(),
                timeslot: Timeslot { start, end },
                reservation_id: None,
                on_demand: false,
            },
        )
        .await
        .unwrap()
        .id;
    run_for(30 * 60).await.unwrap();
    let running = old.get_lablet(lablet).await.unwrap();
    assert_eq!(running.status.phase, LabletPhase::Running);
    assert_eq!(running.status.worker_id, Some(worker));
    let lab = running.status.cml_lab_id.clone().unwrap();
    drop(old);

    // A new leader over the same store, its CML mocked, sees the slot end.
    let on_its_lab = {
        let lab = lab.clone();
        move |ep: &CmlEndpoint, id: &CmlLabId| ep.worker_id == worker && *id == lab
    };
    let mut cml = MockCml::new();
    let mut order = Sequence::new();
    cml.expect_stop_lab()
        .withf(on_its_lab.clone())
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    cml.expect_wipe_lab()
        .withf(on_its_lab.clone())
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    cml.expect_delete_lab()
        .withf(on_its_lab)
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(()));
    let cml = Arc::new(cml);
    let new = engine(&store, Arc::new(sim.cloud()), cml.clone(), &clock);
    let runner = no_jobs(&store, &clock);
    new.take_over().await.unwrap();
    new.run_until(&runner, None, &clock, plus_seconds(end, 10 * 60))
        .await
        .unwrap();

    let ended = new.get_lablet(lablet).await.unwrap();
    assert_eq!(ended.status.phase, LabletPhase::Terminated);
    assert_eq!(ended.status.cml_lab_id, None);
    drop(new);
    taken_back(cml).checkpoint();
}
