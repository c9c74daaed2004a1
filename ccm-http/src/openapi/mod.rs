//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), built from the route
//! table: every route with its method, path parameters, summary, the least role
//! it needs (`x-min-role`), its security, and — from the route's
//! [`Contract`](crate::api::contract::Contract) — its query parameters, request
//! body, success answers and every error status it can return, each with the
//! schema of the wire type (`ccm-api`) and an example. A documentation page
//! (`GET /api/v1/docs`, [`docs_page`]) renders it without any CDN. The alert
//! webhook's CloudEvent is described under `webhooks` (`webhooks`).
//!
//! Errors common to a kind of route are added here rather than in each contract:
//! 401/403 on authenticated routes, 400/413/415/422 on routes with a JSON body,
//! 400 where a path or query value can be malformed, 408 (the request time bound)
//! and 5XX everywhere.

mod docs_page;
mod webhooks;

use std::collections::BTreeMap;

use axum::http::Method;
use axum::response::IntoResponse;
use axum::Json;
use ccm_api::error::ErrorBody;
use ccm_api::Example;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    InfoBuilder, KnownFormat, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, SchemaFormat,
};

pub use self::docs_page::{docs_page, docs_page_contract};
use crate::api::contract::{Contract, Schemas};
use crate::api::routes::{RouteSpec, ROUTES};
use crate::auth::Access;

fn http_method(method: &Method) -> Option<HttpMethod> {
    Some(match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        Method::PATCH => HttpMethod::Patch,
        _ => return None,
    })
}

fn tag(path: &str) -> &'static str {
    let rest = path.strip_prefix("/api/v1/").unwrap_or("");
    if rest.contains("/labs") {
        return "labs";
    }
    match rest.split('/').next().unwrap_or("") {
        "workers" => "workers",
        "definitions" | "lablets" | "placement" => "lablets",
        "jobs" => "jobs",
        "events" => "events",
        "api-keys" => "api-keys",
        _ => "system",
    }
}

/// The path as the document spells it: axum's catch-all `{*path}` is an ordinary
/// `{path}` parameter in OpenAPI.
pub fn document_path(path: &str) -> String {
    path.replace("{*", "{")
}

fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

/// Path parameters that are ids the server mints (uuids); the rest are names.
fn is_uuid_parameter(path: &str, name: &str) -> bool {
    name == "id"
        && ["/workers/", "/definitions/", "/lablets/", "/api-keys/"]
            .iter()
            .any(|collection| path.contains(collection))
}

fn operation_id(spec: &RouteSpec) -> String {
    format!(
        "{}_{}",
        spec.method.as_str().to_lowercase(),
        spec.path
            .trim_matches('/')
            .replace(['/', '{', '}', '-', '.', '*'], "_")
    )
}

/// Adds the errors every route of its kind can return, unless the contract
/// already describes them.
fn common_errors(spec: &RouteSpec, contract: &Contract) -> Vec<(u16, &'static str)> {
    let mut errors = contract.errors.clone();
    let mut add = |status: u16, when: &'static str| {
        if !errors.iter().any(|(s, _)| *s == status) {
            errors.push((status, when));
        }
    };
    if !path_parameters(spec.path).is_empty() || !contract.query.is_empty() {
        add(400, "A path or query value is malformed or unknown");
    }
    if let Some(body) = &contract.body {
        add(400, "The body is not valid JSON or misses a field");
        add(413, "The body is larger than the server's limit");
        add(415, "The body is not of the media type this route takes");
        if body.media == "application/json" {
            add(422, "A field has a value the route does not accept");
        }
    }
    if let Access::AtLeast(_) = spec.access {
        add(401, "No credentials, or they are invalid or expired");
        add(403, "The caller's role is too low for this route");
    }
    add(
        408,
        "The request did not complete within the server's time bound",
    );
    errors.sort_by_key(|(status, _)| *status);
    errors
}

fn error_response(when: &str, example: &serde_json::Value) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(when)
        .content(
            "application/json",
            utoipa::openapi::content::ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .example(Some(example.clone()))
                .build(),
        )
        .build()
}

