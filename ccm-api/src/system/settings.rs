//! The settings view (`GET /api/v1/settings`, admins): the engine's settings and
//! the server's bounds. Nothing secret is part of it; of the licence token only
//! whether one is configured is said.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::placement::PlacementPolicy;
use crate::worker::{IdleSettings, LicenceKind, PortRange, Resources};
use crate::Example;
use ccm_core::fleet::settings as core;

/// Which image to launch: `{"by": "id" | "name_pattern", "value": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum ImageSelector {
    /// A specific AMI id.
    Id(String),
    /// The newest AMI whose name matches the pattern (`*` wildcards).
    NamePattern(String),
}

impl From<&ccm_core::ports::cloud::ImageSelector> for ImageSelector {
    fn from(s: &ccm_core::ports::cloud::ImageSelector) -> Self {
        use ccm_core::ports::cloud::ImageSelector as C;
        match s {
            C::Id(id) => Self::Id(id.0.clone()),
            C::NamePattern(p) => Self::NamePattern(p.clone()),
        }
    }
}

/// How new instances are launched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LaunchTemplate {
    /// Image to launch.
    pub image: ImageSelector,
    /// Other images a worker may be created from, by a readable name.
    #[serde(default)]
    pub images: BTreeMap<String, ImageSelector>,
    /// Default instance type.
    pub instance_type: String,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// Security groups.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Key pair.
    pub key_name: Option<String>,
    /// IAM instance profile.
    pub iam_instance_profile: Option<String>,
    /// Tags put on every instance besides `Name` and the worker id.
    #[serde(default)]
    pub default_tags: BTreeMap<String, String>,
    /// Detailed CloudWatch monitoring at launch.
    pub detailed_monitoring: bool,
}

impl From<&core::LaunchTemplate> for LaunchTemplate {
    fn from(l: &core::LaunchTemplate) -> Self {
        Self {
            image: (&l.image).into(),
            images: l
                .images
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            instance_type: l.instance_type.clone(),
            subnet_id: l.subnet_id.clone(),
            security_group_ids: l.security_group_ids.clone(),
            key_name: l.key_name.clone(),
            iam_instance_profile: l.iam_instance_profile.clone(),
            default_tags: l.default_tags.clone(),
            detailed_monitoring: l.detailed_monitoring,
        }
    }
}

/// An EC2 instance type a new worker could be launched as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InstanceTypeOffer {
    /// EC2 name (`m5zn.metal`).
    pub name: String,
    /// What a new worker of this type offers to labs.
    pub capacity: Resources,
    /// CML node slots it would accept (before the licence limit).
    pub node_slots: u32,
    /// On-demand price per hour, USD.
    pub hourly_usd: f64,
}

/// The instance types scale-up may choose from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PriceTable {
    /// Candidate types, in order of preference when costs tie.
    pub types: Vec<InstanceTypeOffer>,
}

impl From<&ccm_core::placement::PriceTable> for PriceTable {
    fn from(t: &ccm_core::placement::PriceTable) -> Self {
        Self {
            types: t
                .types
                .iter()
                .map(|i| InstanceTypeOffer {
                    name: i.name.clone(),
                    capacity: (&i.capacity).into(),
                    node_slots: i.node_slots,
                    hourly_usd: i.hourly_usd,
                })
                .collect(),
        }
    }
}

/// Which address to reach CML on when nothing else says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointAddress {
    /// The public IPv4.
    Public,
    /// The private IPv4 (ccm runs inside the VPC).
    Private,
}

impl From<core::EndpointAddress> for EndpointAddress {
    fn from(a: core::EndpointAddress) -> Self {
        match a {
            core::EndpointAddress::Public => Self::Public,
            core::EndpointAddress::Private => Self::Private,
        }
    }
}

/// Utilisation thresholds in percent that raise alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Thresholds {
    /// CPU percent.
    pub cpu_percent: f64,
    /// Memory percent.
    pub memory_percent: f64,
    /// Disk percent.
    pub disk_percent: f64,
}

/// The optional auto-import job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AutoImportSettings {
    /// On or off.
    pub enabled: bool,
    /// Regions to search.
    pub regions: Vec<String>,
    /// AMI name pattern of CML workers.
    pub image_name_pattern: String,
    /// Seconds between runs.
    pub interval_seconds: u32,
}

