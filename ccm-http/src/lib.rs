//! # ccm-http
//!
//! The `ccm` server and command line: an axum REST API (`/api/v1`, JSON) over the
//! fleet engine of `ccm-core`, a live event stream (SSE) with resume, API keys,
//! OIDC bearer tokens and browser sessions with three roles, Prometheus metrics,
//! the engine driver (leader election, jobs and controllers on the real clock) and
//! graceful shutdown.
//!
//! The configuration and the building of the engine from it live in
//! `ccm-assembly`, which the Python bindings share without linking this crate.
//!
//! * [`server`] — assembling and running, from a configuration as `ccm serve`
//!   does (another axum application may mount [`server::Server::router`] under a
//!   path of its own and run [`server::Server::run_engine`] beside it);
//!   [`driver`] — the engine loop;
//!   [`limits`] — timeouts, the connection cap and per-caller stream slots.
//! * [`api`] — routes, the route × role table ([`api::routes::ROUTES`]), handlers
//!   and the error body `{"error": {"code", "message", "details"?}}`.
//! * [`sse`] — `GET /api/v1/events/stream`; [`visibility`] — what each role sees;
//!   [`ownership`] — which lablets and labs a caller may see and act on.
//! * [`auth`] — API keys, JWT verification, the browser login (OIDC authorization
//!   code + PKCE, tokens kept on the server), sessions with CSRF protection, the
//!   authorisation layer.
//! * [`telemetry`] — logs (text/JSON), trace ids per request and engine step,
//!   OTLP export.
//! * [`webhook`] — worker alerts POSTed to configured URLs (retry, timeout).
//! * [`metrics`] — `/metrics`; [`openapi`] — `/api/v1/openapi.json` and the docs
//!   page; [`cli`] — the `ccm` subcommands that call a server.
//!
//! Errors at the crate boundary are [`Error`].

pub mod api;
pub mod auth;
pub mod cli;
pub mod dashboard;
pub mod driver;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod ownership;
pub mod seed;
pub mod server;
pub mod sse;
pub mod state;
pub mod telemetry;
pub mod visibility;
pub mod webhook;

pub use error::Error;
