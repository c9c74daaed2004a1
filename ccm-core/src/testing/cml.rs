//! Conformance suite for [`CmlClient`] adapters.
//!
//! An adapter's test implements [`CmlHarness`] (the client, an endpoint whose CML is
//! available and unlicensed, and a way to let asynchronous work finish) and runs
//! [`run_all`]; see [`crate::testing::cloud`] for the report types. Every check
//! removes the labs it created and deregisters a licence it registered, so one server
//! may serve every check; checks never assume a server without other labs.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::cloud::{ensure, CheckResult, SuiteReport};
use crate::ids::{CmlLabId, WorkerId};
use crate::lab::LabState;
use crate::ports::cml::{CmlClient, CmlEndpoint, CmlError};
use crate::secret::Secret;
use crate::version::SemVer;
use crate::worker::LicenceStatus;

/// What an adapter's test provides to run the suite.
#[async_trait]
pub trait CmlHarness: Send + Sync {
    /// The client under test.
    fn client(&self) -> &dyn CmlClient;

    /// An endpoint whose CML is available (booted, `ready`) and unlicensed. It may be
    /// a fresh server on each call or the same one.
    async fn endpoint(&self) -> CmlEndpoint;

    /// Lets asynchronous work finish: node convergence, licence registration.
    async fn settle(&self);

    /// A licence token the server accepts.
    fn licence_token(&self) -> Secret {
        Secret::new("conformance-valid-token")
    }

    /// A licence token the server refuses (now or when registration completes).
    fn invalid_licence_token(&self) -> Secret {
        Secret::new("invalid")
    }

    /// Nodes an unlicensed server runs.
    fn unlicensed_node_limit(&self) -> u32 {
        LicenceStatus::UNLICENSED_NODE_LIMIT
    }

    /// Makes the server record a `user_activity` telemetry event; `false` when the
    /// harness cannot (the telemetry check then skips that part).
    async fn inject_user_activity(&self, _endpoint: &CmlEndpoint) -> bool {
        false
    }

    /// An endpoint where nothing answers, if the harness can make one.
    async fn unreachable_endpoint(&self) -> Option<CmlEndpoint> {
        None
    }
}

/// A CML topology with `nodes` Alpine nodes chained by links; `nodes` may be 0.
pub fn topology_yaml(title: &str, nodes: u32) -> String {
    let mut yaml = format!(
        "lab:\n  description: ccm conformance\n  notes: ''\n  title: {title}\n  version: 0.2.2\n"
    );
    if nodes < 2 {
        yaml.push_str("links: []\n");
    } else {
        yaml.push_str("links:\n");
        for i in 1..nodes {
            yaml.push_str(&format!(
                "  - id: l{i}\n    n1: n{}\n    n2: n{i}\n    i1: i1\n    i2: i0\n",
                i - 1
            ));
        }
    }
    if nodes == 0 {
        yaml.push_str("nodes: []\n");
        return yaml;
    }
    yaml.push_str("nodes:\n");
    for i in 0..nodes {
        yaml.push_str(&format!(
            "  - id: n{i}\n    label: alpine-{i}\n    node_definition: alpine\n    x: {x}\n    y: 0\n    interfaces:\n      - id: i0\n        label: eth0\n        slot: 0\n        type: physical\n      - id: i1\n        label: eth1\n        slot: 1\n        type: physical\n",
            x = i * 100
        ));
    }
    yaml
}

/// Runs every check, in order.
pub async fn run_all<H: CmlHarness + ?Sized>(h: &H) -> SuiteReport {
    let mut report = SuiteReport::new("CmlClient");
    report.record("system_information", system_information(h).await);
    report.record("system_health", system_health(h).await);
    report.record("definitions", definitions(h).await);
    report.record("lab_lifecycle", lab_lifecycle(h).await);
    report.record(
        "system_stats_follow_load",
        system_stats_follow_load(h).await,
    );
    report.record(
        "wipe_while_started_is_refused",
        wipe_while_started_is_refused(h).await,
    );
    report.record(
        "unknown_lab_is_not_found",
        unknown_lab_is_not_found(h).await,
    );
    report.record(
        "import_without_nodes_fails",
        import_without_nodes_fails(h).await,
    );
    report.record(
        "start_over_licence_is_refused",
        start_over_licence_is_refused(h).await,
    );
    report.record("teardown_from_any_state", teardown_from_any_state(h).await);
    report.record("licensing_flow", licensing_flow(h).await);
    report.record("telemetry_high_water", telemetry_high_water(h).await);
    report.record(
        "unreachable_means_starting",
        unreachable_means_starting(h).await,
    );
    report
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what} failed: {e}")
}

