//! `ccm definitions …`: lablet definitions — list, show, create (from a JSON
//! document or from flags with a YAML topology file), activate and deactivate.

use ccm_api::definition::{CreateDefinition, ResourceNeeds, SetDefinitionActive};
use ccm_api::worker::Resources;
use clap::{Args, Subcommand};
use serde_json::Value;

use super::{client, read_input, wire_body, wire_enum, Listing};
use crate::cli::client::{Endpoint, Query};
use crate::cli::output::{fields, print};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/definitions`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/definitions");
/// `POST /api/v1/definitions`.
pub const CREATE: Endpoint = Endpoint::post("/api/v1/definitions");
/// `GET /api/v1/definitions/{id}`.
pub const GET: Endpoint = Endpoint::get("/api/v1/definitions/{id}");
/// `PUT /api/v1/definitions/{id}/active`.
pub const SET_ACTIVE: Endpoint = Endpoint::put("/api/v1/definitions/{id}/active");

/// A definition from flags.
#[derive(Debug, Clone, Args)]
pub struct DefinitionFlags {
    /// Name shared by all versions.
    #[arg(long, required_unless_present = "file")]
    pub name: Option<String>,
    /// Version (`1.0.0`).
    #[arg(
        long = "version",
        id = "definition_version",
        required_unless_present = "file"
    )]
    pub version: Option<String>,
    /// CML topology YAML file (`-`: standard input).
    #[arg(long, required_unless_present = "file")]
    pub topology: Option<String>,
    /// Thousandths of a vCPU each lablet holds.
    #[arg(long, default_value_t = 1000)]
    pub cpu_millis: u64,
    /// Memory each lablet holds, MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory_mib: u64,
    /// Storage each lablet holds, GiB.
    #[arg(long, default_value_t = 1)]
    pub storage_gib: u64,
    /// CML nodes the topology starts (0: counted from the topology).
    #[arg(long, default_value_t = 0)]
    pub nodes: u32,
    /// Ports each lablet gets.
    #[arg(long, default_value_t = 0)]
    pub ports: u32,
    /// Licence the hosting worker must run on (personal, enterprise, evaluation).
    #[arg(long)]
    pub licence_affinity: Option<String>,
    /// Oldest CML able to run the topology.
    #[arg(long)]
    pub min_cml_version: Option<String>,
    /// Longest timeslot, minutes.
    #[arg(long, default_value_t = 120)]
    pub max_duration_minutes: u32,
    /// Lablets kept ready ahead of bookings.
    #[arg(long, default_value_t = 0)]
    pub warm_pool_depth: u32,
}

/// `ccm definitions …`.
#[derive(Debug, Subcommand)]
pub enum DefinitionsAction {
    /// List definitions.
    List {
        /// Only versions of this name.
        #[arg(long)]
        name: Option<String>,
        /// Only active ones.
        #[arg(long)]
        active: bool,
    },
    /// Show one definition.
    Show {
        /// Definition id.
        id: String,
    },
    /// Create a definition, or a new version of one (admins): from a JSON
    /// document (`--file`, `-` for standard input) or from flags.
    Create {
        /// The JSON body of `POST /api/v1/definitions`.
        #[arg(long, conflicts_with_all = ["name", "definition_version", "topology"])]
        file: Option<String>,
        /// The definition, without `--file`.
        #[command(flatten)]
        flags: DefinitionFlags,
    },
    /// Accept new lablets of a definition (admins).
    Activate {
        /// Definition id.
        id: String,
    },
    /// Refuse new lablets of a definition (admins).
    Deactivate {
        /// Definition id.
        id: String,
    },
}

/// Table columns of a definition.
pub const HEADERS: [&str; 5] = ["ID", "NAME", "VERSION", "ACTIVE", "NODES"];
/// The dotted path of each column.
pub const COLUMNS: [&str; 5] = ["id", "meta.name", "version", "active", "needs.nodes"];

fn details(d: &Value) -> String {
    fields(
        d,
        &[
            ("id", "id"),
            ("name", "meta.name"),
            ("version", "version"),
            ("active", "active"),
            ("nodes", "needs.nodes"),
            ("ports", "needs.ports"),
            ("cpu millis", "needs.resources.cpu_millis"),
            ("memory MiB", "needs.resources.memory_mib"),
            ("storage GiB", "needs.resources.storage_gib"),
            ("licence", "licence_affinity"),
            ("min CML", "min_cml_version"),
            ("max minutes", "max_duration_minutes"),
            ("warm pool", "warm_pool_depth"),
        ],
    )
}

fn body_from_flags(f: &DefinitionFlags) -> Result<Value, Error> {
    let missing = |flag: &str| Error::Usage(format!("give --file or {flag}"));
    let topology = f.topology.as_deref().ok_or_else(|| missing("--topology"))?;
    let licence_affinity = f
        .licence_affinity
        .as_deref()
        .map(|kind| wire_enum("--licence-affinity", kind))
        .transpose()?;
    wire_body(&CreateDefinition {
        name: f.name.clone().ok_or_else(|| missing("--name"))?,
        version: f.version.clone().ok_or_else(|| missing("--version"))?,
        topology_yaml: read_input(topology)?,
        needs: ResourceNeeds {
            resources: Resources {
                cpu_millis: f.cpu_millis,
                memory_mib: f.memory_mib,
                storage_gib: f.storage_gib,
            },
            nodes: f.nodes,
            ports: f.ports,
        },
        licence_affinity,
        min_cml_version: f.min_cml_version.clone(),
        max_duration_minutes: f.max_duration_minutes,
        warm_pool_depth: f.warm_pool_depth,
    })
}

fn active(active: bool) -> Result<Value, Error> {
    wire_body(&SetDefinitionActive { active })
}

/// Runs `ccm definitions …`.
pub async fn run(remote: &RemoteArgs, action: &DefinitionsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let none = Query::new();
    let show = |d: &Value| print(remote.json, d, details);
    match action {
        DefinitionsAction::List { name, active } => {
            let query = Query::new()
                .add("limit", 1000)
                .opt("name", name.as_deref())
                .flag("active_only", *active);
            let listing = Listing {
                endpoint: LIST,
                args: &[],
                query,
                headers: &HEADERS,
                columns: &COLUMNS,
            };
            listing.print(&c, remote.json).await?;
        }
        DefinitionsAction::Show { id } => show(&c.call(GET, &[id.as_str()], &none).await?),
        DefinitionsAction::Create { file, flags } => {
            let body = match file {
                Some(path) => serde_json::from_str(&read_input(path)?)
                    .map_err(|e| Error::Usage(format!("{path} is not a JSON document: {e}")))?,
                None => body_from_flags(flags)?,
            };
            show(&c.send(CREATE, &[], &none, body).await?);
        }
        DefinitionsAction::Activate { id } => {
            show(
                &c.send(SET_ACTIVE, &[id.as_str()], &none, active(true)?)
                    .await?,
            );
        }
        DefinitionsAction::Deactivate { id } => {
            show(
                &c.send(SET_ACTIVE, &[id.as_str()], &none, active(false)?)
                    .await?,
            );
        }
    }
    Ok(())
}
