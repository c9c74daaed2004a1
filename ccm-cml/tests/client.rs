//! The reqwest CML client over real HTTP(S) on 127.0.0.1: against the HTTP CML
//! simulator (auth and token renewal, every lab operation and its errors, licensing,
//! telemetry, TLS), against servers that misbehave (slow, dropping connections,
//! 502 while booting, odd JSON), and with an eye on secrets in logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use axum::Router;
use ccm_cml::{CmlClientConfig, HttpCmlClient, TlsMode};
use ccm_core::ids::{CmlLabId, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::cml::{CmlClient, CmlError};
use ccm_core::secret::Secret;
use ccm_core::testing::cml::topology_yaml;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;

use common::{closed_port, endpoint, short_timeouts, Sim, PASSWORD, USER};

fn rejected(result: &Result<(), CmlError>, status: u16, starts_with: &str) -> bool {
    matches!(result, Err(CmlError::Rejected { status: s, description, .. })
        if *s == status && description.starts_with(starts_with))
}

// --- authentication ---------------------------------------------------------------

#[tokio::test]
async fn authenticates_once_and_reuses_the_token() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    for _ in 0..3 {
        client.list_labs(&ep).await.unwrap();
        client.system_stats(&ep).await.unwrap();
    }
    assert_eq!(sim.calls_to("/authenticate").len(), 1);
    // system_information needs no token.
    let info = client.system_information(&ep).await.unwrap();
    assert!(info.ready);
    assert_eq!(info.version, "2.9.1+build.7");
    assert_eq!(client.version(&ep).await.unwrap(), SemVer::new(2, 9, 1));
    let unauthenticated = sim.calls_to("/system_information");
    assert_eq!(unauthenticated.len(), 2);
}

#[tokio::test]
async fn renews_the_token_before_it_expires() {
    let sim = Sim::start(|o| o.token_lifetime_seconds = 100).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    client.list_labs(&ep).await.unwrap();
    // Margin: min(60 s, a quarter of 100 s) → renewed from 75 s on, before any 401.
    sim.advance(70);
    client.list_labs(&ep).await.unwrap();
    assert_eq!(sim.calls_to("/authenticate").len(), 1);
    sim.advance(10);
    client.list_labs(&ep).await.unwrap();
    assert_eq!(sim.calls_to("/authenticate").len(), 2);
    assert!(
        sim.exchanges().iter().all(|e| e.status != 401),
        "renewal happened before expiry"
    );
}

#[tokio::test]
async fn a_401_means_one_new_login_and_one_retry() {
    let sim = Sim::start(|o| o.token_lifetime_seconds = 60).await;
    // A client whose own clock stands still: it believes its token is fresh, the
    // server knows better.
    let frozen = ccm_core::ports::clock::VirtualClock::new(sim.server.simulation().now());
    let client = HttpCmlClient::with_clock(
        CmlClientConfig::new(USER, Secret::new(PASSWORD)),
        Arc::new(frozen),
    )
    .unwrap();
    let ep = sim.ep();
    client.list_labs(&ep).await.unwrap();
    sim.advance(3600);
    client.list_labs(&ep).await.unwrap();
    let statuses: Vec<(Option<String>, u16)> = sim
        .exchanges()
        .into_iter()
        .map(|e| (e.template, e.status))
        .collect();
    let labs = Some("/labs".to_owned());
    let auth = Some("/authenticate".to_owned());
    assert_eq!(
        statuses,
        vec![
            (auth.clone(), 200),
            (labs.clone(), 200),
            (labs.clone(), 401),
            (auth, 200),
            (labs, 200)
        ]
    );
    // An expired token is also refused by the simulator's other endpoints.
    let stale = sim.calls_to("/labs")[1].json().unwrap();
    assert_eq!(stale["code"], 401);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_without_looping() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client_with(CmlClientConfig::new(USER, Secret::new("wrong")));
    let err = client.list_labs(&sim.ep()).await.unwrap_err();
    assert!(matches!(err, CmlError::Unauthorized { .. }), "{err:?}");
    assert!(!err.means_starting());
    assert_eq!(sim.calls_to("/authenticate").len(), 1);
    assert_eq!(sim.calls_to("/authenticate")[0].status, 403);
    assert!(sim.calls_to("/labs").is_empty());
}

/// Collects every tracing event and span field, at every level.
struct Capture(Arc<Mutex<String>>);

