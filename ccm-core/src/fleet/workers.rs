//! Imperative use cases on workers. Each one changes the spec (or records a fact)
//! with optimistic concurrency and nudges the worker controller; the controller
//! does the converging.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::idle::{idle_status, IdleStatus};
use super::persist::update;
use super::Fleet;
use crate::error::CoreError;
use crate::ids::{Region, WorkerId};
use crate::lablet::LabletPhase;
use crate::ports::cloud::WORKER_ID_TAG;
use crate::ports::store::{ChangeSet, LabletFilter, StoreError, Write};
use crate::worker::limits;
use crate::worker::{DesiredStatus, LifecycleState, NewWorker, PauseReason, ResumeReason, Worker};

/// Input to [`Fleet::create_worker`].
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
    /// Who asked.
    pub created_by: Option<String>,
}

/// What [`Fleet::delete_worker`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOutcome {
    /// The worker removed.
    pub worker_id: WorkerId,
    /// True when the instance was terminated first.
    pub instance_terminated: bool,
}

impl Fleet {
    /// A new-worker input with the fleet's defaults: capacity from the instance
    /// type, idle settings from the fleet settings, no labels or tags.
    pub(crate) fn worker_defaults(
        &self,
        name: String,
        region: Region,
        instance_type: String,
    ) -> NewWorker {
        NewWorker {
            capacity: super::settings::capacity_for(&self.settings.instance_types, &instance_type),
            name,
            region,
            instance_type,
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: self.settings.idle,
            created_by: None,
        }
    }

    /// Records a new worker; the controller launches its instance.
    pub async fn create_worker(&self, input: CreateWorker) -> Result<Worker, CoreError> {
        limits::check_worker_name(&input.name)?;
        limits::check_client_tags(&input.tags)?;
        limits::check_tag_count(self.instance_tag_count(&input.tags))?;
        if input.region.as_str().trim().is_empty() {
            return Err(CoreError::validation("region", "must not be empty"));
        }
        let instance_type = input
            .instance_type
            .unwrap_or_else(|| self.settings.launch.instance_type.clone());
        let now = self.clock.now();
        let mut new = self.worker_defaults(input.name, input.region, instance_type);
        new.labels = input.labels;
        new.tags = input.tags;
        new.idle.enabled = new.idle.enabled && !input.idle_detection_disabled;
        new.created_by = input.created_by;
        let (mut worker, event) = Worker::create(WorkerId::new(), new, now);
        let receipt = self
            .store
            .commit(ChangeSet::new().put_worker(worker.clone()).events([event]))
            .await?;
        worker.meta.version = receipt.versions.first().copied().unwrap_or(1);
        self.nudge(worker.id);
        Ok(worker)
    }

