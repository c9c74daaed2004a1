//! Integration tests of ccm-http, in one binary (each test binary links the whole
//! dependency tree): configuration, the route × role table, JWT rejection cases,
//! error mapping, the REST API over the simulator, the event stream, the running
//! server (driver, leadership, shutdown) and the command line.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod processes;

mod api;
mod aws_end_to_end;
mod browser_login;
mod capacity;
mod cli;
mod config;
mod contract;
mod deploy;
mod doctor;
mod errors;
mod jwt;
mod lablet_extend;
mod lablet_on_demand;
mod lease_hang;
mod list_cache;
mod log_retention;
mod probes;
mod python_models;
mod routes;
mod scale_out;
mod sec_cml_tofu;
mod sec_limits;
mod sec_login;
mod sec_owner;
mod sec_tags;
mod server;
mod sessions_shared;
mod settings;
mod sim_restart;
mod sqlite_single_process;
mod sse;
mod step_phases;
mod telemetry;
mod webhook;
mod webhook_failover;
