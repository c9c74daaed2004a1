//! The subcommands that call a server with an API key, one module per group:
//! `workers` (and `worker_admin` for a worker's settings), `labs`,
//! `definitions`, `lablets` (with `placement`), `capacity` (the forecast),
//! `jobs`, `keys`, `events` and
//! `system` (settings, leadership, session, metrics, the OpenAPI document).
//! Each request names its endpoint constant; `cli::coverage` maps every
//! subcommand to those constants and checks them against the route table.

pub mod capacity;
pub mod definitions;
pub mod events;
pub mod jobs;
pub mod keys;
pub mod lablets;
pub mod labs;
pub mod system;
pub mod worker_admin;
pub mod workers;

use std::collections::BTreeMap;

use ccm_core::secret::Secret;
use clap::Subcommand;
use serde_json::Value;

use super::client::{Client, Endpoint, Query};
use super::output::{items, print, rows, table};
use super::RemoteArgs;
use crate::error::Error;

/// The operator subcommands (all call a server).
#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Workers: list, create, start, stop, import, tags, licence, monitoring
    /// (calls a server).
    Workers {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: workers::WorkersAction,
    },
    /// The CML labs of a worker (calls a server).
    Labs {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: labs::LabsAction,
    },
    /// Lablet definitions: versioned lab templates (calls a server).
    Definitions {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: definitions::DefinitionsAction,
    },
    /// Lablets: booked labs with a timeslot (calls a server).
    Lablets {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: lablets::LabletsAction,
    },
    /// Where lablets would be placed (calls a server; writes nothing).
    Placement {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: lablets::PlacementAction,
    },
    /// The workers the bookings need over the next hours, the planned starts
    /// and stops, and the lead time in force (managers; calls a server).
    Forecast {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// Hours ahead (1 to 168; the server's default is 48).
        #[arg(long)]
        hours: Option<u32>,
        /// Minutes between steps (5 to 60; the server's default is 15).
        #[arg(long)]
        step_minutes: Option<u32>,
    },
    /// What the fleet costs: burn rate now, today and this week by region and
    /// instance type, and the saving against always-on (calls a server).
    Cost {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Jobs (calls a server).
    Jobs {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: jobs::JobsAction,
    },
    /// API keys over the API (admins; calls a server). `ccm api-key create`
    /// instead writes a key straight into the configured store, without a server
    /// — the way to get the first key.
    Keys {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: keys::KeysAction,
    },
    /// The event log: history and the live stream (calls a server).
    Events {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: events::EventsAction,
    },
    /// The settings the server runs with (admins; calls a server).
    Settings {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// This server process's leadership, lease, log position and relay lag
    /// (admins; calls a server).
    Leadership {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Who the API key is: subject and role (calls a server).
    #[command(visible_alias = "whoami")]
    Session {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The server's Prometheus metrics as text (calls a server; `--json` changes
    /// nothing).
    Metrics {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The server's OpenAPI document (JSON; calls a server).
    Openapi {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
    },
}

/// Runs an operator subcommand.
pub async fn run(command: &RemoteCommand) -> Result<(), Error> {
    match command {
        RemoteCommand::Workers { remote, action } => workers::run(remote, action).await,
        RemoteCommand::Labs { remote, action } => labs::run(remote, action).await,
        RemoteCommand::Definitions { remote, action } => definitions::run(remote, action).await,
        RemoteCommand::Lablets { remote, action } => lablets::run(remote, action).await,
        RemoteCommand::Placement { remote, action } => lablets::placement(remote, action).await,
        RemoteCommand::Forecast {
            remote,
            hours,
            step_minutes,
        } => capacity::forecast(remote, *hours, *step_minutes).await,
        RemoteCommand::Cost { remote } => capacity::cost(remote).await,
        RemoteCommand::Jobs { remote, action } => jobs::run(remote, action).await,
        RemoteCommand::Keys { remote, action } => keys::run(remote, action).await,
        RemoteCommand::Events { remote, action } => events::run(remote, action).await,
        RemoteCommand::Settings { remote } => system::settings(remote).await,
        RemoteCommand::Leadership { remote } => system::leadership(remote).await,
        RemoteCommand::Session { remote } => system::session(remote).await,
        RemoteCommand::Metrics { remote } => system::metrics(remote).await,
        RemoteCommand::Openapi { remote } => system::openapi(remote).await,
    }
}

/// The client of `--server` with `--api-key`.
pub fn client(remote: &RemoteArgs) -> Result<Client, Error> {
    Client::new(&remote.server, remote.api_key.clone().map(Secret::new))
}

/// One page (up to 1,000 items) of a list endpoint, printed as a table or JSON.
pub struct Listing<'a> {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its path arguments.
    pub args: &'a [&'a str],
    /// Filters.
    pub query: Query,
    /// Column headers.
    pub headers: &'a [&'a str],
    /// The dotted path of each column.
    pub columns: &'a [&'a str],
}

impl Listing<'_> {
    /// Asks for the page and prints it.
    pub async fn print(self, c: &Client, json: bool) -> Result<(), Error> {
        let page = c.call(self.endpoint, self.args, &self.query).await?;
        print(json, &page, |p| {
            table(self.headers, &rows(&items(p), self.columns))
        });
        Ok(())
    }
}

/// A `key=value` argument.
pub fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not key=value")),
    }
}

/// `key=value` arguments as a map (a later key wins).
pub fn pairs(list: &[(String, String)]) -> BTreeMap<String, String> {
    list.iter().cloned().collect()
}

/// A request body: the REST API's own request type (`ccm_api`), so a body the
/// CLI sends cannot differ from what the server's handler reads.
pub fn wire_body<T: serde::Serialize>(body: &T) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::Usage(format!("cannot encode the request: {e}")))
}

/// A command-line value read as the API's enumeration `T` (`pack`, `admin`…),
/// refused here with the accepted values rather than by the server.
pub fn wire_enum<T: serde::de::DeserializeOwned>(flag: &str, text: &str) -> Result<T, Error> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|e| Error::Usage(format!("{flag} `{text}`: {e}")))
}

/// A command-line id that must be a UUID.
pub fn uuid_arg(flag: &str, text: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(text.trim())
        .map_err(|_| Error::Usage(format!("{flag} `{text}` is not a UUID")))
}

/// The text of a file, or of standard input for `-`.
pub fn read_input(path: &str) -> Result<String, Error> {
    let io = |source| Error::Io {
        what: format!("reading {path}"),
        source,
    };
    if path == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(io)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(io)
    }
}

#[cfg(test)]
mod wire_arg_tests {
    use super::*;

    #[test]
    fn bad_values_are_refused_before_the_server_is_called() {
        let policy: ccm_api::placement::PlacementPolicy = wire_enum("--policy", "spread").unwrap();
        assert_eq!(wire_body(&policy).unwrap(), Value::String("spread".into()));
        let refused = wire_enum::<ccm_api::placement::PlacementPolicy>("--policy", "scatter")
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("--policy `scatter`") && refused.contains("pack"),
            "{refused}"
        );
        assert!(uuid_arg("--definition", "ccna")
            .unwrap_err()
            .to_string()
            .contains("not a UUID"));
        assert!(uuid_arg("--definition", " 0d3f0000-0000-4000-8000-000000000001 ").is_ok());
        assert_eq!(
            pairs(&[("a".into(), "1".into()), ("a".into(), "2".into())]),
            BTreeMap::from([("a".to_owned(), "2".to_owned())])
        );
    }
}
