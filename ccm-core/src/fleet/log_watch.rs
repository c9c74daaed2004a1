//! The watch half of level-triggered control: the engine follows the durable
//! event log from a cursor and queues every worker and lablet an event names,
//! whichever process committed it — an operator's stop sent to a process that
//! does not lead reaches the leader this way. A periodic resync requeues
//! everything unsettled as a safety net, as informers do. In-process nudges
//! (a command queueing its controller) only shorten the wait; neither path alone
//! is relied on.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use super::context::Context;
use super::controller::WorkerController;
use super::lablet_controller::LabletController;
use crate::error::CoreError;
use crate::event::{EventPayload, ResourceKind, StoredEvent};
use crate::ids::{LabletId, WorkerId};
use crate::ports::store::LabletFilter;
use crate::time::{plus_seconds, Timestamp};
use crate::worker::DesiredStatus;

/// Events read per page while catching up.
const PAGE: usize = 1_000;

/// Where the engine stands in the log.
#[derive(Debug, Default)]
struct LogPosition {
    /// Last sequence whose subjects were queued; `None` before the first look.
    cursor: Option<u64>,
    /// When the next full resync is due; `None` before the first one.
    next_resync: Option<Timestamp>,
}

/// What one look at the log did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogCatchUp {
    /// Events read.
    pub events: usize,
    /// Workers and lablets queued because an event named them.
    pub queued: usize,
    /// New bookings among the events: the scheduler should look now rather
    /// than at its next interval.
    pub bookings: usize,
    /// Whether a full resync ran.
    pub resynced: bool,
}

/// The log follower: the log position and the resync that queues everything.
pub(crate) struct LogWatch {
    ctx: Arc<Context>,
    position: Mutex<LogPosition>,
    workers: WorkerController,
    lablets: LabletController,
}

impl LogWatch {
    pub(crate) fn new(
        ctx: Arc<Context>,
        workers: WorkerController,
        lablets: LabletController,
    ) -> Self {
        Self {
            ctx,
            position: Mutex::new(LogPosition::default()),
            workers,
            lablets,
        }
    }

    /// Queues every unconverged worker and every unfinished lablet: what a process
    /// must do when it starts leading (at start-up, after a crash, after a
    /// leadership change), since the in-memory queues start empty, and what the
    /// periodic resync does. Both are attempted even when one fails (the first
    /// error is returned). Returns how many workers and lablets were queued.
    pub(crate) async fn resync(&self) -> Result<(usize, usize), CoreError> {
        let workers = self.workers.enqueue_unconverged().await;
        let lablets = self.lablets.enqueue_open().await;
        Ok((workers?, lablets?))
    }

    /// Reads the log past the cursor and queues what the events name; runs the
    /// full resync when it is due (the first call always resyncs, since the
    /// queues of a process that just started leading are empty). The cursor
    /// is read before the resync lists the store, so a change committed
    /// meanwhile is seen by one or the other.
    pub(crate) async fn follow(&self) -> Result<LogCatchUp, CoreError> {
        let now = self.ctx.now();
        let mut report = LogCatchUp::default();
        let (cursor, resync_due) =
            self.with_position(|p| (p.cursor, p.next_resync.is_none_or(|at| at <= now)));
        let mut cursor = match cursor {
            Some(c) => c,
            None => self.ctx.store.last_sequence().await?,
        };
        if resync_due {
            self.resync().await?;
            let next = plus_seconds(now, i64::from(self.ctx.settings.resync_seconds.max(1)));
            self.with_position(|p| p.next_resync = Some(next));
            report.resynced = true;
        }
        loop {
            let events = self.ctx.store.read_events(cursor, PAGE).await?;
            let Some(last) = events.last() else { break };
            cursor = last.sequence;
            report.events += events.len();
            report.queued += self.queue_subjects(&events);
            report.queued += self.queue_lablets_of_leaving_workers(&events).await?;
            report.bookings += events
                .iter()
                .filter(|e| {
                    matches!(
                        e.event.payload,
                        EventPayload::LabletCreated { .. } | EventPayload::LabletCreatedV2 { .. }
                    )
                })
                .count();
            self.with_position(|p| p.cursor = Some(cursor));
            if events.len() < PAGE {
                break;
            }
        }
        self.with_position(|p| p.cursor = Some(cursor));
        Ok(report)
    }

    /// When the next full resync is due, once the first has run.
    pub(crate) fn next_resync_at(&self) -> Option<Timestamp> {
        self.with_position(|p| p.next_resync)
    }

    /// Forgets the log position, so the next [`LogWatch::follow`] resyncs: what
    /// a process does when it stops leading (another leader moves on meanwhile).
    pub(crate) fn forget_position(&self) {
        self.with_position(|p| *p = LogPosition::default());
    }

    fn queue_subjects(&self, events: &[StoredEvent]) -> usize {
        let now = self.ctx.now();
        let mut queued = 0;
        for stored in events {
            let subject = &stored.event.subject;
            match subject.kind {
                ResourceKind::Worker => {
                    if let Ok(id) = subject.id.parse::<WorkerId>() {
                        self.ctx.worker_queue.enqueue_at(id, now);
                        queued += 1;
                    }
                }
                ResourceKind::Lablet => {
                    if let Ok(id) = subject.id.parse::<LabletId>() {
                        self.ctx.nudge_lablet_at(id, now);
                        queued += 1;
                    }
                }
                ResourceKind::Lab
                | ResourceKind::Definition
                | ResourceKind::Job
                | ResourceKind::Fleet => {}
            }
        }
        queued
    }

    /// A worker asked to stop, terminate or go (a forced stop or deletion) has
    /// its lablets queued too: they must leave it (labs torn down, placed again
    /// or ended) and would otherwise wait for their next check, by which time
    /// a lablet due to start would have started on a worker that is going.
    async fn queue_lablets_of_leaving_workers(
        &self,
        events: &[StoredEvent],
    ) -> Result<usize, CoreError> {
        let leaving: BTreeSet<WorkerId> = events
            .iter()
            .filter(|e| match &e.event.payload {
                EventPayload::WorkerSpecUpdated { spec } => {
                    spec.desired_status != DesiredStatus::Running
                }
                EventPayload::WorkerDeletionRequested { .. }
                | EventPayload::WorkerTerminationRequested { .. } => true,
                _ => false,
            })
            .filter_map(|e| e.event.subject.id.parse().ok())
            .collect();
        let now = self.ctx.now();
        let mut queued = 0;
        for worker in leaving {
            let filter = LabletFilter {
                worker_id: Some(worker),
                ..LabletFilter::default()
            };
            for lablet in self.ctx.store.list_lablets(&filter).await? {
                self.ctx.nudge_lablet_at(lablet.id, now);
                queued += 1;
            }
        }
        Ok(queued)
    }

    // A poisoned lock still holds a consistent position (each change is one
    // assignment), so it is used rather than panicking.
    fn with_position<T>(&self, f: impl FnOnce(&mut LogPosition) -> T) -> T {
        match self.position.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }
}
