//! # ccm-api
//!
//! The wire contract of ccm's HTTP API: every request body, query and response
//! the server speaks, as types of their own that derive their OpenAPI schemas
//! (`utoipa`) and are mapped explicitly from the engine's domain (`ccm-core`).
//! A change to a domain type therefore changes the wire only where a mapping
//! here is changed with it — a field added to the domain is not on the wire until
//! it is mapped, and a field removed breaks the build here, not a client.
//!
//! * [`error`] — the error body `{"error": {"code", "message", "details"?}}`.
//! * [`page`] — one page of a list.
//! * [`example`] — [`Example`]: a representative value of each type, put in the
//!   document and checked against its schema.
//! * [`worker`], [`lab`], [`job`], [`system`] — workers and their CML labs, jobs,
//!   the session, leadership and settings views.
//! * [`definition`], [`lablet`], [`placement`], [`api_key`], [`event`] — lablet
//!   definitions, lablets, the placement preview, API keys and the event log.
//! * [`capacity`], [`cost`] — the capacity forecast and the lead time in force;
//!   the fleet's cost now, today and this week.
//! * [`login`] — the browser login's queries.
//!
//! Invariants: the crate does no I/O; every type that crosses the wire derives
//! `ToSchema` (or `IntoParams` for a query) and implements [`Example`]; requests
//! are turned into domain requests by explicit conversions that reject nothing
//! the domain would accept and accept nothing it would not.

pub mod api_key;
pub mod capacity;
pub mod cost;
pub mod definition;
pub mod error;
pub mod event;
pub mod example;
pub mod job;
pub mod lab;
pub mod lablet;
pub mod login;
pub mod page;
pub mod placement;
pub mod system;
pub mod worker;

pub use example::Example;
