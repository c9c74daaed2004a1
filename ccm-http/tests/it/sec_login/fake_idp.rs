//! A small OpenID Connect provider for the login security tests, where the real
//! `oidc-provider` cannot be steered: discovery, JWKS, authorize (no form: the
//! account is the `login_hint`) and a token endpoint with rotating refresh tokens
//! (each works once), all counted, each switchable to fail or hang. Tokens are
//! ES256 (key generation is instant in debug builds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{json, Value};

use crate::jwt::b64;

/// The browser login's client id.
pub const CLIENT_ID: &str = "ccm";
/// The API audience (access tokens).
pub const API_AUDIENCE: &str = "ccm-api";

/// An ES256 signing key and its public JWK.
pub struct EcKey {
    pub pem: String,
    pub jwk: Value,
}

impl EcKey {
    pub fn new(kid: &str) -> Self {
        let key = SigningKey::random(&mut rand::thread_rng());
        let point = key.verifying_key().to_encoded_point(false);
        Self {
            pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            jwk: json!({"kty": "EC", "kid": kid, "crv": "P-256", "alg": "ES256", "use": "sig",
                        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())}),
        }
    }

    /// `claims` signed with this key, the header naming `kid` (and `typ`).
    pub fn sign(&self, kid: &str, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        header.typ = typ.map(str::to_owned);
        encode(
            &header,
            claims,
            &EncodingKey::from_ec_pem(self.pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

/// The provider's state; tests flip its switches and read its counters.
pub struct Idp {
    pub issuer: String,
    pub key: EcKey,
    /// Roles per account.
    pub roles: Mutex<HashMap<String, Vec<String>>>,
    /// `expires_in` of the tokens issued at login and at refresh.
    pub login_expires_in: AtomicU64,
    pub refresh_expires_in: AtomicU64,
    /// How long a refresh takes.
    pub refresh_delay_ms: AtomicU64,
    /// Issue ID tokens with another nonce than the one asked for.
    pub wrong_nonce: AtomicBool,
    pub refreshes: AtomicUsize,
    pub discovery_hits: AtomicUsize,
    pub jwks_hits: AtomicUsize,
    pub discovery_down: AtomicBool,
    pub jwks_down: AtomicBool,
    pub jwks_hang_ms: AtomicU64,
    /// The keys the JWKS lists.
    pub jwks: Mutex<Vec<Value>>,
    codes: Mutex<HashMap<String, (String, String)>>,
    refresh_tokens: Mutex<HashMap<String, String>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Idp {
    /// Claims of an ID token for `user` (with `nonce` when given).
    pub fn id_claims(&self, user: &str, nonce: Option<&str>) -> Value {
        let roles = self.roles_of(user);
        let mut claims = json!({"iss": self.issuer, "aud": CLIENT_ID, "sub": user,
            "preferred_username": user, "exp": now() + 600, "iat": now(),
            "realm_access": {"roles": roles}});
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    }

    /// Claims of an access token for the API.
    pub fn access_claims(&self, user: &str) -> Value {
        json!({"iss": self.issuer, "aud": API_AUDIENCE, "sub": user, "azp": CLIENT_ID,
               "preferred_username": user, "exp": now() + 600, "iat": now(),
               "realm_access": {"roles": self.roles_of(user)}})
    }

    fn roles_of(&self, user: &str) -> Vec<String> {
        self.roles
            .lock()
            .unwrap()
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_roles(&self, user: &str, roles: &[&str]) {
        self.roles.lock().unwrap().insert(
            user.to_owned(),
            roles.iter().map(|r| (*r).to_owned()).collect(),
        );
    }

    fn tokens(&self, user: &str, nonce: Option<&str>, expires_in: u64) -> Value {
        let refresh = random();
        self.refresh_tokens
            .lock()
            .unwrap()
            .insert(refresh.clone(), user.to_owned());
        json!({
            "token_type": "Bearer",
            "access_token": self.key.sign("idp-1", Some("at+jwt"), &self.access_claims(user)),
            "id_token": self.key.sign("idp-1", Some("JWT"), &self.id_claims(user, nonce)),
            "refresh_token": refresh,
            "expires_in": expires_in,
        })
    }
}

type Shared = Arc<Idp>;

async fn discovery(State(idp): State<Shared>) -> Response {
    idp.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if idp.discovery_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let i = &idp.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/logout"),
    }))
    .into_response()
}

async fn jwks(State(idp): State<Shared>) -> Response {
    idp.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let hang = idp.jwks_hang_ms.load(Ordering::SeqCst);
    if hang > 0 {
        tokio::time::sleep(Duration::from_millis(hang)).await;
    }
    if idp.jwks_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = idp.jwks.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

async fn authorize(
    State(idp): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = random();
    let user = q
        .get("login_hint")
        .cloned()
        .unwrap_or_else(|| "alice".into());
    let nonce = q.get("nonce").cloned().unwrap_or_default();
    idp.codes
        .lock()
        .unwrap()
        .insert(code.clone(), (nonce, user));
    let location = format!(
        "{}?code={code}&state={}",
        q["redirect_uri"],
        q.get("state").cloned().unwrap_or_default()
    );
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(State(idp): State<Shared>, body: String) -> Response {
    // Every value read here is unreserved in URLs (hex, words), so no decoding.
    let form: HashMap<&str, &str> = body.split('&').filter_map(|p| p.split_once('=')).collect();
    match form.get("grant_type").copied() {
        Some("authorization_code") => {
            let Some((nonce, user)) = form
                .get("code")
                .and_then(|c| idp.codes.lock().unwrap().remove(*c))
            else {
                return invalid_grant();
            };
            let nonce = if idp.wrong_nonce.load(Ordering::SeqCst) {
                "not-the-nonce".to_owned()
            } else {
                nonce
            };
            let expires_in = idp.login_expires_in.load(Ordering::SeqCst);
            Json(idp.tokens(&user, Some(&nonce), expires_in)).into_response()
        }
        Some("refresh_token") => {
            idp.refreshes.fetch_add(1, Ordering::SeqCst);
            let delay = idp.refresh_delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let presented = form.get("refresh_token").copied().unwrap_or_default();
            // Rotation: a refresh token works once.
            let user = idp.refresh_tokens.lock().unwrap().remove(presented);
            let Some(user) = user else {
                return invalid_grant();
            };
            let expires_in = idp.refresh_expires_in.load(Ordering::SeqCst);
            Json(idp.tokens(&user, None, expires_in)).into_response()
        }
        _ => invalid_grant(),
    }
}

/// Starts a provider on a free port; alice is an admin.
pub async fn start() -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let key = EcKey::new("idp-1");
    let idp = Arc::new(Idp {
        issuer,
        jwks: Mutex::new(vec![key.jwk.clone()]),
        key,
        roles: Mutex::new(HashMap::from([("alice".into(), vec!["admin".into()])])),
        login_expires_in: AtomicU64::new(3600),
        refresh_expires_in: AtomicU64::new(3600),
        refresh_delay_ms: AtomicU64::new(0),
        wrong_nonce: AtomicBool::new(false),
        refreshes: AtomicUsize::new(0),
        discovery_hits: AtomicUsize::new(0),
        jwks_hits: AtomicUsize::new(0),
        discovery_down: AtomicBool::new(false),
        jwks_down: AtomicBool::new(false),
        jwks_hang_ms: AtomicU64::new(0),
        codes: Mutex::default(),
        refresh_tokens: Mutex::default(),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}
