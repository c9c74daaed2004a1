//! Event-log compaction shared by every store: decides where the log is cut and
//! what replaces the cut part, through the port's two primitives
//! ([`Store::read_compacted`], [`Store::apply_compaction`]), so the stores only
//! move rows and the rules live (and are tested) once.
//!
//! A step reads the next events of the complete part of the log, cuts after the
//! longest prefix that is older than the cutoff or beyond the size bound, and
//! rebuilds every worker and lablet named in that prefix from its earlier
//! snapshot plus its events: the aggregate as it stood at the cut becomes its
//! new snapshot, stored at the sequence of its last compacted event. A resource
//! that no longer exists keeps nothing (the store also drops snapshots of
//! resources deleted since). A resource that exists but does not replay holds
//! the cut before its first event, so compaction never makes it unrebuildable.

use std::collections::BTreeMap;

use crate::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
use crate::ids::{LabletId, WorkerId};
use crate::lablet::Lablet;
use crate::ports::store::{CompactionReport, CompactionStep, Store, StoreError};
use crate::replay::EventSourced;
use crate::replay::ReplayError;
use crate::time::Timestamp;
use crate::worker::Worker;

/// How much work one [`compact`] call does at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Events examined (and removed at most) per atomic step.
    pub step_events: usize,
    /// Steps per call.
    pub max_steps: usize,
}

impl Default for Budget {
    /// 10,000 events per step (one short transaction), 20 steps per call.
    fn default() -> Self {
        Self {
            step_events: 10_000,
            max_steps: 20,
        }
    }
}

/// Compacts the log of `store` (see [`Store::compact_events`]) within `budget`.
pub async fn compact<S: Store + ?Sized>(
    store: &S,
    cutoff: Timestamp,
    max_events: u64,
    budget: Budget,
) -> Result<CompactionReport, StoreError> {
    let step_events = budget.step_events.max(1);
    let mut report = CompactionReport {
        first_sequence: store.first_sequence().await?,
        ..CompactionReport::default()
    };
    for _ in 0..budget.max_steps.max(1) {
        let first = store.first_sequence().await?;
        let last = store.last_sequence().await?;
        report.first_sequence = first;
        let size_cut = last.saturating_sub(max_events);
        let chunk: Vec<StoredEvent> = store
            .read_events(first.saturating_sub(1), step_events)
            .await?
            .into_iter()
            .take_while(|e| e.sequence <= last)
            .collect();
        let cut = cut_after(&chunk, first, cutoff, size_cut);
        if cut < first {
            return Ok(report);
        }
        let plan = plan_step(store, &chunk, first, cut).await?;
        let reached = plan.step.new_first.saturating_sub(1);
        let snapshots = plan.step.snapshots.len() as u64;
        if !store.apply_compaction(plan.step).await? {
            // Another compaction moved the log meanwhile: plan again from there.
            continue;
        }
        report.first_sequence = reached + 1;
        report.compacted += reached + 1 - first;
        report.snapshots += snapshots;
        if plan.blocked_by.is_some() {
            report.blocked_by = plan.blocked_by;
            return Ok(report);
        }
        // A short chunk, or a cut inside it, means the cut point was reached.
        if chunk.len() < step_events || reached < chunk.last().map_or(0, |e| e.sequence) {
            return Ok(report);
        }
    }
    report.more = true;
    Ok(report)
}

/// The last sequence of the longest prefix of `chunk` (which starts at `first`)
/// whose events are older than `cutoff` or at most `size_cut`; `first - 1` when
/// none is.
fn cut_after(chunk: &[StoredEvent], first: u64, cutoff: Timestamp, size_cut: u64) -> u64 {
    let mut cut = first.saturating_sub(1);
    for stored in chunk {
        // The complete part is gap-free; stop at anything else rather than guess.
        if stored.sequence != cut + 1 {
            break;
        }
        if stored.event.occurred_at >= cutoff && stored.sequence > size_cut {
            break;
        }
        cut = stored.sequence;
    }
    cut
}

struct Plan {
    step: CompactionStep,
    blocked_by: Option<String>,
}

/// Plans the step that moves the first sequence from `first` to `cut + 1`, or
/// to just before the first event of a resource that blocks it.
async fn plan_step<S: Store + ?Sized>(
    store: &S,
    chunk: &[StoredEvent],
    first: u64,
    mut cut: u64,
) -> Result<Plan, StoreError> {
    let subjects = rebuildable_subjects(chunk, cut);
    let keys: Vec<Subject> = subjects.keys().cloned().map(subject_of).collect();
    let mut prior: BTreeMap<(ResourceKind, String), Vec<StoredEvent>> = BTreeMap::new();
    for stored in store.read_compacted(&keys).await? {
        prior
            .entry(key_of(&stored.event.subject))
            .or_default()
            .push(stored);
    }
    let mut blocked_by = None;
    'plan: loop {
        let mut step = CompactionStep {
            expected_first: first,
            new_first: cut + 1,
            ..CompactionStep::default()
        };
        for (key, events) in &subjects {
            let events: Vec<&StoredEvent> = events.iter().filter(|e| e.sequence <= cut).collect();
            let Some(newest) = events.last() else {
                continue;
            };
            let earlier = prior.get(key).map_or(&[][..], Vec::as_slice);
            step.superseded.extend(earlier.iter().map(|e| e.sequence));
            let history: Vec<&DomainEvent> = earlier
                .iter()
                .chain(events.iter().copied())
                .map(|e| &e.event)
                .collect();
            match snapshot_payload(key.0, &history) {
                Ok(payload) => step.snapshots.push(snapshot(newest, payload, &history)),
                Err(error) if exists(store, key).await? => {
                    tracing::warn!(kind = ?key.0, id = %key.1, %error, "event log compaction blocked: the resource's events do not replay");
                    blocked_by = Some(format!("{} {}: {error}", key.0.as_str(), key.1));
                    cut = events[0].sequence - 1;
                    continue 'plan;
                }
                // Its record is gone: nothing of it needs to stay.
                Err(_) => {}
            }
        }
        step.superseded.sort_unstable();
        return Ok(Plan { step, blocked_by });
    }
}

