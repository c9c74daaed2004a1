//! Labs: mirroring each worker's CML labs into lab records (new, changed with a
//! change list, state history, gone) and running lab operations through ccm.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::context::Context;
use super::lablet_controller::is_lablet_lab;
use super::persist::CONFLICT_RETRIES;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::event::{DomainEvent, EventPayload, FieldChange, ResourceKind, Subject};
use crate::ids::{CmlLabId, LabRecordId, WorkerId};
use crate::lab::{LabOperation, LabRecord};
use crate::ports::cml::{CmlEndpoint, CmlLab, LabUsage};
use crate::ports::ids::IdSource;
use crate::ports::store::{ChangeSet, Fence, LabFilter, StoreError, WorkerFilter};
use crate::resources::Resources;
use crate::time::Timestamp;
use crate::worker::{DesiredStatus, UnmanagedUsage, Worker};

/// An operation on a lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabAction {
    /// Start all nodes.
    Start,
    /// Stop all nodes.
    Stop,
    /// Wipe node disks (the lab must be stopped).
    Wipe,
    /// Stop, wipe and delete.
    Delete,
}

impl LabAction {
    /// True when the action destroys what a lablet's student works on (its nodes'
    /// disks or the whole lab), so a lab owned by a lablet is guarded.
    pub fn destroys(self) -> bool {
        matches!(self, LabAction::Wipe | LabAction::Delete)
    }

    fn past_tense(self) -> &'static str {
        match self {
            LabAction::Start => "started",
            LabAction::Stop => "stopped",
            LabAction::Wipe => "wiped",
            LabAction::Delete => "deleted",
        }
    }
}

fn lab_subject(worker: WorkerId, lab: &CmlLabId) -> Subject {
    Subject {
        kind: ResourceKind::Lab,
        id: format!("{worker}/{lab}"),
    }
}

fn changes_between(record: &LabRecord, lab: &CmlLab) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut check = |field: &str, from: String, to: String| {
        if from != to {
            changes.push(FieldChange {
                field: field.to_owned(),
                from,
                to,
            });
        }
    };
    check("title", record.title.clone(), lab.title.clone());
    check(
        "description",
        record.description.clone(),
        lab.description.clone(),
    );
    check(
        "owner",
        record.owner.clone().unwrap_or_default(),
        lab.owner_username.clone().unwrap_or_default(),
    );
    check(
        "node_count",
        record.node_count.to_string(),
        lab.node_count.to_string(),
    );
    check(
        "link_count",
        record.link_count.to_string(),
        lab.link_count.to_string(),
    );
    changes
}

/// The labs on workers' CML: mirrored into lab records, and operated through ccm.
#[derive(Clone)]
pub(crate) struct Labs {
    ctx: Arc<Context>,
}

impl Labs {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Lab records of a worker (gone ones too when asked).
    pub(crate) async fn list(
        &self,
        worker_id: WorkerId,
        include_gone: bool,
    ) -> Result<Vec<LabRecord>, CoreError> {
        Ok(self
            .ctx
            .store
            .list_labs(&LabFilter {
                worker_id: Some(worker_id),
                include_gone,
            })
            .await?)
    }

    /// Syncs the labs of every running worker whose CML is available and that is
    /// to keep running, `cml_concurrency` at a time. Returns the number of workers synced; failures are logged per worker.
    pub(crate) async fn sync_all(&self, fence: Option<&Fence>) -> Result<usize, CoreError> {
        let workers: Vec<Worker> = self
            .ctx
            .store
            .list_workers(&WorkerFilter::default())
            .await?
            .into_iter()
            .filter(|w| w.can_host_labs() && w.spec.desired_status == DesiredStatus::Running)
            .collect();
        let results: Vec<Result<usize, CoreError>> = stream::iter(workers)
            .map(|w| async move { self.sync_worker(w.id, fence).await })
            .buffer_unordered(self.ctx.settings.cml_concurrency.max(1))
            .collect()
            .await;
        let mut synced = 0;
        for result in results {
            match result {
                Ok(_) => synced += 1,
                Err(error) => tracing::warn!(%error, "lab sync failed for a worker"),
            }
        }
        Ok(synced)
    }

