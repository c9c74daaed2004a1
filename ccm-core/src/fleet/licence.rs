//! Reading CML's licensing answer into the worker's licence status. CML's status
//! strings are an open set, so unknown ones degrade gracefully instead of failing.

use crate::ports::cml::Licensing;
use crate::worker::{LicenceFeature, LicenceKind, LicenceState, LicenceStatus};

/// The licence status CML's `GET /licensing` describes.
pub fn licence_from_cml(licensing: &Licensing) -> LicenceStatus {
    let registration = licensing.registration_status.to_ascii_uppercase();
    let authorization = licensing.authorization_status.to_ascii_uppercase();
    let evaluation = authorization.contains("EVAL");
    let state = if authorization.contains("EXPIRED") {
        LicenceState::Expired
    } else if registration.contains("FAIL")
        || authorization.contains("OUT_OF_COMPLIANCE")
        || authorization.contains("INVALID")
    {
        LicenceState::Invalid
    } else if registration.contains("PROGRESS") || registration.contains("PENDING") {
        LicenceState::RegistrationPending
    } else if registration == "COMPLETED" || registration == "REGISTERED" {
        if evaluation {
            LicenceState::Evaluation
        } else {
            LicenceState::Registered
        }
    } else if evaluation {
        LicenceState::Evaluation
    } else {
        LicenceState::Unregistered
    };
    let kind = match state {
        LicenceState::Registered if licensing.is_enterprise => Some(LicenceKind::Enterprise),
        LicenceState::Registered => Some(LicenceKind::Personal),
        LicenceState::Evaluation => Some(LicenceKind::Evaluation),
        _ => None,
    };
    let node_features: Vec<u32> = licensing
        .features
        .iter()
        .filter(|f| {
            let text = format!("{} {}", f.id, f.name).to_ascii_lowercase();
            text.contains("node")
        })
        .filter_map(|f| f.max)
        .collect();
    let node_limit = if node_features.is_empty() {
        None
    } else {
        Some(
            node_features
                .iter()
                .fold(0u32, |acc, n| acc.saturating_add(*n)),
        )
    };
    LicenceStatus {
        state,
        kind,
        expires_at: licensing.expires_at,
        features: licensing
            .features
            .iter()
            .map(|f| LicenceFeature {
                id: f.id.clone(),
                name: f.name.clone(),
                status: f.status.clone(),
                in_use: f.in_use,
            })
            .collect(),
        node_limit,
        registration_requested_at: None,
        last_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::cml::LicensingFeature;

    fn licensing(registration: &str, authorization: &str) -> Licensing {
        Licensing {
            registration_status: registration.into(),
            authorization_status: authorization.into(),
            ..Licensing::default()
        }
    }

    #[test]
    fn maps_known_and_unknown_statuses() {
        let cases = [
            (("COMPLETED", "IN_COMPLIANCE"), LicenceState::Registered),
            (("COMPLETED", "EVAL"), LicenceState::Evaluation),
            (("IN_PROGRESS", ""), LicenceState::RegistrationPending),
            (("FAILED", ""), LicenceState::Invalid),
            (
                ("COMPLETED", "AUTHORIZATION_EXPIRED"),
                LicenceState::Expired,
            ),
            (("NOT_REGISTERED", ""), LicenceState::Unregistered),
            (("SOMETHING_NEW", "ALSO_NEW"), LicenceState::Unregistered),
        ];
        for ((reg, auth), expected) in cases {
            assert_eq!(
                licence_from_cml(&licensing(reg, auth)).state,
                expected,
                "{reg}/{auth}"
            );
        }
    }

    #[test]
    fn node_limit_sums_node_features_and_kind_follows_product() {
        let mut l = licensing("COMPLETED", "IN_COMPLIANCE");
        l.is_enterprise = true;
        l.features = vec![
            LicensingFeature {
                id: "base".into(),
                name: "CML - Base Nodes".into(),
                status: "IN_USE".into(),
                in_use: 1,
                max: Some(20),
            },
            LicensingFeature {
                id: "exp".into(),
                name: "CML - Expansion Nodes".into(),
                status: "IN_USE".into(),
                in_use: 0,
                max: Some(30),
            },
            LicensingFeature {
                id: "user".into(),
                name: "Users".into(),
                status: "IN_USE".into(),
                in_use: 0,
                max: Some(99),
            },
        ];
        let status = licence_from_cml(&l);
        assert_eq!(status.node_limit, Some(50));
        assert_eq!(status.kind, Some(LicenceKind::Enterprise));
        assert_eq!(status.features.len(), 3);
    }
}
