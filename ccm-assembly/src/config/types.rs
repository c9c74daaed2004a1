//! The configuration's shape. Every field has a default, so an empty file (or none)
//! is the embedded default.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ccm_core::ports::metric_series::MetricRetention;
use ccm_core::secret::Secret;
use serde::{Deserialize, Serialize};

/// Everything `ccm serve` can be told.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listening and HTTP behaviour.
    pub server: ServerConfig,
    /// Where state is kept.
    pub database: DatabaseConfig,
    /// Which cloud runs the workers.
    pub cloud: CloudConfig,
    /// How CML servers are reached.
    pub cml: CmlConfig,
    /// Intervals and thresholds of the engine.
    pub engine: EngineConfig,
    /// Who may book lablets.
    pub lablets: LabletsConfig,
    /// Who may do what.
    pub auth: AuthConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where alert events are sent.
    pub alerts: AlertsConfig,
    /// Trace export.
    pub telemetry: TelemetryConfig,
    /// Bounds on what callers may send.
    pub limits: LimitsConfig,
}

/// `[server]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Socket address to listen on.
    pub listen: String,
    /// The URL users reach the server at (links printed at start); derived from
    /// `listen` when absent.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Seconds between SSE heartbeats.
    pub sse_heartbeat_seconds: u64,
    /// Seconds in-flight work may take to finish on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Print a one-time admin login link at start (to the terminal, never to the
    /// log) while no OIDC provider is configured; `ccm serve --admin-login-link`
    /// prints it regardless.
    pub admin_login_link: bool,
    /// Seconds a client may take to send a request's headers.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request may take to be answered (the event stream excepted).
    pub request_timeout_seconds: u64,
    /// Seconds a kept-alive connection may sit without a request.
    pub idle_timeout_seconds: u64,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Event streams one caller (same subject and credential kind) may hold open.
    pub sse_streams_per_principal: usize,
    /// Events kept in memory for event streams that are momentarily behind (one
    /// buffer per process, shared by all streams); a stream further behind reads
    /// its own way back from the log.
    pub sse_buffer_events: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8020".into(),
            public_url: None,
            body_limit_bytes: 2 * 1024 * 1024,
            sse_heartbeat_seconds: 30,
            shutdown_grace_seconds: 20,
            admin_login_link: true,
            header_read_timeout_seconds: 10,
            request_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            sse_streams_per_principal: 8,
            sse_buffer_events: 1024,
        }
    }
}

/// `[database]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path/ccm.db`, `sqlite::memory:`, `postgres://user:pass@host/db`, or
    /// `memory` (in-process, lost on exit). A secret: it may hold a password.
    pub url: Secret,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("sqlite://ccm-data/ccm.db"),
        }
    }
}

/// Which cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudKind {
    /// The simulated fleet (ccm-sim) in real time.
    #[default]
    Sim,
    /// Amazon EC2 and CloudWatch.
    Aws,
}

/// `[cloud]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    /// `sim` or `aws`.
    pub provider: CloudKind,
    /// Regions workers live in (the first is the default for new workers).
    pub regions: Vec<String>,
    /// How new instances are launched.
    pub launch: LaunchConfig,
    /// Instance types with capacity and price (the price table); the built-in
    /// table of bare-metal types when absent.
    pub instance_types: Option<Vec<InstanceTypeConfig>>,
    /// The simulator (`provider = "sim"`).
    pub sim: SimSettings,
    /// AWS (`provider = "aws"`).
    pub aws: AwsSettings,
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            provider: CloudKind::Sim,
            regions: vec!["us-east-1".into(), "us-west-2".into()],
            launch: LaunchConfig::default(),
            instance_types: None,
            sim: SimSettings::default(),
            aws: AwsSettings::default(),
        }
    }
}

/// `[cloud.launch]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaunchConfig {
    /// AMI by name pattern (`*` wildcards), newest first.
    pub image_name_pattern: String,
    /// AMI by id (wins over the pattern).
    pub image_id: Option<String>,
    /// Default instance type.
    pub instance_type: String,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// Security groups.
    pub security_group_ids: Vec<String>,
    /// Key pair.
    pub key_name: Option<String>,
    /// IAM instance profile.
    pub iam_instance_profile: Option<String>,
    /// Detailed CloudWatch monitoring at launch.
    pub detailed_monitoring: bool,
    /// Tags on every instance.
    pub tags: BTreeMap<String, String>,
    /// Other images a worker may be created from, by a readable name: an AMI id
    /// (`ami-…`) or an AMI name pattern (`cml-2.8*`), e.g. `cml-2.8 = "cml-2.8*"`.
    pub images: BTreeMap<String, String>,
}

