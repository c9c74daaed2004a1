//! Tokens as CML issues them: HS256 JWTs with `iss` `com.cisco.virl`, `iat`, `exp`
//! and `sub` (the user id), plus a `jti` so a logout can revoke exactly one token.
//! They are signed with a key made at start-up and also remembered, so a token is
//! valid when its signature checks, it has not expired on the simulation's clock and
//! it was not logged out.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// Issuer claim of CML tokens.
pub(crate) const ISSUER: &str = "com.cisco.virl";

/// Why a bearer token is refused (each a 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token this server issued (shape, signature, claims).
    Invalid,
    /// Past its `exp`.
    Expired,
    /// Logged out.
    Revoked,
}

impl TokenError {
    /// CML's description.
    pub(crate) fn description(self) -> &'static str {
        match self {
            TokenError::Missing => "No authorization token provided.",
            TokenError::Invalid => "Invalid authorization token.",
            TokenError::Expired => "Authorization token has expired.",
            TokenError::Revoked => "Authorization token is no longer valid.",
        }
    }
}

/// What a valid token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claims {
    /// User id.
    pub(crate) sub: String,
    /// Token id.
    pub(crate) jti: String,
}

/// Issues and checks tokens.
#[derive(Debug)]
pub(crate) struct Tokens {
    key: [u8; 32],
    /// Live tokens: `jti` → user id.
    issued: BTreeMap<String, String>,
}

type HmacSha256 = Hmac<Sha256>;

impl Tokens {
    /// A token store with a fresh random signing key.
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            key,
            issued: BTreeMap::new(),
        }
    }

    fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(message);
        Some(mac.finalize().into_bytes().to_vec())
    }

    /// A token for `user_id`, issued at `now` (unix seconds), valid `lifetime` seconds.
    pub(crate) fn issue(&mut self, user_id: &str, now: i64, lifetime: i64) -> String {
        let jti = uuid::Uuid::new_v4().to_string();
        let header = json!({ "alg": "HS256", "typ": "JWT" });
        let claims = json!({
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(lifetime.max(1)),
            "sub": user_id,
            "jti": jti,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .sign(signing_input.as_bytes())
            .map(|s| URL_SAFE_NO_PAD.encode(s))
            .unwrap_or_default();
        self.issued.insert(jti, user_id.to_owned());
        format!("{signing_input}.{signature}")
    }

    /// Checks a token at `now` (unix seconds).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| TokenError::Invalid)?;
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&given).map_err(|_| TokenError::Invalid)?;
        let claims: serde_json::Value = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Invalid)?;
        let text = |key: &str| claims.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(sub), Some(jti), Some(exp)) = (
            text("sub"),
            text("jti"),
            claims.get("exp").and_then(|v| v.as_i64()),
        ) else {
            return Err(TokenError::Invalid);
        };
        if text("iss").as_deref() != Some(ISSUER) {
            return Err(TokenError::Invalid);
        }
        if now >= exp {
            return Err(TokenError::Expired);
        }
        if self.issued.get(&jti) != Some(&sub) {
            return Err(TokenError::Revoked);
        }
        Ok(Claims { sub, jti })
    }

    /// Logs one token out.
    pub(crate) fn revoke(&mut self, jti: &str) {
        self.issued.remove(jti);
    }

    /// Logs every session of `user_id` out.
    pub(crate) fn revoke_all(&mut self, user_id: &str) {
        self.issued.retain(|_, user| user != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_expire_and_revoke() {
        let mut tokens = Tokens::new();
        let token = tokens.issue("u1", 1_000, 60);
        assert_eq!(token.split('.').count(), 3);
        let claims = tokens.verify(&token, 1_030).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(tokens.verify(&token, 1_060), Err(TokenError::Expired));
        assert_eq!(tokens.verify("a.b.c", 1_000), Err(TokenError::Invalid));
        let mut forged = token.clone();
        forged.push('A');
        assert_eq!(tokens.verify(&forged, 1_000), Err(TokenError::Invalid));
        let other = Tokens::new().issue("u1", 1_000, 60);
        assert_eq!(tokens.verify(&other, 1_000), Err(TokenError::Invalid));
        tokens.revoke(&claims.jti);
        assert_eq!(tokens.verify(&token, 1_000), Err(TokenError::Revoked));
        let (a, b) = (tokens.issue("u1", 1_000, 60), tokens.issue("u2", 1_000, 60));
        tokens.revoke_all("u1");
        assert_eq!(tokens.verify(&a, 1_000), Err(TokenError::Revoked));
        assert!(tokens.verify(&b, 1_000).is_ok());
    }

    #[test]
    fn claims_are_cml_shaped() {
        let mut tokens = Tokens::new();
        let token = tokens.issue("u1", 1_000, 60);
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["iat"], 1_000);
        assert_eq!(claims["exp"], 1_060);
        assert_eq!(claims["sub"], "u1");
    }
}