struct Fields(Arc<Mutex<String>>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut Fields(self.0.clone()));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(self.0.clone()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut Fields(self.0.clone()));
        self.0.lock().unwrap().push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_and_tokens_never_reach_logs_or_debug_output() {
    let logs = Arc::new(Mutex::new(String::new()));
    let _guard = tracing::subscriber::set_default(Capture(logs.clone()));
    let sim = Sim::start(|o| o.token_lifetime_seconds = 100).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    client.list_labs(&ep).await.unwrap();
    sim.advance(90);
    client.system_stats(&ep).await.unwrap();
    let bad = sim.client_with(CmlClientConfig::new(USER, Secret::new("wr0ng-secret")));
    assert!(bad.list_labs(&ep).await.is_err());
    client
        .register_licence(&ep, &Secret::new("licence-token-xyz"), false)
        .await
        .unwrap();

    let tokens: Vec<String> = sim
        .calls_to("/authenticate")
        .iter()
        .filter(|e| e.status == 200)
        .map(|e| e.json().unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tokens.len(), 2);
    let logs = logs.lock().unwrap().clone();
    assert!(logs.contains("CML call"), "nothing was captured: {logs}");
    let debug = format!("{client:?} {bad:?} {:?}", client.config());
    for secret in [PASSWORD, "wr0ng-secret", "licence-token-xyz"]
        .iter()
        .copied()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(!logs.contains(secret), "a secret reached the logs");
        assert!(!debug.contains(secret), "a secret reached Debug output");
    }
}

// --- labs -------------------------------------------------------------------------

#[tokio::test]
async fn every_lab_operation_over_http() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    let imported = client
        .import_lab(&ep, &topology_yaml("from-yaml", 3), Some("http lab"))
        .await
        .unwrap();
    assert!(imported.warnings.is_empty());
    let id = imported.id;
    assert_eq!(client.list_labs(&ep).await.unwrap(), vec![id.clone()]);

    let lab = client.get_lab(&ep, &id).await.unwrap();
    assert_eq!(lab.title, "http lab");
    assert_eq!(lab.description, "ccm conformance");
    assert_eq!((lab.node_count, lab.link_count), (3, 2));
    assert_eq!(lab.owner_username.as_deref(), Some(USER));
    assert_eq!(lab.state, LabState::DefinedOnCore);
    assert_eq!(lab.created_at, Some(sim.server.simulation().now()));
    let yaml = client.download_lab(&ep, &id).await.unwrap();
    assert!(yaml.contains("node_definition: alpine"), "{yaml}");

    client.start_lab(&ep, &id).await.unwrap();
    assert_eq!(client.lab_state(&ep, &id).await.unwrap(), LabState::Started);
    assert!(!client.check_if_converged(&ep, &id).await.unwrap());
    let stats = client.system_stats(&ep).await.unwrap();
    assert_eq!((stats.running_nodes, stats.allocated_cpus), (3, 3));
    assert_eq!(stats.allocated_memory_kib, 3 * 512 * 1024);
    sim.settle();
    assert!(client.check_if_converged(&ep, &id).await.unwrap());

    client.stop_lab(&ep, &id).await.unwrap();
    assert_eq!(client.lab_state(&ep, &id).await.unwrap(), LabState::Stopped);
    let refused = client.delete_lab(&ep, &id).await;
    assert!(rejected(&refused, 400, "Lab "), "{refused:?}");
    client.wipe_lab(&ep, &id).await.unwrap();
    assert_eq!(
        client.lab_state(&ep, &id).await.unwrap(),
        LabState::DefinedOnCore
    );
    client.delete_lab(&ep, &id).await.unwrap();
    assert!(client.list_labs(&ep).await.unwrap().is_empty());
    assert!(matches!(
        client.get_lab(&ep, &id).await,
        Err(CmlError::NotFound { what: "lab", .. })
    ));
    // Teardown of a lab that is gone is fine.
    client.teardown_lab(&ep, &id).await.unwrap();

    let delete = sim
        .exchanges()
        .into_iter()
        .rfind(|e| e.method == "DELETE" && e.status == 204)
        .unwrap();
    assert!(delete.body.is_empty(), "204s carry no body");
}