/// How lablets are scheduled and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletSettings {
    /// Lablets starting within this many seconds are placed (the fallback of
    /// the learned lead).
    pub lead_time_seconds: u32,
    /// Whether the lead is learned from the fleet's boots and lab imports.
    pub learn_lead_time: bool,
    /// Percentile of the observed durations the learned lead covers.
    pub lead_time_percentile: u8,
    /// Seconds added to the learned lead.
    pub lead_time_margin_seconds: u32,
    /// Observations needed before the learned lead is used.
    pub lead_time_min_samples: u32,
    /// A lablet not running this long after its start is expired.
    pub start_grace_seconds: u32,
    /// Failed attempts before a lablet ends in `failed`.
    pub max_attempts: u32,
    /// Seconds between scheduling passes.
    pub scheduler_interval_seconds: u32,
    /// Seconds between convergence checks while a lab boots.
    pub convergence_poll_seconds: u32,
    /// Seconds between checks that a ready or running lablet's worker still exists.
    pub health_check_seconds: u32,
    /// Placement policy.
    pub policy: PlacementPolicy,
}

/// What a freshly launched worker is assumed to run before it is observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewWorkerProfile {
    /// Licence kind new workers register with.
    pub licence: Option<LicenceKind>,
    /// CML version of the worker image (`2.9.0`).
    pub cml_version: Option<String>,
    /// Node limit of that licence; `null` for none beyond the node slots.
    pub node_limit: Option<u32>,
    /// Ports lablets may be given.
    pub port_range: PortRange,
}

/// Bounds and pacing of the autoscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AutoscalerSettings {
    /// On or off (off: the fleet only changes when operators change it).
    pub enabled: bool,
    /// Regions new workers are launched in, in order of preference.
    pub regions: Vec<String>,
    /// Most workers (not terminated) per region.
    pub max_workers_per_region: u32,
    /// Running workers never stopped by scale-down.
    pub min_running_workers: u32,
    /// Seconds between scale-up decisions.
    pub scale_up_cooldown_seconds: u32,
    /// Seconds between scale-down decisions.
    pub scale_down_cooldown_seconds: u32,
    /// Seconds a drained worker waits before it is stopped.
    pub drain_grace_seconds: u32,
    /// Whether capacity is kept up for the short-notice bookings the same hour
    /// of the week brought before.
    pub learn_warm_pool: bool,
    /// Weeks of booking history the learned warm pool reads.
    pub warm_pool_history_weeks: u32,
    /// Seconds between autoscaler passes.
    pub interval_seconds: u32,
    /// What newly launched workers are assumed to offer before they are observed.
    pub new_worker_profile: NewWorkerProfile,
}

/// Bounds on topologies read from callers (definitions, lab imports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TopologyLimits {
    /// Largest text, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of lists and mappings.
    pub max_depth: usize,
    /// Most nodes.
    pub max_nodes: usize,
    /// Most links.
    pub max_links: usize,
    /// Most YAML values aliases may add beyond what the text spells out.
    pub max_alias_expansion: usize,
}

/// Settings of the fleet engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EngineSettings {
    /// Launch template for new workers.
    pub launch: LaunchTemplate,
    /// Instance types with their capacity and price.
    pub instance_types: PriceTable,
    /// Address used for CML endpoints.
    pub endpoint_address: EndpointAddress,
    /// Hosts besides each worker's own addresses that may receive the fleet's CML
    /// credentials (`cml.endpoint_allow`: CIDRs, host names, `*.` wildcards).
    #[serde(default)]
    pub endpoint_allow: Vec<String>,
    /// Fleet-wide metrics sweep interval in seconds.
    pub monitoring_interval_seconds: u32,
    /// Sweep interval in seconds for a worker asked to run whose CML is not
    /// available yet.
    pub booting_monitoring_interval_seconds: u32,
    /// Workers whose CML is queried at once during a sweep or a lab sync.
    pub cml_concurrency: usize,
    /// Lab sync interval in seconds.
    pub labs_sync_interval_seconds: u32,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// How long metric points are kept, in seconds.
    pub metrics_retention_seconds: u32,
    /// Metric points younger than this many seconds stay raw.
    pub metrics_raw_seconds: u32,
    /// Older metric points are averaged per bucket of this many seconds.
    pub metrics_step_seconds: u32,
    /// Idle-detection defaults for new workers.
    pub idle: IdleSettings,
    /// Seconds between licence-registration polls.
    pub licence_poll_seconds: u32,
    /// Polls before a registration counts as failed.
    pub licence_poll_attempts: u32,
    /// Seconds between idle checks.
    pub idle_check_interval_seconds: u32,
    /// Automatic import of instances launched outside ccm.
    pub auto_import: AutoImportSettings,
    /// Lablet scheduling and lifecycle.
    pub lablets: LabletSettings,
    /// Fleet autoscaling.
    pub autoscaler: AutoscalerSettings,
    /// Seconds between two full resyncs of the controllers' queues from the store.
    pub resync_seconds: u32,
    /// Events older than this many days leave the event log (0: no age bound).
    pub event_retention_days: u32,
    /// The event log keeps at most this many events; the oldest leave first.
    pub event_retention_max: u64,
    /// Bounds on topologies read from callers.
    pub topology_limits: TopologyLimits,
}

