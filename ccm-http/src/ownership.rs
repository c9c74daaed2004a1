//! Who may see and act on which lablets, and on the labs made for them.
//!
//! A lablet's `owner` is the [`Principal::subject`] it was booked for: `key:<name>`
//! for an API key, the token's or session's `preferred_username`/`email`/`sub`
//! otherwise. Managers and admins see and act on every lablet and book for any
//! owner. Users see and act on their own lablets only; anyone else's answers
//! exactly like a lablet that does not exist (404), so ids cannot be probed. Users
//! book only when `[lablets] self_service` is on, and then always for themselves.
//! A lab belongs to a lablet while the lablet's status names it (worker and CML
//! lab id); that record is written by the lablet controller, never by the caller.

use ccm_core::ids::{CmlLabId, LabletId, WorkerId};
use ccm_core::lablet::Lablet;
use ccm_core::ports::store::{LabletFilter, StoreError};
use ccm_core::ports::Store;
use ccm_core::DomainError;

use crate::api::error::ApiError;
use crate::auth::{Principal, Role};

/// True when `who` sees and acts on every lablet and lab, not only their own.
pub fn sees_everything(who: &Principal) -> bool {
    who.role >= Role::Manager
}

/// True when `who` may see and act on `lablet`.
pub fn may_access(who: &Principal, lablet: &Lablet) -> bool {
    sees_everything(who) || lablet.spec.owner == who.subject
}

/// The answer for a lablet the caller may not see: the same as for a missing one.
pub fn hidden_lablet(id: LabletId) -> ApiError {
    DomainError::NotFound {
        kind: "lablet",
        id: id.to_string(),
    }
    .into()
}

/// Which lablets a list shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnerScope {
    /// Lablets of this owner, or of every owner when `None`.
    Owner(Option<String>),
    /// None: a user asked for someone else's lablets.
    Nothing,
}

/// The owner filter of a lablet list asked for `asked` by `who`. A user's list is
/// always narrowed to their own lablets; asking for another owner's gives an
/// empty list rather than a 403, so it reveals nothing either way.
pub fn list_scope(who: &Principal, asked: Option<String>) -> OwnerScope {
    if sees_everything(who) {
        return OwnerScope::Owner(asked);
    }
    match asked {
        Some(owner) if owner != who.subject => OwnerScope::Nothing,
        _ => OwnerScope::Owner(Some(who.subject.clone())),
    }
}

/// The owner of a lablet `who` books, asking for `asked`. Managers and admins book
/// for anyone (themselves by default); users only with self-service on, and only
/// for themselves.
pub fn booking_owner(
    who: &Principal,
    asked: Option<String>,
    self_service: bool,
) -> Result<String, ApiError> {
    if sees_everything(who) {
        return Ok(asked.unwrap_or_else(|| who.subject.clone()));
    }
    if !self_service {
        return Err(ApiError::forbidden("self-service booking is off"));
    }
    match asked {
        Some(owner) if owner != who.subject => Err(ApiError::invalid(
            "owner",
            "users book lablets for themselves only",
        )),
        _ => Ok(who.subject.clone()),
    }
}

/// True when `who` may reach lab `lab` of worker `worker`: managers and admins any,
/// users only the lab of one of their own lablets.
pub async fn may_access_lab(
    store: &dyn Store,
    who: &Principal,
    worker: WorkerId,
    lab: &CmlLabId,
) -> Result<bool, StoreError> {
    if sees_everything(who) {
        return Ok(true);
    }
    let own = store
        .list_lablets(&LabletFilter {
            worker_id: Some(worker),
            owner: Some(who.subject.clone()),
            ..LabletFilter::default()
        })
        .await?;
    Ok(own
        .iter()
        .any(|l| l.status.cml_lab_id.as_ref() == Some(lab)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn principal(subject: &str, role: Role) -> Principal {
        Principal {
            subject: subject.into(),
            role,
            method: AuthMethod::Jwt,
        }
    }

    #[test]
    fn users_list_only_their_own_and_managers_anything() {
        let alice = principal("alice", Role::User);
        let boss = principal("boss", Role::Manager);
        assert_eq!(
            list_scope(&alice, None),
            OwnerScope::Owner(Some("alice".into()))
        );
        assert_eq!(
            list_scope(&alice, Some("alice".into())),
            OwnerScope::Owner(Some("alice".into()))
        );
        assert_eq!(list_scope(&alice, Some("bob".into())), OwnerScope::Nothing);
        assert_eq!(list_scope(&boss, None), OwnerScope::Owner(None));
        assert_eq!(
            list_scope(&boss, Some("bob".into())),
            OwnerScope::Owner(Some("bob".into()))
        );
    }

    #[test]
    fn booking_owner_follows_role_and_self_service() {
        let alice = principal("alice", Role::User);
        let boss = principal("boss", Role::Manager);
        assert_eq!(booking_owner(&boss, None, false).unwrap(), "boss");
        assert_eq!(
            booking_owner(&boss, Some("bob".into()), false).unwrap(),
            "bob"
        );
        assert_eq!(booking_owner(&alice, None, false).unwrap_err().status, 403);
        assert_eq!(booking_owner(&alice, None, true).unwrap(), "alice");
        assert_eq!(
            booking_owner(&alice, Some("alice".into()), true).unwrap(),
            "alice"
        );
        assert_eq!(
            booking_owner(&alice, Some("bob".into()), true)
                .unwrap_err()
                .status,
            422
        );
    }
}
