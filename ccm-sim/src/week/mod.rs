//! # A simulated week of training traffic
//!
//! A seeded week of lablet bookings — classes of 10–40 students starting on the
//! hour in the business hours of two regions, plus ad-hoc lablets — run through the
//! real [`ccm_core::fleet::Fleet`] engine on the simulator, on a
//! [`ccm_core::ports::VirtualClock`] and a [`ccm_core::store::MemoryStore`], under one
//! of the fleet policies ([`Policy`]):
//!
//! * [`Policy::Autoscaler`]: ccm's autoscaler (lablets placed and workers started
//!   within the lead time, empty workers drained and stopped), and its levers
//!   one at a time (a fixed lead, lifetime placement, the learned warm pool);
//! * [`Policy::AlwaysOn`]: a fleet sized for the week's peak, launched before the
//!   week and never stopped;
//! * [`Policy::Reactive`]: the predecessor's rule — workers started on demand when a
//!   lablet's start comes (no lead time), stopped after 60 idle minutes.
//!
//! [`WeekConfig::short_notice`] adds traffic that arrives during the run: bookings
//! made 0–30 minutes before their start and on-demand lablets, booked through
//! the engine's API at their moment, and cancellations of any booking before its
//! start (`short_notice.rs`). It runs two weeks, so the second has the first as
//! the learned warm pool's history; [`short_notice_table`] reports the share
//! ready on time, the on-demand waits and what the warm pool costs.
//!
//! [`run_week`] returns a [`WeekReport`] (serde-serialisable, for the bindings):
//! worker-hours and their cost, lablets ready late (count, p50/p99/max), peak
//! workers, the packing lower bound and a timeline of workers for the chart.
//! [`markdown_table`] and [`svg_chart`] render several reports side by side.
//!
//! Everything is deterministic for a seed: traffic comes from a seeded ChaCha
//! stream, lablet ids are derived from their booking index, and the engine only
//! sees virtual time.

mod bound;
mod chart;
mod ledger;
mod policy;
mod report;
mod run;
mod short_notice;
mod traffic;

pub use chart::svg_chart;
pub use policy::Policy;
pub use report::{
    markdown_table, short_notice_table, Lateness, ShortNoticeOutcome, TimelinePoint, WeekReport,
};
pub use run::run_week;
pub use traffic::{generate, Booking, DefinitionShape, Traffic, WeekConfig, Zone};

use crate::SimError;
use ccm_core::error::CoreError;

/// What running a week can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WeekError {
    /// The configuration cannot describe a week.
    #[error("invalid week configuration: {0}")]
    Config(String),
    /// The engine refused a command or its store failed.
    #[error("engine: {0}")]
    Engine(#[from] CoreError),
    /// The simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] SimError),
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] ccm_core::ports::store::StoreError),
}

impl From<ccm_core::DomainError> for WeekError {
    fn from(error: ccm_core::DomainError) -> Self {
        WeekError::Engine(error.into())
    }
}
