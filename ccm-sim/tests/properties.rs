//! Random operation sequences on the simulated cloud and CML never break the
//! simulator's invariants, and the same seed with the same operations gives the
//! same answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::cloud::{
    CloudProvider, ImageSelector, LaunchRequest, MetricName, MetricsQuery, WORKER_ID_TAG,
};
use ccm_core::ports::cml::{CmlClient, CmlError};
use ccm_core::secret::Secret;
use ccm_core::testing::cml::topology_yaml;
use ccm_core::time::plus_seconds;
use ccm_sim::{Faults, SimConfig, Simulation};
use proptest::prelude::*;

const CAP: u32 = 3;
const WORKERS: u8 = 10;

#[derive(Clone, Debug)]
enum Op {
    Launch { worker: u8 },
    Start { pick: u8 },
    Stop { pick: u8 },
    Terminate { pick: u8 },
    Advance { seconds: u16 },
    Sweep,
    Import { pick: u8, nodes: u8 },
    StartLab { pick: u8, lab: u8 },
    StopLab { pick: u8, lab: u8 },
    WipeLab { pick: u8, lab: u8 },
    DeleteLab { pick: u8, lab: u8 },
    Teardown { pick: u8, lab: u8 },
    Register { pick: u8, valid: bool },
    Deregister { pick: u8 },
    Activity { pick: u8 },
    Faults { on: bool },
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<u8>();
    prop_oneof![
        3 => (0..WORKERS).prop_map(|worker| Op::Launch { worker }),
        1 => pick.prop_map(|pick| Op::Start { pick }),
        1 => pick.prop_map(|pick| Op::Stop { pick }),
        1 => pick.prop_map(|pick| Op::Terminate { pick }),
        3 => (0u16..900).prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Sweep),
        3 => (pick, 0u8..8).prop_map(|(pick, nodes)| Op::Import { pick, nodes }),
        4 => (pick, any::<u8>()).prop_map(|(pick, lab)| Op::StartLab { pick, lab }),
        1 => (pick, any::<u8>()).prop_map(|(pick, lab)| Op::StopLab { pick, lab }),
        1 => (pick, any::<u8>()).prop_map(|(pick, lab)| Op::WipeLab { pick, lab }),
        1 => (pick, any::<u8>()).prop_map(|(pick, lab)| Op::DeleteLab { pick, lab }),
        1 => (pick, any::<u8>()).prop_map(|(pick, lab)| Op::Teardown { pick, lab }),
        1 => (pick, any::<bool>()).prop_map(|(pick, valid)| Op::Register { pick, valid }),
        1 => pick.prop_map(|pick| Op::Deregister { pick }),
        1 => pick.prop_map(|pick| Op::Activity { pick }),
        1 => any::<bool>().prop_map(|on| Op::Faults { on }),
    ]
}

fn regions() -> [Region; 2] {
    [Region::new("us-east-1"), Region::new("us-west-2")]
}

/// Worker `w` always lives in the same region, so one worker ↔ one region.
fn region_of(worker: u8) -> Region {
    regions()[usize::from(worker) % 2].clone()
}

fn request(worker: u8) -> LaunchRequest {
    LaunchRequest {
        worker_id: WorkerId::from_u128(u128::from(worker)),
        region: region_of(worker),
        name: format!("w{worker}"),
        image: ImageSelector::NamePattern("cml-2.9*".into()),
        instance_type: "m5zn.metal".into(),
        subnet_id: None,
        security_group_ids: vec![],
        key_name: None,
        iam_instance_profile: None,
        tags: BTreeMap::new(),
        detailed_monitoring: false,
    }
}

/// The simulation under test plus what the test has learned so far.
struct Run {
    sim: Simulation,
    /// Instances launched, in launch order, with their region.
    instances: Vec<(Region, InstanceId)>,
    /// Instances seen terminated.
    terminated: BTreeSet<InstanceId>,
    /// Instances whose licence was ever asked to register.
    ever_registered: BTreeSet<InstanceId>,
    transcript: Vec<String>,
}

impl Run {
    fn new(seed: u64) -> Self {
        // Short delays so random sequences reach booted servers and converged labs.
        let mut config = SimConfig::default().with_region_cap(CAP);
        config.regions.truncate(2);
        config.delays.boot_metal_seconds = 300;
        config.delays.stop_seconds = 60;
        config.delays.terminate_seconds = 30;
        config.delays.terminated_retention_seconds = 900;
        config.cml.boot_seconds = 60;
        config.cml.node_boot_seconds = 30;
        config.cml.registration_seconds = 30;
        Self {
            sim: Simulation::with_config(seed, config),
            instances: Vec::new(),
            terminated: BTreeSet::new(),
            ever_registered: BTreeSet::new(),
            transcript: Vec::new(),
        }
    }

    fn pick(&self, pick: u8) -> Option<(Region, InstanceId)> {
        if self.instances.is_empty() {
            return None;
        }
        Some(self.instances[usize::from(pick) % self.instances.len()].clone())
    }

