//! The engine's settings from a [`Config`]: the price table, lease timing, fleet
//! settings (the simulator's short intervals, the demo's autoscaler) and image
//! selectors.

use ccm_core::fleet::{FleetSettings, Thresholds};
use ccm_core::ids::{ImageId, Region};
use ccm_core::placement::{InstanceType, PriceTable};
use ccm_core::ports::cloud::ImageSelector;
use ccm_core::runtime::LeaseSettings;

use crate::config::{CloudKind, Config};

/// The price table in force: the configured one or the built-in bare-metal table.
pub fn price_table(config: &Config) -> PriceTable {
    match &config.cloud.instance_types {
        Some(types) => PriceTable {
            types: types
                .iter()
                .map(|t| {
                    InstanceType::new(
                        t.name.clone(),
                        t.vcpus,
                        t.memory_gib,
                        t.storage_gib,
                        t.node_slots,
                        t.hourly_usd,
                    )
                })
                .collect(),
        },
        None => PriceTable::default(),
    }
}

/// Lease timing in force.
pub fn lease_settings(config: &Config) -> LeaseSettings {
    let defaults = LeaseSettings::default();
    LeaseSettings {
        duration_seconds: config
            .engine
            .lease_seconds
            .unwrap_or(defaults.duration_seconds),
        renew_seconds: config
            .engine
            .lease_renew_seconds
            .unwrap_or(defaults.renew_seconds),
        ..defaults
    }
}

/// The engine's settings: the configured values over the provider's defaults
/// (short intervals on the simulator, so a newcomer sees the fleet move).
pub fn fleet_settings(config: &Config) -> FleetSettings {
    let mut s = FleetSettings::default();
    let e = &config.engine;
    let sim = config.cloud.provider == CloudKind::Sim;
    if sim {
        s.monitoring_interval_seconds = 15;
        s.labs_sync_interval_seconds = 60;
        s.idle_check_interval_seconds = 30;
        s.licence_poll_seconds = 5;
        s.lablets.scheduler_interval_seconds = 15;
        s.lablets.convergence_poll_seconds = 10;
        s.idle.timeout_minutes = 30;
        s.idle.snooze_minutes = 10;
    }
    if sim && config.cloud.sim.seed_demo {
        // The demo shows the engine deciding on its own (a simulated fleet costs
        // nothing): workers started for lablets coming up, spare ones drained and
        // stopped within minutes. `engine.autoscaler` below still wins.
        s.autoscaler.enabled = true;
        s.autoscaler.interval_seconds = 15;
        s.autoscaler.scale_up_cooldown_seconds = 30;
        s.autoscaler.scale_down_cooldown_seconds = 60;
        s.autoscaler.drain_grace_seconds = 120;
    }
    let launch = &config.cloud.launch;
    s.launch.image = match &launch.image_id {
        Some(id) => ImageSelector::Id(ImageId::new(id.clone())),
        None => ImageSelector::NamePattern(launch.image_name_pattern.clone()),
    };
    s.launch.images = launch
        .images
        .iter()
        .map(|(name, image)| (name.clone(), image_selector(image)))
        .collect();
    s.launch.instance_type = launch.instance_type.clone();
    s.launch.subnet_id = launch.subnet_id.clone();
    s.launch.security_group_ids = launch.security_group_ids.clone();
    s.launch.key_name = launch.key_name.clone();
    s.launch.iam_instance_profile = launch.iam_instance_profile.clone();
    s.launch.detailed_monitoring = launch.detailed_monitoring;
    s.launch.default_tags = launch.tags.clone();
    s.instance_types = price_table(config);
    s.endpoint_address = config.cml.endpoint_address;
    // `config::check` refuses a bad entry before this runs; should one slip
    // through, the empty list (each instance's own addresses only) fails closed.
    s.endpoint_allow = ccm_core::worker::EndpointAllowList::parse(&config.cml.endpoint_allow)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cml.endpoint_allow ignored");
            ccm_core::worker::EndpointAllowList::default()
        });
    if let Some(v) = e.monitoring_interval_seconds {
        s.monitoring_interval_seconds = v;
    }
    if let Some(v) = e.booting_monitoring_interval_seconds {
        s.booting_monitoring_interval_seconds = v;
    }
    if let Some(v) = e.cml_concurrency {
        s.cml_concurrency = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(v) = e.labs_sync_interval_seconds {
        s.labs_sync_interval_seconds = v;
    }
    if let Some(v) = e.resync_seconds {
        s.resync_seconds = v;
    }
    if let Some(v) = e.idle_check_interval_seconds {
        s.idle_check_interval_seconds = v;
    }
    if let Some(v) = e.idle_detection {
        s.idle.enabled = v;
    }
    if let Some(v) = e.idle_timeout_minutes {
        s.idle.timeout_minutes = v;
    }
    let t = Thresholds::default();
    s.thresholds = Thresholds {
        cpu_percent: e.cpu_alert_percent.unwrap_or(t.cpu_percent),
        memory_percent: e.memory_alert_percent.unwrap_or(t.memory_percent),
        disk_percent: e.disk_alert_percent.unwrap_or(t.disk_percent),
    };
    if let Some(on) = e.autoscaler {
        s.autoscaler.enabled = on;
    }
    let retention = e.metric_retention();
    s.metrics_raw_seconds = retention.raw_seconds;
    s.metrics_step_seconds = retention.step_seconds;
    s.metrics_retention_seconds = retention.keep_seconds;
    if let Some(days) = e.event_retention_days {
        s.event_retention_days = days;
    }
    if let Some(max) = e.event_retention_max {
        s.event_retention_max = max;
    }
    s.autoscaler.regions = config.cloud.regions.iter().map(Region::new).collect();
    apply_pacing(config, &mut s);
    s.topology_limits = config.limits.topology();
    s
}

