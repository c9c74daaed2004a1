//! The operator-facing use cases of [`Fleet`]: what the API, the bindings and the
//! operator commands call, each handed to the part of the engine that owns it.

use std::collections::BTreeMap;

use super::idle::IdleStatus;
use super::{
    CreateWorker, DeleteOutcome, Fleet, ImportMatching, ImportReport, LabAction, OnDemandLablet,
    RefreshOutcome, WhenLabletsBound,
};
use crate::definition::{LabletDefinition, NewDefinition};
use crate::error::CoreError;
use crate::ids::{CmlLabId, DefinitionId, InstanceId, LabletId, Region, WorkerId};
use crate::lab::LabRecord;
use crate::lablet::{Lablet, NewLablet};
use crate::ports::metric_series::MetricPoint;
use crate::ports::store::{
    DefinitionFilter, Fence, LabletFilter, Listed, PageRequest, WorkerFilter,
};
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::worker::Worker;

impl Fleet {
    // Workers.

    /// Records a new worker; the controller launches its instance.
    pub async fn create_worker(&self, input: CreateWorker) -> Result<Worker, CoreError> {
        self.workers.create(input).await
    }

    /// The workers `filter` selects, in the store's order, each with
    /// `next_refresh_at` filled from the sweep's schedule: two store reads
    /// whatever the number of workers.
    pub async fn list_workers(&self, filter: &WorkerFilter) -> Result<Vec<Worker>, CoreError> {
        self.workers.list(filter).await
    }

    /// One page of [`Fleet::list_workers`] and the number of workers the filter
    /// selects: two store reads, and only the page's workers are read.
    pub async fn list_workers_page(
        &self,
        filter: &WorkerFilter,
        page: PageRequest,
    ) -> Result<Listed<Worker>, CoreError> {
        self.workers.list_page(filter, page).await
    }

