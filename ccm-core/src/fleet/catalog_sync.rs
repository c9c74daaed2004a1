//! Keeping each worker's node and image catalog ([`NodeCatalog`]) in step with its
//! CML, as part of the metrics sweep. The two reads return large documents that
//! rarely change, so a sweep makes them only when the catalog is unknown, was read
//! from another CML version, was last read more than [`REREAD_SECONDS`] ago by
//! this process, or an operator asked for a refresh. When it was read last lives
//! only in memory: a restarted process reads every catalog once more, which costs
//! one extra pair of calls per worker and loses nothing, since the catalog itself
//! is in the worker's record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::catalog::NodeCatalog;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::WorkerId;
use crate::ports::cml::{CmlEndpoint, CmlError, ImageDefinition, NodeDefinition};
use crate::time::{seconds_between, Timestamp};
use crate::worker::Worker;

/// Longest a catalog goes unread by a process that keeps sweeping the worker, so
/// a node definition an administrator installs by hand is seen within the hour.
pub(crate) const REREAD_SECONDS: i64 = 3_600;

/// Whether a sweep reads catalogs when they are due, or for every worker swept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CatalogRead {
    /// Only catalogs that are due.
    WhenDue,
    /// Every swept worker's (an operator's refresh).
    Always,
}

/// Both answers of one catalog read.
pub(crate) type CatalogAnswer = (
    Result<Vec<NodeDefinition>, CmlError>,
    Result<Vec<ImageDefinition>, CmlError>,
);

/// When this process last read each worker's catalog.
#[derive(Clone, Default)]
pub(crate) struct CatalogReads {
    read_at: Arc<Mutex<HashMap<WorkerId, Timestamp>>>,
}

impl CatalogReads {
    /// True when a sweep at `now` should read `worker`'s catalog.
    pub(crate) fn due(&self, worker: &Worker, now: Timestamp, mode: CatalogRead) -> bool {
        if mode == CatalogRead::Always {
            return true;
        }
        let Some(catalog) = &worker.status.catalog else {
            return true;
        };
        if catalog.cml_version != worker.status.cml.version {
            return true;
        }
        let read_at = self
            .read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&worker.id)
            .copied();
        read_at.is_none_or(|at| seconds_between(at, now) >= REREAD_SECONDS)
    }

    /// Forgets the workers that are no longer listed (terminated or deleted), so
    /// the map is bounded by the fleet, not by every worker it ever had.
    pub(crate) fn keep_only(&self, listed: impl Iterator<Item = WorkerId>) {
        let listed: std::collections::HashSet<WorkerId> = listed.collect();
        self.read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| listed.contains(id));
    }

    /// Reads the catalog through `cml` (both calls in one round trip).
    pub(crate) async fn read(
        cml: &dyn crate::ports::cml::CmlClient,
        ep: &CmlEndpoint,
    ) -> CatalogAnswer {
        tokio::join!(cml.node_definitions(ep), cml.image_definitions(ep))
    }

    /// Applies a read to `worker` when CML is ready (a starting CML may not have
    /// loaded its definitions yet); returns the events and the first error.
    pub(crate) fn apply(
        &self,
        worker: &mut Worker,
        answer: &CatalogAnswer,
        cml_ready: bool,
        cml_version: Option<String>,
        now: Timestamp,
    ) -> Result<(Vec<DomainEvent>, Option<String>), CoreError> {
        let (nodes, images) = match answer {
            (Ok(nodes), Ok(images)) => (nodes, images),
            (Err(error), _) | (_, Err(error)) => return Ok((Vec::new(), Some(error.to_string()))),
        };
        if !cml_ready {
            return Ok((Vec::new(), None));
        }
        let catalog = NodeCatalog::from_cml(nodes, images, cml_version, now);
        let events = worker.sync_catalog(catalog, now)?;
        self.read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(worker.id, now);
        Ok((events, None))
    }
}

