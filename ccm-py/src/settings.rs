//! `Engine.open(database_url, cloud, **settings)` → a `ccm_assembly::config::Config`,
//! the same configuration the server reads from TOML. Each setting is a short
//! name from [`ALIASES`] (`regions`, `endpoint_url`, `cml_password`, …) or a
//! dotted config path (`engine.idle_timeout_minutes`); the server's checks then
//! run on the result, so both sides refuse the same mistakes.

use ccm_assembly::config::{check, Config, ConfigErrors};
use serde_json::{Map, Value};

use crate::error::BindingError;

/// Short setting names and the config paths they set.
pub const ALIASES: &[(&str, &str)] = &[
    ("regions", "cloud.regions"),
    ("instance_types", "cloud.instance_types"),
    ("endpoint_url", "cloud.aws.endpoint_url"),
    ("aws_region", "cloud.aws.region"),
    ("aws_profile", "cloud.aws.profile"),
    ("access_key_id", "cloud.aws.access_key_id"),
    ("secret_access_key", "cloud.aws.secret_access_key"),
    ("cml_username", "cml.username"),
    ("cml_password", "cml.password"),
    ("cml_tls", "cml.tls"),
    ("cml_ca_file", "cml.ca_file"),
    ("licence_token", "cml.licence_token"),
    ("endpoint_address", "cml.endpoint_address"),
    ("seed", "cloud.sim.seed"),
    ("sim_boot_seconds", "cloud.sim.boot_seconds"),
    ("sim_cml_boot_seconds", "cloud.sim.cml_boot_seconds"),
    ("sim_stop_seconds", "cloud.sim.stop_seconds"),
    ("sim_terminate_seconds", "cloud.sim.terminate_seconds"),
    ("sim_status_init_seconds", "cloud.sim.status_init_seconds"),
    ("sim_licensed_at_launch", "cloud.sim.licensed_at_launch"),
    ("image_name_pattern", "cloud.launch.image_name_pattern"),
    ("image_id", "cloud.launch.image_id"),
    ("instance_type", "cloud.launch.instance_type"),
    ("subnet_id", "cloud.launch.subnet_id"),
    ("security_group_ids", "cloud.launch.security_group_ids"),
    ("key_name", "cloud.launch.key_name"),
    ("iam_instance_profile", "cloud.launch.iam_instance_profile"),
    ("detailed_monitoring", "cloud.launch.detailed_monitoring"),
    ("launch_tags", "cloud.launch.tags"),
    (
        "monitoring_interval_seconds",
        "engine.monitoring_interval_seconds",
    ),
    (
        "labs_sync_interval_seconds",
        "engine.labs_sync_interval_seconds",
    ),
    (
        "idle_check_interval_seconds",
        "engine.idle_check_interval_seconds",
    ),
    ("idle_detection", "engine.idle_detection"),
    ("idle_timeout_minutes", "engine.idle_timeout_minutes"),
    ("cpu_alert_percent", "engine.cpu_alert_percent"),
    ("memory_alert_percent", "engine.memory_alert_percent"),
    ("disk_alert_percent", "engine.disk_alert_percent"),
    ("autoscaler", "engine.autoscaler"),
];

fn path_of(name: &str) -> Result<&str, BindingError> {
    if name.contains('.') {
        return Ok(name);
    }
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, path)| *path)
        .ok_or_else(|| {
            let known: Vec<&str> = ALIASES.iter().map(|(alias, _)| *alias).collect();
            BindingError::input(
                name,
                format!(
                    "is not a setting (known: {}; or a dotted config path such as engine.autoscaler)",
                    known.join(", ")
                ),
            )
        })
}

/// Sets `value` at the dotted `path` under `root`, creating tables on the way.
fn set_path(root: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), BindingError> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(leaf) = parts.pop() else {
        return Err(BindingError::input(path, "is empty"));
    };
    let mut table = root;
    for part in parts {
        let entry = table
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        table = entry
            .as_object_mut()
            .ok_or_else(|| BindingError::input(path, format!("`{part}` is not a table")))?;
    }
    table.insert(leaf.to_owned(), value);
    Ok(())
}

/// The configuration for an embedded engine.
pub fn config_from(
    database_url: &str,
    cloud: &str,
    settings: Map<String, Value>,
) -> Result<Config, BindingError> {
    let mut root = Map::new();
    set_path(
        &mut root,
        "database.url",
        Value::String(database_url.into()),
    )?;
    set_path(&mut root, "cloud.provider", Value::String(cloud.into()))?;
    // The server seeds demo workers into an empty store; an embedding program
    // builds its own fleet.
    set_path(&mut root, "cloud.sim.seed_demo", Value::Bool(false))?;
    for (name, value) in settings {
        let path = path_of(&name)?.to_owned();
        set_path(&mut root, &path, value)?;
    }
    let config: Config = serde_json::from_value(Value::Object(root))
        .map_err(|e| BindingError::input("settings", e.to_string()))?;
    let problems = check(&config);
    if !problems.is_empty() {
        return Err(ccm_assembly::Error::Config(ConfigErrors(problems)).into());
    }
    Ok(config)
}
