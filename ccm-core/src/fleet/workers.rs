//! Imperative use cases on workers. Each one changes the spec (or records a fact)
//! with optimistic concurrency and nudges the worker controller; the controller
//! does the converging.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::context::Context;
use super::monitor::Monitor;
use super::persist::CONFLICT_RETRIES;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::{Region, WorkerId};
use crate::ports::cloud::WORKER_ID_TAG;
use crate::ports::store::{ChangeSet, Listed, PageRequest, StoreError, WorkerFilter, Write};
use crate::time::Timestamp;
use crate::worker::limits;
use crate::worker::{LifecycleState, PauseReason, ResumeReason, Worker};

/// What an operation that would take a worker or a lab from lablets does:
/// stopping, terminating or deleting a worker with lablets bound to it (booked
/// on it, their labs perhaps running there), or deleting or wiping a lablet's lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenLabletsBound {
    /// Refuse with [`CoreError::WorkerInUse`] naming them; nothing changes.
    #[default]
    Refuse,
    /// Go ahead: the lablet controller places the lablets that have not started
    /// again and ends those that have, each with the worker's loss as reason; a
    /// lablet whose lab is deleted or wiped is cancelled.
    GoAhead,
}

impl WhenLabletsBound {
    /// `GoAhead` when `force` is set.
    pub fn forced(force: bool) -> Self {
        if force {
            Self::GoAhead
        } else {
            Self::Refuse
        }
    }

    /// Refuses when `lablet` owns the lab and this says so.
    pub(crate) fn check_lab(
        self,
        worker: WorkerId,
        lab: &crate::ids::CmlLabId,
        lablet: crate::ids::LabletId,
    ) -> Result<(), DomainError> {
        if self == Self::GoAhead {
            return Ok(());
        }
        Err(DomainError::LabInUse {
            worker: worker.to_string(),
            lab: lab.to_string(),
            lablet: lablet.to_string(),
        })
    }

    /// Refuses when `worker` holds lablets and this says so.
    fn check(self, worker: &Worker) -> Result<(), DomainError> {
        let bound = &worker.status.capacity.allocations;
        if self == Self::GoAhead || bound.is_empty() {
            return Ok(());
        }
        Err(DomainError::WorkerInUse {
            worker: worker.id.to_string(),
            lablets: bound.keys().map(ToString::to_string).collect(),
        })
    }
}

/// Input to [`Fleet::create_worker`](super::Fleet::create_worker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateWorker {
    /// Worker name (also the EC2 `Name` tag).
    pub name: String,
    /// Region.
    pub region: Region,
    /// Instance type; the launch template's when `None`.
    pub instance_type: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra EC2 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Turn idle detection off for this worker.
    #[serde(default)]
    pub idle_detection_disabled: bool,
    /// A configured image by name (`cloud.launch.images`); the default image
    /// when absent.
    #[serde(default)]
    pub image: Option<String>,
    /// Who asked.
    pub created_by: Option<String>,
}

impl CreateWorker {
    /// A worker of the launch template's type and default image, with no labels
    /// or extra tags and idle detection on; set the other fields on the result.
    pub fn new(name: impl Into<String>, region: Region) -> Self {
        Self {
            name: name.into(),
            region,
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            idle_detection_disabled: false,
            image: None,
            created_by: None,
        }
    }
}

/// What [`Fleet::delete_worker`](super::Fleet::delete_worker) did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOutcome {
    /// The worker removed.
    pub worker_id: WorkerId,
    /// True when the instance was terminated first.
    pub instance_terminated: bool,
    /// Labs of lablets bound to the worker that were torn down first (a forced
    /// deletion that keeps the instance; with a terminated instance they go
    /// with it). Their lablets are placed again or end.
    #[serde(default)]
    pub labs_torn_down: Vec<String>,
    /// Such labs that could not be torn down (CML not answering), left on the
    /// instance.
    #[serde(default)]
    pub labs_left: Vec<String>,
}

/// The operator's commands on workers. Each changes the spec (or records a fact)
/// and queues the worker controller.
#[derive(Clone)]
pub(crate) struct Workers {
    ctx: Arc<Context>,
    monitor: Monitor,
}

