//! Another cloud behind ccm-core's [`CloudProvider`] port: *Nimbus*, a small
//! fictional provider kept in process, with its own vocabulary — servers rather
//! than instances (`nbs-fra1-000001`), flavors, images (`nbi-0003`), labels, and
//! state names of its own (`BUILDING`, `ACTIVE`, `SHUTOFF`, …) — translated at
//! this adapter's boundary into the EC2 vocabulary the port speaks.
//!
//! It passes the port's conformance suite (`ccm_core::testing::cloud`, run by
//! `examples/tests/custom_cloud.rs`); an adapter for a real provider would keep
//! the same shape and replace the in-memory [`Nimbus`] by that provider's API.
//!
//! Time comes from a [`Clock`], as in every ccm adapter: servers move through
//! their transitional states when the clock says so, which lets a test or the
//! `custom_cloud` example run a day on a virtual clock in milliseconds.

pub mod tour;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{
    name_matches, CloudError, CloudProvider, DiscoveryFilter, Image, ImageSelector, Instance,
    InstanceState, InstanceStatusCheck, LaunchRequest, MetricName, MetricSample, MetricsQuery,
    StateChange, WORKER_ID_TAG,
};
use ccm_core::ports::Clock;
use ccm_core::time::{from_unix_seconds, plus_seconds, seconds_between, Timestamp};

/// Prefix of every Nimbus server id.
pub const SERVER_ID_PREFIX: &str = "nbs-";

/// A Nimbus server's state, in Nimbus's own names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerState {
    /// Being created from its image.
    Building,
    /// Up.
    Active,
    /// Shutting down its operating system.
    PoweringOff,
    /// Off; its disk is kept.
    Shutoff,
    /// Booting again after being off.
    PoweringOn,
    /// Being deleted.
    Deleting,
    /// Gone; still listed for a while, as EC2 lists terminated instances.
    Deleted,
}

impl ServerState {
    /// Nimbus's name for the state.
    pub fn as_nimbus(self) -> &'static str {
        match self {
            ServerState::Building => "BUILDING",
            ServerState::Active => "ACTIVE",
            ServerState::PoweringOff => "POWERING_OFF",
            ServerState::Shutoff => "SHUTOFF",
            ServerState::PoweringOn => "POWERING_ON",
            ServerState::Deleting => "DELETING",
            ServerState::Deleted => "DELETED",
        }
    }

    /// The EC2 state ccm's port speaks: what `LifecycleState::from_instance`
    /// maps to a worker's lifecycle. Booting, first or again, is `pending`.
    pub fn as_ec2(self) -> InstanceState {
        match self {
            ServerState::Building | ServerState::PoweringOn => InstanceState::Pending,
            ServerState::Active => InstanceState::Running,
            ServerState::PoweringOff => InstanceState::Stopping,
            ServerState::Shutoff => InstanceState::Stopped,
            ServerState::Deleting => InstanceState::ShuttingDown,
            ServerState::Deleted => InstanceState::Terminated,
        }
    }

    /// True while the server is being deleted or is gone.
    fn is_gone(self) -> bool {
        matches!(self, ServerState::Deleting | ServerState::Deleted)
    }
}

/// How long Nimbus takes, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NimbusTiming {
    /// `BUILDING` → `ACTIVE`.
    pub build_seconds: i64,
    /// `POWERING_ON` → `ACTIVE`.
    pub power_on_seconds: i64,
    /// `POWERING_OFF` → `SHUTOFF`.
    pub power_off_seconds: i64,
    /// `DELETING` → `DELETED`.
    pub delete_seconds: i64,
    /// Health reads `initializing` this long after a server became active.
    pub health_warmup_seconds: i64,
    /// A deleted server stays listed this long, then is forgotten.
    pub deleted_kept_seconds: i64,
}

impl Default for NimbusTiming {
    fn default() -> Self {
        Self {
            build_seconds: 180,
            power_on_seconds: 90,
            power_off_seconds: 30,
            delete_seconds: 20,
            health_warmup_seconds: 60,
            deleted_kept_seconds: 3600,
        }
    }
}

