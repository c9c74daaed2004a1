//! `ccm doctor`'s CML check: a few running workers from the store, each called
//! once (an authenticated `system_stats`) through the client the server builds, at
//! the endpoint the engine would choose. A worker whose endpoint the allow-list
//! refuses is reported and never called, so the fleet's credentials go nowhere
//! the server would not send them.

use std::sync::Arc;
use std::time::Duration;

use ccm_core::fleet::endpoint::{choose, EndpointChoice};
use ccm_core::ports::cml::{CmlEndpoint, CmlError};
use ccm_core::ports::store::WorkerFilter;
use ccm_core::ports::{CmlClient, SystemClock};
use ccm_core::worker::{LifecycleState, Worker};
use futures_util::future::join_all;

use super::doctor::{setting, within, Check};
use ccm_assembly::config::{CloudKind, Config};
use ccm_assembly::store::OpenedStore;

/// The check's name.
pub(super) const NAME: &str = "cml";

/// One check per sampled worker, plus one for workers whose endpoint is refused.
pub(super) async fn check(
    config: &Config,
    store: Option<&OpenedStore>,
    sample: usize,
    limit: Duration,
) -> Vec<Check> {
    let skipped = |reason: &str| vec![Check::skipped(NAME, reason)];
    if config.cloud.provider == CloudKind::Sim {
        return skipped("the simulated fleet's CML runs inside the server; no worker to call");
    }
    let Some(store) = store else {
        return skipped("needs the store, which could not be read");
    };
    if sample == 0 {
        return skipped("--sample 0");
    }
    let client = match ccm_assembly::cloud::cml_client(config, Arc::new(SystemClock)) {
        Ok(client) => client,
        Err(error) => {
            return vec![Check::fail(
                NAME,
                format!("the CML client cannot be built: {error}"),
                format!(
                    "correct [cml]: {} and, with cml.tls = \"ca\", {}",
                    setting("cml.password"),
                    setting("cml.ca_file")
                ),
            )]
        }
    };
    let running = WorkerFilter {
        lifecycle: vec![LifecycleState::Running],
        ..WorkerFilter::default()
    };
    let workers = match within(limit, store.store.list_workers(&running)).await {
        Ok(Ok(workers)) => workers,
        Ok(Err(error)) => {
            return vec![Check::fail(
                NAME,
                format!("cannot list the running workers: {error}"),
                "see the store check above",
            )]
        }
        Err(timed_out) => {
            return vec![Check::fail(
                NAME,
                format!("listing the running workers: {timed_out}"),
                "see the store check above",
            )]
        }
    };
    if workers.is_empty() {
        return skipped("no worker is running");
    }
    let settings = ccm_assembly::settings::fleet_settings(config);
    let mut callable = Vec::new();
    let mut refused = Vec::new();
    for worker in &workers {
        match choose(worker, settings.endpoint_address, &settings.endpoint_allow) {
            EndpointChoice::Allowed(endpoint) => callable.push((worker, endpoint)),
            EndpointChoice::Refused { reason, .. } => {
                refused.push(format!("{}: {reason}", worker.name()));
            }
            EndpointChoice::Missing => {}
        }
    }
    let mut checks = join_all(
        callable
            .into_iter()
            .take(sample)
            .map(|(worker, endpoint)| call(&client, config, worker, endpoint, limit)),
    )
    .await;
    if !refused.is_empty() {
        checks.push(Check::warn(
            NAME,
            format!(
                "{} running worker(s) have an endpoint ccm will not call (nothing was sent):\n{}",
                refused.len(),
                refused.join("\n")
            ),
            format!(
                "set the worker's CML endpoint (PUT /api/v1/workers/{{id}}/cml-endpoint) to one \
                 of its own addresses, or add a trusted host to {}",
                setting("cml.endpoint_allow")
            ),
        ));
    }
    if checks.is_empty() {
        return skipped("no running worker has a CML address yet");
    }
    checks
}

async fn call(
    client: &ccm_cml::HttpCmlClient,
    config: &Config,
    worker: &Worker,
    endpoint: CmlEndpoint,
    limit: Duration,
) -> Check {
    let subject = format!("{} ({})", worker.name(), endpoint.base_url);
    let check = match within(limit, client.system_stats(&endpoint)).await {
        Ok(Ok(stats)) => Check::ok(
            NAME,
            format!(
                "logged in as `{}`; {} compute(s)",
                config.cml.username, stats.computes
            ),
        ),
        Ok(Err(error)) => advice(config, worker, &error),
        Err(timed_out) => Check::fail(NAME, timed_out.to_string(), unreachable_fix()),
    };
    check.about(subject)
}

