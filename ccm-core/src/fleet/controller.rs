//! The worker controller: observes one worker's instance, compares it with the
//! spec and acts (launch, start, stop, terminate), then asks to look again while
//! anything is in motion. Level-triggered and idempotent: running it again after a
//! crash at any line converges to the same place, and a launch retried after a
//! crash finds the instance it already made (by its worker-id tag). It runs on
//! the generic [`crate::runtime::Controller`] and has its guarantees (one pass per
//! worker at a time, backoff, requeue-after, bounded concurrency).

use std::sync::Arc;

use super::context::Context;
use super::licensing::Licences;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::ports::cloud::{Instance, LaunchRequest, WORKER_ID_TAG};
use crate::ports::store::Fence;
use crate::runtime::ReconcileOutcome;
use crate::time::Timestamp;
use crate::worker::{AmiInfo, DesiredStatus, LifecycleState, Network, Worker};

/// Seconds between looks while an instance is changing state.
const POLL_TRANSITION_SECONDS: u32 = 15;
/// Seconds between looks while an instance boots.
const POLL_BOOT_SECONDS: u32 = 60;

/// The worker controller, run on the worker queue of the [`Context`].
#[derive(Clone)]
pub(crate) struct WorkerController {
    ctx: Arc<Context>,
    licences: Licences,
}

impl WorkerController {
    pub(crate) fn new(ctx: Arc<Context>, licences: Licences) -> Self {
        Self { ctx, licences }
    }

    /// Reconciles every worker whose turn has come, at most `limit` of them.
    /// Returns how many ran.
    pub(crate) async fn reconcile_due(&self, fence: Option<&Fence>, limit: usize) -> usize {
        self.ctx
            .worker_queue
            .run_due(limit, |id| self.reconcile(id, fence))
            .await
    }

    /// When the controller next wants to run, if anything is queued.
    pub(crate) fn next_due(&self) -> Option<Timestamp> {
        self.ctx.worker_queue.next_due()
    }

