//! The engine's use cases as one tagged request type: the Python layer sends
//! `{"op": "get_worker", "id": "…"}` and gets the answer's JSON back. Requests
//! and answers are the REST API's wire types (`ccm_api`) with the same mappings
//! onto the domain as the HTTP handlers', so the Python records
//! (`python/ccm/models.py`, generated from the OpenAPI document) read exactly
//! what the document describes. Serde checks every argument, so a bad one is an
//! `InvalidInput` naming it; the list mirrors `ccm_http::api::routes::ROUTES`.

use std::collections::BTreeMap;

use ccm_api as wire;
use ccm_core::definition::NewDefinition;
use ccm_core::fleet::{LabAction, WhenLabletsBound};
use ccm_core::ids::{CmlLabId, DefinitionId, InstanceId, LabletId, Region, WorkerId};
use ccm_core::lablet::{LabletPhase, NewLablet};
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
        /// How far, in seconds.
        seconds: f64,
    },
    /// Runs what is due now once; returns when something is next due.
    Step,

    /// Workers matching a filter (as `GET /api/v1/workers`).
    ListWorkers {
        /// The region; the first configured one when absent.
        region: Option<String>,
        /// Only these lifecycle states (any when empty).
        #[serde(default)]
        status: Vec<LifecycleState>,
        /// Only workers carrying all these labels.
        #[serde(default)]
        labels: BTreeMap<String, String>,
        /// Include terminated workers.
        #[serde(default)]
        include_terminated: bool,
    },
    /// One worker.
    GetWorker {
        /// The resource's id.
        id: WorkerId,
    },
    /// Creates a worker; its instance is launched by the engine (the body of
    /// `POST /api/v1/workers`).
    CreateWorker(wire::worker::CreateWorker),
    /// Adopts an existing instance as a worker (`POST /api/v1/workers/import`).
    ImportWorker(wire::worker::ImportWorker),
    /// Adopts every instance of a region matching an AMI id or name pattern
    /// (`POST /api/v1/workers/import-matching`).
    ImportMatching(wire::worker::ImportMatching),
    /// Starts a stopped worker.
    StartWorker {
        /// The resource's id.
        id: WorkerId,
    },
    /// Sets (or, with no seconds, clears) a worker's own monitoring interval.
    SetMonitoringInterval {
        /// The resource's id.
        id: WorkerId,
        /// Seconds between sweeps of this worker (60–86,400); the fleet's interval when absent.
        seconds: Option<u32>,
    },
    /// Stops a worker (refused while it holds lablets unless forced).
    StopWorker {
        /// The resource's id.
        id: WorkerId,
        /// Go ahead even when lablets are bound (they are torn down or re-placed).
        #[serde(default)]
        force: bool,
    },
    /// Terminates a worker's instance (refused while it holds lablets unless forced).
    TerminateWorker {
        /// The resource's id.
        id: WorkerId,
        /// Go ahead even when lablets are bound (they are torn down or re-placed).
        #[serde(default)]
        force: bool,
    },
    /// Deletes a worker record, and its instance when asked.
    DeleteWorker {
        /// The resource's id.
        id: WorkerId,
        /// Terminate the worker's instance as well.
        #[serde(default)]
        terminate_instance: bool,
        /// Go ahead even when lablets are bound (they are torn down or re-placed).
        #[serde(default)]
        force: bool,
    },
    /// Reads a worker's status, metrics and CML now instead of at the next sweep.
    RefreshWorker {
        /// The resource's id.
        id: WorkerId,
    },
    /// Sets tags on a worker (merged into the ones it has).
    SetTags {
        /// The resource's id.
        id: WorkerId,
        /// The tags to add or overwrite.
        tags: BTreeMap<String, String>,
    },
    /// Removes tags from a worker.
    RemoveTags {
        /// The resource's id.
        id: WorkerId,
        /// The tag keys to remove.
        keys: Vec<String>,
    },
    /// Turns detailed CloudWatch monitoring on for a worker's instance.
    EnableMonitoring {
        /// The resource's id.
        id: WorkerId,
    },
    /// Registers a worker's CML licence (the configured token when none is given).
    RegisterLicence {
        /// The resource's id.
        id: WorkerId,
        /// The licence token; the configured one when absent (never logged).
        token: Option<Secret>,
    },
    /// Deregisters a worker's CML licence.
    DeregisterLicence {
        /// The resource's id.
        id: WorkerId,
    },
    /// A worker's idle-detection state.
    IdleStatus {
        /// The resource's id.
        id: WorkerId,
    },
    /// Turns idle detection on or off for a worker.
    SetIdleDetection {
        /// The resource's id.
        id: WorkerId,
        /// Whether idle detection runs.
        enabled: bool,
    },
    /// Marks a worker draining (no new lablets) or ends the drain.
    SetDraining {
        /// The resource's id.
        id: WorkerId,
        /// Whether the worker is draining.
        draining: bool,
    },
    /// A worker's stored metric samples.
    MetricsSeries {
        /// The resource's id.
        id: WorkerId,
        /// Samples from this time on; the last hour when absent.
        since: Option<Timestamp>,
        /// Seconds per averaged sample (at most 86,400); 60 when absent.
        step: Option<u32>,
    },

    /// The labs of a worker's CML as last synced.
    ListLabs {
        /// The worker.
        worker_id: WorkerId,
        /// Include labs that have left the worker's CML.
        #[serde(default)]
        include_gone: bool,
    },
    /// Syncs a worker's labs now.
    RefreshLabs {
        /// The worker.
        worker_id: WorkerId,
    },
    /// Starts, stops, wipes or deletes a lab on a worker.
    LabAction {
        /// The worker.
        worker_id: WorkerId,
        /// The lab's id on CML.
        lab_id: String,
        /// What to do to the lab.
        action: LabAction,
        /// Go ahead even when lablets are bound (they are torn down or re-placed).
        #[serde(default)]
        force: bool,
    },
    /// Imports a topology as a new lab on a worker.
    ImportLab {
        /// The worker.
        worker_id: WorkerId,
        /// The topology (bounded as the REST API bounds it).
        topology_yaml: String,
        /// The lab's title; the topology's when absent.
        title: Option<String>,
    },
    /// A lab's topology as YAML.
    DownloadLab {
        /// The worker.
        worker_id: WorkerId,
        /// The lab's id on CML.
        lab_id: String,
    },

    /// Lablet definitions.
    ListDefinitions {
        /// Only definitions of this name.
        name: Option<String>,
        /// Only active definitions.
        #[serde(default)]
        active_only: bool,
    },
    /// Creates a lablet definition (`POST /api/v1/definitions`).
    CreateDefinition(wire::definition::CreateDefinition),
    /// One lablet definition.
    GetDefinition {
        /// The resource's id.
        id: DefinitionId,
    },
    /// Activates or deactivates a definition.
    SetDefinitionActive {
        /// The resource's id.
        id: DefinitionId,
        /// Whether the definition takes new lablets.
        active: bool,
    },

    /// Lablets matching a filter.
    ListLablets {
        /// Only these phases (any when empty).
        #[serde(default)]
        phase: Vec<LabletPhase>,
        /// The worker.
        worker_id: Option<WorkerId>,
        /// Only this owner's lablets.
        owner: Option<String>,
        /// The definition.
        definition_id: Option<DefinitionId>,
    },
    /// Books a lablet of a definition for a timeslot (`POST /api/v1/lablets`;
    /// the owner is `python` when absent).
    CreateLablet(wire::lablet::CreateLablet),
    /// Books a lablet for as soon as possible (`POST /api/v1/lablets/on-demand`;
    /// the owner is `python` when absent).
    CreateOnDemandLablet(wire::lablet::CreateOnDemandLablet),
    /// Where lablets of a definition would go now, placed as the scheduler
    /// places (`POST /api/v1/placement/preview`); binds nothing.
    PreviewPlacement(wire::placement::PlacementPreviewRequest),
    /// The workers the bookings need over the next hours, the planned starts
    /// and stops and the lead time in force (`GET /api/v1/capacity/forecast`).
    CapacityForecast(wire::capacity::ForecastQuery),
    /// What the fleet costs now, today and this week (`GET /api/v1/cost`).
    Cost,
    /// One lablet.
    GetLablet {
        /// The resource's id.
        id: LabletId,
    },
    /// Cancels a lablet (its lab is torn down).
    CancelLablet {
        /// The resource's id.
        id: LabletId,
    },
    /// Moves a lablet's end later (`POST /api/v1/lablets/{id}/extend`).
    ExtendLablet {
        /// The resource's id.
        id: LabletId,
        /// The new end (as `ExtendLablet.until` of the REST body).
        until: Timestamp,
    },
    /// Cancels a lablet and removes its record once its lab is gone.
    DeleteLablet {
        /// The resource's id.
        id: LabletId,
    },

    /// The job runner's jobs.
    ListJobs,
    /// Runs a job now (on the leader).
    TriggerJob {
        /// The job's name.
        name: String,
    },
    /// Pauses a recurrent job.
    PauseJob {
        /// The job's name.
        name: String,
    },
    /// Resumes a paused job.
    ResumeJob {
        /// The job's name.
        name: String,
    },

    /// Waits until the log holds an event after `after` (woken by the store's
    /// notifications: LISTEN/NOTIFY on PostgreSQL, so commits of other processes
    /// count) or `timeout_seconds` pass; returns the newest sequence known.
    WaitEvents {
        /// Wait for an event after this sequence number.
        after: u64,
        /// Longest wait, in seconds (0–60).
        timeout_seconds: f64,
    },
    /// Events of the log after a sequence number.
    ReadEvents {
        /// Events after this sequence number.
        after: u64,
        /// At most this many events (1–10,000).
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

/// `items` mapped onto their wire type, as JSON.
fn json_list<'a, D: 'a, W: serde::Serialize + From<&'a D>>(
    items: impl IntoIterator<Item = &'a D>,
) -> Result<Value, BindingError> {
    json(items.into_iter().map(W::from).collect::<Vec<W>>())
}

