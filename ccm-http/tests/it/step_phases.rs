//! Where an engine step's time goes, on `/metrics` of a real `ccm serve`: every
//! part of the step (log, jobs, workers, lablets) is a series of seconds and of
//! items handled, and the parts add up to no more than the steps themselves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::processes::{create_api_key, CcmProcess};

/// `series{phase="…"} value` lines of `name`, by phase.
fn by_phase(text: &str, name: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{name}{{phase=\"");
    text.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (phase, value) = rest.split_once("\"} ")?;
            Some((phase.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value_of(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from: {text}"))
}

#[tokio::test]
async fn metrics_say_which_part_of_the_engine_steps_takes_the_time() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        (
            "CCM_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("ccm.db").display()),
        ),
        // The demo fleet gives the jobs and both controllers work to do.
        ("CCM_SIM_SEED_DEMO", "true".to_owned()),
        ("CCM_ADMIN_LOGIN_LINK", "false".to_owned()),
    ];
    let mut server = CcmProcess::start(&env, &[]).await;
    let key = create_api_key(&env, "scraper", "admin").await;
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let scrape = http
            .get(format!("{}/metrics", server.base()))
            .bearer_auth(&key)
            .send();
        let text = scrape.await.unwrap().text().await.unwrap();
        let items = by_phase(&text, "ccm_engine_step_phase_items_total");
        let busy = ["jobs", "workers"]
            .iter()
            .all(|phase| items.get(*phase).is_some_and(|n| *n > 0.0));
        if busy {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no step ran jobs and worker passes within 120 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let seconds = by_phase(&text, "ccm_engine_step_phase_seconds_total");
    let items = by_phase(&text, "ccm_engine_step_phase_items_total");
    for phase in ["log", "jobs", "workers", "lablets"] {
        assert!(seconds.contains_key(phase), "{phase} seconds: {text}");
        assert!(items.contains_key(phase), "{phase} items: {text}");
    }
    // The scrape renders under one lock: the parts of finished steps, and of
    // the step in flight at most its parts so far. The histogram holds
    // finished steps only, so allow the one in flight its elapsed time.
    let parts: f64 = seconds.values().sum();
    let steps = value_of(&text, "ccm_engine_step_duration_seconds_sum{}");
    assert!(parts > 0.0, "{text}");
    assert!(
        parts <= steps + 5.0,
        "parts {parts} s against steps {steps} s"
    );
    server.stop().await;
}
