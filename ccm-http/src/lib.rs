//! # ccm-http
//!
//! Will hold the axum REST API, the SSE event stream, authentication and the `ccm`
//! binary (issue #8). It exposes nothing yet: the runnable entry point today is the
//! `simulate_fleet` example in `examples/`.
