//! The `CCM_*` environment variables: each one sets one field. A secret field also
//! reads `CCM_<NAME>_FILE` (the file's content, trailing newline removed).

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

/// `(variable, field path, kind)` for every variable `ccm serve` reads.
pub const ENV_VARS: &[(&str, &str, Kind)] = &[
    ("CCM_LISTEN", "server.listen", Kind::Text),
    ("CCM_PUBLIC_URL", "server.public_url", Kind::Text),
    (
        "CCM_BODY_LIMIT_BYTES",
        "server.body_limit_bytes",
        Kind::Integer,
    ),
    (
        "CCM_SSE_HEARTBEAT_SECONDS",
        "server.sse_heartbeat_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SHUTDOWN_GRACE_SECONDS",
        "server.shutdown_grace_seconds",
        Kind::Integer,
    ),
    (
        "CCM_ADMIN_LOGIN_LINK",
        "server.admin_login_link",
        Kind::Bool,
    ),
    (
        "CCM_HEADER_READ_TIMEOUT_SECONDS",
        "server.header_read_timeout_seconds",
        Kind::Integer,
    ),
    (
        "CCM_REQUEST_TIMEOUT_SECONDS",
        "server.request_timeout_seconds",
        Kind::Integer,
    ),
    (
        "CCM_IDLE_TIMEOUT_SECONDS",
        "server.idle_timeout_seconds",
        Kind::Integer,
    ),
    (
        "CCM_MAX_CONNECTIONS",
        "server.max_connections",
        Kind::Integer,
    ),
    (
        "CCM_SSE_STREAMS_PER_PRINCIPAL",
        "server.sse_streams_per_principal",
        Kind::Integer,
    ),
    (
        "CCM_SSE_BUFFER_EVENTS",
        "server.sse_buffer_events",
        Kind::Integer,
    ),
    (
        "CCM_TOPOLOGY_MAX_BYTES",
        "limits.topology_max_bytes",
        Kind::Integer,
    ),
    (
        "CCM_TOPOLOGY_MAX_DEPTH",
        "limits.topology_max_depth",
        Kind::Integer,
    ),
    (
        "CCM_TOPOLOGY_MAX_NODES",
        "limits.topology_max_nodes",
        Kind::Integer,
    ),
    (
        "CCM_TOPOLOGY_MAX_LINKS",
        "limits.topology_max_links",
        Kind::Integer,
    ),
    (
        "CCM_TOPOLOGY_MAX_ALIAS_EXPANSION",
        "limits.topology_max_alias_expansion",
        Kind::Integer,
    ),
    ("CCM_DATABASE_URL", "database.url", Kind::Secret),
    ("CCM_CLOUD", "cloud.provider", Kind::Text),
    ("CCM_CLOUD_REGIONS", "cloud.regions", Kind::List),
    (
        "CCM_LAUNCH_INSTANCE_TYPE",
        "cloud.launch.instance_type",
        Kind::Text,
    ),
    (
        "CCM_LAUNCH_IMAGE_NAME_PATTERN",
        "cloud.launch.image_name_pattern",
        Kind::Text,
    ),
    ("CCM_LAUNCH_IMAGE_ID", "cloud.launch.image_id", Kind::Text),
    ("CCM_LAUNCH_SUBNET_ID", "cloud.launch.subnet_id", Kind::Text),
    (
        "CCM_LAUNCH_SECURITY_GROUP_IDS",
        "cloud.launch.security_group_ids",
        Kind::List,
    ),
    ("CCM_LAUNCH_KEY_NAME", "cloud.launch.key_name", Kind::Text),
    ("CCM_SIM_SEED", "cloud.sim.seed", Kind::Integer),
    ("CCM_SIM_SEED_DEMO", "cloud.sim.seed_demo", Kind::Bool),
    (
        "CCM_SIM_BOOT_SECONDS",
        "cloud.sim.boot_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_CML_BOOT_SECONDS",
        "cloud.sim.cml_boot_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_NODE_BOOT_SECONDS",
        "cloud.sim.node_boot_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_STOP_SECONDS",
        "cloud.sim.stop_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_TERMINATE_SECONDS",
        "cloud.sim.terminate_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_STATUS_INIT_SECONDS",
        "cloud.sim.status_init_seconds",
        Kind::Integer,
    ),
    (
        "CCM_SIM_LICENSED_AT_LAUNCH",
        "cloud.sim.licensed_at_launch",
        Kind::Bool,
    ),
    (
        "CCM_SIM_DEMO_WORKERS",
        "cloud.sim.demo_workers",
        Kind::Integer,
    ),
    ("CCM_SIM_TIME_SCALE", "cloud.sim.time_scale", Kind::Float),
    ("CCM_SIM_CLOCK_ORIGIN", "cloud.sim.clock_origin", Kind::Text),
    ("CCM_AWS_REGION", "cloud.aws.region", Kind::Text),
    ("CCM_AWS_PROFILE", "cloud.aws.profile", Kind::Text),
    ("CCM_AWS_ENDPOINT_URL", "cloud.aws.endpoint_url", Kind::Text),
    (
        "CCM_AWS_ACCESS_KEY_ID",
        "cloud.aws.access_key_id",
        Kind::Text,
    ),
    (
        "CCM_AWS_SECRET_ACCESS_KEY",
        "cloud.aws.secret_access_key",
        Kind::Secret,
    ),
    (
        "CCM_AWS_SESSION_TOKEN",
        "cloud.aws.session_token",
        Kind::Secret,
    ),
    ("CCM_AWS_IMAGE_OWNERS", "cloud.aws.image_owners", Kind::List),
    (
        "CCM_AWS_MAX_ATTEMPTS",
        "cloud.aws.max_attempts",
        Kind::Integer,
    ),
    (
        "CCM_AWS_RETRY_BASE_DELAY_MS",
        "cloud.aws.retry_base_delay_ms",
        Kind::Integer,
    ),
    (
        "CCM_AWS_RETRY_MAX_DELAY_MS",
        "cloud.aws.retry_max_delay_ms",
        Kind::Integer,
    ),
    (
        "CCM_AWS_CONNECT_TIMEOUT_SECONDS",
        "cloud.aws.connect_timeout_seconds",
        Kind::Integer,
    ),
    (
        "CCM_AWS_ATTEMPT_TIMEOUT_SECONDS",
        "cloud.aws.attempt_timeout_seconds",
        Kind::Integer,
    ),
    ("CCM_AWS_PAGE_SIZE", "cloud.aws.page_size", Kind::Integer),
    (
        "CCM_AWS_MAX_FILTER_VALUES",
        "cloud.aws.max_filter_values",
        Kind::Integer,
    ),
    (
        "CCM_AWS_MAX_IDS_PER_CALL",
        "cloud.aws.max_ids_per_call",
        Kind::Integer,
    ),
    ("CCM_CML_USERNAME", "cml.username", Kind::Text),
    ("CCM_CML_PASSWORD", "cml.password", Kind::Secret),
    ("CCM_CML_TLS", "cml.tls", Kind::Text),
    ("CCM_CML_CA_FILE", "cml.ca_file", Kind::Text),
    ("CCM_CML_LICENCE_TOKEN", "cml.licence_token", Kind::Secret),
    ("CCM_CML_ENDPOINT_ALLOW", "cml.endpoint_allow", Kind::List),
    (
        "CCM_CML_ENDPOINT_ADDRESS",
        "cml.endpoint_address",
        Kind::Text,
    ),
    (
        "CCM_MONITORING_INTERVAL_SECONDS",
        "engine.monitoring_interval_seconds",
        Kind::Integer,
    ),
    (
        "CCM_CML_CONCURRENCY",
        "engine.cml_concurrency",
        Kind::Integer,
    ),
    (
        "CCM_LABS_SYNC_INTERVAL_SECONDS",
        "engine.labs_sync_interval_seconds",
        Kind::Integer,
    ),
    ("CCM_RESYNC_SECONDS", "engine.resync_seconds", Kind::Integer),
    (
        "CCM_IDLE_CHECK_INTERVAL_SECONDS",
        "engine.idle_check_interval_seconds",
        Kind::Integer,
    ),
    ("CCM_IDLE_DETECTION", "engine.idle_detection", Kind::Bool),
    (
        "CCM_IDLE_TIMEOUT_MINUTES",
        "engine.idle_timeout_minutes",
        Kind::Integer,
    ),
    (
        "CCM_CPU_ALERT_PERCENT",
        "engine.cpu_alert_percent",
        Kind::Float,
    ),
    (
        "CCM_MEMORY_ALERT_PERCENT",
        "engine.memory_alert_percent",
        Kind::Float,
    ),
    (
        "CCM_DISK_ALERT_PERCENT",
        "engine.disk_alert_percent",
        Kind::Float,
    ),
    ("CCM_LEASE_SECONDS", "engine.lease_seconds", Kind::Integer),
    (
        "CCM_LEASE_RENEW_SECONDS",
        "engine.lease_renew_seconds",
        Kind::Integer,
    ),
    ("CCM_AUTOSCALER", "engine.autoscaler", Kind::Bool),
    (
        "CCM_EVENT_RETENTION_DAYS",
        "engine.event_retention_days",
        Kind::Integer,
    ),
    (
        "CCM_EVENT_RETENTION_MAX",
        "engine.event_retention_max",
        Kind::Integer,
    ),
    (
        "CCM_METRICS_RAW_SECONDS",
        "engine.metrics_raw_seconds",
        Kind::Integer,
    ),
    (
        "CCM_METRICS_STEP_SECONDS",
        "engine.metrics_step_seconds",
        Kind::Integer,
    ),
    (
        "CCM_METRICS_KEEP_SECONDS",
        "engine.metrics_keep_seconds",
        Kind::Integer,
    ),
    (
        "CCM_IDLE_SNOOZE_MINUTES",
        "engine.idle_snooze_minutes",
        Kind::Integer,
    ),
    (
        "CCM_AUTOSCALER_MAX_WORKERS_PER_REGION",
        "engine.autoscaler_max_workers_per_region",
        Kind::Integer,
    ),
    (
        "CCM_AUTOSCALER_MIN_RUNNING_WORKERS",
        "engine.autoscaler_min_running_workers",
        Kind::Integer,
    ),
    (
        "CCM_AUTOSCALER_SCALE_UP_COOLDOWN_SECONDS",
        "engine.autoscaler_scale_up_cooldown_seconds",
        Kind::Integer,
    ),
    (
        "CCM_AUTOSCALER_SCALE_DOWN_COOLDOWN_SECONDS",
        "engine.autoscaler_scale_down_cooldown_seconds",
        Kind::Integer,
    ),
    (
        "CCM_AUTOSCALER_DRAIN_GRACE_SECONDS",
        "engine.autoscaler_drain_grace_seconds",
        Kind::Integer,
    ),
    ("CCM_AUTO_IMPORT", "engine.auto_import", Kind::Bool),
    (
        "CCM_AUTO_IMPORT_REGIONS",
        "engine.auto_import_regions",
        Kind::List,
    ),
    (
        "CCM_AUTO_IMPORT_IMAGE_NAME_PATTERN",
        "engine.auto_import_image_name_pattern",
        Kind::Text,
    ),
    (
        "CCM_AUTO_IMPORT_INTERVAL_SECONDS",
        "engine.auto_import_interval_seconds",
        Kind::Integer,
    ),
    (
        "CCM_LABLETS_SELF_SERVICE",
        "lablets.self_service",
        Kind::Bool,
    ),
    (
        "CCM_LABLETS_LEAD_TIME_SECONDS",
        "lablets.lead_time_seconds",
        Kind::Integer,
    ),
    (
        "CCM_LABLETS_START_GRACE_SECONDS",
        "lablets.start_grace_seconds",
        Kind::Integer,
    ),
    (
        "CCM_LABLETS_PLACEMENT_POLICY",
        "lablets.placement_policy",
        Kind::Text,
    ),
    (
        "CCM_SESSION_TTL_SECONDS",
        "auth.session_ttl_seconds",
        Kind::Integer,
    ),
    ("CCM_MAX_SESSIONS", "auth.max_sessions", Kind::Integer),
    ("CCM_COOKIE_SECURE", "auth.cookie_secure", Kind::Bool),
    ("CCM_OIDC_ISSUER", "auth.oidc.issuer", Kind::Text),
    ("CCM_OIDC_AUDIENCE", "auth.oidc.audience", Kind::Text),
    ("CCM_OIDC_JWKS_URL", "auth.oidc.jwks_url", Kind::Text),
    ("CCM_OIDC_ROLE_CLAIM", "auth.oidc.role_claim", Kind::Text),
    ("CCM_OIDC_CLIENT_ID", "auth.oidc.client_id", Kind::Text),
    (
        "CCM_OIDC_JWKS_REFRESH_MIN_SECONDS",
        "auth.oidc.jwks_refresh_min_seconds",
        Kind::Integer,
    ),
    (
        "CCM_OIDC_JWKS_REFRESH_SECONDS",
        "auth.oidc.jwks_refresh_seconds",
        Kind::Integer,
    ),
    (
        "CCM_OIDC_JWKS_MAX_AGE_SECONDS",
        "auth.oidc.jwks_max_age_seconds",
        Kind::Integer,
    ),
    (
        "CCM_OIDC_MAX_PENDING_LOGINS",
        "auth.oidc.max_pending_logins",
        Kind::Integer,
    ),
    (
        "CCM_OIDC_CLIENT_SECRET",
        "auth.oidc.client_secret",
        Kind::Secret,
    ),
    (
        "CCM_OIDC_REDIRECT_URL",
        "auth.oidc.redirect_url",
        Kind::Text,
    ),
    ("CCM_LOG_FORMAT", "log.format", Kind::Text),
    ("CCM_ALERT_WEBHOOK_URLS", "alerts.webhook_urls", Kind::List),
    (
        "CCM_ALERT_WEBHOOK_TIMEOUT_SECONDS",
        "alerts.webhook_timeout_seconds",
        Kind::Integer,
    ),
    (
        "CCM_ALERT_WEBHOOK_ATTEMPTS",
        "alerts.webhook_attempts",
        Kind::Integer,
    ),
    ("CCM_OTLP_ENDPOINT", "telemetry.otlp_endpoint", Kind::Text),
    (
        "CCM_OTLP_SERVICE_NAME",
        "telemetry.service_name",
        Kind::Text,
    ),
    ("CCM_LOG_LEVEL", "log.level", Kind::Text),
];

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
