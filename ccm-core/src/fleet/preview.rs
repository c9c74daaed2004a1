//! [`Fleet::preview_placement`]: where lablets of a definition would go now,
//! binding nothing. It places with the scheduler's own candidates
//! ([`scheduling_candidates`]: a booting worker that was observed before counts
//! as it will be) and its own request builder
//! ([`PlacementRequest::for_definition`], which `for_lablet` uses), so a preview
//! answers what the scheduler would then do.

use std::collections::BTreeMap;

use super::waves::scheduling_candidates;
use super::Fleet;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{DefinitionId, LabletId, WorkerId};
use crate::placement::{
    place, suggest_scale_up, PlacementRequest, Plan, Policy, ScaleUp, WorkerCandidate,
};
use crate::ports::store::WorkerFilter;

/// Most lablets one preview places.
pub const MAX_PREVIEW_LABLETS: usize = 1000;

/// What [`Fleet::preview_placement`] found.
#[derive(Debug, Clone)]
pub struct PlacementPreview {
    /// The policy placed by.
    pub policy: Policy,
    /// The workers considered, as the scheduler sees them; indices in `plan`
    /// refer to this list.
    pub candidates: Vec<WorkerCandidate>,
    /// Each considered worker's name.
    pub names: BTreeMap<WorkerId, String>,
    /// Where each of the previewed lablets would go, or why it would not.
    pub plan: Plan,
    /// The workers to add for what is left.
    pub scale_up: ScaleUp,
}

impl PlacementPreview {
    /// The name of worker `id` (empty for one not considered).
    pub fn name(&self, id: &WorkerId) -> String {
        self.names.get(id).cloned().unwrap_or_default()
    }
}

impl Fleet {
    /// Where `count` (1 to [`MAX_PREVIEW_LABLETS`]) new lablets of `definition`
    /// would go now with `policy` (the configured one when `None`), and the
    /// scale-up for those that fit nowhere. Reads only.
    pub async fn preview_placement(
        &self,
        definition: DefinitionId,
        count: usize,
        policy: Option<Policy>,
    ) -> Result<PlacementPreview, CoreError> {
        if count == 0 || count > MAX_PREVIEW_LABLETS {
            return Err(DomainError::validation(
                "count",
                format!("must be between 1 and {MAX_PREVIEW_LABLETS}"),
            )
            .into());
        }
        let definition = self.get_definition(definition).await?;
        let settings = self.settings();
        let workers = self
            .context
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        let names = workers
            .iter()
            .map(|w| (w.id, w.name().to_owned()))
            .collect();
        let candidates = scheduling_candidates(&workers, settings);
        // Ids that no real lablet has: they only number the requests.
        let requests: Vec<PlacementRequest> = (1..=count as u128)
            .map(|n| PlacementRequest::for_definition(LabletId::from_u128(n), &definition))
            .collect();
        let policy = policy.unwrap_or(settings.lablets.policy);
        let plan = place(&candidates, &requests, policy);
        let left: Vec<&PlacementRequest> = plan
            .unplaced
            .iter()
            .filter_map(|u| requests.get(u.request_index))
            .collect();
        let scale_up = suggest_scale_up(
            left,
            &settings.instance_types,
            &settings.autoscaler.new_worker_profile,
        );
        Ok(PlacementPreview {
            policy,
            candidates,
            names,
            plan,
            scale_up,
        })
    }
}
