//! The browser login with an OpenID Connect provider, handled by the server
//! (backend for frontend): authorization code flow with PKCE (S256), `state` and
//! `nonce`; the tokens stay on the server, the browser only gets the httpOnly
//! session cookie. The ID token is verified (signature, `iss`, `aud` = client id,
//! `exp`, `nonce`); roles come from its claim path, or from the access token when
//! that is a JWT for the configured audience (Keycloak puts roles there). The
//! session's tokens are refreshed with the refresh token once the access token
//! has expired; a refused refresh ends the session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ccm_core::secret::Secret;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::jwt::{JwtError, JwtVerifier};
use super::Role;
use crate::config::OidcConfig;

/// Logins not completed within this time are forgotten.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Refresh this long before the access token expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Tokens of a browser session, kept on the server.
#[derive(Clone, Debug)]
pub struct SessionTokens {
    /// Refresh token, when the provider issued one.
    pub refresh_token: Option<Secret>,
    /// When the access token expires.
    pub access_expires_at: Instant,
    /// The ID token (the logout hint).
    pub id_token: Secret,
}

impl SessionTokens {
    /// True when the tokens should be refreshed now.
    pub fn due(&self) -> bool {
        Instant::now() + REFRESH_MARGIN >= self.access_expires_at
    }
}

/// A completed login or refresh.
#[derive(Clone, Debug)]
pub struct Login {
    /// Who.
    pub subject: String,
    /// Their role.
    pub role: Role,
    /// Their tokens.
    pub tokens: SessionTokens,
    /// Where to send the browser.
    pub return_to: String,
}

/// Why a login step failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The browser's request or the provider's answer was refused (401).
    #[error("login refused: {0}")]
    Refused(String),
    /// The provider could not be reached (503).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
}

