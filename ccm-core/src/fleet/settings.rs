//! Fleet settings: what the engine needs to know that is not in any resource.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::ids::Region;
use crate::placement::{NewWorkerProfile, Policy, PriceTable};
use crate::ports::cloud::ImageSelector;
use crate::ports::metric_series::MetricRetention;
use crate::worker::Capacity;
use crate::worker::IdleSettings;
use crate::worker::NewWorker;

/// How new instances are launched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplate {
    /// Image to launch.
    pub image: ImageSelector,
    /// Other images a worker may be created from, by a readable name
    /// (`cml-2.9` → an AMI id or name pattern).
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

impl LaunchTemplate {
    /// The image a worker is launched from: its configured one by name, else
    /// the template's own. A name no longer configured is an error rather than
    /// a silent launch of another image.
    pub fn image_for(&self, name: Option<&str>) -> Result<&ImageSelector, CoreError> {
        match name {
            None => Ok(&self.image),
            Some(name) => self.images.get(name).ok_or_else(|| {
                let known: Vec<&str> = self.images.keys().map(String::as_str).collect();
                CoreError::validation(
                    "image",
                    if known.is_empty() {
                        format!("`{name}` is not a configured image; none are configured (cloud.launch.images)")
                    } else {
                        format!("`{name}` is not a configured image; configured: {}", known.join(", "))
                    },
                )
            }),
        }
    }
}

impl Default for LaunchTemplate {
    fn default() -> Self {
        Self {
            image: ImageSelector::NamePattern("cml-2.9*".into()),
            images: BTreeMap::new(),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: Vec::new(),
            key_name: None,
            iam_instance_profile: None,
            default_tags: BTreeMap::new(),
            detailed_monitoring: true,
        }
    }
}

/// Which address to reach CML on when no `ccm:cml-endpoint` tag says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointAddress {
    /// The public IPv4.
    #[default]
    Public,
    /// The private IPv4 (ccm runs inside the VPC).
    Private,
}

/// Utilisation thresholds in percent that raise alerts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// CPU percent.
    pub cpu_percent: f64,
    /// Memory percent.
    pub memory_percent: f64,
    /// Disk percent.
    pub disk_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            cpu_percent: 90.0,
            memory_percent: 90.0,
            disk_percent: 90.0,
        }
    }
}

fn default_resync_seconds() -> u32 {
    300
}

fn default_event_retention_days() -> u32 {
    30
}

/// Ten million events: a few GB of log at most, and weeks of a large fleet's
/// state changes.
fn default_event_retention_max() -> u64 {
    10_000_000
}

/// Settings of the fleet engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetSettings {
    /// Launch template for new workers.
    pub launch: LaunchTemplate,
    /// Instance types with their capacity and price (capacity of new and imported workers).
    pub instance_types: PriceTable,
    /// Address used for CML endpoints.
    pub endpoint_address: EndpointAddress,
    /// Hosts besides each worker's own addresses that may receive the fleet's CML
    /// credentials (`cml.endpoint_allow`).
    #[serde(default)]
    pub endpoint_allow: crate::worker::EndpointAllowList,
    /// Fleet-wide metrics sweep interval in seconds.
    pub monitoring_interval_seconds: u32,
    /// Sweep interval in seconds for a worker asked to run whose CML is not
    /// available yet (the shorter of this and its own interval applies). The
    /// sweep is what sees CML come up, so at five minutes a boot is seen up to
    /// five minutes late, and every lead time pays for that.
    #[serde(default = "default_booting_monitoring_interval_seconds")]
    pub booting_monitoring_interval_seconds: u32,
    /// Workers whose CML is queried at once during a sweep or a lab sync.
    pub cml_concurrency: usize,
    /// Lab sync interval in seconds.
    pub labs_sync_interval_seconds: u32,
    /// Alert thresholds.
    pub thresholds: Thresholds,
    /// How long metric points are kept, in seconds (the retention's `keep_seconds`).
    pub metrics_retention_seconds: u32,
    /// Metric points younger than this many seconds stay raw.
    #[serde(default = "default_metrics_raw_seconds")]
    pub metrics_raw_seconds: u32,
    /// Older metric points are averaged per bucket of this many seconds.
    #[serde(default = "default_metrics_step_seconds")]
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
    /// Seconds between two full resyncs of the controllers' queues from the
    /// store (the safety net beside following the event log, as informers do).
    #[serde(default = "default_resync_seconds")]
    pub resync_seconds: u32,
    /// Events older than this many days leave the event log (0: no age bound).
    #[serde(default = "default_event_retention_days")]
    pub event_retention_days: u32,
    /// The event log keeps at most this many events; the oldest leave first.
    #[serde(default = "default_event_retention_max")]
    pub event_retention_max: u64,
    /// Bounds on topologies read from callers (definitions, lab imports).
    #[serde(default)]
    pub topology_limits: crate::topology::TopologyLimits,
}

