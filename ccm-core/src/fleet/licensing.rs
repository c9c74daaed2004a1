//! Registering and deregistering a worker's CML licence. Registration completes
//! asynchronously on CML: the request is recorded as pending, and the worker
//! controller polls `GET /licensing` (through [`Licences::poll_registration`])
//! until it completes, fails or times out; the metrics sweep folds in the same
//! answer through [`apply_licensing`]. [`licence_from_cml`] reads CML's answer
//! into the worker's licence status; CML's status strings are an open set, so
//! unknown ones degrade gracefully instead of failing.

use std::sync::Arc;

use super::context::Context;
use super::settings::FleetSettings;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::WorkerId;
use crate::ports::cml::Licensing;
use crate::ports::store::Fence;
use crate::runtime::ReconcileOutcome;
use crate::secret::Secret;
use crate::time::{plus_seconds, Timestamp};
use crate::worker::{LicenceFeature, LicenceKind, LicenceState, LicenceStatus, Worker};

/// Licence registration on workers' CML.
#[derive(Clone)]
pub(crate) struct Licences {
    ctx: Arc<Context>,
}

impl Licences {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Asks the worker's CML to register with `token` (or the configured token).
    pub(crate) async fn register(
        &self,
        id: WorkerId,
        token: Option<Secret>,
    ) -> Result<Worker, CoreError> {
        let token = token
            .or_else(|| self.ctx.licence_token.clone())
            .ok_or_else(|| {
                CoreError::validation("token", "no licence token given or configured")
            })?;
        let worker = self.ctx.worker(id).await?;
        if worker.status.licence.state == LicenceState::RegistrationPending {
            return Err(CoreError::validation(
                "licence",
                "a registration is already in progress",
            ));
        }
        let ep = self.ctx.endpoint_for_operations(&worker)?;
        let reregister = worker.status.licence.state == LicenceState::Registered;
        self.ctx
            .cml
            .register_licence(&ep, &token, reregister)
            .await?;
        let worker = self
            .ctx
            .update::<Worker, _, _>(id, None, |w, now| w.start_licence_registration(now))
            .await?;
        self.ctx.nudge_worker(id);
        Ok(worker)
    }

    /// Deregisters the worker's CML licence.
    pub(crate) async fn deregister(&self, id: WorkerId) -> Result<Worker, CoreError> {
        let worker = self.ctx.worker(id).await?;
        let ep = self.ctx.endpoint_for_operations(&worker)?;
        self.ctx.cml.deregister_licence(&ep).await?;
        self.ctx
            .update::<Worker, _, _>(id, None, |w, now| w.deregister_licence(now))
            .await
    }

    /// Polls a pending registration; `None` when none is pending.
    pub(crate) async fn poll_registration(
        &self,
        worker: &Worker,
        fence: Option<&Fence>,
    ) -> Result<Option<ReconcileOutcome>, CoreError> {
        if worker.status.licence.state != LicenceState::RegistrationPending {
            return Ok(None);
        }
        let settings = &self.ctx.settings;
        let Some(ep) = self.ctx.endpoint(worker) else {
            return Ok(Some(ReconcileOutcome::RequeueAfter(
                settings.licence_poll_seconds,
            )));
        };
        let licensing = self.ctx.cml.licensing(&ep).await?;
        let updated = self
            .ctx
            .update::<Worker, _, _>(worker.id, fence, |w, now| {
                apply_licensing(settings, w, &licensing, now)
            })
            .await?;
        Ok(Some(
            if updated.status.licence.state == LicenceState::RegistrationPending {
                ReconcileOutcome::RequeueAfter(settings.licence_poll_seconds.max(1))
            } else {
                ReconcileOutcome::Done
            },
        ))
    }
}

/// Folds an observed licence into the worker, finishing a pending registration
/// when CML says it completed or failed, or when it has waited too long.
pub(crate) fn apply_licensing(
    settings: &FleetSettings,
    worker: &mut Worker,
    licensing: &Licensing,
    now: Timestamp,
) -> Result<Vec<DomainEvent>, DomainError> {
    let mut observed = licence_from_cml(licensing);
    let pending = &worker.status.licence;
    if pending.state != LicenceState::RegistrationPending {
        // CML does not say why a registration failed; keep the reason we recorded.
        if observed.state == pending.state {
            observed.last_error.clone_from(&pending.last_error);
        }
        return worker.observe_licence(observed, now);
    }
    let deadline = pending.registration_requested_at.map(|at| {
        plus_seconds(
            at,
            i64::from(settings.licence_poll_seconds) * i64::from(settings.licence_poll_attempts),
        )
    });
    match observed.state {
        LicenceState::Registered | LicenceState::Evaluation => {
            worker.finish_licence_registration(Ok(observed), now)
        }
        LicenceState::Invalid | LicenceState::Expired => worker.finish_licence_registration(
            Err(format!(
                "CML reports registration {} / authorization {}",
                licensing.registration_status, licensing.authorization_status
            )),
            now,
        ),
        _ if deadline.is_some_and(|d| now >= d) => worker
            .finish_licence_registration(Err("registration did not complete in time".into()), now),
        _ => Ok(Vec::new()),
    }
}

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