#[tokio::test]
async fn lab_errors_carry_cmls_status_and_description() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    let id = client
        .import_lab(&ep, &topology_yaml("one", 1), None)
        .await
        .unwrap()
        .id;
    assert_eq!(client.get_lab(&ep, &id).await.unwrap().title, "one");
    client.start_lab(&ep, &id).await.unwrap();
    let wipe = client.wipe_lab(&ep, &id).await;
    assert!(rejected(&wipe, 400, "Lab "), "{wipe:?}");

    // Over the unlicensed limit (5 nodes running; 1 already is).
    let big = client
        .import_lab(&ep, &topology_yaml("big", 5), None)
        .await
        .unwrap()
        .id;
    let start = client.start_lab(&ep, &big).await;
    assert!(rejected(&start, 400, "Cannot start lab."), "{start:?}");
    assert_eq!(
        client.lab_state(&ep, &big).await.unwrap(),
        LabState::DefinedOnCore
    );

    let import = client.import_lab(&ep, "lab:\n  title: x\n", None).await;
    assert!(
        matches!(&import, Err(CmlError::Rejected { status: 400, description, .. }) if description.starts_with("Import failed.")),
        "{import:?}"
    );
    let long_title = "t".repeat(65);
    let import = client
        .import_lab(&ep, &topology_yaml("x", 1), Some(&long_title))
        .await;
    assert!(
        matches!(import, Err(CmlError::Rejected { status: 400, .. })),
        "{import:?}"
    );

    let unknown = CmlLabId::new("0f0e0d0c-0b0a-4908-8706-050403020100");
    let not_found = |r: Result<(), CmlError>| matches!(r, Err(CmlError::NotFound { what: "lab", ref id }) if *id == unknown.to_string());
    assert!(not_found(client.get_lab(&ep, &unknown).await.map(|_| ())));
    assert!(not_found(client.start_lab(&ep, &unknown).await));
    assert!(not_found(client.wipe_lab(&ep, &unknown).await));
    assert!(not_found(
        client.download_lab(&ep, &unknown).await.map(|_| ())
    ));
    let body = sim
        .exchanges()
        .into_iter()
        .rfind(|e| e.status == 404)
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["code"], 404);
    assert_eq!(body["description"], format!("Lab not found: {unknown}"));

    // Not even a lab id: CML's validation error is a 400, not a 404.
    let malformed = client.lab_state(&ep, &CmlLabId::new("not-a-uuid")).await;
    assert!(
        matches!(malformed, Err(CmlError::Rejected { status: 400, .. })),
        "{malformed:?}"
    );

    client.teardown_lab(&ep, &id).await.unwrap();
    client.teardown_lab(&ep, &big).await.unwrap();
    assert!(client.list_labs(&ep).await.unwrap().is_empty());
}

#[tokio::test]
async fn definitions_and_health() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    let nodes = client.node_definitions(&ep).await.unwrap();
    let alpine = nodes.iter().find(|d| d.id == "alpine").unwrap();
    assert_eq!(alpine.nature.as_deref(), Some("server"));
    assert_eq!(alpine.description.as_deref(), Some("Alpine Linux"));
    let images = client.image_definitions(&ep).await.unwrap();
    assert!(images
        .iter()
        .any(|i| i.id == "alpine-default" && i.node_definition_id == "alpine"));
    let health = client.system_health(&ep).await.unwrap();
    assert!(health.valid && !health.is_licensed);
    assert_eq!((health.computes_valid, health.computes_total), (1, 1));
}

// --- licensing and telemetry ---------------------------------------------------------