/// How lablets are scheduled and run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabletSettings {
    /// Lablets starting within this many seconds are placed (worker boot + lab
    /// instantiation: 35 minutes by default). With `learn_lead_time` it is the
    /// fallback while too few boots and lab imports have been observed.
    pub lead_time_seconds: u32,
    /// Learn the lead time from the fleet's own history (boot to CML available,
    /// lab import to ready) instead of using `lead_time_seconds` throughout.
    #[serde(default = "default_learn_lead_time")]
    pub learn_lead_time: bool,
    /// The percentile of the observed durations the learned lead covers (50–100).
    #[serde(default = "default_lead_time_percentile")]
    pub lead_time_percentile: u8,
    /// Seconds added to the learned durations for what the history has not shown.
    #[serde(default = "default_lead_time_margin_seconds")]
    pub lead_time_margin_seconds: u32,
    /// Boots (per region and instance type) and lab imports observed before the
    /// learned lead replaces `lead_time_seconds`.
    #[serde(default = "default_lead_time_min_samples")]
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
    pub policy: Policy,
}

impl Default for LabletSettings {
    fn default() -> Self {
        Self {
            lead_time_seconds: 35 * 60,
            learn_lead_time: default_learn_lead_time(),
            lead_time_percentile: default_lead_time_percentile(),
            lead_time_margin_seconds: default_lead_time_margin_seconds(),
            lead_time_min_samples: default_lead_time_min_samples(),
            start_grace_seconds: 10 * 60,
            max_attempts: 5,
            scheduler_interval_seconds: 60,
            convergence_poll_seconds: 30,
            health_check_seconds: 300,
            policy: Policy::Pack,
        }
    }
}

fn default_learn_lead_time() -> bool {
    true
}
fn default_lead_time_percentile() -> u8 {
    95
}
fn default_booting_monitoring_interval_seconds() -> u32 {
    30
}

fn default_lead_time_margin_seconds() -> u32 {
    180
}
fn default_lead_time_min_samples() -> u32 {
    5
}

/// Bounds and pacing of the autoscaler.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscalerSettings {
    /// Off (the default): the fleet only changes when operators change it.
    pub enabled: bool,
    /// Regions new workers are launched in, in order of preference.
    pub regions: Vec<Region>,
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
    /// Seconds between autoscaler passes.
    pub interval_seconds: u32,
    /// What newly launched workers are assumed to offer before they are observed.
    pub new_worker_profile: NewWorkerProfile,
    /// Keep capacity up for the short-notice bookings the same hour of the week
    /// brought before (`fleet::warm_pool`). Off by default.
    #[serde(default)]
    pub learn_warm_pool: bool,
    /// Weeks of booking history the learned warm pool reads (1 to 8; the
    /// busiest counts).
    #[serde(default = "default_warm_pool_history_weeks")]
    pub warm_pool_history_weeks: u32,
}

fn default_warm_pool_history_weeks() -> u32 {
    2
}