impl Default for LaunchConfig {
    fn default() -> Self {
        Self {
            image_name_pattern: "cml-2.9*".into(),
            image_id: None,
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: Vec::new(),
            key_name: None,
            iam_instance_profile: None,
            detailed_monitoring: true,
            tags: BTreeMap::new(),
            images: BTreeMap::new(),
        }
    }
}

/// One `[[cloud.instance_types]]` row of the price table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceTypeConfig {
    /// EC2 name.
    pub name: String,
    /// vCPUs offered to labs.
    pub vcpus: u64,
    /// Memory in GiB.
    pub memory_gib: u64,
    /// Storage in GiB.
    pub storage_gib: u64,
    /// CML node slots.
    pub node_slots: u32,
    /// On-demand price per hour in USD.
    pub hourly_usd: f64,
}

/// `[cloud.sim]`: the simulated fleet, running in real time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Seed of the simulated world.
    pub seed: u64,
    /// Seconds a `*.metal` instance takes to boot (20 minutes on real EC2).
    pub boot_seconds: i64,
    /// Seconds CML takes to come up after the instance runs.
    pub cml_boot_seconds: i64,
    /// Seconds a started lab's nodes take to boot.
    pub node_boot_seconds: i64,
    /// Seconds an instance takes to stop.
    pub stop_seconds: i64,
    /// Seconds an instance takes to terminate.
    pub terminate_seconds: i64,
    /// Seconds status checks stay `initializing`.
    pub status_init_seconds: i64,
    /// Instances come with a registered CML licence.
    pub licensed_at_launch: bool,
    /// Seed a demo when the store is empty: workers, lablet definitions, and
    /// lablets through the day, the first within minutes.
    pub seed_demo: bool,
    /// How many demo workers.
    pub demo_workers: u32,
    /// How many times faster than the wall clock the simulated fleet and the
    /// engine live (1: real time). A load test runs a simulated day in minutes
    /// with, say, 240.
    pub time_scale: f64,
    /// The instant from which a scaled clock runs faster (default: when the
    /// process starts). Processes that share a store must share it, so they
    /// read the same time.
    pub clock_origin: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            seed: 42,
            boot_seconds: 45,
            cml_boot_seconds: 30,
            node_boot_seconds: 30,
            stop_seconds: 20,
            terminate_seconds: 20,
            status_init_seconds: 20,
            licensed_at_launch: true,
            seed_demo: true,
            demo_workers: 3,
            time_scale: 1.0,
            clock_origin: None,
        }
    }
}

/// `[cloud.aws]`: every field of the AWS adapter's configuration; the defaults
/// are the adapter's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsSettings {
    /// Default region of the SDK (calls always name their region).
    pub region: Option<String>,
    /// Named profile.
    pub profile: Option<String>,
    /// Endpoint URL (an emulator or a VPC endpoint).
    pub endpoint_url: Option<String>,
    /// Static access key id (otherwise the standard credential chain).
    pub access_key_id: Option<String>,
    /// Static secret key.
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary static credentials.
    pub session_token: Option<Secret>,
    /// Owners searched when an image is chosen by name pattern: `self`, `amazon`,
    /// or account ids (an image shared from another account needs its id here).
    pub image_owners: Vec<String>,
    /// Attempts per AWS call, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff base between retries, in milliseconds.
    pub retry_base_delay_ms: u64,
    /// Backoff cap between retries, in milliseconds.
    pub retry_max_delay_ms: u64,
    /// TCP connect timeout, in seconds.
    pub connect_timeout_seconds: u64,
    /// Timeout of one attempt, in seconds (a timed-out attempt is retried).
    pub attempt_timeout_seconds: u64,
    /// `MaxResults` of describe pages (5–1,000).
    pub page_size: u32,
    /// Most values in one EC2 filter (1–200).
    pub max_filter_values: usize,
    /// Most instance ids per start/stop/terminate/tag call (1–1,000).
    pub max_ids_per_call: usize,
}

