//! The three fleet policies, expressed with the engine's existing settings, and
//! how the always-on fleet is sized.

use ccm_core::definition::ResourceNeeds;
use ccm_core::fleet::FleetSettings;
use ccm_core::ids::{LabletId, Region, WorkerId};
use ccm_core::placement::{
    lower_bound, place, PlacementRequest, Policy as Packing, PriceTable, WorkerCandidate,
};
use ccm_core::resources::Resources;
use ccm_core::version::SemVer;
use ccm_core::worker::LicenceKind;
use serde::{Deserialize, Serialize};

use super::traffic::{Traffic, WeekConfig};

/// How the fleet follows demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// The names `as_str` gives, which the example and `ccm.simulate_week` take.
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// ccm's autoscaler with its defaults: the lead time learned from the week's
    /// own boots and lab imports (35 min until enough were seen), drain grace.
    Autoscaler,
    /// The autoscaler with one fixed lead time (35 min), as before it learned:
    /// what the learned lead buys is the difference to [`Policy::Autoscaler`].
    AutoscalerFixedLead,
    /// The autoscaler with lablets placed by lifetime
    /// ([`Packing::Lifetime`]): on the worker whose lablets end when theirs do,
    /// so workers empty together. What time-aware placement buys is the
    /// difference to [`Policy::Autoscaler`], which packs.
    AutoscalerLifetime,
    /// The autoscaler with the learned warm pool on
    /// (`autoscaler.learn_warm_pool`): room kept for the short-notice bookings
    /// the same hour brought a week before. What it buys, and costs, is the
    /// difference to [`Policy::Autoscaler`] on short-notice traffic.
    AutoscalerWarmPool,
    /// A fleet sized for the peak, launched before the week, never stopped.
    AlwaysOn,
    /// The predecessor's rule: start on demand with no lead time, stop after 60
    /// idle minutes.
    Reactive,
}

impl Policy {
    /// Every policy, in report order.
    pub const ALL: [Policy; 6] = [
        Policy::Autoscaler,
        Policy::AutoscalerFixedLead,
        Policy::AutoscalerLifetime,
        Policy::AutoscalerWarmPool,
        Policy::AlwaysOn,
        Policy::Reactive,
    ];

    /// The policies of the short-notice weeks ([`WeekConfig::short_notice`]).
    pub const SHORT_NOTICE: [Policy; 4] = [
        Policy::Autoscaler,
        Policy::AutoscalerWarmPool,
        Policy::AlwaysOn,
        Policy::Reactive,
    ];

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Autoscaler => "autoscaler",
            Policy::AutoscalerFixedLead => "autoscaler-fixed-lead",
            Policy::AutoscalerLifetime => "autoscaler-lifetime",
            Policy::AutoscalerWarmPool => "autoscaler-warm-pool",
            Policy::AlwaysOn => "always-on",
            Policy::Reactive => "reactive",
        }
    }
}

/// A lablet not ready this long after its start is expired by the engine; the week
/// keeps it waiting instead, so lateness is measured rather than hidden as expiry.
const START_GRACE_SECONDS: u32 = 6 * 3600;
/// The predecessor paused workers after this long without activity.
const REACTIVE_IDLE_SECONDS: u32 = 3600;
/// Node limit of the simulated workers' licence (the simulator is set to match).
pub(crate) const NODE_LIMIT: u32 = 100;