fn regions(regions: &[ccm_core::ids::Region]) -> Vec<String> {
    regions.iter().map(|r| r.0.clone()).collect()
}

impl From<&core::FleetSettings> for EngineSettings {
    fn from(s: &core::FleetSettings) -> Self {
        let l = &s.lablets;
        let a = &s.autoscaler;
        let p = &a.new_worker_profile;
        let t = &s.topology_limits;
        Self {
            launch: (&s.launch).into(),
            instance_types: (&s.instance_types).into(),
            endpoint_address: s.endpoint_address.into(),
            endpoint_allow: s.endpoint_allow.clone().into(),
            monitoring_interval_seconds: s.monitoring_interval_seconds,
            booting_monitoring_interval_seconds: s.booting_monitoring_interval_seconds,
            cml_concurrency: s.cml_concurrency,
            labs_sync_interval_seconds: s.labs_sync_interval_seconds,
            thresholds: Thresholds {
                cpu_percent: s.thresholds.cpu_percent,
                memory_percent: s.thresholds.memory_percent,
                disk_percent: s.thresholds.disk_percent,
            },
            metrics_retention_seconds: s.metrics_retention_seconds,
            metrics_raw_seconds: s.metrics_raw_seconds,
            metrics_step_seconds: s.metrics_step_seconds,
            idle: (&s.idle).into(),
            licence_poll_seconds: s.licence_poll_seconds,
            licence_poll_attempts: s.licence_poll_attempts,
            idle_check_interval_seconds: s.idle_check_interval_seconds,
            auto_import: AutoImportSettings {
                enabled: s.auto_import.enabled,
                regions: regions(&s.auto_import.regions),
                image_name_pattern: s.auto_import.image_name_pattern.clone(),
                interval_seconds: s.auto_import.interval_seconds,
            },
            lablets: LabletSettings {
                lead_time_seconds: l.lead_time_seconds,
                learn_lead_time: l.learn_lead_time,
                lead_time_percentile: l.lead_time_percentile,
                lead_time_margin_seconds: l.lead_time_margin_seconds,
                lead_time_min_samples: l.lead_time_min_samples,
                start_grace_seconds: l.start_grace_seconds,
                max_attempts: l.max_attempts,
                scheduler_interval_seconds: l.scheduler_interval_seconds,
                convergence_poll_seconds: l.convergence_poll_seconds,
                health_check_seconds: l.health_check_seconds,
                policy: l.policy.into(),
            },
            autoscaler: AutoscalerSettings {
                enabled: a.enabled,
                regions: regions(&a.regions),
                max_workers_per_region: a.max_workers_per_region,
                min_running_workers: a.min_running_workers,
                scale_up_cooldown_seconds: a.scale_up_cooldown_seconds,
                scale_down_cooldown_seconds: a.scale_down_cooldown_seconds,
                drain_grace_seconds: a.drain_grace_seconds,
                learn_warm_pool: a.learn_warm_pool,
                warm_pool_history_weeks: a.warm_pool_history_weeks,
                interval_seconds: a.interval_seconds,
                new_worker_profile: NewWorkerProfile {
                    licence: p.licence.map(Into::into),
                    cml_version: p.cml_version.map(|v| v.to_string()),
                    node_limit: p.node_limit,
                    port_range: (&p.port_range).into(),
                },
            },
            resync_seconds: s.resync_seconds,
            event_retention_days: s.event_retention_days,
            event_retention_max: s.event_retention_max,
            topology_limits: TopologyLimits {
                max_bytes: t.max_bytes,
                max_depth: t.max_depth,
                max_nodes: t.max_nodes,
                max_links: t.max_links,
                max_alias_expansion: t.max_alias_expansion,
            },
        }
    }
}