    /// Queues every worker that is not converged (used at start-up and after a
    /// leadership change, since the in-memory queue starts empty).
    pub(crate) async fn enqueue_unconverged(&self) -> Result<usize, CoreError> {
        let workers = self.ctx.store.list_workers(&Default::default()).await?;
        let mut queued = 0;
        for worker in workers {
            let settling = !matches!(
                worker.status.lifecycle,
                LifecycleState::Running | LifecycleState::Stopped | LifecycleState::Terminated
            );
            if settling || !is_converged(&worker) {
                self.ctx.nudge_worker(worker.id);
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// One pass of the controller for `id`.
    pub(crate) async fn reconcile(
        &self,
        id: WorkerId,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        let Some(worker) = self.ctx.store.get_worker(id).await? else {
            return Ok(ReconcileOutcome::Done);
        };
        if worker.status.lifecycle == LifecycleState::Terminated {
            return Ok(ReconcileOutcome::Done);
        }
        let Some(instance_id) = worker.instance_id.clone() else {
            return self.reconcile_without_instance(&worker, fence).await;
        };
        let observed = self
            .ctx
            .cloud
            .describe(&worker.region, std::slice::from_ref(&instance_id))
            .await?
            .into_iter()
            .next();
        let worker = self
            .record_observation(&worker, observed.as_ref(), fence)
            .await?;
        let outcome = self.act_on(&worker).await?;
        match self.licences.poll_registration(&worker, fence).await? {
            Some(licence) => Ok(sooner(outcome, licence)),
            None => Ok(outcome),
        }
    }

    async fn reconcile_without_instance(
        &self,
        worker: &Worker,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        match worker.spec.desired_status {
            DesiredStatus::Running => {}
            DesiredStatus::Stopped => return Ok(ReconcileOutcome::Done),
            DesiredStatus::Terminated => {
                // Never launched: nothing to terminate; the record just ends.
                self.ctx
                    .update::<Worker, _, DomainError>(worker.id, fence, |w, now| {
                        w.observe_lifecycle(
                            LifecycleState::Terminated,
                            None,
                            Some("never launched".into()),
                            now,
                        )
                    })
                    .await?;
                return Ok(ReconcileOutcome::Done);
            }
        }
        let launch = &self.ctx.settings.launch;
        let image = match launch.image_for(worker.spec.image.as_deref()) {
            Ok(image) => image.clone(),
            // Its image was taken out of the configuration since it was created:
            // failed with the reason, not launched from another image.
            Err(error) => {
                let reason = error.to_string();
                self.ctx
                    .update::<Worker, _, DomainError>(worker.id, fence, |w, now| {
                        w.observe_lifecycle(LifecycleState::Failed, None, Some(reason.clone()), now)
                    })
                    .await?;
                return Ok(ReconcileOutcome::Done);
            }
        };
        let mut tags = launch.default_tags.clone();
        tags.extend(worker.tags.clone());
        tags.insert("Name".into(), worker.name().to_owned());
        tags.insert(WORKER_ID_TAG.into(), worker.id.to_string());
        let request = LaunchRequest {
            worker_id: worker.id,
            region: worker.region.clone(),
            name: worker.name().to_owned(),
            image,
            instance_type: worker.instance_type.clone(),
            subnet_id: launch.subnet_id.clone(),
            security_group_ids: launch.security_group_ids.clone(),
            key_name: launch.key_name.clone(),
            iam_instance_profile: launch.iam_instance_profile.clone(),
            tags,
            detailed_monitoring: launch.detailed_monitoring,
        };
        let instance = match self.ctx.cloud.launch(&request).await {
            Ok(instance) => instance,
            Err(error) if error.is_retryable() => return Err(error.into()),
            Err(error) => {
                self.ctx
                    .update::<Worker, _, DomainError>(worker.id, fence, |w, now| {
                        w.observe_lifecycle(
                            LifecycleState::Failed,
                            None,
                            Some(error.to_string()),
                            now,
                        )
                    })
                    .await?;
                return Err(error.into());
            }
        };
        let ami = self
            .ctx
            .cloud
            .describe_images(&worker.region, std::slice::from_ref(&instance.image_id))
            .await
            .ok()
            .and_then(|images| images.into_iter().next())
            .map(|image| AmiInfo {
                id: image.id,
                name: image.name,
                description: image.description,
                created_at: image.created_at,
            });
        let detailed = request.detailed_monitoring;
        self.ctx
            .update::<Worker, _, CoreError>(worker.id, fence, |w, now| {
                let mut events = w.assign_instance(
                    instance.instance_id.clone(),
                    ami.clone(),
                    network_of(&instance),
                    instance.launched_at,
                    now,
                )?;
                events.extend(w.observe_lifecycle(
                    LifecycleState::from_instance(instance.state),
                    Some(instance.state),
                    Some("launched".into()),
                    now,
                )?);
                if detailed {
                    events.extend(w.mark_detailed_monitoring(now)?);
                }
                Ok(events)
            })
            .await?;
        Ok(ReconcileOutcome::RequeueAfter(POLL_BOOT_SECONDS))
    }

    /// Writes what describe said about the instance (a missing instance has been
    /// gone long enough for EC2 to forget it: terminated).
    async fn record_observation(
        &self,
        worker: &Worker,
        observed: Option<&Instance>,
        fence: Option<&Fence>,
    ) -> Result<Worker, CoreError> {
        let (state, raw, network) = match observed {
            Some(instance) => (
                LifecycleState::from_instance(instance.state),
                Some(instance.state),
                Some(network_of(instance)),
            ),
            None => (LifecycleState::Terminated, None, None),
        };
        self.ctx
            .update::<Worker, _, CoreError>(worker.id, fence, |w, now| {
                let mut events = Vec::new();
                if let Some(network) = &network {
                    events.extend(w.observe_network(network.clone(), now)?);
                }
                if w.status.lifecycle.check_transition_to(state) {
                    events.extend(w.observe_lifecycle(state, raw, None, now)?);
                }
                Ok(events)
            })
            .await
    }

    async fn act_on(&self, worker: &Worker) -> Result<ReconcileOutcome, CoreError> {
        let Some(instance) = worker.instance_id.clone() else {
            return Ok(ReconcileOutcome::Done);
        };
        let ids = std::slice::from_ref(&instance);
        let region = &worker.region;
        let lifecycle = worker.status.lifecycle;
        use LifecycleState::*;
        match (worker.spec.desired_status, lifecycle) {
            (_, Terminated) => Ok(ReconcileOutcome::Done),
            // Lablets still bound to a worker that is to stop or go (a forced
            // stop): they leave first, while CML can still tear their labs
            // down. Should CML stop answering, the lablets count the worker as
            // lost and let go without it, so the wait ends either way.
            (DesiredStatus::Stopped | DesiredStatus::Terminated, Running)
                if worker.can_host_labs() && !worker.status.capacity.allocations.is_empty() =>
            {
                for lablet in worker.status.capacity.allocations.keys() {
                    self.ctx.nudge_lablet(*lablet);
                }
                Ok(ReconcileOutcome::RequeueAfter(POLL_TRANSITION_SECONDS))
            }
            (DesiredStatus::Terminated, ShuttingDown) => {
                Ok(ReconcileOutcome::RequeueAfter(POLL_TRANSITION_SECONDS))
            }
            (DesiredStatus::Terminated, _) => {
                self.ctx.cloud.terminate(region, ids).await?;
                Ok(ReconcileOutcome::RequeueAfter(POLL_TRANSITION_SECONDS))
            }
            (DesiredStatus::Running, Running) | (DesiredStatus::Stopped, Stopped) => {
                Ok(ReconcileOutcome::Done)
            }
            (DesiredStatus::Running, Stopped) => {
                self.ctx.cloud.start(region, ids).await?;
                Ok(ReconcileOutcome::RequeueAfter(POLL_BOOT_SECONDS))
            }
            (DesiredStatus::Stopped, Running) => {
                self.ctx.cloud.stop(region, ids).await?;
                Ok(ReconcileOutcome::RequeueAfter(POLL_TRANSITION_SECONDS))
            }
            (DesiredStatus::Running, Provisioning) => {
                Ok(ReconcileOutcome::RequeueAfter(POLL_BOOT_SECONDS))
            }
            // Wait for transitions to settle before acting on them.
            (_, Provisioning | Stopping | ShuttingDown | Pending | Unknown | Failed) => {
                Ok(ReconcileOutcome::RequeueAfter(POLL_TRANSITION_SECONDS))
            }
        }
    }
}

/// True when the worker's desired state is reached.
pub(crate) fn is_converged(worker: &Worker) -> bool {
    worker
        .spec
        .desired_status
        .is_satisfied_by(worker.status.lifecycle)
        || (worker.spec.desired_status == DesiredStatus::Stopped && worker.instance_id.is_none())
}

/// Where the instance answers, as EC2 and its endpoint tag say.
pub(crate) fn network_of(instance: &Instance) -> Network {
    Network {
        endpoint: instance
            .tags
            .get(crate::ports::cloud::CML_ENDPOINT_TAG)
            .cloned(),
        public_ip: instance.public_ip.clone(),
        private_ip: instance.private_ip.clone(),
    }
}

trait CheckTo {
    fn check_transition_to(self, to: LifecycleState) -> bool;
}

impl CheckTo for LifecycleState {
    // An observation the table forbids (say a stale describe showing `running`
    // after we saw `terminated`) is ignored rather than failing the reconcile.
    fn check_transition_to(self, to: LifecycleState) -> bool {
        use crate::state_machine::StateMachine;
        let ok = self.check_transition(to).is_ok();
        if !ok {
            tracing::warn!(
                from = self.as_str(),
                to = to.as_str(),
                "ignoring impossible observation"
            );
        }
        ok
    }
}

/// The outcome that looks again first.
fn sooner(a: ReconcileOutcome, b: ReconcileOutcome) -> ReconcileOutcome {
    match (&a, &b) {
        (ReconcileOutcome::Failed(_), _) => a,
        (_, ReconcileOutcome::Failed(_)) => b,
        (ReconcileOutcome::Done, _) => b,
        (_, ReconcileOutcome::Done) => a,
        (ReconcileOutcome::RequeueAfter(x), ReconcileOutcome::RequeueAfter(y)) => {
            ReconcileOutcome::RequeueAfter(*x.min(y))
        }
    }
}
