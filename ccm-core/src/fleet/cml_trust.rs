//! Trust on first use for CML certificates: the monitor pins the fingerprint a
//! worker presents at first contact and records a changed one (with an alert);
//! only an admin's acceptance makes the engine trust the new certificate.

use super::persist::update;
use super::Fleet;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::worker::Worker;

impl Fleet {
    /// Pins the changed CML certificate of worker `id`; `sha256` must equal the
    /// fingerprint the worker presented. Clears the certificate alert and queues
    /// the worker so it is observed again with the new pin.
    pub async fn accept_cml_certificate(
        &self,
        id: WorkerId,
        sha256: &str,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        let worker =
            update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
                w.accept_cml_certificate(sha256, by.clone(), now)
            })
            .await?;
        self.nudge(id);
        Ok(worker)
    }
}
