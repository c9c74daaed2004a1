//! Bearer JWTs from an OpenID Connect provider. Only RS256 and ES256 are
//! accepted; `iss`, `aud`, `exp` and `nbf` are checked. Roles come from a dotted
//! claim path (Keycloak's `realm_access.roles` by default).
//!
//! **Keys** come from the issuer's JWKS (its URL configured or discovered at
//! `<issuer>/.well-known/openid-configuration`) and are cached by `kid`. The JWKS
//! is fetched again when a token names an unknown `kid` and when the cached set is
//! older than `jwks_refresh_seconds`, so a key removed at the issuer stops being
//! trusted. Fetches are single-flight and at most one per
//! `jwks_refresh_min_seconds` whatever their outcome (a failed discovery counts),
//! so a storm of tokens with made-up `kid`s costs the issuer one request; no lock
//! is held across the network, so tokens with known keys verify meanwhile. When a
//! refresh fails, the cached keys stay trusted until `jwks_max_age_seconds` after
//! the last successful fetch.
//!
//! **Access tokens only.** An ID token is the login's proof for ccm's own client,
//! not a credential for the API. A bearer token is refused as an ID token when its
//! header `typ` is present and is not `JWT` or `at+jwt` (RFC 9068); when it carries
//! a claim only ID tokens carry (`nonce`, `at_hash`, `c_hash`, `s_hash`, or
//! Keycloak's `typ: ID`); or when the browser login's client id differs from the
//! API audience and the token's `aud` names that client id.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::{AuthMethod, Principal, Role};
use ccm_assembly::config::OidcConfig;

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a token we accept (401).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A valid token that grants no ccm role (403).
    #[error("the token grants no ccm role")]
    NoRole,
    /// The issuer's keys could not be fetched (503).
    #[error("cannot fetch the issuer's keys: {0}")]
    KeysUnavailable(String),
}

type KeyMap = HashMap<String, (Algorithm, DecodingKey)>;

#[derive(Default)]
struct KeyCache {
    keys: KeyMap,
    /// The last successful fetch.
    fetched_at: Option<Instant>,
    /// The last fetch started, whatever its outcome: the rate limit counts from here.
    attempted_at: Option<Instant>,
    /// Fetches finished so far; a request that waited for the fetch in flight sees
    /// it changed and does not fetch again.
    generation: u64,
    /// Why the last fetch failed, when it did.
    failure: Option<JwtError>,
    jwks_url: Option<String>,
}

/// Verifies tokens of one issuer.
pub struct JwtVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
    /// Held while a fetch is in flight (never `cache`).
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.config.issuer)
            .field("audience", &self.config.audience)
            .finish_non_exhaustive()
    }
}

fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let from_params = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(from_params),
        Some(KeyAlgorithm::RS256) if from_params == Algorithm::RS256 => Some(from_params),
        Some(KeyAlgorithm::ES256) if from_params == Algorithm::ES256 => Some(from_params),
        Some(_) => None,
    }
}

