//! API keys (`/api/v1/api-keys`, admins): the list item — never the key nor its
//! hash —, the create request and the create answer that shows the key once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::system::Role;
use crate::Example;

/// The caller role a key of the domain's key role grants (the names the API
/// has always shown: `user`, `manager`, `admin`).
pub fn role_of_key(role: ccm_core::api_key::ApiKeyRole) -> Role {
    use ccm_core::api_key::ApiKeyRole as Domain;
    match role {
        Domain::Viewer => Role::User,
        Domain::Operator => Role::Manager,
        Domain::Admin => Role::Admin,
    }
}

/// An API key as the API shows it: everything but the key and its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    /// Identifier.
    pub id: Uuid,
    /// Name given at creation (`ci`, `grafana`).
    pub name: String,
    /// Role the key grants.
    pub role: Role,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key was revoked; `null` while it is valid.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key was last used; `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ccm_core::api_key::ApiKeyRecord> for ApiKey {
    fn from(r: &ccm_core::api_key::ApiKeyRecord) -> Self {
        Self {
            id: r.id.0,
            name: r.name.clone(),
            role: role_of_key(r.role),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// Body of `POST /api/v1/api-keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// Name (`ci`, `grafana`): 1 to 100 characters once trimmed.
    pub name: String,
    /// Role the key grants.
    pub role: Role,
}

/// Answer of `POST /api/v1/api-keys`: the key's record and the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key (a bearer token); shown this once, never again.
    pub key: String,
    /// Identifier.
    pub id: Uuid,
    /// Name given at creation.
    pub name: String,
    /// Role the key grants.
    pub role: Role,
    /// When the key was created.
    pub created_at: DateTime<Utc>,
    /// When the key was revoked; `null` while it is valid.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key was last used; `null` if never.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl CreatedApiKey {
    /// The answer for a new key `key` whose record is `record`.
    pub fn new(key: String, record: &ccm_core::api_key::ApiKeyRecord) -> Self {
        let ApiKey {
            id,
            name,
            role,
            created_at,
            revoked_at,
            last_used_at,
        } = ApiKey::from(record);
        Self {
            key,
            id,
            name,
            role,
            created_at,
            revoked_at,
            last_used_at,
        }
    }
}

fn sample_record() -> ccm_core::api_key::ApiKeyRecord {
    let at = |s: i64| DateTime::<Utc>::from_timestamp(1_767_225_600 + s, 0).unwrap_or_default();
    ccm_core::api_key::ApiKeyRecord {
        id: ccm_core::api_key::ApiKeyId::from_u128(0x5e1f_0000_0000_4000_8000_0000_0000_00a1),
        name: "grafana".into(),
        key_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        role: ccm_core::api_key::ApiKeyRole::Viewer,
        created_at: at(0),
        revoked_at: Some(at(86_400)),
        last_used_at: Some(at(3_600)),
    }
}

impl Example for ApiKey {
    fn example() -> Self {
        let mut record = sample_record();
        record.revoked_at = None;
        Self::from(&record)
    }
}

impl Example for CreateApiKey {
    fn example() -> Self {
        Self {
            name: "grafana".into(),
            role: Role::User,
        }
    }
}

impl Example for CreatedApiKey {
    fn example() -> Self {
        let mut record = sample_record();
        record.revoked_at = None;
        record.last_used_at = None;
        Self::new(
            "ccm_6f1c2b7e9a4d3c8b5e0f7a2d4c6b8e1f3a5c7e9b2d4f6a8c0e2b4d6f8a1c3e5b".into(),
            &record,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_list_item_is_the_record_without_its_hash() {
        let record = sample_record();
        let wire = serde_json::to_value(ApiKey::from(&record)).unwrap();
        let mut domain = serde_json::to_value(&record).unwrap();
        let object = domain.as_object_mut().unwrap();
        assert!(object.remove("key_hash").is_some());
        object.insert("role".into(), json!("user"));
        assert_eq!(wire, domain);
        assert!(!wire.to_string().contains(&record.key_hash));
    }

    #[test]
    fn every_domain_role_maps_to_the_role_name_the_api_always_showed() {
        use ccm_core::api_key::ApiKeyRole as Domain;
        for (domain, name) in [
            (Domain::Viewer, "user"),
            (Domain::Operator, "manager"),
            (Domain::Admin, "admin"),
        ] {
            let wire = role_of_key(domain);
            assert_eq!(serde_json::to_value(wire).unwrap(), json!(name));
        }
    }

    #[test]
    fn the_create_answer_is_the_record_with_the_key_flattened_in() {
        let record = sample_record();
        let wire = serde_json::to_value(CreatedApiKey::new("k".into(), &record)).unwrap();
        let mut expected = serde_json::to_value(ApiKey::from(&record)).unwrap();
        expected
            .as_object_mut()
            .unwrap()
            .insert("key".into(), json!("k"));
        assert_eq!(wire, expected);
    }

    #[test]
    fn create_bodies_are_read_as_before() {
        let body: CreateApiKey =
            serde_json::from_value(json!({"name": "ci", "role": "manager"})).unwrap();
        assert_eq!(body.role, Role::Manager);
        for bad in [
            json!({"name": "ci", "role": "manager", "extra": 1}),
            json!({"name": "ci", "role": "viewer"}),
            json!({"name": "ci"}),
        ] {
            assert!(serde_json::from_value::<CreateApiKey>(bad).is_err());
        }
    }
}
