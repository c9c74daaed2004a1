//! The browser login end to end against a real OpenID Connect provider (npm
//! `oidc-provider`, installed into the test's temporary directory and started by
//! the test): login with PKCE, the cookie session, CSRF rejection, token refresh,
//! a login without a ccm role, and logout.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use ccm_assembly::config::OidcConfig;
use reqwest::cookie::CookieStore;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common;

/// The provider's directory: `npm ci` there installs `oidc-provider` (the test
/// command does it; tests download nothing themselves).
fn provider_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc"));
    assert!(
        dir.join("node_modules/oidc-provider/package.json").exists(),
        "oidc-provider is not installed: run `npm ci --prefix {}` (scripts/test-all does)",
        dir.display()
    );
    dir
}

struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

async fn start_provider(redirect: &str, post_logout: &str, access_ttl: u32) -> Provider {
    let dir = provider_dir();
    let mut child = tokio::process::Command::new("node")
        .arg("provider.mjs")
        .current_dir(&dir)
        .env("REDIRECT_URI", redirect)
        .env("POST_LOGOUT_URI", post_logout)
        .env("ACCESS_TTL", access_ttl.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is needed for the browser-login test");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(port) = line.strip_prefix("ready ") {
                return port.trim().to_owned();
            }
        }
        panic!("the provider exited before it was ready");
    })
    .await
    .expect("the provider starts");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider {
        issuer: format!("http://127.0.0.1:{port}"),
        _child: child,
    }
}

fn csrf_of(jar: &reqwest::cookie::Jar, url: &str) -> String {
    let header = jar.cookies(&url.parse().unwrap()).unwrap();
    header
        .to_str()
        .unwrap()
        .split(';')
        .find_map(|c| c.trim().strip_prefix("ccm_csrf="))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_session_csrf_refresh_and_logout_against_a_real_provider() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // Access tokens that expire at once: every request refreshes the session.
    let provider = start_provider(&format!("{base}/auth/callback"), &format!("{base}/"), 1).await;
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            issuer: provider.issuer.clone(),
            audience: "ccm".into(),
            client_id: Some("ccm".into()),
            client_secret: Some(ccm_core::secret::Secret::new("ccm-secret")),
            scopes: "openid profile roles".into(),
            ..OidcConfig::default()
        }),
        public_url: base.clone(),
        ..common::Options::default()
    })
    .await;
    let task = tokio::spawn(ts.server.clone().run(listener));
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();

    // Log in: ccm → provider → (login, consent) → ccm callback → the page asked for.
    let landed = browser
        .get(format!(
            "{base}/auth/login?login_hint=alice&return_to=/api/v1/session"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.url().path(), "/api/v1/session");
    let me: Value = landed.json().await.unwrap();
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["role"], "manager");
    assert_eq!(me["method"]["kind"], "session");

    // The session reads (refreshing its tokens each time, as they last 1 s).
    for _ in 0..2 {
        let workers = browser
            .get(format!("{base}/api/v1/workers"))
            .send()
            .await
            .unwrap();
        assert_eq!(workers.status(), 200);
    }
    // Writes need the CSRF token; a manager may not create workers (admin).
    let body = serde_json::json!({"name": "from-browser"});
    let refused = browser
        .post(format!("{base}/api/v1/lablets"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "csrf_failed");
    let csrf = csrf_of(&jar, &base);
    let allowed = browser
        .post(format!("{base}/api/v1/lablets"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.status(),
        422,
        "past auth and CSRF, refused on its body"
    );
    let admin_only = browser
        .post(format!("{base}/api/v1/workers"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(admin_only.status(), 403);

    // Logout ends the session here and names the provider's logout URL.
    let out = browser.post(format!("{base}/logout")).send().await.unwrap();
    assert_eq!(out.status(), 200);
    let out: Value = out.json().await.unwrap();
    let end = out["end_session_url"].as_str().unwrap();
    assert!(end.starts_with(&provider.issuer), "{end}");
    assert!(end.contains("client_id=ccm"), "{end}");
    assert!(
        !end.contains("id_token_hint"),
        "no token in a browser URL: {end}"
    );
    let after = browser
        .get(format!("{base}/api/v1/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    // A forged or replayed callback is refused.
    let forged = browser
        .get(format!("{base}/auth/callback?code=abc&state=not-ours"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // An account without a ccm role gets no session.
    let nobody = reqwest::Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .build()
        .unwrap();
    let refused = nobody
        .get(format!("{base}/auth/login?login_hint=nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    ts.server.shutdown_handle().send(true).unwrap();
    task.await.unwrap().unwrap();
}
