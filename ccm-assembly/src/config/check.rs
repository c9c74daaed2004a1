//! Semantic checks of a configuration that has the right shape: every problem is
//! reported with its field path.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use ccm_core::fleet::MAX_WARM_POOL_HISTORY_WEEKS;
use url::Url;

use super::{CloudKind, CmlTls, Config, Problem};

/// Most events `server.sse_buffer_events` may keep in memory (a few KiB each).
const MAX_SSE_BUFFER_EVENTS: usize = 65_536;

/// Fastest a simulated fleet may run: an hour a second.
const MAX_SIM_TIME_SCALE: f64 = 3_600.0;

/// Most workers `engine.cml_concurrency` may query at once (six connections each).
const MAX_CML_CONCURRENCY: u32 = 1024;

/// Everything wrong with `config` (empty when it can be used).
pub fn check(config: &Config) -> Vec<Problem> {
    let mut p = Vec::new();
    server(config, &mut p);
    database(config, &mut p);
    cloud(config, &mut p);
    cml(config, &mut p);
    engine(config, &mut p);
    auth(config, &mut p);
    alerts_and_telemetry(config, &mut p);
    if let Err(error) = tracing_subscriber::EnvFilter::try_new(&config.log.level) {
        p.push(Problem::new(
            "log.level",
            format!("`{}` is not a log filter: {error}", config.log.level),
        ));
    }
    p
}

fn http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("`{value}` is not a URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{value}` must start with http:// or https://"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]") | Some("::1")
    )
}

fn server(config: &Config, p: &mut Vec<Problem>) {
    let s = &config.server;
    if s.listen.parse::<SocketAddr>().is_err() {
        p.push(Problem::new(
            "server.listen",
            format!(
                "`{}` is not a socket address (expected IP:port, e.g. 127.0.0.1:8020)",
                s.listen
            ),
        ));
    }
    if let Some(url) = &s.public_url {
        if let Err(reason) = http_url(url) {
            p.push(Problem::new("server.public_url", reason));
        }
    }
    if s.body_limit_bytes < 1024 {
        p.push(Problem::new(
            "server.body_limit_bytes",
            "must be at least 1024",
        ));
    }
    if s.sse_heartbeat_seconds == 0 {
        p.push(Problem::new(
            "server.sse_heartbeat_seconds",
            "must be at least 1",
        ));
    }
    for (field, value) in [
        (
            "server.header_read_timeout_seconds",
            s.header_read_timeout_seconds,
        ),
        ("server.request_timeout_seconds", s.request_timeout_seconds),
        ("server.idle_timeout_seconds", s.idle_timeout_seconds),
        ("server.max_connections", s.max_connections as u64),
        (
            "server.sse_streams_per_principal",
            s.sse_streams_per_principal as u64,
        ),
        ("server.sse_buffer_events", s.sse_buffer_events as u64),
    ] {
        if value == 0 {
            p.push(Problem::new(field, "must be at least 1"));
        }
    }
    if s.sse_buffer_events > MAX_SSE_BUFFER_EVENTS {
        p.push(Problem::new(
            "server.sse_buffer_events",
            format!("must be at most {MAX_SSE_BUFFER_EVENTS} (events held in memory)"),
        ));
    }
    // The idle watchdog closes a connection that moves no byte: an event stream
    // must send its heartbeat, and a handler must answer, before that.
    if s.idle_timeout_seconds <= s.sse_heartbeat_seconds.max(s.request_timeout_seconds) {
        p.push(Problem::new(
            "server.idle_timeout_seconds",
            "must be longer than server.sse_heartbeat_seconds and server.request_timeout_seconds",
        ));
    }
    limits(config, p);
}

fn limits(config: &Config, p: &mut Vec<Problem>) {
    let l = &config.limits;
    for (field, value) in [
        ("limits.topology_max_bytes", l.topology_max_bytes),
        ("limits.topology_max_depth", l.topology_max_depth),
        ("limits.topology_max_nodes", l.topology_max_nodes),
        ("limits.topology_max_links", l.topology_max_links),
    ] {
        if value == 0 {
            p.push(Problem::new(field, "must be at least 1"));
        }
    }
    if l.topology_max_depth > 128 {
        p.push(Problem::new(
            "limits.topology_max_depth",
            "must be at most 128 (the YAML parser's own nesting bound)",
        ));
    }
    if l.topology_max_bytes > config.server.body_limit_bytes {
        p.push(Problem::new(
            "limits.topology_max_bytes",
            format!(
                "must not exceed server.body_limit_bytes ({}): a larger topology could never arrive",
                config.server.body_limit_bytes
            ),
        ));
    }
}

