//! API keys: `ccm_` followed by 64 hex digits of randomness. Only the SHA-256 hash
//! (hex) is stored; the key is shown once, when it is created.

use ccm_core::api_key::{ApiKeyId, ApiKeyRecord};
use ccm_core::ports::Store;
use ccm_core::time::Timestamp;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{AuthMethod, Principal, Role};
use ccm_core::ports::store::StoreError;

/// Prefix of every API key, so a key is recognisable in a leaked file.
pub const KEY_PREFIX: &str = "ccm_";

/// A key's last-used time is written at most once per this many seconds: every
/// write goes through the store's single writer (SQLite), so writing on every
/// request would queue reads behind it.
pub const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

/// True when a key last recorded as used at `last_used` should be recorded again
/// at `now`. Decided from the record itself, so it needs no state of its own and
/// holds across processes sharing a store.
pub fn needs_touch(last_used: Option<Timestamp>, now: Timestamp) -> bool {
    last_used.is_none_or(|last| {
        ccm_core::time::seconds_between(last, now) >= LAST_USED_RESOLUTION_SECONDS
    })
}

/// A fresh random key.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// The hash stored for `key`: hex SHA-256.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates and stores a key; returns the record and the key (shown once).
pub async fn create_key(
    store: &dyn Store,
    name: &str,
    role: Role,
    now: Timestamp,
) -> Result<(ApiKeyRecord, String), StoreError> {
    let key = generate_key();
    let record = ApiKeyRecord::new(ApiKeyId::new(), name, role.key_role(), hash_key(&key), now);
    store.insert_api_key(&record).await?;
    Ok((record, key))
}

/// The principal of an active key, `None` for an unknown or revoked key.
pub async fn authenticate(
    store: &dyn Store,
    key: &str,
    now: Timestamp,
) -> Result<Option<Principal>, StoreError> {
    let Some(record) = store.find_api_key_by_hash(&hash_key(key)).await? else {
        return Ok(None);
    };
    if !record.is_active() {
        return Ok(None);
    }
    if needs_touch(record.last_used_at, now) {
        if let Err(error) = store.touch_api_key(record.id, now).await {
            tracing::debug!(%error, "could not record API key use");
        }
    }
    Ok(Some(Principal {
        subject: format!("key:{}", record.name),
        role: Role::from_key_role(record.role),
        method: AuthMethod::ApiKey { id: record.id },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hash_to_hex_sha256() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn last_use_is_written_once_a_minute() {
        use ccm_core::time::{epoch, plus_seconds};
        let t = plus_seconds(epoch(), 1000);
        assert!(needs_touch(None, t));
        assert!(!needs_touch(Some(t), t));
        assert!(!needs_touch(Some(t), plus_seconds(t, 59)));
        assert!(needs_touch(Some(t), plus_seconds(t, 60)));
        // A clock that went back writes nothing until it passes the record again.
        assert!(!needs_touch(Some(t), plus_seconds(t, -5)));
    }
}
