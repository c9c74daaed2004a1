//! Lablet use cases: book, cancel, delete, list. The lablet controller and the
//! scheduler do the rest.

use std::sync::Arc;

use super::context::{found, Context};
use super::definitions::Definitions;
use super::on_demand::ReadyEstimates;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{CmlLabId, DefinitionId, LabletId, WorkerId};
use crate::lablet::{Lablet, NewLablet, Timeslot};
use crate::ports::store::{ChangeSet, LabletFilter, Listed, PageRequest};
use crate::time::{plus_seconds, Timestamp};
use crate::worker::DesiredStatus;

/// The operator's commands on lablets.
#[derive(Clone)]
pub(crate) struct Lablets {
    ctx: Arc<Context>,
    definitions: Definitions,
    estimates: ReadyEstimates,
}

/// A booking for as soon as possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnDemandLablet {
    /// Owner.
    pub owner: String,
    /// How long the session lasts once ready, minutes (at most the
    /// definition's `max_duration_minutes`).
    pub duration_minutes: u32,
    /// External reservation id.
    pub reservation_id: Option<String>,
}

impl Lablets {
    pub(crate) fn new(
        ctx: Arc<Context>,
        definitions: Definitions,
        estimates: ReadyEstimates,
    ) -> Self {
        Self {
            ctx,
            definitions,
            estimates,
        }
    }

    /// Books a lablet for as soon as possible: its timeslot starts at the
    /// estimated ready time (see `on_demand`) and lasts `duration_minutes`.
    pub(crate) async fn create_on_demand(
        &self,
        definition_id: DefinitionId,
        input: OnDemandLablet,
    ) -> Result<Lablet, CoreError> {
        let definition = self.definitions.get(definition_id).await?;
        let longest = definition.max_duration_minutes;
        if input.duration_minutes == 0 || input.duration_minutes > longest {
            return Err(CoreError::validation(
                "duration_minutes",
                format!("must be within 1..={longest} (the definition's longest session)"),
            ));
        }
        let ready_in = self.estimates.at_booking(&definition).await?;
        let start = plus_seconds(self.ctx.now(), i64::from(ready_in));
        let end = plus_seconds(start, i64::from(input.duration_minutes) * 60);
        self.create(
            definition_id,
            NewLablet {
                owner: input.owner,
                timeslot: Timeslot { start, end },
                reservation_id: input.reservation_id,
                on_demand: true,
            },
        )
        .await
    }

    /// Books a lablet of a definition for an owner and a timeslot.
    pub(crate) async fn create(
        &self,
        definition_id: DefinitionId,
        input: NewLablet,
    ) -> Result<Lablet, CoreError> {
        let definition = self.definitions.get(definition_id).await?;
        let now = self.ctx.now();
        if input.timeslot.end <= now {
            return Err(CoreError::validation("timeslot", "ends in the past"));
        }
        let (mut lablet, event) =
            Lablet::create(LabletId(self.ctx.new_uuid()), &definition, input, now)?;
        let receipt = self
            .ctx
            .commit(ChangeSet::new().put_lablet(lablet.clone()).events([event]))
            .await?;
        lablet.meta.version = receipt.versions.first().copied().unwrap_or(1);
        let lead = i64::from(self.ctx.settings.lablets.lead_time_seconds);
        self.ctx.nudge_lablet_at(
            lablet.id,
            plus_seconds(lablet.spec.timeslot.start, -lead).max(now),
        );
        Ok(lablet)
    }

    /// A lablet by id.
    pub(crate) async fn get(&self, id: LabletId) -> Result<Lablet, CoreError> {
        found(self.ctx.store.get_lablet(id).await?, "lablet", id)
    }

    /// Lablets passing the filter, by timeslot start.
    pub(crate) async fn list(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, CoreError> {
        Ok(self.ctx.store.list_lablets(filter).await?)
    }

    /// One page of [`Self::list`] and how many lablets the filter selects.
    pub(crate) async fn list_page(
        &self,
        filter: &LabletFilter,
        page: PageRequest,
    ) -> Result<Listed<Lablet>, CoreError> {
        Ok(self.ctx.store.list_lablets_page(filter, page).await?)
    }

    /// Ends a lablet early: its lab is torn down and its capacity released.
    pub(crate) async fn cancel(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        let lablet = self
            .ctx
            .update::<Lablet, _, _>(id, None, |l, now| l.cancel(by.clone(), now))
            .await?;
        self.ctx.nudge_lablet(id);
        Ok(lablet)
    }

    /// Moves a lablet's end to `until` (within its definition's longest session).
    /// Its capacity stays allocated on its worker until it ends, and no later
    /// booking counts on it before then, so an extension never over-commits the
    /// worker; it is refused while the worker is being stopped or terminated.
    pub(crate) async fn extend(
        &self,
        id: LabletId,
        until: Timestamp,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        let current = self.get(id).await?;
        let definition = self.definitions.get(current.spec.definition_id).await?;
        if let Some(worker_id) = current.status.worker_id {
            if let Some(worker) = self.ctx.store.get_worker(worker_id).await? {
                if worker.spec.desired_status != DesiredStatus::Running {
                    return Err(DomainError::CapacityExceeded {
                        worker: worker.name().to_owned(),
                        lablet: id.to_string(),
                        dimension: "time (the worker is being taken down)",
                    }
                    .into());
                }
            }
        }
        let longest = definition.max_duration_minutes;
        let lablet = self
            .ctx
            .update::<Lablet, _, _>(id, None, |l, now| l.extend(until, longest, by.clone(), now))
            .await?;
        self.ctx.nudge_lablet(id);
        Ok(lablet)
    }

    /// The unfinished lablet whose lab `lab` on `worker` is, if any.
    pub(crate) async fn owner_of_lab(
        &self,
        worker: WorkerId,
        lab: &CmlLabId,
    ) -> Result<Option<LabletId>, CoreError> {
        let filter = LabletFilter {
            worker_id: Some(worker),
            ..LabletFilter::default()
        };
        Ok(self
            .ctx
            .store
            .list_lablets(&filter)
            .await?
            .into_iter()
            .find(|l| l.status.cml_lab_id.as_ref() == Some(lab) && !l.status.phase.is_finished())
            .map(|l| l.id))
    }

    /// Cancels a lablet unless it has finished meanwhile (its lab was taken by
    /// force: what is left of it ends).
    pub(crate) async fn cancel_if_open(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<(), CoreError> {
        match self.cancel(id, by).await {
            Ok(_)
            | Err(
                CoreError::Domain(DomainError::InvalidTransition(_))
                | CoreError::Domain(DomainError::NotFound { .. }),
            ) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Cancels a lablet and removes its record once its lab is gone.
    pub(crate) async fn delete(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        let lablet = self
            .ctx
            .update::<Lablet, _, _>(id, None, |l, now| l.request_deletion(by.clone(), now))
            .await?;
        self.ctx.nudge_lablet(id);
        Ok(lablet)
    }
}