impl Default for AutoscalerSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            regions: vec![Region::new("us-east-1")],
            max_workers_per_region: 20,
            min_running_workers: 0,
            scale_up_cooldown_seconds: 120,
            scale_down_cooldown_seconds: 300,
            drain_grace_seconds: 600,
            interval_seconds: 60,
            new_worker_profile: NewWorkerProfile::default(),
            learn_warm_pool: false,
            warm_pool_history_weeks: default_warm_pool_history_weeks(),
        }
    }
}

/// The optional auto-import job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoImportSettings {
    /// Off by default.
    pub enabled: bool,
    /// Regions to search.
    pub regions: Vec<Region>,
    /// AMI name pattern of CML workers.
    pub image_name_pattern: String,
    /// Seconds between runs.
    pub interval_seconds: u32,
}

impl Default for AutoImportSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            regions: Vec::new(),
            image_name_pattern: "cml-*".into(),
            interval_seconds: 3600,
        }
    }
}

impl Default for FleetSettings {
    fn default() -> Self {
        Self {
            launch: LaunchTemplate::default(),
            instance_types: PriceTable::default(),
            endpoint_address: EndpointAddress::default(),
            endpoint_allow: crate::worker::EndpointAllowList::default(),
            monitoring_interval_seconds: 300,
            booting_monitoring_interval_seconds: default_booting_monitoring_interval_seconds(),
            cml_concurrency: 64,
            labs_sync_interval_seconds: 1800,
            thresholds: Thresholds::default(),
            metrics_retention_seconds: MetricRetention::default().keep_seconds,
            metrics_raw_seconds: default_metrics_raw_seconds(),
            metrics_step_seconds: default_metrics_step_seconds(),
            idle: IdleSettings::default(),
            licence_poll_seconds: 30,
            licence_poll_attempts: 40,
            idle_check_interval_seconds: 60,
            auto_import: AutoImportSettings::default(),
            lablets: LabletSettings::default(),
            autoscaler: AutoscalerSettings::default(),
            resync_seconds: default_resync_seconds(),
            event_retention_days: default_event_retention_days(),
            event_retention_max: default_event_retention_max(),
            topology_limits: crate::topology::TopologyLimits::default(),
        }
    }
}

fn default_metrics_raw_seconds() -> u32 {
    MetricRetention::default().raw_seconds
}

fn default_metrics_step_seconds() -> u32 {
    MetricRetention::default().step_seconds
}

impl FleetSettings {
    /// How the metric series is compacted by every sweep.
    pub fn metric_retention(&self) -> MetricRetention {
        MetricRetention {
            raw_seconds: self.metrics_raw_seconds,
            step_seconds: self.metrics_step_seconds,
            keep_seconds: self.metrics_retention_seconds,
        }
    }

    /// A new-worker input with the fleet's defaults: capacity from the instance
    /// type, idle settings from these settings, no labels or tags.
    pub(crate) fn new_worker(
        &self,
        name: String,
        region: Region,
        instance_type: String,
    ) -> NewWorker {
        NewWorker {
            capacity: capacity_for(&self.instance_types, &instance_type),
            name,
            region,
            instance_type,
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: self.idle,
            created_by: None,
            image: None,
        }
    }
}

/// Declared capacity of a worker of `instance_type`. A type missing from the table
/// offers nothing, so nothing is placed on it until an operator adds the type.
pub fn capacity_for(table: &PriceTable, instance_type: &str) -> Capacity {
    match table.types.iter().find(|t| t.name == instance_type) {
        Some(t) => Capacity::new(t.capacity, t.node_slots),
        None => {
            tracing::warn!(
                instance_type,
                "instance type missing from the price table; capacity 0"
            );
            Capacity::new(crate::resources::Resources::ZERO, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_get_their_capacity_and_unknown_ones_nothing() {
        let table = PriceTable::default();
        let metal = capacity_for(&table, "m5zn.metal");
        assert_eq!(
            metal.declared,
            crate::resources::Resources::new(48, 192, 1000)
        );
        assert!(metal.node_slots > 0);
        let odd = capacity_for(&table, "t3.micro");
        assert_eq!(odd.declared, crate::resources::Resources::ZERO);
        assert_eq!(odd.node_slots, 0);
    }
}
