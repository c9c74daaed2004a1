//! Reading a configuration: file, then `_file` secrets, then the environment, then
//! the shape, then the semantic checks. Every problem is collected and reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::env::{parse, Kind, ENV_VARS, PASSTHROUGH_ENV_VARS};
use super::{check, Config, ConfigErrors, Problem};

/// Fields that are secrets: each may also be given as `<field>_file`.
const SECRET_PATHS: &[&str] = &[
    "database.url",
    "cloud.aws.secret_access_key",
    "cml.password",
    "cml.licence_token",
    "auth.oidc.client_secret",
];

/// Where a configuration comes from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// The `CCM_*` environment variables.
    pub env: BTreeMap<String, String>,
}

impl Sources {
    /// `file` and this process's `CCM_*` variables.
    pub fn from_process(file: Option<&Path>) -> Self {
        Self {
            file: file.map(Path::to_path_buf),
            env: std::env::vars()
                .filter(|(name, _)| name.starts_with("CCM_"))
                .collect(),
        }
    }
}

/// Loads the configuration from `file` and the process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigErrors> {
    load_from(&Sources::from_process(file))
}

/// Loads the configuration from explicit sources (tests pass their own environment).
pub fn load_from(sources: &Sources) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();
    let mut root = toml::Table::new();
    if let Some(path) = &sources.file {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => match text.parse::<toml::Table>() {
                Ok(table) => root = table,
                Err(error) => problems.push(Problem::new(
                    shown,
                    format!("not valid TOML: {}", error.to_string().trim()),
                )),
            },
            Err(error) => problems.push(Problem::new(shown, format!("cannot read: {error}"))),
        }
    }
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    secrets_from_files(&mut root, &mut problems);
    apply_env(&mut root, &sources.env, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    let config: Config = match serde_path_to_error::deserialize(toml::Value::Table(root)) {
        Ok(config) => config,
        Err(error) => {
            let path = error.path().to_string();
            let path = if path == "." {
                "(top level)".into()
            } else {
                path
            };
            return Err(ConfigErrors(vec![Problem::new(
                path,
                error
                    .inner()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            )]));
        }
    };
    let problems = check(&config);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(problems))
    }
}

fn split(path: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let leaf = parts.pop().unwrap_or_default();
    (parts, leaf)
}

/// The table at `parents`, created when missing; `None` when a non-table is in the way.
fn table_at<'a>(root: &'a mut toml::Table, parents: &[&str]) -> Option<&'a mut toml::Table> {
    let mut table = root;
    for part in parents {
        let entry = table
            .entry((*part).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut()?;
    }
    Some(table)
}

/// The table at `parents` if it exists.
fn existing_table<'a>(root: &'a mut toml::Table, parents: &[&str]) -> Option<&'a mut toml::Table> {
    let mut table = root;
    for part in parents {
        table = table.get_mut(*part)?.as_table_mut()?;
    }
    Some(table)
}

fn read_secret(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
        .map_err(|e| format!("cannot read `{path}`: {e}"))
}

fn secrets_from_files(root: &mut toml::Table, problems: &mut Vec<Problem>) {
    for secret in SECRET_PATHS {
        let (parents, leaf) = split(secret);
        let file_key = format!("{leaf}_file");
        let Some(table) = existing_table(root, &parents) else {
            continue;
        };
        let Some(value) = table.remove(&file_key) else {
            continue;
        };
        let shown = format!("{secret}_file");
        let Some(path) = value.as_str() else {
            problems.push(Problem::new(shown, "must be a file path (a string)"));
            continue;
        };
        if table.contains_key(leaf) {
            problems.push(Problem::new(
                shown,
                format!("set either `{secret}` or `{secret}_file`, not both"),
            ));
            continue;
        }
        match read_secret(path) {
            Ok(value) => {
                table.insert(leaf.to_owned(), toml::Value::String(value));
            }
            Err(reason) => problems.push(Problem::new(shown, reason)),
        }
    }
}

fn apply_env(root: &mut toml::Table, env: &BTreeMap<String, String>, problems: &mut Vec<Problem>) {
    for (name, path, kind) in ENV_VARS.iter() {
        let file_name = format!("{name}_FILE");
        let direct = env.get(name);
        let from_file = if *kind == Kind::Secret {
            env.get(&file_name)
        } else {
            None
        };
        let shown = format!("{name} ({path})");
        let text = match (direct, from_file) {
            (Some(_), Some(_)) => {
                problems.push(Problem::new(
                    shown,
                    format!("set either {name} or {file_name}, not both"),
                ));
                continue;
            }
            (Some(text), None) => text.clone(),
            (None, Some(file)) => match read_secret(file) {
                Ok(text) => text,
                Err(reason) => {
                    problems.push(Problem::new(format!("{file_name} ({path})"), reason));
                    continue;
                }
            },
            (None, None) => continue,
        };
        let value = match parse(*kind, &text) {
            Ok(value) => value,
            Err(reason) => {
                problems.push(Problem::new(shown, reason));
                continue;
            }
        };
        let (parents, leaf) = split(path);
        match table_at(root, &parents) {
            Some(table) => {
                table.insert(leaf.to_owned(), value);
            }
            None => problems.push(Problem::new(
                shown,
                format!("`{}` in the file is not a table", parents.join(".")),
            )),
        }
    }
    for name in env.keys() {
        let known = ENV_VARS.iter().any(|(known, _, kind)| {
            name == known || (*kind == Kind::Secret && *name == format!("{known}_FILE"))
        }) || PASSTHROUGH_ENV_VARS.contains(&name.as_str());
        if !known {
            problems.push(Problem::new(
                name.clone(),
                "unknown environment variable (see `ccm config env` for the list)",
            ));
        }
    }
}