    /// A worker by id, with `next_refresh_at` filled from the job runner.
    pub async fn get_worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        let mut worker = self
            .store
            .get_worker(id)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                kind: "worker",
                id: id.to_string(),
            })?;
        let sweep = self.store.get_job(super::SWEEP_JOB).await?;
        worker.status.next_refresh_at = self.next_refresh_for(&worker, sweep.as_ref());
        Ok(worker)
    }

    /// Asks for the worker to run.
    pub async fn start_worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.request_start(ResumeReason::Manual, now))
            .await
    }

    /// Asks for the worker to stop.
    pub async fn stop_worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.request_stop(PauseReason::Manual, now))
            .await
    }

    /// Asks for the worker's instance to be terminated.
    pub async fn terminate_worker(
        &self,
        id: WorkerId,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.request_terminate(by.clone(), now))
            .await
    }

    /// Turns idle detection on or off.
    pub async fn set_idle_detection(
        &self,
        id: WorkerId,
        enabled: bool,
    ) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.set_idle_detection(enabled, now))
            .await
    }

    /// Marks a worker draining (no new lablets) or not.
    pub async fn set_draining(&self, id: WorkerId, draining: bool) -> Result<Worker, CoreError> {
        self.change_spec(id, |w, now| w.set_draining(draining, now))
            .await
    }

    async fn change_spec<F>(&self, id: WorkerId, command: F) -> Result<Worker, CoreError>
    where
        F: FnMut(
                &mut Worker,
                crate::time::Timestamp,
            ) -> Result<Vec<crate::event::DomainEvent>, CoreError>
            + Send,
    {
        let worker =
            update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), command).await?;
        self.nudge(id);
        Ok(worker)
    }

    /// The number of tags an instance carries with `tags`: the launch template's,
    /// the given ones, `Name` and the worker id.
    fn instance_tag_count(&self, tags: &BTreeMap<String, String>) -> usize {
        let mut keys: BTreeSet<&str> = self
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

    /// Sets (adds or overwrites) tags on the instance and the record. Reserved
    /// (`ccm:`, `aws:`) keys and anything over EC2's limits are refused.
    pub async fn set_tags(
        &self,
        id: WorkerId,
        tags: BTreeMap<String, String>,
    ) -> Result<Worker, CoreError> {
        limits::check_client_tags(&tags)?;
        let worker = self.get_worker(id).await?;
        let mut merged = worker.tags.clone();
        merged.extend(tags.clone());
        limits::check_tag_count(self.instance_tag_count(&merged))?;
        if let Some(instance) = &worker.instance_id {
            self.cloud
                .set_tags(&worker.region, std::slice::from_ref(instance), &tags)
                .await?;
        }
        update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
            let mut merged = w.tags.clone();
            merged.extend(tags.clone());
            w.replace_tags(merged, now)
        })
        .await
    }

    /// Removes tags by key from the instance and the record; reserved keys are
    /// refused.
    pub async fn remove_tags(&self, id: WorkerId, keys: Vec<String>) -> Result<Worker, CoreError> {
        for key in &keys {
            limits::check_tag_key_not_reserved(key)?;
        }
        let worker = self.get_worker(id).await?;
        if let Some(instance) = &worker.instance_id {
            self.cloud
                .remove_tags(&worker.region, std::slice::from_ref(instance), &keys)
                .await?;
        }
        update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
            let mut kept = w.tags.clone();
            kept.retain(|k, _| !keys.contains(k));
            w.replace_tags(kept, now)
        })
        .await
    }

    /// Sets the CML base URL of a worker (`None`: back to the instance's tag or
    /// address). Only `http`/`https` URLs without user info or path are taken, and
    /// the host must be the instance's own address or pass `cml.endpoint_allow`.
    pub async fn set_cml_endpoint(
        &self,
        id: WorkerId,
        url: Option<String>,
    ) -> Result<Worker, CoreError> {
        let worker = self.get_worker(id).await?;
        let url = match url {
            Some(text) => {
                let checked =
                    super::endpoint::check_endpoint(&worker, &text, &self.settings.endpoint_allow)
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
    pub async fn enable_detailed_monitoring(&self, id: WorkerId) -> Result<Worker, CoreError> {
        let worker = self.get_worker(id).await?;
        let instance = worker.instance_id.clone().ok_or_else(|| {
            CoreError::validation("worker", "has no instance yet; wait for the launch")
        })?;
        self.cloud
            .enable_detailed_monitoring(&worker.region, &[instance])
            .await?;
        update::<Worker, _>(self.store.as_ref(), id, None, self.clock.now(), |w, now| {
            w.mark_detailed_monitoring(now)
        })
        .await
    }

    /// Why the worker is or is not eligible for an idle pause, and when it would be paused.
    pub async fn idle_status(&self, id: WorkerId) -> Result<IdleStatus, CoreError> {
        let worker = self.get_worker(id).await?;
        let running = self.running_lablets_on(id).await?;
        Ok(idle_status(&worker, running, self.clock.now()))
    }

    pub(crate) async fn running_lablets_on(&self, id: WorkerId) -> Result<u32, CoreError> {
        let lablets = self
            .store
            .list_lablets(&LabletFilter {
                phases: vec![
                    LabletPhase::Scheduled,
                    LabletPhase::Instantiating,
                    LabletPhase::Ready,
                    LabletPhase::Running,
                    LabletPhase::Stopping,
                ],
                worker_id: Some(id),
                ..LabletFilter::default()
            })
            .await?;
        Ok(u32::try_from(lablets.len()).unwrap_or(u32::MAX))
    }

    /// Removes a worker. With `terminate_instance`, the instance is terminated first
    /// and the record is kept if that fails, so no instance is ever orphaned.
    /// Without it, the instance keeps running unmanaged.
    pub async fn delete_worker(
        &self,
        id: WorkerId,
        terminate_instance: bool,
        by: Option<String>,
    ) -> Result<DeleteOutcome, CoreError> {
        let worker = self.get_worker(id).await?;
        let live_instance = worker.instance_id.clone().filter(|_| {
            !matches!(
                worker.status.lifecycle,
                LifecycleState::Terminated | LifecycleState::ShuttingDown
            )
        });
        let mut terminated = false;
        if terminate_instance {
            if let Some(instance) = live_instance {
                self.cloud
                    .terminate(&worker.region, std::slice::from_ref(&instance))
                    .await?;
                terminated = true;
            }
        }
        let now = self.clock.now();
        for _ in 0..super::persist::CONFLICT_RETRIES {
            let mut current = self.get_worker(id).await?;
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
            match self.store.commit(changes).await {
                Ok(_) => {
                    return Ok(DeleteOutcome {
                        worker_id: id,
                        instance_terminated: terminated,
                    })
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable(format!("worker {id} kept changing during deletion")).into())
    }

    /// True when the worker's desired state is reached.
    pub fn is_converged(worker: &Worker) -> bool {
        worker
            .spec
            .desired_status
            .is_satisfied_by(worker.status.lifecycle)
            || (worker.spec.desired_status == DesiredStatus::Stopped
                && worker.instance_id.is_none())
    }
}