/// The catalog a worker launched now would offer: the newest one read from a
/// worker of the launch template's own image, which is what the autoscaler
/// launches. `None` while no such worker was read; scale-up then assumes a new
/// worker offers what is needed, since refusing would leave the fleet unable to
/// grow until someone starts a worker by hand.
pub(crate) fn new_worker_catalog(workers: &[Worker]) -> Option<Arc<NodeCatalog>> {
    workers
        .iter()
        .filter(|w| w.spec.image.is_none())
        .filter_map(|w| w.status.catalog.as_ref())
        .max_by_key(|c| c.synced_at)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Region;
    use crate::resources::Resources;
    use crate::time::{epoch, plus_seconds};
    use crate::worker::{Capacity, NewWorker};

    fn worker() -> Worker {
        let input = NewWorker {
            name: "w1".into(),
            region: Region::new("eu-west-1"),
            instance_type: "m5zn.metal".into(),
            capacity: Capacity::new(Resources::new(48, 192, 1000), 100),
            tags: Default::default(),
            labels: Default::default(),
            idle: Default::default(),
            created_by: None,
            image: None,
        };
        Worker::create(WorkerId::from_u128(1), input, epoch()).0
    }

    fn answer(nodes: &[&str]) -> CatalogAnswer {
        (
            Ok(nodes
                .iter()
                .map(|id| NodeDefinition {
                    id: (*id).into(),
                    description: None,
                    nature: None,
                })
                .collect()),
            Ok(Vec::new()),
        )
    }

    #[test]
    fn reads_when_unknown_after_an_hour_or_a_new_version() {
        let reads = CatalogReads::default();
        let mut w = worker();
        w.status.cml.version = Some("2.9.0".into());
        assert!(reads.due(&w, epoch(), CatalogRead::WhenDue), "unknown");
        let (events, error) = reads
            .apply(
                &mut w,
                &answer(&["iosv"]),
                true,
                Some("2.9.0".into()),
                epoch(),
            )
            .unwrap();
        assert_eq!((events.len(), error), (1, None));
        assert!(!reads.due(&w, plus_seconds(epoch(), 60), CatalogRead::WhenDue));
        assert!(reads.due(&w, plus_seconds(epoch(), 60), CatalogRead::Always));
        assert!(reads.due(
            &w,
            plus_seconds(epoch(), REREAD_SECONDS),
            CatalogRead::WhenDue
        ));
        w.status.cml.version = Some("2.9.1".into());
        assert!(reads.due(&w, plus_seconds(epoch(), 60), CatalogRead::WhenDue));
        w.status.cml.version = Some("2.9.0".into());
        reads.keep_only([w.id].into_iter());
        assert!(
            !reads.due(&w, plus_seconds(epoch(), 60), CatalogRead::WhenDue),
            "kept"
        );
        reads.keep_only(std::iter::empty());
        assert!(
            reads.due(&w, plus_seconds(epoch(), 60), CatalogRead::WhenDue),
            "a worker no longer listed is forgotten"
        );
    }

    #[test]
    fn new_workers_are_expected_to_offer_the_newest_catalog_of_the_default_image() {
        let reads = CatalogReads::default();
        let mut old = worker();
        reads
            .apply(&mut old, &answer(&["iosv"]), true, None, epoch())
            .unwrap();
        let mut newer = worker();
        reads
            .apply(
                &mut newer,
                &answer(&["alpine"]),
                true,
                None,
                plus_seconds(epoch(), 60),
            )
            .unwrap();
        let mut other_image = worker();
        other_image.spec.image = Some("cml-2.8".into());
        reads
            .apply(
                &mut other_image,
                &answer(&["csr1000v"]),
                true,
                None,
                plus_seconds(epoch(), 120),
            )
            .unwrap();
        assert_eq!(new_worker_catalog(&[]), None);
        let learned = new_worker_catalog(&[old, newer, other_image]).unwrap();
        assert!(learned.node_definitions.contains("alpine"));
        assert_eq!(learned.node_definitions.len(), 1);
    }

    #[test]
    fn the_same_catalog_again_writes_nothing_and_errors_change_nothing() {
        let reads = CatalogReads::default();
        let mut w = worker();
        let version = Some("2.9.0".to_owned());
        reads
            .apply(&mut w, &answer(&["iosv"]), true, version.clone(), epoch())
            .unwrap();
        let again = reads
            .apply(&mut w, &answer(&["iosv"]), true, version.clone(), epoch())
            .unwrap();
        assert!(again.0.is_empty());
        let failed: CatalogAnswer = (
            Err(CmlError::Unreachable {
                endpoint: "https://w1".into(),
                message: "reset".into(),
            }),
            Ok(Vec::new()),
        );
        let (events, error) = reads
            .apply(&mut w, &failed, true, version.clone(), epoch())
            .unwrap();
        assert!(events.is_empty() && error.is_some());
        let starting = reads
            .apply(&mut w, &answer(&["alpine"]), false, version, epoch())
            .unwrap();
        assert!(
            starting.0.is_empty(),
            "a starting CML's catalog is not taken"
        );
        let catalog = w.status.catalog.as_deref().unwrap();
        assert!(catalog.node_definitions.contains("iosv"));
    }
}
