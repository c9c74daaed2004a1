//! The engine's use cases as one tagged request type: the Python layer sends
//! `{"op": "get_worker", "id": "…"}` and gets the result's JSON shape back (the
//! same as the REST API's). Serde checks every argument, so a bad one is an
//! `InvalidInput` naming it; the list mirrors `ccm_http::api::routes::ROUTES`.

use std::collections::BTreeMap;

use ccm_core::definition::NewDefinition;
use ccm_core::fleet::{CreateWorker, ImportMatching, LabAction, WhenLabletsBound};
use ccm_core::ids::{CmlLabId, DefinitionId, ImageId, InstanceId, LabletId, Region, WorkerId};
use ccm_core::lablet::{LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::store::{DefinitionFilter, LabletFilter, WorkerFilter};
use ccm_core::secret::Secret;
use ccm_core::time::Timestamp;
use ccm_core::worker::LifecycleState;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::Engine;
use crate::error::BindingError;

/// Who the engine records as the actor of calls made from Python.
const ACTOR: &str = "python";

/// One call into the engine.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// The engine's current time.
    Now,
    /// Moves the virtual clock on, running what comes due (simulated engines).
    Advance {
        seconds: f64,
    },
    /// Runs what is due now once; returns when something is next due.
    Step,

    ListWorkers {
        region: Option<String>,
        #[serde(default)]
        status: Vec<LifecycleState>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        include_terminated: bool,
    },
    GetWorker {
        id: WorkerId,
    },
    CreateWorker {
        name: String,
        region: Option<String>,
        instance_type: Option<String>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        #[serde(default)]
        idle_detection_disabled: bool,
        image: Option<String>,
    },
    ImportWorker {
        instance_id: String,
        region: Option<String>,
        name: Option<String>,
    },
    ImportMatching {
        region: Option<String>,
        image_id: Option<String>,
        image_name_pattern: Option<String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
    StartWorker {
        id: WorkerId,
    },
    SetMonitoringInterval {
        id: WorkerId,
        seconds: Option<u32>,
    },
    StopWorker {
        id: WorkerId,
        #[serde(default)]
        force: bool,
    },
    TerminateWorker {
        id: WorkerId,
        #[serde(default)]
        force: bool,
    },
    DeleteWorker {
        id: WorkerId,
        #[serde(default)]
        terminate_instance: bool,
        #[serde(default)]
        force: bool,
    },
    RefreshWorker {
        id: WorkerId,
    },
    SetTags {
        id: WorkerId,
        tags: BTreeMap<String, String>,
    },
    RemoveTags {
        id: WorkerId,
        keys: Vec<String>,
    },
    EnableMonitoring {
        id: WorkerId,
    },
    RegisterLicence {
        id: WorkerId,
        token: Option<Secret>,
    },
    DeregisterLicence {
        id: WorkerId,
    },
    IdleStatus {
        id: WorkerId,
    },
    SetIdleDetection {
        id: WorkerId,
        enabled: bool,
    },
    SetDraining {
        id: WorkerId,
        draining: bool,
    },
    MetricsSeries {
        id: WorkerId,
        since: Option<Timestamp>,
        step: Option<u32>,
    },

    ListLabs {
        worker_id: WorkerId,
        #[serde(default)]
        include_gone: bool,
    },
    RefreshLabs {
        worker_id: WorkerId,
    },
    LabAction {
        worker_id: WorkerId,
        lab_id: String,
        action: LabAction,
        #[serde(default)]
        force: bool,
    },
    ImportLab {
        worker_id: WorkerId,
        topology_yaml: String,
        title: Option<String>,
    },
    DownloadLab {
        worker_id: WorkerId,
        lab_id: String,
    },

    ListDefinitions {
        name: Option<String>,
        #[serde(default)]
        active_only: bool,
    },
    CreateDefinition {
        definition: NewDefinition,
    },
    GetDefinition {
        id: DefinitionId,
    },
    SetDefinitionActive {
        id: DefinitionId,
        active: bool,
    },

    ListLablets {
        #[serde(default)]
        phase: Vec<LabletPhase>,
        worker_id: Option<WorkerId>,
        owner: Option<String>,
        definition_id: Option<DefinitionId>,
    },
    CreateLablet {
        definition_id: DefinitionId,
        owner: Option<String>,
        timeslot: Timeslot,
        reservation_id: Option<String>,
    },
    GetLablet {
        id: LabletId,
    },
    CancelLablet {
        id: LabletId,
    },
    DeleteLablet {
        id: LabletId,
    },

    ListJobs,
    TriggerJob {
        name: String,
    },
    PauseJob {
        name: String,
    },
    ResumeJob {
        name: String,
    },

    ReadEvents {
        after: u64,
        limit: usize,
    },
}

fn json(value: impl serde::Serialize) -> Result<Value, BindingError> {
    serde_json::to_value(value).map_err(|e| BindingError::Unsupported(e.to_string()))
}

fn actor() -> Option<String> {
    Some(ACTOR.to_owned())
}

/// The region asked for, or the first configured one; refused when not configured
/// (as the REST API does).
fn region_or_default(engine: &Engine, region: Option<String>) -> Result<Region, BindingError> {
    let regions = engine.regions();
    let region = region
        .or_else(|| regions.first().cloned())
        .ok_or_else(|| BindingError::input("region", "no region given and none configured"))?;
    if !regions.contains(&region) {
        return Err(BindingError::input(
            "region",
            format!(
                "`{region}` is not a configured region ({})",
                regions.join(", ")
            ),
        ));
    }
    Ok(Region::new(region))
}

/// Runs `op` on `engine`.
pub async fn execute(engine: &Engine, op: Op) -> Result<Value, BindingError> {
    let fleet = engine.fleet();
    match op {
        Op::Now => json(fleet.clock().now()),
        Op::Advance { seconds } => json(engine.advance(seconds).await?),
        Op::Step => json(engine.step().await?),

        Op::ListWorkers {
            region,
            status,
            labels,
            include_terminated,
        } => {
            let filter = WorkerFilter {
                region: region.map(Region::new),
                lifecycle: status,
                labels,
                include_terminated,
            };
            // Through the engine, so `next_refresh_at` is filled in as on the REST API.
            json(fleet.list_workers(&filter).await?)
        }
        Op::GetWorker { id } => json(fleet.get_worker(id).await?),
        Op::CreateWorker {
            name,
            region,
            instance_type,
            labels,
            tags,
            idle_detection_disabled,
            image,
        } => {
            let region = region_or_default(engine, region)?;
            json(
                fleet
                    .create_worker(CreateWorker {
                        name,
                        region,
                        instance_type,
                        labels,
                        tags,
                        idle_detection_disabled,
                        created_by: actor(),
                        image,
                    })
                    .await?,
            )
        }
        Op::ImportWorker {
            instance_id,
            region,
            name,
        } => {
            let region = region_or_default(engine, region)?;
            if instance_id.trim().is_empty() {
                return Err(BindingError::input("instance_id", "must not be empty"));
            }
            json(
                fleet
                    .import_instance(region, InstanceId::new(instance_id.trim()), name, actor())
                    .await?,
            )
        }
        Op::ImportMatching {
            region,
            image_id,
            image_name_pattern,
            tags,
        } => {
            let region = region_or_default(engine, region)?;
            if image_id.is_none() && image_name_pattern.is_none() {
                return Err(BindingError::input(
                    "image_id",
                    "give image_id or image_name_pattern",
                ));
            }
            json(
                fleet
                    .import_matching(ImportMatching {
                        region,
                        image_id: image_id.map(ImageId::new),
                        image_name_pattern,
                        tags,
                        by: actor(),
                    })
                    .await?,
            )
        }
        Op::StartWorker { id } => json(fleet.start_worker(id).await?),
        Op::SetMonitoringInterval { id, seconds } => {
            json(fleet.set_monitoring_interval(id, seconds).await?)
        }
        Op::StopWorker { id, force } => json(
            fleet
                .stop_worker(id, WhenLabletsBound::forced(force))
                .await?,
        ),
        Op::TerminateWorker { id, force } => json(
            fleet
                .terminate_worker(id, actor(), WhenLabletsBound::forced(force))
                .await?,
        ),
        Op::DeleteWorker {
            id,
            terminate_instance,
            force,
        } => json(
            fleet
                .delete_worker(
                    id,
                    terminate_instance,
                    WhenLabletsBound::forced(force),
                    actor(),
                )
                .await?,
        ),
        Op::RefreshWorker { id } => json(fleet.refresh_now(id).await?),
        Op::SetTags { id, tags } => {
            if let Some(key) = tags.keys().find(|k| k.trim().is_empty()) {
                return Err(BindingError::input("tags", format!("empty key `{key}`")));
            }
            json(fleet.set_tags(id, tags).await?)
        }
        Op::RemoveTags { id, keys } => json(fleet.remove_tags(id, keys).await?),
        Op::EnableMonitoring { id } => json(fleet.enable_detailed_monitoring(id).await?),
        Op::RegisterLicence { id, token } => json(fleet.register_licence(id, token).await?),
        Op::DeregisterLicence { id } => json(fleet.deregister_licence(id).await?),
        Op::IdleStatus { id } => json(fleet.idle_status(id).await?),
        Op::SetIdleDetection { id, enabled } => json(fleet.set_idle_detection(id, enabled).await?),
        Op::SetDraining { id, draining } => json(fleet.set_draining(id, draining).await?),
        Op::MetricsSeries { id, since, step } => {
            let now = fleet.clock().now();
            let since = since.unwrap_or_else(|| ccm_core::time::plus_seconds(now, -3600));
            let step = step.unwrap_or(60);
            if step > 86_400 {
                return Err(BindingError::input("step", "must be at most 86400 seconds"));
            }
            json(fleet.metrics_series(id, since, step).await?)
        }

        Op::ListLabs {
            worker_id,
            include_gone,
        } => {
            fleet.get_worker(worker_id).await?;
            json(fleet.list_labs(worker_id, include_gone).await?)
        }
        Op::RefreshLabs { worker_id } => {
            fleet.sync_worker_labs(worker_id, None).await?;
            json(fleet.list_labs(worker_id, false).await?)
        }
        Op::LabAction {
            worker_id,
            lab_id,
            action,
            force,
        } => json(
            fleet
                .lab_action(
                    worker_id,
                    &CmlLabId::new(lab_id),
                    action,
                    WhenLabletsBound::forced(force),
                    actor(),
                )
                .await?,
        ),
        Op::ImportLab {
            worker_id,
            topology_yaml,
            title,
        } => {
            let limits = &fleet.settings().topology_limits;
            if let Err(error) = ccm_core::topology::validate_topology_within(&topology_yaml, limits)
            {
                return Err(BindingError::input("topology_yaml", error.to_string()));
            }
            json(
                fleet
                    .import_lab(worker_id, &topology_yaml, title.as_deref(), actor())
                    .await?,
            )
        }
        Op::DownloadLab { worker_id, lab_id } => json(
            fleet
                .download_lab(worker_id, &CmlLabId::new(lab_id))
                .await?,
        ),

        Op::ListDefinitions { name, active_only } => json(
            fleet
                .list_definitions(&DefinitionFilter { name, active_only })
                .await?,
        ),
        Op::CreateDefinition { definition } => json(fleet.create_definition(definition).await?),
        Op::GetDefinition { id } => json(fleet.get_definition(id).await?),
        Op::SetDefinitionActive { id, active } => {
            json(fleet.set_definition_active(id, active).await?)
        }

        Op::ListLablets {
            phase,
            worker_id,
            owner,
            definition_id,
        } => json(
            fleet
                .list_lablets(&LabletFilter {
                    phases: phase,
                    worker_id,
                    owner,
                    definition_id,
                    starts_by: None,
                })
                .await?,
        ),
        Op::CreateLablet {
            definition_id,
            owner,
            timeslot,
            reservation_id,
        } => json(
            fleet
                .create_lablet(
                    definition_id,
                    NewLablet {
                        owner: owner.unwrap_or_else(|| ACTOR.to_owned()),
                        timeslot,
                        reservation_id,
                    },
                )
                .await?,
        ),
        Op::GetLablet { id } => json(fleet.get_lablet(id).await?),
        Op::CancelLablet { id } => json(fleet.cancel_lablet(id, actor()).await?),
        Op::DeleteLablet { id } => json(fleet.delete_lablet(id, actor()).await?),

        Op::ListJobs => json(engine.jobs().list().await?),
        Op::TriggerJob { name } => json(engine.jobs().trigger(&name).await?),
        Op::PauseJob { name } => json(engine.jobs().set_paused(&name, true).await?),
        Op::ResumeJob { name } => json(engine.jobs().set_paused(&name, false).await?),

        Op::ReadEvents { after, limit } => {
            if limit == 0 || limit > 10_000 {
                return Err(BindingError::input("limit", "must be between 1 and 10000"));
            }
            let store = engine.store();
            let events = store.read_events(after, limit).await?;
            // After the read: compaction only moves the log's start forward.
            ccm_core::ports::store::check_resumable(after, store.first_sequence().await?)?;
            json(events)
        }
    }
}
