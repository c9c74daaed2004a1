//! What every part of the engine shares: the ports (cloud and CML behind the lease
//! gate), the settings, and the work queues of the two controllers — every
//! command ends by queueing its controller, so the queues are as widely needed as
//! the store. Each part of the engine holds it in an `Arc`.

use std::sync::Arc;

use super::endpoint::{self, EndpointChoice};
use super::persist::{self, Persisted};
use super::settings::FleetSettings;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::{LabletId, WorkerId};
use crate::ports::cml::CmlEndpoint;
use crate::ports::store::{ChangeSet, CommitReceipt, Fence, StoreError};
use crate::ports::{Clock, CloudProvider, CmlClient, IdSource, KeyValueStore, MetricSeries, Store};
use crate::runtime::group_commit::GroupCommit;
use crate::runtime::keyed_lock::{KeyedGuard, KeyedLocks};
use crate::runtime::Controller;
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::worker::{ActivityEvent, Worker};

/// The ports, the settings and the controllers' queues.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) cloud: Arc<dyn CloudProvider>,
    pub(crate) cml: Arc<dyn CmlClient>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdSource>,
    pub(crate) settings: FleetSettings,
    pub(crate) key_values: Arc<dyn KeyValueStore>,
    pub(crate) series: Option<Arc<dyn MetricSeries>>,
    pub(crate) licence_token: Option<Secret>,
    pub(crate) worker_queue: Arc<Controller<WorkerId>>,
    pub(crate) lablet_queue: Arc<Controller<LabletId>>,
    /// Turns at writing a worker record among this process's lablet passes:
    /// releases and activity of lablets on one worker queue here instead of
    /// conflicting on its version and retrying.
    pub(crate) worker_turns: Arc<KeyedLocks<WorkerId>>,
    /// Commits to `store`, those that queue behind one in flight grouped into
    /// one transaction: every commit made through the context goes through it.
    pub(crate) commits: Arc<GroupCommit>,
}

/// `value`, or [`CoreError::NotFound`] naming `kind` and `id`.
pub(crate) fn found<T>(
    value: Option<T>,
    kind: &'static str,
    id: impl ToString,
) -> Result<T, CoreError> {
    value.ok_or_else(|| {
        DomainError::NotFound {
            kind,
            id: id.to_string(),
        }
        .into()
    })
}

impl Context {
    /// Now, by the engine's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A fresh identifier from the engine's id source.
    pub(crate) fn new_uuid(&self) -> uuid::Uuid {
        self.ids.next_uuid()
    }

    /// Commits `changes`, its events identified by the engine's id source.
    pub(crate) async fn commit(&self, changes: ChangeSet) -> Result<CommitReceipt, StoreError> {
        self.commits
            .commit(changes.identified_by(self.ids.as_ref()))
            .await
    }

    /// Queues the worker controller for `id` now.
    pub(crate) fn nudge_worker(&self, id: WorkerId) {
        self.worker_queue.enqueue(id);
    }

    /// Queues the lablet controller for `id` now.
    pub(crate) fn nudge_lablet(&self, id: LabletId) {
        self.lablet_queue.enqueue(id);
    }

    /// Queues the lablet controller for `id` at `at`.
    pub(crate) fn nudge_lablet_at(&self, id: LabletId, at: Timestamp) {
        self.lablet_queue.enqueue_at(id, at);
    }

    /// A stored worker, or `NotFound`.
    pub(crate) async fn worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        found(self.store.get_worker(id).await?, "worker", id)
    }

    /// Applies `command` to the stored resource now and commits it with its
    /// events (see [`persist::update`]).
    pub(crate) async fn update<R, F, E>(
        &self,
        id: R::Id,
        fence: Option<&Fence>,
        command: F,
    ) -> Result<R, CoreError>
    where
        R: Persisted,
        F: FnMut(&mut R, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
        E: Into<CoreError>,
    {
        persist::update(
            &self.commits,
            self.ids.as_ref(),
            id,
            fence,
            self.now(),
            command,
        )
        .await
    }

    /// [`Context::update`] starting from `read`, the caller's fresh copy (see
    /// [`persist::update_read`]).
    pub(crate) async fn update_read<R, F, E>(
        &self,
        read: R,
        fence: Option<&Fence>,
        command: F,
    ) -> Result<R, CoreError>
    where
        R: Persisted,
        F: FnMut(&mut R, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
        E: Into<CoreError>,
    {
        persist::update_read(
            &self.commits,
            self.ids.as_ref(),
            read,
            fence,
            self.now(),
            command,
        )
        .await
    }

    /// This process's turn at writing worker `id`'s record (see
    /// [`Context::worker_turns`]); held until the guard drops.
    pub(crate) async fn worker_turn(&self, id: WorkerId) -> KeyedGuard<'_, WorkerId> {
        self.worker_turns.lock(id).await
    }

    /// Records activity on a worker (it resets the worker's idle timer).
    pub(crate) async fn note_activity(
        &self,
        worker_id: WorkerId,
        source: &str,
        detail: String,
        fence: Option<&Fence>,
    ) -> Result<(), CoreError> {
        let _turn = self.worker_turn(worker_id).await;
        self.update::<Worker, _, _>(worker_id, fence, |w, now| {
            w.record_activity(
                ActivityEvent {
                    at: now,
                    source: source.to_owned(),
                    detail: detail.clone(),
                },
                now,
            )
        })
        .await?;
        Ok(())
    }

    /// The worker's CML endpoint, refused, or missing. Every CML call goes through
    /// here, so no credentials reach a host outside the allow-list.
    pub(crate) fn endpoint_choice(&self, worker: &Worker) -> EndpointChoice {
        endpoint::choose(
            worker,
            self.settings.endpoint_address,
            &self.settings.endpoint_allow,
        )
    }

    /// The worker's CML endpoint when ccm may call it.
    pub(crate) fn endpoint(&self, worker: &Worker) -> Option<CmlEndpoint> {
        match self.endpoint_choice(worker) {
            EndpointChoice::Allowed(ep) => Some(ep),
            EndpointChoice::Refused { .. } | EndpointChoice::Missing => None,
        }
    }

    /// The endpoint for an operation on the worker's CML, refused unless the worker
    /// runs and CML is available.
    pub(crate) fn endpoint_for_operations(
        &self,
        worker: &Worker,
    ) -> Result<CmlEndpoint, CoreError> {
        if let EndpointChoice::Refused { reason, .. } = self.endpoint_choice(worker) {
            return Err(CoreError::validation("cml_endpoint", reason));
        }
        if !worker.can_host_labs() {
            return Err(CoreError::validation(
                "worker",
                format!(
                    "worker `{}` is {} with CML {:?}; labs need a running worker with CML available",
                    worker.name(),
                    worker.status.lifecycle.as_str(),
                    worker.status.cml.state
                ),
            ));
        }
        self.endpoint(worker)
            .ok_or_else(|| CoreError::validation("worker", "has no address to reach CML on"))
    }
}
