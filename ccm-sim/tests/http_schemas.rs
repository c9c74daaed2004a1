//! Every answer the HTTP CML simulator sends during a full session — successes and
//! errors, every route — is validated against the response schema the CML 2.9
//! OpenAPI document declares for its path, method and status (or its `default`).
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12: each response schema is compiled with
//! the document's `components` beside it so `#/components/schemas/…` resolves.
//! Formats (`date-time`) are asserted.
//!
//! Where the document disagrees with CML (see `DOCUMENT_NOTES`), the disagreement is
//! patched here and spelled out, not hidden:
//! * licensing times are declared `format: date-time`, but CML sends
//!   `2026-08-20 17:25:30` (CML_API.md) — those fields are checked against that
//!   pattern instead;
//! * `GET /labs/{lab_id}/download` is declared as a JSON string, but CML (and the
//!   official client, which reads `.text`) treats it as plain YAML — the text is
//!   validated as the declared string;
//! * `GET /labs/{lab_id}/simulation_stats` is declared as lists of `Node`/`Link`,
//!   but the official client reads maps of element id → counters (`cpu_usage`,
//!   `block0_rd_bytes`, `readbytes`…) — the simulator answers what the client reads
//!   and the schema is replaced by that shape;
//! * some error statuses have no declared response (`DELETE
//!   /licensing/deregistration` 400 declares no body; the wipe/delete/start refusals
//!   are not listed at all) — those fall back to `default` (`Error`).
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ccm_core::ports::clock::VirtualClock;
use ccm_core::secret::Secret;
use ccm_core::testing::cml::topology_yaml;
use ccm_core::time::from_unix_seconds;
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer, Exchange};
use serde_json::{json, Value};

/// Patches applied to the document, each a known disagreement with CML.
const DOCUMENT_NOTES: &[&str] = &[
    "LicensingTimeInfo/Registration/Authorization: `format: date-time` → CML's `YYYY-MM-DD HH:MM:SS`",
    "GET /labs/{lab_id}/download: declared application/json string; served as text/plain YAML",
    "DELETE /licensing/deregistration 400: declared without a body; CML sends {code, description}",
    "LabSimulationStatsResponse: declared as lists of Node/Link; the official client reads id → counters maps",
];

fn document() -> Value {
    let path = std::env::var_os("CML_OPENAPI").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cml-2.9-openapi.json"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the CML 2.9 OpenAPI document is needed at {} (or $CML_OPENAPI): {e}",
            path.display()
        )
    });
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    patch_licensing_times(&mut doc);
    patch_simulation_stats(&mut doc);
    doc
}

/// The official client reads `{"nodes": {id: {cpu_usage, …}}, "links": {id: {…}}}`.
fn patch_simulation_stats(doc: &mut Value) {
    let schema = &mut doc["components"]["schemas"]["LabSimulationStatsResponse"];
    assert_eq!(
        schema["properties"]["nodes"]["type"], "array",
        "the document changed"
    );
    let counters = json!({
        "type": "object",
        "additionalProperties": { "type": "object", "additionalProperties": { "type": "number" } }
    });
    *schema = json!({
        "type": "object",
        "properties": { "nodes": counters, "links": counters },
        "required": ["nodes", "links"],
    });
}

/// CML writes licensing times as `2026-08-20 17:25:30`, not RFC 3339.
fn patch_licensing_times(doc: &mut Value) {
    let cml_time =
        json!({ "type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}:\\d{2}" });
    let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
    for (name, fields) in [
        (
            "LicensingTimeInfo",
            &["succeeded", "attempted", "scheduled"][..],
        ),
        ("Registration", &["expires"][..]),
        ("Authorization", &["expires"][..]),
    ] {
        for field in fields {
            let property = &mut schemas[name]["properties"][*field];
            assert!(
                property.to_string().contains("date-time"),
                "{name}.{field} changed in the document"
            );
            *property = json!({ "anyOf": [cml_time, { "type": "null" }] });
        }
    }
}