/// A configured image: an AMI id (`ami-…`) or else an AMI name pattern.
pub fn image_selector(image: &str) -> ImageSelector {
    if image.starts_with("ami-") && !image.contains('*') {
        ImageSelector::Id(ImageId::new(image))
    } else {
        ImageSelector::NamePattern(image.to_owned())
    }
}

/// The autoscaler's bounds, auto-import, idle snooze and the lablets' timing
/// and placement, where the configuration sets them (`config::check` bounds them).
fn apply_pacing(config: &Config, s: &mut FleetSettings) {
    let e = &config.engine;
    let set = |target: &mut u32, value: Option<u32>| {
        if let Some(v) = value {
            *target = v;
        }
    };
    set(&mut s.idle.snooze_minutes, e.idle_snooze_minutes);
    let a = &mut s.autoscaler;
    set(
        &mut a.max_workers_per_region,
        e.autoscaler_max_workers_per_region,
    );
    set(&mut a.min_running_workers, e.autoscaler_min_running_workers);
    set(
        &mut a.scale_up_cooldown_seconds,
        e.autoscaler_scale_up_cooldown_seconds,
    );
    set(
        &mut a.scale_down_cooldown_seconds,
        e.autoscaler_scale_down_cooldown_seconds,
    );
    set(&mut a.drain_grace_seconds, e.autoscaler_drain_grace_seconds);
    if let Some(on) = e.autoscaler_learn_warm_pool {
        a.learn_warm_pool = on;
    }
    set(
        &mut a.warm_pool_history_weeks,
        e.autoscaler_warm_pool_history_weeks,
    );
    let i = &mut s.auto_import;
    if let Some(on) = e.auto_import {
        i.enabled = on;
    }
    i.regions = e
        .auto_import_regions
        .as_ref()
        .unwrap_or(&config.cloud.regions)
        .iter()
        .map(Region::new)
        .collect();
    if let Some(pattern) = &e.auto_import_image_name_pattern {
        i.image_name_pattern = pattern.clone();
    }
    set(&mut i.interval_seconds, e.auto_import_interval_seconds);
    let l = &config.lablets;
    set(&mut s.lablets.lead_time_seconds, l.lead_time_seconds);
    if let Some(learn) = l.learn_lead_time {
        s.lablets.learn_lead_time = learn;
    }
    if let Some(percentile) = l.lead_time_percentile {
        s.lablets.lead_time_percentile = percentile;
    }
    set(
        &mut s.lablets.lead_time_margin_seconds,
        l.lead_time_margin_seconds,
    );
    set(
        &mut s.lablets.lead_time_min_samples,
        l.lead_time_min_samples,
    );
    set(&mut s.lablets.start_grace_seconds, l.start_grace_seconds);
    if let Some(policy) = l.placement_policy {
        s.lablets.policy = policy;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_demo_runs_the_autoscaler_and_nothing_else_does_unless_asked() {
        let demo = fleet_settings(&Config::default());
        assert!(demo.autoscaler.enabled);
        assert!(demo.autoscaler.drain_grace_seconds <= 120);

        let mut no_demo = Config::default();
        no_demo.cloud.sim.seed_demo = false;
        assert!(!fleet_settings(&no_demo).autoscaler.enabled);

        let mut aws = Config::default();
        aws.cloud.provider = CloudKind::Aws;
        let aws_settings = fleet_settings(&aws);
        assert!(!aws_settings.autoscaler.enabled);
        assert_eq!(
            aws_settings.autoscaler.drain_grace_seconds,
            FleetSettings::default().autoscaler.drain_grace_seconds
        );

        let mut demo_off = Config::default();
        demo_off.engine.autoscaler = Some(false);
        assert!(!fleet_settings(&demo_off).autoscaler.enabled);
    }
}
