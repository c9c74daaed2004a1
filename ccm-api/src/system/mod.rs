//! System answers: the probes (`/livez`, `/readyz`), the caller's session
//! (`/api/v1/session`), the leadership view (`/api/v1/system/leadership`), the
//! one-time login link's query and the logout answer; the settings view is in
//! [`settings`].

pub mod settings;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Example;

/// A probe's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProbeState {
    /// `/livez`: the process is up.
    Ok,
    /// `/readyz`: the store answers.
    Ready,
    /// `/readyz`: the store did not answer in time (with a 503).
    NotReady,
}

/// A probe's answer: status only (probes are anonymous, so nothing names a
/// holder, version or address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProbeStatus {
    /// What is not ready (`store`); only on `not_ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The verdict.
    pub status: ProbeState,
}

impl ProbeStatus {
    /// `{"status": "ok"}`.
    pub fn ok() -> Self {
        Self {
            status: ProbeState::Ok,
            reason: None,
        }
    }

    /// `{"status": "ready"}`.
    pub fn ready() -> Self {
        Self {
            status: ProbeState::Ready,
            reason: None,
        }
    }

    /// `{"status": "not_ready", "reason": <reason>}`.
    pub fn not_ready(reason: &str) -> Self {
        Self {
            status: ProbeState::NotReady,
            reason: Some(reason.to_owned()),
        }
    }
}

impl Example for ProbeStatus {
    fn example() -> Self {
        Self::ready()
    }
}

/// What a caller may do; a higher role may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads what it may see; sees and cancels its own lablets (books them
    /// with `lablets.self_service`).
    User,
    /// Also starts and stops workers, operates labs, sets tags, manages
    /// everyone's lablets.
    Manager,
    /// Also creates, imports, deletes, licenses, changes settings, manages keys
    /// and jobs.
    Admin,
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionMethod {
    /// An API key.
    ApiKey {
        /// The key's id.
        id: Uuid,
    },
    /// A Bearer JWT.
    Jwt,
    /// A browser session (its CSRF token is `csrf_token`).
    Session,
}

/// Who the caller is (`GET /api/v1/session`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Who: the key name, the token's `preferred_username`/`sub`, the session's user.
    pub subject: String,
    /// What they may do.
    pub role: Role,
    /// How they authenticated.
    pub method: SessionMethod,
    /// The CSRF token to send in `x-csrf-token` (browser sessions only).
    pub csrf_token: Option<String>,
    /// Whether they may book lablets.
    pub can_book_lablets: bool,
}

impl Example for Session {
    fn example() -> Self {
        Self {
            subject: "alice@example.com".into(),
            role: Role::Manager,
            method: SessionMethod::Session,
            csrf_token: Some("r4nd0m-csrf-t0ken".into()),
            can_book_lablets: true,
        }
    }
}

/// The stored lease and whether it is still in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeaseView {
    /// Lease name (`controllers`).
    pub name: String,
    /// Holder identity (process id).
    pub holder: String,
    /// Fencing token: grows each time the lease changes hands.
    pub token: u64,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// `expires_at` is still ahead.
    pub live: bool,
}

impl LeaseView {
    /// The stored `lease`, in force when it expires after `now`.
    pub fn new(lease: &ccm_core::ports::store::Lease, now: DateTime<Utc>) -> Self {
        Self {
            name: lease.name.clone(),
            holder: lease.holder.clone(),
            token: lease.token,
            expires_at: lease.expires_at,
            live: lease.expires_at > now,
        }
    }
}

/// Where the event log is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogPosition {
    /// Sequence of the last committed event.
    pub last_sequence: u64,
}

/// One relay's progress through the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RelayProgress {
    /// The sink the relay feeds (the cursor's key).
    pub sink: String,
    /// Sequence of the last event the sink took (`null` when unreadable).
    pub sequence: Option<u64>,
    /// When the cursor last moved.
    pub updated_at: Option<DateTime<Utc>>,
    /// Events committed but not yet taken by the sink.
    pub lag: Option<u64>,
    /// Why the cursor could not be read (its value is not shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// This process's leadership, the stored lease, the log's last sequence and the
