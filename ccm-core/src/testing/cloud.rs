//! Conformance suite for [`CloudProvider`] adapters.
//!
//! An adapter's test implements [`CloudHarness`] (the provider, a region, an image
//! name pattern that exists there, and a way to let pending transitions finish) and
//! runs [`run_all`]:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conforms() {
//!     let harness = MyHarness::new().await;
//!     let report = ccm_core::testing::cloud::run_all(&harness).await;
//!     assert!(report.is_ok(), "{report}");
//! }
//! ```
//!
//! Checks never panic: each returns a [`CheckResult`], and [`run_all`] collects them
//! into a [`SuiteReport`]. Every check terminates the instances it launched, even when
//! it fails. Checks tolerate what differs legitimately between providers (moto stops
//! at once, the simulator after a delay; extra tags on launched instances).

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use crate::ids::{ImageId, InstanceId, Region, WorkerId};
use crate::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, ImageSelector, Instance, InstanceState,
    LaunchRequest, MetricName, MetricsQuery, WORKER_ID_TAG,
};
use crate::state_machine::StateMachine;
use crate::time::plus_seconds;
use crate::worker::LifecycleState;

/// Outcome of one check: `Err` carries what was wrong.
pub type CheckResult = Result<(), String>;

/// Returns `Err(format!(..))` from the enclosing check when `cond` is false.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// Check name.
    pub check: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Outcome of a whole suite.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuiteReport {
    /// Suite name.
    pub suite: &'static str,
    /// Checks that passed.
    pub passed: Vec<&'static str>,
    /// Checks that failed.
    pub failed: Vec<CheckFailure>,
}

impl SuiteReport {
    /// An empty report for `suite`.
    pub fn new(suite: &'static str) -> Self {
        Self {
            suite,
            ..Self::default()
        }
    }

    /// Records the outcome of one check.
    pub fn record(&mut self, check: &'static str, result: CheckResult) {
        match result {
            Ok(()) => self.passed.push(check),
            Err(message) => self.failed.push(CheckFailure { check, message }),
        }
    }

    /// True when every check passed.
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty()
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} conformance: {} passed, {} failed",
            self.suite,
            self.passed.len(),
            self.failed.len()
        )?;
        for failure in &self.failed {
            writeln!(f, "  FAILED {}: {}", failure.check, failure.message)?;
        }
        Ok(())
    }
}

/// What an adapter's test provides to run the suite.
#[async_trait]
pub trait CloudHarness: Send + Sync {
    /// The provider under test.
    fn provider(&self) -> &dyn CloudProvider;

    /// The region to work in.
    fn region(&self) -> Region;

    /// A name pattern matching at least one image in the region (ideally two with
    /// different creation dates, so "newest" means something).
    fn image_name_pattern(&self) -> String;

    /// Instance type to launch.
    fn instance_type(&self) -> String {
        "m5zn.metal".to_owned()
    }

    /// Lets pending transitions finish (boot, stop, terminate, status checks).
    /// A simulator advances its clock; moto needs nothing; real AWS would wait.
    async fn settle(&self);

    /// Called before metrics are read for running instances; a provider without
    /// real datapoints (moto) publishes some here.
    async fn prepare_metrics(&self, _ids: &[InstanceId]) {}

    /// The launch request the suite uses for `worker`.
    fn launch_request(&self, worker: WorkerId, name: &str) -> LaunchRequest {
        LaunchRequest {
            worker_id: worker,
            region: self.region(),
            name: name.to_owned(),
            image: ImageSelector::NamePattern(self.image_name_pattern()),
            instance_type: self.instance_type(),
            subnet_id: None,
            security_group_ids: Vec::new(),
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::from([("ccm:conformance".to_owned(), "cloud".to_owned())]),
            detailed_monitoring: false,
        }
    }
}