fn is_refusal(e: &CmlError) -> bool {
    matches!(e, CmlError::Rejected { status, .. } if matches!(status, 400 | 403 | 409))
}

async fn import<H: CmlHarness + ?Sized>(
    h: &H,
    ep: &CmlEndpoint,
    title: &str,
    nodes: u32,
) -> Result<CmlLabId, String> {
    let yaml = topology_yaml(title, nodes);
    let imported = h
        .client()
        .import_lab(ep, &yaml, Some(title))
        .await
        .map_err(err("import_lab"))?;
    Ok(imported.id)
}

async fn teardown<H: CmlHarness + ?Sized>(h: &H, ep: &CmlEndpoint, lab: &CmlLabId) {
    let _ = h.client().teardown_lab(ep, lab).await;
}

/// `system_information` answers a parsable version and `ready`.
pub async fn system_information<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let info = h
        .client()
        .system_information(&ep)
        .await
        .map_err(err("system_information"))?;
    ensure!(
        info.version.parse::<SemVer>().is_ok(),
        "version `{}` does not parse",
        info.version
    );
    ensure!(info.ready, "an available server is not ready");
    Ok(())
}

/// `system_health` of an available, unlicensed server.
pub async fn system_health<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let health = h
        .client()
        .system_health(&ep)
        .await
        .map_err(err("system_health"))?;
    ensure!(health.valid, "an available server is not valid: {health:?}");
    ensure!(
        health.computes_total >= 1 && health.computes_valid <= health.computes_total,
        "implausible compute counts: {health:?}"
    );
    ensure!(
        !health.is_licensed,
        "an unlicensed server says it is licensed"
    );
    Ok(())
}

/// Node and image definitions are listed and consistent.
pub async fn definitions<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let nodes = h
        .client()
        .node_definitions(&ep)
        .await
        .map_err(err("node_definitions"))?;
    ensure!(
        nodes.iter().any(|d| d.id == "alpine"),
        "no `alpine` node definition among {} definitions",
        nodes.len()
    );
    let images = h
        .client()
        .image_definitions(&ep)
        .await
        .map_err(err("image_definitions"))?;
    let ids: BTreeSet<&str> = nodes.iter().map(|d| d.id.as_str()).collect();
    ensure!(
        images
            .iter()
            .all(|i| ids.contains(i.node_definition_id.as_str())),
        "an image definition names an unknown node definition"
    );
    Ok(())
}

