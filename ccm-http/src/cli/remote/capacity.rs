//! `ccm forecast`: the workers the bookings need over the next hours, the
//! planned starts and stops and the lead time in force, as a table with a bar
//! per step (or the JSON of `GET /api/v1/capacity/forecast`); `ccm cost`: the
//! burn rate, today's and this week's cost and saving (`GET /api/v1/cost`).

use serde_json::Value;

use super::client;
use crate::cli::client::{Endpoint, Query};
use crate::cli::output::{at, cell, print, table};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/capacity/forecast`.
pub const FORECAST: Endpoint = Endpoint::get("/api/v1/capacity/forecast");
/// `GET /api/v1/cost`.
pub const COST: Endpoint = Endpoint::get("/api/v1/cost");

/// Widest bar drawn, characters.
const BAR_WIDTH: u64 = 40;

/// `ccm forecast`.
pub async fn forecast(
    remote: &RemoteArgs,
    hours: Option<u32>,
    step_minutes: Option<u32>,
) -> Result<(), Error> {
    let query = Query::new()
        .opt("hours", hours)
        .opt("step_minutes", step_minutes);
    let answer = client(remote)?.call(FORECAST, &[], &query).await?;
    print(remote.json, &answer, human);
    Ok(())
}

/// `ccm cost`.
pub async fn cost(remote: &RemoteArgs) -> Result<(), Error> {
    let answer = client(remote)?.call(COST, &[], &Query::new()).await?;
    print(remote.json, &answer, cost_table);
    Ok(())
}

fn usd(value: &Value, path: &str) -> String {
    format!(
        "{:.2}",
        at(value, path).and_then(Value::as_f64).unwrap_or(0.0)
    )
}

/// The burn rate, then one row per region and instance type and the total.
fn cost_table(report: &Value) -> String {
    let row = |label: String, v: &Value| {
        vec![
            label,
            number(v, "billing_workers").to_string(),
            usd(v, "burn_rate_usd_per_hour"),
            usd(v, "today.usd"),
            usd(v, "today.saving_usd"),
            usd(v, "week.usd"),
            usd(v, "week.saving_usd"),
        ]
    };
    let mut rows: Vec<Vec<String>> = at(report, "groups")
        .and_then(Value::as_array)
        .map(|groups| {
            groups
                .iter()
                .map(|g| {
                    row(
                        format!("{} {}", cell(g.get("region")), cell(g.get("instance_type"))),
                        g,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    rows.push(row("total".into(), report));
    table(
        &[
            "region / type",
            "billing",
            "usd/h",
            "today",
            "saved today",
            "this week",
            "saved this week",
        ],
        &rows,
    )
}

fn number(value: &Value, path: &str) -> u64 {
    at(value, path).and_then(Value::as_u64).unwrap_or(0)
}

/// The lead line, then one row per step that differs from the one before
/// (a quiet night is one row, not thirty).
fn human(forecast: &Value) -> String {
    let lead = number(forecast, "lead.seconds");
    let learned = at(forecast, "lead.estimates")
        .and_then(Value::as_array)
        .is_some_and(|e| {
            e.iter()
                .any(|e| e.get("learned") == Some(&Value::Bool(true)))
        });
    let steps: Vec<Value> = at(forecast, "steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let peak = steps
        .iter()
        .map(|s| number(s, "workers_needed"))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut rows = Vec::new();
    let mut last: Option<(u64, u64, u64)> = None;
    for step in &steps {
        let needed = number(step, "workers_needed");
        let lablets = number(step, "lablets");
        let expected = number(step, "expected_lablets");
        if last == Some((needed, lablets, expected)) {
            continue;
        }
        last = Some((needed, lablets, expected));
        let bar = "#".repeat((needed * BAR_WIDTH).div_ceil(peak) as usize);
        rows.push(vec![
            cell(step.get("at")),
            lablets.to_string(),
            expected.to_string(),
            needed.to_string(),
            format!(
                "{:.2}",
                at(step, "hourly_usd")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            ),
            number(step, "starts").to_string(),
            number(step, "stops").to_string(),
            bar,
        ]);
    }
    let mut out = format!(
        "lead time {} min ({}); workers now {}{}\n",
        lead / 60,
        if learned { "learned" } else { "configured" },
        number(forecast, "workers_now"),
        if at(forecast, "partial") == Some(&Value::Bool(true)) {
            "; partial: more lablets than one forecast reads"
        } else {
            ""
        }
    );
    out.push_str(&table(
        &[
            "from", "lablets", "expected", "workers", "usd/h", "starts", "stops", "",
        ],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cost_table_has_a_row_per_group_and_the_total() {
        let report = json!({
            "billing_workers": 2, "burn_rate_usd_per_hour": 7.93,
            "today": {"usd": 20.5, "saving_usd": 50.0}, "week": {"usd": 100.0, "saving_usd": 300.25},
            "groups": [{
                "region": "eu-west-1", "instance_type": "m5zn.metal",
                "billing_workers": 2, "burn_rate_usd_per_hour": 7.93,
                "today": {"usd": 20.5, "saving_usd": 50.0}, "week": {"usd": 100.0, "saving_usd": 300.25}
            }]
        });
        let text = cost_table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("region / type"), "{text}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("eu-west-1 m5zn.metal") && l.contains("300.25")),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("total") && l.contains("7.93")),
            "{text}"
        );
    }

    #[test]
    fn steps_that_repeat_are_one_row_and_bars_scale_to_the_peak() {
        let forecast = json!({
            "lead": {"seconds": 1860, "estimates": [{"learned": true}]},
            "workers_now": 1,
            "partial": false,
            "steps": [
                {"at": "2026-12-07T08:00:00Z", "lablets": 0, "workers_needed": 0, "hourly_usd": 0.0, "starts": 0, "stops": 1},
                {"at": "2026-12-07T08:15:00Z", "lablets": 0, "workers_needed": 0, "hourly_usd": 0.0, "starts": 0, "stops": 0},
                {"at": "2026-12-07T08:30:00Z", "lablets": 30, "workers_needed": 4, "hourly_usd": 15.86, "starts": 4, "stops": 0},
                {"at": "2026-12-07T08:45:00Z", "lablets": 10, "workers_needed": 2, "hourly_usd": 7.93, "starts": 0, "stops": 2},
                {"at": "2026-12-07T09:00:00Z", "lablets": 10, "expected_lablets": 3, "workers_needed": 2, "hourly_usd": 7.93, "starts": 0, "stops": 0}
            ]
        });
        let text = human(&forecast);
        assert!(
            text.starts_with("lead time 31 min (learned); workers now 1\n"),
            "{text}"
        );
        assert!(!text.contains("08:15"), "a repeated step is folded: {text}");
        // Short-notice lablets the warm pool expects make a row of their own.
        assert!(
            text.lines()
                .any(|l| l.contains("09:00") && l.split_whitespace().nth(2) == Some("3")),
            "{text}"
        );
        let full = "#".repeat(BAR_WIDTH as usize);
        let half = "#".repeat(BAR_WIDTH as usize / 2);
        assert!(
            text.lines()
                .any(|l| l.contains("08:30") && l.trim_end().ends_with(&full)),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.contains("08:45")
                && l.trim_end().ends_with(&half)
                && !l.contains(&full)),
            "{text}"
        );
    }
}
