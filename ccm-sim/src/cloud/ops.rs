//! EC2 operations on the world: each checks its gate (counting, faults, throttling),
//! then applies atomically — a call that fails changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use ccm_core::ids::{InstanceId, Region};
use ccm_core::ports::cloud::{
    CloudError, DiscoveryFilter, Image, ImageSelector, Instance, InstanceStatusCheck,
    LaunchRequest, StateChange, CML_ENDPOINT_TAG, WORKER_ID_TAG,
};
use ccm_core::time::{plus_seconds, Timestamp};

use super::instances::{unknown_instance, InstanceRecord, Phase};
use super::region::RegionState;
use crate::calls::{pages, DESCRIBE_PAGE, MUTATION_PAGE};
use crate::cml::server::CmlServer;
use crate::cml::sim_endpoint_url;
use crate::world::World;

/// Which state change a call asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateOp {
    Start,
    Stop,
    Terminate,
}

impl StateOp {
    fn operation(self) -> &'static str {
        match self {
            StateOp::Start => "StartInstances",
            StateOp::Stop => "StopInstances",
            StateOp::Terminate => "TerminateInstances",
        }
    }
}

fn unknown_region(operation: &str, region: &Region) -> CloudError {
    CloudError::InvalidRequest {
        operation: operation.to_owned(),
        code: "InvalidRegion".into(),
        message: format!("region `{region}` is not part of the simulation"),
    }
}

fn capacity_error(region: &Region, instance_type: &str) -> CloudError {
    CloudError::InsufficientCapacity {
        region: region.to_string(),
        instance_type: instance_type.to_owned(),
        message: format!(
            "We currently do not have sufficient {instance_type} capacity in the region you requested."
        ),
    }
}

/// Ids without repeats, in first-seen order.
pub(crate) fn unique(ids: &[InstanceId]) -> Vec<&InstanceId> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| seen.insert(*id)).collect()
}