#[tokio::test]
async fn licensing_flow() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    let fresh = client.licensing(&ep).await.unwrap();
    assert_eq!(fresh.registration_status, "NOT_REGISTERED");
    assert_eq!(fresh.expires_at, None);
    let node_feature = fresh
        .features
        .iter()
        .find(|f| f.id.contains("NODE_COUNT"))
        .unwrap();
    assert_eq!(node_feature.max, Some(5));

    client
        .register_licence(&ep, &Secret::new("good-token"), false)
        .await
        .unwrap();
    assert_eq!(
        client.licensing(&ep).await.unwrap().registration_status,
        "IN_PROGRESS"
    );
    let busy = client
        .register_licence(&ep, &Secret::new("good-token"), false)
        .await;
    assert!(
        matches!(busy, Err(CmlError::Rejected { status: 409, .. })),
        "{busy:?}"
    );
    sim.settle();
    let done = client.licensing(&ep).await.unwrap();
    assert_eq!(
        (
            done.registration_status.as_str(),
            done.authorization_status.as_str()
        ),
        ("COMPLETED", "IN_COMPLIANCE")
    );
    // `2026-…` style date, read back to the second.
    let expected = plus_seconds(sim.server.simulation().now(), 0);
    assert!(done.expires_at.unwrap() > expected);
    assert_eq!(done.expires_at.unwrap().timestamp_subsec_nanos(), 0);
    assert!(client.system_health(&ep).await.unwrap().is_licensed);
    let again = client
        .register_licence(&ep, &Secret::new("good-token"), false)
        .await;
    assert!(
        matches!(again, Err(CmlError::Rejected { status: 400, .. })),
        "{again:?}"
    );

    client.deregister_licence(&ep).await.unwrap();
    assert_eq!(
        client.licensing(&ep).await.unwrap().registration_status,
        "NOT_REGISTERED"
    );

    // Polling for completion, on the client's (virtual) clock.
    client
        .register_licence(&ep, &Secret::new("good-token"), false)
        .await
        .unwrap();
    let waited = drive(
        &sim,
        client.await_registration(&ep, Duration::from_secs(600), Duration::from_secs(5)),
    )
    .await;
    assert_eq!(waited.unwrap().registration_status, "COMPLETED");
    client.deregister_licence(&ep).await.unwrap();
    let twice = client.deregister_licence(&ep).await;
    assert!(
        matches!(twice, Err(CmlError::Rejected { status: 400, .. })),
        "{twice:?}"
    );

    client
        .register_licence(&ep, &Secret::new("invalid-token"), false)
        .await
        .unwrap();
    sim.settle();
    assert_eq!(
        client.licensing(&ep).await.unwrap().registration_status,
        "FAILED"
    );
    let malformed = client
        .register_licence(&ep, &Secret::new("spaces are not allowed"), false)
        .await;
    assert!(
        matches!(malformed, Err(CmlError::Rejected { status: 400, .. })),
        "{malformed:?}"
    );
}

/// Runs `wait` while moving the simulator's clock 5 s every few milliseconds.
async fn drive<T>(sim: &Sim, wait: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(wait);
    loop {
        tokio::select! {
            result = &mut wait => return result,
            () = tokio::time::sleep(Duration::from_millis(2)) => sim.advance(5),
        }
    }
}

#[tokio::test]
async fn awaiting_a_registration_that_never_completes_times_out() {
    let sim = Sim::start(|o| o.cml.registration_seconds = 1_000_000_000).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    client
        .register_licence(&ep, &Secret::new("good-token"), false)
        .await
        .unwrap();
    let waited = drive(
        &sim,
        client.await_registration(&ep, Duration::from_secs(60), Duration::from_secs(10)),
    )
    .await;
    assert!(
        matches!(&waited, Err(CmlError::Timeout { operation }) if operation == "licence registration"),
        "{waited:?}"
    );
}

#[tokio::test]
async fn telemetry_high_water_mark() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    assert!(client.telemetry_events(&ep, None).await.unwrap().is_empty());
    let id = client
        .import_lab(&ep, &topology_yaml("t", 1), None)
        .await
        .unwrap()
        .id;
    sim.advance(5);
    client.start_lab(&ep, &id).await.unwrap();
    let all = client.telemetry_events(&ep, None).await.unwrap();
    let categories: Vec<&str> = all.iter().map(|e| e.category.as_str()).collect();
    assert_eq!(categories, ["import_lab", "start_lab"]);
    assert!(all.iter().all(|e| e.is_user_activity()));
    assert_eq!(all[0].data["lab_id"], id.as_str());

    let mark = all.last().map(|e| e.timestamp);
    assert!(client.telemetry_events(&ep, mark).await.unwrap().is_empty());
    let only_first = client
        .telemetry_events(&ep, Some(all[0].timestamp))
        .await
        .unwrap();
    assert_eq!(only_first.len(), 1);
    assert_eq!(only_first[0].category, "start_lab");

    sim.advance(5);
    let instance = sim.server.instance_id().clone();
    sim.server
        .simulation()
        .record_user_activity(&instance, "student")
        .unwrap();
    let newer = client.telemetry_events(&ep, mark).await.unwrap();
    assert_eq!(newer.len(), 1);
    assert_eq!(newer[0].category, "user_activity");
    assert_eq!(newer[0].data["user"], "student");
}

