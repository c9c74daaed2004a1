//! One simulated region: its AMIs, instances, idempotency tokens and request budget.

use std::collections::BTreeMap;

use ccm_core::ids::InstanceId;
use ccm_core::ports::cloud::WORKER_ID_TAG;
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::images::ImageCatalog;
use super::instances::InstanceRecord;
use super::throttle::TokenBucket;
use crate::config::RegionConfig;

/// State of one region.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RegionState {
    pub(crate) config: RegionConfig,
    pub(crate) images: ImageCatalog,
    pub(crate) instances: BTreeMap<InstanceId, InstanceRecord>,
    /// `ClientToken` → the instance its launch made.
    pub(crate) client_tokens: BTreeMap<String, InstanceId>,
    pub(crate) bucket: Option<TokenBucket>,
}

impl RegionState {
    /// An empty region.
    pub(crate) fn new(config: RegionConfig, bucket: Option<TokenBucket>) -> Self {
        Self {
            config,
            images: ImageCatalog::default(),
            instances: BTreeMap::new(),
            client_tokens: BTreeMap::new(),
            bucket,
        }
    }

    /// Instances holding capacity (pending, running, stopping) at `now`.
    pub(crate) fn active_count(&self, now: Timestamp) -> u32 {
        let n = self
            .instances
            .values()
            .filter(|i| i.phase_at(now).is_active())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// True when `extra` more active instances would exceed the cap.
    pub(crate) fn over_cap(&self, extra: u32, now: Timestamp) -> bool {
        self.config
            .instance_cap
            .is_some_and(|cap| self.active_count(now).saturating_add(extra) > cap)
    }

    /// The live (not terminated) instance launched for `client_token` or tagged with
    /// `worker_id`, if any.
    pub(crate) fn live_instance_for(
        &self,
        client_token: &str,
        worker_id: &str,
        now: Timestamp,
    ) -> Option<&InstanceRecord> {
        let live = |r: &&InstanceRecord| !r.phase_at(now).is_terminated();
        self.client_tokens
            .get(client_token)
            .and_then(|id| self.instances.get(id))
            .filter(live)
            .or_else(|| {
                self.instances
                    .values()
                    .filter(live)
                    .find(|r| r.tags.get(WORKER_ID_TAG).is_some_and(|w| w == worker_id))
            })
    }
}
