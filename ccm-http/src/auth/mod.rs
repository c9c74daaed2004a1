//! Authentication and roles. A request is authenticated by one of:
//! * an API key (`Authorization: Bearer ccm_…`), created by an admin, stored as its
//!   SHA-256 hash ([`api_keys`]);
//! * a Bearer JWT from the configured OpenID Connect provider ([`jwt`]);
//! * a browser session cookie ([`session`]), obtained from the OIDC browser login
//!   ([`oidc_login`]) or the one-time admin login link; state-changing requests on
//!   a session also need the `x-csrf-token` header.
//!
//! Roles are ordered `user` < `manager` < `admin`; each route names the least role
//! it needs in the route table (`crate::api::routes::ROUTES`), and
//! [`middleware::authorize`] enforces it for every request.

pub mod api_keys;
pub mod jwt;
pub mod middleware;
pub mod oidc_login;
pub mod pending;
pub mod session;
pub mod session_refresh;

use ccm_core::api_key::{ApiKeyId, ApiKeyRole};
use serde::{Deserialize, Serialize};

/// What a caller may do. Ordered: a higher role may do everything a lower one may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything it may see; sees and cancels its own lablets only (and
    /// books them with `lablets.self_service`), see `crate::ownership`.
    User,
    /// Also starts/stops workers, operates labs, sets tags, manages everyone's lablets.
    Manager,
    /// Also creates, imports, deletes, licenses, changes settings, manages keys and jobs.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::User, Role::Manager, Role::Admin];

    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// The role an API key of `role` grants.
    pub fn from_key_role(role: ApiKeyRole) -> Self {
        match role {
            ApiKeyRole::Viewer => Role::User,
            ApiKeyRole::Operator => Role::Manager,
            ApiKeyRole::Admin => Role::Admin,
        }
    }

    /// The API key role that grants this role.
    pub fn key_role(self) -> ApiKeyRole {
        match self {
            Role::User => ApiKeyRole::Viewer,
            Role::Manager => ApiKeyRole::Operator,
            Role::Admin => ApiKeyRole::Admin,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "manager" => Ok(Role::Manager),
            "admin" => Ok(Role::Admin),
            other => Err(format!("`{other}` is not a role (user, manager, admin)")),
        }
    }
}

/// How a caller authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMethod {
    /// An API key.
    ApiKey {
        /// The key's id.
        id: ApiKeyId,
    },
    /// A Bearer JWT.
    Jwt,
    /// A browser session.
    Session {
        /// The session's CSRF token, required on state-changing requests.
        #[serde(skip)]
        csrf: String,
    },
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Who: the key name, the token's `preferred_username`/`sub`, the session's user.
    pub subject: String,
    /// What they may do.
    pub role: Role,
    /// How they authenticated.
    pub method: AuthMethod,
}

/// Which routes need which role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// No authentication (health, login).
    Public,
    /// Authenticated with at least this role.
    AtLeast(Role),
}
