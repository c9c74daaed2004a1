//! The payload of each event type: one struct per type, named like the type's
//! variant of `EventData` (and of the domain's `EventPayload`), documented and
//! given its own schema, so a client reads `data` as a named type. Types that
//! carry nothing are aliases of [`EmptyEventData`].

mod definition;
mod fleet;
mod lab;
mod lablet;
mod worker;

pub use definition::*;
pub use fleet::*;
pub use lab::*;
pub use lablet::*;
pub use worker::*;

pub use super::data::{EmptyEventData, FieldChange, ScalingAction};
