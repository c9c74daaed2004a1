//! How the client reaches CML: credentials, TLS (globally and per worker) and
//! timeouts, and the one error type of this crate's own API.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use ccm_core::ids::WorkerId;
use ccm_core::secret::Secret;

/// How to check a CML server's certificate.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum TlsMode {
    /// Trust on first use (the default): the certificate a worker presents at
    /// first contact is pinned for that worker (the engine stores it on the
    /// worker's record and hands it back in [`ccm_core::ports::cml::CmlEndpoint`]);
    /// any other certificate is refused with
    /// [`ccm_core::ports::cml::CmlError::CertificateChanged`] before anything is
    /// sent, until an admin accepts it.
    #[default]
    TrustOnFirstUse,
    /// Verify against the Mozilla roots shipped in the binary (webpki-roots).
    Verify,
    /// Accept any certificate (CML's self-signed default). Traffic stays encrypted
    /// but the server is not authenticated.
    Insecure,
    /// Verify against this PEM bundle only (one or more certificates: the worker's
    /// self-signed certificate or the CA that signed it). Built-in roots are not
    /// trusted in this mode.
    CustomCa(String),
}

impl fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsMode::TrustOnFirstUse => f.write_str("TrustOnFirstUse"),
            TlsMode::Verify => f.write_str("Verify"),
            TlsMode::Insecure => f.write_str("Insecure"),
            TlsMode::CustomCa(pem) => write!(f, "CustomCa({} bytes of PEM)", pem.len()),
        }
    }
}

/// Configuration of an [`crate::HttpCmlClient`].
#[derive(Clone, Debug)]
pub struct CmlClientConfig {
    /// CML user (an administrator, so `show_all` sees every lab).
    pub username: String,
    /// Its password (never logged; `Debug` prints `***`).
    pub password: Secret,
    /// TLS for every worker without an override.
    pub tls: TlsMode,
    /// TLS per worker, overriding [`CmlClientConfig::tls`].
    pub tls_overrides: BTreeMap<WorkerId, TlsMode>,
    /// Longest wait for a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Longest wait for one whole call (connect, send, answer).
    pub request_timeout: Duration,
    /// Tokens are renewed this long before their `exp` (at most a quarter of their
    /// lifetime before it).
    pub token_refresh_margin: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl CmlClientConfig {
    /// Defaults: trust on first use, 10 s to connect, 60 s per call, renew tokens a minute
    /// before they expire.
    pub fn new(username: impl Into<String>, password: Secret) -> Self {
        Self {
            username: username.into(),
            password,
            tls: TlsMode::TrustOnFirstUse,
            tls_overrides: BTreeMap::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            token_refresh_margin: Duration::from_secs(60),
            user_agent: format!("ccm-cml/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The same configuration with `tls` for every worker without an override.
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// The same configuration with `tls` for `worker`.
    pub fn with_worker_tls(mut self, worker: WorkerId, tls: TlsMode) -> Self {
        self.tls_overrides.insert(worker, tls);
        self
    }

    /// The same configuration with other timeouts.
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// The TLS mode in force for `worker`.
    pub fn tls_for(&self, worker: &WorkerId) -> &TlsMode {
        self.tls_overrides.get(worker).unwrap_or(&self.tls)
    }
}

/// What can be wrong with a [`CmlClientConfig`] (the client's own errors; calls to
/// CML fail with [`ccm_core::ports::cml::CmlError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The user name is empty.
    #[error("the CML user name is empty")]
    EmptyUsername,
    /// A timeout is zero.
    #[error("the {0} timeout must be longer than zero")]
    ZeroTimeout(&'static str),
    /// A custom CA bundle holds no usable certificate.
    #[error("invalid CA bundle{}: {message}", worker.map(|w| format!(" for worker {w}")).unwrap_or_default())]
    CaBundle {
        /// The worker whose override it is (`None`: the default).
        worker: Option<WorkerId>,
        /// What is wrong.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password_and_pem() {
        let config = CmlClientConfig::new("admin", Secret::new("hunter2-very-secret"))
            .with_tls(TlsMode::CustomCa("-----BEGIN CERTIFICATE-----".into()));
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.contains("admin") && text.contains("bytes of PEM"),
            "{text}"
        );
    }

    #[test]
    fn overrides_win_per_worker() {
        let w1 = WorkerId::from_u128(1);
        let w2 = WorkerId::from_u128(2);
        let config = CmlClientConfig::new("admin", Secret::new("x"))
            .with_tls(TlsMode::Insecure)
            .with_worker_tls(w1, TlsMode::Verify);
        assert_eq!(config.tls_for(&w1), &TlsMode::Verify);
        assert_eq!(config.tls_for(&w2), &TlsMode::Insecure);
    }
}
