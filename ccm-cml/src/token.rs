//! CML's bearer tokens: JWTs whose payload is read (never verified: the server does
//! that) for `iat` and `exp`, so a token is renewed before it expires.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ccm_core::secret::Secret;
use ccm_core::time::{from_unix_seconds, Timestamp};

/// A token and when to stop using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CachedToken {
    pub(crate) token: Secret,
    /// `exp`, when the token says.
    pub(crate) expires_at: Option<Timestamp>,
    /// When to fetch a new one (before `exp`); `None`: until a 401 says otherwise.
    pub(crate) refresh_at: Option<Timestamp>,
}

/// The `(iat, exp)` claims of a JWT, in unix seconds, when it has them.
pub(crate) fn claims_times(token: &str) -> (Option<i64>, Option<i64>) {
    let Some(payload) = token.split('.').nth(1) else {
        return (None, None);
    };
    // Some issuers pad; the URL-safe alphabet is the JWT one.
    let payload = payload.trim_end_matches('=');
    let Some(claims) = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
    else {
        return (None, None);
    };
    let seconds = |key: &str| {
        let v = claims.get(key)?;
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    };
    (seconds("iat"), seconds("exp"))
}

impl CachedToken {
    /// A token fetched at `now`: renewed `margin` seconds before `exp`, but never
    /// earlier than three quarters into its lifetime.
    pub(crate) fn new(token: String, now: Timestamp, margin_seconds: i64) -> Self {
        let (_, exp) = claims_times(&token);
        let expires_at = exp.map(from_unix_seconds);
        let refresh_at = expires_at.map(|exp| {
            let lifetime = (exp - now).num_seconds().max(0);
            let margin = margin_seconds.clamp(0, lifetime / 4);
            exp - chrono::Duration::seconds(margin)
        });
        Self {
            token: Secret::new(token),
            expires_at,
            refresh_at,
        }
    }

    /// Still worth sending at `now`.
    pub(crate) fn is_fresh(&self, now: Timestamp) -> bool {
        self.refresh_at.is_none_or(|at| now < at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::plus_seconds;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_iat_and_exp() {
        let token = jwt(r#"{"iss":"com.cisco.virl","iat":1000,"exp":87400.0,"sub":"u"}"#);
        assert_eq!(claims_times(&token), (Some(1000), Some(87400)));
        assert_eq!(claims_times("not a jwt"), (None, None));
        assert_eq!(claims_times("a.!!!.c"), (None, None));
    }

    #[test]
    fn renews_before_expiry() {
        let now = from_unix_seconds(1000);
        let day = CachedToken::new(jwt(r#"{"exp":87400}"#), now, 60);
        assert_eq!(day.expires_at, Some(from_unix_seconds(87400)));
        assert_eq!(day.refresh_at, Some(from_unix_seconds(87340)));
        assert!(day.is_fresh(plus_seconds(now, 86_000)));
        assert!(!day.is_fresh(from_unix_seconds(87340)));
        // A 4-second token is renewed after 3 seconds, not 56 seconds before it began.
        let short = CachedToken::new(jwt(r#"{"exp":1004}"#), now, 60);
        assert_eq!(short.refresh_at, Some(from_unix_seconds(1003)));
        let opaque = CachedToken::new("opaque".into(), now, 60);
        assert!(opaque.is_fresh(plus_seconds(now, 1_000_000)));
        assert!(!format!("{opaque:?}").contains("opaque"));
    }
}
