//! Serialised list pages, reused while nothing they show has changed.
//!
//! A page is kept with the store generations it was built from
//! ([`Store::generations`](ccm_core::ports::Store::generations), read *before* the
//! records) and served again only while every one of them is the same. A commit
//! by any process sharing the store moves the generation, so the next request
//! rebuilds the page: the cache can make a page newer than its stamp (a commit
//! between the stamp and the read), never older.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// Pages kept at most.
pub const MAX_PAGES: usize = 64;
/// Bytes of pages kept at most; a larger page is served but not kept.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The generations a page was derived from.
pub type Stamp = [u64; 2];

/// Least-recently-used pages by key (who sees what, and the query).
#[derive(Debug)]
pub struct PageCache {
    inner: Mutex<Pages>,
    max_pages: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Pages {
    by_key: HashMap<String, Page>,
    bytes: usize,
    /// Use counter: the page with the smallest `used` goes first.
    uses: u64,
}

#[derive(Debug)]
struct Page {
    stamp: Stamp,
    body: Bytes,
    used: u64,
}

impl Default for PageCache {
    fn default() -> Self {
        Self::new(MAX_PAGES, MAX_BYTES)
    }
}

impl PageCache {
    /// A cache of at most `max_pages` pages and `max_bytes` bytes.
    pub fn new(max_pages: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Pages::default()),
            max_pages,
            max_bytes,
        }
    }

    /// The page kept under `key` when it was built at `stamp`.
    pub fn get(&self, key: &str, stamp: &Stamp) -> Option<Bytes> {
        let mut pages = self.inner.lock().ok()?;
        pages.uses += 1;
        let uses = pages.uses;
        let page = pages.by_key.get_mut(key)?;
        if page.stamp != *stamp {
            return None;
        }
        page.used = uses;
        Some(page.body.clone())
    }

    /// Keeps `body` under `key`, replacing what was there and dropping the least
    /// recently used pages beyond the bounds.
    pub fn put(&self, key: String, stamp: Stamp, body: Bytes) {
        if body.len() > self.max_bytes || self.max_pages == 0 {
            return;
        }
        let Ok(mut pages) = self.inner.lock() else {
            return;
        };
        if let Some(old) = pages.by_key.remove(&key) {
            pages.bytes -= old.body.len();
        }
        while pages.by_key.len() >= self.max_pages || pages.bytes + body.len() > self.max_bytes {
            let Some(oldest) = pages
                .by_key
                .iter()
                .min_by_key(|(_, page)| page.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(gone) = pages.by_key.remove(&oldest) {
                pages.bytes -= gone.body.len();
            }
        }
        pages.uses += 1;
        let used = pages.uses;
        pages.bytes += body.len();
        pages.by_key.insert(key, Page { stamp, body, used });
    }

    /// Pages and bytes kept now.
    pub fn size(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|pages| (pages.by_key.len(), pages.bytes))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_at_the_stamp_it_was_built_at() {
        let cache = PageCache::default();
        cache.put("k".into(), [1, 1], Bytes::from_static(b"one"));
        assert_eq!(cache.get("k", &[1, 1]).as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get("k", &[2, 1]), None);
        assert_eq!(cache.get("k", &[1, 2]), None);
        assert_eq!(cache.get("other", &[1, 1]), None);
        cache.put("k".into(), [2, 1], Bytes::from_static(b"two"));
        assert_eq!(cache.get("k", &[2, 1]).as_deref(), Some(&b"two"[..]));
        assert_eq!(cache.size(), (1, 3));
    }

    #[test]
    fn the_least_recently_used_pages_go_first_and_bounds_hold() {
        let cache = PageCache::new(2, 10);
        cache.put("a".into(), [0, 0], Bytes::from_static(b"aaaa"));
        cache.put("b".into(), [0, 0], Bytes::from_static(b"bbbb"));
        assert!(cache.get("a", &[0, 0]).is_some());
        cache.put("c".into(), [0, 0], Bytes::from_static(b"cccc"));
        assert!(
            cache.get("b", &[0, 0]).is_none(),
            "b was used least recently"
        );
        assert!(cache.get("a", &[0, 0]).is_some());
        assert_eq!(cache.size(), (2, 8));
        // A 6-byte page fits beside one 4-byte page: c (used before a) goes.
        cache.put("d".into(), [0, 0], Bytes::from_static(b"dddddd"));
        assert!(cache.get("c", &[0, 0]).is_none());
        assert_eq!(cache.size(), (2, 10));
        // Then the bytes bound alone: an 8-byte page leaves room for nothing else.
        let cache = PageCache::new(8, 10);
        cache.put("a".into(), [0, 0], Bytes::from_static(b"aaaa"));
        cache.put("b".into(), [0, 0], Bytes::from_static(b"bbbbbbbb"));
        assert!(cache.get("a", &[0, 0]).is_none());
        assert_eq!(cache.size(), (1, 8));
        // Larger than the whole budget: served by the caller, never kept.
        cache.put("e".into(), [0, 0], Bytes::from_static(b"eeeeeeeeeeee"));
        assert!(cache.get("e", &[0, 0]).is_none());
        assert_eq!(cache.size(), (1, 8));
    }
}
