//! Every route of the route table × every role: allowed or 403, and 401 without
//! credentials. Allowed calls may still fail on their input (404, 409, 422…) but
//! never with 401/403, and never with a 500.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_http::api::routes::ROUTES;
use ccm_http::auth::{Access, Role};

fn concrete(path: &str) -> String {
    path.replace("{id}", "00000000-0000-4000-8000-000000000001")
        .replace("{lab}", "lab-1")
        .replace("{key}", "team")
        .replace("{name}", "metrics-sweep")
}

fn request(method: &axum::http::Method, path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(concrete(path));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if *method == Method::POST || *method == Method::PUT {
        builder = builder.header("content-type", "application/json");
        return builder.body(Body::from("{}")).unwrap();
    }
    builder.body(Body::empty()).unwrap()
}

/// The table, printed in the test output for review.
fn describe(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::AtLeast(Role::User) => "user",
        Access::AtLeast(Role::Manager) => "manager",
        Access::AtLeast(Role::Admin) => "admin",
    }
}

#[tokio::test]
async fn every_route_for_every_role_is_allowed_or_403_and_401_without_credentials() {
    let ts = common::server(common::Options::default()).await;
    let mut keys = Vec::new();
    for role in Role::ALL {
        keys.push((role, ts.key(role).await));
    }
    let mut checked = 0;
    for spec in ROUTES {
        println!(
            "{:<7} {:<48} {}",
            spec.method,
            spec.path,
            describe(spec.access)
        );
        // No credentials.
        let status = ts
            .send(request(&spec.method, spec.path, None))
            .await
            .status();
        match spec.access {
            Access::Public => assert!(
                status != 401 && status != 403,
                "{spec:?} is public but answered {status}"
            ),
            Access::AtLeast(_) => assert_eq!(status, 401, "{spec:?} without credentials"),
        }
        assert_ne!(status, 500, "{spec:?} without credentials");
        // Each role.
        for (role, key) in &keys {
            let status = ts
                .send(request(&spec.method, spec.path, Some(key)))
                .await
                .status();
            let allowed = match spec.access {
                Access::Public => true,
                Access::AtLeast(needed) => *role >= needed,
            };
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{spec:?} as {role:?} should be allowed, got {status}"
                );
            } else {
                assert_eq!(status, 403, "{spec:?} as {role:?} should be refused");
            }
            assert!(
                status.as_u16() < 500,
                "{spec:?} as {role:?} answered {status}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, ROUTES.len() * Role::ALL.len());
}

#[tokio::test]
async fn the_role_ladder_matches_the_issue() {
    use ccm_http::api::routes::access;
    let need = |m: Method, p: &str| access(&m, p).unwrap();
    // user reads.
    assert_eq!(
        need(Method::GET, "/api/v1/workers"),
        Access::AtLeast(Role::User)
    );
    assert_eq!(
        need(Method::GET, "/api/v1/events/stream"),
        Access::AtLeast(Role::User)
    );
    // manager operates.
    for (m, p) in [
        (Method::POST, "/api/v1/workers/{id}/start"),
        (Method::POST, "/api/v1/workers/{id}/stop"),
        (Method::PUT, "/api/v1/workers/{id}/tags"),
        (Method::POST, "/api/v1/workers/{id}/labs/{lab}/start"),
    ] {
        assert_eq!(need(m, p), Access::AtLeast(Role::Manager), "{p}");
    }
    // Lablets are open to users at the route; the handlers narrow users to their
    // own lablets and book only with self-service on (sec_owner).
    for (m, p) in [
        (Method::GET, "/api/v1/lablets"),
        (Method::POST, "/api/v1/lablets"),
        (Method::GET, "/api/v1/lablets/{id}"),
        (Method::POST, "/api/v1/lablets/{id}/cancel"),
        (Method::DELETE, "/api/v1/lablets/{id}"),
        (Method::GET, "/api/v1/workers/{id}/labs/{lab}/topology"),
    ] {
        assert_eq!(need(m, p), Access::AtLeast(Role::User), "{p}");
    }
    // admin creates, imports, deletes, licenses, changes settings, keys and jobs.
    for (m, p) in [
        (Method::POST, "/api/v1/workers"),
        (Method::POST, "/api/v1/workers/import"),
        (Method::DELETE, "/api/v1/workers/{id}"),
        (Method::POST, "/api/v1/workers/{id}/licence"),
        (Method::PUT, "/api/v1/workers/{id}/idle-detection"),
        (Method::PUT, "/api/v1/workers/{id}/monitoring-interval"),
        (Method::GET, "/api/v1/settings"),
        (Method::POST, "/api/v1/api-keys"),
        (Method::POST, "/api/v1/jobs/{name}/trigger"),
        (Method::GET, "/api/v1/system/leadership"),
    ] {
        assert_eq!(need(m, p), Access::AtLeast(Role::Admin), "{p}");
    }
    // HEAD follows GET; unknown routes have no rule (refused).
    assert_eq!(
        need(Method::HEAD, "/api/v1/workers"),
        Access::AtLeast(Role::User)
    );
    assert_eq!(access(&Method::GET, "/api/v2/nothing"), None);
    // Only the probes (status only), login, logout and the dashboard's page and
    // static assets (which hold no data) are public.
    let public: Vec<&str> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        public,
        vec![
            "/livez",
            "/healthz",
            "/readyz",
            "/login/once",
            "/auth/login",
            "/auth/callback",
            "/logout",
            "/",
            "/assets/{*path}"
        ]
    );
}