struct Checker {
    doc: Value,
    validators: BTreeMap<String, jsonschema::Validator>,
    covered: BTreeSet<(String, String, u16)>,
    failures: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        Self {
            doc: document(),
            validators: BTreeMap::new(),
            covered: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// The declared response for `status`, else `default`.
    fn response(&self, template: &str, method: &str, status: u16) -> Option<(String, Value)> {
        let operation = self.doc["paths"].get(template)?.get(method)?;
        let responses = operation.get("responses")?;
        responses
            .get(status.to_string())
            .map(|r| (status.to_string(), r.clone()))
            .or_else(|| {
                responses
                    .get("default")
                    .map(|r| ("default".to_owned(), r.clone()))
            })
    }

    fn validator(&mut self, key: &str, schema: &Value) -> &jsonschema::Validator {
        if !self.validators.contains_key(key) {
            let mut root = schema.clone();
            if let Some(map) = root.as_object_mut() {
                map.insert("components".into(), self.doc["components"].clone());
            }
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema of {key} does not compile: {e}"));
            self.validators.insert(key.to_owned(), validator);
        }
        &self.validators[key]
    }

    fn check(&mut self, e: &Exchange) {
        let method = e.method.to_ascii_lowercase();
        let Some(template) = e.template.clone() else {
            self.failures
                .push(format!("{} {}: no route answered", e.method, e.path));
            return;
        };
        let what = format!("{} {template} {}", e.method, e.status);
        let Some((declared, response)) = self.response(&template, &method, e.status) else {
            self.failures
                .push(format!("{what}: the document declares no such response"));
            return;
        };
        let schema = response
            .pointer("/content/application~1json/schema")
            .cloned();
        let instance = match (&schema, e.json()) {
            (None, _) if e.body.is_empty() => {
                self.covered.insert((template, e.method.clone(), e.status));
                return;
            }
            // Declared without a body, answered with CML's error object.
            (None, Some(body)) if e.status >= 400 => {
                let error = json!({ "$ref": "#/components/schemas/Error" });
                let key = format!("{what} (undeclared body → Error)");
                let errors = self.errors(&key, &error, &body);
                self.record(&what, &template, e, errors);
                return;
            }
            (None, _) => {
                self.failures.push(format!(
                    "{what}: declared without a body, answered {} bytes",
                    e.body.len()
                ));
                return;
            }
            (Some(_), Some(body)) => body,
            // Plain text where the document says "a JSON string" (download).
            (Some(_), None) => Value::String(e.text()),
        };
        let schema = schema.unwrap_or(Value::Null);
        let key = format!("{} {template} {declared}", e.method);
        let errors = self.errors(&key, &schema, &instance);
        self.record(&what, &template, e, errors);
    }

    fn errors(&mut self, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(key, schema)
            .iter_errors(instance)
            .map(|err| format!("{err} at {}", err.instance_path()))
            .take(5)
            .collect()
    }

    fn record(&mut self, what: &str, template: &str, e: &Exchange, errors: Vec<String>) {
        if errors.is_empty() {
            self.covered
                .insert((template.to_owned(), e.method.clone(), e.status));
        } else {
            self.failures.push(format!(
                "{what}: {}\n  body: {}",
                errors.join("; "),
                e.text()
            ));
        }
    }
}

/// A raw HTTP session against the simulator, recording nothing itself.
struct Session {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Session {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}/api/v0/{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn put(&self, path: &str) -> u16 {
        self.send(reqwest::Method::PUT, path, None)
            .await
            .status()
            .as_u16()
    }

