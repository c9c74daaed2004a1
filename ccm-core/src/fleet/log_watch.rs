//! The watch half of level-triggered control: the engine follows the durable
//! event log from a cursor and queues every worker and lablet an event names,
//! whichever process committed it — an operator's stop sent to a process that
//! does not lead reaches the leader this way. A periodic resync requeues
//! everything unsettled as a safety net, as informers do. In-process nudges
//! (`Fleet::nudge`) only shorten the wait; neither path alone is relied on.

use crate::error::CoreError;
use crate::event::{EventPayload, ResourceKind, StoredEvent};
use crate::ids::{LabletId, WorkerId};
use crate::time::{plus_seconds, Timestamp};

use super::{locked, Fleet};

/// Events read per page while catching up.
const PAGE: usize = 1_000;

/// Where the engine stands in the log.
#[derive(Debug, Default)]
pub(crate) struct LogPosition {
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

impl Fleet {
    /// The log position the engine has followed to.
    pub fn log_cursor(&self) -> Option<u64> {
        locked(&self.log, |p| p.cursor)
    }

    /// Reads the log past the cursor and queues what the events name; runs the
    /// full resync when it is due (the first call always resyncs, since the
    /// queues of a process that just started leading are empty). The cursor
    /// is read before the resync lists the store, so a change committed
    /// meanwhile is seen by one or the other.
    pub async fn follow_log(&self) -> Result<LogCatchUp, CoreError> {
        let now = self.clock.now();
        let mut report = LogCatchUp::default();
        let (cursor, resync_due) = locked(&self.log, |p| {
            (p.cursor, p.next_resync.is_none_or(|at| at <= now))
        });
        let mut cursor = match cursor {
            Some(c) => c,
            None => self.store.last_sequence().await?,
        };
        if resync_due {
            self.take_over().await?;
            let next = plus_seconds(now, i64::from(self.settings.resync_seconds.max(1)));
            locked(&self.log, |p| p.next_resync = Some(next));
            report.resynced = true;
        }
        loop {
            let events = self.store.read_events(cursor, PAGE).await?;
            let Some(last) = events.last() else { break };
            cursor = last.sequence;
            report.events += events.len();
            report.queued += self.queue_subjects(&events);
            report.bookings += events
                .iter()
                .filter(|e| matches!(e.event.payload, EventPayload::LabletCreated { .. }))
                .count();
            locked(&self.log, |p| p.cursor = Some(cursor));
            if events.len() < PAGE {
                break;
            }
        }
        locked(&self.log, |p| p.cursor = Some(cursor));
        Ok(report)
    }

    /// When the next full resync is due, once the first has run.
    pub fn next_resync_at(&self) -> Option<Timestamp> {
        locked(&self.log, |p| p.next_resync)
    }

    /// Forgets the log position, so the next [`Fleet::follow_log`] resyncs: what
    /// a process does when it stops leading (another leader moves on meanwhile).
    pub fn forget_log_position(&self) {
        locked(&self.log, |p| *p = LogPosition::default());
    }

    fn queue_subjects(&self, events: &[StoredEvent]) -> usize {
        let now = self.clock.now();
        let mut queued = 0;
        for stored in events {
            let subject = &stored.event.subject;
            match subject.kind {
                ResourceKind::Worker => {
                    if let Ok(id) = subject.id.parse::<WorkerId>() {
                        self.with_queue(|q| q.enqueue(id, now));
                        queued += 1;
                    }
                }
                ResourceKind::Lablet => {
                    if let Ok(id) = subject.id.parse::<LabletId>() {
                        self.nudge_lablet_at(id, now);
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
}
