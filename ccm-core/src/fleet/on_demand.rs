//! When an on-demand lablet (booked for "as soon as possible") will be ready.
//! At booking: if a worker that can host labs now takes it, the next scheduler
//! pass plus a lab import; otherwise the lead in force, which covers a worker
//! boot, the import, the passes and the margin. Afterwards the lablet
//! controller keeps the estimate true (see `LabletController::keep_estimate`):
//! a lab ready early starts now, and an estimate that passes is pushed back by
//! what is left, each move a `lablet.rescheduled.v1` event. Both read only the
//! store and the learned history, so any process answers the same.

use std::sync::Arc;

use super::context::Context;
use super::lead_time::LeadTimes;
use crate::definition::LabletDefinition;
use crate::error::CoreError;
use crate::ids::LabletId;
use crate::placement::{place, PlacementRequest, WorkerCandidate};
use crate::ports::store::WorkerFilter;

/// A lab import, until imports were observed: five minutes.
pub(crate) const DEFAULT_IMPORT_SECONDS: u32 = 300;

/// Estimates of when on-demand lablets are ready.
#[derive(Clone)]
pub(crate) struct ReadyEstimates {
    ctx: Arc<Context>,
    lead_times: LeadTimes,
}

impl ReadyEstimates {
    pub(crate) fn new(ctx: Arc<Context>, lead_times: LeadTimes) -> Self {
        Self { ctx, lead_times }
    }

    /// Seconds from now until a lablet of `definition` booked now is ready.
    pub(crate) async fn at_booking(&self, definition: &LabletDefinition) -> Result<u32, CoreError> {
        let workers = self
            .ctx
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        let ready: Vec<WorkerCandidate> = workers
            .iter()
            .filter(|w| w.can_host_labs())
            .map(WorkerCandidate::from_worker)
            .collect();
        let request = PlacementRequest::for_definition(LabletId::from_u128(0), definition);
        let plan = place(&ready, &[request], self.ctx.settings.lablets.policy);
        if plan.is_complete() {
            self.on_a_ready_worker().await
        } else {
            self.with_a_boot().await
        }
    }

    /// Seconds until a lablet whose worker can host labs is ready: the next
    /// scheduler pass and an import.
    pub(crate) async fn on_a_ready_worker(&self) -> Result<u32, CoreError> {
        let lead = self.lead_times.current().await?;
        let import = lead
            .estimates
            .iter()
            .filter_map(|e| e.import_seconds)
            .max()
            .unwrap_or(DEFAULT_IMPORT_SECONDS);
        Ok(import.saturating_add(self.ctx.settings.lablets.scheduler_interval_seconds))
    }

    /// Seconds until a lablet that needs a worker started is ready: the lead.
    pub(crate) async fn with_a_boot(&self) -> Result<u32, CoreError> {
        Ok(self.lead_times.current().await?.seconds)
    }
}
