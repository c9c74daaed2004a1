use serde_json::Value;

use super::*;

fn document_json() -> Value {
    document_value()
}

#[test]
fn every_route_has_a_contract_with_a_success_answer() {
    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|spec| match spec.contract {
            None => true,
            Some(contract) => !contract()
                .answers
                .iter()
                .any(|answer| (200..400).contains(&answer.status)),
        })
        .map(|spec| format!("{} {}", spec.method, spec.path))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a contract: {missing:#?}"
    );
}

#[test]
fn no_two_wire_types_claim_one_schema_name() {
    assert_eq!(schema_conflicts(), Vec::<String>::new());
}

/// An object schema that says nothing about its members documents nothing.
fn placeholders(at: &str, value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let is_object = match map.get("type") {
                Some(Value::String(t)) => t == "object",
                Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
                _ => false,
            };
            let described = [
                "properties",
                "additionalProperties",
                "oneOf",
                "anyOf",
                "allOf",
            ]
            .iter()
            .any(|key| map.contains_key(*key));
            if is_object && !described {
                found.push(at.to_owned());
            }
            for (key, child) in map {
                // Examples are values, not schemas.
                if key != "example" && key != "examples" {
                    placeholders(&format!("{at}/{key}"), child, found);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                placeholders(&format!("{at}/{i}"), child, found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_schema_is_a_bare_object() {
    let mut found = Vec::new();
    placeholders("#", &document_json(), &mut found);
    assert!(found.is_empty(), "placeholder schemas at: {found:#?}");
}

#[test]
fn the_placeholder_check_catches_a_bare_object() {
    let mut found = Vec::new();
    placeholders(
        "#",
        &serde_json::json!({"content": {"schema": {"type": "object"}}}),
        &mut found,
    );
    assert_eq!(found, vec!["#/content/schema".to_owned()]);
}

#[test]
fn every_reference_resolves() {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = document_json();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    let dangling: Vec<&String> = all
        .iter()
        .filter(|r| {
            let name = r.trim_start_matches("#/components/schemas/");
            doc["components"]["schemas"][name].is_null()
        })
        .collect();
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

#[test]
fn every_json_body_and_answer_has_a_schema_and_an_example() {
    let doc = document_json();
    let mut bare = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut contents: Vec<(&str, &Value)> = Vec::new();
            if let Some(body) = op["requestBody"]["content"].as_object() {
                contents.extend(body.iter().map(|(m, c)| (m.as_str(), c)));
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('2') {
                    if let Some(content) = response["content"].as_object() {
                        contents.extend(content.iter().map(|(m, c)| (m.as_str(), c)));
                    }
                }
            }
            for (media, content) in contents {
                if media == "application/json"
                    && (content["schema"].is_null() || content["example"].is_null())
                {
                    bare.push(format!("{method} {path}"));
                }
            }
        }
    }
    assert!(bare.is_empty(), "JSON without schema or example: {bare:#?}");
}

#[test]
fn authenticated_routes_document_401_and_403_and_bodies_their_limits() {
    let doc = document_json();
    for spec in ROUTES {
        let op = &doc["paths"][document_path(spec.path)][spec.method.as_str().to_lowercase()];
        let responses = op["responses"].as_object().unwrap();
        if let Access::AtLeast(_) = spec.access {
            for status in ["401", "403"] {
                assert!(responses.contains_key(status), "{spec:?} lacks {status}");
            }
        }
        if !op["requestBody"].is_null() {
            for status in ["400", "413", "415"] {
                assert!(responses.contains_key(status), "{spec:?} lacks {status}");
            }
        }
    }
}

#[test]
fn path_parameters_are_named_without_axum_syntax() {
    assert_eq!(document_path("/assets/{*path}"), "/assets/{path}");
    assert_eq!(path_parameters("/assets/{*path}"), vec!["path"]);
    assert_eq!(
        path_parameters("/api/v1/workers/{id}/labs/{lab}"),
        vec!["id", "lab"]
    );
}

/// Every example in the document (bodies, answers, errors) against its schema,
/// the way a client generator or a contract tester reads them.
#[test]
fn every_example_matches_its_schema() {
    let doc = document_json();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let mut contents: Vec<(String, &Value)> = Vec::new();
            if let Some(body) = op["requestBody"]["content"].as_object() {
                contents.extend(body.iter().map(|(m, c)| (format!("body {m}"), c)));
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if let Some(content) = response["content"].as_object() {
                    contents.extend(content.iter().map(|(m, c)| (format!("{status} {m}"), c)));
                }
            }
            for (what, content) in contents {
                let (Some(schema), Some(example)) = (content.get("schema"), content.get("example"))
                else {
                    continue;
                };
                let mut root = schema.clone();
                if let Some(map) = root.as_object_mut() {
                    map.insert("components".into(), doc["components"].clone());
                }
                let validator = match jsonschema::draft202012::options()
                    .should_validate_formats(true)
                    .build(&root)
                {
                    Ok(validator) => validator,
                    Err(e) => {
                        failures.push(format!(
                            "{method} {path} {what}: schema does not compile: {e}"
                        ));
                        continue;
                    }
                };
                checked += 1;
                for error in validator.iter_errors(example) {
                    failures.push(format!(
                        "{method} {path} {what}: {} at {}",
                        error,
                        error.instance_path()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "examples off their schema: {failures:#?}"
    );
    assert!(checked > ROUTES.len(), "only {checked} examples checked");
}

#[test]
fn every_link_leads_to_an_operation_of_the_document() {
    let doc = document_json();
    let mut ids = std::collections::BTreeSet::new();
    let mut targets = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            ids.insert(op["operationId"].as_str().unwrap().to_owned());
            for response in op["responses"].as_object().unwrap().values() {
                if let Some(links) = response["links"].as_object() {
                    targets.extend(
                        links
                            .values()
                            .map(|l| l["operationId"].as_str().unwrap_or("").to_owned()),
                    );
                }
            }
        }
    }
    let lost: Vec<&String> = targets.iter().filter(|t| !ids.contains(*t)).collect();
    assert!(lost.is_empty(), "links to no operation: {lost:?}");
    // Every contract link names a route of the table (else it is silently dropped).
    for spec in ROUTES {
        for answer in spec.contract.map(|c| c().answers).unwrap_or_default() {
            for link in answer.links {
                assert!(
                    ROUTES
                        .iter()
                        .any(|r| r.method.as_str() == link.method && r.path == link.path),
                    "{spec:?}: link {} to no route",
                    link.name
                );
            }
        }
    }
}

#[test]
fn the_alert_webhook_is_described_with_each_alert_type_and_a_real_example() {
    let doc = document_json();
    let post = &doc["webhooks"]["alert"]["post"];
    let content = &post["requestBody"]["content"]["application/cloudevents+json"];
    assert_eq!(
        content["schema"]["$ref"],
        "#/components/schemas/AlertCloudEvent"
    );
    let schema = &doc["components"]["schemas"]["AlertCloudEvent"];
    assert_eq!(
        schema["properties"]["data"]["oneOf"]
            .as_array()
            .map(Vec::len),
        Some(crate::webhook::ALERT_EVENT_TYPES.len()),
        "a data schema per alert type, taken from the event schemas"
    );
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let example = &content["example"];
    assert_eq!(example["type"], "worker.alert.raised.v1");
    let errors: Vec<String> = validator
        .iter_errors(example)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The schema is not a formality: a wrong spec version is refused.
    let mut wrong = example.clone();
    wrong["specversion"] = "0.3".into();
    assert!(!validator.is_valid(&wrong));
}

#[test]
fn an_event_is_one_schema_per_type_chosen_by_its_type() {
    let doc = document_json();
    let event = &doc["components"]["schemas"]["Event"];
    let mapping = event["discriminator"]["mapping"].as_object().unwrap();
    assert_eq!(event["discriminator"]["propertyName"], "type");
    assert_eq!(mapping.len(), ccm_core::event::EVENT_TYPE_NAMES.len());
    for name in ccm_core::event::EVENT_TYPE_NAMES {
        let reference = mapping[*name].as_str().unwrap();
        let schema = &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()];
        assert_eq!(
            schema["properties"]["type"]["enum"],
            serde_json::json!([name])
        );
        let data = schema["properties"]["data"]["$ref"].as_str().unwrap();
        assert!(
            doc["components"]["schemas"][data.rsplit('/').next().unwrap()].is_object(),
            "{name}: {data} is not in the document"
        );
    }
    let mut root = serde_json::json!({"$ref": "#/components/schemas/Event"});
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let example =
        serde_json::to_value(<ccm_api::event::Event as ccm_api::Example>::example()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // The type decides the data: a phase change with a worker's data is refused.
    let mut wrong = example.clone();
    wrong["type"] = "worker.paused.v1".into();
    assert!(!validator.is_valid(&wrong));
}