/// The strings at a dotted `path` of `claims` (an array of strings or one string).
pub fn claim_strings(claims: &Value, path: &str) -> Vec<String> {
    let mut node = claims;
    for part in path.split('.') {
        match node.get(part) {
            Some(next) => node = next,
            None => return Vec::new(),
        }
    }
    match node {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// What is read from a token's header before its signature is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHeader {
    /// RS256 or ES256.
    pub alg: Algorithm,
    /// The key id.
    pub kid: String,
    /// The declared type, when present.
    pub typ: Option<String>,
}

/// The header of `token`, refused unless it names an accepted algorithm and a key.
pub fn token_header(token: &str) -> Result<TokenHeader, JwtError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| JwtError::Invalid(format!("malformed token: {e}")))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(JwtError::Invalid(format!(
            "algorithm {:?} is not accepted (RS256 or ES256 only)",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| JwtError::Invalid("the token names no key (kid)".into()))?;
    Ok(TokenHeader {
        alg: header.alg,
        kid,
        typ: header.typ,
    })
}

const ID_TOKEN_CLAIMS: [&str; 4] = ["nonce", "at_hash", "c_hash", "s_hash"];

fn audiences(claims: &Value) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl JwtVerifier {
    /// A verifier for `config`; keys are fetched on first use.
    pub fn new(config: OidcConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let jwks_url = config.jwks_url.clone();
        Ok(Self {
            config,
            http,
            cache: Mutex::new(KeyCache {
                jwks_url,
                ..KeyCache::default()
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn with_cache<T>(&self, f: impl FnOnce(&mut KeyCache) -> T) -> T {
        match self.cache.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    async fn get_json(&self, url: &str) -> Result<Value, JwtError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| JwtError::KeysUnavailable(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(JwtError::KeysUnavailable(format!(
                "{url}: HTTP {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| JwtError::KeysUnavailable(format!("{url}: {e}")))
    }

    /// The JWKS URL (discovered when `known` is none) and its keys.
    async fn download(&self, known: Option<String>) -> Result<(String, KeyMap), JwtError> {
        let url = match known {
            Some(url) => url,
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let document = self.get_json(&discovery).await?;
                document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        JwtError::KeysUnavailable(format!("{discovery} names no jwks_uri"))
                    })?
                    .to_owned()
            }
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| JwtError::KeysUnavailable(format!("{url}: not a JWKS: {e}")))?;
        let mut keys = KeyMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(jwk)) else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, (alg, key));
                }
                Err(error) => tracing::warn!(%kid, %error, "unusable key in the JWKS"),
            }
        }
        Ok((url, keys))
    }

    /// Fetches the JWKS now, past the cache and its rate limit (`ccm doctor`): its
    /// URL and the ids of the keys tokens can be verified with, sorted.
    pub async fn fetch_key_ids(&self) -> Result<(String, Vec<String>), JwtError> {
        let known = self.with_cache(|c| c.jwks_url.clone());
        let (url, keys) = self.download(known).await?;
        let mut ids: Vec<String> = keys.into_keys().collect();
        ids.sort();
        Ok((url, ids))
    }

    /// Fetches the JWKS unless a fetch finished since `seen` (the generation the
    /// caller looked at) or one started less than `jwks_refresh_min_seconds` ago.
    async fn fetch_once(&self, seen: u64) {
        let _flight = self.fetching.lock().await;
        let min = Duration::from_secs(self.config.jwks_refresh_min_seconds);
        let url = self.with_cache(|c| {
            if c.generation != seen || c.attempted_at.is_some_and(|at| at.elapsed() < min) {
                return None;
            }
            c.attempted_at = Some(Instant::now());
            Some(c.jwks_url.clone())
        });
        let Some(url) = url else {
            return;
        };
        let outcome = self.download(url).await;
        self.with_cache(|c| {
            c.generation += 1;
            match outcome {
                Ok((url, keys)) => {
                    c.jwks_url = Some(url);
                    c.keys = keys;
                    c.fetched_at = Some(Instant::now());
                    c.failure = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "JWKS fetch failed; keeping the cached keys");
                    c.failure = Some(error);
                }
            }
        });
    }

    async fn key_for(&self, kid: &str) -> Result<(Algorithm, DecodingKey), JwtError> {
        let refresh = Duration::from_secs(self.config.jwks_refresh_seconds);
        let max_age = Duration::from_secs(self.config.jwks_max_age_seconds);
        let (found, generation) = self.with_cache(|c| {
            let fresh = c.fetched_at.is_some_and(|at| at.elapsed() < refresh);
            (c.keys.get(kid).filter(|_| fresh).cloned(), c.generation)
        });
        if let Some(found) = found {
            return Ok(found);
        }
        self.fetch_once(generation).await;
        self.with_cache(|c| {
            let trusted = c.fetched_at.is_some_and(|at| at.elapsed() < max_age);
            match (c.keys.get(kid), &c.failure) {
                (Some(found), _) if trusted => Ok(found.clone()),
                (_, Some(failure)) => Err(failure.clone()),
                (Some(_), None) => Err(JwtError::KeysUnavailable(
                    "the issuer's keys are too old".into(),
                )),
                (None, None) => Err(JwtError::Invalid(format!("unknown key id `{kid}`"))),
            }
        })
    }

    async fn verified(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<(TokenHeader, Value), JwtError> {
        let header = token_header(token)?;
        let (key_alg, key) = self.key_for(&header.kid).await?;
        if key_alg != header.alg {
            return Err(JwtError::Invalid(format!(
                "key `{}` is for {key_alg:?}, the token says {:?}",
                header.kid, header.alg
            )));
        }
        let mut validation = Validation::new(key_alg);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = self.config.leeway_seconds;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        Ok((header, data.claims))
    }

    /// The claims of a token verified for `audience` (signature, algorithm,
    /// `iss`, `aud`, `exp`, `nbf`).
    pub async fn verify_claims(&self, token: &str, audience: &str) -> Result<Value, JwtError> {
        self.verified(token, audience)
            .await
            .map(|(_, claims)| claims)
    }

    /// Refuses an ID token presented as an access token (rule in the module doc).
    fn refuse_id_token(&self, header: &TokenHeader, claims: &Value) -> Result<(), JwtError> {
        let id_token = || {
            Err(JwtError::Invalid(
                "an ID token is not an access token".into(),
            ))
        };
        if let Some(typ) = &header.typ {
            let typ = typ.to_ascii_lowercase();
            if !matches!(typ.as_str(), "jwt" | "at+jwt" | "application/at+jwt") {
                return Err(JwtError::Invalid(format!(
                    "a token of type `{typ}` is not an access token"
                )));
            }
        }
        if ID_TOKEN_CLAIMS.iter().any(|c| claims.get(*c).is_some())
            || claims.get("typ").and_then(Value::as_str) == Some("ID")
        {
            return id_token();
        }
        if let Some(client_id) = &self.config.client_id {
            if *client_id != self.config.audience && audiences(claims).contains(&client_id.as_str())
            {
                return id_token();
            }
        }
        Ok(())
    }

    /// The highest ccm role named at the configured claim path.
    pub fn role_of(&self, claims: &Value) -> Option<Role> {
        let r = &self.config.roles;
        claim_strings(claims, &self.config.role_claim)
            .iter()
            .filter_map(|n| {
                if *n == r.admin {
                    Some(Role::Admin)
                } else if *n == r.manager {
                    Some(Role::Manager)
                } else if *n == r.user {
                    Some(Role::User)
                } else {
                    None
                }
            })
            .max()
    }

    /// Who the claims name: `preferred_username`, `email` or `sub`.
    pub fn subject_of(claims: &Value) -> String {
        ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|c| claims.get(*c).and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_owned()
    }

    /// The principal a bearer token stands for.
    pub async fn verify(&self, token: &str) -> Result<Principal, JwtError> {
        let (header, claims) = self.verified(token, &self.config.audience).await?;
        self.refuse_id_token(&header, &claims)?;
        let role = self.role_of(&claims).ok_or(JwtError::NoRole)?;
        Ok(Principal {
            subject: Self::subject_of(&claims),
            role,
            method: AuthMethod::Jwt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_paths_reach_nested_arrays_and_single_strings() {
        let claims = serde_json::json!({
            "realm_access": {"roles": ["user", "manager", 3]},
            "groups": "admin"
        });
        assert_eq!(
            claim_strings(&claims, "realm_access.roles"),
            vec!["user", "manager"]
        );
        assert_eq!(claim_strings(&claims, "groups"), vec!["admin"]);
        assert!(claim_strings(&claims, "realm_access.missing").is_empty());
        assert!(claim_strings(&claims, "realm_access").is_empty());
    }
}
