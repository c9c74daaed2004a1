//! `ccm doctor`'s OIDC check: the issuer's discovery document must call the
//! issuer what the configuration calls it (tokens carry that `iss`), and its JWKS
//! must hold a key ccm can verify tokens with, fetched by the server's own
//! verifier.

use std::time::Duration;

use serde_json::Value;

use super::doctor::{setting, within, Check};
use crate::auth::jwt::JwtVerifier;
use ccm_assembly::config::{Config, OidcConfig};

/// The check's name.
pub(super) const NAME: &str = "oidc";

/// The OIDC check (skipped without `[auth.oidc]`).
pub(super) async fn check(config: &Config, limit: Duration) -> Check {
    let Some(oidc) = &config.auth.oidc else {
        return Check::skipped(
            NAME,
            "auth.oidc is not configured (API keys and the admin login link only)",
        );
    };
    match within(limit, examine(oidc, limit)).await {
        Ok(check) => check,
        Err(timed_out) => Check::fail(
            NAME,
            format!("the issuer {}: {timed_out}", oidc.issuer),
            unreachable_fix(),
        ),
    }
}

fn unreachable_fix() -> String {
    format!(
        "check {} and this host's access to it (DNS, firewall, HTTPS_PROXY); the provider \
         must be up",
        setting("auth.oidc.issuer")
    )
}

async fn examine(oidc: &OidcConfig, limit: Duration) -> Check {
    let url = format!(
        "{}/.well-known/openid-configuration",
        oidc.issuer.trim_end_matches('/')
    );
    let document = match fetch_json(&url, limit).await {
        Ok(document) => document,
        Err(check) => return check,
    };
    if let Some(mismatch) = issuer_mismatch(&oidc.issuer, &document) {
        return mismatch;
    }
    let Some(jwks_url) = oidc.jwks_url.clone().or_else(|| {
        document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }) else {
        return Check::fail(
            NAME,
            format!("{url} names no jwks_uri"),
            format!("set {}", setting("auth.oidc.jwks_url")),
        );
    };
    let verifier = match JwtVerifier::new(OidcConfig {
        jwks_url: Some(jwks_url),
        ..oidc.clone()
    }) {
        Ok(verifier) => verifier,
        Err(error) => {
            return Check::fail(NAME, format!("no HTTP client: {error}"), "see the message")
        }
    };
    match verifier.fetch_key_ids().await {
        Err(error) => Check::fail(
            NAME,
            error.to_string(),
            format!(
                "check {} (or the jwks_uri the provider names) and this host's access to it",
                setting("auth.oidc.jwks_url")
            ),
        ),
        Ok((jwks, ids)) if ids.is_empty() => Check::fail(
            NAME,
            format!("{jwks} holds no RS256 or ES256 key with an id: every token would be refused"),
            "publish an RS256 or ES256 signing key at the provider (Keycloak: the realm's keys)",
        ),
        Ok((jwks, ids)) => match missing_login_endpoints(oidc, &document) {
            Some(missing) => Check::warn(
                NAME,
                format!("tokens can be verified, but the discovery document has no {missing}"),
                "the browser login needs both endpoints: check the provider, or remove \
                 auth.oidc.client_id to use bearer tokens only",
            ),
            None => Check::ok(
                NAME,
                format!(
                    "issuer {} answered; {} key(s) at {jwks} ({})",
                    oidc.issuer,
                    ids.len(),
                    ids.join(", ")
                ),
            ),
        },
    }
}

async fn fetch_json(url: &str, limit: Duration) -> Result<Value, Check> {
    let client = reqwest::Client::builder()
        .timeout(limit)
        .build()
        .map_err(|error| {
            Check::fail(NAME, format!("no HTTP client: {error}"), "see the message")
        })?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| Check::fail(NAME, format!("{url}: {error}"), unreachable_fix()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Check::fail(
            NAME,
            format!("{url} answered HTTP {status}"),
            format!(
                "{} must be the issuer URL itself (Keycloak: https://host/realms/<realm>); \
                 ccm reads <issuer>/.well-known/openid-configuration",
                setting("auth.oidc.issuer")
            ),
        ));
    }
    response.json().await.map_err(|error| {
        Check::fail(
            NAME,
            format!("{url} is not a discovery document: {error}"),
            format!("check {}", setting("auth.oidc.issuer")),
        )
    })
}

/// A failure when the provider calls itself something other than `configured`:
/// `iss` is compared exactly, so its tokens would all be refused.
fn issuer_mismatch(configured: &str, document: &Value) -> Option<Check> {
    let named = document.get("issuer").and_then(Value::as_str);
    if named == Some(configured) {
        return None;
    }
    let named = named.unwrap_or("nothing");
    Some(Check::fail(
        NAME,
        format!(
            "the provider calls itself `{named}`, the configuration `{configured}`: every token \
             would be refused (iss)"
        ),
        format!("set {} to `{named}` exactly", setting("auth.oidc.issuer")),
    ))
}

/// The browser login's endpoints the document lacks, when a client id is set.
fn missing_login_endpoints(oidc: &OidcConfig, document: &Value) -> Option<String> {
    oidc.client_id.as_ref()?;
    let missing: Vec<&str> = ["authorization_endpoint", "token_endpoint"]
        .into_iter()
        .filter(|key| document.get(*key).and_then(Value::as_str).is_none())
        .collect();
    (!missing.is_empty()).then(|| missing.join(" and "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::doctor::Status;
    use super::*;

    #[test]
    fn the_issuer_must_match_exactly() {
        let issuer = "https://sso.example/realms/labs";
        assert!(issuer_mismatch(issuer, &json!({"issuer": issuer})).is_none());
        let slash = issuer_mismatch(issuer, &json!({"issuer": format!("{issuer}/")})).unwrap();
        assert_eq!(slash.status, Status::Fail);
        assert!(slash
            .fix
            .unwrap()
            .contains("`https://sso.example/realms/labs/` exactly"));
        assert!(issuer_mismatch(issuer, &json!({}))
            .unwrap()
            .detail
            .contains("`nothing`"));
    }

    #[test]
    fn the_browser_login_needs_its_endpoints() {
        let mut oidc = OidcConfig::default();
        let document = json!({"token_endpoint": "https://sso/token"});
        assert_eq!(missing_login_endpoints(&oidc, &document), None);
        oidc.client_id = Some("ccm".into());
        assert_eq!(
            missing_login_endpoints(&oidc, &document).as_deref(),
            Some("authorization_endpoint")
        );
    }
}