/// import → start → converge → stop → wipe → delete, with states, counts and what
/// the lab's nodes take (`lab_usage`: CPUs and memory only while they run, disk
/// throughout).
pub async fn lab_lifecycle<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let lab = import(h, &ep, "conformance-lifecycle", 2).await?;
    let outcome: CheckResult = async {
        let c = h.client();
        let labs = c.list_labs(&ep).await.map_err(err("list_labs"))?;
        ensure!(labs.contains(&lab), "list_labs misses the imported lab");
        let got = c.get_lab(&ep, &lab).await.map_err(err("get_lab"))?;
        ensure!(
            got.id == lab
                && got.title == "conformance-lifecycle"
                && got.node_count == 2
                && got.link_count == 1
                && got.state == LabState::DefinedOnCore,
            "imported lab reads {got:?}"
        );
        let state = c.lab_state(&ep, &lab).await.map_err(err("lab_state"))?;
        ensure!(state == LabState::DefinedOnCore, "new lab is {state:?}");
        let idle = c.lab_usage(&ep, &lab).await.map_err(err("lab_usage"))?;
        ensure!(
            idle.running_nodes == 0 && idle.cpus == 0 && idle.memory_mib == 0,
            "a new (DEFINED_ON_CORE) lab takes CPUs or memory: {idle:?}"
        );
        ensure!(
            idle.disk_gib > 0,
            "a new lab's nodes take no disk: {idle:?}"
        );
        let yaml = c
            .download_lab(&ep, &lab)
            .await
            .map_err(err("download_lab"))?;
        ensure!(yaml.contains("nodes:"), "downloaded topology has no nodes");

        c.start_lab(&ep, &lab).await.map_err(err("start_lab"))?;
        let state = c.lab_state(&ep, &lab).await.map_err(err("lab_state"))?;
        ensure!(state == LabState::Started, "started lab is {state:?}");
        h.settle().await;
        let converged = c
            .check_if_converged(&ep, &lab)
            .await
            .map_err(err("check_if_converged"))?;
        ensure!(converged, "a started lab did not converge after settling");
        let busy = c.lab_usage(&ep, &lab).await.map_err(err("lab_usage"))?;
        ensure!(
            busy.running_nodes > 0 && busy.cpus > 0 && busy.memory_mib > 0 && busy.disk_gib > 0,
            "a converged lab should report running nodes, CPUs, memory and disk: {busy:?}"
        );
        ensure!(
            busy.running_nodes <= 2,
            "{} nodes of a two-node lab run",
            busy.running_nodes
        );
        c.start_lab(&ep, &lab)
            .await
            .map_err(err("starting a started lab"))?;

        c.stop_lab(&ep, &lab).await.map_err(err("stop_lab"))?;
        let state = c.lab_state(&ep, &lab).await.map_err(err("lab_state"))?;
        ensure!(state == LabState::Stopped, "stopped lab is {state:?}");
        let stopped = c.lab_usage(&ep, &lab).await.map_err(err("lab_usage"))?;
        ensure!(
            stopped.running_nodes == 0 && stopped.cpus == 0 && stopped.memory_mib == 0,
            "a stopped lab's nodes still take CPUs or memory: {stopped:?}"
        );
        let delete = c.delete_lab(&ep, &lab).await;
        ensure!(
            delete.as_ref().is_err_and(is_refusal),
            "deleting a stopped, unwiped lab answered {delete:?}"
        );
        c.wipe_lab(&ep, &lab).await.map_err(err("wipe_lab"))?;
        let state = c.lab_state(&ep, &lab).await.map_err(err("lab_state"))?;
        ensure!(state == LabState::DefinedOnCore, "wiped lab is {state:?}");
        c.delete_lab(&ep, &lab).await.map_err(err("delete_lab"))?;
        let labs = c.list_labs(&ep).await.map_err(err("list_labs"))?;
        ensure!(!labs.contains(&lab), "a deleted lab is still listed");
        let gone = c.get_lab(&ep, &lab).await;
        ensure!(
            matches!(gone, Err(CmlError::NotFound { what: "lab", .. })),
            "get_lab of a deleted lab answered {gone:?}"
        );
        Ok(())
    }
    .await;
    teardown(h, &ep, &lab).await;
    outcome
}

/// Running nodes show up in `system_stats` and leave with the lab.
pub async fn system_stats_follow_load<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let before = c.system_stats(&ep).await.map_err(err("system_stats"))?;
    ensure!(before.computes >= 1, "no computes: {before:?}");
    let lab = import(h, &ep, "conformance-stats", 2).await?;
    let outcome: CheckResult = async {
        c.start_lab(&ep, &lab).await.map_err(err("start_lab"))?;
        h.settle().await;
        let busy = c.system_stats(&ep).await.map_err(err("system_stats"))?;
        ensure!(
            busy.running_nodes >= before.running_nodes + 2,
            "running nodes went {} → {} after starting two",
            before.running_nodes,
            busy.running_nodes
        );
        ensure!(
            busy.total_nodes >= before.total_nodes + 2,
            "total nodes did not grow"
        );
        ensure!(
            busy.allocated_cpus > before.allocated_cpus
                && busy.allocated_memory_kib > before.allocated_memory_kib,
            "allocations did not grow: {before:?} → {busy:?}"
        );
        if let (Some(used), Some(total)) = (busy.memory_used_bytes, busy.memory_total_bytes) {
            ensure!(used <= total, "memory used {used} exceeds total {total}");
        }
        h.client()
            .teardown_lab(&ep, &lab)
            .await
            .map_err(err("teardown_lab"))?;
        let after = c.system_stats(&ep).await.map_err(err("system_stats"))?;
        ensure!(
            after.running_nodes == before.running_nodes,
            "running nodes {} after teardown, {} before",
            after.running_nodes,
            before.running_nodes
        );
        Ok(())
    }
    .await;
    teardown(h, &ep, &lab).await;
    outcome
}

