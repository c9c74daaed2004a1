//! Placement: which worker each lablet goes to, and what to launch when none can
//! take it.
//!
//! [`place`] is a pure function from workers with free capacity
//! ([`WorkerCandidate`]), lablet requests ([`PlacementRequest`]) and a [`Policy`] to
//! a [`Plan`]: assignments with their ports, and for every unplaced lablet why each
//! worker refused it ([`RejectReason`], checked in a fixed order). It does no I/O
//! and gives equal plans for equal inputs, so controllers can recompute it freely
//! and simulations replay it exactly.
//!
//! It is built for batches of a million lablets over thousands of workers:
//! workers are indexed by free capacity per compatibility group (see `index.rs`),
//! request shapes are interned, and a shape that failed once is rejected in O(1)
//! for the rest of the batch, sharing one rejection list.
//!
//! [`suggest_scale_up`] turns what did not fit into new workers from a
//! [`PriceTable`]; [`lower_bound`] and [`baseline::first_fit`] are yardsticks for
//! benches and simulations.

pub mod baseline;
mod bound;
mod candidate;
mod engine;
mod fleet;
mod group_list;
mod index;
mod max_tree;
mod plan;
mod policy;
mod port_pool;
mod price;
mod reason;
mod request;
mod room;
mod scale_up;
mod shapes;

pub use bound::lower_bound;
pub use candidate::WorkerCandidate;
pub use engine::place;
pub use plan::{Assignment, Plan, Unplaced};
pub use policy::Policy;
pub use port_pool::PortPool;
pub use price::{InstanceType, NewWorkerProfile, PriceTable};
pub use reason::{ReasonCounts, RejectReason, Rejections, WorkerRejection};
pub use request::{PlacementRequest, RequestShape};
pub use scale_up::{suggest_scale_up, ScaleUp, ScaleUpLine};

#[cfg(test)]
mod tests;