/// One image of the catalog.
#[derive(Clone, Debug)]
struct NimbusImage {
    id: String,
    name: String,
    description: String,
    created_at: Timestamp,
}

impl NimbusImage {
    fn to_port(&self) -> Image {
        Image {
            id: ImageId::new(self.id.clone()),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            created_at: Some(self.created_at),
        }
    }
}

/// One server as Nimbus keeps it.
#[derive(Clone, Debug)]
struct Server {
    id: String,
    region: String,
    flavor: String,
    image_id: String,
    state: ServerState,
    /// When the current transitional state ends.
    until: Option<Timestamp>,
    created_at: Timestamp,
    /// When it last became `ACTIVE`.
    active_since: Option<Timestamp>,
    deleted_at: Option<Timestamp>,
    /// Nimbus calls tags labels.
    labels: BTreeMap<String, String>,
    fine_monitoring: bool,
    private_ip: String,
}

impl Server {
    /// Finishes a transitional state whose time has come.
    fn catch_up(&mut self, now: Timestamp) {
        let Some(until) = self.until.filter(|until| *until <= now) else {
            return;
        };
        self.until = None;
        self.state = match self.state {
            ServerState::Building | ServerState::PoweringOn => {
                self.active_since = Some(until);
                ServerState::Active
            }
            ServerState::PoweringOff => ServerState::Shutoff,
            ServerState::Deleting => {
                self.deleted_at = Some(until);
                ServerState::Deleted
            }
            settled => settled,
        };
    }

    fn enter(&mut self, state: ServerState, now: Timestamp, seconds: i64) {
        self.state = state;
        self.until = Some(plus_seconds(now, seconds));
    }

    /// The server in the port's words.
    fn to_port(&self) -> Instance {
        Instance {
            instance_id: InstanceId::new(self.id.clone()),
            region: Region::new(self.region.clone()),
            instance_type: self.flavor.clone(),
            state: self.state.as_ec2(),
            image_id: ImageId::new(self.image_id.clone()),
            launched_at: Some(self.created_at),
            // Nimbus servers live on a private network only; ccm, running in it,
            // reaches CML on the private address (the engine falls back to it).
            public_ip: None,
            private_ip: (!self.state.is_gone()).then(|| self.private_ip.clone()),
            tags: self.labels.clone(),
            detailed_monitoring: self.fine_monitoring,
        }
    }
}

/// A server as the Nimbus console shows it (for the example's printout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLine {
    /// Server id.
    pub id: String,
    /// Region.
    pub region: String,
    /// Its `Name` label.
    pub name: String,
    /// Flavor (ccm's instance type).
    pub flavor: String,
    /// State in Nimbus's words.
    pub state: ServerState,
}

/// The provider's whole world.
#[derive(Debug)]
struct Nimbus {
    timing: NimbusTiming,
    regions: BTreeSet<String>,
    images: Vec<NimbusImage>,
    servers: BTreeMap<String, Server>,
    created: u64,
    calls: BTreeMap<&'static str, u64>,
}

impl Nimbus {
    fn catch_up(&mut self, now: Timestamp) {
        for server in self.servers.values_mut() {
            server.catch_up(now);
        }
        let kept = self.timing.deleted_kept_seconds;
        self.servers.retain(|_, server| {
            server
                .deleted_at
                .is_none_or(|at| seconds_between(at, now) < kept)
        });
    }

    fn check_region(&self, operation: &str, region: &Region) -> Result<(), CloudError> {
        if self.regions.contains(region.as_str()) {
            return Ok(());
        }
        Err(CloudError::InvalidRequest {
            operation: operation.to_owned(),
            code: "UnknownRegion".into(),
            message: format!("Nimbus has no region `{region}`"),
        })
    }