fn database(config: &Config, p: &mut Vec<Problem>) {
    let url = config.database.url.expose().trim();
    let ok = url == "memory"
        || url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://");
    if !ok {
        p.push(Problem::new(
            "database.url",
            "must be `sqlite://path/ccm.db`, `sqlite::memory:`, `postgres://…` or `memory`",
        ));
    }
}

fn cloud(config: &Config, p: &mut Vec<Problem>) {
    let c = &config.cloud;
    if c.regions.is_empty() {
        p.push(Problem::new(
            "cloud.regions",
            "must name at least one region",
        ));
    }
    for (i, region) in c.regions.iter().enumerate() {
        if region.trim().is_empty() || region.contains(char::is_whitespace) {
            p.push(Problem::new(
                format!("cloud.regions[{i}]"),
                format!("`{region}` is not a region name"),
            ));
        }
    }
    if c.launch.instance_type.trim().is_empty() {
        p.push(Problem::new(
            "cloud.launch.instance_type",
            "must not be empty",
        ));
    }
    if c.launch.image_id.is_none() && c.launch.image_name_pattern.trim().is_empty() {
        p.push(Problem::new(
            "cloud.launch.image_name_pattern",
            "must not be empty when cloud.launch.image_id is not set",
        ));
    }
    if let Err(ccm_core::DomainError::Validation { field, reason }) =
        ccm_core::worker::limits::check_client_tags(&c.launch.tags)
    {
        p.push(Problem::new(format!("cloud.launch.{field}"), reason));
    }
    for (name, image) in &c.launch.images {
        let readable = !name.trim().is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch));
        if !readable {
            p.push(Problem::new(
                format!("cloud.launch.images.{name}"),
                "a name is 1 to 64 letters, digits, `-`, `_` or `.`",
            ));
        }
        if image.trim().is_empty() || image.len() > 128 {
            p.push(Problem::new(
                format!("cloud.launch.images.{name}"),
                "must be an AMI id (ami-…) or an AMI name pattern of 1 to 128 characters",
            ));
        }
    }
    let mut names = BTreeSet::new();
    let table = crate::settings::price_table(config);
    if let Some(types) = &c.instance_types {
        for (i, t) in types.iter().enumerate() {
            if !names.insert(t.name.clone()) {
                p.push(Problem::new(
                    format!("cloud.instance_types[{i}].name"),
                    format!("`{}` appears twice", t.name),
                ));
            }
            if !(t.hourly_usd.is_finite() && t.hourly_usd >= 0.0) {
                p.push(Problem::new(
                    format!("cloud.instance_types[{i}].hourly_usd"),
                    "must be a price of zero or more",
                ));
            }
        }
    }
    if !table.types.iter().any(|t| t.name == c.launch.instance_type) {
        p.push(Problem::new(
            "cloud.launch.instance_type",
            format!(
                "`{}` is not in the price table (cloud.instance_types); its workers would offer no capacity",
                c.launch.instance_type
            ),
        ));
    }
    if c.provider == CloudKind::Sim {
        let sim = &c.sim;
        for (field, value) in [
            ("boot_seconds", sim.boot_seconds),
            ("cml_boot_seconds", sim.cml_boot_seconds),
            ("node_boot_seconds", sim.node_boot_seconds),
            ("stop_seconds", sim.stop_seconds),
            ("terminate_seconds", sim.terminate_seconds),
            ("status_init_seconds", sim.status_init_seconds),
        ] {
            if value < 0 {
                p.push(Problem::new(
                    format!("cloud.sim.{field}"),
                    "must not be negative",
                ));
            }
        }
        if !(1.0..=MAX_SIM_TIME_SCALE).contains(&sim.time_scale) {
            p.push(Problem::new(
                "cloud.sim.time_scale",
                format!("must be from 1 (real time) to {MAX_SIM_TIME_SCALE}"),
            ));
        }
    }
    if c.provider == CloudKind::Aws {
        let aws = &c.aws;
        if let Some(url) = &aws.endpoint_url {
            if let Err(reason) = http_url(url) {
                p.push(Problem::new("cloud.aws.endpoint_url", reason));
            }
        }
        p.extend(
            super::aws::problems(config)
                .into_iter()
                .filter(|found| !found.path.starts_with("cloud.aws.endpoint_url")),
        );
        match (&aws.access_key_id, &aws.secret_access_key) {
            (Some(_), None) => p.push(Problem::new(
                "cloud.aws.secret_access_key",
                "required when cloud.aws.access_key_id is set",
            )),
            (None, Some(_)) => p.push(Problem::new(
                "cloud.aws.access_key_id",
                "required when cloud.aws.secret_access_key is set",
            )),
            _ => {}
        }
    }
}

