//! A leader whose lease ends while a CML call hangs makes no EC2, CloudWatch or
//! CML call after that end. One `ccm serve` process only, so every call that
//! reaches moto (through the cluster's recording proxy) or the CML simulator is
//! its own: its sweep is held on a CML answer, the process is frozen (SIGSTOP)
//! past its lease, the test takes the lease as another holder would, and the
//! process is thawed with the held answer waiting. Nothing may arrive at either
//! server after the lease's end; once the lease is free again the same process
//! calls both again, so the counting sees calls when there are any.

use std::time::{Duration, SystemTime};

use ccm_core::ports::Store;
use ccm_core::runtime::LeaseSettings;

use crate::processes::within;
use crate::scale_out::{Cluster, LEASE_SECONDS, SWEEP_SECONDS};

/// Log line of a process that stopped leading.
const NOT_LEADING: &str = "not leading any more";
/// How long the thawed process is watched for calls: several sweep intervals.
const QUIET_SECONDS: u64 = 4 * SWEEP_SECONDS;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_ends_during_a_hanging_cml_call_makes_no_call_after_it() {
    let cluster = Cluster::start(1).await;
    cluster.wait_leader(Duration::from_secs(20)).await;
    cluster.running_worker(0, "host").await;
    let lease_name = LeaseSettings::default().name;
    let store = cluster.db.store().await;

    // The held answer comes while the process is frozen, so on thawing the
    // engine step has it at hand and could go on to its next calls at once.
    let hold = Duration::from_secs(LEASE_SECONDS / 2);
    cluster.hold_a_sweep(hold).await;
    let process = &cluster.processes[0];
    process.signal("STOP");
    let lease = store
        .get_lease(&lease_name)
        .await
        .unwrap()
        .expect("the leader's lease");
    let lease_end = SystemTime::from(lease.expires_at);
    // The frozen process may be inside a fenced commit, holding the lease row
    // until the server ends its idle transaction.
    let usurper = within(
        Duration::from_secs(LEASE_SECONDS + 10) + ccm_store_postgres::IDLE_IN_TRANSACTION_TIMEOUT,
        "the frozen leader's lease can be taken once it ran out",
        || async {
            store
                .try_acquire_lease(&lease_name, "usurper", 600, chrono::Utc::now())
                .await
                .unwrap()
        },
    )
    .await;
    assert!(usurper.token > lease.token);
    within(
        hold + Duration::from_secs(10),
        "the held answer is sent",
        || async { cluster.cml.in_flight().is_empty().then_some(()) },
    )
    .await;
    cluster.cml.set_latency(None);
    let deposals_before = process.output().matches(NOT_LEADING).count();
    process.signal("CONT");
    let thawed_after_lease_end = lease_end.elapsed().unwrap_or_default();

    within(
        Duration::from_secs(10),
        "the thawed process finds it does not lead",
        || async {
            (process.output().matches(NOT_LEADING).count() > deposals_before).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(QUIET_SECONDS)).await;
    let late_cml: Vec<String> = cluster
        .cml
        .exchanges()
        .into_iter()
        .filter(|e| e.received_at >= lease_end)
        .map(|e| format!("{} {}", e.method, e.path))
        .chain(
            cluster
                .cml
                .in_flight()
                .into_iter()
                .filter(|r| r.received_at >= lease_end)
                .map(|r| format!("{} {} (unanswered)", r.method, r.path)),
        )
        .collect();
    let late_aws: Vec<String> = cluster
        .aws
        .calls_since(lease_end)
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert!(
        late_cml.is_empty() && late_aws.is_empty(),
        "calls after the lease ended: CML {late_cml:?}, AWS {late_aws:?}"
    );

    // The lease free again: the same process leads and calls both again.
    let released = SystemTime::now();
    store
        .release_lease(&lease_name, "usurper", usurper.token)
        .await
        .unwrap();
    let calling_again = within(
        Duration::from_secs(LEASE_SECONDS + 10 * SWEEP_SECONDS),
        "the process leads again and sweeps",
        || async {
            let cml = cluster
                .cml
                .exchanges()
                .iter()
                .any(|e| e.received_at >= released);
            let aws = !cluster.aws.calls_since(released).is_empty();
            (cml && aws).then(|| released.elapsed().unwrap_or_default())
        },
    )
    .await;
    eprintln!(
        "thawed {thawed_after_lease_end:?} after the lease ended, no call for {QUIET_SECONDS} s; \
         calling again {calling_again:?} after the lease was released"
    );
    cluster.finish().await;
}
