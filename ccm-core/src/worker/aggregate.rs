//! Commands on a worker. Each command validates, turns its decision into events, and
//! applies them through [`Worker::apply`] — the same function that replays a log — so
//! state rebuilt from events equals the state the commands produced.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    ActivityEvent, AlertMetric, Allocation, AmiInfo, Audit, Capacity, CmlService, DesiredStatus,
    IdleSettings, LicenceState, LicenceStatus, LifecycleState, Network, PauseReason, ResumeReason,
    UnmanagedUsage, Worker, WorkerMetrics, WorkerSpec, WorkerStatus,
};
use crate::catalog::NodeCatalog;
use crate::domain_error::DomainError;
use crate::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use crate::ids::{InstanceId, LabletId, Region, WorkerId};
use crate::meta::ObjectMeta;
use crate::ports::cloud::InstanceState;
use crate::replay::{EventSourced, ReplayError};
use crate::state_machine::StateMachine;
use crate::time::{plus_seconds, Timestamp};

/// Input to [`Worker::create`] and [`Worker::import`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWorker {
    /// Worker name.
    pub name: String,
    /// AWS region.
    pub region: Region,
    /// EC2 instance type.
    pub instance_type: String,
    /// Declared capacity.
    pub capacity: Capacity,
    /// EC2 tags to apply.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Idle-detection settings.
    #[serde(default)]
    pub idle: IdleSettings,
    /// Who asked.
    pub created_by: Option<String>,
    /// The configured image to launch from, by name (`None`: the default).
    #[serde(default)]
    pub image: Option<String>,
}

/// The instance found when importing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedInstance {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Image.
    pub ami: Option<AmiInfo>,
    /// Addresses and endpoint.
    pub network: Network,
    /// EC2 state.
    pub ec2_state: InstanceState,
    /// Launch time.
    pub launched_at: Option<Timestamp>,
}

impl EventSourced for Worker {
    fn created_by(event: &DomainEvent) -> Option<Self> {
        let id = || event.subject.id.parse::<WorkerId>().ok();
        match &event.payload {
            EventPayload::WorkerCreatedV2 { request } => {
                Some(Worker::blank(id()?, request.clone(), event.occurred_at))
            }
            EventPayload::WorkerImportedV2 { request, instance } => Some(Worker::imported(
                id()?,
                request.clone(),
                instance.clone(),
                event.occurred_at,
            )),
            EventPayload::WorkerCreated { worker } | EventPayload::WorkerImported { worker } => {
                Some(Worker::clone(worker))
            }
            _ => None,
        }
    }

    fn apply(&mut self, event: &DomainEvent) -> Result<(), ReplayError> {
        Worker::apply(self, event)
    }
}

impl Worker {
    fn subject(&self) -> Subject {
        Subject {
            kind: ResourceKind::Worker,
            id: self.id.to_string(),
        }
    }

    fn blank(id: WorkerId, input: NewWorker, now: Timestamp) -> Worker {
        let mut meta = ObjectMeta::new(input.name, now);
        meta.labels = input.labels;
        Worker {
            id,
            meta,
            region: input.region,
            instance_id: None,
            instance_type: input.instance_type,
            ami: None,
            network: Network::default(),
            tags: input.tags,
            spec: WorkerSpec {
                desired_status: DesiredStatus::Running,
                idle: input.idle,
                draining: false,
                stop_reason: None,
                start_reason: None,
                monitoring_interval_seconds: None,
                cml_endpoint: None,
                image: input.image,
            },
            status: WorkerStatus {
                lifecycle: LifecycleState::Pending,
                ec2_state: None,
                reason: None,
                cml: CmlService::default(),
                licence: LicenceStatus::default(),
                metrics: WorkerMetrics::default(),
                activity: Default::default(),
                capacity: input.capacity,
                launched_at: None,
                transitioned_at: Some(now),
                terminated_at: None,
                next_refresh_at: None,
                detailed_monitoring: false,
                alerts: Default::default(),
                catalog: None,
                billing: Default::default(),
            },
            audit: Audit {
                created_by: input.created_by,
                terminated_by: None,
            },
        }
    }

    /// A new worker that the controller will launch.
    pub fn create(id: WorkerId, input: NewWorker, now: Timestamp) -> (Worker, DomainEvent) {
        let worker = Worker::blank(id, input.clone(), now);
        let event = DomainEvent::new(
            worker.subject(),
            EventPayload::WorkerCreatedV2 { request: input },
            now,
        );
        (worker, event)
    }