/// The server's own bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerSettings {
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Seconds between heartbeats on an idle event stream.
    pub sse_heartbeat_seconds: u64,
    /// Session cookies carry `Secure`.
    pub cookie_secure: bool,
    /// Configured regions (the first is the default of creates and imports).
    pub regions: Vec<String>,
    /// Users may book lablets for themselves.
    pub lablet_self_service: bool,
    /// Seconds a client has to send its request headers.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request may take.
    pub request_timeout_seconds: u64,
    /// Seconds an idle connection is kept.
    pub idle_timeout_seconds: u64,
    /// Most connections at once.
    pub max_connections: usize,
    /// Most event streams one caller may hold open.
    pub sse_streams_per_principal: usize,
    /// Events buffered per stream before a slow reader is dropped.
    pub sse_buffer_events: usize,
}

/// The settings this process runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SettingsView {
    /// The engine's settings.
    pub engine: EngineSettings,
    /// Whether a CML licence token is configured (the token itself is never shown).
    pub licence_token_configured: bool,
    /// The server's bounds.
    pub server: ServerSettings,
}

fn sample_engine() -> core::FleetSettings {
    let mut settings = core::FleetSettings::default();
    settings.launch.images.insert(
        "cml-2.9".into(),
        ccm_core::ports::cloud::ImageSelector::Id(ccm_core::ids::ImageId::new(
            "ami-0123456789abcdef0",
        )),
    );
    settings.launch.subnet_id = Some("subnet-0abc".into());
    settings.launch.security_group_ids = vec!["sg-0abc".into()];
    settings.launch.key_name = Some("ops".into());
    settings.launch.iam_instance_profile = Some("ccm-worker".into());
    settings
        .launch
        .default_tags
        .insert("team".into(), "netops".into());
    settings.auto_import.regions = vec![ccm_core::ids::Region::new("eu-west-1")];
    settings.autoscaler.new_worker_profile.node_limit = Some(100);
    settings.endpoint_allow = ccm_core::worker::EndpointAllowList::try_from(vec![
        "10.0.0.0/8".to_owned(),
        "*.example.net".to_owned(),
    ])
    .unwrap_or_default();
    settings
}

fn sample_server() -> ServerSettings {
    ServerSettings {
        body_limit_bytes: 2 * 1024 * 1024,
        sse_heartbeat_seconds: 15,
        cookie_secure: true,
        regions: vec!["eu-west-1".into(), "us-east-1".into()],
        lablet_self_service: false,
        header_read_timeout_seconds: 10,
        request_timeout_seconds: 60,
        idle_timeout_seconds: 120,
        max_connections: 1024,
        sse_streams_per_principal: 4,
        sse_buffer_events: 256,
    }
}

impl Example for SettingsView {
    fn example() -> Self {
        Self {
            engine: EngineSettings::from(&sample_engine()),
            licence_token_configured: true,
            server: sample_server(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_settings_are_the_domain_settings_as_json() {
        let domain = sample_engine();
        assert_eq!(Vec::<String>::from(domain.endpoint_allow.clone()).len(), 2);
        assert_eq!(
            serde_json::to_value(EngineSettings::from(&domain)).unwrap(),
            serde_json::to_value(&domain).unwrap()
        );
        let mut other = core::FleetSettings {
            endpoint_address: core::EndpointAddress::Private,
            ..core::FleetSettings::default()
        };
        other.lablets.policy = ccm_core::placement::Policy::Spread;
        other.autoscaler.new_worker_profile.licence = None;
        other.autoscaler.new_worker_profile.cml_version = None;
        other.launch.image =
            ccm_core::ports::cloud::ImageSelector::Id(ccm_core::ids::ImageId::new("ami-1"));
        assert_eq!(
            serde_json::to_value(EngineSettings::from(&other)).unwrap(),
            serde_json::to_value(&other).unwrap()
        );
    }
}
