//! Pagination of lists: `?limit=&offset=`, answered as
//! `{"items": [...], "total", "offset", "limit", "next_offset"}`.

use std::future::Future;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use ccm_core::ports::store::{Listed, PageRequest};
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::page_cache::Stamp;
use crate::state::AppState;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most items per page.
pub const MAX_LIMIT: usize = 1000;

/// One page of a list.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: usize,
    /// Position of the first item.
    pub offset: usize,
    /// Page size asked for.
    pub limit: usize,
    /// Offset of the next page, when there is one.
    pub next_offset: Option<usize>,
}

/// Checks `limit`/`offset` and returns `(offset, limit)`.
pub fn bounds(limit: Option<usize>, offset: Option<usize>) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((offset.unwrap_or(0), limit))
}

impl<T> Page<T> {
    /// The page of `all` at `offset`, `limit` items long.
    pub fn of(all: Vec<T>, offset: usize, limit: usize) -> Self {
        Self::from_listed(
            Listed::page_of(all, PageRequest { offset, limit }),
            offset,
            limit,
        )
    }

    /// The page the store read (`offset`/`limit` as asked).
    pub fn from_listed(listed: Listed<T>, offset: usize, limit: usize) -> Self {
        let end = offset.saturating_add(listed.items.len());
        Self {
            next_offset: (end < listed.total).then_some(end),
            items: listed.items,
            total: listed.total,
            offset,
            limit,
        }
    }

    /// The same page with other items (the same ones, re-read or converted).
    pub fn with_items<U>(self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            total: self.total,
            offset: self.offset,
            limit: self.limit,
            next_offset: self.next_offset,
        }
    }

    /// The same page with each item transformed.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            offset: self.offset,
            limit: self.limit,
            next_offset: self.next_offset,
        }
    }
}

/// The page under `key` from the page cache while `stamp` (the generations of
/// what it shows, read before `build` reads the records) is unchanged, else the
/// page `build` reads, serialised once and kept for the next caller.
pub async fn serve_page<T: Serialize>(
    state: &AppState,
    key: String,
    stamp: Stamp,
    build: impl Future<Output = ApiResult<Page<T>>>,
) -> ApiResult<Response> {
    if let Some(body) = state.pages.get(&key, &stamp) {
        state.metrics.count_page(true);
        return Ok(json_body(body));
    }
    let page = build.await?;
    let body = Bytes::from(serde_json::to_vec(&page).map_err(|e| ApiError::internal(&e))?);
    state.pages.put(key, stamp, body.clone());
    state.metrics.count_page(false);
    Ok(json_body(body))
}

/// A serialised JSON answer.
fn json_body(body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_the_list_once() {
        let page = Page::of((0..5).collect::<Vec<_>>(), 0, 2);
        assert_eq!(page.items, vec![0, 1]);
        assert_eq!(page.next_offset, Some(2));
        let last = Page::of((0..5).collect::<Vec<_>>(), 4, 2);
        assert_eq!(last.items, vec![4]);
        assert_eq!(last.next_offset, None);
        assert!(bounds(Some(0), None).is_err());
        assert!(bounds(Some(MAX_LIMIT + 1), None).is_err());
        assert_eq!(bounds(None, Some(3)).unwrap(), (3, DEFAULT_LIMIT));
        let read = Page::from_listed(
            Listed {
                items: vec![2, 3],
                total: 5,
            },
            2,
            2,
        );
        assert_eq!(read.next_offset, Some(4));
        assert_eq!(read.total, 5);
        let past = Page::<u8>::from_listed(
            Listed {
                items: vec![],
                total: 5,
            },
            9,
            2,
        );
        assert_eq!((past.next_offset, past.total), (None, 5));
    }
}
