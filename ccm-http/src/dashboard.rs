//! The web dashboard: a single page (`GET /`) and its static assets
//! (`GET /assets/{*path}`), all embedded in the binary so the dashboard works
//! offline — no CDN, no build step, plain JavaScript modules and CSS.
//!
//! The page and the assets hold no data: every data call of the page goes through
//! the authenticated API (`/api/v1/…`) with the browser session, so both routes
//! are public. Assets are answered with their content type, an `ETag` (a hash of
//! the content) and `Cache-Control: no-cache`, so a browser revalidates them
//! cheaply (304) and never runs a stale script after an upgrade; unknown assets
//! are a 404 with the API's error body.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::contract::{self, Contract};
use crate::api::error::ApiError;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `/assets/`.
    pub path: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        /// Every asset under `/assets/`.
        pub static ASSETS: &[Asset] = &[
            $( Asset {
                path: $path,
                body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/assets/", $path)),
            }, )*
        ];
    };
}

assets! {
    "app.css",
    "favicon.svg",
    "theme.js",
    "app.js",
    "api.js",
    "ui.js",
    "live.js",
    "charts.js",
    "format.js",
    "store.js",
    "view-overview.js",
    "view-workers.js",
    "view-worker.js",
    "view-lablets.js",
    "view-system.js",
}

/// The page shell.
pub const INDEX_HTML: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/index.html"));

/// The content type of a file name, by its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The asset at `path`, if embedded.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

fn etags() -> &'static Vec<String> {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| ASSETS.iter().map(|a| etag_of(a.body)).collect())
}

fn index_etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| etag_of(INDEX_HTML.as_bytes()))
}

fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == etag || v.trim() == "*")
}

fn answer(headers: &HeaderMap, etag: &str, kind: &'static str, body: &'static [u8]) -> Response {
    let mut response = if matches(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, kind)], body).into_response()
    };
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        h.insert(ETAG, value);
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /`: the dashboard page.
pub async fn index(headers: HeaderMap) -> Response {
    let mut response = answer(
        &headers,
        index_etag(),
        content_type("index.html"),
        INDEX_HTML.as_bytes(),
    );
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    response
}

/// What `GET /` answers.
pub fn index_contract() -> Contract {
    Contract::new()
        .ok_as(
            200,
            "The dashboard page",
            "text/html",
            Some(contract::text()),
        )
        .ok_empty(304, "Not modified: the page matches `If-None-Match`")
}

/// What `GET /assets/{*path}` answers.
pub fn asset_contract() -> Contract {
    let mut contract = Contract::new();
    for media in [
        "text/javascript",
        "text/css",
        "image/svg+xml",
        "image/x-icon",
    ] {
        let schema = if media.starts_with("text/") {
            contract::text()
        } else {
            contract::binary()
        };
        contract = contract.ok_as(200, "The asset", media, Some(schema));
    }
    contract
        .ok_empty(304, "Not modified: the asset matches `If-None-Match`")
        .error(404, "No asset at this path")
}

/// `GET /assets/{*path}`: one embedded asset, or a 404.
pub async fn asset_handler(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => {
            let a = &ASSETS[i];
            let etag = etags().get(i).map_or("", String::as_str);
            answer(&headers, etag, content_type(a.path), a.body)
        }
        None => ApiError::not_found(format!("no asset `{path}`")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `/assets/…` reference (`src=`, `href=`) in the page.
    fn page_references() -> Vec<String> {
        let mut refs = Vec::new();
        for attr in ["src=\"", "href=\""] {
            let mut rest = INDEX_HTML;
            while let Some(at) = rest.find(attr) {
                rest = &rest[at + attr.len()..];
                let end = rest.find('"').unwrap();
                let reference = &rest[..end];
                assert!(
                    !reference.contains("//"),
                    "{reference}: the page loads nothing from elsewhere"
                );
                if reference.starts_with('/') {
                    refs.push(reference.to_owned());
                }
                rest = &rest[end..];
            }
        }
        refs
    }

    /// Every relative module import (`from './x.js'`, `import('./x.js')`) in a script.
    fn imports(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for quote in ['\'', '"'] {
            let needle = format!("{quote}./");
            let mut rest = text;
            while let Some(at) = rest.find(&needle) {
                rest = &rest[at + 1..];
                let end = rest.find(quote).unwrap();
                let name = &rest[2..end];
                if name.ends_with(".js") {
                    found.push(name.to_owned());
                }
                rest = &rest[end..];
            }
        }
        found
    }

    async fn get(path: &str) -> Response {
        match path.strip_prefix("/assets/") {
            Some(rest) => asset_handler(Path(rest.to_owned()), HeaderMap::new()).await,
            None => index(HeaderMap::new()).await,
        }
    }

    #[tokio::test]
    async fn every_asset_the_page_references_is_served_with_its_type() {
        let refs = page_references();
        assert!(refs.iter().any(|r| r == "/assets/app.js"), "{refs:?}");
        assert!(refs.iter().any(|r| r == "/assets/app.css"), "{refs:?}");
        for reference in &refs {
            assert!(
                reference.starts_with("/assets/"),
                "{reference}: the page loads only embedded assets"
            );
            let response = get(reference).await;
            assert_eq!(response.status(), StatusCode::OK, "{reference}");
            let kind = response.headers()[CONTENT_TYPE].to_str().unwrap();
            let expected = if reference.ends_with(".js") {
                "text/javascript; charset=utf-8"
            } else if reference.ends_with(".css") {
                "text/css; charset=utf-8"
            } else if reference.ends_with(".svg") {
                "image/svg+xml"
            } else {
                panic!("unexpected asset kind {reference}")
            };
            assert_eq!(kind, expected, "{reference}");
            assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
            assert!(response.headers().contains_key(ETAG));
        }
    }

    #[tokio::test]
    async fn every_module_import_is_embedded_and_nothing_is_fetched_from_elsewhere() {
        for a in ASSETS {
            let text = std::str::from_utf8(a.body).unwrap();
            for name in imports(text) {
                assert!(asset(&name).is_some(), "{} imports missing {name}", a.path);
            }
            for banned in ["http://", "https://", "//cdn"] {
                let offending = text
                    .lines()
                    .filter(|l| l.contains(banned))
                    .filter(|l| !l.contains("www.w3.org/2000/svg"))
                    .collect::<Vec<_>>();
                assert!(offending.is_empty(), "{}: {offending:?}", a.path);
            }
        }
    }

    #[tokio::test]
    async fn the_page_unknown_assets_and_revalidation() {
        let page = get("/").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[CONTENT_TYPE].to_str().unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(page.headers().contains_key("content-security-policy"));
        let missing = get("/assets/nope.js").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.headers()[CONTENT_TYPE].to_str().unwrap(),
            "application/json"
        );
        let traversal = get("/assets/../src/lib.rs").await;
        assert_eq!(traversal.status(), StatusCode::NOT_FOUND);
        let first = get("/assets/app.js").await;
        let etag = first.headers()[ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, etag);
        let again = asset_handler(Path("app.js".into()), headers).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
