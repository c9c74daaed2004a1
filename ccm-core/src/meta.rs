//! Metadata carried by every resource: identity-independent bookkeeping for
//! optimistic concurrency, declarative reconciliation and safe deletion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Bookkeeping shared by workers, lab records, definitions and lablets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Human-readable name (not necessarily unique).
    pub name: String,
    /// Free-form labels used for filtering and selection.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Store version: bumped by every committed write; a write naming an older
    /// version is rejected as a conflict.
    pub version: u64,
    /// Bumped whenever the spec (what the operator wants) changes.
    pub generation: u64,
    /// The generation the controller last acted on; `observed < generation` means work is due.
    pub observed_generation: u64,
    /// Names of cleanups that must finish before the record may be removed.
    #[serde(default)]
    pub finalizers: Vec<String>,
    /// Set when deletion was requested; the record goes once finalizers are empty.
    pub deletion_timestamp: Option<Timestamp>,
    /// When the resource was created.
    pub created_at: Timestamp,
    /// When the resource last changed.
    pub updated_at: Timestamp,
}

impl ObjectMeta {
    /// Metadata for a resource created at `now`, not yet stored (version 0).
    pub fn new(name: impl Into<String>, now: Timestamp) -> Self {
        Self {
            name: name.into(),
            labels: BTreeMap::new(),
            version: 0,
            generation: 1,
            observed_generation: 0,
            finalizers: Vec::new(),
            deletion_timestamp: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Records a change of the spec.
    pub fn bump_generation(&mut self, now: Timestamp) {
        self.generation += 1;
        self.updated_at = now;
    }

    /// True when the spec changed since the controller last acted.
    pub fn needs_reconcile(&self) -> bool {
        self.observed_generation < self.generation || self.deletion_timestamp.is_some()
    }

    /// Adds a finalizer once.
    pub fn add_finalizer(&mut self, name: &str) {
        if !self.finalizers.iter().any(|f| f == name) {
            self.finalizers.push(name.to_owned());
        }
    }

    /// Removes a finalizer if present.
    pub fn remove_finalizer(&mut self, name: &str) {
        self.finalizers.retain(|f| f != name);
    }

    /// True when a deletion was requested and no finalizer holds the record back.
    pub fn ready_to_remove(&self) -> bool {
        self.deletion_timestamp.is_some() && self.finalizers.is_empty()
    }

    /// True when every `key=value` pair of `selector` is among the labels.
    pub fn matches_labels(&self, selector: &BTreeMap<String, String>) -> bool {
        selector
            .iter()
            .all(|(k, v)| self.labels.get(k).is_some_and(|have| have == v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    #[test]
    fn finalizers_block_removal_until_cleared() {
        let mut meta = ObjectMeta::new("w", epoch());
        meta.add_finalizer("ccm/lab-teardown");
        meta.add_finalizer("ccm/lab-teardown");
        assert_eq!(meta.finalizers.len(), 1);
        meta.deletion_timestamp = Some(epoch());
        assert!(!meta.ready_to_remove());
        meta.remove_finalizer("ccm/lab-teardown");
        assert!(meta.ready_to_remove());
    }

    #[test]
    fn generation_drives_reconcile() {
        let mut meta = ObjectMeta::new("w", epoch());
        assert!(meta.needs_reconcile());
        meta.observed_generation = meta.generation;
        assert!(!meta.needs_reconcile());
        meta.bump_generation(epoch());
        assert!(meta.needs_reconcile());
    }

    #[test]
    fn label_selector_requires_every_pair() {
        let mut meta = ObjectMeta::new("w", epoch());
        meta.labels.insert("team".into(), "ccna".into());
        let mut selector = BTreeMap::new();
        selector.insert("team".to_owned(), "ccna".to_owned());
        assert!(meta.matches_labels(&selector));
        selector.insert("tier".to_owned(), "gold".to_owned());
        assert!(!meta.matches_labels(&selector));
    }
}