    /// Mirrors one worker's labs. Returns how many labs CML reported.
    pub(crate) async fn sync_worker(
        &self,
        worker_id: WorkerId,
        fence: Option<&Fence>,
    ) -> Result<usize, CoreError> {
        let worker = self.ctx.worker(worker_id).await?;
        let ep = self.lab_endpoint(&worker)?;
        let ids = self.ctx.cml.list_labs(&ep).await?;
        let mut labs = Vec::with_capacity(ids.len());
        let mut usages = BTreeMap::new();
        for id in &ids {
            // Both reads of one lab in one round trip's time.
            let (lab, usage) = futures_util::future::join(
                self.ctx.cml.get_lab(&ep, id),
                self.ctx.cml.lab_usage(&ep, id),
            )
            .await;
            match lab {
                Ok(lab) => labs.push(lab),
                // Deleted between the list and the get: it is gone.
                Err(crate::ports::cml::CmlError::NotFound { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
            // A lab whose usage cannot be read keeps the last one read: one bad
            // answer must not make its capacity look free.
            match usage {
                Ok(usage) => {
                    usages.insert(id.clone(), usage);
                }
                Err(error) => tracing::warn!(%error, lab = %id, "lab usage not read"),
            }
        }
        for _ in 0..CONFLICT_RETRIES {
            let now = self.ctx.now();
            let stored: BTreeMap<CmlLabId, LabRecord> = self
                .list(worker_id, true)
                .await?
                .into_iter()
                .map(|r| (r.cml_lab_id.clone(), r))
                .collect();
            let (changes, state_changes) = mirror(
                worker_id,
                &stored,
                &labs,
                &usages,
                self.ctx.ids.as_ref(),
                now,
            );
            if changes.is_empty() {
                self.observe_unmanaged(&worker, &stored, &labs, &usages, fence)
                    .await?;
                return Ok(labs.len());
            }
            let mut changes = changes;
            changes.fence = fence.cloned();
            match self.ctx.commit(changes).await {
                Ok(_) => {
                    self.observe_unmanaged(&worker, &stored, &labs, &usages, fence)
                        .await?;
                    if state_changes > 0 {
                        self.ctx
                            .note_activity(
                                worker_id,
                                "lab_state",
                                format!("{state_changes} lab state change(s)"),
                                fence,
                            )
                            .await?;
                    }
                    return Ok(labs.len());
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable("lab sync kept conflicting".into()).into())
    }

    /// Records on the worker what the labs no lablet owns take (a lab whose
    /// usage was not read this time counts with the usage last stored).
    async fn observe_unmanaged(
        &self,
        worker: &Worker,
        stored: &BTreeMap<CmlLabId, LabRecord>,
        labs: &[CmlLab],
        usages: &BTreeMap<CmlLabId, LabUsage>,
        fence: Option<&Fence>,
    ) -> Result<(), CoreError> {
        let usage = unmanaged_usage(labs.iter().map(|lab| {
            let usage = usages
                .get(&lab.id)
                .copied()
                .or_else(|| stored.get(&lab.id).and_then(|r| r.usage));
            (lab.title.as_str(), usage)
        }));
        // The worker as read at the start of this sync: most syncs change
        // nothing, and then write nothing and read no more.
        if usage == worker.status.capacity.unmanaged {
            return Ok(());
        }
        self.ctx
            .update::<Worker, _, _>(worker.id, fence, |w, now| {
                w.observe_unmanaged_usage(usage, now)
            })
            .await?;
        Ok(())
    }

    /// Runs an operation on a lab, records it in the lab's history, and re-syncs
    /// the worker's labs.
    pub(crate) async fn action(
        &self,
        worker_id: WorkerId,
        lab: &CmlLabId,
        action: LabAction,
        by: Option<String>,
    ) -> Result<Vec<LabRecord>, CoreError> {
        let worker = self.ctx.worker(worker_id).await?;
        let ep = self.lab_endpoint(&worker)?;
        match action {
            LabAction::Start => self.ctx.cml.start_lab(&ep, lab).await?,
            LabAction::Stop => self.ctx.cml.stop_lab(&ep, lab).await?,
            LabAction::Wipe => self.ctx.cml.wipe_lab(&ep, lab).await?,
            LabAction::Delete => self.ctx.cml.teardown_lab(&ep, lab).await?,
        }
        self.record_lab_operation(worker_id, lab, action.past_tense(), by.clone())
            .await?;
        self.ctx
            .note_activity(
                worker_id,
                "lab_operation",
                format!("{} {lab}", action.past_tense()),
                None,
            )
            .await?;
        self.sync_worker(worker_id, None).await?;
        self.list(worker_id, true).await
    }

    /// Imports a topology as a new lab on the worker.
    pub(crate) async fn import(
        &self,
        worker_id: WorkerId,
        topology_yaml: &str,
        title: Option<&str>,
        by: Option<String>,
    ) -> Result<LabRecord, CoreError> {
        if let Some(title) = title {
            crate::worker::limits::check_lab_title(title)?;
        }
        if topology_yaml.trim().is_empty() {
            return Err(CoreError::validation("topology", "must not be empty"));
        }
        let worker = self.ctx.worker(worker_id).await?;
        let ep = self.lab_endpoint(&worker)?;
        let imported = self.ctx.cml.import_lab(&ep, topology_yaml, title).await?;
        self.sync_worker(worker_id, None).await?;
        self.record_lab_operation(worker_id, &imported.id, "imported", by)
            .await?;
        self.list(worker_id, true)
            .await?
            .into_iter()
            .find(|r| r.cml_lab_id == imported.id)
            .ok_or_else(|| {
                DomainError::NotFound {
                    kind: "lab",
                    id: imported.id.to_string(),
                }
                .into()
            })
    }

    /// The lab's topology as CML exports it (YAML).
    pub(crate) async fn download(
        &self,
        worker_id: WorkerId,
        lab: &CmlLabId,
    ) -> Result<String, CoreError> {
        let worker = self.ctx.worker(worker_id).await?;
        let ep = self.lab_endpoint(&worker)?;
        Ok(self.ctx.cml.download_lab(&ep, lab).await?)
    }

    /// Where to reach `worker`'s CML for a lab operation. Besides what every
    /// operation needs, the worker must be meant to keep running: one asked to
    /// stop or end may already have lost its instance while its record still
    /// says running, and a call would meet a CML that is gone (a 503 for what
    /// is the caller's own request).
    fn lab_endpoint(&self, worker: &Worker) -> Result<CmlEndpoint, CoreError> {
        let ep = self.ctx.endpoint_for_operations(worker)?;
        if worker.spec.desired_status != DesiredStatus::Running {
            return Err(CoreError::validation(
                "worker",
                format!(
                    "worker `{}` is being taken down ({:?}); labs need a worker that is to keep running",
                    worker.name(),
                    worker.spec.desired_status
                ),
            ));
        }
        Ok(ep)
    }

    async fn record_lab_operation(
        &self,
        worker_id: WorkerId,
        lab: &CmlLabId,
        action: &str,
        by: Option<String>,
    ) -> Result<(), CoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let now = self.ctx.now();
            let Some(mut record) = self
                .list(worker_id, true)
                .await?
                .into_iter()
                .find(|r| &r.cml_lab_id == lab)
            else {
                return Ok(());
            };
            let operation = LabOperation {
                at: now,
                action: action.to_owned(),
                actor: by.clone(),
            };
            record.record(operation.clone());
            let event = DomainEvent::new(
                lab_subject(worker_id, lab),
                EventPayload::LabOperationRecorded {
                    worker_id,
                    cml_lab_id: lab.clone(),
                    operation,
                },
                now,
            );
            match self
                .ctx
                .commit(ChangeSet::new().put_lab(record).events([event]))
                .await
            {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable("lab history kept conflicting".into()).into())
    }
}

/// A lab's usage as text for a field change.
fn describe_usage(usage: Option<LabUsage>) -> String {
    usage.map_or_else(
        || "unknown".into(),
        |u| {
            format!(
                "{} vCPU, {} MiB, {} GiB, {} running node(s)",
                u.cpus, u.memory_mib, u.disk_gib, u.running_nodes
            )
        },
    )
}

/// What the labs that no lablet owns take, summed: a lablet's lab carries
/// [`lab_title`] (the lablet controller gives every lab it imports that title), so
/// every other lab was made by hand. A lab whose usage was never read counts as a
/// lab with nothing known.
pub(crate) fn unmanaged_usage<'a>(
    labs: impl IntoIterator<Item = (&'a str, Option<LabUsage>)>,
) -> UnmanagedUsage {
    let mut total = UnmanagedUsage::default();
    for (title, usage) in labs {
        if is_lablet_lab(title) {
            continue;
        }
        total.labs = total.labs.saturating_add(1);
        if let Some(u) = usage {
            total.resources += Resources {
                cpu_millis: u64::from(u.cpus).saturating_mul(1000),
                memory_mib: u.memory_mib,
                storage_gib: u.disk_gib,
            };
            total.nodes = total.nodes.saturating_add(u.running_nodes);
        }
    }
    total
}

/// The writes that make `stored` mirror `labs`, and how many states changed.
fn mirror(
    worker_id: WorkerId,
    stored: &BTreeMap<CmlLabId, LabRecord>,
    labs: &[CmlLab],
    usages: &BTreeMap<CmlLabId, LabUsage>,
    ids: &dyn IdSource,
    now: Timestamp,
) -> (ChangeSet, usize) {
    let mut changes = ChangeSet::new();
    let mut state_changes = 0;
    for lab in labs {
        let subject = lab_subject(worker_id, &lab.id);
        match stored.get(&lab.id) {
            None => {
                let mut record = LabRecord {
                    id: LabRecordId(ids.next_uuid()),
                    worker_id,
                    cml_lab_id: lab.id.clone(),
                    title: lab.title.clone(),
                    description: lab.description.clone(),
                    owner: lab.owner_username.clone(),
                    state: lab.state,
                    node_count: lab.node_count,
                    link_count: lab.link_count,
                    first_seen_at: now,
                    last_synced_at: now,
                    gone: false,
                    usage: usages.get(&lab.id).copied(),
                    history: VecDeque::new(),
                    version: 0,
                };
                record.record(LabOperation {
                    at: now,
                    action: format!("discovered in state {}", lab.state.as_cml()),
                    actor: Some("sync".into()),
                });
                let event = DomainEvent::new(
                    subject,
                    EventPayload::LabDiscoveredV2 {
                        worker_id,
                        cml_lab_id: lab.id.clone(),
                        title: lab.title.clone(),
                        description: lab.description.clone(),
                        owner: lab.owner_username.clone(),
                        state: lab.state,
                        node_count: lab.node_count,
                        link_count: lab.link_count,
                    },
                    now,
                );
                changes = changes.put_lab(record).events([event]);
            }
            Some(existing) => {
                let mut record = existing.clone();
                let mut events = Vec::new();
                let mut field_changes = changes_between(existing, lab);
                let usage = usages.get(&lab.id).copied().or(existing.usage);
                if usage != existing.usage {
                    field_changes.push(FieldChange {
                        field: "usage".into(),
                        from: describe_usage(existing.usage),
                        to: describe_usage(usage),
                    });
                    record.usage = usage;
                }
                if !field_changes.is_empty() {
                    record.title = lab.title.clone();
                    record.description = lab.description.clone();
                    record.owner = lab.owner_username.clone();
                    record.node_count = lab.node_count;
                    record.link_count = lab.link_count;
                    events.push(DomainEvent::new(
                        subject.clone(),
                        EventPayload::LabUpdated {
                            worker_id,
                            cml_lab_id: lab.id.clone(),
                            changes: field_changes,
                        },
                        now,
                    ));
                }
                if existing.state != lab.state || existing.gone {
                    let operation = LabOperation {
                        at: now,
                        action: format!(
                            "state {} → {}",
                            if existing.gone {
                                "GONE"
                            } else {
                                existing.state.as_cml()
                            },
                            lab.state.as_cml()
                        ),
                        actor: Some("sync".into()),
                    };
                    record.record(operation.clone());
                    record.state = lab.state;
                    record.gone = false;
                    state_changes += 1;
                    events.push(DomainEvent::new(
                        subject,
                        EventPayload::LabStateChanged {
                            worker_id,
                            cml_lab_id: lab.id.clone(),
                            from: existing.state,
                            to: lab.state,
                            operation,
                        },
                        now,
                    ));
                }
                if !events.is_empty() {
                    record.last_synced_at = now;
                    changes = changes.put_lab(record).events(events);
                }
            }
        }
    }
    for (id, record) in stored {
        if record.gone || labs.iter().any(|l| &l.id == id) {
            continue;
        }
        let mut gone = record.clone();
        gone.gone = true;
        gone.record(LabOperation {
            at: now,
            action: "gone from CML".into(),
            actor: Some("sync".into()),
        });
        let event = DomainEvent::new(
            lab_subject(worker_id, id),
            EventPayload::LabGone {
                worker_id,
                cml_lab_id: id.clone(),
            },
            now,
        );
        changes = changes.put_lab(gone).events([event]);
    }
    (changes, state_changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::lablet_controller::lab_title;
    use crate::ids::LabletId;

    fn usage(cpus: u32, memory_mib: u64, disk_gib: u64, running_nodes: u32) -> Option<LabUsage> {
        Some(LabUsage {
            cpus,
            memory_mib,
            disk_gib,
            running_nodes,
        })
    }

    #[test]
    fn only_labs_no_lablet_owns_count_as_unmanaged() {
        let lablets = lab_title(LabletId::from_u128(7));
        let total = unmanaged_usage([
            (lablets.as_str(), usage(8, 8192, 40, 4)),
            ("by hand", usage(2, 3072, 10, 2)),
            ("stopped by hand", usage(0, 0, 5, 0)),
            ("never read", None),
            // A title that only looks like a lablet's is someone's lab.
            ("ccm-lablet-not-an-id", usage(1, 512, 1, 1)),
        ]);
        assert_eq!(total.labs, 4);
        assert_eq!(total.nodes, 3);
        assert_eq!(
            total.resources,
            Resources {
                cpu_millis: 3000,
                memory_mib: 3584,
                storage_gib: 16
            }
        );
        assert_eq!(unmanaged_usage([]), UnmanagedUsage::default());
    }

    #[test]
    fn usage_reads_as_text() {
        assert_eq!(describe_usage(None), "unknown");
        assert_eq!(
            describe_usage(usage(2, 1024, 3, 1)),
            "2 vCPU, 1024 MiB, 3 GiB, 1 running node(s)"
        );
    }
}