/// An instance id that no provider has (well-formed, so the answer is "not found").
pub const UNKNOWN_INSTANCE: &str = "i-0000000000000dead";
/// An AMI id that no provider has.
pub const UNKNOWN_IMAGE: &str = "ami-0000000000000dead";

/// Runs every check, in order.
pub async fn run_all<H: CloudHarness + ?Sized>(h: &H) -> SuiteReport {
    let mut report = SuiteReport::new("CloudProvider");
    report.record("launch_is_idempotent", launch_is_idempotent(h).await);
    report.record("image_by_name_is_newest", image_by_name_is_newest(h).await);
    report.record("start_stop_terminate", start_stop_terminate(h).await);
    report.record("shutting_down_maps", shutting_down_maps(h).await);
    report.record("status_checks", status_checks(h).await);
    report.record("tags_and_discovery", tags_and_discovery(h).await);
    report.record("detailed_monitoring", detailed_monitoring(h).await);
    report.record("metrics_return_values", metrics_return_values(h).await);
    report.record("unknown_instance_id", unknown_instance_id(h).await);
    report.record("bad_ami", bad_ami(h).await);
    report
}

fn err<E: fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what} failed: {e}")
}

async fn launch<H: CloudHarness + ?Sized>(h: &H, name: &str) -> Result<Instance, String> {
    let request = h.launch_request(WorkerId::new(), name);
    h.provider().launch(&request).await.map_err(err("launch"))
}

async fn describe_one<H: CloudHarness + ?Sized>(
    h: &H,
    id: &InstanceId,
) -> Result<Option<Instance>, String> {
    let found = h
        .provider()
        .describe(&h.region(), std::slice::from_ref(id))
        .await
        .map_err(err("describe"))?;
    Ok(found.into_iter().find(|i| &i.instance_id == id))
}

/// The instance's state, `None` once describe no longer lists it.
async fn state_of<H: CloudHarness + ?Sized>(
    h: &H,
    id: &InstanceId,
) -> Result<Option<InstanceState>, String> {
    Ok(describe_one(h, id).await?.map(|i| i.state))
}

/// Terminates what a check launched, ignoring errors (best effort cleanup).
async fn cleanup<H: CloudHarness + ?Sized>(h: &H, ids: &[InstanceId]) {
    if !ids.is_empty() {
        let _ = h.provider().terminate(&h.region(), ids).await;
    }
}

fn is_unknown_id_error(e: &CloudError) -> bool {
    matches!(
        e,
        CloudError::NotFound {
            what: "instance",
            ..
        } | CloudError::InvalidRequest { .. }
    )
}

/// Launching twice for one worker yields one instance.
pub async fn launch_is_idempotent<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let worker = WorkerId::new();
    let request = h.launch_request(worker, "conformance-idempotent");
    let first = h
        .provider()
        .launch(&request)
        .await
        .map_err(err("first launch"))?;
    let outcome: CheckResult = async {
        let second = h
            .provider()
            .launch(&request)
            .await
            .map_err(err("second launch"))?;
        ensure!(
            first.instance_id == second.instance_id,
            "a retried launch made a second instance: {} then {}",
            first.instance_id,
            second.instance_id
        );
        ensure!(
            first.tags.get(WORKER_ID_TAG) == Some(&worker.to_string()),
            "launched instance lacks the {WORKER_ID_TAG} tag: {:?}",
            first.tags
        );
        ensure!(
            first.tags.get("Name").map(String::as_str) == Some("conformance-idempotent"),
            "launched instance lacks its Name tag: {:?}",
            first.tags
        );
        let filter = DiscoveryFilter {
            tags: BTreeMap::from([(WORKER_ID_TAG.to_owned(), worker.to_string())]),
            ..DiscoveryFilter::default()
        };
        let live = h
            .provider()
            .discover(&h.region(), &filter)
            .await
            .map_err(err("discover"))?;
        ensure!(
            live.len() == 1,
            "expected one live instance for the worker, found {}",
            live.len()
        );
        Ok(())
    }
    .await;
    cleanup(h, &[first.instance_id]).await;
    outcome
}