/// relay cursors (`GET /api/v1/system/leadership`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Leadership {
    /// This process's holder name.
    pub holder: String,
    /// Whether this process leads now.
    pub leading: bool,
    /// Its fencing token while it leads.
    pub fence_token: Option<u64>,
    /// The lease as stored (`null` when never taken).
    pub lease: Option<LeaseView>,
    /// The event log.
    pub log: LogPosition,
    /// Every relay cursor with its lag behind the log.
    pub relays: Vec<RelayProgress>,
}

impl Example for Leadership {
    fn example() -> Self {
        let at = crate::worker::sample_at();
        let lease = ccm_core::ports::store::Lease {
            name: "controllers".into(),
            holder: "ccm-7f9c-1".into(),
            token: 12,
            expires_at: at + chrono::Duration::seconds(15),
        };
        Self {
            holder: "ccm-7f9c-1".into(),
            leading: true,
            fence_token: Some(12),
            lease: Some(LeaseView::new(&lease, at)),
            log: LogPosition {
                last_sequence: 48_213,
            },
            relays: vec![
                RelayProgress {
                    sink: "webhook".into(),
                    sequence: Some(48_210),
                    updated_at: Some(at),
                    lag: Some(3),
                    error: None,
                },
                RelayProgress {
                    sink: "audit".into(),
                    sequence: None,
                    updated_at: None,
                    lag: None,
                    error: Some("unreadable cursor".into()),
                },
            ],
        }
    }
}

/// Query of `GET /login/once`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginOnceQuery {
    /// The one-time token from the link printed at start.
    pub token: String,
}

/// Answer of `POST /logout` for a session from the OIDC login: where to send
/// the browser to end the provider's session too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LogoutAnswer {
    /// The provider's end-session URL.
    pub end_session_url: String,
}

impl Example for LogoutAnswer {
    fn example() -> Self {
        Self {
            end_session_url:
                "https://login.example.com/realms/ccm/protocol/openid-connect/logout?client_id=ccm"
                    .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_answers_keep_the_json_the_handlers_wrote() {
        assert_eq!(
            serde_json::to_value(ProbeStatus::ok()).unwrap(),
            json!({"status": "ok"})
        );
        assert_eq!(
            serde_json::to_value(ProbeStatus::ready()).unwrap(),
            json!({"status": "ready"})
        );
        assert_eq!(
            serde_json::to_string(&ProbeStatus::not_ready("store")).unwrap(),
            json!({"status": "not_ready", "reason": "store"}).to_string(),
            "the keys in the order the handler wrote them"
        );
        let session = Session {
            method: SessionMethod::ApiKey { id: Uuid::nil() },
            csrf_token: None,
            ..Session::example()
        };
        assert_eq!(
            serde_json::to_value(&session).unwrap(),
            json!({
                "subject": "alice@example.com",
                "role": "manager",
                "method": {"kind": "api_key", "id": Uuid::nil()},
                "csrf_token": null,
                "can_book_lablets": true,
            })
        );
        assert_eq!(
            serde_json::to_value(SessionMethod::Session).unwrap(),
            json!({"kind": "session"})
        );
        assert_eq!(
            serde_json::to_value(SessionMethod::Jwt).unwrap(),
            json!({"kind": "jwt"})
        );
        let leadership = Leadership::example();
        let lease = ccm_core::ports::store::Lease {
            name: "controllers".into(),
            holder: "ccm-7f9c-1".into(),
            token: 12,
            expires_at: crate::worker::sample_at() + chrono::Duration::seconds(15),
        };
        let mut lease_json = serde_json::to_value(&lease).unwrap();
        lease_json["live"] = json!(true);
        assert_eq!(
            serde_json::to_value(&leadership).unwrap(),
            json!({
                "holder": "ccm-7f9c-1",
                "leading": true,
                "fence_token": 12,
                "lease": lease_json,
                "log": {"last_sequence": 48_213},
                "relays": [
                    {"sink": "webhook", "sequence": 48_210, "updated_at": crate::worker::sample_at(), "lag": 3},
                    {"sink": "audit", "sequence": null, "updated_at": null, "lag": null, "error": "unreadable cursor"},
                ],
            })
        );
    }

    #[test]
    fn the_login_query_refuses_unknown_keys() {
        let q: LoginOnceQuery = serde_json::from_value(json!({"token": "t"})).unwrap();
        assert_eq!(q.token, "t");
        assert!(serde_json::from_value::<LoginOnceQuery>(json!({"token": "t", "x": 1})).is_err());
        assert!(serde_json::from_value::<LoginOnceQuery>(json!({})).is_err());
    }
}
