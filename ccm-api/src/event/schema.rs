//! The schema of [`Event`]: a `oneOf` of one object schema per event type
//! (`WorkerCreatedEvent`, …) with a `type` discriminator, each naming its
//! payload's schema for `data`. A derived schema would be the envelope `allOf`
//! an adjacently tagged enum, which client generators cannot turn into classes;
//! this is the same JSON described so that they can.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use utoipa::openapi::schema::{Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use super::{Event, EventData, EventSubject};

/// The members every event has, whatever its type (only its schema is used).
#[derive(ToSchema)]
#[allow(dead_code)] // read by the schema derive only
struct EventEnvelope {
    /// Position in the log, starting at 1 and increasing by 1 (the SSE `id`).
    #[schema(minimum = 1)]
    sequence: u64,
    /// Unique id of the event (distinct from its position).
    id: Uuid,
    /// When the change happened.
    occurred_at: DateTime<Utc>,
    /// What it is about.
    subject: EventSubject,
}

/// One event type as the schema needs it.
pub(crate) struct VariantSchema {
    /// The versioned type name (`worker.created.v1`).
    type_name: &'static str,
    /// The name of its event schema (`WorkerCreatedEvent`).
    event_schema: String,
    /// The name of its payload's schema (`WorkerCreated`, `EmptyEventData`).
    data_schema: String,
    /// The payload's schema and every schema it refers to.
    data_schemas: Vec<(String, RefOr<Schema>)>,
}

impl VariantSchema {
    /// Event type `type_name`, declared as variant `variant` with payload `T`.
    pub(crate) fn of<T: ToSchema>(type_name: &'static str, variant: &str) -> Self {
        let mut data_schemas = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut data_schemas);
        Self {
            type_name,
            event_schema: format!("{variant}Event"),
            data_schema: T::name().into_owned(),
            data_schemas,
        }
    }

    fn reference(&self) -> String {
        format!("#/components/schemas/{}", self.event_schema)
    }

    /// The object schema of an event of this type: the envelope, `type` and `data`.
    fn event_object(&self) -> Schema {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!(
                "An event of type `{}`; `data` is `{}`.",
                self.type_name, self.data_schema
            )));
        if let RefOr::T(Schema::Object(envelope)) = EventEnvelope::schema() {
            for (name, schema) in envelope.properties {
                object = object.property(name, schema);
            }
            for name in envelope.required {
                object = object.required(name);
            }
        }
        object
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([self.type_name]))
                    .description(Some("The versioned event type.")),
            )
            .required("type")
            .property("data", Ref::from_schema_name(&self.data_schema))
            .required("data")
            .into()
    }
}

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        let mut discriminator = Discriminator::new("type");
        let mut one_of = OneOfBuilder::new().description(Some(
            "One event of the log: `{\"sequence\", \"id\", \"occurred_at\", \"subject\", \"type\", \"data\"}`. \
             `type` is the versioned type name (`worker.status.updated.v1`) and says what `data` holds.",
        ));
        for variant in EventData::variant_schemas() {
            discriminator
                .mapping
                .insert(variant.type_name.to_owned(), variant.reference());
            one_of = one_of.item(Ref::new(variant.reference()));
        }
        Schema::OneOf(one_of.discriminator(Some(discriminator)).build()).into()
    }
}

impl ToSchema for Event {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Event")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((EventSubject::name().into_owned(), EventSubject::schema()));
        EventSubject::schemas(schemas);
        for variant in EventData::variant_schemas() {
            schemas.push((variant.event_schema.clone(), variant.event_object().into()));
            schemas.extend(variant.data_schemas);
        }
    }
}
