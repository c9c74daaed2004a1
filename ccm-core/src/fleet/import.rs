//! Adopting instances that already exist: one by id, or every instance matching an
//! AMI id or name pattern (bulk import and the auto-import job).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::context::Context;
use super::controller::network_of;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{ImageId, InstanceId, Region, WorkerId};
use crate::ports::cloud::{DiscoveryFilter, Instance};
use crate::ports::store::{ChangeSet, WorkerFilter};
use crate::worker::aggregate::ImportedInstance;
use crate::worker::{AmiInfo, LifecycleState, Worker};

/// Input to [`Fleet::import_matching`](super::Fleet::import_matching): at least one of the image criteria.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMatching {
    /// Region to search.
    pub region: Region,
    /// Launched from this AMI.
    pub image_id: Option<ImageId>,
    /// Launched from an AMI whose name matches (`*` wildcards).
    pub image_name_pattern: Option<String>,
    /// Carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Who asked.
    pub by: Option<String>,
}

/// One instance not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSkip {
    /// The instance.
    pub instance_id: InstanceId,
    /// Why it was skipped.
    pub reason: String,
}

/// What a bulk import did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Instances that matched.
    pub found: usize,
    /// Workers created.
    pub imported: Vec<Worker>,
    /// Instances skipped, with reasons.
    pub skipped: Vec<ImportSkip>,
}

/// Adopting existing instances as workers.
#[derive(Clone)]
pub(crate) struct Imports {
    ctx: Arc<Context>,
}

impl Imports {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    async fn known_instances(&self) -> Result<BTreeMap<InstanceId, WorkerId>, CoreError> {
        let workers = self
            .ctx
            .store
            .list_workers(&WorkerFilter {
                include_terminated: true,
                ..WorkerFilter::default()
            })
            .await?;
        Ok(workers
            .into_iter()
            .filter_map(|w| w.instance_id.map(|i| (i, w.id)))
            .collect())
    }

    async fn ami_details(&self, region: &Region, ids: &[ImageId]) -> BTreeMap<ImageId, AmiInfo> {
        let unique: Vec<ImageId> = ids
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match self.ctx.cloud.describe_images(region, &unique).await {
            Ok(images) => images
                .into_iter()
                .map(|i| {
                    (
                        i.id.clone(),
                        AmiInfo {
                            id: i.id,
                            name: i.name,
                            description: i.description,
                            created_at: i.created_at,
                        },
                    )
                })
                .collect(),
            Err(error) => {
                // AMI details are decoration; an import must not fail for them.
                tracing::warn!(%error, "could not describe AMIs during import");
                BTreeMap::new()
            }
        }
    }

    fn worker_from_instance(
        &self,
        instance: &Instance,
        ami: Option<AmiInfo>,
        name: Option<String>,
        by: Option<String>,
    ) -> (Worker, crate::event::DomainEvent) {
        let name = name
            .or_else(|| instance.tags.get("Name").cloned())
            .unwrap_or_else(|| instance.instance_id.to_string());
        let mut input = self.ctx.settings.new_worker(
            name,
            instance.region.clone(),
            instance.instance_type.clone(),
        );
        input.tags = instance.tags.clone();
        input.created_by = by;
        let network = network_of(instance);
        let (mut worker, event) = Worker::import(
            WorkerId(self.ctx.new_uuid()),
            input,
            ImportedInstance {
                instance_id: instance.instance_id.clone(),
                ami: Some(ami.unwrap_or(AmiInfo {
                    id: instance.image_id.clone(),
                    name: None,
                    description: None,
                    created_at: None,
                })),
                network,
                ec2_state: instance.state,
                launched_at: instance.launched_at,
            },
            self.ctx.now(),
        );
        worker.status.detailed_monitoring = instance.detailed_monitoring;
        (worker, event)
    }

    /// Imports one instance by id. Refuses an instance that is already a worker.
    pub(crate) async fn import_instance(
        &self,
        region: Region,
        instance_id: InstanceId,
        name: Option<String>,
        by: Option<String>,
    ) -> Result<Worker, CoreError> {
        if let Some(name) = &name {
            crate::worker::limits::check_worker_name(name)?;
        }
        if let Some(existing) = self.known_instances().await?.get(&instance_id) {
            return Err(DomainError::AlreadyExists {
                kind: "instance",
                id: instance_id.to_string(),
                existing: format!("imported as worker {existing}"),
            }
            .into());
        }
        let instance = self
            .ctx
            .cloud
            .describe(&region, std::slice::from_ref(&instance_id))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DomainError::NotFound {
                kind: "instance",
                id: instance_id.to_string(),
            })?;
        let mut amis = self
            .ami_details(&region, std::slice::from_ref(&instance.image_id))
            .await;
        let (mut worker, event) =
            self.worker_from_instance(&instance, amis.remove(&instance.image_id), name, by);
        let receipt = self
            .ctx
            .commit(ChangeSet::new().put_worker(worker.clone()).events([event]))
            .await?;
        worker.meta.version = receipt.versions.first().copied().unwrap_or(1);
        self.ctx.nudge_worker(worker.id);
        Ok(worker)
    }

    /// Imports every instance matching the criteria that is not a worker yet,
    /// reporting what was imported and what was skipped with reasons.
    pub(crate) async fn import_matching(
        &self,
        input: ImportMatching,
    ) -> Result<ImportReport, CoreError> {
        if input.image_id.is_none() && input.image_name_pattern.is_none() {
            return Err(CoreError::validation(
                "image",
                "give an AMI id or an AMI name pattern",
            ));
        }
        let filter = DiscoveryFilter {
            image_ids: input.image_id.iter().cloned().collect(),
            image_name_pattern: input.image_name_pattern.clone(),
            tags: input.tags.clone(),
            include_terminated: true,
        };
        let instances = self.ctx.cloud.discover(&input.region, &filter).await?;
        let known = self.known_instances().await?;
        let images: Vec<ImageId> = instances.iter().map(|i| i.image_id.clone()).collect();
        let amis = self.ami_details(&input.region, &images).await;
        let mut report = ImportReport {
            found: instances.len(),
            ..ImportReport::default()
        };
        let mut changes = ChangeSet::new();
        for instance in &instances {
            let lifecycle = LifecycleState::from_instance(instance.state);
            let skip = if let Some(worker) = known.get(&instance.instance_id) {
                Some(format!("already imported as worker {worker}"))
            } else if matches!(
                lifecycle,
                LifecycleState::Terminated | LifecycleState::ShuttingDown
            ) {
                Some(format!("instance is {}", instance.state))
            } else {
                None
            };
            if let Some(reason) = skip {
                report.skipped.push(ImportSkip {
                    instance_id: instance.instance_id.clone(),
                    reason,
                });
                continue;
            }
            let (worker, event) = self.worker_from_instance(
                instance,
                amis.get(&instance.image_id).cloned(),
                None,
                input.by.clone(),
            );
            changes = changes.put_worker(worker.clone()).events([event]);
            report.imported.push(worker);
        }
        if !changes.is_empty() {
            let receipt = self.ctx.commit(changes).await?;
            for (worker, version) in report.imported.iter_mut().zip(receipt.versions) {
                worker.meta.version = version;
            }
        }
        for worker in &report.imported {
            self.ctx.nudge_worker(worker.id);
        }
        Ok(report)
    }
}