// --- TLS ------------------------------------------------------------------------------

#[tokio::test]
async fn tls_with_a_custom_ca_without_verification_and_verify_on_fails() {
    let sim = Sim::start(|o| o.tls = true).await;
    let ep = sim.ep();
    assert!(ep.base_url.starts_with("https://127.0.0.1:"));
    let pem = sim.server.certificate_pem().unwrap().to_owned();

    let pinned = sim.client(TlsMode::CustomCa(pem.clone()));
    assert!(pinned.system_information(&ep).await.unwrap().ready);
    pinned.list_labs(&ep).await.unwrap();

    let insecure = sim.client(TlsMode::Insecure);
    insecure.list_labs(&ep).await.unwrap();

    let strict = sim.client(TlsMode::Verify);
    let err = strict.system_information(&ep).await.unwrap_err();
    assert!(
        matches!(&err, CmlError::Protocol { message, .. } if message.contains("TLS")),
        "{err:?}"
    );
    assert!(!err.means_starting(), "a bad certificate is not a boot");

    // Another server's certificate does not vouch for this one.
    let other = Sim::start(|o| o.tls = true).await;
    let wrong = sim.client(TlsMode::CustomCa(
        other.server.certificate_pem().unwrap().to_owned(),
    ));
    assert!(matches!(
        wrong.system_information(&ep).await,
        Err(CmlError::Protocol { .. })
    ));
}

#[tokio::test]
async fn tls_per_worker_overrides_the_default() {
    let sim = Sim::start(|o| o.tls = true).await;
    let trusted = WorkerId::from_u128(1);
    let other = WorkerId::from_u128(2);
    let client = sim.client_with(
        CmlClientConfig::new(USER, Secret::new(PASSWORD))
            .with_tls(TlsMode::Verify)
            .with_worker_tls(trusted, TlsMode::Insecure),
    );
    let ep_trusted = sim.server.endpoint(trusted);
    let ep_other = sim.server.endpoint(other);
    client.list_labs(&ep_trusted).await.unwrap();
    assert!(client.list_labs(&ep_other).await.is_err());
    let pem = sim.server.certificate_pem().unwrap().to_owned();
    client
        .set_worker_tls(other, Some(TlsMode::CustomCa(pem)))
        .unwrap();
    client.list_labs(&ep_other).await.unwrap();
    client.set_worker_tls(trusted, None).unwrap();
    assert!(client.system_information(&ep_trusted).await.is_err());
}

// --- misbehaving servers -----------------------------------------------------------------

#[tokio::test]
async fn a_server_slower_than_the_call_times_out() {
    let sim = Sim::start(|_| {}).await;
    let client = sim.client_with(short_timeouts());
    let ep = sim.ep();
    client.list_labs(&ep).await.unwrap();
    sim.server.set_latency(Some(Duration::from_millis(1500)));
    let err = client.list_labs(&ep).await.unwrap_err();
    assert!(
        matches!(&err, CmlError::Timeout { operation } if operation == "list_labs"),
        "{err:?}"
    );
    sim.server.set_latency(None);
    client.list_labs(&ep).await.unwrap();
}

#[tokio::test]
async fn refused_connections_mean_starting() {
    let client = HttpCmlClient::new(short_timeouts()).unwrap();
    let ep = endpoint(format!("http://127.0.0.1:{}", closed_port()));
    let err = client.system_information(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Unreachable { .. }), "{err:?}");
    assert!(err.means_starting());
    let err = client.list_labs(&ep).await.unwrap_err();
    assert!(err.means_starting(), "{err:?}");
}

#[tokio::test]
async fn dropped_connections_mean_unreachable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = tokio::spawn(async move {
        for _ in 0..8 {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            drop(socket);
        }
    });
    let client = HttpCmlClient::new(short_timeouts()).unwrap();
    for scheme in ["http", "https"] {
        let ep = endpoint(format!("{scheme}://127.0.0.1:{port}"));
        let err = client.system_information(&ep).await.unwrap_err();
        assert!(
            matches!(err, CmlError::Unreachable { .. }),
            "{scheme}: {err:?}"
        );
        assert!(err.means_starting());
    }
    accepting.abort();
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