fn unreachable_fix() -> String {
    format!(
        "check that the instance runs and CML has started, that its security group lets this \
         host reach the CML port, and {} (public or private address)",
        setting("cml.endpoint_address")
    )
}

/// What to do about `error` from the worker's CML.
fn advice(config: &Config, worker: &Worker, error: &CmlError) -> Check {
    let detail = error.to_string();
    match error {
        CmlError::Starting { .. } => Check::warn(
            NAME,
            detail,
            "CML is still starting; run ccm doctor again in a few minutes",
        ),
        CmlError::Unreachable { message, .. } if message.to_lowercase().contains("certificate") => {
            Check::fail(
                NAME,
                detail,
                format!(
                    "the worker's certificate is not trusted under {}: use \"ca\" with {}, or \
                     \"tofu\" (trust on first use, the default)",
                    setting("cml.tls"),
                    setting("cml.ca_file")
                ),
            )
        }
        CmlError::Unreachable { .. } | CmlError::Timeout { .. } => {
            Check::fail(NAME, detail, unreachable_fix())
        }
        CmlError::Unauthorized { .. } => Check::fail(
            NAME,
            format!("{detail} of user `{}`", config.cml.username),
            format!(
                "set {} (or CCM_CML_PASSWORD_FILE) to that user's password on the workers, or \
                 correct {}",
                setting("cml.password"),
                setting("cml.username")
            ),
        ),
        CmlError::CertificateChanged { presented, .. } => Check::fail(
            NAME,
            detail,
            format!(
                "if the certificate was replaced on purpose, an admin accepts it after checking \
                 it out of band: POST /api/v1/workers/{}/cml-certificate/accept with sha256 \
                 {presented}",
                worker.id
            ),
        ),
        CmlError::EndpointRefused { .. } => Check::warn(
            NAME,
            detail,
            format!("add a trusted host to {}", setting("cml.endpoint_allow")),
        ),
        CmlError::Rejected { status: 403, .. } => Check::fail(
            NAME,
            detail,
            format!(
                "{} must be an administrator on CML",
                setting("cml.username")
            ),
        ),
        CmlError::Protocol { .. } => Check::fail(
            NAME,
            detail,
            "the answer is not CML 2.x's: is another service (or a proxy) at that address?",
        ),
        _ => Check::fail(
            NAME,
            detail,
            "see CML's answer above and the controller's logs on the worker",
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ccm_core::ids::{Region, WorkerId};
    use ccm_core::resources::Resources;
    use ccm_core::worker::{Capacity, NewWorker};

    use super::super::doctor::Status;
    use super::*;

    fn worker() -> Worker {
        Worker::create(
            WorkerId::from_u128(7),
            NewWorker {
                name: "w".into(),
                region: Region::new("us-east-1"),
                instance_type: "m5zn.metal".into(),
                capacity: Capacity::new(Resources::ZERO, 0),
                tags: BTreeMap::new(),
                labels: BTreeMap::new(),
                idle: Default::default(),
                created_by: None,
                image: None,
            },
            ccm_core::time::epoch(),
        )
        .0
    }

    #[test]
    fn each_cml_failure_gets_its_fix() {
        let config = Config::default();
        let endpoint = "https://10.0.0.5".to_owned();
        let refused = advice(
            &config,
            &worker(),
            &CmlError::Unauthorized {
                endpoint: endpoint.clone(),
            },
        );
        assert_eq!(refused.status, Status::Fail);
        assert!(refused.fix.unwrap().contains("CCM_CML_PASSWORD"));
        let down = advice(
            &config,
            &worker(),
            &CmlError::Unreachable {
                endpoint: endpoint.clone(),
                message: "connection refused".into(),
            },
        );
        assert!(down.fix.unwrap().contains("security group"));
        let starting = advice(
            &config,
            &worker(),
            &CmlError::Starting {
                endpoint: endpoint.clone(),
            },
        );
        assert_eq!(starting.status, Status::Warn);
        let changed = advice(
            &config,
            &worker(),
            &CmlError::CertificateChanged {
                endpoint,
                expected: "aa".into(),
                presented: "bb".into(),
            },
        );
        let fix = changed.fix.unwrap();
        assert!(
            fix.contains("cml-certificate/accept") && fix.contains("bb"),
            "{fix}"
        );
    }
}