    fn lab_of(
        &self,
        instance: &InstanceId,
        lab: u8,
    ) -> Option<(ccm_core::ids::CmlLabId, LabState)> {
        let labs = self.sim.labs(instance).ok()?;
        if labs.is_empty() {
            return None;
        }
        let chosen = &labs[usize::from(lab) % labs.len()];
        Some((chosen.id.clone(), chosen.state))
    }

    fn lab_state(&self, instance: &InstanceId, lab: &ccm_core::ids::CmlLabId) -> Option<LabState> {
        self.sim
            .labs(instance)
            .ok()?
            .into_iter()
            .find(|l| &l.id == lab)
            .map(|l| l.state)
    }

    fn log(&mut self, entry: String) {
        self.transcript.push(entry);
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let cloud = self.sim.cloud();
        let cml = self.sim.cml();
        match *op {
            Op::Launch { worker } => {
                let result = cloud.launch(&request(worker)).await;
                if let Ok(instance) = &result {
                    let entry = (instance.region.clone(), instance.instance_id.clone());
                    if !self.instances.contains(&entry) {
                        self.instances.push(entry);
                    }
                }
                self.log(format!("launch {worker}: {result:?}"));
            }
            Op::Start { pick } | Op::Stop { pick } | Op::Terminate { pick } => {
                let Some((region, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let ids = [id];
                let result = match op {
                    Op::Start { .. } => cloud.start(&region, &ids).await,
                    Op::Stop { .. } => cloud.stop(&region, &ids).await,
                    _ => cloud.terminate(&region, &ids).await,
                };
                self.log(format!("{op:?}: {result:?}"));
            }
            Op::Advance { seconds } => {
                self.sim.advance_seconds(i64::from(seconds)).unwrap();
                self.log(format!("advance {seconds}"));
            }
            Op::Sweep => {
                for region in regions() {
                    let ids: Vec<InstanceId> = self
                        .instances
                        .iter()
                        .filter(|(r, _)| *r == region)
                        .map(|(_, id)| id.clone())
                        .collect();
                    let described = cloud.describe(&region, &ids).await;
                    let status = cloud.status_checks(&region, &ids).await;
                    let now = self.sim.now();
                    let query = MetricsQuery {
                        instance_ids: ids.clone(),
                        metrics: MetricName::ALL.to_vec(),
                        start: plus_seconds(now, -900),
                        end: now,
                        period_seconds: 300,
                    };
                    let metrics = cloud.metrics(&region, &query).await;
                    self.log(format!(
                        "sweep {region}: {described:?} {status:?} {metrics:?}"
                    ));
                }
                for (_, id) in self.instances.clone() {
                    let ep = self.sim.cml_endpoint(WorkerId::from_u128(0), &id);
                    let stats = cml.system_stats(&ep).await;
                    let events = cml.telemetry_events(&ep, None).await;
                    if let Ok(events) = &events {
                        prop_assert!(
                            events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
                            "telemetry out of order on {id}"
                        );
                    }
                    self.log(format!("cml {id}: {stats:?} {events:?}"));
                }
            }
            Op::Import { pick, nodes } => {
                let Some((_, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let ep = self.sim.cml_endpoint(WorkerId::from_u128(0), &id);
                // A purged instance (terminated long ago) has no labs and takes no import.
                let before = self.sim.labs(&id).map_or(0, |l| l.len());
                let result = cml
                    .import_lab(&ep, &topology_yaml("p", u32::from(nodes)), None)
                    .await;
                let after = self.sim.labs(&id).map_or(0, |l| l.len());
                prop_assert_eq!(after, before + usize::from(result.is_ok()));
                self.log(format!("import on {id}: {result:?}"));
            }
            Op::StartLab { pick, lab }
            | Op::StopLab { pick, lab }
            | Op::WipeLab { pick, lab }
            | Op::DeleteLab { pick, lab }
            | Op::Teardown { pick, lab } => {
                let Some((_, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let Some((lab, before)) = self.lab_of(&id, lab) else {
                    return Ok(());
                };
                let ep = self.sim.cml_endpoint(WorkerId::from_u128(0), &id);
                let result = match op {
                    Op::StartLab { .. } => cml.start_lab(&ep, &lab).await,
                    Op::StopLab { .. } => cml.stop_lab(&ep, &lab).await,
                    Op::WipeLab { .. } => cml.wipe_lab(&ep, &lab).await,
                    Op::DeleteLab { .. } => cml.delete_lab(&ep, &lab).await,
                    _ => cml.teardown_lab(&ep, &lab).await,
                };
                let after = self.lab_state(&id, &lab);
                check_lab_rule(op, before, after, &result)?;
                self.log(format!("{op:?} {lab}: {result:?} {before:?} → {after:?}"));
            }
            Op::Register { pick, valid } => {
                let Some((_, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let ep = self.sim.cml_endpoint(WorkerId::from_u128(0), &id);
                let token = Secret::new(if valid { "good" } else { "invalid" });
                let result = cml.register_licence(&ep, &token, true).await;
                if result.is_ok() {
                    self.ever_registered.insert(id.clone());
                }
                self.log(format!("register {id}: {result:?}"));
            }
            Op::Deregister { pick } => {
                let Some((_, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let ep = self.sim.cml_endpoint(WorkerId::from_u128(0), &id);
                let result = cml.deregister_licence(&ep).await;
                self.log(format!("deregister {id}: {result:?}"));
            }
            Op::Activity { pick } => {
                let Some((_, id)) = self.pick(pick) else {
                    return Ok(());
                };
                let result = self.sim.record_user_activity(&id, "student");
                self.log(format!("activity {id}: {result:?}"));
            }
            Op::Faults { on } => {
                let rate = if on { 0.3 } else { 0.0 };
                self.sim
                    .set_faults(Faults {
                        cloud_error_rate: rate,
                        cml_error_rate: rate,
                        ..Faults::default()
                    })
                    .unwrap();
                self.log(format!("faults {on}"));
            }
        }
        Ok(())
    }

    /// Invariants over the whole world after every operation.
    fn check_invariants(&mut self) -> Result<(), TestCaseError> {
        let mut live_by_worker: BTreeMap<String, usize> = BTreeMap::new();
        for region in regions() {
            let instances = self.sim.instances(&region).unwrap();
            let active = instances
                .iter()
                .filter(|i| matches!(i.state.as_str(), "pending" | "running" | "stopping"))
                .count();
            prop_assert!(
                active <= CAP as usize,
                "{active} active instances in {region}"
            );
            prop_assert_eq!(active as u32, self.sim.active_instances(&region).unwrap());
            for instance in &instances {
                if self.terminated.contains(&instance.instance_id) {
                    prop_assert_eq!(
                        instance.state.as_str(),
                        "terminated",
                        "{} left terminated",
                        instance.instance_id
                    );
                }
                if instance.state == ccm_core::ports::cloud::InstanceState::Terminated {
                    self.terminated.insert(instance.instance_id.clone());
                } else if let Some(worker) = instance.tags.get(WORKER_ID_TAG) {
                    *live_by_worker.entry(worker.clone()).or_default() += 1;
                }
            }
        }
        for (worker, live) in live_by_worker {
            prop_assert!(live <= 1, "worker {worker} has {live} live instances");
        }
        for (_, id) in &self.instances {
            let Ok(labs) = self.sim.labs(id) else {
                continue;
            };
            let running: u32 = labs
                .iter()
                .filter(|l| l.state == LabState::Started)
                .map(|l| l.node_count)
                .sum();
            let limit = if self.ever_registered.contains(id) {
                20
            } else {
                5
            };
            prop_assert!(
                running <= limit,
                "{running} nodes running on {id} (limit {limit})"
            );
        }
        Ok(())
    }
}

/// CML's lab rules, checked on the states before and after one operation.
fn check_lab_rule(
    op: &Op,
    before: LabState,
    after: Option<LabState>,
    result: &Result<(), CmlError>,
) -> Result<(), TestCaseError> {
    use LabState::*;
    if result.is_err() && !matches!(op, Op::Teardown { .. }) {
        prop_assert_eq!(after, Some(before), "a failed {:?} changed the lab", op);
        if let (Op::WipeLab { .. } | Op::DeleteLab { .. }, Err(CmlError::Rejected { .. })) =
            (op, result)
        {
            prop_assert_ne!(before, DefinedOnCore, "refused although wiped");
        }
        return Ok(());
    }
    if result.is_err() {
        return Ok(());
    }
    let expected = match (op, before) {
        (Op::StartLab { .. }, _) => Some(Started),
        (Op::StopLab { .. }, Started) => Some(Stopped),
        (Op::StopLab { .. }, other) => Some(other),
        (Op::WipeLab { .. }, Started) => {
            prop_assert!(false, "a started lab was wiped");
            None
        }
        (Op::WipeLab { .. }, _) => Some(DefinedOnCore),
        (Op::DeleteLab { .. }, DefinedOnCore) => None,
        (Op::DeleteLab { .. }, other) => {
            prop_assert!(false, "a {other:?} lab was deleted");
            None
        }
        _ => None, // teardown removes the lab from any state
    };
    prop_assert_eq!(after, expected, "{:?} from {:?}", op, before);
    Ok(())
}

fn run(seed: u64, ops: &[Op]) -> Result<Vec<String>, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut run = Run::new(seed);
        for op in ops {
            run.apply(op).await?;
            run.check_invariants()?;
        }
        Ok(run.transcript)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operations_keep_the_invariants(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..120)) {
        run(seed, &ops)?;
    }

    #[test]
    fn same_seed_same_operations_same_answers(seed in any::<u64>(), ops in prop::collection::vec(op(), 1..50)) {
        let first = run(seed, &ops)?;
        let second = run(seed, &ops)?;
        prop_assert_eq!(first, second);
    }
}

#[test]
fn different_seeds_name_things_differently() {
    let ops = [Op::Launch { worker: 1 }];
    assert_ne!(run(1, &ops).unwrap(), run(2, &ops).unwrap());
}
