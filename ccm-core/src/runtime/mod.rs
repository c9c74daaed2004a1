//! The small runtime that drives controllers and jobs: backoff, a deduplicating
//! work queue, the generic controller loop over it, group commit, locks by key, the job runner
//! and leader election. Everything runs on the [`crate::ports::Clock`], so
//! simulations drive it with virtual time.

pub mod backoff;
pub mod controller;
pub mod group_commit;
pub mod job_runner;
pub mod keyed_lock;
pub mod leader;
pub mod lease_gate;
pub mod relay;
pub mod work_queue;

pub use backoff::Backoff;
pub use controller::Controller;
pub use job_runner::{Job, JobContext, JobRun, JobRunner, TriggerOutcome};
pub use leader::{LeaderElector, Leadership, LeaseSettings};
pub use relay::{EventRelay, RelayError};
pub use work_queue::{ReconcileOutcome, WorkQueue};