impl World {
    /// Counts `calls` calls to `operation`, then applies fault switches, the region
    /// check, the region's token bucket and the error rate — in that order.
    pub(crate) fn cloud_gate(
        &mut self,
        operation: &str,
        region: &Region,
        calls: u64,
        now: Timestamp,
    ) -> Result<(), CloudError> {
        self.cloud_calls.add(operation, calls);
        let throttled = || CloudError::Throttled {
            operation: operation.to_owned(),
            message: "Rate exceeded".into(),
        };
        if self.faults.throttles(operation) {
            return Err(throttled());
        }
        let state = self
            .regions
            .get_mut(region)
            .ok_or_else(|| unknown_region(operation, region))?;
        if let Some(bucket) = state.bucket.as_mut() {
            if !bucket.try_take(calls, now) {
                return Err(throttled());
            }
        }
        if self.rng.roll(self.faults.cloud_rate(operation)) {
            return Err(CloudError::Unavailable {
                operation: operation.to_owned(),
                message: "simulated fault: service unavailable".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn region(
        &self,
        operation: &str,
        region: &Region,
    ) -> Result<&RegionState, CloudError> {
        self.regions
            .get(region)
            .ok_or_else(|| unknown_region(operation, region))
    }

    fn region_mut(
        &mut self,
        operation: &str,
        region: &Region,
    ) -> Result<&mut RegionState, CloudError> {
        self.regions
            .get_mut(region)
            .ok_or_else(|| unknown_region(operation, region))
    }

    /// `RunInstances`, preceded by the lookup a real adapter makes for idempotency.
    pub(crate) fn launch(
        &mut self,
        request: &LaunchRequest,
        now: Timestamp,
    ) -> Result<Instance, CloudError> {
        let region = &request.region;
        let token = request.client_token();
        let worker = request.worker_id.to_string();
        self.cloud_gate("DescribeInstances", region, 1, now)?;
        if let Some(existing) = self
            .region("DescribeInstances", region)?
            .live_instance_for(&token, &worker, now)
        {
            return Ok(existing.describe(now));
        }
        if let ImageSelector::NamePattern(_) = request.image {
            self.cloud_gate("DescribeImages", region, 1, now)?;
        }
        self.cloud_gate("RunInstances", region, 1, now)?;
        let state = self.region("RunInstances", region)?;
        let image = state.images.resolve(&request.image)?;
        if self.faults.capacity_errors || state.over_cap(1, now) {
            return Err(capacity_error(region, &request.instance_type));
        }

        let id = loop {
            let id = InstanceId::new(format!("i-{}", self.rng.hex(17)));
            if !self.instance_regions.contains_key(&id) {
                break id;
            }
        };
        let mut tags = request.tags.clone();
        tags.insert("Name".into(), request.name.clone());
        tags.insert(WORKER_ID_TAG.into(), worker);
        if self.config.tag_cml_endpoint {
            tags.insert(CML_ENDPOINT_TAG.into(), sim_endpoint_url(&id));
        }
        let boot = self.config.boot_seconds(&request.instance_type)
            + self.rng.up_to(self.config.delays.boot_jitter_seconds);
        let record = InstanceRecord {
            id: id.clone(),
            region: region.clone(),
            instance_type: request.instance_type.clone(),
            image_id: image.id,
            launched_at: now,
            seq: self.next_instance_seq,
            tags,
            detailed_monitoring: request.detailed_monitoring,
            phase: Phase::Pending {
                ready_at: plus_seconds(now, boot),
            },
            previous_run: None,
            impaired: false,
        };
        self.next_instance_seq += 1;
        let host = self.config.instance_type(&request.instance_type);
        let server = CmlServer::new(id.clone(), host, &self.config.cml, now);
        self.servers.insert(id.clone(), server);
        self.instance_regions.insert(id.clone(), region.clone());
        let described = record.describe(now);
        let state = self.region_mut("RunInstances", region)?;
        state.client_tokens.insert(token, id.clone());
        state.instances.insert(id, record);
        Ok(described)
    }

    /// `StartInstances` / `StopInstances` / `TerminateInstances`.
    pub(crate) fn change_state(
        &mut self,
        op: StateOp,
        region: &Region,
        ids: &[InstanceId],
        now: Timestamp,
    ) -> Result<Vec<StateChange>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let operation = op.operation();
        self.cloud_gate(operation, region, pages(ids.len(), MUTATION_PAGE), now)?;
        self.apply_state_op(op, region, ids, now)
    }

    /// The state change itself, without counting, throttling or error faults (used
    /// by [`World::change_state`] and by hooks acting "in the console").
    pub(crate) fn apply_state_op(
        &mut self,
        op: StateOp,
        region: &Region,
        ids: &[InstanceId],
        now: Timestamp,
    ) -> Result<Vec<StateChange>, CloudError> {
        let operation = op.operation();
        let ids = unique(ids);
        let state = self.region(operation, region)?;
        let mut starting = 0u32;
        let mut first_type = None;
        for id in &ids {
            let record = state
                .instances
                .get(*id)
                .ok_or_else(|| unknown_instance(operation, id))?;
            match op {
                StateOp::Start => {
                    if record.check_start(now)? {
                        starting += 1;
                        first_type.get_or_insert_with(|| record.instance_type.clone());
                    }
                }
                StateOp::Stop => {
                    record.check_stop(now)?;
                }
                StateOp::Terminate => {}
            }
        }
        if starting > 0 && (self.faults.capacity_errors || state.over_cap(starting, now)) {
            return Err(capacity_error(region, &first_type.unwrap_or_default()));
        }

        let delays = self.config.delays;
        let mut boots = BTreeMap::new();
        for id in &ids {
            if let Some(record) = state.instances.get(*id) {
                boots.insert(
                    (*id).clone(),
                    self.config.boot_seconds(&record.instance_type),
                );
            }
        }
        for boot in boots.values_mut() {
            *boot += self.rng.up_to(delays.boot_jitter_seconds);
        }
        let state = self.region_mut(operation, region)?;
        let mut changes = Vec::with_capacity(ids.len());
        let mut stopped_hosts = Vec::new();
        for id in ids {
            let Some(record) = state.instances.get_mut(id) else {
                continue;
            };
            let previous = record.phase_at(now).state();
            match op {
                StateOp::Start => record.start(now, boots.get(id).copied().unwrap_or(0)),
                StateOp::Stop => {
                    record.stop(now, delays.stop_seconds);
                    stopped_hosts.push(id.clone());
                }
                StateOp::Terminate => {
                    if record.terminate(now, delays.terminate_seconds) {
                        stopped_hosts.push(id.clone());
                    }
                }
            }
            changes.push(StateChange {
                instance_id: id.clone(),
                previous,
                current: record.phase_at(now).state(),
            });
        }
        for id in stopped_hosts {
            if let Some(server) = self.servers.get_mut(&id) {
                server.host_stopped(now);
            }
            if op == StateOp::Terminate {
                let gone = plus_seconds(
                    now,
                    delays.terminate_seconds + delays.terminated_retention_seconds,
                );
                self.purge_queue.insert((gone, id));
            }
        }
        Ok(changes)
    }

    /// `DescribeInstances` by id; unknown ids are left out.
    pub(crate) fn describe(
        &mut self,
        region: &Region,
        ids: &[InstanceId],
        now: Timestamp,
    ) -> Result<Vec<Instance>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.cloud_gate(
            "DescribeInstances",
            region,
            pages(ids.len(), DESCRIBE_PAGE),
            now,
        )?;
        let state = self.region("DescribeInstances", region)?;
        Ok(unique(ids)
            .into_iter()
            .filter_map(|id| state.instances.get(id))
            .map(|r| r.describe(now))
            .collect())
    }

    /// `DescribeInstanceStatus`: running instances only.
    pub(crate) fn status_checks(
        &mut self,
        region: &Region,
        ids: &[InstanceId],
        now: Timestamp,
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let calls = pages(ids.len(), crate::calls::STATUS_PAGE);
        self.cloud_gate("DescribeInstanceStatus", region, calls, now)?;
        let init = self.config.delays.status_init_seconds;
        let state = self.region("DescribeInstanceStatus", region)?;
        Ok(unique(ids)
            .into_iter()
            .filter_map(|id| state.instances.get(id))
            .filter_map(|r| r.status(now, init))
            .collect())
    }

    /// `DescribeImages` by name pattern, newest first.
    pub(crate) fn find_images(
        &mut self,
        region: &Region,
        pattern: &str,
        now: Timestamp,
    ) -> Result<Vec<Image>, CloudError> {
        self.cloud_gate("DescribeImages", region, 1, now)?;
        Ok(self.region("DescribeImages", region)?.images.find(pattern))
    }

    /// `DescribeImages` by id; unknown ids are left out.
    pub(crate) fn describe_images(
        &mut self,
        region: &Region,
        ids: &[ccm_core::ids::ImageId],
        now: Timestamp,
    ) -> Result<Vec<Image>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.cloud_gate(
            "DescribeImages",
            region,
            pages(ids.len(), DESCRIBE_PAGE),
            now,
        )?;
        let state = self.region("DescribeImages", region)?;
        let mut seen = BTreeSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| state.images.get(id).cloned())
            .collect())
    }

    /// `DescribeInstances` with filters (plus `DescribeImages` for a name pattern).
    pub(crate) fn discover(
        &mut self,
        region: &Region,
        filter: &DiscoveryFilter,
        now: Timestamp,
    ) -> Result<Vec<Instance>, CloudError> {
        let by_name: Option<BTreeSet<_>> = match &filter.image_name_pattern {
            Some(pattern) => Some(
                self.find_images(region, pattern, now)?
                    .into_iter()
                    .map(|i| i.id)
                    .collect(),
            ),
            None => None,
        };
        let state = self.region("DescribeInstances", region)?;
        let found: Vec<Instance> = state
            .instances
            .values()
            .filter(|r| filter.image_ids.is_empty() || filter.image_ids.contains(&r.image_id))
            .filter(|r| by_name.as_ref().is_none_or(|ids| ids.contains(&r.image_id)))
            .filter(|r| filter.tags.iter().all(|(k, v)| r.tags.get(k) == Some(v)))
            .filter(|r| {
                filter.include_terminated
                    || !matches!(
                        r.phase_at(now),
                        Phase::ShuttingDown { .. } | Phase::Terminated { .. }
                    )
            })
            .map(|r| r.describe(now))
            .collect();
        self.cloud_gate(
            "DescribeInstances",
            region,
            pages(found.len(), DESCRIBE_PAGE),
            now,
        )?;
        Ok(found)
    }

    /// `CreateTags` / `DeleteTags` / `MonitorInstances`: validates every id, then
    /// applies `apply` to each record.
    pub(crate) fn modify(
        &mut self,
        operation: &str,
        region: &Region,
        ids: &[InstanceId],
        now: Timestamp,
        apply: impl Fn(&mut InstanceRecord),
    ) -> Result<(), CloudError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.cloud_gate(operation, region, pages(ids.len(), MUTATION_PAGE), now)?;
        let state = self.region_mut(operation, region)?;
        let ids = unique(ids);
        if let Some(missing) = ids.iter().find(|id| !state.instances.contains_key(**id)) {
            return Err(unknown_instance(operation, missing));
        }
        for id in ids {
            if let Some(record) = state.instances.get_mut(id) {
                apply(record);
            }
        }
        Ok(())
    }
}