    /// A worker adopting an existing instance; its desired status follows what the
    /// instance is doing so importing never starts or stops anything.
    pub fn import(
        id: WorkerId,
        input: NewWorker,
        instance: ImportedInstance,
        now: Timestamp,
    ) -> (Worker, DomainEvent) {
        let worker = Worker::imported(id, input.clone(), instance.clone(), now);
        let event = DomainEvent::new(
            worker.subject(),
            EventPayload::WorkerImportedV2 {
                request: input,
                instance,
            },
            now,
        );
        (worker, event)
    }

    /// The worker [`Worker::import`] makes (and replay rebuilds from its event).
    fn imported(
        id: WorkerId,
        input: NewWorker,
        instance: ImportedInstance,
        now: Timestamp,
    ) -> Worker {
        let mut worker = Worker::blank(id, input, now);
        let lifecycle = LifecycleState::from_instance(instance.ec2_state);
        worker.instance_id = Some(instance.instance_id);
        worker.ami = instance.ami;
        worker.network = instance.network;
        worker.status.lifecycle = lifecycle;
        // Billed from its adoption: what it billed before is not ccm's to know.
        worker
            .status
            .billing
            .transition(false, lifecycle.bills_compute(), now);
        worker.status.ec2_state = Some(instance.ec2_state);
        worker.status.launched_at = instance.launched_at;
        worker.spec.desired_status = match lifecycle {
            LifecycleState::Stopped | LifecycleState::Stopping => DesiredStatus::Stopped,
            LifecycleState::Terminated | LifecycleState::ShuttingDown => DesiredStatus::Terminated,
            _ => DesiredStatus::Running,
        };
        worker
    }

