//! The self-signed certificate a fresh CML serves, made at start-up with rcgen and
//! served with rustls (ring provider; no process-wide provider is installed).

use std::net::SocketAddr;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SimError;

fn tls_error(e: impl std::fmt::Display) -> SimError {
    SimError::Http(format!("TLS set-up: {e}"))
}

/// A certificate for `localhost`, `127.0.0.1`, `::1` and the listen address; returns
/// its PEM (a client's CA bundle) and the server configuration.
pub(crate) fn self_signed(addr: SocketAddr) -> Result<(String, RustlsConfig), SimError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "cml-sim".to_owned(),
    ];
    let ip = addr.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(tls_error)?;
    let pem = certified.cert.pem();
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((pem, RustlsConfig::from_config(Arc::new(config))))
}