/// The engine settings of `policy`.
pub(crate) fn settings(policy: Policy, config: &WeekConfig) -> FleetSettings {
    let mut settings = FleetSettings {
        instance_types: PriceTable {
            types: vec![config.instance_type.clone()],
        },
        ..FleetSettings::default()
    };
    settings.launch.instance_type = config.instance_type.name.clone();
    settings.lablets.start_grace_seconds = START_GRACE_SECONDS;
    settings.booting_monitoring_interval_seconds = config.booting_poll_seconds;
    let mut regions: Vec<Region> = Vec::new();
    for zone in &config.zones {
        let region = Region::new(zone.region.as_str());
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    let autoscaler = &mut settings.autoscaler;
    autoscaler.regions = regions;
    autoscaler.max_workers_per_region = config.max_workers_per_region;
    // New workers come up as the simulated AMI does: registered, CML 2.9.1.
    let profile = &mut autoscaler.new_worker_profile;
    profile.licence = Some(LicenceKind::Personal);
    profile.node_limit = Some(NODE_LIMIT);
    profile.cml_version = Some(SemVer::new(2, 9, 1));
    match policy {
        Policy::Autoscaler => autoscaler.enabled = true,
        Policy::AutoscalerFixedLead => {
            autoscaler.enabled = true;
            settings.lablets.learn_lead_time = false;
        }
        Policy::AutoscalerLifetime => {
            autoscaler.enabled = true;
            settings.lablets.policy = Packing::Lifetime;
        }
        Policy::AutoscalerWarmPool => {
            autoscaler.enabled = true;
            autoscaler.learn_warm_pool = true;
        }
        Policy::AlwaysOn => autoscaler.enabled = false,
        Policy::Reactive => {
            // The engine's autoscaler with no lead time is "start on demand": a
            // worker is started (or launched) only once a lablet's start has come
            // and it fits nowhere. An empty worker is drained at once and stopped
            // after the grace, which is the predecessor's "60 idle minutes";
            // idle detection says the same for workers nobody drained.
            autoscaler.enabled = true;
            autoscaler.drain_grace_seconds = REACTIVE_IDLE_SECONDS;
            settings.lablets.lead_time_seconds = 0;
            settings.lablets.learn_lead_time = false;
            settings.idle.timeout_minutes = REACTIVE_IDLE_SECONDS / 60;
        }
    }
    settings
}

/// What one lablet of `definition` needs.
pub(crate) fn needs_of(config: &WeekConfig, definition: usize) -> ResourceNeeds {
    let shape = &config.definitions[definition];
    ResourceNeeds {
        resources: Resources::new(shape.cpus, shape.memory_gib, shape.storage_gib),
        nodes: shape.nodes,
        ports: shape.ports,
    }
}

/// Workers the always-on fleet gets: the most workers that placement (pack) needs
/// at any instant for the lablets that hold capacity then — from the lead time
/// before their start to their end, since that is how long the scheduler reserves
/// them — plus one spare in ten, the headroom an operator sizing "for the peak"
/// keeps for fragmentation.
pub(crate) fn always_on_size(
    config: &WeekConfig,
    traffic: &Traffic,
    capacity: Resources,
    lead_seconds: i64,
) -> usize {
    let holds = |at: i64| {
        traffic.bookings.iter().enumerate().filter(move |(_, b)| {
            b.start_offset_seconds - lead_seconds <= at && at < b.end_offset_seconds()
        })
    };
    let per_worker = ResourceNeeds {
        resources: capacity,
        nodes: NODE_LIMIT,
        ports: u32::MAX,
    };
    let mut peak = 0usize;
    let mut instants: Vec<i64> = traffic
        .bookings
        .iter()
        .map(|b| b.start_offset_seconds - lead_seconds)
        .collect();
    instants.sort_unstable();
    instants.dedup();
    for at in instants {
        let requests: Vec<PlacementRequest> = holds(at)
            .map(|(i, b)| {
                PlacementRequest::new(
                    LabletId::from_u128(i as u128 + 1),
                    needs_of(config, b.definition),
                )
            })
            .collect();
        let demand: Vec<ResourceNeeds> = requests.iter().map(|r| r.needs).collect();
        let bound = lower_bound(&demand, &per_worker).unwrap_or(0) as usize;
        // Twice the bound plus a few is always enough room for pack to show what it uses.
        let workers: Vec<WorkerCandidate> = (0..bound * 2 + 4)
            .map(|w| WorkerCandidate::new(WorkerId::from_u128(w as u128 + 1), capacity, NODE_LIMIT))
            .collect();
        let plan = place(&workers, &requests, Packing::Pack);
        peak = peak.max(plan.workers_used() + plan.unplaced.len());
    }
    peak + peak.div_ceil(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_its_policy_as_the_command_line_and_python_do() {
        for policy in Policy::ALL {
            let json = serde_json::to_value(policy).unwrap_or_default();
            assert_eq!(json, serde_json::json!(policy.as_str()));
        }
    }
}