    async fn json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    async fn import(&self, yaml: &str, title: &str) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/api/v0/import", self.base))
            .query(&[("title", title)])
            .body(yaml.to_owned());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

async fn full_session(server: &CmlHttpServer) {
    let sim = server.simulation();
    let mut s = Session {
        http: reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap(),
        base: server.base_url().to_owned(),
        token: None,
    };
    use reqwest::Method as M;
    // Authentication.
    assert_eq!(s.get("system_information").await.status(), 200);
    assert_eq!(s.get("labs").await.status(), 401);
    let bad = json!({"username": "admin", "password": "nope"});
    assert_eq!(
        s.send(M::POST, "authenticate", Some(bad.clone()))
            .await
            .status(),
        403
    );
    assert_eq!(
        s.send(M::POST, "auth_extended", Some(bad)).await.status(),
        403
    );
    let good = json!({"username": "admin", "password": "secret"});
    let token: String = s
        .send(M::POST, "authenticate", Some(good.clone()))
        .await
        .json()
        .await
        .unwrap();
    let extended = s
        .send(M::POST, "auth_extended", Some(good))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(extended["username"], "admin");
    s.token = Some("not.a.token".into());
    assert_eq!(s.get("authok").await.status(), 401);
    s.token = Some(token);
    assert_eq!(s.get("authok").await.status(), 200);

    // System, definitions, users.
    for path in [
        "system_stats",
        "system_health",
        "licensing",
        "node_definitions",
        "simplified_node_definitions",
        "image_definitions",
        "users",
        "users/admin/id",
        "telemetry/events",
        "populate_lab_tiles",
    ] {
        assert_eq!(s.get(path).await.status(), 200, "{path}");
    }
    assert_eq!(s.get("users/nobody/id").await.status(), 404);

    // Labs.
    assert_eq!(s.import("lab:\n  title: x\n", "bad").await.status(), 400);
    let created = s
        .send(
            M::POST,
            "labs",
            Some(json!({"title": "empty", "description": "d"})),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let empty = created["id"].as_str().unwrap().to_owned();
    let imported: Value = s
        .import(&topology_yaml("schema", 3), "schema lab")
        .await
        .json()
        .await
        .unwrap();
    let lab = imported["id"].as_str().unwrap().to_owned();
    let big: Value = s
        .import(&topology_yaml("big", 6), "too big")
        .await
        .json()
        .await
        .unwrap();
    let big = big["id"].as_str().unwrap().to_owned();
    // Node tags survive the import and come back on node reads (PATty reads a
    // node's console port from its `serial:<port>` tag).
    let tagged_yaml = topology_yaml("tagged", 1).replace(
        "    y: 0\n",
        "    y: 0\n    tags:\n      - serial:2000\n      - core\n",
    );
    let tagged: Value = s.import(&tagged_yaml, "tagged").await.json().await.unwrap();
    let tagged = tagged["id"].as_str().unwrap().to_owned();
    let tags = json!(["serial:2000", "core"]);
    assert_eq!(
        s.json(&format!("labs/{tagged}/nodes?data=true")).await[0]["tags"],
        tags
    );
    assert_eq!(
        s.json(&format!("labs/{tagged}/topology")).await["nodes"][0]["tags"],
        tags
    );
    let unknown = "0f0e0d0c-0b0a-4908-8706-050403020100";
    for path in [
        "labs".to_owned(),
        "labs?show_all=true".to_owned(),
        format!("labs/{lab}"),
        format!("labs/{lab}/state"),
        format!("labs/{lab}/topology"),
        format!("labs/{lab}/topology?exclude_configurations=true"),
        format!("labs/{lab}/nodes"),
        format!("labs/{lab}/nodes?data=true&operational=true"),
        format!("labs/{lab}/lab_element_state"),
        format!("labs/{lab}/simulation_stats"),
        format!("labs/{lab}/layer3_addresses"),
        format!("labs/{lab}/events"),
        format!("labs/{lab}/download"),
        format!("labs/{lab}/check_if_converged"),
    ] {
        assert_eq!(s.get(&path).await.status(), 200, "{path}");
    }
    for path in [
        format!("labs/{unknown}"),
        format!("labs/{unknown}/state"),
        format!("labs/{unknown}/topology"),
        format!("labs/{unknown}/check_if_converged"),
        format!("labs/{unknown}/download"),
    ] {
        assert_eq!(s.get(&path).await.status(), 404, "{path}");
    }
    assert_eq!(s.get("labs/not-a-uuid").await.status(), 400);
    assert_eq!(s.put(&format!("labs/{unknown}/start")).await, 404);
    assert_eq!(s.put(&format!("labs/{lab}/start")).await, 204);
    assert_eq!(s.put(&format!("labs/{big}/start")).await, 400);
    assert_eq!(s.put(&format!("labs/{lab}/wipe")).await, 400);
    let delete = s.send(M::DELETE, &format!("labs/{lab}"), None).await;
    assert_eq!(delete.status(), 400);
    for path in [
        format!("labs/{lab}/nodes?data=true"),
        format!("labs/{lab}/lab_element_state"),
        format!("labs/{lab}/simulation_stats"),
        "system_stats".to_owned(),
        "populate_lab_tiles".to_owned(),
    ] {
        assert_eq!(s.get(&path).await.status(), 200, "{path}");
    }
    sim.settle().unwrap();
    assert_eq!(
        s.json(&format!("labs/{lab}/check_if_converged")).await,
        json!(true)
    );
    let nodes = s.json(&format!("labs/{lab}/nodes?data=true")).await;
    assert_eq!(nodes[0]["state"], "BOOTED");
    assert_eq!(s.put(&format!("labs/{lab}/stop")).await, 204);
    assert_eq!(s.put(&format!("labs/{lab}/wipe")).await, 204);
    for id in [&lab, &empty, &big, &tagged] {
        let status = s
            .send(M::DELETE, &format!("labs/{id}"), None)
            .await
            .status();
        assert_eq!(status, 204);
    }
    let status = s
        .send(M::DELETE, &format!("labs/{unknown}"), None)
        .await
        .status();
    assert_eq!(status, 404);

    // Licensing.
    let register = json!({"token": "good-token", "reregister": false});
    let post = |body: Value| s.send(M::POST, "licensing/registration", Some(body));
    assert_eq!(post(json!({"token": "white space"})).await.status(), 400);
    assert_eq!(post(register.clone()).await.status(), 204);
    assert_eq!(post(register.clone()).await.status(), 409);
    assert_eq!(s.get("licensing").await.status(), 200);
    sim.settle().unwrap();
    assert_eq!(
        s.json("licensing").await["registration"]["status"],
        "COMPLETED"
    );
    assert_eq!(post(register).await.status(), 400);
    assert_eq!(s.get("system_health").await.status(), 200);
    let deregister = || s.send(M::DELETE, "licensing/deregistration", None);
    assert_eq!(deregister().await.status(), 204);
    assert_eq!(deregister().await.status(), 400);
    assert_eq!(s.get("telemetry/events").await.status(), 200);

    // Logging out ends the token.
    assert_eq!(s.send(M::DELETE, "logout", None).await.status(), 200);
    assert_eq!(s.get("authok").await.status(), 401);
    assert_eq!(
        s.send(M::DELETE, "logout?clear_all_sessions=true", None)
            .await
            .status(),
        401
    );
}

async fn server(change: impl FnOnce(&mut CmlHttpOptions)) -> CmlHttpServer {
    let mut options = CmlHttpOptions {
        password: Secret::new("secret"),
        clock: Some(VirtualClock::new(from_unix_seconds(1_740_787_200))),
        record_exchanges: true,
        ..CmlHttpOptions::default()
    };
    change(&mut options);
    CmlHttpServer::start(options).await.unwrap()
}

#[tokio::test]
async fn every_answer_of_a_full_session_matches_the_openapi_document() {
    let mut checker = Checker::new();
    let main = server(|o| o.tls = true).await;
    full_session(&main).await;
    // Every call failing with the error-rate fault: the 500 body.
    let faulty = server(|o| o.error_rate = 1.0).await;
    let http = reqwest::Client::new();
    let status = http
        .get(format!("{}/api/v0/system_information", faulty.base_url()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 500);

    let exchanges: Vec<Exchange> = main
        .exchanges()
        .into_iter()
        .chain(faulty.exchanges())
        .collect();
    assert!(exchanges.len() > 60, "{} exchanges", exchanges.len());
    for e in &exchanges {
        checker.check(e);
    }
    let coverage: Vec<String> = checker
        .covered
        .iter()
        .map(|(t, m, s)| format!("{m} {t} {s}"))
        .collect();
    println!(
        "validated {} exchanges, {} (route, status) pairs:\n  {}\ndocument notes:\n  {}",
        exchanges.len(),
        coverage.len(),
        coverage.join("\n  "),
        DOCUMENT_NOTES.join("\n  ")
    );
    assert!(
        checker.failures.is_empty(),
        "{} answers do not match the document:\n{}",
        checker.failures.len(),
        checker.failures.join("\n")
    );
    // Every route the simulator serves was exercised.
    let templates: BTreeSet<&str> = checker.covered.iter().map(|(t, _, _)| t.as_str()).collect();
    for route in [
        "/authenticate",
        "/auth_extended",
        "/authok",
        "/logout",
        "/system_information",
        "/system_stats",
        "/system_health",
        "/licensing",
        "/licensing/registration",
        "/licensing/deregistration",
        "/labs",
        "/labs/{lab_id}",
        "/labs/{lab_id}/state",
        "/labs/{lab_id}/start",
        "/labs/{lab_id}/stop",
        "/labs/{lab_id}/wipe",
        "/labs/{lab_id}/check_if_converged",
        "/labs/{lab_id}/download",
        "/labs/{lab_id}/topology",
        "/labs/{lab_id}/nodes",
        "/labs/{lab_id}/lab_element_state",
        "/labs/{lab_id}/simulation_stats",
        "/labs/{lab_id}/layer3_addresses",
        "/labs/{lab_id}/events",
        "/import",
        "/populate_lab_tiles",
        "/node_definitions",
        "/simplified_node_definitions",
        "/image_definitions",
        "/telemetry/events",
        "/users",
        "/users/{username}/id",
    ] {
        assert!(templates.contains(route), "{route} was not validated");
    }
    for status in [200, 204, 400, 401, 403, 404, 409, 500] {
        assert!(
            checker.covered.iter().any(|(_, _, s)| *s == status),
            "no {status} answer was validated"
        );
    }
}

#[test]
fn the_checker_rejects_what_does_not_match() {
    // Guards against a validator that accepts everything.
    let mut checker = Checker::new();
    let error = json!({ "$ref": "#/components/schemas/Error" });
    assert!(checker
        .errors("error", &error, &json!({"code": 404, "description": "x"}))
        .is_empty());
    assert!(!checker
        .errors("error", &error, &json!({"code": "404"}))
        .is_empty());
    let lab = json!({ "$ref": "#/components/schemas/LabResponse" });
    let not_a_lab = json!({"lab_title": "t", "state": "BOOTING", "effective_permissions": []});
    assert!(!checker.errors("lab", &lab, &not_a_lab).is_empty());
    let time = json!({ "type": "string", "format": "date-time" });
    assert!(checker
        .errors("time", &time, &json!("2025-12-06T11:11:28+00:00"))
        .is_empty());
    assert!(!checker
        .errors("time", &time, &json!("2025-12-06 11:11:28"))
        .is_empty());
}
