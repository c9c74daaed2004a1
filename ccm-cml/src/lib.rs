//! # ccm-cml
//!
//! [`HttpCmlClient`], the [`ccm_core::ports::CmlClient`] adapter for the CML 2.x REST
//! API (`https://<worker>/api/v0/…`) over reqwest with rustls. One client serves a
//! whole fleet: every method takes the worker's [`ccm_core::ports::cml::CmlEndpoint`].
//!
//! ```no_run
//! use ccm_cml::{CmlClientConfig, HttpCmlClient, TlsMode};
//! use ccm_core::ids::WorkerId;
//! use ccm_core::ports::cml::{CmlClient, CmlEndpoint};
//! use ccm_core::secret::Secret;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // CML ships a self-signed certificate: trust each worker's on first use (the
//! // default), but check the one worker whose certificate we know against it.
//! let known = WorkerId::new();
//! let config = CmlClientConfig::new("admin", Secret::new("from-the-vault"))
//!     .with_tls(TlsMode::TrustOnFirstUse)
//!     .with_worker_tls(known, TlsMode::CustomCa(std::fs::read_to_string("worker.pem")?));
//! let cml = HttpCmlClient::new(config)?;
//! let ep = CmlEndpoint::new(known, "https://10.0.0.5");
//! let stats = cml.system_stats(&ep).await?;
//! println!("{} nodes running", stats.running_nodes);
//! # Ok(())
//! # }
//! ```
//!
//! ## Behaviour
//! * **Authentication**: `POST /authenticate` returns a bare JSON string, a JWT. The
//!   token is cached per endpoint; its `exp` is read (the payload is decoded, never
//!   verified — no crypto needed) and it is renewed before it expires. On any 401 the
//!   client authenticates once more and retries the call once; a second 401 (or a
//!   403 on authentication) is [`CmlError::Unauthorized`]. Token expiry is judged on
//!   the client's [`ccm_core::ports::Clock`] ([`HttpCmlClient::with_clock`]).
//! * **TLS**: [`TlsMode::TrustOnFirstUse`] (the default: each worker's certificate
//!   is pinned at first contact — or taken from the endpoint's `pinned_sha256`, the
//!   worker record's pin — and a different one is [`CmlError::CertificateChanged`],
//!   refused in the handshake before anything is sent; the handshake signature is
//!   still verified), [`TlsMode::Verify`] (built-in roots), [`TlsMode::Insecure`]
//!   (anything goes) or [`TlsMode::CustomCa`] (a PEM bundle), globally and per
//!   worker ([`CmlClientConfig::with_worker_tls`], [`HttpCmlClient::set_worker_tls`]).
//!   Any other failed handshake is a [`CmlError::Protocol`], not "starting".
//! * **Timeouts**: a connect timeout and a total timeout for every call
//!   ([`CmlClientConfig::with_timeouts`]); past the total one a call is
//!   [`CmlError::Timeout`].
//! * **Errors**: refused, reset or dropped connections are [`CmlError::Unreachable`]
//!   and 502/503 are [`CmlError::Starting`] — both [`CmlError::means_starting`], as a
//!   booting CML does both. 404 on a lab is [`CmlError::NotFound`] (`Lab not found`);
//!   400/403/409 are [`CmlError::Rejected`] with CML's description; other 5xx are
//!   [`CmlError::Server`]; an unreadable answer is [`CmlError::Protocol`].
//! * **Tolerance**: numbers may be floats or null, booleans null, versions
//!   `2.9.1+build.7` ([`HttpCmlClient::version`]); lab states and licensing or
//!   telemetry categories CML adds later are kept (as [`ccm_core::lab::LabState::Unknown`]
//!   or verbatim), never a panic. Licensing dates like `2026-08-20 17:25:30` are read
//!   ([`parse_time`]).
//! * **System stats** are summed over the computes' `dominfo`; memory and disk come
//!   from `all` (or the computes' sum).
//! * **Telemetry**: CML returns its whole history each time; events at or before the
//!   caller's high-water mark are dropped.
//! * **Secrets**: the password and tokens are [`ccm_core::secret::Secret`]s; neither
//!   appears in `Debug` output or logs (requests are logged at `debug` level by
//!   operation, path and status only).
//!
//! The client's own configuration errors are [`ConfigError`]; calls fail with
//! [`CmlError`].
//!
//! [`CmlError`]: ccm_core::ports::cml::CmlError
//! [`CmlError::Unauthorized`]: ccm_core::ports::cml::CmlError::Unauthorized
//! [`CmlError::Protocol`]: ccm_core::ports::cml::CmlError::Protocol
//! [`CmlError::Timeout`]: ccm_core::ports::cml::CmlError::Timeout
//! [`CmlError::Unreachable`]: ccm_core::ports::cml::CmlError::Unreachable
//! [`CmlError::Starting`]: ccm_core::ports::cml::CmlError::Starting
//! [`CmlError::means_starting`]: ccm_core::ports::cml::CmlError::means_starting
//! [`CmlError::NotFound`]: ccm_core::ports::cml::CmlError::NotFound
//! [`CmlError::Rejected`]: ccm_core::ports::cml::CmlError::Rejected
//! [`CmlError::Server`]: ccm_core::ports::cml::CmlError::Server
//! [`CmlError::CertificateChanged`]: ccm_core::ports::cml::CmlError::CertificateChanged
#![warn(missing_docs)]

mod client;
mod config;
mod parse;
mod pin;
mod token;

pub use client::HttpCmlClient;
pub use config::{CmlClientConfig, ConfigError, TlsMode};
pub use parse::parse_time;
