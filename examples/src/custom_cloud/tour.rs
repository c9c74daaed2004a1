//! ccm's engine driving a worker on Nimbus: created (its server launched and
//! booted), stopped, started again — on a virtual clock, so a few virtual
//! minutes per step pass in well under a second. The `custom_cloud` example
//! prints what it returns and `examples/tests/custom_cloud.rs` checks it.

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_core::event::{EventPayload, StoredEvent};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings, WhenLabletsBound};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::placement::{InstanceType, PriceTable};
use ccm_core::ports::cloud::CloudError;
use ccm_core::ports::store::StoreError;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::{from_unix_seconds, plus_seconds, seconds_between, Timestamp};
use ccm_core::worker::{CmlServiceState, LifecycleState};
use ccm_core::CoreError;
use ccm_sim::{SimConfig, Simulation};

use super::{NimbusCloud, ServerState};

/// Nimbus's bare-metal flavor the tour launches: 48 vCPU, 192 GiB.
pub const FLAVOR: &str = "bm.48c192g";
/// The Nimbus region the tour's worker lives in.
pub const REGION: &str = "fra1";

/// What can stop the tour.
#[derive(Debug, thiserror::Error)]
pub enum TourError {
    /// The engine refused or failed.
    #[error("engine: {0}")]
    Core(#[from] CoreError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Nimbus failed outside the engine (reading its console).
    #[error("nimbus: {0}")]
    Cloud(#[from] CloudError),
}

/// Where the worker stood after one step of the tour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The step (`created`, `stopped`, `started`).
    pub step: &'static str,
    /// The worker's lifecycle as ccm recorded it.
    pub lifecycle: LifecycleState,
    /// Its CML as ccm recorded it.
    pub cml: CmlServiceState,
    /// The server's state on the Nimbus console.
    pub server: Option<ServerState>,
    /// The server's id.
    pub server_id: Option<String>,
}

/// What the tour saw.
#[derive(Clone, Debug)]
pub struct Tour {
    /// The story, one line per thing worth telling.
    pub lines: Vec<String>,
    /// The worker after each step.
    pub checkpoints: Vec<Checkpoint>,
    /// Nimbus API calls the engine made, by operation.
    pub calls: BTreeMap<&'static str, u64>,
}

/// The engine's settings for Nimbus: its flavor in the price table (a worker's
/// capacity comes from there) and as the default instance type. ccm's default
/// image pattern, `cml-2.9*`, already matches Nimbus's CML images.
pub fn nimbus_settings() -> FleetSettings {
    let mut settings = FleetSettings::default();
    settings.launch.instance_type = FLAVOR.to_owned();
    settings.instance_types = PriceTable {
        types: vec![InstanceType::new(FLAVOR, 48, 192, 1000, 100, 3.10)],
    };
    settings
}

/// Creates, stops and starts one worker on Nimbus through ccm's engine.
pub async fn tour() -> Result<Tour, TourError> {
    // 2026-01-01T00:00:00Z: a fixed start, so every run tells the same story.
    let start = from_unix_seconds(1_767_225_600);
    let clock = VirtualClock::new(start);
    let cloud = NimbusCloud::new(Arc::new(clock.clone()), &[REGION, "ams1"]);
    // The engine needs a CML port too. The simulator's CML answers only for
    // instances of its own simulated EC2, so no Nimbus server's CML ever answers
    // here (ccm reports it starting while the server is up, unavailable while it
    // is off): this example is about the cloud. With real CML images on Nimbus,
    // ccm-cml's HTTP client would take this place.
    let cml = Simulation::with_virtual_clock(1, SimConfig::default(), clock.clone()).cml();
    let store = Arc::new(MemoryStore::new());
    let fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(cloud.clone()),
            cml: Arc::new(cml),
            clock: Arc::new(clock.clone()),
        },
        nimbus_settings(),
    );
    let mut runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
    fleet.register_jobs(&mut runner).await?;

    let mut story = Story {
        start,
        lines: Vec::new(),
        read_up_to: 0,
    };
    let mut checkpoints = Vec::new();
    story.say(
        clock.now(),
        format!("ccm creates worker `nimbus-01` in {REGION}"),
    );
    let worker = fleet
        .create_worker(CreateWorker {
            name: "nimbus-01".into(),
            region: Region::new(REGION),
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            // Its CML never answers here, so it would never look busy either.
            idle_detection_disabled: true,
            created_by: Some("custom_cloud example".into()),
            image: None,
        })
        .await?
        .id;
    fleet
        .run_until(&runner, None, &clock, plus_seconds(clock.now(), 10 * 60))
        .await?;
    checkpoints.push(
        story
            .checkpoint("created", &fleet, &cloud, worker, store.as_ref())
            .await?,
    );

    story.say(clock.now(), "ccm stops the worker".into());
    fleet.stop_worker(worker, WhenLabletsBound::Refuse).await?;
    fleet
        .run_until(&runner, None, &clock, plus_seconds(clock.now(), 5 * 60))
        .await?;
    checkpoints.push(
        story
            .checkpoint("stopped", &fleet, &cloud, worker, store.as_ref())
            .await?,
    );

    story.say(clock.now(), "ccm starts the worker again".into());
    fleet.start_worker(worker).await?;
    fleet
        .run_until(&runner, None, &clock, plus_seconds(clock.now(), 10 * 60))
        .await?;
    checkpoints.push(
        story
            .checkpoint("started", &fleet, &cloud, worker, store.as_ref())
            .await?,
    );

    Ok(Tour {
        lines: story.lines,
        checkpoints,
        calls: cloud.calls()?,
    })
}