    /// The servers `ids` name in `region`, all of them or an error: like EC2,
    /// Nimbus acts on a batch only when every id in it is known.
    fn known(
        &self,
        operation: &str,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        self.check_region(operation, region)?;
        for id in ids {
            if !id.as_str().starts_with(SERVER_ID_PREFIX) {
                return Err(CloudError::InvalidRequest {
                    operation: operation.to_owned(),
                    code: "MalformedServerId".into(),
                    message: format!("`{id}` is not a Nimbus server id ({SERVER_ID_PREFIX}…)"),
                });
            }
            match self.servers.get(id.as_str()) {
                Some(server) if server.region == region.as_str() => {}
                _ => {
                    return Err(CloudError::NotFound {
                        what: "instance",
                        id: id.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    fn servers_mut<'a>(
        &'a mut self,
        ids: &'a [InstanceId],
    ) -> impl Iterator<Item = &'a mut Server> + 'a {
        let wanted: BTreeSet<&str> = ids.iter().map(InstanceId::as_str).collect();
        self.servers
            .values_mut()
            .filter(move |server| wanted.contains(server.id.as_str()))
    }

    fn resolve_image(&self, selector: &ImageSelector) -> Result<&NimbusImage, CloudError> {
        let found = match selector {
            ImageSelector::Id(id) => self.images.iter().find(|image| image.id == id.as_str()),
            ImageSelector::NamePattern(pattern) => self
                .images
                .iter()
                .filter(|image| name_matches(pattern, &image.name))
                .max_by_key(|image| image.created_at),
        };
        found.ok_or_else(|| CloudError::NotFound {
            what: "image",
            id: match selector {
                ImageSelector::Id(id) => id.to_string(),
                ImageSelector::NamePattern(pattern) => pattern.clone(),
            },
        })
    }

    fn image_name(&self, id: &str) -> Option<&str> {
        self.images
            .iter()
            .find(|image| image.id == id)
            .map(|image| image.name.as_str())
    }
}

/// The Nimbus cloud as a ccm [`CloudProvider`]. Clones share one world, so the
/// example can read the console of the cloud its engine drives.
#[derive(Clone, Debug)]
pub struct NimbusCloud {
    world: Arc<Mutex<Nimbus>>,
    clock: Arc<dyn Clock>,
}

impl NimbusCloud {
    /// Nimbus in `regions`, on `clock`, with the default timing and catalog:
    /// CML images `cml-2.8.1-nimbus`, `cml-2.9.0-nimbus`, `cml-2.9.1-nimbus` (so
    /// ccm's default pattern `cml-2.9*` picks the newest) and an Ubuntu image.
    pub fn new(clock: Arc<dyn Clock>, regions: &[&str]) -> Self {
        Self::with_timing(clock, regions, NimbusTiming::default())
    }

    /// Nimbus with its own `timing`.
    pub fn with_timing(clock: Arc<dyn Clock>, regions: &[&str], timing: NimbusTiming) -> Self {
        let image = |id: &str, name: &str, description: &str, created: i64| NimbusImage {
            id: id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            created_at: from_unix_seconds(created),
        };
        let images = vec![
            image("nbi-0001", "cml-2.8.1-nimbus", "CML 2.8.1", 1_736_500_000),
            image("nbi-0002", "cml-2.9.0-nimbus", "CML 2.9.0", 1_746_200_000),
            image("nbi-0003", "cml-2.9.1-nimbus", "CML 2.9.1", 1_757_900_000),
            image(
                "nbi-0004",
                "ubuntu-24.04",
                "Ubuntu 24.04 LTS",
                1_745_100_000,
            ),
        ];
        Self {
            world: Arc::new(Mutex::new(Nimbus {
                timing,
                regions: regions.iter().map(|r| (*r).to_owned()).collect(),
                images,
                servers: BTreeMap::new(),
                created: 0,
                calls: BTreeMap::new(),
            })),
            clock,
        }
    }

    /// Runs `f` on the world brought up to now, counting the call as Nimbus's
    /// `operation`. Every call goes through here, so state moves only by the
    /// clock and calls are counted the way the provider would bill them.
    fn call<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Nimbus, Timestamp) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        let mut world = self.lock(operation)?;
        let now = self.clock.now();
        *world.calls.entry(operation).or_default() += 1;
        world.catch_up(now);
        f(&mut world, now)
    }

    fn lock(&self, operation: &str) -> Result<std::sync::MutexGuard<'_, Nimbus>, CloudError> {
        self.world.lock().map_err(|_| CloudError::Unavailable {
            operation: operation.to_owned(),
            message: "the Nimbus world was left inconsistent by a panic".into(),
        })
    }

    /// Every server, as the Nimbus console lists them. Not an API call: it is
    /// left out of [`NimbusCloud::calls`].
    pub fn console(&self) -> Result<Vec<ConsoleLine>, CloudError> {
        let mut world = self.lock("console")?;
        world.catch_up(self.clock.now());
        Ok(world
            .servers
            .values()
            .map(|server| ConsoleLine {
                id: server.id.clone(),
                region: server.region.clone(),
                name: server.labels.get("Name").cloned().unwrap_or_default(),
                flavor: server.flavor.clone(),
                state: server.state,
            })
            .collect())
    }

    /// API calls made so far, by Nimbus operation.
    pub fn calls(&self) -> Result<BTreeMap<&'static str, u64>, CloudError> {
        Ok(self.lock("calls")?.calls.clone())
    }

    /// Moves `ids` from the states in `from` to `to` (taking `seconds`); ids
    /// already where the call leads are answered unchanged, as EC2 does, and any
    /// other state refuses the whole batch.
    fn change(
        &self,
        operation: &'static str,
        region: &Region,
        ids: &[InstanceId],
        plan: Transition,
    ) -> Result<Vec<StateChange>, CloudError> {
        self.call(operation, |world, now| {
            world.known(operation, region, ids)?;
            let seconds = plan.seconds(&world.timing);
            let servers: Vec<&mut Server> = world.servers_mut(ids).collect();
            if let Some(server) = servers
                .iter()
                .find(|s| !plan.from.contains(&s.state) && !plan.already.contains(&s.state))
            {
                return Err(CloudError::InvalidRequest {
                    operation: operation.to_owned(),
                    code: "IncorrectServerState".into(),
                    message: format!("server {} is {}", server.id, server.state.as_nimbus()),
                });
            }
            let mut changes = Vec::with_capacity(servers.len());
            for server in servers {
                let previous = server.state.as_ec2();
                if plan.from.contains(&server.state) {
                    server.enter(plan.to, now, seconds);
                }
                changes.push(StateChange {
                    instance_id: InstanceId::new(server.id.clone()),
                    previous,
                    current: server.state.as_ec2(),
                });
            }
            Ok(changes)
        })
    }
}

/// What a start, stop or delete does.
struct Transition {
    /// States it moves servers out of.
    from: &'static [ServerState],
    /// States it leaves as they are (already on the way or there).
    already: &'static [ServerState],
    /// The state it moves them to.
    to: ServerState,
}

impl Transition {
    const START: Transition = Transition {
        from: &[ServerState::Shutoff],
        already: &[
            ServerState::Building,
            ServerState::PoweringOn,
            ServerState::Active,
        ],
        to: ServerState::PoweringOn,
    };
    const STOP: Transition = Transition {
        from: &[ServerState::Active],
        already: &[ServerState::PoweringOff, ServerState::Shutoff],
        to: ServerState::PoweringOff,
    };
    const DELETE: Transition = Transition {
        from: &[
            ServerState::Building,
            ServerState::Active,
            ServerState::PoweringOff,
            ServerState::Shutoff,
            ServerState::PoweringOn,
        ],
        already: &[ServerState::Deleting, ServerState::Deleted],
        to: ServerState::Deleting,
    };