fn cml(config: &Config, p: &mut Vec<Problem>) {
    let c = &config.cml;
    for (i, entry) in c.endpoint_allow.iter().enumerate() {
        if let Err(error) = ccm_core::worker::EndpointAllowList::parse(&[entry]) {
            p.push(Problem::new(
                format!("cml.endpoint_allow[{i}]"),
                error.to_string(),
            ));
        }
    }
    if config.cloud.provider == CloudKind::Aws {
        if c.password.is_none() {
            p.push(Problem::new(
                "cml.password",
                "required with cloud.provider = \"aws\" (or cml.password_file / CCM_CML_PASSWORD)",
            ));
        }
        if c.username.trim().is_empty() {
            p.push(Problem::new("cml.username", "must not be empty"));
        }
    }
    match (&c.tls, &c.ca_file) {
        (CmlTls::Ca, None) => p.push(Problem::new(
            "cml.ca_file",
            "required when cml.tls = \"ca\"",
        )),
        (CmlTls::Ca, Some(path)) if !path.is_file() => p.push(Problem::new(
            "cml.ca_file",
            format!("`{}` is not a readable file", path.display()),
        )),
        (CmlTls::Tofu | CmlTls::Insecure | CmlTls::Verify, Some(_)) => p.push(Problem::new(
            "cml.ca_file",
            "only used with cml.tls = \"ca\"",
        )),
        _ => {}
    }
}

/// The autoscaler's bounds, auto-import and the lablets' timing.
fn pacing(config: &Config, p: &mut Vec<Problem>) {
    let e = &config.engine;
    let regions = config.cloud.regions.len().max(1);
    if let (Some(min), Some(max)) = (
        e.autoscaler_min_running_workers,
        e.autoscaler_max_workers_per_region,
    ) {
        let most = u64::from(max) * regions as u64;
        if u64::from(min) > most {
            p.push(Problem::new(
                "engine.autoscaler_min_running_workers",
                format!("{min} is more than the {most} workers the regions may hold (autoscaler_max_workers_per_region × {regions} region(s))"),
            ));
        }
    }
    if let Some(pattern) = &e.auto_import_image_name_pattern {
        if pattern.trim().is_empty() || pattern.len() > 128 {
            p.push(Problem::new(
                "engine.auto_import_image_name_pattern",
                "must be 1 to 128 characters (an AMI name pattern such as `cml-*`)",
            ));
        }
    }
    if let Some(regions) = &e.auto_import_regions {
        if regions.is_empty() {
            p.push(Problem::new(
                "engine.auto_import_regions",
                "must name at least one region (or be left out for cloud.regions)",
            ));
        }
    }
    let l = &config.lablets;
    if let Some(lead) = l.lead_time_seconds {
        if !(60..=7 * 86_400).contains(&lead) {
            p.push(Problem::new(
                "lablets.lead_time_seconds",
                format!("{lead} is outside 60–604800 seconds (a worker boots and a lab starts within it)"),
            ));
        }
    }
    if let Some(percentile) = l.lead_time_percentile {
        if !(50..=100).contains(&percentile) {
            p.push(Problem::new(
                "lablets.lead_time_percentile",
                format!("{percentile} is outside 50–100"),
            ));
        }
    }
    if let Some(margin) = l.lead_time_margin_seconds {
        if margin > 6 * 3600 {
            p.push(Problem::new(
                "lablets.lead_time_margin_seconds",
                format!("{margin} is more than 6 hours"),
            ));
        }
    }
    if let Some(samples) = l.lead_time_min_samples {
        if !(1..=50).contains(&samples) {
            p.push(Problem::new(
                "lablets.lead_time_min_samples",
                format!("{samples} is outside 1–50 (50 samples are kept)"),
            ));
        }
    }
    if let Some(grace) = l.start_grace_seconds {
        if grace > 86_400 {
            p.push(Problem::new(
                "lablets.start_grace_seconds",
                format!("{grace} is more than a day"),
            ));
        }
    }
}