/// The tour's lines, stamped with virtual time since the start.
struct Story {
    start: Timestamp,
    lines: Vec<String>,
    /// The last event already told.
    read_up_to: u64,
}

impl Story {
    fn say(&mut self, at: Timestamp, what: String) {
        let s = seconds_between(self.start, at).max(0);
        self.lines.push(format!(
            "+{:02}:{:02}:{:02}  {what}",
            s / 3600,
            (s % 3600) / 60,
            s % 60
        ));
    }

    /// Tells the events since the last checkpoint, then where ccm and Nimbus stand.
    async fn checkpoint(
        &mut self,
        step: &'static str,
        fleet: &Fleet,
        cloud: &NimbusCloud,
        worker: WorkerId,
        store: &dyn Store,
    ) -> Result<Checkpoint, TourError> {
        for event in store.read_events(self.read_up_to, usize::MAX).await? {
            self.read_up_to = self.read_up_to.max(event.sequence);
            if let Some(line) = describe(&event) {
                self.say(event.event.occurred_at, line);
            }
        }
        let seen = fleet.get_worker(worker).await?;
        let server_id = seen.instance_id.as_ref().map(|id| id.to_string());
        let server = cloud
            .console()?
            .into_iter()
            .find(|line| Some(&line.id) == server_id.as_ref());
        self.say(
            fleet.clock().now(),
            format!(
                "ccm sees the worker {} (CML {:?}); the Nimbus console shows {}",
                seen.status.lifecycle.as_str(),
                seen.status.cml.state,
                server.as_ref().map_or_else(
                    || "no server".to_owned(),
                    |line| format!("{} {} ({})", line.id, line.state.as_nimbus(), line.flavor)
                ),
            ),
        );
        Ok(Checkpoint {
            step,
            lifecycle: seen.status.lifecycle,
            cml: seen.status.cml.state,
            server: server.map(|line| line.state),
            server_id,
        })
    }
}

/// One line for an event worth telling; metrics and the like are left out.
fn describe(event: &StoredEvent) -> Option<String> {
    Some(match &event.event.payload {
        EventPayload::WorkerCreatedV2 { .. } => "event: worker created".to_owned(),
        EventPayload::WorkerInstanceAssigned {
            instance_id, ami, ..
        } => format!(
            "event: server {instance_id} launched from {}",
            ami.as_ref()
                .and_then(|a| a.name.clone())
                .unwrap_or_else(|| "an image".into())
        ),
        EventPayload::WorkerStatusUpdated {
            from,
            to,
            ec2_state,
            ..
        } => format!(
            "event: lifecycle {} → {}{}",
            from.as_str(),
            to.as_str(),
            ec2_state
                .as_ref()
                .map(|s| format!(" (port state `{s}`)"))
                .unwrap_or_default()
        ),
        EventPayload::WorkerCmlUpdated { cml } => format!("event: CML {:?}", cml.state),
        EventPayload::WorkerPaused { reason } => format!("event: paused ({reason:?})"),
        EventPayload::WorkerResumed { reason, .. } => format!("event: resumed ({reason:?})"),
        _ => return None,
    })
}