type Key = (ResourceKind, String);

fn key_of(subject: &Subject) -> Key {
    (subject.kind, subject.id.clone())
}

fn subject_of((kind, id): Key) -> Subject {
    Subject { kind, id }
}

/// The workers' and lablets' events up to `cut`, grouped by resource in log order.
fn rebuildable_subjects(chunk: &[StoredEvent], cut: u64) -> BTreeMap<Key, Vec<StoredEvent>> {
    let mut subjects: BTreeMap<Key, Vec<StoredEvent>> = BTreeMap::new();
    for stored in chunk.iter().take_while(|e| e.sequence <= cut) {
        if matches!(
            stored.event.subject.kind,
            ResourceKind::Worker | ResourceKind::Lablet
        ) {
            subjects
                .entry(key_of(&stored.event.subject))
                .or_default()
                .push(stored.clone());
        }
    }
    subjects
}

/// The creation payload carrying the aggregate rebuilt from `history`; the kind
/// of creation (created or imported) is kept.
fn snapshot_payload(
    kind: ResourceKind,
    history: &[&DomainEvent],
) -> Result<EventPayload, ReplayError> {
    match kind {
        ResourceKind::Worker => {
            let worker = Box::new(Worker::from_events(history.iter().copied())?);
            Ok(match history.first().map(|e| &e.payload) {
                Some(
                    EventPayload::WorkerImported { .. } | EventPayload::WorkerImportedV2 { .. },
                ) => EventPayload::WorkerImported { worker },
                _ => EventPayload::WorkerCreated { worker },
            })
        }
        ResourceKind::Lablet => Ok(EventPayload::LabletCreated {
            lablet: Box::new(Lablet::from_events(history.iter().copied())?),
        }),
        other => Err(ReplayError::WrongKind {
            type_name: "snapshot",
            kind: other,
        }),
    }
}

/// The snapshot stored in place of `newest`: a lone creation event stays as it
/// is; otherwise a new event at `newest`'s sequence and time, under its id (the
/// event it replaces leaves the log, so the id stays unique, and a compaction
/// of one log always writes the same snapshot).
fn snapshot(newest: &StoredEvent, payload: EventPayload, history: &[&DomainEvent]) -> StoredEvent {
    if let [only] = history {
        if only.payload == payload {
            return newest.clone();
        }
    }
    StoredEvent {
        sequence: newest.sequence,
        event: DomainEvent {
            id: newest.event.id,
            occurred_at: newest.event.occurred_at,
            subject: newest.event.subject.clone(),
            payload,
        },
    }
}

async fn exists<S: Store + ?Sized>(store: &S, (kind, id): &Key) -> Result<bool, StoreError> {
    Ok(match kind {
        ResourceKind::Worker => match id.parse::<WorkerId>() {
            Ok(id) => store.get_worker(id).await?.is_some(),
            Err(_) => false,
        },
        ResourceKind::Lablet => match id.parse::<LabletId>() {
            Ok(id) => store.get_lablet(id).await?.is_some(),
            Err(_) => false,
        },
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{epoch, plus_seconds};

    fn event(sequence: u64, seconds: i64) -> StoredEvent {
        StoredEvent {
            sequence,
            event: DomainEvent::new(
                Subject {
                    kind: ResourceKind::Fleet,
                    id: "fleet".into(),
                },
                EventPayload::WorkerMonitoringEnabled {},
                plus_seconds(epoch(), seconds),
            ),
        }
    }

    #[test]
    fn the_cut_ends_at_the_first_young_event_beyond_the_size_bound() {
        let chunk: Vec<StoredEvent> = (5..=10).map(|s| event(s, s as i64 * 10)).collect();
        let cutoff = plus_seconds(epoch(), 75);
        // Events 5, 6 and 7 are older than the cutoff.
        assert_eq!(cut_after(&chunk, 5, cutoff, 0), 7);
        // The size bound takes more than the age does.
        assert_eq!(cut_after(&chunk, 5, cutoff, 9), 9);
        // Nothing old, nothing beyond the bound.
        assert_eq!(cut_after(&chunk, 5, epoch(), 0), 4);
        assert_eq!(cut_after(&[], 5, cutoff, 100), 4);
    }

    #[test]
    fn an_old_event_after_a_young_one_does_not_move_the_cut() {
        let chunk = vec![event(1, 10), event(2, 100), event(3, 10)];
        assert_eq!(cut_after(&chunk, 1, plus_seconds(epoch(), 50), 0), 1);
    }

    #[test]
    fn a_gap_stops_the_cut() {
        let chunk = vec![event(3, 10), event(5, 10)];
        assert_eq!(cut_after(&chunk, 3, plus_seconds(epoch(), 50), 0), 3);
    }
}