fn engine(config: &Config, p: &mut Vec<Problem>) {
    let e = &config.engine;
    for (field, value) in [
        ("monitoring_interval_seconds", e.monitoring_interval_seconds),
        (
            "booting_monitoring_interval_seconds",
            e.booting_monitoring_interval_seconds,
        ),
        ("labs_sync_interval_seconds", e.labs_sync_interval_seconds),
        ("resync_seconds", e.resync_seconds),
        ("idle_check_interval_seconds", e.idle_check_interval_seconds),
        ("idle_timeout_minutes", e.idle_timeout_minutes),
        ("lease_seconds", e.lease_seconds),
        ("lease_renew_seconds", e.lease_renew_seconds),
        ("metrics_step_seconds", e.metrics_step_seconds),
        ("idle_snooze_minutes", e.idle_snooze_minutes),
        (
            "autoscaler_max_workers_per_region",
            e.autoscaler_max_workers_per_region,
        ),
        (
            "auto_import_interval_seconds",
            e.auto_import_interval_seconds,
        ),
    ] {
        if value == Some(0) {
            p.push(Problem::new(
                format!("engine.{field}"),
                "must be at least 1",
            ));
        }
    }
    if let Some(weeks) = e.autoscaler_warm_pool_history_weeks {
        if !(1..=MAX_WARM_POOL_HISTORY_WEEKS).contains(&weeks) {
            p.push(Problem::new(
                "engine.autoscaler_warm_pool_history_weeks",
                format!("must be within 1..={MAX_WARM_POOL_HISTORY_WEEKS}"),
            ));
        }
    }
    for (field, value) in [
        ("cpu_alert_percent", e.cpu_alert_percent),
        ("memory_alert_percent", e.memory_alert_percent),
        ("disk_alert_percent", e.disk_alert_percent),
    ] {
        if let Some(v) = value {
            if !(0.0..=100.0).contains(&v) {
                p.push(Problem::new(
                    format!("engine.{field}"),
                    format!("{v} is not a percentage (0–100)"),
                ));
            }
        }
    }
    pacing(config, p);
    if let Some(n) = e.cml_concurrency {
        if !(1..=MAX_CML_CONCURRENCY).contains(&n) {
            p.push(Problem::new(
                "engine.cml_concurrency",
                format!("{n} is outside 1–{MAX_CML_CONCURRENCY} workers in flight"),
            ));
        }
    }
    if e.event_retention_max == Some(0) {
        p.push(Problem::new(
            "engine.event_retention_max",
            "must be at least 1",
        ));
    }
    let retention = e.metric_retention();
    if retention.raw_seconds > retention.keep_seconds {
        p.push(Problem::new(
            "engine.metrics_raw_seconds",
            format!(
                "{} must not exceed engine.metrics_keep_seconds ({})",
                retention.raw_seconds, retention.keep_seconds
            ),
        ));
    }
    let lease = crate::settings::lease_settings(config);
    if lease.renew_seconds >= lease.duration_seconds {
        p.push(Problem::new(
            "engine.lease_renew_seconds",
            format!(
                "{} must be shorter than engine.lease_seconds ({})",
                lease.renew_seconds, lease.duration_seconds
            ),
        ));
    }
}

