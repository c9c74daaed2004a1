//! Issue 15, login and tokens, against a small OpenID Connect provider
//! (`fake_idp`) and ccm listening (or its router): bounded and validated pending
//! logins (also in a `ccm serve` process: RSS stays bounded), login CSRF and the
//! nonce, role removal and single-flight on refresh, ID tokens refused as bearer
//! tokens and kept out of the logout URL, the JWKS cache under a storm of unknown
//! key ids and its periodic refresh, and a property test of the JWT parser.

pub(crate) mod fake_idp;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{Method, Request};
use ccm_assembly::config::OidcConfig;
use ccm_http::auth::jwt::{token_header, JwtError, JwtVerifier};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use jsonwebtoken::Algorithm;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common;
use crate::jwt::b64;
use fake_idp::{EcKey, Idp, API_AUDIENCE, CLIENT_ID};

fn oidc(idp: &Idp) -> OidcConfig {
    OidcConfig {
        issuer: idp.issuer.clone(),
        audience: API_AUDIENCE.into(),
        client_id: Some(CLIENT_ID.into()),
        ..OidcConfig::default()
    }
}

/// ccm listening on a free port with `config`; its base URL.
async fn serve(config: OidcConfig) -> (common::TestServer, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ts = common::server(common::Options {
        oidc: Some(config),
        public_url: base.clone(),
        ..common::Options::default()
    })
    .await;
    tokio::spawn(ts.server.clone().run(listener));
    (ts, base)
}