    /// Applies one event. Used both by commands and by replay (see [`EventSourced`]).
    pub fn apply(&mut self, event: &DomainEvent) -> Result<(), ReplayError> {
        let now = event.occurred_at;
        match &event.payload {
            EventPayload::WorkerSpecUpdated { spec } => {
                self.spec = spec.clone();
                self.meta.generation += 1;
            }
            EventPayload::WorkerStatusUpdated {
                from,
                to,
                ec2_state,
                reason,
            } => {
                if *from != self.status.lifecycle {
                    return Err(ReplayError::OutOfOrder {
                        type_name: event.type_name(),
                        detail: format!(
                            "event starts from {} but the worker is {}",
                            from.as_str(),
                            self.status.lifecycle.as_str()
                        ),
                    });
                }
                from.check_transition(*to)?;
                self.status
                    .billing
                    .transition(from.bills_compute(), to.bills_compute(), now);
                self.status.lifecycle = *to;
                self.status.ec2_state.clone_from(ec2_state);
                self.status.reason.clone_from(reason);
                self.status.transitioned_at = Some(now);
                if *to == LifecycleState::Terminated {
                    self.status.terminated_at = Some(now);
                }
            }
            EventPayload::WorkerInstanceAssigned {
                instance_id,
                ami,
                network,
                launched_at,
            } => {
                self.instance_id = Some(instance_id.clone());
                self.ami.clone_from(ami);
                self.network = network.clone();
                self.status.launched_at = *launched_at;
            }
            EventPayload::WorkerNetworkUpdated { network } => self.network = network.clone(),
            EventPayload::WorkerCmlUpdated { cml } => self.status.cml = cml.clone(),
            EventPayload::WorkerCmlCertificateChanged { presented, .. } => {
                self.status.cml.certificate.pending_sha256 = Some(presented.clone());
            }
            EventPayload::WorkerCmlCertificateAccepted { sha256, .. } => {
                self.status.cml.certificate.pinned_sha256 = Some(sha256.clone());
                self.status.cml.certificate.pending_sha256 = None;
            }
            EventPayload::WorkerLicenceUpdated { licence } => {
                self.status.licence = licence.clone();
            }
            EventPayload::WorkerMetricsUpdated { metrics } => {
                self.status.metrics = (**metrics).clone();
            }
            EventPayload::WorkerTagsUpdated { tags } => self.tags = tags.clone(),
            EventPayload::WorkerActivityRecorded { activity } => {
                self.status.activity.record(activity.clone());
            }
            EventPayload::WorkerPaused { reason } => {
                let a = &mut self.status.activity;
                a.pause_count += 1;
                a.last_pause_reason = Some(*reason);
                a.last_paused_at = Some(now);
            }
            EventPayload::WorkerResumed {
                reason,
                snooze_until,
            } => {
                let a = &mut self.status.activity;
                a.resume_count += 1;
                a.last_resume_reason = Some(*reason);
                a.last_resumed_at = Some(now);
                a.snooze_until = Some(*snooze_until);
            }
            EventPayload::WorkerMonitoringEnabled {} => self.status.detailed_monitoring = true,
            EventPayload::WorkerCatalogSynced { catalog } => {
                self.status.catalog = Some(Arc::new((**catalog).clone()));
            }
            EventPayload::WorkerAlertRaised { metric, .. } => {
                self.status.alerts.insert(*metric);
            }
            EventPayload::WorkerAlertCleared { metric, .. } => {
                self.status.alerts.remove(metric);
            }
            EventPayload::WorkerTelemetryRead {
                high_water,
                activity,
            } => {
                for event in activity {
                    self.status.activity.record(event.clone());
                }
                self.status.activity.telemetry_high_water = Some(*high_water);
            }
            EventPayload::WorkerLicenceRegistrationStarted {} => {
                let licence = &mut self.status.licence;
                licence.state = LicenceState::RegistrationPending;
                licence.registration_requested_at = Some(now);
                licence.last_error = None;
            }
            EventPayload::WorkerLicenceRegistrationCompleted { licence } => {
                self.status.licence = licence.clone();
                self.status.licence.registration_requested_at = None;
            }
            EventPayload::WorkerLicenceRegistrationFailed { error } => {
                let licence = &mut self.status.licence;
                licence.state = LicenceState::Invalid;
                licence.registration_requested_at = None;
                licence.last_error = Some(error.clone());
            }
            EventPayload::WorkerLicenceDeregistered {} => {
                self.status.licence = LicenceStatus::default();
            }
            EventPayload::WorkerCapacityAllocated { lablet, allocation } => {
                self.status
                    .capacity
                    .allocations
                    .insert(*lablet, allocation.clone());
            }
            EventPayload::WorkerCapacityReleased { lablet } => {
                self.status.capacity.allocations.remove(lablet);
            }
            EventPayload::WorkerUnmanagedUsageObserved { usage } => {
                self.status.capacity.unmanaged = *usage;
            }
            EventPayload::WorkerTerminationRequested { by } => {
                self.audit.terminated_by.clone_from(by);
            }
            EventPayload::WorkerDeletionRequested { .. } => {
                self.meta.deletion_timestamp = Some(now);
            }
            other => {
                return Err(ReplayError::WrongKind {
                    type_name: other.type_name(),
                    kind: ResourceKind::Worker,
                })
            }
        }
        self.meta.updated_at = now;
        Ok(())
    }

    fn emit(&mut self, payload: EventPayload, now: Timestamp) -> Result<DomainEvent, DomainError> {
        let event = DomainEvent::new(self.subject(), payload, now);
        self.apply(&event).map_err(DomainError::from)?;
        Ok(event)
    }

    fn ensure_not_terminated(&self) -> Result<(), DomainError> {
        if self.status.lifecycle == LifecycleState::Terminated
            || self.spec.desired_status == DesiredStatus::Terminated
        {
            return Err(crate::state_machine::TransitionError {
                machine: "worker",
                from: self.status.lifecycle.as_str().to_owned(),
                to: "a new desired status".to_owned(),
            }
            .into());
        }
        Ok(())
    }

    fn update_spec(
        &mut self,
        now: Timestamp,
        change: impl FnOnce(&mut WorkerSpec),
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let mut spec = self.spec.clone();
        change(&mut spec);
        if spec == self.spec {
            return Ok(Vec::new());
        }
        Ok(vec![
            self.emit(EventPayload::WorkerSpecUpdated { spec }, now)?
        ])
    }

    /// Asks for the instance to run. A drain ends with it: a drain is the
    /// autoscaler's way towards a stop, and a start (an operator's or the
    /// autoscaler's own) says the worker is wanted again.
    pub fn request_start(
        &mut self,
        reason: ResumeReason,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.ensure_not_terminated()?;
        self.update_spec(now, |spec| {
            spec.desired_status = DesiredStatus::Running;
            spec.start_reason = Some(reason);
            spec.draining = false;
        })
    }