/// Runs `op` on `engine`. Requests that have a body on the REST API are that
/// body's wire type, mapped onto the domain by the same code as the handler's;
/// every answer is the REST API's wire type (`ccm_api`), so Python reads
/// exactly what the OpenAPI document describes.
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
            json_list::<_, wire::worker::Worker>(&fleet.list_workers(&filter).await?)
        }
        Op::GetWorker { id } => worker(fleet.get_worker(id).await?),
        Op::CreateWorker(body) => {
            let region = region_or_default(engine, body.region.clone())?;
            worker(
                fleet
                    .create_worker(body.into_domain(region, actor()))
                    .await?,
            )
        }
        Op::ImportWorker(body) => {
            let region = region_or_default(engine, body.region)?;
            if body.instance_id.trim().is_empty() {
                return Err(BindingError::input("instance_id", "must not be empty"));
            }
            let instance = InstanceId::new(body.instance_id.trim());
            worker(
                fleet
                    .import_instance(region, instance, body.name, actor())
                    .await?,
            )
        }
        Op::ImportMatching(body) => {
            let region = region_or_default(engine, body.region.clone())?;
            if body.image_id.is_none() && body.image_name_pattern.is_none() {
                return Err(BindingError::input(
                    "image_id",
                    "give image_id or image_name_pattern",
                ));
            }
            let report = fleet
                .import_matching(body.into_domain(region, actor()))
                .await?;
            json(wire::worker::ImportReport::from(&report))
        }
        Op::StartWorker { id } => worker(fleet.start_worker(id).await?),
        Op::SetMonitoringInterval { id, seconds } => {
            worker(fleet.set_monitoring_interval(id, seconds).await?)
        }
        Op::StopWorker { id, force } => worker(
            fleet
                .stop_worker(id, WhenLabletsBound::forced(force))
                .await?,
        ),
        Op::TerminateWorker { id, force } => worker(
            fleet
                .terminate_worker(id, actor(), WhenLabletsBound::forced(force))
                .await?,
        ),
        Op::DeleteWorker {
            id,
            terminate_instance,
            force,
        } => {
            let outcome = fleet
                .delete_worker(
                    id,
                    terminate_instance,
                    WhenLabletsBound::forced(force),
                    actor(),
                )
                .await?;
            json(wire::worker::WorkerDeletion::from(&outcome))
        }
        Op::RefreshWorker { id } => json(wire::worker::RefreshOutcome::from(
            &fleet.refresh_now(id).await?,
        )),
        Op::SetTags { id, tags } => {
            if let Some(key) = tags.keys().find(|k| k.trim().is_empty()) {
                return Err(BindingError::input("tags", format!("empty key `{key}`")));
            }
            worker(fleet.set_tags(id, tags).await?)
        }
        Op::RemoveTags { id, keys } => worker(fleet.remove_tags(id, keys).await?),
        Op::EnableMonitoring { id } => worker(fleet.enable_detailed_monitoring(id).await?),
        Op::RegisterLicence { id, token } => worker(fleet.register_licence(id, token).await?),
        Op::DeregisterLicence { id } => worker(fleet.deregister_licence(id).await?),
        Op::IdleStatus { id } => json(wire::worker::IdleStatus::from(
            &fleet.idle_status(id).await?,
        )),
        Op::SetIdleDetection { id, enabled } => {
            worker(fleet.set_idle_detection(id, enabled).await?)
        }
        Op::SetDraining { id, draining } => worker(fleet.set_draining(id, draining).await?),
        Op::MetricsSeries { id, since, step } => {
            let now = fleet.clock().now();
            let since = since.unwrap_or_else(|| ccm_core::time::plus_seconds(now, -3600));
            let step = step.unwrap_or(60);
            if step > 86_400 {
                return Err(BindingError::input("step", "must be at most 86400 seconds"));
            }
            json_list::<_, wire::worker::MetricPoint>(&fleet.metrics_series(id, since, step).await?)
        }

        Op::ListLabs {
            worker_id,
            include_gone,
        } => {
            fleet.get_worker(worker_id).await?;
            json_list::<_, wire::lab::LabRecord>(&fleet.list_labs(worker_id, include_gone).await?)
        }
        Op::RefreshLabs { worker_id } => {
            fleet.sync_worker_labs(worker_id, None).await?;
            json_list::<_, wire::lab::LabRecord>(&fleet.list_labs(worker_id, false).await?)
        }
        Op::LabAction {
            worker_id,
            lab_id,
            action,
            force,
        } => json_list::<_, wire::lab::LabRecord>(
            &fleet
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
            let lab = fleet
                .import_lab(worker_id, &topology_yaml, title.as_deref(), actor())
                .await?;
            json(wire::lab::LabRecord::from(&lab))
        }
        Op::DownloadLab { worker_id, lab_id } => json(
            fleet
                .download_lab(worker_id, &CmlLabId::new(lab_id))
                .await?,
        ),

        Op::ListDefinitions { name, active_only } => {
            json_list::<_, wire::definition::LabletDefinition>(
                &fleet
                    .list_definitions(&DefinitionFilter { name, active_only })
                    .await?,
            )
        }
        Op::CreateDefinition(body) => definition(
            fleet
                .create_definition(NewDefinition::try_from(body)?)
                .await?,
        ),
        Op::GetDefinition { id } => definition(fleet.get_definition(id).await?),
        Op::SetDefinitionActive { id, active } => {
            definition(fleet.set_definition_active(id, active).await?)
        }

        Op::ListLablets {
            phase,
            worker_id,
            owner,
            definition_id,
        } => json_list::<_, wire::lablet::Lablet>(
            &fleet
                .list_lablets(&LabletFilter {
                    phases: phase,
                    worker_id,
                    owner,
                    definition_id,
                    starts_by: None,
                    starts_from: None,
                })
                .await?,
        ),
        Op::CreateLablet(body) => lablet(
            fleet
                .create_lablet(
                    DefinitionId(body.definition_id),
                    NewLablet {
                        owner: body.owner.unwrap_or_else(|| ACTOR.to_owned()),
                        timeslot: body.timeslot.into(),
                        reservation_id: body.reservation_id,
                        on_demand: false,
                    },
                )
                .await?,
        ),
        Op::CreateOnDemandLablet(body) => lablet(
            fleet
                .create_on_demand_lablet(
                    DefinitionId(body.definition_id),
                    ccm_core::fleet::OnDemandLablet {
                        owner: body.owner.unwrap_or_else(|| ACTOR.to_owned()),
                        duration_minutes: body.duration_minutes,
                        reservation_id: body.reservation_id,
                    },
                )
                .await?,
        ),
        Op::PreviewPlacement(body) => {
            let preview = fleet
                .preview_placement(
                    DefinitionId(body.definition_id),
                    body.count,
                    body.policy.map(Into::into),
                )
                .await?;
            json(wire::placement::PlacementPreview::from(&preview))
        }
        Op::CapacityForecast(query) => {
            let forecast = fleet
                .capacity_forecast(query.hours_or_default(), query.step_minutes_or_default())
                .await?;
            json(wire::capacity::CapacityForecast::from(&forecast))
        }
        Op::Cost => json(wire::cost::CostReport::from(&fleet.cost_report().await?)),
        Op::GetLablet { id } => lablet(fleet.get_lablet(id).await?),
        Op::CancelLablet { id } => lablet(fleet.cancel_lablet(id, actor()).await?),
        Op::ExtendLablet { id, until } => lablet(fleet.extend_lablet(id, until, actor()).await?),
        Op::DeleteLablet { id } => lablet(fleet.delete_lablet(id, actor()).await?),

        Op::ListJobs => json_list::<_, wire::job::JobRecord>(&engine.jobs().list().await?),
        Op::TriggerJob { name } => json(wire::job::TriggerOutcome::from(
            &engine.jobs().trigger(&name).await?,
        )),
        Op::PauseJob { name } => json(wire::job::JobRecord::from(
            &engine.jobs().set_paused(&name, true).await?,
        )),
        Op::ResumeJob { name } => json(wire::job::JobRecord::from(
            &engine.jobs().set_paused(&name, false).await?,
        )),

        Op::WaitEvents {
            after,
            timeout_seconds,
        } => {
            if !timeout_seconds.is_finite() || !(0.0..=60.0).contains(&timeout_seconds) {
                return Err(BindingError::input(
                    "timeout_seconds",
                    "must be between 0 and 60",
                ));
            }
            let mut newest = engine.store().subscribe();
            let deadline = tokio::time::sleep(std::time::Duration::from_secs_f64(timeout_seconds));
            tokio::pin!(deadline);
            loop {
                let known = *newest.borrow_and_update();
                if known > after {
                    return json(known);
                }
                tokio::select! {
                    changed = newest.changed() => if changed.is_err() { return json(known) },
                    () = &mut deadline => return json(known),
                }
            }
        }
        Op::ReadEvents { after, limit } => {
            if limit == 0 || limit > 10_000 {
                return Err(BindingError::input("limit", "must be between 1 and 10000"));
            }
            let store = engine.store();
            let events = store.read_events(after, limit).await?;
            // After the read: compaction only moves the log's start forward.
            ccm_core::ports::store::check_resumable(after, store.first_sequence().await?)?;
            json_list::<_, wire::event::Event>(&events)
        }
    }
}

fn worker(worker: ccm_core::worker::Worker) -> Result<Value, BindingError> {
    json(wire::worker::Worker::from(&worker))
}

fn definition(definition: ccm_core::definition::LabletDefinition) -> Result<Value, BindingError> {
    json(wire::definition::LabletDefinition::from(&definition))
}

fn lablet(lablet: ccm_core::lablet::Lablet) -> Result<Value, BindingError> {
    json(wire::lablet::Lablet::from(&lablet))
}
