//! Bearer JWTs from an OpenID Connect provider. Keys come from the issuer's JWKS
//! (its URL configured or discovered at `<issuer>/.well-known/openid-configuration`),
//! are cached by `kid`, and are fetched again when a token names an unknown `kid`
//! (at most once per `jwks_refresh_min_seconds`). Only RS256 and ES256 are
//! accepted; `iss`, `aud`, `exp` and `nbf` are checked. Roles come from a dotted
//! claim path (Keycloak's `realm_access.roles` by default).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{AuthMethod, Principal, Role};
use crate::config::OidcConfig;

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

struct KeyCache {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    fetched_at: Option<Instant>,
    jwks_url: Option<String>,
}

/// Verifies tokens of one issuer.
pub struct JwtVerifier {
    config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
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
                keys: HashMap::new(),
                fetched_at: None,
                jwks_url,
            }),
        })
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

    async fn refresh(&self, cache: &mut KeyCache) -> Result<(), JwtError> {
        let url = match &cache.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                let document = self.get_json(&discovery).await?;
                let url = document
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        JwtError::KeysUnavailable(format!("{discovery} names no jwks_uri"))
                    })?
                    .to_owned();
                cache.jwks_url = Some(url.clone());
                url
            }
        };
        cache.fetched_at = Some(Instant::now());
        let set: JwkSet = serde_json::from_value(self.get_json(&url).await?)
            .map_err(|e| JwtError::KeysUnavailable(format!("{url}: not a JWKS: {e}")))?;
        cache.keys.clear();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(jwk)) else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    cache.keys.insert(kid, (alg, key));
                }
                Err(error) => tracing::warn!(%kid, %error, "unusable key in the JWKS"),
            }
        }
        Ok(())
    }

    async fn key_for(&self, kid: &str) -> Result<(Algorithm, DecodingKey), JwtError> {
        let mut cache = self.cache.lock().await;
        if let Some(found) = cache.keys.get(kid) {
            return Ok(found.clone());
        }
        let min = Duration::from_secs(self.config.jwks_refresh_min_seconds);
        let may_refresh = cache.fetched_at.is_none_or(|at| at.elapsed() >= min);
        if may_refresh {
            self.refresh(&mut cache).await?;
        }
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| JwtError::Invalid(format!("unknown key id `{kid}`")))
    }

    /// The claims of a token verified for `audience` (signature, algorithm,
    /// `iss`, `aud`, `exp`, `nbf`).
    pub async fn verify_claims(&self, token: &str, audience: &str) -> Result<Value, JwtError> {
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
        let (key_alg, key) = self.key_for(&kid).await?;
        if key_alg != header.alg {
            return Err(JwtError::Invalid(format!(
                "key `{kid}` is for {key_alg:?}, the token says {:?}",
                header.alg
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
        Ok(data.claims)
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
        let claims = self.verify_claims(token, &self.config.audience).await?;
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