#[tokio::test]
async fn revoked_and_unknown_keys_are_401() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let (status, created) = ts
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&admin),
            Some(serde_json::json!({"name": "ci", "role": "manager"})),
        )
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("ccm_"));
    let (status, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&key), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["role"], "manager");
    // Listing never shows the key or its hash.
    let (_, list) = ts
        .call(Method::GET, "/api/v1/api-keys", Some(&admin), None)
        .await;
    let text = list.to_string();
    assert!(!text.contains(&key) && !text.contains("key_hash"));
    let id = created["id"].as_str().unwrap();
    let (status, _) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = ts
        .call(Method::GET, "/api/v1/session", Some(&key), None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = ts
        .call(Method::GET, "/api/v1/session", Some("ccm_0000"), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = ts
        .call(
            Method::GET,
            "/api/v1/session",
            Some("not-a-key-no-oidc"),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_login_link_gives_a_session_whose_writes_need_the_csrf_token() {
    let ts = common::server(common::Options::default()).await;
    let token = ts
        .server
        .admin_login_token(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let response = ts
        .send(
            Request::builder()
                .uri(format!("/login/once?token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 303);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("ccm_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
    let cookie = session.split(';').next().unwrap().to_owned();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("ccm_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("ccm_csrf=")
        .to_owned();
    // The link works once.
    let again = ts
        .send(
            Request::builder()
                .uri(format!("/login/once?token={token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(again.status(), 401);
    // Reads work with the cookie alone.
    let read = ts
        .send(
            Request::builder()
                .uri("/api/v1/workers")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(read.status(), 200);
    let create = |csrf: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/workers")
            .header("cookie", &cookie)
            .header("content-type", "application/json");
        if let Some(csrf) = csrf {
            b = b.header("x-csrf-token", csrf);
        }
        b.body(Body::from(r#"{"name":"w1"}"#)).unwrap()
    };
    let refused = ts.send(create(None)).await;
    assert_eq!(refused.status(), 403);
    let wrong = ts.send(create(Some("nope"))).await;
    assert_eq!(wrong.status(), 403);
    let ok = ts.send(create(Some(&csrf))).await;
    assert_eq!(ok.status(), 201);
    // Logout ends the session.
    let out = ts
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/logout")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(out.status(), 204);
    let after = ts
        .send(
            Request::builder()
                .uri("/api/v1/workers")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(after.status(), 401);
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_role() {
    let ts = common::server(common::Options::default()).await;
    let user = ts.key(Role::User).await;
    let (status, doc) = ts
        .call(Method::GET, "/api/v1/openapi.json", Some(&user), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for spec in ROUTES {
        let path = ccm_http::openapi::document_path(spec.path);
        let op = &doc["paths"][path.as_str()][spec.method.as_str().to_lowercase()];
        assert!(op.is_object(), "{spec:?} missing from the document");
        assert_eq!(op["summary"], spec.summary);
        assert_eq!(
            op["x-min-role"],
            describe(spec.access).replace("public", "none")
        );
        if spec.path.contains("{id}") {
            assert_eq!(op["parameters"][0]["name"], "id", "{spec:?}");
        }
        operations += 1;
    }
    assert_eq!(operations, ROUTES.len());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    let response = ts
        .send(
            Request::builder()
                .uri("/api/v1/docs")
                .header("authorization", format!("Bearer {user}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
}