    /// Asks for the instance to stop. A drain ends with it (the stop it led to
    /// is asked for), so no stale drain outlives the stop into the next start.
    pub fn request_stop(
        &mut self,
        reason: PauseReason,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.ensure_not_terminated()?;
        self.update_spec(now, |spec| {
            spec.desired_status = DesiredStatus::Stopped;
            spec.stop_reason = Some(reason);
            spec.draining = false;
        })
    }

    /// Asks for the instance to be terminated. Repeating the request is harmless.
    pub fn request_terminate(
        &mut self,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let mut events = self.update_spec(now, |spec| {
            spec.desired_status = DesiredStatus::Terminated;
        })?;
        if by.is_some() && self.audit.terminated_by != by {
            events.push(self.emit(EventPayload::WorkerTerminationRequested { by }, now)?);
        }
        Ok(events)
    }

    /// Turns idle detection on or off.
    pub fn set_idle_detection(
        &mut self,
        enabled: bool,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.update_spec(now, |spec| spec.idle.enabled = enabled)
    }

    /// Sets how often the sweep observes this worker (`None`: the fleet's
    /// interval), within [`super::limits::check_monitoring_interval`].
    pub fn set_monitoring_interval(
        &mut self,
        seconds: Option<u32>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.ensure_not_terminated()?;
        super::limits::check_monitoring_interval(seconds)?;
        self.update_spec(now, |spec| spec.monitoring_interval_seconds = seconds)
    }

    /// Marks the worker as draining (no new lablets) or not.
    pub fn set_draining(
        &mut self,
        draining: bool,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.update_spec(now, |spec| spec.draining = draining)
    }

    /// Sets the CML base URL an admin chose (`None`: back to the instance's tag or
    /// address). The caller has checked it against the allow-list; the engine checks
    /// it again before every use.
    pub fn set_cml_endpoint(
        &mut self,
        url: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.ensure_not_terminated()?;
        self.update_spec(now, |spec| spec.cml_endpoint = url)
    }