/// Wiping or deleting a started lab is refused and changes nothing.
pub async fn wipe_while_started_is_refused<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let lab = import(h, &ep, "conformance-wipe", 1).await?;
    let outcome: CheckResult = async {
        let c = h.client();
        c.start_lab(&ep, &lab).await.map_err(err("start_lab"))?;
        let wipe = c.wipe_lab(&ep, &lab).await;
        ensure!(
            wipe.as_ref().is_err_and(is_refusal),
            "wiping a started lab answered {wipe:?}, expected a 400/409 refusal"
        );
        let delete = c.delete_lab(&ep, &lab).await;
        ensure!(
            delete.as_ref().is_err_and(is_refusal),
            "deleting a started lab answered {delete:?}"
        );
        let state = c.lab_state(&ep, &lab).await.map_err(err("lab_state"))?;
        ensure!(
            state == LabState::Started,
            "a refused wipe left the lab {state:?}"
        );
        Ok(())
    }
    .await;
    teardown(h, &ep, &lab).await;
    outcome
}

/// Every lab operation on an unknown lab is a 404.
pub async fn unknown_lab_is_not_found<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let lab = CmlLabId::new(WorkerId::new().to_string());
    let not_found = |r: &Result<(), CmlError>| matches!(r, Err(CmlError::NotFound { .. }));
    let results = [
        ("get_lab", c.get_lab(&ep, &lab).await.map(|_| ())),
        ("lab_state", c.lab_state(&ep, &lab).await.map(|_| ())),
        ("start_lab", c.start_lab(&ep, &lab).await),
        ("stop_lab", c.stop_lab(&ep, &lab).await),
        ("wipe_lab", c.wipe_lab(&ep, &lab).await),
        ("delete_lab", c.delete_lab(&ep, &lab).await),
        (
            "check_if_converged",
            c.check_if_converged(&ep, &lab).await.map(|_| ()),
        ),
        ("download_lab", c.download_lab(&ep, &lab).await.map(|_| ())),
        ("lab_usage", c.lab_usage(&ep, &lab).await.map(|_| ())),
    ];
    for (what, result) in &results {
        ensure!(
            not_found(result),
            "{what} of an unknown lab answered {result:?}"
        );
    }
    c.teardown_lab(&ep, &lab)
        .await
        .map_err(err("teardown_lab of an unknown lab"))?;
    Ok(())
}

/// Text without `nodes` is refused with a 400 and creates nothing.
pub async fn import_without_nodes_fails<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let before = c.list_labs(&ep).await.map_err(err("list_labs"))?;
    let result = c
        .import_lab(
            &ep,
            "lab:\n  title: no nodes here\n",
            Some("conformance-bad"),
        )
        .await;
    ensure!(
        matches!(result, Err(CmlError::Rejected { status: 400, .. })),
        "importing text without nodes answered {result:?}"
    );
    let after = c.list_labs(&ep).await.map_err(err("list_labs"))?;
    ensure!(before == after, "a failed import changed the lab list");
    Ok(())
}

/// Starting more nodes than an unlicensed server runs is a 400 and starts nothing.
pub async fn start_over_licence_is_refused<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let lab = import(
        h,
        &ep,
        "conformance-over-licence",
        h.unlicensed_node_limit() + 1,
    )
    .await?;
    let outcome: CheckResult = async {
        let result = h.client().start_lab(&ep, &lab).await;
        ensure!(
            matches!(result, Err(CmlError::Rejected { status: 400, .. })),
            "starting {} nodes unlicensed answered {result:?}",
            h.unlicensed_node_limit() + 1
        );
        let state = h
            .client()
            .lab_state(&ep, &lab)
            .await
            .map_err(err("lab_state"))?;
        ensure!(
            state != LabState::Started,
            "a refused start left the lab started"
        );
        Ok(())
    }
    .await;
    teardown(h, &ep, &lab).await;
    outcome
}

/// `teardown_lab` removes a started lab and tolerates a lab already gone.
pub async fn teardown_from_any_state<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let started = import(h, &ep, "conformance-teardown", 1).await?;
    c.start_lab(&ep, &started).await.map_err(err("start_lab"))?;
    let fresh = import(h, &ep, "conformance-teardown-fresh", 1).await?;
    for lab in [&started, &fresh] {
        c.teardown_lab(&ep, lab)
            .await
            .map_err(err("teardown_lab"))?;
        c.teardown_lab(&ep, lab)
            .await
            .map_err(err("second teardown_lab"))?;
    }
    let labs = c.list_labs(&ep).await.map_err(err("list_labs"))?;
    ensure!(
        !labs.contains(&started) && !labs.contains(&fresh),
        "torn-down labs are still listed"
    );
    Ok(())
}

