//! Trust on first use: a rustls verifier that trusts one certificate per worker —
//! the one pinned on the worker's record, or, with nothing pinned, the one it sees
//! at the first completed handshake — and refuses any other before a byte of HTTP
//! (credentials included) is sent. CA chains, names and validity dates are not
//! checked: CML's certificates are self-signed, and the pin is the identity. The
//! handshake signature is still verified, so only the holder of the pinned
//! certificate's key passes.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

/// Lower-case hex SHA-256 of a certificate's DER.
pub(crate) fn sha256_hex(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fingerprint as the pin compares it: hex without separators, lower case.
pub(crate) fn normalise(fingerprint: &str) -> String {
    fingerprint
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The certificate one worker must present; shared by its verifier and the client.
#[derive(Debug, Default)]
pub(crate) struct Pin {
    trusted: Mutex<Option<String>>,
}

/// The pinned certificate was not the one presented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate sha256:{presented} is not the pinned sha256:{expected}")]
pub(crate) struct PinMismatch {
    /// The pinned fingerprint.
    pub expected: String,
    /// The presented one.
    pub presented: String,
}

impl Pin {
    /// A pin trusting `fingerprint` (nothing yet: the first contact decides).
    pub(crate) fn new(fingerprint: Option<&str>) -> Self {
        Self {
            trusted: Mutex::new(fingerprint.map(normalise)),
        }
    }

    /// The fingerprint trusted now.
    pub(crate) fn trusted(&self) -> Option<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.trusted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses `presented` if another certificate is trusted; with `adopt`, trusts
    /// it when nothing is (only once its handshake signature has been checked).
    fn admit(&self, presented: String, adopt: bool) -> Result<(), rustls::Error> {
        let mut trusted = self.lock();
        match trusted.as_ref() {
            Some(expected) if *expected == presented => Ok(()),
            Some(expected) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    expected: expected.clone(),
                    presented,
                })),
            ))),
            None => {
                if adopt {
                    tracing::info!(sha256 = %presented, "trusting the CML certificate on first use");
                    *trusted = Some(presented);
                }
                Ok(())
            }
        }
    }
}

/// The [`PinMismatch`] behind a rustls error, if that is what it is.
pub(crate) fn mismatch_in(error: &rustls::Error) -> Option<&PinMismatch> {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinMismatch>()
        }
        _ => None,
    }
}

#[derive(Debug)]
struct PinVerifier {
    pin: Arc<Pin>,
    provider: Arc<CryptoProvider>,
}

/// rustls' signature check of one TLS version.
type SignatureCheck = fn(
    &[u8],
    &CertificateDer<'_>,
    &DigitallySignedStruct,
    &rustls::crypto::WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error>;

impl PinVerifier {
    /// Pins the certificate only after `check` proved the peer holds its key, so a
    /// certificate copied without its key pins nothing.
    fn adopt_if_signed(
        &self,
        check: SignatureCheck,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let valid = check(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )?;
        self.pin.admit(sha256_hex(cert.as_ref()), true)?;
        Ok(valid)
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.pin.admit(sha256_hex(end_entity.as_ref()), false)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.adopt_if_signed(verify_tls12_signature, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.adopt_if_signed(verify_tls13_signature, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration that trusts what `pin` trusts.
pub(crate) fn tls_config(pin: Arc<Pin>) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = PinVerifier {
        pin,
        provider: provider.clone(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalised_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(normalise(" AB:cd:EF "), "abcdef");
    }

    #[test]
    fn first_contact_pins_and_a_change_is_refused() {
        let pin = Pin::new(None);
        pin.admit("aa".into(), false).unwrap();
        assert_eq!(
            pin.trusted(),
            None,
            "nothing is trusted before the signature"
        );
        pin.admit("aa".into(), true).unwrap();
        assert_eq!(pin.trusted().as_deref(), Some("aa"));
        let refused = pin.admit("bb".into(), false).unwrap_err();
        assert_eq!(
            mismatch_in(&refused),
            Some(&PinMismatch {
                expected: "aa".into(),
                presented: "bb".into()
            })
        );
        let pinned = Pin::new(Some("AA"));
        assert!(pinned.admit("aa".into(), false).is_ok());
    }
}
