//! What each route takes and answers: its query parameters, request body,
//! success answers and the errors it can return, with the wire types
//! (`ccm-api`) that describe them. The route table names one [`Contract`] per
//! route and the OpenAPI document is built from it (`crate::openapi`), so the
//! document lists exactly what the handlers speak.
//!
//! Errors every route of a kind can return are added by the document, not here:
//! 401/403 on authenticated routes, 400/413/415/422 on routes with a JSON body,
//! 400 on routes with path or query parameters.

use ccm_api::Example;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};

/// Named schemas a contract refers to (`#/components/schemas/<name>`).
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// A request body.
#[derive(Clone)]
pub struct Body {
    /// Media type (`application/json`, `application/yaml`).
    pub media: &'static str,
    /// Its schema.
    pub schema: RefOr<Schema>,
    /// A representative body.
    pub example: Option<Value>,
}

/// A success answer.
#[derive(Clone)]
pub struct Answer {
    /// HTTP status (200, 201, 202, 204).
    pub status: u16,
    /// What it means.
    pub description: &'static str,
    /// Media type and schema; `None` for an empty answer.
    pub content: Option<(&'static str, Option<RefOr<Schema>>)>,
    /// A representative answer.
    pub example: Option<Value>,
    /// Operations that can follow this answer with values from it.
    pub links: Vec<Link>,
}

/// A follow-up operation with parameters taken from an answer (an OpenAPI link;
/// contract testers walk them to test sequences: create, then read or delete).
#[derive(Clone, Debug)]
pub struct Link {
    /// The link's name (`GetWorker`).
    pub name: &'static str,
    /// Method of the route it leads to.
    pub method: &'static str,
    /// Path of that route, as the route table spells it.
    pub path: &'static str,
    /// Its path parameters and the runtime expressions that fill them
    /// (`("id", "$response.body#/id")`).
    pub parameters: &'static [(&'static str, &'static str)],
    /// A body for it, whose string values may be runtime expressions.
    pub request_body: Option<fn() -> Value>,
}

/// What one route takes and answers.
#[derive(Clone, Default)]
pub struct Contract {
    /// Query parameters.
    pub query: Vec<Parameter>,
    /// Request body, if it takes one.
    pub body: Option<Body>,
    /// Success answers.
    pub answers: Vec<Answer>,
    /// Errors particular to this route: status and when it is returned.
    pub errors: Vec<(u16, &'static str)>,
    /// Named schemas the above refer to.
    pub schemas: Schemas,
}

fn example_of<T: Example + Serialize>() -> Option<Value> {
    serde_json::to_value(T::example()).ok()
}

impl Contract {
    /// A route that takes nothing and answers nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `T` (and every schema it refers to) and returns a reference to it.
    pub fn named<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.schemas.iter().any(|(n, _)| *n == name) {
            self.schemas.push((name.clone(), T::schema()));
            T::schemas(&mut self.schemas);
        }
        Ref::from_schema_name(name).into()
    }

    /// Query parameters described by `T`.
    pub fn query<T: IntoParams>(mut self) -> Self {
        self.query = T::into_params(|| Some(ParameterIn::Query));
        self
    }

    /// A JSON body of type `T`.
    pub fn json_body<T: ToSchema + Example + Serialize>(mut self) -> Self {
        let schema = self.named::<T>();
        self.body = Some(Body {
            media: "application/json",
            schema,
            example: example_of::<T>(),
        });
        self
    }

    /// A body of another media type (a YAML topology, …).
    pub fn body_as(mut self, media: &'static str, schema: RefOr<Schema>) -> Self {
        self.body = Some(Body {
            media,
            schema,
            example: None,
        });
        self
    }

    /// A JSON answer of type `T`.
    pub fn ok<T: ToSchema + Example + Serialize>(
        mut self,
        status: u16,
        description: &'static str,
    ) -> Self {
        let schema = self.named::<T>();
        self.answers.push(Answer {
            status,
            description,
            content: Some(("application/json", Some(schema))),
            example: example_of::<T>(),
            links: Vec::new(),
        });
        self
    }

    /// A JSON answer that is a list of `T`.
    pub fn ok_list<T: ToSchema + Example + Serialize>(
        mut self,
        status: u16,
        description: &'static str,
    ) -> Self {
        let item = self.named::<T>();
        self.answers.push(Answer {
            status,
            description,
            content: Some((
                "application/json",
                Some(ArrayBuilder::new().items(item).build().into()),
            )),
            example: example_of::<Vec<T>>(),
            links: Vec::new(),
        });
        self
    }

    /// A JSON answer that is one page of `T` (schema `<T>Page`).
    pub fn ok_page<T: ToSchema + Example + Serialize>(mut self, description: &'static str) -> Self {
        let item = self.named::<T>();
        let name = format!("{}Page", T::name());
        let count = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(0))
        };
        let page = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!("One page of {}s.", T::name())))
            .property("items", ArrayBuilder::new().items(item))
            .property(
                "total",
                count().description(Some("Items in the whole list.")),
            )
            .property(
                "offset",
                count().description(Some("Position of the first item.")),
            )
            .property("limit", count().description(Some("Page size asked for.")))
            .property(
                "next_offset",
                count()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::Integer,
                        Type::Null,
                    ]))
                    .description(Some("Offset of the next page, when there is one.")),
            )
            .required("items")
            .required("total")
            .required("offset")
            .required("limit")
            .build();
        if !self.schemas.iter().any(|(n, _)| *n == name) {
            self.schemas.push((name.clone(), page.into()));
        }
        self.answers.push(Answer {
            status: 200,
            description,
            content: Some(("application/json", Some(Ref::from_schema_name(name).into()))),
            example: example_of::<ccm_api::page::Page<T>>(),
            links: Vec::new(),
        });
        self
    }

    /// An answer of another media type (text, YAML, HTML, an event stream).
    pub fn ok_as(
        mut self,
        status: u16,
        description: &'static str,
        media: &'static str,
        schema: Option<RefOr<Schema>>,
    ) -> Self {
        self.answers.push(Answer {
            status,
            description,
            content: Some((media, schema)),
            example: None,
            links: Vec::new(),
        });
        self
    }

    /// An answer without a body (204, a redirect).
    pub fn ok_empty(mut self, status: u16, description: &'static str) -> Self {
        self.answers.push(Answer {
            status,
            description,
            content: None,
            example: None,
            links: Vec::new(),
        });
        self
    }

    /// Sets the example of the last answer (for answers whose type has none:
    /// other media types, documents described by hand).
    pub fn example(mut self, example: Value) -> Self {
        if let Some(answer) = self.answers.last_mut() {
            answer.example = Some(example);
        }
        self
    }

    /// Links the last answer to a follow-up operation.
    pub fn link(mut self, link: Link) -> Self {
        if let Some(answer) = self.answers.last_mut() {
            answer.links.push(link);
        }
        self
    }

    /// An error this route can return, and when.
    pub fn error(mut self, status: u16, when: &'static str) -> Self {
        self.errors.push((status, when));
        self
    }
}

/// A plain string schema (text bodies).
pub fn text() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .build()
        .into()
}

/// Bytes of any kind (images, icons).
pub fn binary() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Binary,
        )))
        .build()
        .into()
}
