//! Which subcommand calls which route: [`COMMANDS`] maps each subcommand to the
//! endpoint constants its code sends requests through, and [`EXEMPT`] names the
//! routes no subcommand needs, with the reason. The tests hold both to the
//! server's route table (`crate::api::routes::ROUTES`) and to the clap tree, so
//! a new route without a subcommand (or an exemption) fails the build's tests.

use super::client::Endpoint;
use super::remote::{
    capacity, definitions, events, jobs, keys, lablets, labs, system, worker_admin, workers,
};

/// Each subcommand (as typed after `ccm`) and the endpoints it calls.
pub static COMMANDS: &[(&str, &[Endpoint])] = &[
    ("workers list", &[workers::LIST]),
    ("workers show", &[workers::GET]),
    ("workers create", &[workers::CREATE, workers::GET]),
    ("workers delete", &[workers::DELETE]),
    ("workers start", &[workers::START, workers::GET]),
    ("workers stop", &[workers::STOP, workers::GET]),
    ("workers refresh", &[workers::REFRESH]),
    (
        "workers import",
        &[workers::IMPORT, workers::IMPORT_MATCHING, workers::GET],
    ),
    (
        "workers import-matching",
        &[workers::IMPORT_MATCHING, workers::GET],
    ),
    ("workers tags set", &[worker_admin::SET_TAGS]),
    ("workers tags remove", &[worker_admin::REMOVE_TAG]),
    ("workers cml-endpoint", &[worker_admin::CML_ENDPOINT]),
    ("workers monitoring", &[worker_admin::MONITORING]),
    (
        "workers licence register",
        &[worker_admin::LICENCE_REGISTER],
    ),
    (
        "workers licence deregister",
        &[worker_admin::LICENCE_DEREGISTER],
    ),
    ("workers metrics", &[worker_admin::METRICS]),
    ("workers idle", &[worker_admin::IDLE]),
    ("workers idle-detection", &[worker_admin::IDLE_DETECTION]),
    (
        "workers monitoring-interval",
        &[worker_admin::MONITORING_INTERVAL],
    ),
    (
        "workers certificate accept",
        &[worker_admin::CERTIFICATE_ACCEPT],
    ),
    ("labs list", &[labs::LIST]),
    ("labs import", &[labs::IMPORT]),
    ("labs refresh", &[labs::REFRESH]),
    ("labs start", &[labs::START]),
    ("labs stop", &[labs::STOP]),
    ("labs wipe", &[labs::WIPE]),
    ("labs delete", &[labs::DELETE]),
    ("labs topology", &[labs::TOPOLOGY]),
    ("definitions list", &[definitions::LIST]),
    ("definitions show", &[definitions::GET]),
    ("definitions create", &[definitions::CREATE]),
    ("definitions activate", &[definitions::SET_ACTIVE]),
    ("definitions deactivate", &[definitions::SET_ACTIVE]),
    ("lablets list", &[lablets::LIST]),
    ("lablets show", &[lablets::GET]),
    ("lablets book", &[lablets::BOOK, lablets::GET]),
    ("lablets book-now", &[lablets::BOOK_NOW, lablets::GET]),
    ("lablets cancel", &[lablets::CANCEL]),
    ("lablets extend", &[lablets::EXTEND]),
    ("lablets delete", &[lablets::DELETE]),
    ("lablets definitions", &[definitions::LIST]),
    ("placement preview", &[lablets::PREVIEW]),
    ("forecast", &[capacity::FORECAST]),
    ("cost", &[capacity::COST]),
    ("jobs list", &[jobs::LIST]),
    ("jobs trigger", &[jobs::TRIGGER]),
    ("jobs pause", &[jobs::PAUSE]),
    ("jobs resume", &[jobs::RESUME]),
    ("keys list", &[keys::LIST]),
    ("keys create", &[keys::CREATE]),
    ("keys revoke", &[keys::REVOKE]),
    ("events list", &[events::HISTORY]),
    ("events tail", &[events::STREAM]),
    ("settings", &[system::SETTINGS]),
    ("leadership", &[system::LEADERSHIP]),
    ("session", &[system::SESSION]),
    ("metrics", &[system::METRICS]),
    ("openapi", &[system::OPENAPI]),
];

