//! The lablet controller: drives one lablet through its phases. Level-triggered:
//! each pass looks at the lablet, its worker and its lab, does the next step, and
//! says when to look again. Every step is safe to repeat after a crash: the lab's
//! title carries the lablet id so a retried import finds the lab instead of
//! importing twice, teardown tolerates a lab that is already gone, and capacity is
//! released on every path out (finished, failed, expired, cancelled). It runs on
//! the generic [`crate::runtime::Controller`], like the worker controller.

use std::sync::Arc;

use super::context::{found, Context};
use super::definitions::Definitions;
use super::endpoint::console_host;
use super::on_demand::ReadyEstimates;
use super::persist::CONFLICT_RETRIES;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{CmlLabId, LabletId};
use crate::lablet::{Lablet, LabletAccess, LabletPhase};
use crate::ports::cml::{CmlEndpoint, CmlError};
use crate::ports::store::{ChangeSet, Fence, Write};
use crate::runtime::ReconcileOutcome;
use crate::time::{plus_seconds, seconds_between, Timestamp};
use crate::topology::pat::assign_console_ports_within;
use crate::worker::LifecycleState;

/// The title of a lablet's lab on CML; the id in it makes imports idempotent.
pub fn lab_title(lablet: LabletId) -> String {
    format!("{LAB_TITLE_PREFIX}{lablet}")
}

const LAB_TITLE_PREFIX: &str = "ccm-lablet-";

/// True for a title [`lab_title`] made: the lab belongs to a lablet.
pub fn is_lablet_lab(title: &str) -> bool {
    title
        .strip_prefix(LAB_TITLE_PREFIX)
        .is_some_and(|id| id.parse::<LabletId>().is_ok())
}

fn seconds_until(now: Timestamp, at: Timestamp) -> u32 {
    u32::try_from(seconds_between(now, at).max(1)).unwrap_or(u32::MAX)
}

/// Where a lablet's worker stands, as far as the lablet is concerned.
enum WorkerStanding {
    /// Running with CML available.
    Ready(CmlEndpoint),
    /// Running with CML available but asked to stop, terminate or go (a forced
    /// stop or deletion of a worker that holds lablets): tear the lab down while
    /// CML still answers, then place the lablet again or end it. The worker
    /// controller holds the stop until the lablets are gone from the worker.
    Leaving(CmlEndpoint, String),
    /// Booting or CML still starting: wait.
    Coming,
    /// Gone, terminated, failed or stopped for good: the binding must go.
    Lost(String),
}

/// The lablet controller, run on the lablet queue of the [`Context`].
#[derive(Clone)]
pub(crate) struct LabletController {
    ctx: Arc<Context>,
    definitions: Definitions,
    estimates: ReadyEstimates,
}

impl LabletController {
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

    /// Keeps an on-demand lablet's estimated ready time (its start) true: a
    /// ready lab starts now, early or late, with its full length; an estimate
    /// that passed before the lab was ready moves to now plus what is left (an
    /// import when its worker can host labs, else the lead). A waiting estimate
    /// moves only until the latest start a booking made now could have had
    /// (booked + lead + start grace): past it, the lablet expires as a timed
    /// one does.
    async fn keep_estimate(
        &self,
        lablet: &Lablet,
        now: Timestamp,
        fence: Option<&Fence>,
    ) -> Result<Option<ReconcileOutcome>, CoreError> {
        let slot = lablet.spec.timeslot;
        let (ready_at, reason) = match lablet.status.phase {
            LabletPhase::Ready if now < slot.start => {
                (now, "the lab is ready ahead of the estimate")
            }
            LabletPhase::Ready if now > slot.start => (now, "the lab is ready after the estimate"),
            LabletPhase::Pending | LabletPhase::Scheduled | LabletPhase::Instantiating
                if now >= slot.start =>
            {
                // The estimate moves until the longest the engine could have
                // answered at booking (the lead in force, learned or
                // configured) plus the start grace.
                let lead = self.estimates.with_a_boot().await?;
                let grace = self.ctx.settings.lablets.start_grace_seconds;
                let latest = plus_seconds(
                    lablet.meta.created_at,
                    i64::from(lead).saturating_add(i64::from(grace)),
                );
                if now >= latest {
                    return Ok(None);
                }
                let left = match self.standing(lablet).await? {
                    WorkerStanding::Ready(_) => self.estimates.on_a_ready_worker().await?,
                    _ => lead,
                };
                let ready_at = plus_seconds(now, i64::from(left)).min(latest);
                (ready_at, "not ready by the estimate")
            }
            _ => return Ok(None),
        };
        self.ctx
            .update::<Lablet, _, _>(lablet.id, fence, |l, now| {
                l.reschedule(ready_at, reason, now)
            })
            .await?;
        if lablet.status.phase == LabletPhase::Ready {
            // Its session starts with the move, not a pass later.
            self.transition(lablet.id, LabletPhase::Running, "timeslot started", fence)
                .await?;
        }
        Ok(Some(ReconcileOutcome::RequeueAfter(1)))
    }