    /// Binds a launched instance to the worker.
    pub fn assign_instance(
        &mut self,
        instance_id: InstanceId,
        ami: Option<AmiInfo>,
        network: Network,
        launched_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if let Some(existing) = &self.instance_id {
            if *existing != instance_id {
                return Err(DomainError::validation(
                    "instance_id",
                    format!("worker already bound to {existing}, refusing {instance_id}"),
                ));
            }
        }
        let unchanged = self.instance_id.as_ref() == Some(&instance_id)
            && self.ami == ami
            && self.network == network
            && self.status.launched_at == launched_at;
        if unchanged {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::WorkerInstanceAssigned {
                instance_id,
                ami,
                network,
                launched_at,
            },
            now,
        )?])
    }

    /// Records an observed lifecycle state. Emits a status event on change, plus a
    /// pause or resume event, telling ccm's own stops/starts from external ones.
    pub fn observe_lifecycle(
        &mut self,
        to: LifecycleState,
        ec2_state: Option<InstanceState>,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let from = self.status.lifecycle;
        if from == to && self.status.ec2_state == ec2_state {
            return Ok(Vec::new());
        }
        from.check_transition(to)?;
        let mut events = vec![self.emit(
            EventPayload::WorkerStatusUpdated {
                from,
                to,
                ec2_state,
                reason,
            },
            now,
        )?];
        let activity = &self.status.activity;
        let paused = activity.pause_count > activity.resume_count;
        if to == LifecycleState::Stopped && from != LifecycleState::Stopped && !paused {
            let reason = if self.spec.desired_status == DesiredStatus::Stopped {
                self.spec.stop_reason.unwrap_or(PauseReason::Manual)
            } else {
                PauseReason::External
            };
            events.push(self.emit(EventPayload::WorkerPaused { reason }, now)?);
        } else if to == LifecycleState::Running && paused {
            let reason = if self.spec.desired_status == DesiredStatus::Running {
                self.spec.start_reason.unwrap_or(ResumeReason::Manual)
            } else {
                ResumeReason::External
            };
            let snooze_until = plus_seconds(now, i64::from(self.spec.idle.snooze_minutes) * 60);
            events.push(self.emit(
                EventPayload::WorkerResumed {
                    reason,
                    snooze_until,
                },
                now,
            )?);
        }
        Ok(events)
    }

    /// Records the instance's addresses as observed.
    pub fn observe_network(
        &mut self,
        network: Network,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if network == self.network {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::WorkerNetworkUpdated { network },
            now,
        )?])
    }

    /// Records the node and image definitions read from the worker's CML. Emits
    /// only when what is offered, or the CML version it was read from, changed:
    /// a periodic re-read that finds the same catalog writes nothing.
    pub fn sync_catalog(
        &mut self,
        catalog: NodeCatalog,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if let Some(current) = &self.status.catalog {
            if current.offers_same_as(&catalog) && current.cml_version == catalog.cml_version {
                return Ok(Vec::new());
            }
        }
        Ok(vec![self.emit(
            EventPayload::WorkerCatalogSynced {
                catalog: Box::new(catalog),
            },
            now,
        )?])
    }

    /// Records what labs no lablet owns take on the worker; emits only on a change.
    pub fn observe_unmanaged_usage(
        &mut self,
        usage: UnmanagedUsage,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if usage == self.status.capacity.unmanaged {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::WorkerUnmanagedUsageObserved { usage },
            now,
        )?])
    }

    /// Records the CML service as observed.
    pub fn observe_cml(
        &mut self,
        cml: CmlService,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if cml == self.status.cml {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(EventPayload::WorkerCmlUpdated { cml }, now)?])
    }

    /// Records that CML presented `presented` where `expected` is pinned, and
    /// raises the certificate alert. Seeing the same change again emits nothing.
    pub fn observe_cml_certificate_change(
        &mut self,
        expected: String,
        presented: String,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let certificate = &self.status.cml.certificate;
        if certificate.pinned_sha256.as_ref() == Some(&presented)
            || certificate.pending_sha256.as_ref() == Some(&presented)
        {
            return Ok(Vec::new());
        }
        let mut events = vec![self.emit(
            EventPayload::WorkerCmlCertificateChanged {
                expected,
                presented,
            },
            now,
        )?];
        if !self.status.alerts.contains(&AlertMetric::CmlCertificate) {
            events.push(self.emit(
                EventPayload::WorkerAlertRaised {
                    metric: AlertMetric::CmlCertificate,
                    value: 1.0,
                    threshold: 1.0,
                },
                now,
            )?);
        }
        Ok(events)
    }

    /// Pins the changed certificate an admin vouched for; `sha256` must be the
    /// one the worker presented, so an admin cannot pin an arbitrary fingerprint.
    pub fn accept_cml_certificate(
        &mut self,
        sha256: &str,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let wanted: String = sha256
            .trim()
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        let Some(pending) = self.status.cml.certificate.pending_sha256.clone() else {
            return Err(DomainError::validation(
                "sha256",
                "the worker's CML certificate has not changed; nothing to accept",
            ));
        };
        if wanted != pending {
            return Err(DomainError::validation(
                "sha256",
                "does not match the certificate the worker presented",
            ));
        }
        let mut events = vec![self.emit(
            EventPayload::WorkerCmlCertificateAccepted {
                sha256: pending,
                by,
            },
            now,
        )?];
        if self.status.alerts.contains(&AlertMetric::CmlCertificate) {
            events.push(self.emit(
                EventPayload::WorkerAlertCleared {
                    metric: AlertMetric::CmlCertificate,
                    value: 0.0,
                },
                now,
            )?);
        }
        Ok(events)
    }

    /// Records the licence as observed.
    pub fn observe_licence(
        &mut self,
        licence: LicenceStatus,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if licence == self.status.licence {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::WorkerLicenceUpdated { licence },
            now,
        )?])
    }

    /// Replaces the tag set.
    pub fn replace_tags(
        &mut self,
        tags: BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if tags == self.tags {
            return Ok(Vec::new());
        }
        Ok(vec![
            self.emit(EventPayload::WorkerTagsUpdated { tags }, now)?
        ])
    }

    /// Records user activity.
    pub fn record_activity(
        &mut self,
        activity: ActivityEvent,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        Ok(vec![self.emit(
            EventPayload::WorkerActivityRecorded { activity },
            now,
        )?])
    }

    /// Reserves capacity for a lablet, refusing anything that would over-commit a
    /// dimension, exceed the licence's node limit, or reuse a port.
    pub fn allocate(
        &mut self,
        lablet: LabletId,
        allocation: Allocation,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let exceeded = |dimension| DomainError::CapacityExceeded {
            worker: self.id.to_string(),
            lablet: lablet.to_string(),
            dimension,
        };
        let capacity = &self.status.capacity;
        if capacity.allocations.contains_key(&lablet) {
            return Err(DomainError::validation(
                "lablet",
                format!(
                    "lablet {lablet} already holds capacity on worker {}",
                    self.id
                ),
            ));
        }
        let free = capacity.free();
        let needed = allocation.resources;
        if needed.cpu_millis > free.cpu_millis {
            return Err(exceeded("cpu"));
        }
        if needed.memory_mib > free.memory_mib {
            return Err(exceeded("memory"));
        }
        if needed.storage_gib > free.storage_gib {
            return Err(exceeded("storage"));
        }
        let node_cap = capacity
            .node_slots
            .min(self.status.licence.effective_node_limit());
        if capacity.allocated_nodes().saturating_add(allocation.nodes) > node_cap {
            return Err(exceeded("nodes"));
        }
        let taken = capacity.allocated_ports();
        let mut requested = allocation.ports.clone();
        requested.sort_unstable();
        requested.dedup();
        if requested.len() != allocation.ports.len()
            || requested
                .iter()
                .any(|p| !capacity.port_range.contains(*p) || taken.binary_search(p).is_ok())
        {
            return Err(exceeded("ports"));
        }
        Ok(vec![self.emit(
            EventPayload::WorkerCapacityAllocated { lablet, allocation },
            now,
        )?])
    }

    /// Returns a lablet's capacity. Releasing twice is harmless.
    pub fn release(
        &mut self,
        lablet: LabletId,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if !self.status.capacity.allocations.contains_key(&lablet) {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::WorkerCapacityReleased { lablet },
            now,
        )?])
    }

    /// Records that detailed monitoring was turned on.
    pub fn mark_detailed_monitoring(
        &mut self,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.detailed_monitoring {
            return Ok(Vec::new());
        }
        Ok(vec![
            self.emit(EventPayload::WorkerMonitoringEnabled {}, now)?
        ])
    }

    /// Raises or clears an alert for `metric` given its current `value`; emits
    /// only on a crossing, so each crossing alerts once.
    pub fn evaluate_alert(
        &mut self,
        metric: AlertMetric,
        value: Option<f64>,
        threshold: f64,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let raised = self.status.alerts.contains(&metric);
        let payload = if value >= threshold && !raised {
            EventPayload::WorkerAlertRaised {
                metric,
                value,
                threshold,
            }
        } else if value < threshold && raised {
            EventPayload::WorkerAlertCleared { metric, value }
        } else {
            return Ok(Vec::new());
        };
        Ok(vec![self.emit(payload, now)?])
    }

    /// Records telemetry read up to `high_water`, with the events that meant a person.
    pub fn record_telemetry(
        &mut self,
        high_water: Timestamp,
        activity: Vec<ActivityEvent>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let current = self.status.activity.telemetry_high_water;
        if current.is_some_and(|hw| hw >= high_water) && activity.is_empty() {
            return Ok(Vec::new());
        }
        let high_water = current.map_or(high_water, |hw| hw.max(high_water));
        Ok(vec![self.emit(
            EventPayload::WorkerTelemetryRead {
                high_water,
                activity,
            },
            now,
        )?])
    }

    /// Records that a licence registration was requested.
    pub fn start_licence_registration(
        &mut self,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.licence.state == LicenceState::RegistrationPending {
            return Err(DomainError::validation(
                "licence",
                "a registration is already in progress",
            ));
        }
        Ok(vec![self.emit(
            EventPayload::WorkerLicenceRegistrationStarted {},
            now,
        )?])
    }

    /// Ends a pending registration with the observed licence or an error.
    pub fn finish_licence_registration(
        &mut self,
        result: Result<LicenceStatus, String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.licence.state != LicenceState::RegistrationPending {
            return Ok(Vec::new());
        }
        let payload = match result {
            Ok(licence) => EventPayload::WorkerLicenceRegistrationCompleted { licence },
            Err(error) => EventPayload::WorkerLicenceRegistrationFailed { error },
        };
        Ok(vec![self.emit(payload, now)?])
    }

    /// Records that the licence was deregistered.
    pub fn deregister_licence(&mut self, now: Timestamp) -> Result<Vec<DomainEvent>, DomainError> {
        Ok(vec![
            self.emit(EventPayload::WorkerLicenceDeregistered {}, now)?
        ])
    }

    /// Marks the record for deletion.
    pub fn request_deletion(
        &mut self,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.meta.deletion_timestamp.is_some() {
            return Ok(Vec::new());
        }
        Ok(vec![
            self.emit(EventPayload::WorkerDeletionRequested { by }, now)?
        ])
    }
}
