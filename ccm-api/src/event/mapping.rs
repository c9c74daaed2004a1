//! The mapping of the domain's event payloads onto [`EventData`]: an exhaustive
//! match, so a new domain event type does not compile until it is mapped.

use ccm_core::event::EventPayload as P;

use super::data::{EmptyEventData, EventData, FieldChange};
use super::payload;
use crate::definition::LabletDefinition;
use crate::lab::{LabOperation, LabRecord};
use crate::lablet::{Lablet, LabletAccess, Timeslot};
use crate::worker::{
    ActivityEvent, Allocation, AmiInfo, Capacity, CmlService, IdleSettings, InstanceState,
    LicenceStatus, NodeCatalog, UnmanagedUsage, Worker, WorkerMetrics, WorkerNetwork, WorkerSpec,
};

impl From<&P> for EventData {
    fn from(domain: &P) -> Self {
        match domain {
            P::WorkerCreatedV2 { request } => Self::WorkerCreatedV2(payload::WorkerCreatedV2 {
                request: payload::WorkerRequest::from(request),
            }),
            P::WorkerImportedV2 { request, instance } => {
                Self::WorkerImportedV2(payload::WorkerImportedV2 {
                    request: payload::WorkerRequest::from(request),
                    instance: payload::ImportedInstance::from(instance),
                })
            }
            P::WorkerCreated { worker } => Self::WorkerCreated(payload::WorkerCreated {
                worker: Box::new(Worker::from(worker.as_ref())),
            }),
            P::WorkerImported { worker } => Self::WorkerImported(payload::WorkerImported {
                worker: Box::new(Worker::from(worker.as_ref())),
            }),
            P::WorkerSpecUpdated { spec } => Self::WorkerSpecUpdated(payload::WorkerSpecUpdated {
                spec: WorkerSpec::from(spec),
            }),
            P::WorkerStatusUpdated {
                from,
                to,
                ec2_state,
                reason,
            } => Self::WorkerStatusUpdated(payload::WorkerStatusUpdated {
                from: (*from).into(),
                to: (*to).into(),
                ec2_state: ec2_state.map(InstanceState::from),
                reason: reason.clone(),
            }),
            P::WorkerInstanceAssigned {
                instance_id,
                ami,
                network,
                launched_at,
            } => Self::WorkerInstanceAssigned(payload::WorkerInstanceAssigned {
                instance_id: instance_id.0.clone(),
                ami: ami.as_ref().map(AmiInfo::from),
                network: WorkerNetwork::from(network),
                launched_at: *launched_at,
            }),
            P::WorkerNetworkUpdated { network } => {
                Self::WorkerNetworkUpdated(payload::WorkerNetworkUpdated {
                    network: WorkerNetwork::from(network),
                })
            }
            P::WorkerCmlUpdated { cml } => Self::WorkerCmlUpdated(payload::WorkerCmlUpdated {
                cml: CmlService::from(cml),
            }),
            P::WorkerCmlCertificateChanged {
                expected,
                presented,
            } => Self::WorkerCmlCertificateChanged(payload::WorkerCmlCertificateChanged {
                expected: expected.clone(),
                presented: presented.clone(),
            }),
            P::WorkerCmlCertificateAccepted { sha256, by } => {
                Self::WorkerCmlCertificateAccepted(payload::WorkerCmlCertificateAccepted {
                    sha256: sha256.clone(),
                    by: by.clone(),
                })
            }
            P::WorkerLicenceUpdated { licence } => {
                Self::WorkerLicenceUpdated(payload::WorkerLicenceUpdated {
                    licence: LicenceStatus::from(licence),
                })
            }
            P::WorkerMetricsUpdated { metrics } => {
                Self::WorkerMetricsUpdated(payload::WorkerMetricsUpdated {
                    metrics: Box::new(WorkerMetrics::from(metrics.as_ref())),
                })
            }
            P::WorkerTagsUpdated { tags } => {
                Self::WorkerTagsUpdated(payload::WorkerTagsUpdated { tags: tags.clone() })
            }
            P::WorkerActivityRecorded { activity } => {
                Self::WorkerActivityRecorded(payload::WorkerActivityRecorded {
                    activity: ActivityEvent::from(activity),
                })
            }
            P::WorkerPaused { reason } => Self::WorkerPaused(payload::WorkerPaused {
                reason: (*reason).into(),
            }),
            P::WorkerResumed {
                reason,
                snooze_until,
            } => Self::WorkerResumed(payload::WorkerResumed {
                reason: (*reason).into(),
                snooze_until: *snooze_until,
            }),
            P::WorkerMonitoringEnabled {} => Self::WorkerMonitoringEnabled(EmptyEventData {}),
            P::WorkerCatalogSynced { catalog } => {
                Self::WorkerCatalogSynced(payload::WorkerCatalogSynced {
                    catalog: Box::new(NodeCatalog::from(catalog.as_ref())),
                })
            }
            P::WorkerAlertRaised {
                metric,
                value,
                threshold,
            } => Self::WorkerAlertRaised(payload::WorkerAlertRaised {
                metric: (*metric).into(),
                value: *value,
                threshold: *threshold,
            }),
            P::WorkerAlertCleared { metric, value } => {
                Self::WorkerAlertCleared(payload::WorkerAlertCleared {
                    metric: (*metric).into(),
                    value: *value,
                })
            }
            P::WorkerTelemetryRead {
                high_water,
                activity,
            } => Self::WorkerTelemetryRead(payload::WorkerTelemetryRead {
                high_water: *high_water,
                activity: activity.iter().map(ActivityEvent::from).collect(),
            }),
            P::WorkerLicenceRegistrationStarted {} => {
                Self::WorkerLicenceRegistrationStarted(EmptyEventData {})
            }
            P::WorkerLicenceRegistrationCompleted { licence } => {
                Self::WorkerLicenceRegistrationCompleted(
                    payload::WorkerLicenceRegistrationCompleted {
                        licence: LicenceStatus::from(licence),
                    },
                )
            }
            P::WorkerLicenceRegistrationFailed { error } => {
                Self::WorkerLicenceRegistrationFailed(payload::WorkerLicenceRegistrationFailed {
                    error: error.clone(),
                })
            }
            P::WorkerLicenceDeregistered {} => Self::WorkerLicenceDeregistered(EmptyEventData {}),
            P::WorkerCapacityAllocated { lablet, allocation } => {
                Self::WorkerCapacityAllocated(payload::WorkerCapacityAllocated {
                    lablet: lablet.0,
                    allocation: Allocation::from(allocation),
                })
            }
            P::WorkerUnmanagedUsageObserved { usage } => {
                Self::WorkerUnmanagedUsageObserved(payload::WorkerUnmanagedUsageObserved {
                    usage: UnmanagedUsage::from(usage),
                })
            }
            P::WorkerCapacityReleased { lablet } => {
                Self::WorkerCapacityReleased(payload::WorkerCapacityReleased { lablet: lablet.0 })
            }
            P::WorkerTerminationRequested { by } => {
                Self::WorkerTerminationRequested(payload::WorkerTerminationRequested {
                    by: by.clone(),
                })
            }
            P::WorkerDeletionRequested { by } => {
                Self::WorkerDeletionRequested(payload::WorkerDeletionRequested { by: by.clone() })
            }
            P::LabDiscoveredV2 {
                worker_id,
                cml_lab_id,
                title,
                description,
                owner,
                state,
                node_count,
                link_count,
            } => Self::LabDiscoveredV2(payload::LabDiscoveredV2 {
                worker_id: worker_id.0,
                cml_lab_id: cml_lab_id.0.clone(),
                title: title.clone(),
                description: description.clone(),
                owner: owner.clone(),
                state: (*state).into(),
                node_count: *node_count,
                link_count: *link_count,
            }),
            P::LabDiscovered { lab } => Self::LabDiscovered(payload::LabDiscovered {
                lab: Box::new(LabRecord::from(lab.as_ref())),
            }),
            P::LabStateChanged {
                worker_id,
                cml_lab_id,
                from,
                to,
                operation,
            } => Self::LabStateChanged(payload::LabStateChanged {
                worker_id: worker_id.0,
                cml_lab_id: cml_lab_id.0.clone(),
                from: (*from).into(),
                to: (*to).into(),
                operation: LabOperation::from(operation),
            }),
            P::LabUpdated {
                worker_id,
                cml_lab_id,
                changes,
            } => Self::LabUpdated(payload::LabUpdated {
                worker_id: worker_id.0,
                cml_lab_id: cml_lab_id.0.clone(),
                changes: changes.iter().map(FieldChange::from).collect(),
            }),
            P::LabOperationRecorded {
                worker_id,
                cml_lab_id,
                operation,
            } => Self::LabOperationRecorded(payload::LabOperationRecorded {
                worker_id: worker_id.0,
                cml_lab_id: cml_lab_id.0.clone(),
                operation: LabOperation::from(operation),
            }),
            P::LabGone {
                worker_id,
                cml_lab_id,
            } => Self::LabGone(payload::LabGone {
                worker_id: worker_id.0,
                cml_lab_id: cml_lab_id.0.clone(),
            }),
            P::DefinitionCreated { definition } => {
                Self::DefinitionCreated(payload::DefinitionCreated {
                    definition: Box::new(LabletDefinition::from(definition.as_ref())),
                })
            }
            P::DefinitionActivationChanged { active } => {
                Self::DefinitionActivationChanged(payload::DefinitionActivationChanged {
                    active: *active,
                })
            }
            P::LabletCreatedV2 {
                name,
                definition_id,
                request,
            } => Self::LabletCreatedV2(payload::LabletCreatedV2 {
                name: name.clone(),
                definition_id: definition_id.0,
                request: payload::LabletBooking {
                    owner: request.owner.clone(),
                    timeslot: Timeslot::from(&request.timeslot),
                    reservation_id: request.reservation_id.clone(),
                    on_demand: request.on_demand,
                },
            }),
            P::LabletCreated { lablet } => Self::LabletCreated(payload::LabletCreated {
                lablet: Box::new(Lablet::from(lablet.as_ref())),
            }),
            P::LabletPhaseChanged { from, to, reason } => {
                Self::LabletPhaseChanged(payload::LabletPhaseChanged {
                    from: (*from).into(),
                    to: (*to).into(),
                    reason: reason.clone(),
                })
            }
            P::LabletBound { worker_id, ports } => Self::LabletBound(payload::LabletBound {
                worker_id: worker_id.0,
                ports: ports.clone(),
            }),
            P::LabletUnbound { reason } => Self::LabletUnbound(payload::LabletUnbound {
                reason: reason.clone(),
            }),
            P::LabletLabAssigned { cml_lab_id } => {
                Self::LabletLabAssigned(payload::LabletLabAssigned {
                    cml_lab_id: cml_lab_id.0.clone(),
                })
            }
            P::LabletAccessAssigned { access } => {
                Self::LabletAccessAssigned(payload::LabletAccessAssigned {
                    access: access.iter().map(LabletAccess::from).collect(),
                })
            }
            P::LabletCancelRequested { by } => {
                Self::LabletCancelRequested(payload::LabletCancelRequested { by: by.clone() })
            }
            P::LabletExtended { from, to, by } => Self::LabletExtended(payload::LabletExtended {
                from: *from,
                to: *to,
                by: by.clone(),
            }),
            P::LabletRescheduled { from, to, reason } => {
                Self::LabletRescheduled(payload::LabletRescheduled {
                    from: Timeslot::from(from),
                    to: Timeslot::from(to),
                    reason: reason.clone(),
                })
            }
            P::LabletDeletionRequested { by } => {
                Self::LabletDeletionRequested(payload::LabletDeletionRequested { by: by.clone() })
            }
            P::LabletLabReleased {} => Self::LabletLabReleased(EmptyEventData {}),
            P::LabletAttemptFailed { attempt, error } => {
                Self::LabletAttemptFailed(payload::LabletAttemptFailed {
                    attempt: *attempt,
                    error: error.clone(),
                })
            }
            P::FleetScalingDecided {
                action,
                workers,
                reason,
            } => Self::FleetScalingDecided(payload::FleetScalingDecided {
                action: (*action).into(),
                workers: workers.iter().map(|w| w.0).collect(),
                reason: reason.clone(),
            }),
        }
    }
}

impl From<&ccm_core::worker::NewWorker> for payload::WorkerRequest {
    fn from(r: &ccm_core::worker::NewWorker) -> Self {
        Self {
            name: r.name.clone(),
            region: r.region.0.clone(),
            instance_type: r.instance_type.clone(),
            capacity: Capacity::from(&r.capacity),
            tags: r.tags.clone(),
            labels: r.labels.clone(),
            idle: IdleSettings::from(&r.idle),
            created_by: r.created_by.clone(),
            image: r.image.clone(),
        }
    }
}

impl From<&ccm_core::worker::aggregate::ImportedInstance> for payload::ImportedInstance {
    fn from(i: &ccm_core::worker::aggregate::ImportedInstance) -> Self {
        Self {
            instance_id: i.instance_id.0.clone(),
            ami: i.ami.as_ref().map(AmiInfo::from),
            network: WorkerNetwork::from(&i.network),
            ec2_state: i.ec2_state.into(),
            launched_at: i.launched_at,
        }
    }
}