#[tokio::test]
async fn bad_gateway_while_booting_means_starting() {
    let nginx = Router::new().fallback(any(|| async {
        (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head></html>",
        )
    }));
    let client = HttpCmlClient::new(short_timeouts()).unwrap();
    let ep = endpoint(serve(nginx).await);
    let err = client.system_information(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Starting { .. }), "{err:?}");
    assert!(err.means_starting());
    // Authenticated calls too: the login itself meets the 502.
    assert!(client.list_labs(&ep).await.unwrap_err().means_starting());

    // The simulator while its CML boots.
    let sim = Sim::start(|o| o.boot_seconds = 300).await;
    let client = sim.client(TlsMode::Verify);
    let ep = sim.ep();
    let err = client.system_information(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Starting { .. }), "{err:?}");
    assert!(client.list_labs(&ep).await.unwrap_err().means_starting());
    sim.advance(300);
    assert!(client.system_information(&ep).await.unwrap().ready);
    client.list_labs(&ep).await.unwrap();
}

#[tokio::test]
async fn server_errors_are_not_starting() {
    let sim = Sim::start(|o| o.error_rate = 1.0).await;
    let client = sim.client(TlsMode::Verify);
    let err = client.system_stats(&sim.ep()).await.unwrap_err();
    assert!(
        matches!(err, CmlError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(!err.means_starting());
}

#[tokio::test]
async fn odd_answers_are_read_tolerantly() {
    let json = |body: &'static str| {
        move || async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
    };
    let router = Router::new()
        .route("/api/v0/authenticate", post(json(r#""not.a.jwt""#)))
        .route(
            "/api/v0/system_information",
            get(json(r#"{"version": "2.11.0+sso", "ready": null, "features": ["x"]}"#)),
        )
        .route(
            "/api/v0/labs/{id}/state",
            get(json(r#""SOME_FUTURE_STATE""#)),
        )
        .route(
            "/api/v0/labs/{id}",
            get(json(
                r#"{"id": "x", "lab_title": "t", "state": "QUEUED", "node_count": 3.0,
                    "link_count": null, "created": "2025-12-06T11:11:28+00:00",
                    "autostart": {"enabled": false}}"#,
            )),
        )
        .route(
            "/api/v0/system_stats",
            get(json(
                r#"{"computes": {"a": {"stats": {"cpu": {"percent": null},
                     "memory": {"used": 1.0e9, "total": 4.0e9},
                     "dominfo": {"running_nodes": null, "total_nodes": 2, "allocated_cpus": 1,
                                 "allocated_memory": 524288.0}}}}}"#,
            )),
        )
        .route(
            "/api/v0/telemetry/events",
            get(json(
                r#"[{"category": "brand_new", "timestamp": "2025-12-06T11:11:28.5+00:00", "data": null},
                    {"category": "start_lab", "timestamp": 12}]"#,
            )),
        )
        .route("/api/v0/labs", get(json(r#"{"unexpected": "object"}"#)));
    let client = HttpCmlClient::new(short_timeouts()).unwrap();
    let ep = endpoint(serve(router).await);
    let info = client.system_information(&ep).await.unwrap();
    assert!(!info.ready);
    assert_eq!(client.version(&ep).await.unwrap(), SemVer::new(2, 11, 0));
    let lab = CmlLabId::new("x");
    assert_eq!(
        client.lab_state(&ep, &lab).await.unwrap(),
        LabState::Unknown
    );
    let got = client.get_lab(&ep, &lab).await.unwrap();
    assert_eq!(
        (got.state, got.node_count, got.link_count),
        (LabState::Unknown, 3, 0)
    );
    let stats = client.system_stats(&ep).await.unwrap();
    assert_eq!(stats.cpu_percent, None);
    assert_eq!(stats.memory_used_bytes, Some(1_000_000_000));
    assert_eq!((stats.running_nodes, stats.total_nodes), (0, 2));
    assert_eq!(stats.allocated_memory_kib, 524_288);
    let events = client.telemetry_events(&ep, None).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().any(|e| e.category == "brand_new"));
    let err = client.list_labs(&ep).await.unwrap_err();
    assert!(matches!(err, CmlError::Protocol { .. }), "{err:?}");
    // A 404 on a path that is not about a lab.
    let err = client.licensing(&ep).await.unwrap_err();
    assert!(
        matches!(err, CmlError::NotFound { what: "path", .. }),
        "{err:?}"
    );
}
