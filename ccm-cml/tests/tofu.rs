//! Trust on first use against HTTPS CML simulators, each with its own self-signed
//! certificate: two servers reached as the same worker are one worker whose
//! certificate changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::Engine as _;
use ccm_cml::{CmlClientConfig, TlsMode};
use ccm_core::ids::WorkerId;
use ccm_core::ports::cml::{CmlClient, CmlEndpoint, CmlError};
use ccm_core::secret::Secret;

use common::{Sim, PASSWORD, USER};

/// Lower-case hex SHA-256 of the DER inside a one-certificate PEM.
fn fingerprint(pem: &str) -> String {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    ring::digest::digest(&ring::digest::SHA256, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pinned(ep: &CmlEndpoint, sha256: &str) -> CmlEndpoint {
    CmlEndpoint {
        pinned_sha256: Some(sha256.to_owned()),
        ..ep.clone()
    }
}

fn changed(result: Result<impl std::fmt::Debug, CmlError>, expected: &str, presented: &str) {
    match result {
        Err(CmlError::CertificateChanged {
            expected: e,
            presented: p,
            ..
        }) => {
            assert_eq!(e, expected);
            assert_eq!(p, presented);
        }
        other => panic!("expected CertificateChanged, got {other:?}"),
    }
}

#[tokio::test]
async fn the_default_pins_at_first_contact_and_refuses_a_changed_certificate_before_login() {
    let a = Sim::start(|o| o.tls = true).await;
    let b = Sim::start(|o| o.tls = true).await;
    let fp_a = fingerprint(a.server.certificate_pem().unwrap());
    let fp_b = fingerprint(b.server.certificate_pem().unwrap());
    assert_ne!(fp_a, fp_b);
    // The default configuration: no TLS mode named.
    let config = CmlClientConfig::new(USER, Secret::new(PASSWORD));
    assert_eq!(config.tls, TlsMode::TrustOnFirstUse);
    let client = a.client_with(config);
    let worker = WorkerId::from_u128(1);
    let ep_a = a.server.endpoint(worker);
    let ep_b = b.server.endpoint(worker);
    assert_eq!(client.certificate_fingerprint(&ep_a), None);

    // First contact: A's self-signed certificate is accepted and pinned.
    client.list_labs(&ep_a).await.unwrap();
    assert_eq!(client.certificate_fingerprint(&ep_a), Some(fp_a.clone()));
    client.system_stats(&ep_a).await.unwrap();
    client.list_labs(&pinned(&ep_a, &fp_a)).await.unwrap();
    assert_eq!(a.calls_to("/authenticate").len(), 1);

    // The same worker now answers with B's certificate: refused in the handshake,
    // so not one request (no login, no password) reaches B.
    changed(client.list_labs(&ep_b).await, &fp_a, &fp_b);
    changed(client.system_information(&ep_b).await, &fp_a, &fp_b);
    changed(client.list_labs(&pinned(&ep_b, &fp_a)).await, &fp_a, &fp_b);
    assert!(b.exchanges().is_empty(), "{:?}", b.exchanges());
    assert_eq!(client.certificate_fingerprint(&ep_b), Some(fp_a.clone()));

    // An admin accepted B's certificate: the record's pin comes with the endpoint.
    let accepted = pinned(&ep_b, &fp_b.to_uppercase());
    client.list_labs(&accepted).await.unwrap();
    assert_eq!(b.calls_to("/authenticate").len(), 1);
    assert_eq!(client.certificate_fingerprint(&ep_b), Some(fp_b.clone()));
    // …and A's certificate is the stranger now.
    let before = a.exchanges().len();
    changed(client.list_labs(&ep_a).await, &fp_b, &fp_a);
    assert_eq!(a.exchanges().len(), before);
}

#[tokio::test]
async fn a_pin_from_the_worker_record_holds_from_the_first_call() {
    let a = Sim::start(|o| o.tls = true).await;
    let b = Sim::start(|o| o.tls = true).await;
    let fp_a = fingerprint(a.server.certificate_pem().unwrap());
    let fp_b = fingerprint(b.server.certificate_pem().unwrap());
    let client = a.client(TlsMode::TrustOnFirstUse);
    let worker = WorkerId::from_u128(5);
    // A restarted ccm: nothing in memory, the pin comes from the record.
    changed(
        client
            .list_labs(&pinned(&b.server.endpoint(worker), &fp_a))
            .await,
        &fp_a,
        &fp_b,
    );
    assert!(b.exchanges().is_empty());
    client
        .list_labs(&pinned(&a.server.endpoint(worker), &fp_a))
        .await
        .unwrap();
    // Pins are per worker: another worker behind B makes its own first contact.
    client
        .list_labs(&b.server.endpoint(WorkerId::from_u128(6)))
        .await
        .unwrap();
}

#[tokio::test]
async fn other_modes_report_no_fingerprint() {
    let a = Sim::start(|o| o.tls = true).await;
    let client = a.client(TlsMode::Insecure);
    client.list_labs(&a.ep()).await.unwrap();
    assert_eq!(client.certificate_fingerprint(&a.ep()), None);
}
