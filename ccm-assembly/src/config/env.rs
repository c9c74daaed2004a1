//! The `CCM_*` environment variables: each one sets one field. A secret field also
//! reads `CCM_<NAME>_FILE` (the file's content, trailing newline removed).

use std::sync::LazyLock;

use Kind::{Bool, Float, Integer, List, Secret, Text};

/// How a variable's text becomes a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text as is.
    Text,
    /// A secret text (also settable from `<NAME>_FILE`).
    Secret,
    /// An integer.
    Integer,
    /// A number.
    Float,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A comma-separated list.
    List,
}

/// A table of the configuration (`cloud.sim`), the prefix of its variables
/// (`CCM_SIM`) and its fields with their kinds.
type Section = (&'static str, &'static str, &'static [(&'static str, Kind)]);

/// The tables of the configuration and the prefix of their variables: field
/// `key` of table `path` is set by `<prefix>_<KEY>` (`cloud.sim.seed` by
/// `CCM_SIM_SEED`).
#[rustfmt::skip]
const SECTIONS: &[Section] = &[
    ("server", "CCM", &[
        ("listen", Text), ("public_url", Text), ("body_limit_bytes", Integer),
        ("sse_heartbeat_seconds", Integer), ("shutdown_grace_seconds", Integer),
        ("admin_login_link", Bool), ("header_read_timeout_seconds", Integer),
        ("request_timeout_seconds", Integer), ("idle_timeout_seconds", Integer),
        ("max_connections", Integer), ("sse_streams_per_principal", Integer),
        ("sse_buffer_events", Integer),
    ]),
    ("limits", "CCM", &[
        ("topology_max_bytes", Integer), ("topology_max_depth", Integer),
        ("topology_max_nodes", Integer), ("topology_max_links", Integer),
        ("topology_max_alias_expansion", Integer),
    ]),
    ("database", "CCM_DATABASE", &[
        ("url", Secret),
    ]),
    ("cloud", "CCM_CLOUD", &[
        ("regions", List),
    ]),
    ("cloud.launch", "CCM_LAUNCH", &[
        ("instance_type", Text), ("image_name_pattern", Text), ("image_id", Text),
        ("subnet_id", Text), ("security_group_ids", List), ("key_name", Text),
    ]),
    ("cloud.sim", "CCM_SIM", &[
        ("seed", Integer), ("seed_demo", Bool), ("boot_seconds", Integer),
        ("cml_boot_seconds", Integer), ("node_boot_seconds", Integer),
        ("stop_seconds", Integer), ("terminate_seconds", Integer),
        ("status_init_seconds", Integer), ("licensed_at_launch", Bool),
        ("demo_workers", Integer), ("time_scale", Float), ("clock_origin", Text),
    ]),
    ("cloud.aws", "CCM_AWS", &[
        ("region", Text), ("profile", Text), ("endpoint_url", Text), ("access_key_id", Text),
        ("secret_access_key", Secret), ("session_token", Secret), ("image_owners", List),
        ("max_attempts", Integer), ("retry_base_delay_ms", Integer),
        ("retry_max_delay_ms", Integer), ("connect_timeout_seconds", Integer),
        ("attempt_timeout_seconds", Integer), ("page_size", Integer),
        ("max_filter_values", Integer), ("max_ids_per_call", Integer),
    ]),
    ("cml", "CCM_CML", &[
        ("username", Text), ("password", Secret), ("tls", Text), ("ca_file", Text),
        ("licence_token", Secret), ("endpoint_allow", List), ("endpoint_address", Text),
    ]),
    ("engine", "CCM", &[
        ("monitoring_interval_seconds", Integer), ("cml_concurrency", Integer),
        ("booting_monitoring_interval_seconds", Integer),
        ("labs_sync_interval_seconds", Integer), ("resync_seconds", Integer),
        ("idle_check_interval_seconds", Integer), ("idle_detection", Bool),
        ("idle_timeout_minutes", Integer), ("cpu_alert_percent", Float),
        ("memory_alert_percent", Float), ("disk_alert_percent", Float),
        ("lease_seconds", Integer), ("lease_renew_seconds", Integer), ("autoscaler", Bool),
        ("event_retention_days", Integer), ("event_retention_max", Integer),
        ("metrics_raw_seconds", Integer), ("metrics_step_seconds", Integer),
        ("metrics_keep_seconds", Integer), ("idle_snooze_minutes", Integer),
        ("autoscaler_max_workers_per_region", Integer),
        ("autoscaler_min_running_workers", Integer),
        ("autoscaler_scale_up_cooldown_seconds", Integer),
        ("autoscaler_scale_down_cooldown_seconds", Integer),
        ("autoscaler_drain_grace_seconds", Integer),
        ("autoscaler_learn_warm_pool", Bool),
        ("autoscaler_warm_pool_history_weeks", Integer), ("auto_import", Bool),
        ("auto_import_regions", List), ("auto_import_image_name_pattern", Text),
        ("auto_import_interval_seconds", Integer),
    ]),
    ("lablets", "CCM_LABLETS", &[
        ("self_service", Bool), ("lead_time_seconds", Integer),
        ("learn_lead_time", Bool), ("lead_time_percentile", Integer),
        ("lead_time_margin_seconds", Integer), ("lead_time_min_samples", Integer),
        ("start_grace_seconds", Integer), ("placement_policy", Text),
    ]),
    ("auth", "CCM", &[
        ("session_ttl_seconds", Integer), ("max_sessions", Integer), ("cookie_secure", Bool),
    ]),
    ("auth.oidc", "CCM_OIDC", &[
        ("issuer", Text), ("audience", Text), ("jwks_url", Text), ("role_claim", Text),
        ("client_id", Text), ("jwks_refresh_min_seconds", Integer),
        ("jwks_refresh_seconds", Integer), ("jwks_max_age_seconds", Integer),
        ("max_pending_logins", Integer), ("client_secret", Secret), ("redirect_url", Text),
    ]),
    ("log", "CCM_LOG", &[
        ("format", Text), ("level", Text),
    ]),
    ("alerts", "CCM_ALERT", &[
        ("webhook_urls", List), ("webhook_timeout_seconds", Integer),
        ("webhook_attempts", Integer),
    ]),
    ("telemetry", "CCM", &[
        ("otlp_endpoint", Text),
    ]),
    ("telemetry", "CCM_OTLP", &[
        ("service_name", Text),
    ]),
];

