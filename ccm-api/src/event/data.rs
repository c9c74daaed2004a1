//! [`EventData`]: what an event says happened, one variant per domain event type
//! (`ccm_core::event::EventPayload`), declared from the domain's own list of
//! types so each type name has one source, each carrying its payload struct
//! (`payload`) with the same `data` JSON. The mapping is an exhaustive match: a
//! new domain event type does not compile here until its payload is mapped.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::payload;
use super::schema::VariantSchema;

/// What the autoscaler did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScalingAction {
    /// Started stopped workers.
    Start,
    /// Launched new workers.
    Launch,
    /// Marked empty workers as draining.
    Drain,
    /// Stopped drained workers.
    Stop,
    /// Wanted to scale up but a bound (cap, cooldown) prevented it.
    Blocked,
}

impl From<ccm_core::event::ScalingAction> for ScalingAction {
    fn from(a: ccm_core::event::ScalingAction) -> Self {
        use ccm_core::event::ScalingAction as Domain;
        match a {
            Domain::Start => Self::Start,
            Domain::Launch => Self::Launch,
            Domain::Drain => Self::Drain,
            Domain::Stop => Self::Stop,
            Domain::Blocked => Self::Blocked,
        }
    }
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Old value as text.
    pub from: String,
    /// New value as text.
    pub to: String,
}

impl From<&ccm_core::event::FieldChange> for FieldChange {
    fn from(c: &ccm_core::event::FieldChange) -> Self {
        Self {
            field: c.field.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        }
    }
}

/// The `data` of an event type that carries nothing: `{}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyEventData {}

/// Declares [`EventData`] from the domain's list of event types
/// (`ccm_core::for_each_event_type!`): one variant per type, carrying the type's
/// own payload struct of the same name (`payload`), tagged with the type name
/// the domain declares. No type name is written in this crate. Names are `tt`,
/// not `literal`: a `literal` fragment reaches a derive macro wrapped in an
/// invisible group, which utoipa does not read as a rename.
macro_rules! event_data {
    ($($variant:ident $name:tt,)+) => {
        /// What happened: the versioned event type (`type`) and its content
        /// (`data`). Renamed types never change meaning: a new shape is a new
        /// `.v2` type.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        #[serde(tag = "type", content = "data")]
        pub enum EventData {
            $(
                #[doc = concat!("`", $name, "`.")]
                #[serde(rename = $name)]
                $variant(payload::$variant),
            )+
        }

        impl EventData {
            /// The versioned type name, identical to the JSON `type` field.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)+
                }
            }

            /// Every event type with the schema of its payload, in the domain's
            /// order (the `Event` schema is built from it).
            pub(crate) fn variant_schemas() -> Vec<VariantSchema> {
                vec![$(VariantSchema::of::<payload::$variant>($name, stringify!($variant)),)+]
            }
        }
    };
}

ccm_core::for_each_event_type!(event_data);

/// Domain events for examples and tests.
pub(crate) mod samples {
    use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
    use ccm_core::ids::EventId;
    use chrono::{DateTime, Utc};

    /// A lablet entering `running` at its timeslot's start.
    pub(crate) fn phase_changed() -> EventPayload {
        EventPayload::LabletPhaseChanged {
            from: ccm_core::lablet::LabletPhase::Ready,
            to: ccm_core::lablet::LabletPhase::Running,
            reason: Some("timeslot started".into()),
        }
    }

    /// `payload` as the log's event number `sequence`, about lablet 7.
    pub(crate) fn stored(sequence: u64, payload: EventPayload) -> StoredEvent {
        let at = DateTime::<Utc>::from_timestamp(1_767_229_200, 0).unwrap_or_default();
        StoredEvent {
            sequence,
            event: DomainEvent {
                id: EventId::from_u128(
                    0xe7e0_0000_0000_4000_8000_0000_0000_0000 + u128::from(sequence),
                ),
                occurred_at: at,
                subject: Subject {
                    kind: ResourceKind::Lablet,
                    id: "1ab10000-0000-4000-8000-000000000007".into(),
                },
                payload,
            },
        }
    }
}