impl Workers {
    pub(crate) fn new(ctx: Arc<Context>, monitor: Monitor) -> Self {
        Self { ctx, monitor }
    }

    /// Records a new worker; the controller launches its instance.
    pub(crate) async fn create(&self, input: CreateWorker) -> Result<Worker, CoreError> {
        limits::check_worker_name(&input.name)?;
        limits::check_client_tags(&input.tags)?;
        limits::check_tag_count(self.instance_tag_count(&input.tags))?;
        if input.region.as_str().trim().is_empty() {
            return Err(CoreError::validation("region", "must not be empty"));
        }
        self.ctx.settings.launch.image_for(input.image.as_deref())?;
        let instance_type = input
            .instance_type
            .unwrap_or_else(|| self.ctx.settings.launch.instance_type.clone());
        let now = self.ctx.now();
        let mut new = self
            .ctx
            .settings
            .new_worker(input.name, input.region, instance_type);
        new.labels = input.labels;
        new.tags = input.tags;
        new.idle.enabled = new.idle.enabled && !input.idle_detection_disabled;
        new.created_by = input.created_by;
        new.image = input.image;
        let (mut worker, event) = Worker::create(WorkerId(self.ctx.new_uuid()), new, now);
        let receipt = self
            .ctx
            .commit(ChangeSet::new().put_worker(worker.clone()).events([event]))
            .await?;
        worker.meta.version = receipt.versions.first().copied().unwrap_or(1);
        self.ctx.nudge_worker(worker.id);
        Ok(worker)
    }

    /// The workers `filter` selects, with `next_refresh_at` filled in.
    pub(crate) async fn list(&self, filter: &WorkerFilter) -> Result<Vec<Worker>, CoreError> {
        let workers = self.ctx.store.list_workers(filter).await?;
        self.monitor.with_next_refreshes(workers).await
    }

    pub(crate) async fn list_page(
        &self,
        filter: &WorkerFilter,
        page: PageRequest,
    ) -> Result<Listed<Worker>, CoreError> {
        let listed = self.ctx.store.list_workers_page(filter, page).await?;
        Ok(Listed {
            items: self.monitor.with_next_refreshes(listed.items).await?,
            total: listed.total,
        })
    }

    /// A worker by id, with `next_refresh_at` filled from the sweep's schedule.
    pub(crate) async fn get(&self, id: WorkerId) -> Result<Worker, CoreError> {
        let worker = self.ctx.worker(id).await?;
        self.monitor.with_next_refresh(worker).await
    }