fn operation(
    spec: &RouteSpec,
    contract: &Contract,
    error_example: &serde_json::Value,
) -> Operation {
    let mut op = OperationBuilder::new()
        .summary(Some(spec.summary))
        .operation_id(Some(operation_id(spec)))
        .tag(tag(spec.path));
    for name in path_parameters(spec.path) {
        let mut schema = ObjectBuilder::new().schema_type(Type::String);
        if is_uuid_parameter(spec.path, name) {
            schema = schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        }
        op = op.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema)),
        );
    }
    for parameter in &contract.query {
        op = op.parameter(parameter.clone());
    }
    if let Some(body) = &contract.body {
        let content = utoipa::openapi::content::ContentBuilder::new()
            .schema(Some(body.schema.clone()))
            .example(body.example.clone())
            .build();
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .content(body.media, content)
                .required(Some(Required::True))
                .build(),
        ));
    }
    // Answers of one status in several media types are one response.
    let mut answers: BTreeMap<u16, ResponseBuilder> = BTreeMap::new();
    for answer in &contract.answers {
        let mut response = answers
            .remove(&answer.status)
            .unwrap_or_else(|| ResponseBuilder::new().description(answer.description));
        if let Some((media, schema)) = &answer.content {
            response = response.content(
                *media,
                utoipa::openapi::content::ContentBuilder::new()
                    .schema(schema.clone())
                    .example(answer.example.clone())
                    .build(),
            );
        }
        for link in &answer.links {
            let Some(target) = ROUTES
                .iter()
                .find(|r| r.method.as_str() == link.method && r.path == link.path)
            else {
                continue;
            };
            let mut built = LinkBuilder::new().operation_id(operation_id(target));
            for (name, expression) in link.parameters {
                built = built.parameter(*name, *expression);
            }
            built = built.request_body(link.request_body.map(|body| body()));
            response = response.link(link.name, built.build());
        }
        answers.insert(answer.status, response);
    }
    for (status, response) in answers {
        op = op.response(status.to_string(), response.build());
    }
    for (status, when) in common_errors(spec, contract) {
        op = op.response(status.to_string(), error_response(when, error_example));
    }
    op = op.response(
        "5XX",
        error_response(
            "The store, the cloud or a worker's CML is unavailable, or an internal error (the body says nothing about internals)",
            error_example,
        ),
    );
    let role = match spec.access {
        Access::Public => "none",
        Access::AtLeast(role) => {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new("session", Vec::<String>::new()));
            role.as_str()
        }
    };
    op.extensions(Some(
        ExtensionsBuilder::new().add("x-min-role", role).build(),
    ))
    .build()
}

/// Named schemas of all contracts, first definition of a name kept, and the
/// names defined twice with different schemas (a wire type named like another).
fn merge(all: Schemas) -> (BTreeMap<String, RefOr<Schema>>, Vec<String>) {
    let mut merged: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (name, schema) in all {
        match merged.get(&name) {
            Some(kept) if *kept != schema => conflicts.push(name),
            Some(_) => {}
            None => {
                merged.insert(name, schema);
            }
        }
    }
    conflicts.sort();
    conflicts.dedup();
    (merged, conflicts)
}

fn contracts() -> Vec<(&'static RouteSpec, Contract)> {
    ROUTES
        .iter()
        .map(|spec| {
            (
                spec,
                spec.contract.map(|contract| contract()).unwrap_or_default(),
            )
        })
        .collect()
}

fn all_schemas(contracts: &[(&'static RouteSpec, Contract)]) -> Schemas {
    let mut errors = Contract::new();
    errors.named::<ErrorBody>();
    let mut all = errors.schemas;
    for (_, contract) in contracts {
        all.extend(contract.schemas.iter().cloned());
    }
    all
}

/// Schema names that two different wire types claim (must be none).
pub fn schema_conflicts() -> Vec<String> {
    merge(all_schemas(&contracts())).1
}

/// The document.
pub fn document() -> OpenApi {
    let contracts = contracts();
    let error_example = serde_json::to_value(ErrorBody::example()).unwrap_or_default();
    let mut paths = Paths::new();
    for (spec, contract) in &contracts {
        let Some(method) = http_method(&spec.method) else {
            continue;
        };
        paths.add_path_operation(
            document_path(spec.path),
            vec![method],
            operation(spec, contract, &error_example),
        );
    }
    let mut components = ComponentsBuilder::new();
    for (name, schema) in merge(all_schemas(&contracts)).0 {
        components = components.schema(name, schema);
    }
    let components = components
        .security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("ccm_session"))),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ccm")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "REST API of ccm, the CML cloud manager. Authenticate with `Authorization: Bearer <API key or OIDC token>` \
                     or a browser session cookie (state-changing requests then need `x-csrf-token`). \
                     `x-min-role` on each operation names the least role it needs (user < manager < admin). \
                     Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The document as served: [`document`] with its `webhooks` section.
pub fn document_value() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    webhooks::add_to(&mut doc);
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn document_json() -> impl IntoResponse {
    Json(document_value())
}

/// What `GET /api/v1/openapi.json` answers: the document itself, described by
/// its top level (its full schema is the OpenAPI specification's own).
pub fn document_contract() -> Contract {
    let object = || ObjectBuilder::new().schema_type(Type::Object);
    // Paths and components are maps whose members the OpenAPI specification
    // itself describes.
    let members = || {
        object().additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::<Schema>::FreeForm(true),
        ))
    };
    let schema = object()
        .description(Some(
            "An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)",
        ))
        .property("openapi", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "info",
            object()
                .property("title", ObjectBuilder::new().schema_type(Type::String))
                .property("version", ObjectBuilder::new().schema_type(Type::String))
                .required("title")
                .required("version"),
        )
        .property("paths", members())
        .property("components", members())
        .required("openapi")
        .required("info")
        .required("paths")
        .build();
    Contract::new()
        .ok_as(
            200,
            "This document",
            "application/json",
            Some(schema.into()),
        )
        .example(serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "ccm", "version": env!("CARGO_PKG_VERSION")},
            "paths": {},
            "components": {}
        }))
}

#[cfg(test)]
mod tests;
