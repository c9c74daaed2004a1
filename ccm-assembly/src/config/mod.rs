//! Configuration of `ccm serve`: a TOML file (`--config`), overridden by `CCM_*`
//! environment variables (env wins), with secrets optionally read from files
//! (`<field>_file` in TOML, `CCM_<NAME>_FILE` in the environment).
//!
//! With no file and no variables the embedded default applies: SQLite at
//! `./ccm-data/ccm.db`, the simulated fleet in real time with short delays and a
//! few demo workers, listening on `127.0.0.1:8020`.
//!
//! [`load`] turns the sources into a [`Config`]; every problem found is a
//! [`Problem`] naming the field path and the reason, so `ccm config check` can say
//! exactly what is wrong.

pub mod aws;
mod check;
mod env;
mod load;
mod types;

pub use check::check;
pub use env::{ENV_VARS, PASSTHROUGH_ENV_VARS};
pub use load::{load, load_from, Sources};
pub use types::*;

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path (`server.listen`), or the environment variable and the path it sets.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Every problem of a configuration that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ConfigErrors(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    let mut out = format!(
        "the configuration has {} problem{}:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  - ");
        out.push_str(&p.to_string());
    }
    out
}