struct Pending {
    verifier: String,
    nonce: String,
    return_to: String,
    created: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    id_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

/// The browser login of one provider and client.
pub struct OidcLogin {
    config: OidcConfig,
    client_id: String,
    redirect_url: String,
    post_logout_url: String,
    http: reqwest::Client,
    verifier: std::sync::Arc<JwtVerifier>,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn random() -> String {
    super::session::random_token()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn encode(value: &str) -> String {
    crate::cli::client::encode(value)
}

/// Only local paths are followed after login (no open redirect).
fn safe_return(path: Option<&str>) -> String {
    match path {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

impl OidcLogin {
    /// The login for `config` (which has a client id) at `public_url`.
    pub fn new(
        config: OidcConfig,
        public_url: &str,
        verifier: std::sync::Arc<JwtVerifier>,
    ) -> Result<Option<Self>, reqwest::Error> {
        let Some(client_id) = config.client_id.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let base = public_url.trim_end_matches('/');
        Ok(Some(Self {
            redirect_url: config
                .redirect_url
                .clone()
                .unwrap_or_else(|| format!("{base}/auth/callback")),
            post_logout_url: config
                .post_logout_redirect_url
                .clone()
                .unwrap_or_else(|| format!("{base}/")),
            client_id,
            config,
            http,
            verifier,
            discovery: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        }))
    }

    fn with_pending<T>(&self, f: impl FnOnce(&mut HashMap<String, Pending>) -> T) -> T {
        match self.pending.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    async fn discovery(&self) -> Result<Discovery, LoginError> {
        let mut cached = self.discovery.lock().await;
        if let Some(d) = cached.as_ref() {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let found: Discovery = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| LoginError::Unavailable(format!("{url}: {e}")))?
            .json()
            .await
            .map_err(|e| LoginError::Unavailable(format!("{url}: {e}")))?;
        *cached = Some(found.clone());
        Ok(found)
    }

    /// The provider URL that starts a login; `return_to` is a local path.
    pub async fn start(
        &self,
        return_to: Option<&str>,
        login_hint: Option<&str>,
    ) -> Result<String, LoginError> {
        let discovery = self.discovery().await?;
        let state = random();
        let verifier = random() + &random();
        let nonce = random();
        let mut url = format!(
            "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={}&code_challenge_method=S256",
            discovery.authorization_endpoint,
            encode(&self.client_id),
            encode(&self.redirect_url),
            encode(&self.config.scopes),
            challenge(&verifier),
        );
        if let Some(hint) = login_hint {
            url.push_str(&format!("&login_hint={}", encode(hint)));
        }
        let pending = Pending {
            verifier,
            nonce,
            return_to: safe_return(return_to),
            created: Instant::now(),
        };
        self.with_pending(|map| {
            map.retain(|_, p| p.created.elapsed() < PENDING_TTL);
            map.insert(state, pending);
        });
        Ok(url)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, LoginError> {
        let discovery = self.discovery().await?;
        let mut request = self.http.post(&discovery.token_endpoint);
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        match &self.config.client_secret {
            Some(secret) => request = request.basic_auth(&self.client_id, Some(secret.expose())),
            None => fields.push(("client_id", &self.client_id)),
        }
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| LoginError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(LoginError::Unavailable(format!(
                "token endpoint: HTTP {status}"
            )));
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(LoginError::Refused(format!(
                "token endpoint: HTTP {status} {text}"
            )));
        }
        response
            .json()
            .await
            .map_err(|e| LoginError::Refused(format!("token endpoint answer: {e}")))
    }

    async fn login_from(
        &self,
        answer: TokenAnswer,
        nonce: Option<&str>,
        previous: Option<(&str, Role, &Secret)>,
    ) -> Result<(String, Role, SessionTokens), LoginError> {
        let expires_in = answer.expires_in.unwrap_or(300);
        let access_expires_at = Instant::now() + Duration::from_secs(expires_in);
        let id_token = match (answer.id_token, previous) {
            (Some(t), _) => Secret::new(t),
            (None, Some((_, _, old))) => old.clone(),
            (None, None) => return Err(LoginError::Refused("no ID token in the answer".into())),
        };
        let claims = self
            .verifier
            .verify_claims(id_token.expose(), &self.client_id)
            .await
            .map_err(|e| match e {
                JwtError::KeysUnavailable(m) => LoginError::Unavailable(m),
                other => LoginError::Refused(format!("ID token: {other}")),
            })?;
        if let Some(nonce) = nonce {
            if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
                return Err(LoginError::Refused("ID token nonce does not match".into()));
            }
        }
        let mut role = self.verifier.role_of(&claims);
        if role.is_none() {
            if let Ok(access) = self
                .verifier
                .verify_claims(&answer.access_token, &self.config.audience)
                .await
            {
                role = self.verifier.role_of(&access);
            }
        }
        let role = match (role, previous) {
            (Some(role), _) => role,
            (None, Some((_, role, _))) => role,
            (None, None) => return Err(LoginError::Refused("the account has no ccm role".into())),
        };
        let subject = match previous {
            Some((subject, _, _)) => subject.to_owned(),
            None => JwtVerifier::subject_of(&claims),
        };
        Ok((
            subject,
            role,
            SessionTokens {
                refresh_token: answer.refresh_token.map(Secret::new),
                access_expires_at,
                id_token,
            },
        ))
    }

    /// Completes a login from the provider's redirect.
    pub async fn finish(&self, code: &str, state: &str) -> Result<Login, LoginError> {
        let pending = self
            .with_pending(|map| map.remove(state))
            .filter(|p| p.created.elapsed() < PENDING_TTL)
            .ok_or_else(|| LoginError::Refused("unknown or expired login state".into()))?;
        let answer = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_url),
                ("code_verifier", &pending.verifier),
            ])
            .await?;
        let (subject, role, tokens) = self.login_from(answer, Some(&pending.nonce), None).await?;
        Ok(Login {
            subject,
            role,
            tokens,
            return_to: pending.return_to,
        })
    }

    /// New tokens for a session whose access token expired.
    pub async fn refresh(
        &self,
        subject: &str,
        role: Role,
        tokens: &SessionTokens,
    ) -> Result<(Role, SessionTokens), LoginError> {
        let refresh = tokens
            .refresh_token
            .as_ref()
            .ok_or_else(|| LoginError::Refused("the session expired (no refresh token)".into()))?;
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ])
            .await?;
        let keep_refresh = tokens.refresh_token.clone();
        let (_, role, mut fresh) = self
            .login_from(answer, None, Some((subject, role, &tokens.id_token)))
            .await?;
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = keep_refresh;
        }
        Ok((role, fresh))
    }

    /// Where to send the browser to end the provider's session too.
    pub async fn end_session_url(&self, tokens: &SessionTokens) -> Option<String> {
        let discovery = self.discovery().await.ok()?;
        let endpoint = discovery.end_session_endpoint?;
        Some(format!(
            "{endpoint}?id_token_hint={}&post_logout_redirect_uri={}&client_id={}",
            encode(tokens.id_token.expose()),
            encode(&self.post_logout_url),
            encode(&self.client_id)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_rfc_7636_example() {
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return(Some("/workers")), "/workers");
        assert_eq!(safe_return(Some("//evil.example")), "/");
        assert_eq!(safe_return(Some("https://evil.example")), "/");
        assert_eq!(safe_return(None), "/");
    }
}
