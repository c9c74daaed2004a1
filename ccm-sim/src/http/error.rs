//! Error answers the way CML sends them: `{"code": <status>, "description": "…"}`,
//! except the 502/503/504 that nginx in front of CML answers with an HTML page.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ccm_core::ports::cml::CmlError;
use serde_json::json;

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) description: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
        }
    }

    /// 400 with a FastAPI-style validation description (CML answers 400, not 422).
    pub(crate) fn validation(location: &[&str], message: &str, kind: &str) -> Self {
        let detail = json!([{ "loc": location, "msg": message, "type": kind }]);
        Self::new(400, detail.to_string())
    }

    pub(crate) fn unauthorized(description: &str) -> Self {
        Self::new(401, description)
    }

    pub(crate) fn lab_not_found(id: &str) -> Self {
        Self::new(404, format!("Lab not found: {id}"))
    }

    /// nginx's answer while CML behind it is down.
    pub(crate) fn bad_gateway() -> Self {
        Self::new(502, "Bad Gateway")
    }
}

impl From<CmlError> for ApiError {
    fn from(e: CmlError) -> Self {
        match e {
            CmlError::NotFound { what: "lab", id } => ApiError::lab_not_found(&id),
            CmlError::NotFound { what, id } => {
                let mut what = what.to_owned();
                if let Some(first) = what.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                ApiError::new(404, format!("{what} not found: {id}"))
            }
            CmlError::Rejected {
                status,
                description,
                ..
            } => ApiError::new(status, description),
            CmlError::Starting { .. } => ApiError::bad_gateway(),
            CmlError::Unreachable { .. } => ApiError::new(503, "Service Temporarily Unavailable"),
            CmlError::Unauthorized { .. } => ApiError::unauthorized("Not authenticated"),
            CmlError::Timeout { .. } => ApiError::new(504, "Gateway Time-out"),
            CmlError::Protocol { message, .. } => ApiError::new(500, message),
            // ccm's own refusals before any call; the model never makes them.
            CmlError::EndpointRefused { .. } | CmlError::LeaseLost { .. } => {
                ApiError::new(502, "Bad Gateway")
            }
            // The model never pins certificates; kept total for the port's sake.
            CmlError::CertificateChanged { .. } => ApiError::new(502, "Bad Gateway"),
            CmlError::Server {
                status,
                description,
                ..
            } => ApiError::new(status, description),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if matches!(self.status, 502..=504) {
            let title = format!("{} {}", self.status, self.description);
            let page = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
                 <center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n\
                 </body>\r\n</html>\r\n"
            );
            return (status, [(header::CONTENT_TYPE, "text/html")], page).into_response();
        }
        let body = json!({ "code": self.status, "description": self.description });
        let mut response = (status, axum::Json(body)).into_response();
        if self.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cml_errors_map_to_cml_answers() {
        let e = ApiError::from(CmlError::NotFound {
            what: "lab",
            id: "x".into(),
        });
        assert_eq!(e, ApiError::new(404, "Lab not found: x"));
        let e = ApiError::from(CmlError::NotFound {
            what: "node",
            id: "n".into(),
        });
        assert_eq!(e.description, "Node not found: n");
        let e = ApiError::from(CmlError::Rejected {
            operation: "start_lab".into(),
            status: 400,
            description: "Cannot start lab.".into(),
        });
        assert_eq!(
            (e.status, e.description.as_str()),
            (400, "Cannot start lab.")
        );
        assert_eq!(
            ApiError::from(CmlError::Starting {
                endpoint: "x".into()
            })
            .status,
            502
        );
        let v = ApiError::validation(&["path", "lab_id"], "bad", "string_pattern_mismatch");
        assert!(v.description.contains("lab_id"));
    }
}
