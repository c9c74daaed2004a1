//! API keys as the store keeps them. The key itself is shown to its owner once, when
//! it is created, and never stored: the store holds only its hash (the HTTP layer
//! chooses the hash, e.g. hex SHA-256 of the key) and finds a key by that hash.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Timestamp;

/// Identifier of an [`ApiKeyRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeyId(pub Uuid);

impl ApiKeyId {
    /// A fresh random identifier.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// An identifier built from 128 bits (repeatable ids for tests and simulations).
    pub fn from_u128(bits: u128) -> Self {
        Self(Uuid::from_u128(bits))
    }
}

impl Default for ApiKeyId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ApiKeyId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyRole {
    /// Read only.
    Viewer,
    /// Read, and operate workers and lablets.
    Operator,
    /// Everything, including managing keys.
    Admin,
}

impl ApiKeyRole {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyRole::Viewer => "viewer",
            ApiKeyRole::Operator => "operator",
            ApiKeyRole::Admin => "admin",
        }
    }
}

/// A stored API key: everything but the key itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Identifier.
    pub id: ApiKeyId,
    /// Human-readable name (`ci`, `dashboard`).
    pub name: String,
    /// What the key may do.
    pub role: ApiKeyRole,
    /// Hash of the key; unique in the store. Never the key itself.
    pub key_hash: String,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key was revoked; a revoked key authenticates nobody.
    pub revoked_at: Option<Timestamp>,
    /// Last time the key authenticated a request.
    pub last_used_at: Option<Timestamp>,
}

impl ApiKeyRecord {
    /// A new, unused, unrevoked key record.
    pub fn new(
        id: ApiKeyId,
        name: impl Into<String>,
        role: ApiKeyRole,
        key_hash: impl Into<String>,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            role,
            key_hash: key_hash.into(),
            created_at,
            revoked_at: None,
            last_used_at: None,
        }
    }

    /// True while the key is not revoked.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

impl fmt::Debug for ApiKeyRecord {
    /// The hash is left out: it is not the key, but it need not be in logs either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("key_hash", &"***")
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    #[test]
    fn debug_hides_the_hash_and_json_round_trips() {
        let key = ApiKeyRecord::new(
            ApiKeyId::from_u128(7),
            "ci",
            ApiKeyRole::Admin,
            "abc123",
            epoch(),
        );
        assert!(!format!("{key:?}").contains("abc123"));
        assert!(key.is_active());
        let json = serde_json::to_string(&key).unwrap();
        assert!(json.contains("\"role\":\"admin\""));
        assert_eq!(serde_json::from_str::<ApiKeyRecord>(&json).unwrap(), key);
    }
}
