//! The `log-retention` job: keeps the event log within its age and size bounds
//! (`event_retention_days`, `event_retention_max`) by compacting its front. What
//! stays rebuildable is the store port's guarantee ([`Store::compact_events`]).
//!
//! [`Store::compact_events`]: crate::ports::Store::compact_events

use std::sync::Arc;

use async_trait::async_trait;

use super::context::Context;
use crate::error::CoreError;
use crate::ports::store::CompactionReport;
use crate::runtime::{Job, JobContext};
use crate::time::{epoch, plus_seconds};

/// Name of the recurrent event-log retention job.
pub const LOG_RETENTION_JOB: &str = "log-retention";

/// Seconds between two runs of the job.
pub(super) const LOG_RETENTION_INTERVAL_SECONDS: u64 = 600;

/// Calls to the store per run at most (each does a bounded amount of work), so
/// a long backlog is worked off over several runs without delaying other jobs.
const CALLS_PER_RUN: usize = 5;

/// The event-log retention job.
#[derive(Clone)]
pub(crate) struct LogRetention {
    ctx: Arc<Context>,
}

impl LogRetention {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Compacts the event log down to the retention settings; returns what the
    /// last store call reported, its counts summed over the calls.
    pub(crate) async fn retain_event_log(&self) -> Result<CompactionReport, CoreError> {
        let days = self.ctx.settings.event_retention_days;
        let cutoff = if days == 0 {
            epoch()
        } else {
            plus_seconds(self.ctx.now(), -i64::from(days) * 86_400)
        };
        let max_events = self.ctx.settings.event_retention_max;
        let mut total = CompactionReport::default();
        for _ in 0..CALLS_PER_RUN {
            let report = self.ctx.store.compact_events(cutoff, max_events).await?;
            total.compacted += report.compacted;
            total.snapshots += report.snapshots;
            total.first_sequence = report.first_sequence;
            total.more = report.more;
            total.blocked_by = report.blocked_by;
            if !total.more {
                break;
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl Job for LogRetention {
    async fn run(&self, _ctx: &JobContext) -> Result<(), String> {
        let report = self.retain_event_log().await.map_err(|e| e.to_string())?;
        if report.compacted > 0 || report.more {
            tracing::info!(
                compacted = report.compacted,
                snapshots = report.snapshots,
                first_sequence = report.first_sequence,
                more = report.more,
                "event log compacted"
            );
        }
        match report.blocked_by {
            Some(blocked) => Err(format!("compaction stopped before {blocked}")),
            None => Ok(()),
        }
    }
}