/// A browser with its own cookie jar, following redirects or not.
fn browser(follow: bool) -> reqwest::Client {
    let policy = if follow {
        reqwest::redirect::Policy::limited(10)
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(policy)
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn status_of(browser: &reqwest::Client, url: &str) -> u16 {
    browser.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_with_control_characters_or_another_host_is_refused_and_the_callback_never_fails()
{
    let idp = fake_idp::start().await;
    let (ts, base) = serve(oidc(&idp)).await;
    let login = ts.server.state().oidc_login.clone().unwrap();
    let start = browser(false);
    let long = format!("/{}", "a".repeat(3 * 1024));
    for bad in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/x\r\nSet-Cookie: a=b",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "/a b",
        "/\u{7f}",
        long.as_str(),
    ] {
        let refused = start
            .get(format!("{base}/auth/login"))
            .query(&[("return_to", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad:?}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{bad:?}");
    }
    assert_eq!(
        login.pending_count().await.unwrap(),
        0,
        "nothing kept for a refused login"
    );

    // A local path with encoded control characters in its query is kept as sent
    // and the completed login lands there.
    let path = "/api/v1/session?from=%0A%09&next=https://x";
    let landed = browser(true)
        .get(format!("{base}/auth/login"))
        .query(&[("return_to", path)])
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.url().path(), "/api/v1/session");
    assert_eq!(landed.url().query(), Some("from=%0A%09&next=https://x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_logins_are_capped_and_the_oldest_is_forgotten_first() {
    let idp = fake_idp::start().await;
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            max_pending_logins: 100,
            ..oidc(&idp)
        }),
        ..common::Options::default()
    })
    .await;
    let login = ts.server.state().oidc_login.clone().unwrap();
    let mut started = Vec::new();
    for i in 0..3000 {
        let response = ts
            .send(
                Request::get("/auth/login?return_to=/workers")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status(), 303);
        if i == 0 || i == 2999 {
            let provider = response.headers()[LOCATION].to_str().unwrap().to_owned();
            let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
            let binding = cookie.split(';').next().unwrap().to_owned();
            started.push((provider, binding));
        }
        assert!(login.pending_count().await.unwrap() <= 100);
    }
    assert_eq!(login.pending_count().await.unwrap(), 100);

    // The provider sends both back; the first was pushed out, the last completes.
    let provider = browser(false);
    let mut outcomes = Vec::new();
    for (url, binding) in started {
        let redirect = provider.get(&url).send().await.unwrap();
        let callback: reqwest::Url = location(&redirect).parse().unwrap();
        let path = format!("{}?{}", callback.path(), callback.query().unwrap());
        let response = ts
            .send(
                Request::get(path)
                    .header(COOKIE, binding)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        outcomes.push((status, String::from_utf8_lossy(&body).into_owned()));
    }
    assert_eq!(outcomes[0].0, 401, "{}", outcomes[0].1);
    assert!(
        outcomes[0].1.contains("unknown or expired"),
        "{}",
        outcomes[0].1
    );
    assert_eq!(outcomes[1].0, 303, "{}", outcomes[1].1);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `count` anonymous logins, 16 at a time; their statuses.
async fn logins(client: &reqwest::Client, base: &str, return_to: &str, count: usize) -> Vec<u16> {
    futures_util::stream::iter(0..count)
        .map(|_| async move {
            client
                .get(format!("{base}/auth/login"))
                .query(&[("return_to", return_to)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
        .buffer_unordered(16)
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_thousand_anonymous_logins_keep_a_ccm_serve_process_small() {
    let idp = fake_idp::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::from(common::ccm_binary())
        .arg("serve")
        .env("CCM_DATABASE_URL", "memory")
        .env("CCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("CCM_PUBLIC_URL", &base)
        .env("CCM_SIM_SEED_DEMO", "false")
        .env("CCM_ADMIN_LOGIN_LINK", "false")
        .env("CCM_OIDC_ISSUER", &idp.issuer)
        .env("CCM_OIDC_AUDIENCE", API_AUDIENCE)
        .env("CCM_OIDC_CLIENT_ID", CLIENT_ID)
        .env("CCM_OIDC_MAX_PENDING_LOGINS", "500")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "ccm serve answers");
    let warm = logins(&client, &base, "/workers", 200).await;
    assert!(warm.iter().all(|s| *s == 303), "{warm:?}");
    let before = rss_kib(pid);

    // 3,000 logins asking to return to 32 KiB paths: refused, nothing kept.
    let huge = format!("/{}", "a".repeat(32 * 1024));
    let statuses = logins(&client, &base, &huge, 3000).await;
    assert!(statuses.iter().all(|s| *s == 400), "{:?}", &statuses[..10]);
    let after_huge = rss_kib(pid);
    // 3,000 more with the longest path accepted: at most 500 kept.
    let longest = format!("/{}", "a".repeat(2047));
    let statuses = logins(&client, &base, &longest, 3000).await;
    assert!(statuses.iter().all(|s| *s == 303), "{:?}", &statuses[..10]);
    let after = rss_kib(pid);
    let grown = after.saturating_sub(before);
    eprintln!("RSS {before} → {after_huge} → {after} KiB");
    assert!(
        grown < 40 * 1024,
        "RSS grew by {grown} KiB ({before} → {after_huge} → {after} KiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_completes_only_in_the_browser_that_started_it() {
    let idp = fake_idp::start().await;
    let (_ts, base) = serve(oidc(&idp)).await;

    let attacker = browser(false);
    let started = attacker
        .get(format!("{base}/auth/login?login_hint=alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let cookie = set_cookies(&started).join("\n");
    for part in ["ccm_login=", "HttpOnly", "SameSite=Lax", "Path=/auth"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let at_provider = attacker.get(location(&started)).send().await.unwrap();
    let callback = location(&at_provider);

    // Another browser given the callback link (login CSRF): without the binding
    // cookie, or with its own, it gets no session.
    let victim = browser(false);
    let refused = victim.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(set_cookies(&refused)
        .iter()
        .all(|c| !c.starts_with("ccm_session=")));
    let other = browser(false);
    assert_eq!(status_of(&other, &format!("{base}/auth/login")).await, 303);
    assert_eq!(status_of(&other, &callback).await, 401);

    // The browser that started it completes it, once.
    let done = attacker.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 303);
    assert!(set_cookies(&done)
        .iter()
        .any(|c| c.starts_with("ccm_session=")));
    assert_eq!(status_of(&attacker, &callback).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_with_another_nonce_is_refused() {
    let idp = fake_idp::start().await;
    let (_ts, base) = serve(oidc(&idp)).await;
    let url = format!("{base}/auth/login?return_to=/api/v1/session");
    idp.wrong_nonce.store(true, Ordering::SeqCst);
    assert_eq!(status_of(&browser(true), &url).await, 401);
    idp.wrong_nonce.store(false, Ordering::SeqCst);
    assert_eq!(status_of(&browser(true), &url).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_removed_at_the_provider_ends_the_session_at_the_next_refresh() {
    let idp = fake_idp::start().await;
    // Tokens that are due at once: every request refreshes.
    idp.login_expires_in.store(0, Ordering::SeqCst);
    idp.refresh_expires_in.store(0, Ordering::SeqCst);
    let (_ts, base) = serve(oidc(&idp)).await;
    let b = browser(true);
    let me = format!("{base}/api/v1/session");
    let landed = b
        .get(format!("{base}/auth/login?return_to=/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.json::<Value>().await.unwrap()["role"], "admin");
    assert!(idp.refreshes.load(Ordering::SeqCst) >= 1);

    idp.set_roles("alice", &["manager"]);
    let now: Value = b.get(&me).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["role"], "manager", "the role follows the provider");

    idp.set_roles("alice", &[]);
    assert_eq!(status_of(&b, &me).await, 401, "no role, no session");
    idp.set_roles("alice", &["admin"]);
    assert_eq!(status_of(&b, &me).await, 401, "the session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_a_session_with_due_tokens_refresh_once() {
    let idp = fake_idp::start().await;
    idp.login_expires_in.store(0, Ordering::SeqCst);
    idp.refresh_expires_in.store(3600, Ordering::SeqCst);
    idp.refresh_delay_ms.store(300, Ordering::SeqCst);
    let (_ts, base) = serve(oidc(&idp)).await;
    let b = browser(true);
    let landed = b
        .get(format!("{base}/auth/login?return_to=/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(idp.refreshes.load(Ordering::SeqCst), 0);

    let me = format!("{base}/api/v1/session");
    let statuses = futures_util::future::join_all((0..20).map(|_| status_of(&b, &me))).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(idp.refreshes.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logout_url_handed_to_the_browser_carries_no_token() {
    let idp = fake_idp::start().await;
    let (_ts, base) = serve(oidc(&idp)).await;
    let b = browser(true);
    let landed = b
        .get(format!("{base}/auth/login?return_to=/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    let out: Value = b
        .post(format!("{base}/logout"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = out["end_session_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/logout?", idp.issuer)), "{url}");
    assert!(url.contains("client_id=ccm"), "{url}");
    assert!(
        !url.contains("id_token_hint") && !url.contains("eyJ"),
        "{url}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_is_refused_as_a_bearer_token() {
    let idp = fake_idp::start().await;
    let sign = |typ: Option<&str>, claims: &Value| idp.key.sign("idp-1", typ, claims);

    // The API audience is the client id: ID tokens pass `aud`, the rest tells them.
    let same = common::server(common::Options {
        oidc: Some(OidcConfig {
            audience: CLIENT_ID.into(),
            ..oidc(&idp)
        }),
        ..common::Options::default()
    })
    .await;
    let mut access = idp.access_claims("alice");
    access["aud"] = json!(CLIENT_ID);
    let mut keycloak_refreshed_id = idp.id_claims("alice", None);
    keycloak_refreshed_id["typ"] = json!("ID");
    let mut with_at_hash = idp.id_claims("alice", None);
    with_at_hash["at_hash"] = json!("x");
    let cases = [
        ("access token, at+jwt", sign(Some("at+jwt"), &access), 200),
        ("access token, JWT", sign(Some("JWT"), &access), 200),
        ("access token, no typ", sign(None, &access), 200),
        (
            "ID token with nonce",
            sign(Some("JWT"), &idp.id_claims("alice", Some("n"))),
            401,
        ),
        (
            "Keycloak ID token",
            sign(Some("JWT"), &keycloak_refreshed_id),
            401,
        ),
        ("ID token with at_hash", sign(None, &with_at_hash), 401),
        ("another token type", sign(Some("logout+jwt"), &access), 401),
    ];
    for (name, token, expected) in cases {
        let (status, body) = same
            .call(Method::GET, "/api/v1/session", Some(&token), None)
            .await;
        assert_eq!(status, expected, "{name}: {body}");
    }

    // A separate API audience: a token also meant for the login client is refused.
    let separate = common::server(common::Options {
        oidc: Some(oidc(&idp)),
        ..common::Options::default()
    })
    .await;
    let mut both = idp.access_claims("alice");
    both["aud"] = json!([API_AUDIENCE, CLIENT_ID]);
    for (token, expected) in [
        (sign(Some("at+jwt"), &idp.access_claims("alice")), 200),
        (sign(Some("JWT"), &both), 401),
    ] {
        let (status, body) = separate
            .call(Method::GET, "/api/v1/session", Some(&token), None)
            .await;
        assert_eq!(status, expected, "{body}");
    }
}

/// `GET /api/v1/session` with a bearer token through `router`; the status.
async fn bearer_status(router: axum::Router, token: String) -> u16 {
    let request = Request::get("/api/v1/session")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    router.oneshot(request).await.unwrap().status().as_u16()
}

fn random_kid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_unknown_key_ids_fetches_at_most_once_and_blocks_no_valid_token() {
    let idp = fake_idp::start().await;
    idp.discovery_down.store(true, Ordering::SeqCst);
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            client_id: None,
            jwks_refresh_min_seconds: 1,
            ..oidc(&idp)
        }),
        ..common::Options::default()
    })
    .await;
    let access = idp.access_claims("alice");
    // Signed up front (slow in debug builds) so each storm arrives at once.
    let forged = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| idp.key.sign(&random_kid(), Some("at+jwt"), &access))
            .collect()
    };
    let first_storm = forged(200);
    let second_storm = forged(200);

    // Discovery is down: 200 tokens naming random keys at once cost one attempt.
    let storm = first_storm
        .into_iter()
        .map(|token| bearer_status(ts.server.router(), token));
    let statuses = futures_util::future::join_all(storm).await;
    assert!(
        statuses.iter().all(|s| *s == 503 || *s == 401),
        "{statuses:?}"
    );
    let hits = idp.discovery_hits.load(Ordering::SeqCst);
    assert!(hits <= 2, "{hits} discovery requests");

    // Discovery is back: a valid token verifies (once the rate limit allows).
    idp.discovery_down.store(false, Ordering::SeqCst);
    let valid = idp.key.sign("idp-1", Some("at+jwt"), &access);
    let mut verified = false;
    for _ in 0..100 {
        if bearer_status(ts.server.router(), valid.clone()).await == 200 {
            verified = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(verified, "the valid token verifies once discovery is back");

    // The JWKS hangs for 5 s: a storm waits for one fetch, valid tokens do not.
    idp.jwks_hang_ms.store(5000, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = idp.jwks_hits.load(Ordering::SeqCst);
    let storm: Vec<_> = second_storm
        .into_iter()
        .map(|token| tokio::spawn(bearer_status(ts.server.router(), token)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while idp.jwks_hits.load(Ordering::SeqCst) == before {
        assert!(Instant::now() < deadline, "the storm fetches the JWKS");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    assert_eq!(bearer_status(ts.server.router(), valid.clone()).await, 200);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "a valid token waited {took:?}"
    );
    for task in storm {
        assert_eq!(task.await.unwrap(), 401);
    }
    let fetches = idp.jwks_hits.load(Ordering::SeqCst) - before;
    assert!(fetches <= 2, "{fetches} JWKS requests for the storm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_at_the_issuer_stops_verifying_after_the_periodic_refresh() {
    let idp = fake_idp::start().await;
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            client_id: None,
            jwks_refresh_seconds: 1,
            jwks_refresh_min_seconds: 0,
            ..oidc(&idp)
        }),
        ..common::Options::default()
    })
    .await;
    let access = idp.access_claims("alice");
    let old = idp.key.sign("idp-1", Some("at+jwt"), &access);
    assert_eq!(bearer_status(ts.server.router(), old.clone()).await, 200);

    let rotated = EcKey::new("idp-2");
    *idp.jwks.lock().unwrap() = vec![rotated.jwk.clone()];
    let mut refused = false;
    for _ in 0..100 {
        if bearer_status(ts.server.router(), old.clone()).await == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the removed key is no longer trusted");
    let new = rotated.sign("idp-2", Some("at+jwt"), &access);
    assert_eq!(bearer_status(ts.server.router(), new.clone()).await, 200);

    // The issuer goes down: the keys it served last stay trusted for a while.
    idp.jwks_down.store(true, Ordering::SeqCst);
    let hits = idp.jwks_hits.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(bearer_status(ts.server.router(), new).await, 200);
    assert!(
        idp.jwks_hits.load(Ordering::SeqCst) > hits,
        "a refresh was tried"
    );
}

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<Vec<u8>>().prop_map(|b| b64(&b)),
        "[A-Za-z0-9_-]{0,40}",
        ".{0,20}",
    ]
}

fn header() -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        Just("RS256".to_owned()),
        Just("ES256".to_owned()),
        Just("HS256".to_owned()),
        Just("none".to_owned()),
        ".{0,8}",
    ];
    let kid = prop::option::of(prop_oneof![Just("idp-1".to_owned()), ".{0,12}"]);
    let typ = prop::option::of(".{0,10}");
    (alg, kid, typ).prop_map(|(alg, kid, typ)| {
        let mut h = json!({ "alg": alg });
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        if let Some(typ) = typ {
            h["typ"] = json!(typ);
        }
        b64(h.to_string().as_bytes())
    })
}

/// Short property run (CI runs it with every test): any input to the JWT header
/// parser and the verifier is refused as invalid, never a panic, never accepted.
#[test]
fn the_jwt_header_parser_and_verifier_refuse_arbitrary_input() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (idp, verifier) = rt.block_on(async {
        let idp = fake_idp::start().await;
        let verifier = JwtVerifier::new(OidcConfig {
            client_id: None,
            jwks_refresh_min_seconds: 3600,
            ..oidc(&idp)
        })
        .unwrap();
        (idp, verifier)
    });
    let claims = b64(idp.access_claims("alice").to_string().as_bytes());
    let tokens = prop_oneof![
        ".*",
        prop::collection::vec(piece(), 0..5).prop_map(|p| p.join(".")),
        (header(), piece(), piece()).prop_map(|(h, p, s)| format!("{h}.{p}.{s}")),
        (header(), piece()).prop_map(move |(h, s)| format!("{h}.{claims}.{s}")),
    ];
    proptest!(ProptestConfig::with_cases(512), |(token in tokens)| {
        match token_header(&token) {
            Ok(h) => prop_assert!(matches!(h.alg, Algorithm::RS256 | Algorithm::ES256)),
            Err(e) => prop_assert!(matches!(e, JwtError::Invalid(_)), "{e:?}"),
        }
        let verdict = rt.block_on(verifier.verify(&token));
        prop_assert!(matches!(verdict, Err(JwtError::Invalid(_))), "{verdict:?}");
    });
}
