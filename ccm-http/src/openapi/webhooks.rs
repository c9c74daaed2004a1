//! The document's `webhooks` section (OpenAPI 3.1): what ccm POSTs to each
//! configured alert URL — a CloudEvents 1.0 event in structured JSON mode
//! (`crate::webhook`). utoipa 5 has no `webhooks` field, so the section is added
//! to the serialised document; the `data` schemas are the event types' own (found
//! through the `Event` schema's discriminator), so the webhook cannot describe an
//! alert differently from the history API.

use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
use ccm_core::worker::AlertMetric;
use serde_json::{json, Value};

use crate::webhook::{webhook_body, ALERT_EVENT_TYPES, CLOUDEVENTS_SOURCE};

/// The schema name of the webhook body.
const SCHEMA: &str = "AlertCloudEvent";

/// The `data` schema of event type `name`: the `data` member of the event
/// schema the `Event` discriminator maps the type to.
fn data_schema(doc: &Value, name: &str) -> Option<Value> {
    let schemas = &doc["components"]["schemas"];
    let reference = schemas["Event"]["discriminator"]["mapping"][name].as_str()?;
    let event_schema = reference.rsplit('/').next()?;
    Some(schemas[event_schema]["properties"]["data"].clone())
}

/// A real body, as `crate::webhook` renders it.
fn example() -> Value {
    let occurred_at = chrono::DateTime::from_timestamp(1_767_258_000, 0).unwrap_or_default();
    let event = StoredEvent {
        sequence: 4182,
        event: DomainEvent::new(
            Subject {
                kind: ResourceKind::Worker,
                id: "0b9d4c1e-8f1e-4b8a-9d53-2f0f1c6a7e21".into(),
            },
            EventPayload::WorkerAlertRaised {
                metric: AlertMetric::Disk,
                value: 91.5,
                threshold: 85.0,
            },
            occurred_at,
        ),
    };
    webhook_body(&event)
}

fn cloud_event_schema(data: Vec<Value>) -> Value {
    json!({
        "type": "object",
        "description": "A worker alert as a CloudEvents 1.0 event (structured JSON mode).",
        "properties": {
            "specversion": {"const": "1.0", "description": "CloudEvents version."},
            "id": {"type": "string", "description": "The event's sequence in ccm's log, as text: a receiver drops an id it has seen (delivery is at least once)."},
            "source": {"const": CLOUDEVENTS_SOURCE, "description": "Who sent it."},
            "type": {"type": "string", "enum": ALERT_EVENT_TYPES, "description": "The versioned event type."},
            "subject": {"type": "string", "pattern": "^worker/", "description": "`worker/<id>`: the worker the alert is about."},
            "time": {"type": "string", "format": "date-time", "description": "When the threshold was crossed."},
            "datacontenttype": {"const": "application/json"},
            "data": {"oneOf": data, "description": "The alert: metric, value and (when raised) threshold."},
            "sequence": {"type": "integer", "minimum": 1, "description": "Extension: the sequence as a number (also in `Idempotency-Key`)."},
            "ccmeventid": {"type": "string", "format": "uuid", "description": "Extension: the event's id in ccm."}
        },
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data", "sequence", "ccmeventid"]
    })
}

/// Adds the `webhooks` section and its body schema to a serialised document.
pub fn add_to(doc: &mut Value) {
    let data: Vec<Value> = ALERT_EVENT_TYPES
        .iter()
        .filter_map(|name| data_schema(doc, name))
        .collect();
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        schemas.insert(SCHEMA.into(), cloud_event_schema(data));
    }
    let reference = json!({"$ref": format!("#/components/schemas/{SCHEMA}")});
    if let Some(root) = doc.as_object_mut() {
        root.insert(
            "webhooks".into(),
            json!({
                "alert": {
                    "post": {
                        "summary": "A worker alert was raised or cleared: POSTed to every URL of `webhooks.urls`, by the leading process, in log order",
                        "operationId": "alert_webhook",
                        "parameters": [
                            {"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The event's sequence."},
                            {"name": "X-Ccm-Event-Sequence", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The same, for receivers written before `Idempotency-Key`."}
                        ],
                        "requestBody": {
                            "required": true,
                            "content": {
                                "application/cloudevents+json": {"schema": reference, "example": example()}
                            }
                        },
                        "responses": {
                            "2XX": {"description": "Delivered: the receiver's cursor moves past it."},
                            "4XX": {"description": "Refused (except 429): dropped for this receiver, logged and counted; not retried."},
                            "5XX": {"description": "Retried with doubling pauses, as are 429 and timeouts; later alerts wait behind it."}
                        }
                    }
                }
            }),
        );
    }
}