    /// Reconciles every lablet whose turn has come, at most `limit` of them.
    /// Returns how many ran.
    pub(crate) async fn reconcile_due(&self, fence: Option<&Fence>, limit: usize) -> usize {
        self.ctx
            .lablet_queue
            .run_due(limit, |id| self.reconcile(id, fence))
            .await
    }

    /// When the controller next wants to run, if anything is queued.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        self.ctx.lablet_queue.next_due()
    }

    /// Queues every unfinished lablet (at start-up and after a leadership change,
    /// since the in-memory queue starts empty).
    pub(crate) async fn enqueue_open(&self) -> Result<usize, CoreError> {
        let lablets = self.ctx.store.list_lablets(&Default::default()).await?;
        let mut queued = 0;
        for lablet in lablets {
            let done = lablet.status.phase == LabletPhase::Terminated
                && lablet.meta.deletion_timestamp.is_none();
            if !done {
                self.ctx.nudge_lablet(lablet.id);
                queued += 1;
            }
        }
        Ok(queued)
    }

    async fn lablet(&self, id: LabletId) -> Result<Lablet, CoreError> {
        found(self.ctx.store.get_lablet(id).await?, "lablet", id)
    }

    async fn standing(&self, lablet: &Lablet) -> Result<WorkerStanding, CoreError> {
        let Some(worker_id) = lablet.status.worker_id else {
            return Ok(WorkerStanding::Lost("no worker bound".into()));
        };
        let Some(worker) = self.ctx.store.get_worker(worker_id).await? else {
            return Ok(WorkerStanding::Lost(format!(
                "worker {worker_id} was deleted"
            )));
        };
        use crate::worker::DesiredStatus;
        if worker.can_host_labs() {
            let Some(ep) = self.ctx.endpoint(&worker) else {
                return Ok(WorkerStanding::Coming);
            };
            let leaving = worker.spec.desired_status != DesiredStatus::Running
                || worker.meta.deletion_timestamp.is_some();
            return Ok(if leaving {
                WorkerStanding::Leaving(
                    ep,
                    format!(
                        "worker `{}` is leaving (wanted {:?})",
                        worker.name(),
                        worker.spec.desired_status
                    ),
                )
            } else {
                WorkerStanding::Ready(ep)
            });
        }
        let lifecycle = worker.status.lifecycle;
        let coming = worker.spec.desired_status == DesiredStatus::Running
            && matches!(
                lifecycle,
                LifecycleState::Pending
                    | LifecycleState::Provisioning
                    | LifecycleState::Running
                    | LifecycleState::Stopped
                    | LifecycleState::Stopping
                    | LifecycleState::Unknown
            );
        Ok(if coming {
            WorkerStanding::Coming
        } else {
            WorkerStanding::Lost(format!(
                "worker `{}` is {} (wanted {:?})",
                worker.name(),
                lifecycle.as_str(),
                worker.spec.desired_status
            ))
        })
    }

    async fn transition(
        &self,
        id: LabletId,
        to: LabletPhase,
        reason: &str,
        fence: Option<&Fence>,
    ) -> Result<Lablet, CoreError> {
        self.ctx
            .update::<Lablet, _, _>(id, fence, |l, now| {
                l.transition(to, Some(reason.to_owned()), now)
            })
            .await
    }

    /// [`Self::transition`] from the copy this pass read, saving a read.
    async fn move_on(
        &self,
        read: &Lablet,
        to: LabletPhase,
        reason: &str,
        fence: Option<&Fence>,
    ) -> Result<Lablet, CoreError> {
        self.ctx
            .update_read(read.clone(), fence, |l: &mut Lablet, now| {
                l.transition(to, Some(reason.to_owned()), now)
            })
            .await
    }

    /// Gives the lablet's capacity back and (optionally) moves it, in one commit.
    async fn release_and_move(
        &self,
        lablet: &Lablet,
        to: Option<LabletPhase>,
        unbind_reason: Option<&str>,
        reason: &str,
        fence: Option<&Fence>,
    ) -> Result<(), CoreError> {
        // Lablets on one worker often end together: their passes take turns at
        // the worker's record instead of conflicting on it.
        let _turn = match lablet.status.worker_id {
            Some(worker) => Some(self.ctx.worker_turn(worker).await),
            None => None,
        };
        for _ in 0..CONFLICT_RETRIES {
            let now = self.ctx.now();
            let Some(mut fresh) = self.ctx.store.get_lablet(lablet.id).await? else {
                return Ok(());
            };
            let mut changes = ChangeSet::new();
            changes.fence = fence.cloned();
            let mut events = Vec::new();
            if let Some(worker_id) = fresh.status.worker_id {
                if let Some(mut worker) = self.ctx.store.get_worker(worker_id).await? {
                    let released = worker.release(fresh.id, now)?;
                    if !released.is_empty() {
                        events.extend(released);
                        changes = changes.write(Write::PutWorker(Box::new(worker)));
                    }
                }
            }
            if let Some(why) = unbind_reason {
                events.extend(fresh.unbind(why.to_owned(), now)?);
            }
            if let Some(to) = to {
                events.extend(fresh.transition(to, Some(reason.to_owned()), now)?);
            }
            changes = changes.put_lablet(fresh).events(events);
            match self.ctx.commit(changes).await {
                Ok(_) => return Ok(()),
                Err(crate::ports::store::StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(
            crate::ports::store::StoreError::Unavailable("lablet release kept conflicting".into())
                .into(),
        )
    }

    /// Finds the lablet's lab by its title (after a crash between import and the
    /// write of its id) or imports it, with each console node tagged with one of
    /// the lablet's ports (`topology::pat`), and records the lab and how students
    /// reach it in one commit. A lab found again was imported from the same
    /// definition and ports, so the access entries computed now are its own.
    async fn ensure_lab(
        &self,
        lablet: &Lablet,
        ep: &CmlEndpoint,
        fence: Option<&Fence>,
    ) -> Result<CmlLabId, CoreError> {
        if let Some(lab) = &lablet.status.cml_lab_id {
            return Ok(lab.clone());
        }
        let definition = self.definitions.get(lablet.spec.definition_id).await?;
        let topology = assign_console_ports_within(
            &definition.topology_yaml,
            &lablet.status.ports,
            &self.ctx.settings.topology_limits,
        )
        .map_err(|e| CoreError::validation("topology_yaml", e.to_string()))?;
        let host = self.console_host(lablet, ep).await?;
        let access: Vec<LabletAccess> = topology
            .consoles
            .into_iter()
            .map(|console| LabletAccess::console(console, &host))
            .collect();
        let title = lab_title(lablet.id);
        let mut found = None;
        for id in self.ctx.cml.list_labs(ep).await? {
            match self.ctx.cml.get_lab(ep, &id).await {
                Ok(lab) if lab.title == title => {
                    found = Some(lab.id);
                    break;
                }
                Ok(_) | Err(CmlError::NotFound { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        let lab = match found {
            Some(lab) => lab,
            None => {
                self.ctx
                    .cml
                    .import_lab(ep, &topology.yaml, Some(&title))
                    .await?
                    .id
            }
        };
        self.ctx
            .update::<Lablet, _, CoreError>(lablet.id, fence, |l, now| {
                let mut events = l.assign_lab(lab.clone(), now)?;
                events.extend(l.assign_access(access.clone(), now)?);
                Ok(events)
            })
            .await?;
        Ok(lab)
    }

    /// The address students dial for the lablet's ports: see
    /// [`super::endpoint::console_host`]. The worker was read a moment ago to find
    /// `ep`; should it be gone now, the endpoint's own host is the best answer.
    async fn console_host(&self, lablet: &Lablet, ep: &CmlEndpoint) -> Result<String, CoreError> {
        let worker = match lablet.status.worker_id {
            Some(id) => self.ctx.store.get_worker(id).await?,
            None => None,
        };
        Ok(console_host(worker.as_ref().map(|w| &w.network), ep))
    }

    async fn record_attempt_failure(
        &self,
        lablet: &Lablet,
        error: &CoreError,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        let updated = self
            .ctx
            .update::<Lablet, _, DomainError>(lablet.id, fence, |l, now| {
                l.record_failure(error.to_string(), now)
            })
            .await?;
        if updated.status.attempts >= self.ctx.settings.lablets.max_attempts {
            self.fail(
                &updated,
                &format!(
                    "gave up after {} attempts: {error}",
                    updated.status.attempts
                ),
                fence,
            )
            .await?;
            return Ok(ReconcileOutcome::RequeueAfter(1));
        }
        Ok(ReconcileOutcome::Failed(error.to_string()))
    }

    /// Ends the lablet in `failed`: tears its lab down (best effort, retried later
    /// while the finalizer stays) and releases its capacity.
    async fn fail(
        &self,
        lablet: &Lablet,
        reason: &str,
        fence: Option<&Fence>,
    ) -> Result<(), CoreError> {
        self.teardown(lablet, fence).await.ok();
        self.release_and_move(lablet, Some(LabletPhase::Failed), None, reason, fence)
            .await
    }

    /// Stops, wipes and deletes the lablet's lab if it has one, and records that it
    /// is gone. A worker that is gone for good took the lab with it.
    async fn teardown(&self, lablet: &Lablet, fence: Option<&Fence>) -> Result<(), CoreError> {
        if let Some(lab) = &lablet.status.cml_lab_id {
            match self.standing(lablet).await? {
                WorkerStanding::Ready(ep) | WorkerStanding::Leaving(ep, _) => {
                    self.ctx.cml.teardown_lab(&ep, lab).await?;
                }
                WorkerStanding::Lost(_) => {}
                WorkerStanding::Coming => {
                    return Err(CoreError::validation(
                        "worker",
                        "worker not reachable yet; lab teardown postponed",
                    ))
                }
            }
        }
        self.ctx
            .update::<Lablet, _, _>(lablet.id, fence, |l, now| l.release_lab(now))
            .await?;
        Ok(())
    }

    /// One pass of the lablet controller.
    pub(crate) async fn reconcile(
        &self,
        id: LabletId,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        let Some(lablet) = self.ctx.store.get_lablet(id).await? else {
            return Ok(ReconcileOutcome::Done);
        };
        let now = self.ctx.now();
        let slot = lablet.spec.timeslot;
        let settings = &self.ctx.settings.lablets;
        let grace_end = plus_seconds(slot.start, i64::from(settings.start_grace_seconds));
        let ending = lablet.spec.cancel_requested || now >= slot.end;
        if lablet.spec.on_demand && !ending {
            if let Some(outcome) = self.keep_estimate(&lablet, now, fence).await? {
                return Ok(outcome);
            }
        }
        use LabletPhase::*;
        match lablet.status.phase {
            Pending => {
                if ending {
                    self.move_on(&lablet, Stopped, "cancelled before placement", fence)
                        .await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                if now >= grace_end {
                    self.move_on(&lablet, Expired, "not placed before its start", fence)
                        .await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                let lead = plus_seconds(slot.start, -i64::from(settings.lead_time_seconds));
                let wait = if now < lead {
                    seconds_until(now, lead)
                } else {
                    settings.scheduler_interval_seconds.max(1)
                };
                Ok(ReconcileOutcome::RequeueAfter(
                    wait.min(seconds_until(now, grace_end)),
                ))
            }
            Scheduled | Instantiating => {
                if ending {
                    self.move_on(&lablet, Stopping, "cancelled", fence).await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                match self.standing(&lablet).await? {
                    WorkerStanding::Lost(why) => self.place_again(id, &why, fence).await,
                    WorkerStanding::Leaving(_, why) => self.evict(&lablet, &why, fence).await,
                    WorkerStanding::Coming => {
                        if lablet.status.phase == Scheduled && now >= grace_end {
                            self.release_and_move(
                                &lablet,
                                Some(Expired),
                                None,
                                "worker not ready before the start",
                                fence,
                            )
                            .await?;
                            return Ok(ReconcileOutcome::RequeueAfter(1));
                        }
                        Ok(ReconcileOutcome::RequeueAfter(
                            settings.convergence_poll_seconds.max(1),
                        ))
                    }
                    WorkerStanding::Ready(ep) => self.instantiate(&lablet, &ep, fence).await,
                }
            }
            Ready => {
                if ending {
                    self.move_on(&lablet, Stopping, "cancelled", fence).await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                match self.standing(&lablet).await? {
                    WorkerStanding::Lost(why) => return self.place_again(id, &why, fence).await,
                    WorkerStanding::Leaving(_, why) if now < slot.start => {
                        return self.evict(&lablet, &why, fence).await;
                    }
                    // Its time has come: it starts and then ends like a running one.
                    _ => {}
                }
                if now >= slot.start {
                    self.move_on(&lablet, Running, "timeslot started", fence)
                        .await?;
                    return Ok(ReconcileOutcome::RequeueAfter(seconds_until(now, slot.end)));
                }
                Ok(ReconcileOutcome::RequeueAfter(
                    seconds_until(now, slot.start).min(settings.health_check_seconds.max(1)),
                ))
            }
            Running => {
                if let WorkerStanding::Lost(why) = self.standing(&lablet).await? {
                    self.ctx
                        .update::<Lablet, _, _>(id, fence, |l, now| l.release_lab(now))
                        .await?;
                    let fresh = self.lablet(id).await?;
                    self.release_and_move(
                        &fresh,
                        Some(Failed),
                        None,
                        &format!("worker lost while running: {why}"),
                        fence,
                    )
                    .await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                if ending {
                    let why = if lablet.spec.cancel_requested {
                        "cancelled"
                    } else {
                        "timeslot ended"
                    };
                    self.move_on(&lablet, Stopping, why, fence).await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                // Started on a worker that is leaving: it ends (the lab is torn
                // down on the way through `stopping`), with the reason.
                if let WorkerStanding::Leaving(_, why) = self.standing(&lablet).await? {
                    self.move_on(&lablet, Stopping, &why, fence).await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                Ok(ReconcileOutcome::RequeueAfter(
                    seconds_until(now, slot.end).min(settings.health_check_seconds.max(1)),
                ))
            }
            Stopping => match self.teardown(&lablet, fence).await {
                Ok(()) => {
                    let fresh = self.lablet(id).await?;
                    self.release_and_move(&fresh, Some(Stopped), None, "lab torn down", fence)
                        .await?;
                    Ok(ReconcileOutcome::RequeueAfter(1))
                }
                Err(error) => Ok(ReconcileOutcome::Failed(error.to_string())),
            },
            Stopped | Expired => {
                self.move_on(&lablet, Terminated, "finished", fence).await?;
                Ok(ReconcileOutcome::RequeueAfter(1))
            }
            Failed => {
                if lablet.status.cml_lab_id.is_some() {
                    if let Err(error) = self.teardown(&lablet, fence).await {
                        return Ok(ReconcileOutcome::Failed(error.to_string()));
                    }
                }
                if lablet.meta.deletion_timestamp.is_some() {
                    self.transition(id, Terminated, "deleted", fence).await?;
                    return Ok(ReconcileOutcome::RequeueAfter(1));
                }
                Ok(ReconcileOutcome::Done)
            }
            Terminated => {
                if lablet.meta.ready_to_remove() {
                    let changes = ChangeSet {
                        writes: vec![Write::DeleteLablet {
                            id,
                            version: lablet.meta.version,
                        }],
                        events: Vec::new(),
                        fence: fence.cloned(),
                    };
                    self.ctx.commit(changes).await?;
                }
                Ok(ReconcileOutcome::Done)
            }
        }
    }

    /// A lablet not started yet whose worker is lost: its lab (if any) went
    /// with the worker, so the binding goes and it is placed again.
    async fn place_again(
        &self,
        id: LabletId,
        why: &str,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        self.ctx
            .update::<Lablet, _, _>(id, fence, |l, now| l.release_lab(now))
            .await?;
        let fresh = self.lablet(id).await?;
        self.release_and_move(&fresh, None, Some(why), why, fence)
            .await?;
        Ok(ReconcileOutcome::RequeueAfter(1))
    }

    /// A lablet not started yet on a worker that is leaving: its lab is torn
    /// down while CML answers, then it is placed again. A teardown that fails is
    /// retried on the next pass; if CML stops answering meanwhile, the worker
    /// counts as lost and the lablet is placed again without it.
    async fn evict(
        &self,
        lablet: &Lablet,
        why: &str,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        if let Err(error) = self.teardown(lablet, fence).await {
            return Ok(ReconcileOutcome::Failed(error.to_string()));
        }
        let fresh = self.lablet(lablet.id).await?;
        self.release_and_move(&fresh, None, Some(why), why, fence)
            .await?;
        Ok(ReconcileOutcome::RequeueAfter(1))
    }

    async fn instantiate(
        &self,
        lablet: &Lablet,
        ep: &CmlEndpoint,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        let id = lablet.id;
        let lablet = if lablet.status.phase == LabletPhase::Scheduled {
            self.move_on(lablet, LabletPhase::Instantiating, "worker ready", fence)
                .await?
        } else {
            lablet.clone()
        };
        let attempt = async {
            let lab = self.ensure_lab(&lablet, ep, fence).await?;
            let state = self.ctx.cml.lab_state(ep, &lab).await?;
            if state != crate::lab::LabState::Started {
                self.ctx.cml.start_lab(ep, &lab).await?;
            }
            Ok::<bool, CoreError>(self.ctx.cml.check_if_converged(ep, &lab).await?)
        };
        match attempt.await {
            Ok(true) => {
                self.transition(id, LabletPhase::Ready, "lab converged", fence)
                    .await?;
                if let Some(worker) = lablet.status.worker_id {
                    self.ctx
                        .note_activity(worker, "lablet", format!("lablet {id} ready"), fence)
                        .await?;
                }
                Ok(ReconcileOutcome::RequeueAfter(1))
            }
            Ok(false) => Ok(ReconcileOutcome::RequeueAfter(
                self.ctx.settings.lablets.convergence_poll_seconds.max(1),
            )),
            Err(error) => self.record_attempt_failure(&lablet, &error, fence).await,
        }
    }
}