/// register → in progress → completed; deregister; an invalid token never completes.
pub async fn licensing_flow<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let initial = c.licensing(&ep).await.map_err(err("licensing"))?;
    ensure!(
        initial.registration_status != "COMPLETED",
        "a fresh server is already registered"
    );
    c.register_licence(&ep, &h.licence_token(), false)
        .await
        .map_err(err("register_licence"))?;
    let outcome: CheckResult = async {
        h.settle().await;
        let done = c.licensing(&ep).await.map_err(err("licensing"))?;
        ensure!(
            done.registration_status == "COMPLETED" && done.authorization_status == "IN_COMPLIANCE",
            "registration did not complete: {} / {}",
            done.registration_status,
            done.authorization_status
        );
        let health = c.system_health(&ep).await.map_err(err("system_health"))?;
        ensure!(
            health.is_licensed,
            "a registered server is not licensed in its health"
        );
        Ok(())
    }
    .await;
    let deregistered = c.deregister_licence(&ep).await;
    outcome?;
    deregistered.map_err(err("deregister_licence"))?;
    let after = c.licensing(&ep).await.map_err(err("licensing"))?;
    ensure!(
        after.registration_status != "COMPLETED",
        "still registered after deregistration"
    );

    match c
        .register_licence(&ep, &h.invalid_licence_token(), false)
        .await
    {
        Err(e) if is_refusal(&e) => {}
        Err(e) => return Err(format!("registering an invalid token answered {e}")),
        Ok(()) => {
            h.settle().await;
            let failed = c.licensing(&ep).await.map_err(err("licensing"))?;
            let _ = c.deregister_licence(&ep).await;
            ensure!(
                failed.registration_status != "COMPLETED",
                "an invalid token registered"
            );
        }
    }
    Ok(())
}

/// Lab operations leave activity events; filtering by a high-water mark returns only
/// newer events.
pub async fn telemetry_high_water<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let ep = h.endpoint().await;
    let c = h.client();
    let all = c
        .telemetry_events(&ep, None)
        .await
        .map_err(err("telemetry_events"))?;
    let mark = all.iter().map(|e| e.timestamp).max();
    h.settle().await;
    let lab = import(h, &ep, "conformance-telemetry", 1).await?;
    let outcome: CheckResult = async {
        c.start_lab(&ep, &lab).await.map_err(err("start_lab"))?;
        let newer = c
            .telemetry_events(&ep, mark)
            .await
            .map_err(err("telemetry_events"))?;
        ensure!(
            newer.iter().all(|e| mark.is_none_or(|m| e.timestamp > m)),
            "events at or before the mark came back"
        );
        ensure!(
            newer
                .iter()
                .any(|e| e.category == "import_lab" || e.category == "start_lab"),
            "no import_lab/start_lab event after importing and starting a lab: {newer:?}"
        );
        ensure!(
            newer.iter().any(|e| e.is_user_activity()),
            "lab operations produced no activity event"
        );
        let mark2 = newer.iter().map(|e| e.timestamp).max();
        let none = c
            .telemetry_events(&ep, mark2)
            .await
            .map_err(err("telemetry_events"))?;
        ensure!(none.is_empty(), "events after the newest mark: {none:?}");
        h.settle().await;
        if h.inject_user_activity(&ep).await {
            let activity = c
                .telemetry_events(&ep, mark2)
                .await
                .map_err(err("telemetry_events"))?;
            ensure!(
                activity.iter().any(|e| e.category == "user_activity"),
                "injected user activity did not show: {activity:?}"
            );
        }
        Ok(())
    }
    .await;
    teardown(h, &ep, &lab).await;
    outcome
}

/// An endpoint where nothing answers reports an error that means "starting".
pub async fn unreachable_means_starting<H: CmlHarness + ?Sized>(h: &H) -> CheckResult {
    let Some(ep) = h.unreachable_endpoint().await else {
        return Ok(());
    };
    let result = h.client().system_information(&ep).await;
    ensure!(
        result.as_ref().is_err_and(CmlError::means_starting),
        "an unreachable server answered {result:?}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_has_the_requested_shape() {
        let yaml = topology_yaml("t", 3);
        assert_eq!(yaml.matches("node_definition: alpine").count(), 3);
        assert_eq!(yaml.matches("  - id: l").count(), 2);
        assert!(topology_yaml("t", 0).contains("nodes: []"));
    }
}
