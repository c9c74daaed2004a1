//! `ccm keys …`: API keys over the API (admins) — list, create (the key is
//! printed once) and revoke. `ccm api-key create` is the other way in: it writes
//! a key straight into the configured store, with no server, for the first key.

use ccm_api::api_key::CreateApiKey;
use clap::Subcommand;
use serde_json::Value;

use super::{client, wire_body, wire_enum};
use crate::cli::client::{Endpoint, Query};
use crate::cli::output::{fields, items, print, rows, table};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/api-keys`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/api-keys");
/// `POST /api/v1/api-keys`.
pub const CREATE: Endpoint = Endpoint::post("/api/v1/api-keys");
/// `DELETE /api/v1/api-keys/{id}`.
pub const REVOKE: Endpoint = Endpoint::delete("/api/v1/api-keys/{id}");

/// `ccm keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List API keys (never the keys themselves).
    List,
    /// Create a key; it is printed once.
    Create {
        /// Key name (`ci`, `grafana`).
        #[arg(long)]
        name: String,
        /// Role: user, manager or admin.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Revoke a key at once.
    Revoke {
        /// Key id.
        id: String,
    },
}

const HEADERS: [&str; 6] = ["ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"];
const COLUMNS: [&str; 6] = [
    "id",
    "name",
    "role",
    "created_at",
    "last_used_at",
    "revoked_at",
];

fn details(k: &Value) -> String {
    fields(
        k,
        &[
            ("id", "id"),
            ("name", "name"),
            ("role", "role"),
            ("created", "created_at"),
            ("revoked", "revoked_at"),
        ],
    )
}

/// Runs `ccm keys …`.
pub async fn run(remote: &RemoteArgs, action: &KeysAction) -> Result<(), Error> {
    let c = client(remote)?;
    let none = Query::new();
    match action {
        KeysAction::List => {
            let list = c.call(LIST, &[], &none).await?;
            print(remote.json, &list, |v| {
                table(&HEADERS, &rows(&items(v), &COLUMNS))
            });
        }
        KeysAction::Create { name, role } => {
            let body = wire_body(&CreateApiKey {
                name: name.clone(),
                role: wire_enum("--role", role)?,
            })?;
            let created = c.send(CREATE, &[], &none, body).await?;
            print(remote.json, &created, |k| {
                format!(
                    "{}\nkey              {}\n(shown once; use it as `Authorization: Bearer <key>` or CCM_API_KEY)",
                    details(k),
                    crate::cli::output::cell(k.get("key"))
                )
            });
        }
        KeysAction::Revoke { id } => {
            print(
                remote.json,
                &c.call(REVOKE, &[id.as_str()], &none).await?,
                details,
            );
        }
    }
    Ok(())
}