    /// A worker by id, with `next_refresh_at` filled from the sweep's schedule.
    pub async fn get_worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.workers.get(id).await
    }

    /// Asks for the worker to run.
    pub async fn start_worker(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.workers.start(id).await
    }

    /// Asks for the worker to stop. With lablets bound to it, refused
    /// ([`CoreError::WorkerInUse`] naming them) unless `bound` says go ahead.
    pub async fn stop_worker(
        &self,
        id: WorkerId,
        bound: WhenLabletsBound,
    ) -> Result<Worker, CoreError> {
        self.workers.stop(id, bound).await
    }

    /// Asks for the worker's instance to be terminated; lablets bound to it are
    /// treated as by [`Fleet::stop_worker`].
    pub async fn terminate_worker(
        &self,
        id: WorkerId,
        by: Option<String>,
        bound: WhenLabletsBound,
    ) -> Result<Worker, CoreError> {
        self.workers.terminate(id, by, bound).await
    }

    /// Turns idle detection on or off.
    pub async fn set_idle_detection(
        &self,
        id: WorkerId,
        enabled: bool,
    ) -> Result<Worker, CoreError> {
        self.workers.set_idle_detection(id, enabled).await
    }

    /// Sets how often the sweep observes the worker: 60 s to a day, or `None`
    /// for the fleet's `monitoring_interval_seconds`.
    pub async fn set_monitoring_interval(
        &self,
        id: WorkerId,
        seconds: Option<u32>,
    ) -> Result<Worker, CoreError> {
        let worker = self.workers.set_monitoring_interval(id, seconds).await?;
        // The sweep's period follows the shortest interval in force, in the
        // stored job record, so whichever process leads honours it now.
        let period = self.sweep_period().await?;
        crate::runtime::job_runner::reschedule_every(
            self.context.store.as_ref(),
            super::SWEEP_JOB,
            period,
            self.context.now(),
        )
        .await?;
        Ok(worker)
    }

    /// Marks a worker draining (no new lablets) or not.
    pub async fn set_draining(&self, id: WorkerId, draining: bool) -> Result<Worker, CoreError> {
        self.workers.set_draining(id, draining).await
    }

    /// Sets (adds or overwrites) tags on the instance and the record. Reserved
    /// (`ccm:`, `aws:`) keys and anything over EC2's limits are refused.
    pub async fn set_tags(
        &self,
        id: WorkerId,
        tags: BTreeMap<String, String>,
    ) -> Result<Worker, CoreError> {
        self.workers.set_tags(id, tags).await
    }

    /// Removes tags by key from the instance and the record; reserved keys are
    /// refused.
    pub async fn remove_tags(&self, id: WorkerId, keys: Vec<String>) -> Result<Worker, CoreError> {
        self.workers.remove_tags(id, keys).await
    }

    /// Sets the CML base URL of a worker (`None`: back to the instance's tag or
    /// address). Only `http`/`https` URLs without user info or path are taken, and
    /// the host must be the instance's own address or pass `cml.endpoint_allow`.
    pub async fn set_cml_endpoint(
        &self,
        id: WorkerId,
        url: Option<String>,
    ) -> Result<Worker, CoreError> {
        self.workers.set_cml_endpoint(id, url).await
    }

    /// Pins the changed CML certificate of worker `id`; `sha256` must equal the
    /// fingerprint the worker presented. Clears the certificate alert and queues
    /// the worker so it is observed again with the new pin.
    pub async fn accept_cml_certificate(
        &self,
        id: WorkerId,
        sha256: &str,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        self.workers.accept_cml_certificate(id, sha256, by).await
    }

    /// Turns on detailed CloudWatch monitoring.
    pub async fn enable_detailed_monitoring(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.workers.enable_detailed_monitoring(id).await
    }

    /// Removes a worker. With `terminate_instance`, the instance is terminated first
    /// and the record is kept if that fails, so no instance is ever orphaned.
    /// Without it, the instance keeps running unmanaged. Lablets bound to it are
    /// treated as by [`Fleet::stop_worker`].
    pub async fn delete_worker(
        &self,
        id: WorkerId,
        terminate_instance: bool,
        bound: WhenLabletsBound,
        by: Option<String>,
    ) -> Result<DeleteOutcome, CoreError> {
        self.workers.delete(id, terminate_instance, bound, by).await
    }

    /// Why the worker is or is not eligible for an idle pause, and when it would be paused.
    pub async fn idle_status(&self, id: WorkerId) -> Result<IdleStatus, CoreError> {
        self.idle_pause.status(id).await
    }

    /// Asks the worker's CML to register with `token` (or the configured token).
    pub async fn register_licence(
        &self,
        id: WorkerId,
        token: Option<Secret>,
    ) -> Result<Worker, CoreError> {
        self.licences.register(id, token).await
    }

    /// Deregisters the worker's CML licence.
    pub async fn deregister_licence(&self, id: WorkerId) -> Result<Worker, CoreError> {
        self.licences.deregister(id).await
    }

    /// Imports one instance by id. Refuses an instance that is already a worker.
    pub async fn import_instance(
        &self,
        region: Region,
        instance_id: InstanceId,
        name: Option<String>,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        self.imports
            .import_instance(region, instance_id, name, by)
            .await
    }

    /// Imports every instance matching the criteria that is not a worker yet,
    /// reporting what was imported and what was skipped with reasons.
    pub async fn import_matching(&self, input: ImportMatching) -> Result<ImportReport, CoreError> {
        self.imports.import_matching(input).await
    }

    // Observation.

    /// Observes one worker now, unless the next sweep is due within the
    /// coalescing window (then the request is merged into it).
    pub async fn refresh_now(&self, id: WorkerId) -> Result<RefreshOutcome, CoreError> {
        self.monitor.refresh_now(id).await
    }

    /// A worker's metric series since `since` (up to now), averaged per `step_seconds`.
    pub async fn metrics_series(
        &self,
        worker: WorkerId,
        since: Timestamp,
        step_seconds: u32,
    ) -> Result<Vec<MetricPoint>, CoreError> {
        self.monitor
            .metrics_series(worker, since, step_seconds)
            .await
    }

    // Labs.

    /// Lab records of a worker (gone ones too when asked).
    pub async fn list_labs(
        &self,
        worker_id: WorkerId,
        include_gone: bool,
    ) -> Result<Vec<LabRecord>, CoreError> {
        self.labs.list(worker_id, include_gone).await
    }

    /// Mirrors one worker's labs. Returns how many labs CML reported.
    pub async fn sync_worker_labs(
        &self,
        worker_id: WorkerId,
        fence: Option<&Fence>,
    ) -> Result<usize, CoreError> {
        self.labs.sync_worker(worker_id, fence).await
    }

    /// Runs an operation on a lab, records it in the lab's history, and re-syncs
    /// the worker's labs. Deleting or wiping the lab of a lablet is refused
    /// ([`CoreError::LabInUse`]) unless `bound` says go ahead; then the lablet is
    /// cancelled once its lab is gone or wiped.
    pub async fn lab_action(
        &self,
        worker_id: WorkerId,
        lab: &CmlLabId,
        action: LabAction,
        bound: WhenLabletsBound,
        by: Option<String>,
    ) -> Result<Vec<LabRecord>, CoreError> {
        let owner = if action.destroys() {
            self.lablets.owner_of_lab(worker_id, lab).await?
        } else {
            None
        };
        if let Some(owner) = owner {
            bound.check_lab(worker_id, lab, owner)?;
        }
        let labs = self.labs.action(worker_id, lab, action, by.clone()).await?;
        if let Some(owner) = owner {
            self.lablets.cancel_if_open(owner, by).await?;
        }
        Ok(labs)
    }

    /// Imports a topology as a new lab on the worker.
    pub async fn import_lab(
        &self,
        worker_id: WorkerId,
        topology_yaml: &str,
        title: Option<&str>,
        by: Option<String>,
    ) -> Result<LabRecord, CoreError> {
        self.labs.import(worker_id, topology_yaml, title, by).await
    }

    /// The lab's topology as CML exports it (YAML).
    pub async fn download_lab(
        &self,
        worker_id: WorkerId,
        lab: &CmlLabId,
    ) -> Result<String, CoreError> {
        self.labs.download(worker_id, lab).await
    }

    // Definitions and lablets.

    /// Creates a definition (or a new version of one). The topology must be valid
    /// CML YAML; the node count comes from it. A version must be newer than every
    /// stored version of the same name.
    pub async fn create_definition(
        &self,
        input: NewDefinition,
    ) -> Result<LabletDefinition, CoreError> {
        self.definitions.create(input).await
    }

    /// A definition by id.
    pub async fn get_definition(&self, id: DefinitionId) -> Result<LabletDefinition, CoreError> {
        self.definitions.get(id).await
    }

    /// Definitions passing the filter.
    pub async fn list_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, CoreError> {
        self.definitions.list(filter).await
    }

    /// Activates or deactivates a definition; inactive ones accept no new lablets.
    pub async fn set_definition_active(
        &self,
        id: DefinitionId,
        active: bool,
    ) -> Result<LabletDefinition, CoreError> {
        self.definitions.set_active(id, active).await
    }

    /// Books a lablet of a definition for an owner and a timeslot.
    pub async fn create_lablet(
        &self,
        definition_id: DefinitionId,
        input: NewLablet,
    ) -> Result<Lablet, CoreError> {
        self.lablets.create(definition_id, input).await
    }

    /// A lablet by id.
    pub async fn get_lablet(&self, id: LabletId) -> Result<Lablet, CoreError> {
        self.lablets.get(id).await
    }

    /// Lablets passing the filter, by timeslot start.
    pub async fn list_lablets(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, CoreError> {
        self.lablets.list(filter).await
    }

    /// One page of [`Fleet::list_lablets`] and the number of lablets the filter
    /// selects: one store read, of the page's lablets only.
    pub async fn list_lablets_page(
        &self,
        filter: &LabletFilter,
        page: PageRequest,
    ) -> Result<Listed<Lablet>, CoreError> {
        self.lablets.list_page(filter, page).await
    }

    /// Ends a lablet early: its lab is torn down and its capacity released.
    pub async fn cancel_lablet(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        self.lablets.cancel(id, by).await
    }

    /// Books a lablet for as soon as possible. Its timeslot starts at the
    /// estimated ready time — a worker's next scheduler pass and a lab import
    /// when one can take it now, else the lead in force — and the engine moves
    /// it (`lablet.rescheduled.v1`) when the lab is ready sooner or later.
    pub async fn create_on_demand_lablet(
        &self,
        definition_id: DefinitionId,
        input: OnDemandLablet,
    ) -> Result<Lablet, CoreError> {
        self.lablets.create_on_demand(definition_id, input).await
    }

    /// Moves a lablet's end later, to `until`, within its definition's longest
    /// session; refused for a lablet that ended or was cancelled, and while its
    /// worker is being taken down.
    pub async fn extend_lablet(
        &self,
        id: LabletId,
        until: Timestamp,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        self.lablets.extend(id, until, by).await
    }

    /// Cancels a lablet and removes its record once its lab is gone.
    pub async fn delete_lablet(
        &self,
        id: LabletId,
        by: Option<String>,
    ) -> Result<Lablet, CoreError> {
        self.lablets.delete(id, by).await
    }
}