fn auth(config: &Config, p: &mut Vec<Problem>) {
    if config.auth.session_ttl_seconds < 60 {
        p.push(Problem::new(
            "auth.session_ttl_seconds",
            "must be at least 60",
        ));
    }
    if config.auth.max_sessions == 0 {
        p.push(Problem::new("auth.max_sessions", "must be at least 1"));
    }
    let Some(oidc) = &config.auth.oidc else {
        return;
    };
    match http_url(&oidc.issuer) {
        Ok(url) if url.scheme() == "http" && !is_loopback(&url) => p.push(Problem::new(
            "auth.oidc.issuer",
            "must use https (http is allowed only for localhost)",
        )),
        Ok(_) => {}
        Err(reason) => p.push(Problem::new("auth.oidc.issuer", reason)),
    }
    if oidc.audience.trim().is_empty() {
        p.push(Problem::new(
            "auth.oidc.audience",
            "must name the audience (client id) tokens are issued for",
        ));
    }
    if let Some(url) = &oidc.jwks_url {
        match http_url(url) {
            Ok(parsed) if parsed.scheme() == "http" && !is_loopback(&parsed) => {
                p.push(Problem::new(
                    "auth.oidc.jwks_url",
                    "must use https (http is allowed only for localhost)",
                ))
            }
            Ok(_) => {}
            Err(reason) => p.push(Problem::new("auth.oidc.jwks_url", reason)),
        }
    }
    if oidc.role_claim.split('.').any(|s| s.trim().is_empty()) {
        p.push(Problem::new(
            "auth.oidc.role_claim",
            format!(
                "`{}` is not a dotted claim path (e.g. realm_access.roles)",
                oidc.role_claim
            ),
        ));
    }
    for (field, url) in [
        ("redirect_url", &oidc.redirect_url),
        ("post_logout_redirect_url", &oidc.post_logout_redirect_url),
    ] {
        if let Some(url) = url {
            if let Err(reason) = http_url(url) {
                p.push(Problem::new(format!("auth.oidc.{field}"), reason));
            }
        }
    }
    if oidc.client_id.is_some() && !oidc.scopes.split_whitespace().any(|s| s == "openid") {
        p.push(Problem::new(
            "auth.oidc.scopes",
            "must include `openid` for the browser login",
        ));
    }
    if oidc.client_secret.is_some() && oidc.client_id.is_none() {
        p.push(Problem::new(
            "auth.oidc.client_id",
            "required when auth.oidc.client_secret is set",
        ));
    }
    oidc_bounds(oidc, p);
    let r = &oidc.roles;
    for (field, name) in [
        ("admin", &r.admin),
        ("manager", &r.manager),
        ("user", &r.user),
    ] {
        if name.trim().is_empty() {
            p.push(Problem::new(
                format!("auth.oidc.roles.{field}"),
                "must not be empty",
            ));
        }
    }
}

fn oidc_bounds(oidc: &super::OidcConfig, p: &mut Vec<Problem>) {
    if oidc.jwks_refresh_seconds == 0 {
        p.push(Problem::new(
            "auth.oidc.jwks_refresh_seconds",
            "must be at least 1",
        ));
    }
    if oidc.jwks_refresh_min_seconds > oidc.jwks_refresh_seconds {
        p.push(Problem::new(
            "auth.oidc.jwks_refresh_min_seconds",
            format!(
                "must not exceed auth.oidc.jwks_refresh_seconds ({})",
                oidc.jwks_refresh_seconds
            ),
        ));
    }
    if oidc.jwks_max_age_seconds < oidc.jwks_refresh_seconds {
        p.push(Problem::new(
            "auth.oidc.jwks_max_age_seconds",
            format!(
                "must be at least auth.oidc.jwks_refresh_seconds ({})",
                oidc.jwks_refresh_seconds
            ),
        ));
    }
    if oidc.max_pending_logins == 0 {
        p.push(Problem::new(
            "auth.oidc.max_pending_logins",
            "must be at least 1",
        ));
    }
}

