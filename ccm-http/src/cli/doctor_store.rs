//! `ccm doctor`'s store check: open the configured store the way a one-shot
//! command does (beside a running server on the same SQLite file), read the
//! event log's newest sequence, and turn a failure into what to change.

use std::time::Duration;

use ccm_assembly::config::Config;
use ccm_assembly::store::{OpenedStore, StoreKind};
use ccm_assembly::Error as AssemblyError;
use ccm_core::ports::store::StoreError;

use super::doctor::{within, Check};
use crate::error::Error;

/// The check's name.
pub(super) const NAME: &str = "store";

/// The store check, and the store when it opened.
pub(super) async fn check(config: &Config, limit: Duration) -> (Check, Option<OpenedStore>) {
    let url = config.database.url.expose().trim();
    let kind = kind_of(url);
    match within(limit, open_and_read(config)).await {
        Err(timed_out) => (
            Check::fail(NAME, format!("{kind}: {timed_out}"), unreachable_fix(&kind)),
            None,
        ),
        Ok(Err(error)) => (advice(&kind, &error), None),
        Ok(Ok((opened, last))) => (described(&opened.kind, last), Some(opened)),
    }
}

async fn open_and_read(config: &Config) -> Result<(OpenedStore, u64), Error> {
    let opened = ccm_assembly::store::open_store_for_command(config).await?;
    let last = opened.store.last_sequence().await?;
    Ok((opened, last))
}

/// Which store `url` names, without its password.
fn kind_of(url: &str) -> StoreKind {
    if url == "memory" {
        StoreKind::Memory
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        StoreKind::Sqlite(path.split('?').next().unwrap_or(path).to_owned())
    } else {
        StoreKind::Postgres(ccm_store_postgres::redact_url(url))
    }
}

fn described(kind: &StoreKind, last: u64) -> Check {
    let schema = |version: i64| {
        format!("{kind}: schema version {version} (current), {last} events in the log")
    };
    match kind {
        StoreKind::Memory => Check::warn(
            NAME,
            format!("{kind}: every worker, lablet and key is lost when the server stops"),
            format!(
                "set {} to sqlite://ccm-data/ccm.db (one server) or postgres://… (several)",
                super::doctor::setting("database.url")
            ),
        ),
        StoreKind::Sqlite(_) => Check::ok(
            NAME,
            schema(ccm_store_sqlite::SqliteStore::supported_schema_version()),
        ),
        StoreKind::Postgres(_) => Check::ok(
            NAME,
            schema(ccm_store_postgres::PostgresStore::supported_schema_version()),
        ),
    }
}

fn unreachable_fix(kind: &StoreKind) -> String {
    match kind {
        StoreKind::Postgres(_) => format!(
            "check that PostgreSQL runs and accepts connections from this host at the host and \
             port of {} (firewall, pg_hba.conf, listen_addresses)",
            super::doctor::setting("database.url")
        ),
        _ => "another process may hold the database file locked for a long write; \
              run ccm doctor again"
            .to_owned(),
    }
}

