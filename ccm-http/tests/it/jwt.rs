//! Bearer JWTs: keys from a JWKS served by a tiny axum server (RSA and P-256 keys
//! generated here), accepted RS256/ES256 tokens and every rejection case — all 401,
//! none crash — plus roles from the claim path and JWKS refresh on unknown `kid`.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::http::Method;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ccm_assembly::config::OidcConfig;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

const ISSUER: &str = "http://127.0.0.1/realms/ccm";
const AUDIENCE: &str = "ccm";

struct Keys {
    rsa_pem: String,
    rsa_public_pem: String,
    rsa_jwk: Value,
    other_rsa_pem: String,
    ec_pem: String,
    ec_jwk: Value,
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_jwk(key: &RsaPrivateKey, kid: &str) -> Value {
    let public = key.to_public_key();
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
           "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())})
}

fn keys() -> Keys {
    let mut rng = rand::thread_rng();
    let rsa = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let other = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let ec = SigningKey::random(&mut rng);
    let point = ec.verifying_key().to_encoded_point(false);
    let ec_jwk = json!({"kty": "EC", "kid": "ec-1", "crv": "P-256", "alg": "ES256",
        "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
    use rsa::pkcs8::EncodePublicKey;
    Keys {
        rsa_pem: rsa.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        rsa_public_pem: rsa
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
        rsa_jwk: rsa_jwk(&rsa, "rsa-1"),
        other_rsa_pem: other.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
        ec_pem: ec.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        ec_jwk,
    }
}

/// Serves `/jwks` from a shared list so a test can rotate keys.
async fn jwks_server(keys: Arc<Mutex<Vec<Value>>>) -> String {
    let app = Router::new().route(
        "/jwks",
        get(move || {
            let keys = keys.clone();
            async move { Json(json!({ "keys": keys.lock().unwrap().clone() })) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(roles: &[&str]) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "preferred_username": "alice",
           "exp": now() + 600, "nbf": now() - 10, "iat": now(),
           "realm_access": {"roles": roles}})
}

fn rs256(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn es256(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    encode(
        &header,
        claims,
        &EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn tokens_are_verified_and_every_bad_one_is_refused() {
    let k = keys();
    let served = Arc::new(Mutex::new(vec![k.rsa_jwk.clone(), k.ec_jwk.clone()]));
    let jwks_url = jwks_server(served.clone()).await;
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: Some(jwks_url),
            jwks_refresh_min_seconds: 0,
            leeway_seconds: 5,
            ..OidcConfig::default()
        }),
        ..common::Options::default()
    })
    .await;

    // Accepted: RS256 and ES256, role from realm_access.roles.
    let token = rs256(&k.rsa_pem, "rsa-1", &claims(&["offline_access", "admin"]));
    let (status, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["subject"], "alice");
    let token = es256(&k.ec_pem, "ec-1", &claims(&["manager", "user"]));
    let (status, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "manager");

    // A user token on an admin route: 403; a token with no ccm role: 403.
    let user = rs256(&k.rsa_pem, "rsa-1", &claims(&["user"]));
    let (status, _) = ts
        .call(Method::GET, "/api/v1/api-keys", Some(&user), None)
        .await;
    assert_eq!(status, 403);
    let none = rs256(&k.rsa_pem, "rsa-1", &claims(&["offline_access"]));
    let (status, _) = ts
        .call(Method::GET, "/api/v1/workers", Some(&none), None)
        .await;
    assert_eq!(status, 403);

    let hs256_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        encode(
            &header,
            &claims(&["admin"]),
            &EncodingKey::from_secret(k.rsa_public_pem.as_bytes()),
        )
        .unwrap()
    };
    let mut expired = claims(&["admin"]);
    expired["exp"] = json!(now() - 3600);
    expired["nbf"] = json!(now() - 7200);
    let mut future = claims(&["admin"]);
    future["nbf"] = json!(now() + 3600);
    let mut wrong_issuer = claims(&["admin"]);
    wrong_issuer["iss"] = json!("https://evil.example/realms/ccm");
    let mut wrong_audience = claims(&["admin"]);
    wrong_audience["aud"] = json!("someone-else");
    let mut no_exp = claims(&["admin"]);
    no_exp.as_object_mut().unwrap().remove("exp");
    let good = rs256(&k.rsa_pem, "rsa-1", &claims(&["admin"]));
    let mut tampered_parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    tampered_parts[1] = b64(claims(&["admin", "extra"]).to_string().as_bytes());
    let tampered = tampered_parts.join(".");

    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned("rsa-1", &claims(&["admin"]))),
        ("HS256 signed with the public key", hs256_with_public_key),
        ("expired", rs256(&k.rsa_pem, "rsa-1", &expired)),
        ("not yet valid", rs256(&k.rsa_pem, "rsa-1", &future)),
        ("wrong issuer", rs256(&k.rsa_pem, "rsa-1", &wrong_issuer)),
        (
            "wrong audience",
            rs256(&k.rsa_pem, "rsa-1", &wrong_audience),
        ),
        ("no exp", rs256(&k.rsa_pem, "rsa-1", &no_exp)),
        (
            "unknown kid",
            rs256(&k.rsa_pem, "nobody", &claims(&["admin"])),
        ),
        (
            "bad signature (other key)",
            rs256(&k.other_rsa_pem, "rsa-1", &claims(&["admin"])),
        ),
        ("tampered payload", tampered),
        (
            "RS256 header on the EC key",
            rs256(&k.rsa_pem, "ec-1", &claims(&["admin"])),
        ),
        ("malformed: two parts", "abc.def".into()),
        ("malformed: garbage", "not a token at all".into()),
        ("malformed: bad base64", "a.b.c".into()),
        ("malformed: empty", String::new()),
    ];
    for (name, token) in cases {
        let (status, body) = ts
            .call(Method::GET, "/api/v1/workers", Some(&token), None)
            .await;
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["error"]["code"], "unauthenticated", "{name}");
    }

    // A key added at the issuer is found by refreshing the JWKS on its unknown kid.
    let new_key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    served.lock().unwrap().push(rsa_jwk(&new_key, "rsa-2"));
    let pem = new_key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let token = rs256(&pem, "rsa-2", &claims(&["user"]));
    let (status, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "user");
}

#[tokio::test]
async fn an_unreachable_issuer_is_503_not_a_crash() {
    let ts = common::server(common::Options {
        oidc: Some(OidcConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: Some("http://127.0.0.1:9/jwks".into()),
            ..OidcConfig::default()
        }),
        ..common::Options::default()
    })
    .await;
    let ec = SigningKey::random(&mut rand::thread_rng());
    let pem = ec.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let token = es256(&pem, "ec-1", &claims(&["admin"]));
    let (status, body) = ts
        .call(Method::GET, "/api/v1/workers", Some(&token), None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        !body.to_string().contains("127.0.0.1:9"),
        "no internals: {body}"
    );
}
