//! When each worker's lablets end, for placement by lifetime
//! ([`Policy::Lifetime`](crate::placement::Policy::Lifetime)). A worker record
//! holds its allocations but not their end times, which live on the lablets and
//! move when one is extended; so they are read from the lablets bound to
//! workers, and only when that policy is configured (one list per pass).

use std::collections::HashMap;

use super::context::Context;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::lablet::LabletPhase;
use crate::placement::WorkerCandidate;
use crate::ports::store::LabletFilter;
use crate::time::Timestamp;

/// Phases in which a lablet holds capacity on its worker.
const HOLDING: [LabletPhase; 5] = [
    LabletPhase::Scheduled,
    LabletPhase::Instantiating,
    LabletPhase::Ready,
    LabletPhase::Running,
    LabletPhase::Stopping,
];

/// Sets each candidate's `busy_until` to the latest end among the lablets it
/// holds, when the configured policy places by lifetime; otherwise leaves the
/// candidates as they are and reads nothing.
pub(crate) async fn mark_busy_until(
    ctx: &Context,
    candidates: &mut [WorkerCandidate],
) -> Result<(), CoreError> {
    if !ctx.settings.lablets.policy.is_timed() || candidates.is_empty() {
        return Ok(());
    }
    let bound = ctx
        .store
        .list_lablets(&LabletFilter {
            phases: HOLDING.to_vec(),
            ..LabletFilter::default()
        })
        .await?;
    let mut ends: HashMap<WorkerId, Timestamp> = HashMap::new();
    for lablet in &bound {
        if let Some(worker) = lablet.status.worker_id {
            let end = lablet.spec.timeslot.end;
            ends.entry(worker)
                .and_modify(|at| *at = (*at).max(end))
                .or_insert(end);
        }
    }
    for candidate in candidates {
        candidate.busy_until = ends.get(&candidate.id).copied();
    }
    Ok(())
}