    /// Asks for the worker to run.
    pub(crate) async fn start(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.request_start(ResumeReason::Manual, now))
            .await
    }

    /// Asks for the worker to stop. Checked on the record the change is made
    /// to, so a lablet bound meanwhile is not missed.
    pub(crate) async fn stop(
        &self,
        id: WorkerId,
        bound: WhenLabletsBound,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| {
            bound.check(w)?;
            w.request_stop(PauseReason::Manual, now)
        })
        .await
    }

    /// Asks for the worker's instance to be terminated.
    pub(crate) async fn terminate(
        &self,
        id: WorkerId,
        by: Option<String>,
        bound: WhenLabletsBound,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| {
            bound.check(w)?;
            w.request_terminate(by.clone(), now)
        })
        .await
    }

    /// Turns idle detection on or off.
    pub(crate) async fn set_idle_detection(
        &self,
        id: WorkerId,
        enabled: bool,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.set_idle_detection(enabled, now))
            .await
    }

    /// Sets how often the sweep observes the worker (`None`: the fleet's interval).
    pub(crate) async fn set_monitoring_interval(
        &self,
        id: WorkerId,
        seconds: Option<u32>,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.set_monitoring_interval(seconds, now))
            .await
    }

    /// Marks a worker draining (no new lablets) or not.
    pub(crate) async fn set_draining(
        &self,
        id: WorkerId,
        draining: bool,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.set_draining(draining, now))
            .await
    }

    async fn change_spec<F, E>(&self, id: WorkerId, command: F) -> Result<Worker, CoreError>
    where
        F: FnMut(&mut Worker, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
        E: Into<CoreError>,
    {
        let worker = self.ctx.update::<Worker, _, _>(id, None, command).await?;
        self.ctx.nudge_worker(id);
        Ok(worker)
    }

    /// The number of tags an instance carries with `tags`: the launch template's,
    /// the given ones, `Name` and the worker id.
    fn instance_tag_count(&self, tags: &BTreeMap<String, String>) -> usize {
        let mut keys: BTreeSet<&str> = self
            .ctx
            .settings
            .launch
            .default_tags
            .keys()
            .map(String::as_str)
            .collect();
        keys.extend(tags.keys().map(String::as_str));
        keys.extend(["Name", WORKER_ID_TAG]);
        keys.len()
    }

    /// Pins the changed CML certificate of worker `id` (trust on first use: the
    /// sweep pins the fingerprint a worker presents at first contact and records a
    /// changed one with an alert; only this acceptance makes the engine trust the
    /// new one). `sha256` must equal the fingerprint the worker presented. Clears
    /// the alert and queues the worker so it is observed again with the new pin.
    pub(crate) async fn accept_cml_certificate(
        &self,
        id: WorkerId,
        sha256: &str,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| {
            w.accept_cml_certificate(sha256, by.clone(), now)
        })
        .await
    }

    /// Sets (adds or overwrites) tags on the instance and the record. Reserved
    /// (`ccm:`, `aws:`) keys and anything over EC2's limits are refused.
    pub(crate) async fn set_tags(
        &self,
        id: WorkerId,
        tags: BTreeMap<String, String>,
    ) -> Result<Worker, CoreError> {
        limits::check_client_tags(&tags)?;
        let worker = self.ctx.worker(id).await?;
        let mut merged = worker.tags.clone();
        merged.extend(tags.clone());
        limits::check_tag_count(self.instance_tag_count(&merged))?;
        if let Some(instance) = &worker.instance_id {
            self.ctx
                .cloud
                .set_tags(&worker.region, std::slice::from_ref(instance), &tags)
                .await?;
        }
        self.ctx
            .update::<Worker, _, _>(id, None, |w, now| {
                let mut merged = w.tags.clone();
                merged.extend(tags.clone());
                w.replace_tags(merged, now)
            })
            .await
    }

    /// Removes tags by key from the instance and the record; reserved keys are
    /// refused.
    pub(crate) async fn remove_tags(
        &self,
        id: WorkerId,
        keys: Vec<String>,
    ) -> Result<Worker, CoreError> {
        for key in &keys {
            limits::check_tag_key_not_reserved(key)?;
        }
        let worker = self.ctx.worker(id).await?;
        if let Some(instance) = &worker.instance_id {
            self.ctx
                .cloud
                .remove_tags(&worker.region, std::slice::from_ref(instance), &keys)
                .await?;
        }
        self.ctx
            .update::<Worker, _, _>(id, None, |w, now| {
                let mut kept = w.tags.clone();
                kept.retain(|k, _| !keys.contains(k));
                w.replace_tags(kept, now)
            })
            .await
    }

    /// Sets the CML base URL of a worker (`None`: back to the instance's tag or
    /// address). Only `http`/`https` URLs without user info or path are taken, and
    /// the host must be the instance's own address or pass `cml.endpoint_allow`.
    pub(crate) async fn set_cml_endpoint(
        &self,
        id: WorkerId,
        url: Option<String>,
    ) -> Result<Worker, CoreError> {
        let worker = self.ctx.worker(id).await?;
        let url = match url {
            Some(text) => {
                let checked = super::endpoint::check_endpoint(
                    &worker,
                    &text,
                    &self.ctx.settings.endpoint_allow,
                )
                .map_err(|e| CoreError::validation("url", e.to_string()))?;
                if !checked.is_http() {
                    return Err(CoreError::validation(
                        "url",
                        format!("`{text}` is not an http:// or https:// URL"),
                    ));
                }
                Some(checked.to_string())
            }
            None => None,
        };
        self.change_spec(id, |w, now| w.set_cml_endpoint(url.clone(), now))
            .await
    }

    /// Turns on detailed CloudWatch monitoring.
    pub(crate) async fn enable_detailed_monitoring(
        &self,
        id: WorkerId,
    ) -> Result<Worker, CoreError> {
        let worker = self.ctx.worker(id).await?;
        let instance = worker.instance_id.clone().ok_or_else(|| {
            CoreError::validation("worker", "has no instance yet; wait for the launch")
        })?;
        self.ctx
            .cloud
            .enable_detailed_monitoring(&worker.region, &[instance])
            .await?;
        self.ctx
            .update::<Worker, _, _>(id, None, |w, now| w.mark_detailed_monitoring(now))
            .await
    }

    /// Removes a worker. With `terminate_instance`, the instance is terminated first
    /// and the record is kept if that fails, so no instance is ever orphaned.
    /// Without it, the instance keeps running unmanaged.
    pub(crate) async fn delete(
        &self,
        id: WorkerId,
        terminate_instance: bool,
        bound: WhenLabletsBound,
        by: Option<String>,
    ) -> Result<DeleteOutcome, CoreError> {
        let worker = self.ctx.worker(id).await?;
        bound.check(&worker)?;
        let live_instance = worker.instance_id.clone().filter(|_| {
            !matches!(
                worker.status.lifecycle,
                LifecycleState::Terminated | LifecycleState::ShuttingDown
            )
        });
        let mut labs = LabsOfBoundLablets::default();
        if !terminate_instance {
            labs = self.tear_down_bound_labs(&worker).await?;
        }
        let mut terminated = false;
        if terminate_instance {
            if let Some(instance) = live_instance {
                self.ctx
                    .cloud
                    .terminate(&worker.region, std::slice::from_ref(&instance))
                    .await?;
                terminated = true;
            }
        }
        let now = self.ctx.now();
        for _ in 0..CONFLICT_RETRIES {
            let mut current = self.ctx.worker(id).await?;
            // A lablet bound since the first check: refused the same way (the
            // instance, if terminated above, was asked for with the same force).
            if !terminated {
                bound.check(&current)?;
            }
            let mut events = Vec::new();
            if terminated {
                events.extend(current.request_terminate(by.clone(), now)?);
            }
            events.extend(current.request_deletion(by.clone(), now)?);
            let changes = ChangeSet::new()
                .write(Write::DeleteWorker {
                    id,
                    version: current.meta.version,
                })
                .events(events);
            match self.ctx.commit(changes).await {
                Ok(_) => {
                    return Ok(DeleteOutcome {
                        worker_id: id,
                        instance_terminated: terminated,
                        labs_torn_down: labs.torn_down,
                        labs_left: labs.left,
                    })
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable(format!("worker {id} kept changing during deletion")).into())
    }

    /// Tears down the labs of the lablets bound to `worker` (a forced deletion
    /// that leaves the instance running: the labs would outlive the record,
    /// unmanaged). Best effort: a lab CML does not take down is reported.
    async fn tear_down_bound_labs(&self, worker: &Worker) -> Result<LabsOfBoundLablets, CoreError> {
        let mut labs = LabsOfBoundLablets::default();
        let Some(ep) = self.ctx.endpoint(worker) else {
            return Ok(labs);
        };
        for id in worker.status.capacity.allocations.keys() {
            let Some(lab) = self
                .ctx
                .store
                .get_lablet(*id)
                .await?
                .and_then(|l| l.status.cml_lab_id)
            else {
                continue;
            };
            match self.ctx.cml.teardown_lab(&ep, &lab).await {
                Ok(()) => labs.torn_down.push(lab.to_string()),
                Err(error) => {
                    tracing::warn!(worker = %worker.id, %lab, %error, "lab of a lablet left on a deleted worker");
                    labs.left.push(lab.to_string());
                }
            }
        }
        Ok(labs)
    }
}

/// What [`Workers::tear_down_bound_labs`] did.
#[derive(Default)]
struct LabsOfBoundLablets {
    torn_down: Vec<String>,
    left: Vec<String>,
}