impl Default for AwsSettings {
    fn default() -> Self {
        let adapter = ccm_aws::AwsConfig::default();
        Self {
            region: None,
            profile: None,
            endpoint_url: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            image_owners: adapter.image_owners,
            max_attempts: adapter.retry.max_attempts,
            retry_base_delay_ms: millis(adapter.retry.base_delay),
            retry_max_delay_ms: millis(adapter.retry.max_delay),
            connect_timeout_seconds: adapter.connect_timeout.as_secs(),
            attempt_timeout_seconds: adapter.attempt_timeout.as_secs(),
            page_size: adapter.page_size,
            max_filter_values: adapter.max_filter_values,
            max_ids_per_call: adapter.max_ids_per_call,
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// TLS towards CML servers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmlTls {
    /// Trust on first use: pin each worker's certificate at first contact and
    /// refuse a changed one until an admin accepts it.
    #[default]
    Tofu,
    /// Accept any certificate (the server is not authenticated; warned at start).
    Insecure,
    /// Verify against the built-in roots.
    Verify,
    /// Verify against `ca_file`.
    Ca,
}

/// `[cml]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CmlConfig {
    /// CML user.
    pub username: String,
    /// CML password.
    pub password: Option<Secret>,
    /// Certificate checking.
    pub tls: CmlTls,
    /// PEM bundle for `tls = "ca"`.
    pub ca_file: Option<PathBuf>,
    /// Licence token used by licence registration.
    pub licence_token: Option<Secret>,
    /// `public` or `private` address when no `ccm:cml-endpoint` tag says otherwise.
    pub endpoint_address: ccm_core::fleet::EndpointAddress,
    /// Hosts besides each instance's own addresses that may receive the CML
    /// credentials: CIDRs (`10.0.0.0/8`), addresses, host names, `*.example.com`,
    /// each optionally with `:port`. Names are trusted as names (no DNS check).
    pub endpoint_allow: Vec<String>,
}

impl Default for CmlConfig {
    fn default() -> Self {
        Self {
            username: "admin".into(),
            password: None,
            tls: CmlTls::Tofu,
            ca_file: None,
            licence_token: None,
            endpoint_address: ccm_core::fleet::EndpointAddress::Public,
            endpoint_allow: Vec::new(),
        }
    }
}

/// `[engine]`: unset intervals take the provider's defaults (short for the
/// simulator so a newcomer sees things move, the engine's for AWS).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Metrics sweep interval.
    pub monitoring_interval_seconds: Option<u32>,
    /// Sweep interval of a worker asked to run whose CML is not available yet
    /// (default 30).
    pub booting_monitoring_interval_seconds: Option<u32>,
    /// Lab sync interval.
    pub labs_sync_interval_seconds: Option<u32>,
    /// Workers whose CML is queried at once during a sweep or lab sync
    /// (default 64; each has its six calls in flight together).
    pub cml_concurrency: Option<u32>,
    /// Full resync of the controllers' queues (beside following the log).
    pub resync_seconds: Option<u32>,
    /// Idle check interval.
    pub idle_check_interval_seconds: Option<u32>,
    /// Idle detection for new workers.
    pub idle_detection: Option<bool>,
    /// Minutes without activity before an idle pause.
    pub idle_timeout_minutes: Option<u32>,
    /// CPU alert threshold, percent.
    pub cpu_alert_percent: Option<f64>,
    /// Memory alert threshold, percent.
    pub memory_alert_percent: Option<f64>,
    /// Disk alert threshold, percent.
    pub disk_alert_percent: Option<f64>,
    /// Lease duration of the controller lease.
    pub lease_seconds: Option<u32>,
    /// How often the leader renews.
    pub lease_renew_seconds: Option<u32>,
    /// Fleet autoscaling.
    pub autoscaler: Option<bool>,
    /// Seconds metric points stay raw (default one day).
    pub metrics_raw_seconds: Option<u32>,
    /// Seconds per averaged metric point past that (default 300).
    pub metrics_step_seconds: Option<u32>,
    /// Seconds metric points are kept (default 30 days).
    pub metrics_keep_seconds: Option<u32>,
    /// Days events stay in the event log (default 30; 0: no age bound).
    pub event_retention_days: Option<u32>,
    /// Most events the event log keeps (default 10,000,000).
    pub event_retention_max: Option<u64>,
    /// Minutes idle detection holds off after a worker starts (default 60).
    pub idle_snooze_minutes: Option<u32>,
    /// Most workers (not terminated) the autoscaler keeps per region (default 20).
    pub autoscaler_max_workers_per_region: Option<u32>,
    /// Running workers scale-down never stops (default 0).
    pub autoscaler_min_running_workers: Option<u32>,
    /// Seconds between scale-up decisions (default 120).
    pub autoscaler_scale_up_cooldown_seconds: Option<u32>,
    /// Seconds between scale-down decisions (default 300).
    pub autoscaler_scale_down_cooldown_seconds: Option<u32>,
    /// Seconds a drained worker waits before it is stopped (default 600).
    pub autoscaler_drain_grace_seconds: Option<u32>,
    /// Keep capacity up for the short-notice bookings the same hour of the week
    /// brought before (default false).
    pub autoscaler_learn_warm_pool: Option<bool>,
    /// Weeks of booking history the learned warm pool reads (default 2, 1 to 8).
    pub autoscaler_warm_pool_history_weeks: Option<u32>,
    /// The auto-import job: adopt running instances of the CML image as workers.
    pub auto_import: Option<bool>,
    /// Regions auto-import searches (default: `cloud.regions`).
    pub auto_import_regions: Option<Vec<String>>,
    /// AMI name pattern auto-import adopts (default `cml-*`).
    pub auto_import_image_name_pattern: Option<String>,
    /// Seconds between auto-import runs (default 3600).
    pub auto_import_interval_seconds: Option<u32>,
}

