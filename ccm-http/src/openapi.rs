//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`), built with utoipa from
//! the route table — every route with its method, path parameters, summary, the
//! least role it needs (`x-min-role`), its security and its error responses — and
//! a documentation page (`GET /api/v1/docs`) that renders it without any CDN.
//!
//! Request and response bodies are described as JSON objects: the engine's types
//! (`ccm-core`) do not derive utoipa schemas, so their shapes are documented by the
//! crate docs and the examples, not here. The error body has its schema.

use axum::http::Method;
use axum::response::{Html, IntoResponse};
use axum::Json;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required, ResponseBuilder,
};

use crate::api::routes::ROUTES;
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

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn error_schema() -> utoipa::openapi::schema::Object {
    let inner = object()
        .property("code", ObjectBuilder::new().schema_type(Type::String))
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .property("details", object())
        .required("code")
        .required("message")
        .build();
    object().property("error", inner).required("error").build()
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("Error"))),
        )
        .build()
}

/// The document.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for spec in ROUTES {
        let Some(method) = http_method(&spec.method) else {
            continue;
        };
        let mut op = OperationBuilder::new()
            .summary(Some(spec.summary))
            .operation_id(Some(format!(
                "{}_{}",
                spec.method.as_str().to_lowercase(),
                spec.path
                    .trim_matches('/')
                    .replace(['/', '{', '}', '-', '.'], "_")
            )))
            .tag(tag(spec.path));
        for segment in spec.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
        }
        if spec.method == Method::POST || spec.method == Method::PUT {
            let media = if spec.path.ends_with("/labs") {
                "application/yaml"
            } else {
                "application/json"
            };
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(media, Content::new(Some(object())))
                    .build(),
            ));
        }
        let ok = if spec.path.ends_with("/stream") {
            ResponseBuilder::new()
                .description("An event stream")
                .content("text/event-stream", Content::new(None::<Ref>))
        } else {
            ResponseBuilder::new()
                .description("Success")
                .content("application/json", Content::new(Some(object())))
        };
        op = op
            .response("200", ok.build())
            .response("4XX", error_response("Bad input, not found or conflict"))
            .response("5XX", error_response("Unavailable or internal error"));
        let role = match spec.access {
            Access::Public => "none",
            Access::AtLeast(role) => {
                op = op
                    .response("401", error_response("No or invalid credentials"))
                    .response("403", error_response("The caller's role is too low"))
                    .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                    .security(SecurityRequirement::new("session", Vec::<String>::new()));
                role.as_str()
            }
        };
        op = op.extensions(Some(
            ExtensionsBuilder::new().add("x-min-role", role).build(),
        ));
        paths.add_path_operation(spec.path, vec![method], op.build());
    }
    let components = ComponentsBuilder::new()
        .schema("Error", error_schema())
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

/// `GET /api/v1/openapi.json`.
pub async fn document_json() -> impl IntoResponse {
    Json(document())
}

/// `GET /api/v1/docs`: a self-contained page that renders the document.
pub async fn docs_page() -> impl IntoResponse {
    Html(DOCS_PAGE)
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccm API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
h2{margin-top:1.5em;border-bottom:1px solid #ddd}
.op{margin:.4em 0;display:flex;gap:.8em;align-items:baseline}
.m{font-family:monospace;font-weight:bold;width:4.5em}
.p{font-family:monospace}
.r{margin-left:auto;color:#666;font-size:.9em}
@media (prefers-color-scheme: dark){body{background:#111;color:#ddd}.r{color:#999}}
</style></head>
<body><h1>ccm API</h1><p id="about">Loading <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>…</p><div id="ops"></div>
<script>
fetch('/api/v1/openapi.json',{credentials:'same-origin'}).then(r=>{if(!r.ok)throw new Error('HTTP '+r.status);return r.json()}).then(doc=>{
  document.getElementById('about').textContent=doc.info.description;
  const groups={};
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      (groups[op.tags[0]]=groups[op.tags[0]]||[]).push([method,path,op]);
    }
  }
  const root=document.getElementById('ops');
  for(const [tag,ops] of Object.entries(groups)){
    const h=document.createElement('h2');h.textContent=tag;root.appendChild(h);
    for(const [method,path,op] of ops){
      const row=document.createElement('div');row.className='op';
      for(const [cls,text] of [['m',method.toUpperCase()],['p',path],['s',op.summary],['r','role: '+op['x-min-role']]]){
        const span=document.createElement('span');span.className=cls;span.textContent=text;row.appendChild(span);
      }
      root.appendChild(row);
    }
  }
}).catch(e=>{document.getElementById('about').textContent='Could not load the document: '+e.message+' (log in first).'});
</script></body></html>"#;