fn alerts_and_telemetry(config: &Config, p: &mut Vec<Problem>) {
    let a = &config.alerts;
    for (i, url) in a.webhook_urls.iter().enumerate() {
        if let Err(reason) = http_url(url) {
            p.push(Problem::new(format!("alerts.webhook_urls[{i}]"), reason));
        }
    }
    if a.webhook_timeout_seconds == 0 {
        p.push(Problem::new(
            "alerts.webhook_timeout_seconds",
            "must be at least 1",
        ));
    }
    if a.webhook_attempts == 0 {
        p.push(Problem::new(
            "alerts.webhook_attempts",
            "must be at least 1",
        ));
    }
    if let Some(url) = &config.telemetry.otlp_endpoint {
        if let Err(reason) = http_url(url) {
            p.push(Problem::new("telemetry.otlp_endpoint", reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ccm_core::ports::metric_series::MetricRetention;

    use crate::config::{load_from, ConfigErrors, Sources};

    fn from_env(pairs: &[(&str, &str)]) -> Sources {
        Sources {
            file: None,
            env: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn metric_retention_reaches_the_fleet_and_is_checked() {
        let config = load_from(&from_env(&[
            ("CCM_METRICS_RAW_SECONDS", "3600"),
            ("CCM_METRICS_STEP_SECONDS", "600"),
            ("CCM_METRICS_KEEP_SECONDS", "7200"),
        ]))
        .unwrap();
        let want = MetricRetention {
            raw_seconds: 3600,
            step_seconds: 600,
            keep_seconds: 7200,
        };
        assert_eq!(
            crate::settings::fleet_settings(&config).metric_retention(),
            want
        );
        let Err(ConfigErrors(problems)) = load_from(&from_env(&[
            ("CCM_METRICS_RAW_SECONDS", "90000"),
            ("CCM_METRICS_STEP_SECONDS", "0"),
            ("CCM_METRICS_KEEP_SECONDS", "3600"),
        ])) else {
            panic!("a zero step and raw > keep must be refused");
        };
        let has = |path: &str, reason: &str| {
            problems
                .iter()
                .any(|p| p.path == path && p.reason.contains(reason))
        };
        assert!(
            has("engine.metrics_step_seconds", "at least 1"),
            "{problems:?}"
        );
        assert!(
            has("engine.metrics_raw_seconds", "must not exceed"),
            "{problems:?}"
        );
    }

    #[test]
    fn pacing_auto_import_and_lablet_timing_reach_the_fleet_and_are_checked() {
        let config = load_from(&from_env(&[
            ("CCM_IDLE_SNOOZE_MINUTES", "15"),
            ("CCM_AUTOSCALER_MAX_WORKERS_PER_REGION", "7"),
            ("CCM_AUTOSCALER_MIN_RUNNING_WORKERS", "2"),
            ("CCM_AUTOSCALER_SCALE_UP_COOLDOWN_SECONDS", "30"),
            ("CCM_AUTOSCALER_SCALE_DOWN_COOLDOWN_SECONDS", "900"),
            ("CCM_AUTOSCALER_DRAIN_GRACE_SECONDS", "240"),
            ("CCM_AUTOSCALER_LEARN_WARM_POOL", "true"),
            ("CCM_AUTOSCALER_WARM_POOL_HISTORY_WEEKS", "4"),
            ("CCM_AUTO_IMPORT", "on"),
            ("CCM_AUTO_IMPORT_IMAGE_NAME_PATTERN", "cml-2.9*"),
            ("CCM_AUTO_IMPORT_INTERVAL_SECONDS", "600"),
            ("CCM_LABLETS_LEAD_TIME_SECONDS", "1800"),
            ("CCM_LABLETS_LEARN_LEAD_TIME", "false"),
            ("CCM_LABLETS_LEAD_TIME_PERCENTILE", "99"),
            ("CCM_LABLETS_START_GRACE_SECONDS", "300"),
            ("CCM_LABLETS_PLACEMENT_POLICY", "spread"),
        ]))
        .unwrap();
        let s = crate::settings::fleet_settings(&config);
        assert_eq!(s.idle.snooze_minutes, 15);
        assert_eq!(s.autoscaler.max_workers_per_region, 7);
        assert_eq!(s.autoscaler.min_running_workers, 2);
        assert_eq!(s.autoscaler.scale_up_cooldown_seconds, 30);
        assert_eq!(s.autoscaler.scale_down_cooldown_seconds, 900);
        assert_eq!(s.autoscaler.drain_grace_seconds, 240);
        assert!(s.autoscaler.learn_warm_pool);
        assert_eq!(s.autoscaler.warm_pool_history_weeks, 4);
        assert!(s.auto_import.enabled);
        assert_eq!(s.auto_import.image_name_pattern, "cml-2.9*");
        assert_eq!(s.auto_import.interval_seconds, 600);
        // Regions default to the cloud's.
        let cloud: Vec<String> = config.cloud.regions.clone();
        let searched: Vec<String> = s.auto_import.regions.iter().map(|r| r.0.clone()).collect();
        assert_eq!(searched, cloud);
        assert_eq!(s.lablets.lead_time_seconds, 1800);
        assert!(!s.lablets.learn_lead_time);
        assert_eq!(s.lablets.lead_time_percentile, 99);
        assert_eq!(s.lablets.start_grace_seconds, 300);
        assert_eq!(s.lablets.policy, ccm_core::placement::Policy::Spread);

        let Err(ConfigErrors(problems)) = load_from(&from_env(&[
            ("CCM_AUTOSCALER_MAX_WORKERS_PER_REGION", "1"),
            ("CCM_AUTOSCALER_MIN_RUNNING_WORKERS", "50"),
            ("CCM_AUTO_IMPORT_INTERVAL_SECONDS", "0"),
            ("CCM_AUTOSCALER_WARM_POOL_HISTORY_WEEKS", "9"),
            ("CCM_AUTO_IMPORT_IMAGE_NAME_PATTERN", " "),
            ("CCM_LABLETS_LEAD_TIME_SECONDS", "5"),
            ("CCM_LABLETS_LEAD_TIME_PERCENTILE", "40"),
            ("CCM_LABLETS_LEAD_TIME_MIN_SAMPLES", "0"),
            ("CCM_LABLETS_LEAD_TIME_MARGIN_SECONDS", "90000"),
            ("CCM_LABLETS_START_GRACE_SECONDS", "100000"),
        ])) else {
            panic!("out-of-range pacing must be refused");
        };
        for (path, reason) in [
            ("engine.autoscaler_min_running_workers", "more than"),
            ("engine.auto_import_interval_seconds", "at least 1"),
            ("engine.autoscaler_warm_pool_history_weeks", "within 1..=8"),
            ("engine.auto_import_image_name_pattern", "1 to 128"),
            ("lablets.lead_time_seconds", "outside"),
            ("lablets.lead_time_percentile", "outside 50–100"),
            ("lablets.lead_time_min_samples", "outside 1–50"),
            ("lablets.lead_time_margin_seconds", "more than 6 hours"),
            ("lablets.start_grace_seconds", "more than a day"),
        ] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.path == path && p.reason.contains(reason)),
                "{path}: {problems:?}"
            );
        }
        let Err(ConfigErrors(problems)) =
            load_from(&from_env(&[("CCM_LABLETS_PLACEMENT_POLICY", "random")]))
        else {
            panic!("an unknown policy must be refused");
        };
        assert!(
            problems.iter().any(|p| p.path.contains("placement_policy")),
            "{problems:?}"
        );
    }

    #[test]
    fn named_images_reach_the_launch_template_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ccm.toml");
        std::fs::write(
            &path,
            "[cloud.launch.images]\n\"cml-2.8\" = \"cml-2.8*\"\npinned = \"ami-0123456789abcdef0\"\n",
        )
        .unwrap();
        let sources = Sources {
            file: Some(path.clone()),
            env: BTreeMap::new(),
        };
        let config = load_from(&sources).unwrap();
        let s = crate::settings::fleet_settings(&config);
        use ccm_core::ports::cloud::ImageSelector;
        assert_eq!(
            s.launch.images.get("cml-2.8"),
            Some(&ImageSelector::NamePattern("cml-2.8*".into()))
        );
        assert_eq!(
            s.launch.images.get("pinned"),
            Some(&ImageSelector::Id(ccm_core::ids::ImageId::new(
                "ami-0123456789abcdef0"
            )))
        );
        std::fs::write(
            &path,
            "[cloud.launch.images]\n\"bad name!\" = \"cml-*\"\nempty = \" \"\n",
        )
        .unwrap();
        let Err(ConfigErrors(problems)) = load_from(&sources) else {
            panic!("bad image names and empty images must be refused");
        };
        assert!(
            problems
                .iter()
                .any(|p| p.path == "cloud.launch.images.bad name!" && p.reason.contains("letters")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.path == "cloud.launch.images.empty" && p.reason.contains("AMI")),
            "{problems:?}"
        );
    }
}
