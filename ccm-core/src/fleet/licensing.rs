//! Registering and deregistering a worker's CML licence. Registration completes
//! asynchronously on CML: the request is recorded as pending, and the worker
//! controller polls `GET /licensing` until it completes, fails or times out.

use super::persist::update;
use super::Fleet;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::ports::store::Fence;
use crate::runtime::ReconcileOutcome;
use crate::secret::Secret;
use crate::worker::{LicenceState, Worker};

impl Fleet {
    /// Asks the worker's CML to register with `token` (or the configured token).
    pub async fn register_licence(
        &self,
        id: WorkerId,
        token: Option<Secret>,
    ) -> Result<Worker, CoreError> {
        let token = token
            .or_else(|| self.licence_token.clone())
            .ok_or_else(|| {
                CoreError::validation("token", "no licence token given or configured")
            })?;
        let worker = self.get_worker(id).await?;
        if worker.status.licence.state == LicenceState::RegistrationPending {
            return Err(CoreError::validation(
                "licence",
                "a registration is already in progress",
            ));
        }
        let ep = self.cml_endpoint_for_operations(&worker)?;
        let reregister = worker.status.licence.state == LicenceState::Registered;
        self.cml.register_licence(&ep, &token, reregister).await?;
        let worker =
            update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
                w.start_licence_registration(now)
            })
            .await?;
        self.nudge(id);
        Ok(worker)
    }

    /// Deregisters the worker's CML licence.
    pub async fn deregister_licence(&self, id: WorkerId) -> Result<Worker, CoreError> {
        let worker = self.get_worker(id).await?;
        let ep = self.cml_endpoint_for_operations(&worker)?;
        self.cml.deregister_licence(&ep).await?;
        update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
            w.deregister_licence(now)
        })
        .await
    }

    /// Polls a pending registration; `None` when none is pending.
    pub(crate) async fn poll_licence(
        &self,
        worker: &Worker,
        fence: Option<&Fence>,
    ) -> Result<Option<ReconcileOutcome>, CoreError> {
        if worker.status.licence.state != LicenceState::RegistrationPending {
            return Ok(None);
        }
        let Some(ep) = self.endpoint(worker) else {
            return Ok(Some(ReconcileOutcome::RequeueAfter(
                self.settings.licence_poll_seconds,
            )));
        };
        let licensing = self.cml.licensing(&ep).await?;
        let updated = update::<Worker, _>(
            self.store.as_ref(),
            worker.id,
            fence,
            self.clock.now(),
            |w, now| self.apply_licensing(w, &licensing, now),
        )
        .await?;
        Ok(Some(
            if updated.status.licence.state == LicenceState::RegistrationPending {
                ReconcileOutcome::RequeueAfter(self.settings.licence_poll_seconds.max(1))
            } else {
                ReconcileOutcome::Done
            },
        ))
    }
}
