//! Browser sessions shared by every process on one store. Real `ccm serve`
//! processes on one PostgreSQL database (of the test's own): a session opened on
//! one process works on the other (reads, and writes with the CSRF token),
//! survives a restart of every process, ends everywhere on logout, and a login
//! link works once across processes. Two servers on one key-value store with the
//! OIDC login: a login started on one completes on the other, and due tokens are
//! refreshed once for both (the rotating refresh token is spent once).

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{json, Value};

use crate::processes::{within, CcmProcess, Database};

/// Starts `ccm serve` on `database` with the login link printed.
async fn serve(database: &Database) -> CcmProcess {
    CcmProcess::start(
        &[
            ("CCM_DATABASE_URL", database.url.clone()),
            ("CCM_SIM_SEED_DEMO", "false".into()),
            ("CCM_ADMIN_LOGIN_LINK", "true".into()),
        ],
        &[],
    )
    .await
}

/// The login link the process printed last (a restarted process prints a new one).
async fn login_link(process: &CcmProcess) -> String {
    within(
        Duration::from_secs(20),
        "the login link is printed",
        || async {
            let output = process.output();
            let line = output
                .lines()
                .rev()
                .find(|l| l.contains("/login/once?token="))?;
            Some(line[line.find("http")?..].trim().to_owned())
        },
    )
    .await
}

/// A browser's session: the cookie header and the CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens the login link with `http`; the response.
async fn follow(http: &reqwest::Client, link: &str) -> reqwest::Response {
    http.get(link).send().await.unwrap()
}

/// The browser the answer to a login link makes.
fn browser_of(response: &reqwest::Response) -> Browser {
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()[LOCATION], "/");
    let value_of = |name: &str| -> String {
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("no {name} cookie"))
            .to_owned()
    };
    Browser {
        cookie: format!(
            "ccm_session={}; ccm_csrf={}",
            value_of("ccm_session"),
            value_of("ccm_csrf")
        ),
        csrf: value_of("ccm_csrf"),
    }
}

impl Browser {
    async fn who(&self, http: &reqwest::Client, base: &str) -> (u16, Value) {
        let response = http
            .get(format!("{base}/api/v1/session"))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates an API key (a state-changing request), with or without the CSRF
    /// header; the status.
    async fn create_key(&self, http: &reqwest::Client, base: &str, name: &str, csrf: bool) -> u16 {
        let mut request = http
            .post(format!("{base}/api/v1/api-keys"))
            .header(COOKIE, &self.cookie)
            .json(&json!({"name": name, "role": "user"}));
        if csrf {
            request = request.header("x-csrf-token", &self.csrf);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_on_one_process_works_on_another_and_survives_restarts() {
    let database = Database::fresh().await;
    let mut a = serve(&database).await;
    let mut b = serve(&database).await;
    let (link_a, link_b) = (login_link(&a).await, login_link(&b).await);
    let http = client();

    // Logged in on A.
    let browser = browser_of(&follow(&http, &link_a).await);
    // Used on B: a read, and a write that needs the CSRF token.
    let (status, me) = browser.who(&http, &b.base()).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["csrf_token"], browser.csrf.as_str());
    assert_eq!(
        browser.create_key(&http, &b.base(), "no-csrf", false).await,
        403
    );
    assert_eq!(
        browser.create_key(&http, &b.base(), "from-b", true).await,
        201
    );

    // A link redeemed on A is refused on B; B's own link works once, on A.
    let on_b = link_a.replace(&a.base(), &b.base());
    assert_eq!(follow(&http, &on_b).await.status(), 401);
    let second = browser_of(&follow(&http, &link_b.replace(&b.base(), &a.base())).await);
    assert_eq!(follow(&http, &link_b).await.status(), 401);

    // Every process stops, then both start again: the sessions still work, on both.
    a.stop().await;
    b.stop().await;
    a.start_again().await;
    b.start_again().await;
    for base in [a.base(), b.base()] {
        let (status, me) = browser.who(&http, &base).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["subject"], "admin (login link)");
        assert_eq!(second.who(&http, &base).await.0, 200);
    }
    assert_eq!(
        browser
            .create_key(&http, &a.base(), "after-restart", true)
            .await,
        201
    );

    // A logout on B ends the session on A too; the other session stays.
    let logout = http
        .post(format!("{}/logout", b.base()))
        .header(COOKIE, &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(browser.who(&http, &a.base()).await.0, 401);
    assert_eq!(second.who(&http, &a.base()).await.0, 200);

    a.stop().await;
    b.stop().await;
    database.drop().await;
}

/// A server listening on a free port over the shared `store` and `kv`, with the
/// OIDC browser login of `idp`; its base URL.
async fn oidc_server(
    idp: &crate::sec_login::fake_idp::Idp,
    store: &std::sync::Arc<dyn ccm_core::ports::Store>,
    kv: &std::sync::Arc<dyn ccm_core::ports::KeyValueStore>,
    holder: &str,
) -> (crate::common::TestServer, String) {
    use crate::sec_login::fake_idp::{API_AUDIENCE, CLIENT_ID};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ts = crate::common::server(crate::common::Options {
        store: Some(store.clone()),
        kv: Some(kv.clone()),
        oidc: Some(ccm_assembly::config::OidcConfig {
            issuer: idp.issuer.clone(),
            audience: API_AUDIENCE.into(),
            client_id: Some(CLIENT_ID.into()),
            ..ccm_assembly::config::OidcConfig::default()
        }),
        public_url: base.clone(),
        holder: holder.into(),
        ..crate::common::Options::default()
    })
    .await;
    tokio::spawn(ts.server.clone().run(listener));
    (ts, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_started_on_one_server_completes_on_another_and_due_tokens_refresh_once() {
    use std::sync::atomic::Ordering;
    let idp = crate::sec_login::fake_idp::start().await;
    // Tokens due at once after login; a refresh takes a while and rotates the
    // refresh token, so a second refresh with the same token would end the session.
    idp.login_expires_in.store(0, Ordering::SeqCst);
    idp.refresh_expires_in.store(3600, Ordering::SeqCst);
    idp.refresh_delay_ms.store(300, Ordering::SeqCst);
    let store: std::sync::Arc<dyn ccm_core::ports::Store> =
        std::sync::Arc::new(ccm_core::store::MemoryStore::new());
    let kv: std::sync::Arc<dyn ccm_core::ports::KeyValueStore> =
        std::sync::Arc::new(ccm_core::store::MemoryKeyValueStore::new());
    let (_a, base_a) = oidc_server(&idp, &store, &kv, "a").await;
    let (_b, base_b) = oidc_server(&idp, &store, &kv, "b").await;

    // Started on A; the provider sends the browser back to A's callback, which
    // reaches B instead (a load balancer); B completes the login.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = browser
        .get(format!("{base_a}/auth/login?return_to=/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let provider = started.headers()[LOCATION].to_str().unwrap().to_owned();
    let sent_back = browser.get(&provider).send().await.unwrap();
    let callback = sent_back.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&base_a), "{callback}");
    let done = browser
        .get(callback.replace(&base_a, &base_b))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303, "{}", done.text().await.unwrap());
    assert_eq!(idp.refreshes.load(Ordering::SeqCst), 0);

    // Cookies are per host, not per port: the browser's session goes to both.
    let asks = (0..20).map(|i| {
        let browser = browser.clone();
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let url = format!("{base}/api/v1/session");
        async move { browser.get(url).send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(asks).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        idp.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh for both servers"
    );
}
