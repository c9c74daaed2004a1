//! `ccm jobs …`: the recurrent jobs with their next and last run; trigger,
//! pause and resume one (admins).

use clap::Subcommand;
use serde_json::{json, Value};

use super::client;
use crate::cli::client::{Endpoint, Query};
use crate::cli::output::{items, print, rows, table};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/jobs`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/jobs");
/// `POST /api/v1/jobs/{name}/trigger`.
pub const TRIGGER: Endpoint = Endpoint::post("/api/v1/jobs/{name}/trigger");
/// `POST /api/v1/jobs/{name}/pause`.
pub const PAUSE: Endpoint = Endpoint::post("/api/v1/jobs/{name}/pause");
/// `POST /api/v1/jobs/{name}/resume`.
pub const RESUME: Endpoint = Endpoint::post("/api/v1/jobs/{name}/resume");

/// `ccm jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// List jobs with next and last run.
    List,
    /// Run a job now (admins).
    Trigger {
        /// Job name.
        name: String,
    },
    /// Pause a job (admins).
    Pause {
        /// Job name.
        name: String,
    },
    /// Resume a job (admins).
    Resume {
        /// Job name.
        name: String,
    },
}

fn job_table(v: &Value) -> String {
    let list = if v.is_object() {
        vec![v.clone()]
    } else {
        items(v)
    };
    let columns = [
        "name",
        "next_run_at",
        "last_run_at",
        "last_outcome.result",
        "paused",
    ];
    table(
        &["NAME", "NEXT RUN", "LAST RUN", "OUTCOME", "PAUSED"],
        &rows(&list, &columns),
    )
}

/// Runs `ccm jobs …`.
pub async fn run(remote: &RemoteArgs, action: &JobsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let none = Query::new();
    let answer = match action {
        JobsAction::List => c.call(LIST, &[], &none).await?,
        JobsAction::Trigger { name } => c.send(TRIGGER, &[name.as_str()], &none, json!({})).await?,
        JobsAction::Pause { name } => c.send(PAUSE, &[name.as_str()], &none, json!({})).await?,
        JobsAction::Resume { name } => c.send(RESUME, &[name.as_str()], &none, json!({})).await?,
    };
    print(remote.json, &answer, job_table);
    Ok(())
}
