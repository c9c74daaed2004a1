//! Lablet use cases: book, cancel, delete, list. The lablet controller and the
//! scheduler do the rest.

use super::persist::update;
use super::Fleet;
use crate::error::CoreError;
use crate::ids::{DefinitionId, LabletId};
use crate::lablet::{Lablet, NewLablet};
use crate::ports::store::{ChangeSet, LabletFilter};
use crate::time::plus_seconds;

impl Fleet {
    /// Books a lablet of a definition for an owner and a timeslot.
    pub async fn create_lablet(
        &self,
        definition_id: DefinitionId,
        input: NewLablet,
    ) -> Result<Lablet, CoreError> {
        let definition = self.get_definition(definition_id).await?;
        let now = self.clock.now();
        if input.timeslot.end <= now {
            return Err(CoreError::validation("timeslot", "ends in the past"));
        }
        let (mut lablet, event) = Lablet::create(LabletId::new(), &definition, input, now)?;
        let receipt = self
            .store
            .commit(ChangeSet::new().put_lablet(lablet.clone()).events([event]))
            .await?;
        lablet.meta.version = receipt.versions.first().copied().unwrap_or(1);
        let lead = i64::from(self.settings.lablets.lead_time_seconds);
        self.nudge_lablet_at(
            lablet.id,
            plus_seconds(lablet.spec.timeslot.start, -lead).max(now),
        );
        Ok(lablet)
    }

    /// A lablet by id.
    pub async fn get_lablet(&self, id: LabletId) -> Result<Lablet, CoreError> {
        self.store
            .get_lablet(id)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                kind: "lablet",
                id: id.to_string(),
            })
    }

    /// Lablets passing the filter, by timeslot start.
    pub async fn list_lablets(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, CoreError> {
        Ok(self.store.list_lablets(filter).await?)
    }

    /// Ends a lablet early: its lab is torn down and its capacity released.
    pub async fn cancel_lablet(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        let lablet =
            update::<Lablet, _>(self.store.as_ref(), id, None, self.clock.now(), |l, now| {
                l.cancel(by.clone(), now)
            })
            .await?;
        self.nudge_lablet(id);
        Ok(lablet)
    }

    /// Cancels a lablet and removes its record once its lab is gone.
    pub async fn delete_lablet(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        let lablet =
            update::<Lablet, _>(self.store.as_ref(), id, None, self.clock.now(), |l, now| {
                l.request_deletion(by.clone(), now)
            })
            .await?;
        self.nudge_lablet(id);
        Ok(lablet)
    }

    /// Queues every unfinished lablet (at start-up and after a leadership change,
    /// since the in-memory queue starts empty).
    pub async fn enqueue_open_lablets(&self) -> Result<usize, CoreError> {
        let lablets = self.store.list_lablets(&LabletFilter::default()).await?;
        let mut queued = 0;
        for lablet in lablets {
            let done = lablet.status.phase == crate::lablet::LabletPhase::Terminated
                && lablet.meta.deletion_timestamp.is_none();
            if !done {
                self.nudge_lablet(lablet.id);
                queued += 1;
            }
        }
        Ok(queued)
    }
}