impl EngineConfig {
    /// The metric series' retention: these settings over the defaults.
    pub fn metric_retention(&self) -> MetricRetention {
        let d = MetricRetention::default();
        MetricRetention {
            raw_seconds: self.metrics_raw_seconds.unwrap_or(d.raw_seconds),
            step_seconds: self.metrics_step_seconds.unwrap_or(d.step_seconds),
            keep_seconds: self.metrics_keep_seconds.unwrap_or(d.keep_seconds),
        }
    }
}

/// `[lablets]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabletsConfig {
    /// Users (not only managers) may book lablets, always for themselves.
    pub self_service: bool,
    /// Lablets starting within this many seconds are placed (worker boot and lab
    /// start; default 2,100). With `learn_lead_time`, the fallback until enough
    /// boots and lab imports were observed.
    pub lead_time_seconds: Option<u32>,
    /// Learn the lead time from the fleet's own boots and lab imports (default on).
    pub learn_lead_time: Option<bool>,
    /// Percentile of the observed durations the learned lead covers (50–100,
    /// default 95).
    pub lead_time_percentile: Option<u8>,
    /// Seconds added to the learned lead (default 180).
    pub lead_time_margin_seconds: Option<u32>,
    /// Observations needed before the learned lead is used (default 5).
    pub lead_time_min_samples: Option<u32>,
    /// A lablet not running this long after its start expires (default 600).
    pub start_grace_seconds: Option<u32>,
    /// `pack` (fewest workers, the default) or `spread` (most headroom).
    pub placement_policy: Option<ccm_core::placement::Policy>,
}

/// `[auth]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Browser session lifetime in seconds.
    pub session_ttl_seconds: u64,
    /// Most browser sessions live at once (all processes together); beyond it
    /// new logins are refused with 503 `too_many_sessions` and open sessions keep
    /// working.
    pub max_sessions: usize,
    /// Mark session cookies `Secure`; by default only when the public URL is https.
    pub cookie_secure: Option<bool>,
    /// Bearer JWTs from an OpenID Connect provider.
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_seconds: 12 * 3600,
            max_sessions: 10_000,
            cookie_secure: None,
            oidc: None,
        }
    }
}