/// Routes without a subcommand: method, path and why none is needed.
pub static EXEMPT: &[(&str, &str, &str)] = &[
    ("GET", "/", "the web dashboard: a page for a browser"),
    (
        "GET",
        "/assets/{*path}",
        "the dashboard's scripts, styles and icon: files for a browser",
    ),
    (
        "GET",
        "/login/once",
        "redeems the one-time login link in a browser, answering with a session cookie",
    ),
    (
        "GET",
        "/auth/login",
        "starts a browser login at the OIDC provider (a redirect)",
    ),
    (
        "GET",
        "/auth/callback",
        "where the OIDC provider sends the browser back (a redirect)",
    ),
    (
        "POST",
        "/logout",
        "ends a browser session; an API key has none",
    ),
    ("GET", "/livez", "a public probe; `ccm probe livez` asks it"),
    (
        "GET",
        "/healthz",
        "an alias of /livez for load balancers; `ccm probe livez`",
    ),
    (
        "GET",
        "/readyz",
        "a public probe; `ccm probe readyz` asks it",
    ),
    (
        "GET",
        "/api/v1/docs",
        "an HTML page for a browser; `ccm openapi` prints the document it shows",
    ),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::api::routes::ROUTES;
    use crate::cli::Cli;

    fn covered(method: &str, path: &str) -> bool {
        COMMANDS
            .iter()
            .flat_map(|(_, endpoints)| endpoints.iter())
            .any(|e| e.verb.as_str() == method && e.path == path)
    }

    fn exempt(method: &str, path: &str) -> bool {
        EXEMPT.iter().any(|(m, p, _)| *m == method && *p == path)
    }

    fn in_table(method: &str, path: &str) -> bool {
        ROUTES
            .iter()
            .any(|r| r.method.as_str() == method && r.path == path)
    }

    #[test]
    fn every_route_has_a_subcommand_or_a_reason() {
        let missing: Vec<String> = ROUTES
            .iter()
            .filter(|r| !covered(r.method.as_str(), r.path) && !exempt(r.method.as_str(), r.path))
            .map(|r| format!("{} {} ({})", r.method, r.path, r.summary))
            .collect();
        assert!(
            missing.is_empty(),
            "routes with neither a `ccm` subcommand (cli::coverage::COMMANDS) nor an \
             exemption with a reason (cli::coverage::EXEMPT):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_endpoint_called_and_every_exemption_is_a_route() {
        for (command, endpoints) in COMMANDS {
            for e in *endpoints {
                assert!(
                    in_table(e.verb.as_str(), e.path),
                    "`ccm {command}` calls {} {}, which the server does not route",
                    e.verb.as_str(),
                    e.path
                );
            }
        }
        for (method, path, reason) in EXEMPT {
            assert!(
                in_table(method, path),
                "exempt {method} {path} is not a route"
            );
            assert!(!reason.trim().is_empty(), "{method} {path}: no reason");
            assert!(
                !covered(method, path),
                "{method} {path} has a subcommand and an exemption"
            );
        }
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn every_mapped_subcommand_exists() {
        use clap::CommandFactory;
        let root = Cli::command();
        for (command, _) in COMMANDS {
            let mut at = &root;
            for word in command.split(' ') {
                at = at
                    .find_subcommand(word)
                    .unwrap_or_else(|| panic!("`ccm {command}`: no subcommand `{word}`"));
            }
            assert!(
                !at.has_subcommands(),
                "`ccm {command}` is a group, not a command"
            );
        }
    }

    #[test]
    fn every_server_calling_subcommand_is_mapped() {
        use clap::CommandFactory;
        fn leaves(prefix: &str, c: &clap::Command, out: &mut Vec<String>) {
            for sub in c.get_subcommands() {
                let name = if prefix.is_empty() {
                    sub.get_name().to_owned()
                } else {
                    format!("{prefix} {}", sub.get_name())
                };
                if sub.has_subcommands() {
                    leaves(&name, sub, out);
                } else {
                    out.push(name);
                }
            }
        }
        let mut all = Vec::new();
        leaves("", &Cli::command(), &mut all);
        let local = [
            "serve",
            "config",
            "api-key",
            "probe",
            "doctor",
            "completions",
            "help",
        ];
        let unmapped: Vec<&String> = all
            .iter()
            .filter(|name| !local.iter().any(|l| name.split(' ').next() == Some(l)))
            .filter(|name| !name.ends_with(" help"))
            .filter(|name| !COMMANDS.iter().any(|(c, _)| c == name))
            .collect();
        assert!(
            unmapped.is_empty(),
            "not in cli::coverage::COMMANDS: {unmapped:?}"
        );
    }
}
