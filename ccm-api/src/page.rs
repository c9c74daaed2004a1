//! One page of a list: `{"items": [...], "total", "offset", "limit", "next_offset"}`.
//! Its schema is written per item type by the document (`WorkerPage`, …), so
//! generated clients get a named type for each list.

use serde::{Deserialize, Serialize};

use crate::Example;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl<T> Page<T> {
    /// The same page with its items mapped (domain records to wire types).
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

impl<T: Example> Example for Page<T> {
    fn example() -> Self {
        Self {
            items: vec![T::example()],
            total: 1,
            offset: 0,
            limit: 100,
            next_offset: None,
        }
    }
}