/// What to do about `error` from opening or reading the store at `kind`.
fn advice(kind: &StoreKind, error: &Error) -> Check {
    let url = super::doctor::setting("database.url");
    let detail = format!("{kind}: {error}");
    let message = error.to_string().to_lowercase();
    let has = |needle: &str| message.contains(needle);
    let fix = match (kind, error) {
        (_, Error::Assembly(AssemblyError::Store(StoreError::SchemaTooNew { found, .. }))) => {
            format!(
            "a newer ccm (schema version {found}) uses this database: run that version of ccm, \
             or point {url} at another database"
        )
        }
        (_, Error::Assembly(AssemblyError::Store(StoreError::InUse { .. }))) => {
            "stop the other process that holds the database, or give each its own".to_owned()
        }
        (StoreKind::Postgres(_), _) if has("database") && has("does not exist") => format!(
            "create the database (`createdb <name>`, or `CREATE DATABASE <name>;` in psql) or \
             correct its name at the end of {url}"
        ),
        (StoreKind::Postgres(_), _) if has("authentication failed") || has("no password") => {
            format!("correct the user name and password in {url} (or CCM_DATABASE_URL_FILE)")
        }
        (StoreKind::Postgres(_), _) if has("pg_hba.conf") => {
            "allow this host and user in PostgreSQL's pg_hba.conf, then reload PostgreSQL"
                .to_owned()
        }
        (StoreKind::Postgres(_), _) if has("permission denied") => {
            "grant the user CREATE on the database and its schema: ccm applies its migrations \
             when it opens the store"
                .to_owned()
        }
        (StoreKind::Postgres(_), _)
            if has("refused")
                || has("timed out")
                || has("lookup")
                || has("resolve")
                || has("communicating") =>
        {
            unreachable_fix(kind)
        }
        (StoreKind::Sqlite(path), _)
            if has("directory")
                || has("permission denied")
                || has("readonly")
                || has("read-only")
                || has("unable to open") =>
        {
            let dir = std::path::Path::new(path)
                .parent()
                .map(|d| d.display().to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| ".".to_owned());
            format!(
                "make the directory `{dir}` exist and be writable by the user running ccm (it \
                 keeps the database and its -wal and -shm files), or point {url} at a \
                 writable path"
            )
        }
        (StoreKind::Sqlite(_), _) if has("not a database") || has("malformed") => format!(
            "{url} names a file that is not a ccm database or is damaged: restore it from a \
             backup or point {url} elsewhere"
        ),
        _ => format!("check {url}; the message above is the database's own"),
    };
    Check::fail(NAME, detail, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(message: &str) -> Error {
        StoreError::Unavailable(message.to_owned()).into()
    }

    fn postgres() -> StoreKind {
        kind_of("postgres://ccm:secret@db:5432/ccm")
    }

    #[test]
    fn the_store_is_named_without_its_password() {
        assert_eq!(
            postgres().to_string(),
            "PostgreSQL at postgres://ccm:***@db:5432/ccm"
        );
        assert_eq!(
            kind_of("sqlite://ccm-data/ccm.db?mode=rwc"),
            StoreKind::Sqlite("ccm-data/ccm.db".into())
        );
        assert_eq!(kind_of("memory"), StoreKind::Memory);
    }

    #[test]
    fn postgres_failures_get_their_own_fix() {
        let missing = advice(
            &postgres(),
            &unavailable(
                "PostgreSQL: error returned from database: database \"ccm\" does not exist",
            ),
        );
        assert!(missing.fix.unwrap().contains("createdb"));
        let password = advice(
            &postgres(),
            &unavailable("PostgreSQL: password authentication failed for user \"ccm\""),
        );
        assert!(password.fix.unwrap().contains("password in database.url"));
        let refused = advice(
            &postgres(),
            &unavailable("PostgreSQL: error communicating with database: Connection refused"),
        );
        assert!(refused.fix.unwrap().contains("PostgreSQL runs"));
    }

    #[test]
    fn sqlite_failures_name_the_directory() {
        let sqlite = kind_of("sqlite:///var/lib/ccm/ccm.db");
        let check = advice(
            &sqlite,
            &unavailable("cannot create the database directory /var/lib/ccm: Permission denied"),
        );
        let fix = check.fix.unwrap();
        assert!(
            fix.contains("`/var/lib/ccm`") && fix.contains("writable"),
            "{fix}"
        );
        let newer = advice(
            &sqlite,
            &StoreError::SchemaTooNew {
                found: 99,
                supported: 3,
            }
            .into(),
        );
        assert!(newer.fix.unwrap().contains("schema version 99"));
    }

    #[test]
    fn an_in_memory_store_is_a_warning() {
        let check = described(&StoreKind::Memory, 0);
        assert_eq!(check.status, super::super::doctor::Status::Warn);
        assert!(check.fix.unwrap().contains("CCM_DATABASE_URL"));
    }
}