/// `find_images` is newest first and a launch by pattern uses the newest image.
pub async fn image_by_name_is_newest<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let pattern = h.image_name_pattern();
    let images = h
        .provider()
        .find_images(&h.region(), &pattern)
        .await
        .map_err(err("find_images"))?;
    ensure!(!images.is_empty(), "no image matches `{pattern}`");
    for pair in images.windows(2) {
        ensure!(
            pair[0].created_at >= pair[1].created_at,
            "images are not newest first: {:?} before {:?}",
            pair[0].created_at,
            pair[1].created_at
        );
    }
    let newest = images[0].id.clone();
    let described = h
        .provider()
        .describe_images(&h.region(), &[newest.clone(), ImageId::new(UNKNOWN_IMAGE)])
        .await
        .map_err(err("describe_images"))?;
    ensure!(
        described.len() == 1 && described[0].id == newest,
        "describe_images should return only the known image, got {described:?}"
    );
    let instance = launch(h, "conformance-image").await?;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    ensure!(
        instance.image_id == newest,
        "launch by pattern used {} instead of the newest {}",
        instance.image_id,
        newest
    );
    Ok(())
}

/// start / stop / terminate move the instance through EC2's states.
pub async fn start_stop_terminate<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-states").await?;
    let outcome: CheckResult = async {
        let region = h.region();
        let id = instance.instance_id.clone();
        let ids = std::slice::from_ref(&id);
        ensure!(
            matches!(
                instance.state,
                InstanceState::Pending | InstanceState::Running
            ),
            "a new instance is `{}`",
            instance.state
        );
        h.settle().await;
        let state = state_of(h, &id).await?;
        ensure!(
            state == Some(InstanceState::Running),
            "after settling, a new instance is {state:?}"
        );

        let stop = h.provider().stop(&region, ids).await.map_err(err("stop"))?;
        ensure!(stop.len() == 1, "stop answered {} changes", stop.len());
        ensure!(
            stop[0].previous == InstanceState::Running
                && matches!(
                    stop[0].current,
                    InstanceState::Stopping | InstanceState::Stopped
                ),
            "stop changed `{}` → `{}`",
            stop[0].previous,
            stop[0].current
        );
        h.settle().await;
        let state = state_of(h, &id).await?;
        ensure!(
            state == Some(InstanceState::Stopped),
            "after stop and settling: {state:?}"
        );

        let start = h
            .provider()
            .start(&region, ids)
            .await
            .map_err(err("start"))?;
        ensure!(
            start.len() == 1
                && start[0].previous == InstanceState::Stopped
                && matches!(
                    start[0].current,
                    InstanceState::Pending | InstanceState::Running
                ),
            "start answered {start:?}"
        );
        h.settle().await;
        let state = state_of(h, &id).await?;
        ensure!(
            state == Some(InstanceState::Running),
            "after start and settling: {state:?}"
        );

        let term = h
            .provider()
            .terminate(&region, ids)
            .await
            .map_err(err("terminate"))?;
        ensure!(
            term.len() == 1
                && matches!(
                    term[0].current,
                    InstanceState::ShuttingDown | InstanceState::Terminated
                ),
            "terminate answered {term:?}"
        );
        h.settle().await;
        let state = state_of(h, &id).await?;
        ensure!(
            matches!(state, Some(InstanceState::Terminated) | None),
            "after terminate and settling: {state:?}"
        );
        let again = h.provider().terminate(&region, ids).await;
        ensure!(
            again.is_ok() || again.as_ref().is_err_and(is_unknown_id_error),
            "terminating a terminated instance failed: {again:?}"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Every state observed while terminating (including `shutting-down`) maps to a
/// known lifecycle state, and the observed moves are legal.
pub async fn shutting_down_maps<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-shutdown").await?;
    let outcome: CheckResult = async {
        let id = instance.instance_id.clone();
        h.settle().await;
        let change = h
            .provider()
            .terminate(&h.region(), std::slice::from_ref(&id))
            .await
            .map_err(err("terminate"))?;
        let mut observed: Vec<InstanceState> = change
            .iter()
            .flat_map(|c| [c.previous, c.current])
            .collect();
        observed.extend(state_of(h, &id).await?);
        h.settle().await;
        observed.extend(state_of(h, &id).await?);
        let mapped: Vec<LifecycleState> = observed
            .iter()
            .map(|s| LifecycleState::from_instance(*s))
            .collect();
        for (text, state) in observed.iter().zip(&mapped) {
            ensure!(
                *state != LifecycleState::Unknown,
                "EC2 state `{text}` maps to no lifecycle state"
            );
        }
        for pair in mapped.windows(2) {
            ensure!(
                pair[0].check_transition(pair[1]).is_ok(),
                "observed an illegal move {:?} → {:?} in {observed:?}",
                pair[0],
                pair[1]
            );
        }
        ensure!(
            mapped.last() == Some(&LifecycleState::Terminated) || observed.len() <= 2,
            "never reached terminated: {observed:?}"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Status checks cover running instances only and pass once settled.
pub async fn status_checks<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-status").await?;
    let outcome: CheckResult = async {
        let region = h.region();
        let id = instance.instance_id.clone();
        let ids = std::slice::from_ref(&id);
        h.settle().await;
        let checks = h
            .provider()
            .status_checks(&region, ids)
            .await
            .map_err(err("status_checks"))?;
        ensure!(
            checks.len() == 1,
            "expected one status for a running instance: {checks:?}"
        );
        let allowed = ["ok", "initializing", "insufficient-data"];
        ensure!(
            allowed.contains(&checks[0].instance_status.as_str())
                && allowed.contains(&checks[0].system_status.as_str()),
            "unexpected status {:?}",
            checks[0]
        );
        h.settle().await;
        let checks = h
            .provider()
            .status_checks(&region, ids)
            .await
            .map_err(err("status_checks"))?;
        ensure!(
            checks.len() == 1
                && checks[0].instance_status == "ok"
                && checks[0].system_status == "ok",
            "a settled running instance is not ok: {checks:?}"
        );
        h.provider().stop(&region, ids).await.map_err(err("stop"))?;
        h.settle().await;
        let checks = h
            .provider()
            .status_checks(&region, ids)
            .await
            .map_err(err("status_checks"))?;
        ensure!(
            checks.iter().all(|c| c.instance_id != id)
                || checks.iter().all(|c| c.instance_status == "not-applicable"),
            "a stopped instance still reports status: {checks:?}"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Tags can be set and removed, and discovery filters by tag, AMI id, AMI name and
/// termination.
pub async fn tags_and_discovery<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-tags").await?;
    let outcome: CheckResult = async {
        let region = h.region();
        let id = instance.instance_id.clone();
        let ids = std::slice::from_ref(&id);
        let marker = WorkerId::new().to_string();
        let tags = BTreeMap::from([
            ("ccm:conformance-run".to_owned(), marker.clone()),
            ("team".to_owned(), "blue".to_owned()),
        ]);
        h.provider()
            .set_tags(&region, ids, &tags)
            .await
            .map_err(err("set_tags"))?;
        let described = describe_one(h, &id).await?.ok_or("instance vanished")?;
        ensure!(
            tags.iter().all(|(k, v)| described.tags.get(k) == Some(v)),
            "tags not set: {:?}",
            described.tags
        );

        let contains = |found: &[Instance]| found.iter().any(|i| i.instance_id == id);
        let by_tag = DiscoveryFilter {
            tags: BTreeMap::from([("ccm:conformance-run".to_owned(), marker.clone())]),
            ..DiscoveryFilter::default()
        };
        let found = h
            .provider()
            .discover(&region, &by_tag)
            .await
            .map_err(err("discover"))?;
        ensure!(
            found.len() == 1 && contains(&found),
            "discover by tag found {found:?}"
        );
        let by_image = DiscoveryFilter {
            image_ids: vec![instance.image_id.clone()],
            ..by_tag.clone()
        };
        let found = h
            .provider()
            .discover(&region, &by_image)
            .await
            .map_err(err("discover"))?;
        ensure!(contains(&found), "discover by AMI id missed the instance");
        let by_name = DiscoveryFilter {
            image_name_pattern: Some(h.image_name_pattern()),
            ..by_tag.clone()
        };
        let found = h
            .provider()
            .discover(&region, &by_name)
            .await
            .map_err(err("discover"))?;
        ensure!(contains(&found), "discover by AMI name missed the instance");
        let wrong_image = DiscoveryFilter {
            image_ids: vec![ImageId::new(UNKNOWN_IMAGE)],
            ..by_tag.clone()
        };
        let found = h
            .provider()
            .discover(&region, &wrong_image)
            .await
            .map_err(err("discover"))?;
        ensure!(
            !contains(&found),
            "discover by another AMI found the instance"
        );

        h.provider()
            .remove_tags(&region, ids, &["team".to_owned()])
            .await
            .map_err(err("remove_tags"))?;
        let described = describe_one(h, &id).await?.ok_or("instance vanished")?;
        ensure!(
            !described.tags.contains_key("team")
                && described.tags.get("ccm:conformance-run") == Some(&marker),
            "remove_tags removed the wrong tags: {:?}",
            described.tags
        );
        let by_removed = DiscoveryFilter {
            tags: BTreeMap::from([("team".to_owned(), "blue".to_owned())]),
            ..by_tag.clone()
        };
        let found = h
            .provider()
            .discover(&region, &by_removed)
            .await
            .map_err(err("discover"))?;
        ensure!(!contains(&found), "discover matched a removed tag");

        h.provider()
            .terminate(&region, ids)
            .await
            .map_err(err("terminate"))?;
        h.settle().await;
        let found = h
            .provider()
            .discover(&region, &by_tag)
            .await
            .map_err(err("discover"))?;
        ensure!(
            !contains(&found),
            "discover without include_terminated found a terminated instance"
        );
        let with_terminated = DiscoveryFilter {
            include_terminated: true,
            ..by_tag
        };
        let found = h
            .provider()
            .discover(&region, &with_terminated)
            .await
            .map_err(err("discover"))?;
        ensure!(
            found
                .iter()
                .all(|i| i.instance_id != id || i.state == InstanceState::Terminated),
            "a terminated instance is described as {found:?}"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Detailed monitoring can be turned on.
pub async fn detailed_monitoring<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-monitoring").await?;
    let outcome: CheckResult = async {
        let id = instance.instance_id.clone();
        h.provider()
            .enable_detailed_monitoring(&h.region(), std::slice::from_ref(&id))
            .await
            .map_err(err("enable_detailed_monitoring"))?;
        let described = describe_one(h, &id).await?.ok_or("instance vanished")?;
        ensure!(
            described.detailed_monitoring,
            "detailed monitoring is still off"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Metrics of a running instance have values in 0–100; an unknown instance has none.
pub async fn metrics_return_values<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let instance = launch(h, "conformance-metrics").await?;
    let outcome: CheckResult = async {
        let id = instance.instance_id.clone();
        h.settle().await;
        h.prepare_metrics(std::slice::from_ref(&id)).await;
        let launched = describe_one(h, &id)
            .await?
            .and_then(|i| i.launched_at)
            .ok_or("no launch time")?;
        // Providers clamp the end of the window to their own "now".
        let end = plus_seconds(launched, 30 * 24 * 3600);
        let unknown = InstanceId::new(UNKNOWN_INSTANCE);
        let query = MetricsQuery {
            instance_ids: vec![id.clone(), unknown.clone()],
            metrics: MetricName::ALL.to_vec(),
            start: launched,
            end,
            period_seconds: 300,
        };
        let samples = h
            .provider()
            .metrics(&h.region(), &query)
            .await
            .map_err(err("metrics"))?;
        for metric in MetricName::ALL {
            let sample = samples
                .iter()
                .find(|s| s.instance_id == id && s.metric == metric)
                .ok_or_else(|| format!("no sample for {metric:?}"))?;
            let value = sample
                .value
                .ok_or_else(|| format!("no value for {metric:?} of a running instance"))?;
            ensure!(
                (0.0..=100.0).contains(&value),
                "{metric:?} = {value} is not a percentage"
            );
        }
        ensure!(
            samples
                .iter()
                .all(|s| s.instance_id != unknown || s.value.is_none()),
            "an unknown instance has metric values"
        );
        Ok(())
    }
    .await;
    cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
    outcome
}

/// Unknown instance ids: left out of describe, errors for state changes and tags.
pub async fn unknown_instance_id<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    let region = h.region();
    let unknown = [InstanceId::new(UNKNOWN_INSTANCE)];
    let found = h
        .provider()
        .describe(&region, &unknown)
        .await
        .map_err(err("describe"))?;
    ensure!(
        found.is_empty(),
        "describe of an unknown id answered {found:?}"
    );
    for (what, result) in [
        (
            "start",
            h.provider().start(&region, &unknown).await.map(|_| ()),
        ),
        (
            "stop",
            h.provider().stop(&region, &unknown).await.map(|_| ()),
        ),
        (
            "set_tags",
            h.provider()
                .set_tags(
                    &region,
                    &unknown,
                    &BTreeMap::from([("a".into(), "b".into())]),
                )
                .await,
        ),
    ] {
        ensure!(
            result.as_ref().is_err_and(is_unknown_id_error),
            "{what} of an unknown id answered {result:?}, expected NotFound or InvalidRequest"
        );
    }
    let checks = h
        .provider()
        .status_checks(&region, &unknown)
        .await
        .map_or_else(
            |e| {
                if is_unknown_id_error(&e) {
                    Ok(Vec::new())
                } else {
                    Err(e)
                }
            },
            Ok,
        )
        .map_err(err("status_checks"))?;
    ensure!(
        checks.is_empty(),
        "status of an unknown id answered {checks:?}"
    );
    Ok(())
}

/// Launching from a missing AMI or an unmatched name pattern fails and launches nothing.
pub async fn bad_ami<H: CloudHarness + ?Sized>(h: &H) -> CheckResult {
    for image in [
        ImageSelector::Id(ImageId::new(UNKNOWN_IMAGE)),
        ImageSelector::NamePattern("ccm-conformance-no-such-image-*".to_owned()),
    ] {
        let worker = WorkerId::new();
        let request = LaunchRequest {
            image: image.clone(),
            ..h.launch_request(worker, "conformance-bad-ami")
        };
        let result = h.provider().launch(&request).await;
        if let Ok(instance) = &result {
            cleanup(h, std::slice::from_ref(&instance.instance_id)).await;
        }
        ensure!(
            matches!(
                result,
                Err(CloudError::NotFound { what: "image", .. } | CloudError::InvalidRequest { .. })
            ),
            "launch from {image:?} answered {result:?}, expected NotFound(image) or InvalidRequest"
        );
        let filter = DiscoveryFilter {
            tags: BTreeMap::from([(WORKER_ID_TAG.to_owned(), worker.to_string())]),
            include_terminated: true,
            ..DiscoveryFilter::default()
        };
        let found = h
            .provider()
            .discover(&h.region(), &filter)
            .await
            .map_err(err("discover"))?;
        ensure!(
            found.is_empty(),
            "a failed launch left instances: {found:?}"
        );
    }
    Ok(())
}