/// `[auth.oidc]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuer URL (the `iss` claim; discovery at `/.well-known/openid-configuration`).
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// JWKS URL; discovered from the issuer when absent.
    pub jwks_url: Option<String>,
    /// Dotted path of the roles array in the claims.
    pub role_claim: String,
    /// Names the provider uses for ccm's roles.
    pub roles: RoleNames,
    /// Clock skew tolerated on `exp`/`nbf`, seconds.
    pub leeway_seconds: u64,
    /// Shortest time between two JWKS fetches (unknown `kid`s, failures, refreshes).
    pub jwks_refresh_min_seconds: u64,
    /// The JWKS is fetched again when older than this, so a key removed at the
    /// issuer stops being trusted.
    pub jwks_refresh_seconds: u64,
    /// While refreshes fail, keys last fetched longer ago than this are no longer
    /// trusted.
    pub jwks_max_age_seconds: u64,
    /// Browser logins started and not completed that are kept at most (the oldest
    /// is forgotten first).
    pub max_pending_logins: usize,
    /// Client id for the browser login (authorization code + PKCE); the browser
    /// login is off when absent.
    pub client_id: Option<String>,
    /// Client secret (confidential clients; a public client uses PKCE alone).
    pub client_secret: Option<Secret>,
    /// Where the provider sends the browser back (`<public_url>/auth/callback`
    /// when absent).
    pub redirect_url: Option<String>,
    /// Scopes asked for at login.
    pub scopes: String,
    /// Where the provider sends the browser after logout (`<public_url>/` when absent).
    pub post_logout_redirect_url: Option<String>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            audience: String::new(),
            jwks_url: None,
            role_claim: "realm_access.roles".into(),
            roles: RoleNames::default(),
            leeway_seconds: 30,
            jwks_refresh_min_seconds: 10,
            jwks_refresh_seconds: 3600,
            jwks_max_age_seconds: 24 * 3600,
            max_pending_logins: 10_000,
            client_id: None,
            client_secret: None,
            redirect_url: None,
            scopes: "openid profile email".into(),
            post_logout_redirect_url: None,
        }
    }
}

/// Provider role names for ccm's roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleNames {
    /// Name of the `admin` role.
    pub admin: String,
    /// Name of the `manager` role.
    pub manager: String,
    /// Name of the `user` role.
    pub user: String,
}

impl Default for RoleNames {
    fn default() -> Self {
        Self {
            admin: "admin".into(),
            manager: "manager".into(),
            user: "user".into(),
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `ccm_core=debug,info`).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// `[alerts]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// URLs that receive every worker alert (raised and cleared) as a JSON POST.
    pub webhook_urls: Vec<String>,
    /// Time allowed for one POST.
    pub webhook_timeout_seconds: u64,
    /// POSTs per alert and URL before giving up.
    pub webhook_attempts: u32,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            webhook_urls: Vec::new(),
            webhook_timeout_seconds: 5,
            webhook_attempts: 4,
        }
    }
}

/// `[telemetry]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP endpoint traces are exported to (e.g. `http://collector:4318`);
    /// none exports nothing.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: None,
            service_name: "ccm".into(),
        }
    }
}

/// `[limits]`: bounds on topologies (lablet definitions, lab imports).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest topology, in bytes.
    pub topology_max_bytes: usize,
    /// Deepest nesting of lists and mappings in a topology.
    pub topology_max_depth: usize,
    /// Most nodes in a topology.
    pub topology_max_nodes: usize,
    /// Most links in a topology.
    pub topology_max_links: usize,
    /// Most YAML values aliases may add to a topology.
    pub topology_max_alias_expansion: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let t = ccm_core::topology::TopologyLimits::default();
        Self {
            topology_max_bytes: t.max_bytes,
            topology_max_depth: t.max_depth,
            topology_max_nodes: t.max_nodes,
            topology_max_links: t.max_links,
            topology_max_alias_expansion: t.max_alias_expansion,
        }
    }
}

impl LimitsConfig {
    /// The topology bounds these settings give.
    pub fn topology(&self) -> ccm_core::topology::TopologyLimits {
        ccm_core::topology::TopologyLimits {
            max_bytes: self.topology_max_bytes,
            max_depth: self.topology_max_depth,
            max_nodes: self.topology_max_nodes,
            max_links: self.topology_max_links,
            max_alias_expansion: self.topology_max_alias_expansion,
        }
    }
}

impl Config {
    /// The URL users reach the server at.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.server.listen),
        }
    }

    /// Whether session cookies are `Secure`.
    pub fn cookie_secure(&self) -> bool {
        self.auth
            .cookie_secure
            .unwrap_or_else(|| self.public_url().starts_with("https://"))
    }
}