/// Variables whose names do not follow their table's prefix.
const IRREGULAR: &[(&str, &str, Kind)] = &[("CCM_CLOUD", "cloud.provider", Kind::Text)];

/// `(variable, field path, kind)` for every variable `ccm serve` reads.
pub static ENV_VARS: LazyLock<Vec<(String, String, Kind)>> = LazyLock::new(|| {
    let regular = SECTIONS.iter().flat_map(|(table, prefix, keys)| {
        keys.iter().map(move |(key, kind)| {
            (
                format!("{prefix}_{}", key.to_ascii_uppercase()),
                format!("{table}.{key}"),
                *kind,
            )
        })
    });
    let irregular = IRREGULAR
        .iter()
        .map(|(name, path, kind)| ((*name).to_owned(), (*path).to_owned(), *kind));
    irregular.chain(regular).collect()
});

/// `CCM_*` variables read by other parts of the binary (the CLI), not by the
/// configuration; they are not reported as unknown.
pub const PASSTHROUGH_ENV_VARS: &[&str] = &["CCM_CONFIG", "CCM_SERVER", "CCM_API_KEY"];

/// The TOML value of a variable's text, or why it is not one.
pub(crate) fn parse(kind: Kind, text: &str) -> Result<toml::Value, String> {
    let trimmed = text.trim();
    match kind {
        Kind::Text | Kind::Secret => Ok(toml::Value::String(text.to_owned())),
        Kind::Integer => trimmed
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("`{text}` is not an integer")),
        Kind::Float => trimmed
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| format!("`{text}` is not a number")),
        Kind::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("`{text}` is not a boolean (true/false)")),
        },
        Kind::List => Ok(toml::Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn find(name: &str) -> Option<(String, Kind)> {
        ENV_VARS
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, path, kind)| (path.clone(), *kind))
    }

    #[test]
    fn every_variable_is_named_once_and_sets_one_field() {
        let names: BTreeSet<&str> = ENV_VARS.iter().map(|(n, _, _)| n.as_str()).collect();
        let paths: BTreeSet<&str> = ENV_VARS.iter().map(|(_, p, _)| p.as_str()).collect();
        assert_eq!(names.len(), ENV_VARS.len(), "a variable is listed twice");
        assert_eq!(paths.len(), ENV_VARS.len(), "a field has two variables");
        assert_eq!(ENV_VARS.len(), 120);
        assert!(names.iter().all(|n| n.starts_with("CCM_")
            && n.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')));
        assert!(PASSTHROUGH_ENV_VARS.iter().all(|p| !names.contains(p)));
    }

    #[test]
    fn names_follow_their_tables_prefix() {
        assert_eq!(
            find("CCM_SIM_SEED"),
            Some(("cloud.sim.seed".into(), Integer))
        );
        assert_eq!(find("CCM_LISTEN"), Some(("server.listen".into(), Text)));
        assert_eq!(
            find("CCM_OIDC_ISSUER"),
            Some(("auth.oidc.issuer".into(), Text))
        );
        assert_eq!(
            find("CCM_AWS_SECRET_ACCESS_KEY"),
            Some(("cloud.aws.secret_access_key".into(), Secret))
        );
        assert_eq!(find("CCM_CLOUD"), Some(("cloud.provider".into(), Text)));
        assert_eq!(find("CCM_SIM_TIME_SCALE").map(|(_, k)| k), Some(Float));
        assert_eq!(find("CCM_PROVIDER"), None);
    }
}