    fn seconds(&self, timing: &NimbusTiming) -> i64 {
        match self.to {
            ServerState::PoweringOn => timing.power_on_seconds,
            ServerState::PoweringOff => timing.power_off_seconds,
            ServerState::Deleting => timing.delete_seconds,
            _ => 0,
        }
    }
}

/// A stable number from text (FNV-1a), so a server's simulated load is the same
/// on every run.
fn fnv(text: &str, salt: u64) -> u64 {
    text.bytes()
        .chain(salt.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The server's load on `metric` in the period `bucket`, in percent: a base per
/// server and metric plus a wobble per period.
fn load(server: &str, metric: MetricName, bucket: i64) -> f64 {
    let (base, spread) = match metric {
        MetricName::CpuUtilization => (4.0, 30.0),
        MetricName::MemUsedPercent => (30.0, 40.0),
        MetricName::DiskUsedPercent => (15.0, 20.0),
    };
    let salt = metric as u64;
    let level = (fnv(server, salt) % 1000) as f64 / 1000.0;
    let wobble = (fnv(server, salt ^ bucket.unsigned_abs()) % 100) as f64 / 100.0;
    (base + spread * (0.8 * level + 0.2 * wobble)).clamp(0.0, 100.0)
}

#[async_trait]
impl CloudProvider for NimbusCloud {
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError> {
        self.call("CreateServer", |world, now| {
            world.check_region("CreateServer", &request.region)?;
            let worker = request.worker_id.to_string();
            // Idempotence: a retried launch finds the server made for the worker.
            if let Some(server) = world.servers.values().find(|server| {
                !server.state.is_gone() && server.labels.get(WORKER_ID_TAG) == Some(&worker)
            }) {
                return Ok(server.to_port());
            }
            let image_id = world.resolve_image(&request.image)?.id.clone();
            if request.instance_type.trim().is_empty() {
                return Err(CloudError::InvalidRequest {
                    operation: "CreateServer".into(),
                    code: "MissingFlavor".into(),
                    message: "a server needs a flavor".into(),
                });
            }
            world.created += 1;
            let n = world.created;
            let id = format!("{SERVER_ID_PREFIX}{}-{n:06}", request.region);
            let mut labels = request.tags.clone();
            labels.insert("Name".to_owned(), request.name.clone());
            labels.insert(WORKER_ID_TAG.to_owned(), worker);
            let mut server = Server {
                id: id.clone(),
                region: request.region.to_string(),
                flavor: request.instance_type.clone(),
                image_id,
                state: ServerState::Building,
                until: None,
                created_at: now,
                active_since: None,
                deleted_at: None,
                labels,
                fine_monitoring: request.detailed_monitoring,
                private_ip: format!("10.77.{}.{}", (n / 250) % 250, n % 250 + 2),
            };
            server.enter(ServerState::Building, now, world.timing.build_seconds);
            let instance = server.to_port();
            world.servers.insert(id, server);
            Ok(instance)
        })
    }

    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change("StartServers", region, ids, Transition::START)
    }

    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change("StopServers", region, ids, Transition::STOP)
    }

    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change("DeleteServers", region, ids, Transition::DELETE)
    }

    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        self.call("ListServers", |world, _| {
            world.check_region("ListServers", region)?;
            Ok(ids
                .iter()
                .filter_map(|id| world.servers.get(id.as_str()))
                .filter(|server| server.region == region.as_str())
                .map(Server::to_port)
                .collect())
        })
    }

    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        self.call("GetServerHealth", |world, now| {
            world.check_region("GetServerHealth", region)?;
            let warmup = world.timing.health_warmup_seconds;
            Ok(ids
                .iter()
                .filter_map(|id| world.servers.get(id.as_str()))
                .filter(|server| {
                    server.region == region.as_str() && server.state == ServerState::Active
                })
                .map(|server| {
                    let warm = server
                        .active_since
                        .is_some_and(|since| seconds_between(since, now) >= warmup);
                    let status = if warm { "ok" } else { "initializing" };
                    InstanceStatusCheck {
                        instance_id: InstanceId::new(server.id.clone()),
                        instance_status: status.to_owned(),
                        system_status: status.to_owned(),
                    }
                })
                .collect())
        })
    }

    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError> {
        self.call("QueryMetrics", |world, now| {
            world.check_region("QueryMetrics", region)?;
            // The newest full period in the window, never in the future.
            let end = query.end.min(now);
            let period = i64::from(query.period_seconds.max(60));
            let bucket = end.timestamp().div_euclid(period);
            let at = from_unix_seconds(bucket * period);
            let mut samples = Vec::new();
            for id in &query.instance_ids {
                let running = world.servers.get(id.as_str()).filter(|server| {
                    server.region == region.as_str()
                        && server.state == ServerState::Active
                        && server.active_since.is_some_and(|since| since <= end)
                        && query.start <= end
                });
                for metric in &query.metrics {
                    let value = running.map(|server| load(&server.id, *metric, bucket));
                    samples.push(MetricSample {
                        instance_id: id.clone(),
                        metric: *metric,
                        value,
                        at: value.map(|_| at),
                    });
                }
            }
            Ok(samples)
        })
    }

    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        self.call("ListImages", |world, _| {
            world.check_region("ListImages", region)?;
            let mut found: Vec<&NimbusImage> = world
                .images
                .iter()
                .filter(|image| name_matches(name_pattern, &image.name))
                .collect();
            found.sort_by_key(|image| std::cmp::Reverse(image.created_at));
            Ok(found.into_iter().map(NimbusImage::to_port).collect())
        })
    }

    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError> {
        self.call("GetImages", |world, _| {
            world.check_region("GetImages", region)?;
            Ok(ids
                .iter()
                .filter_map(|id| world.images.iter().find(|image| image.id == id.as_str()))
                .map(NimbusImage::to_port)
                .collect())
        })
    }

    async fn discover(
        &self,
        region: &Region,
        filter: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        self.call("SearchServers", |world, _| {
            world.check_region("SearchServers", region)?;
            Ok(world
                .servers
                .values()
                .filter(|server| server.region == region.as_str())
                .filter(|server| filter.include_terminated || !server.state.is_gone())
                .filter(|server| {
                    filter.image_ids.is_empty()
                        || filter
                            .image_ids
                            .iter()
                            .any(|id| id.as_str() == server.image_id)
                })
                .filter(|server| {
                    filter.image_name_pattern.as_ref().is_none_or(|pattern| {
                        world
                            .image_name(&server.image_id)
                            .is_some_and(|name| name_matches(pattern, name))
                    })
                })
                .filter(|server| {
                    filter
                        .tags
                        .iter()
                        .all(|(key, value)| server.labels.get(key) == Some(value))
                })
                .map(Server::to_port)
                .collect())
        })
    }

    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        self.call("PutLabels", |world, _| {
            world.known("PutLabels", region, ids)?;
            for server in world.servers_mut(ids) {
                server.labels.extend(tags.clone());
            }
            Ok(())
        })
    }

    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError> {
        self.call("DeleteLabels", |world, _| {
            world.known("DeleteLabels", region, ids)?;
            for server in world.servers_mut(ids) {
                server.labels.retain(|key, _| !keys.contains(key));
            }
            Ok(())
        })
    }

    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        self.call("EnableFineMonitoring", |world, _| {
            world.known("EnableFineMonitoring", region, ids)?;
            for server in world.servers_mut(ids) {
                server.fine_monitoring = true;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nimbus_state_maps_to_a_lifecycle_state() {
        use ccm_core::worker::LifecycleState;
        for state in [
            ServerState::Building,
            ServerState::Active,
            ServerState::PoweringOff,
            ServerState::Shutoff,
            ServerState::PoweringOn,
            ServerState::Deleting,
            ServerState::Deleted,
        ] {
            assert_ne!(
                LifecycleState::from_instance(state.as_ec2()),
                LifecycleState::Unknown,
                "{}",
                state.as_nimbus()
            );
        }
    }

    #[test]
    fn loads_are_percentages_and_stable() {
        for metric in MetricName::ALL {
            for bucket in 0..50 {
                let value = load("nbs-fra1-000001", metric, bucket);
                assert!((0.0..=100.0).contains(&value), "{metric:?} {value}");
                assert_eq!(value, load("nbs-fra1-000001", metric, bucket));
            }
        }
    }
}
