//! Runs the simulated week (`ccm_sim::week`) under ccm's autoscaler, an always-on
//! fleet and the predecessor's reactive rule, and writes the comparison:
//!
//! ```text
//! cargo run --release -p ccm-examples --example week -- [--seed N] [--days N] [--boot-jitter S] [--boot-poll S] [--short | --short-notice] [--out DIR]
//! ```
//!
//! `--short-notice` runs two weeks with bookings made 0–30 minutes ahead,
//! on-demand lablets and cancellations (`WeekConfig::short_notice`) under the
//! autoscaler with and without the learned warm pool, and adds a table of the
//! share ready on time and what the warm pool costs.
//!
//! Writes `DIR/week.md` (the table), `DIR/week.svg` (workers over the week) and
//! `DIR/week.json` (every report, timelines included); prints the table.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ccm_sim::week::{
    generate, markdown_table, run_week, short_notice_table, svg_chart, Policy, WeekConfig,
};

struct Options {
    seed: u64,
    days: Option<u32>,
    boot_jitter_seconds: u32,
    booting_poll_seconds: Option<u32>,
    short: bool,
    short_notice: bool,
    out: PathBuf,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seed: 7,
        days: None,
        boot_jitter_seconds: 0,
        booting_poll_seconds: None,
        short: false,
        short_notice: false,
        out: PathBuf::from("target/week"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--short" {
            options.short = true;
            continue;
        }
        if flag == "--short-notice" {
            options.short_notice = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => options.seed = value.parse().map_err(|e| format!("--seed: {e}"))?,
            "--days" => options.days = Some(value.parse().map_err(|e| format!("--days: {e}"))?),
            "--out" => options.out = PathBuf::from(value),
            "--boot-jitter" => {
                options.boot_jitter_seconds =
                    value.parse().map_err(|e| format!("--boot-jitter: {e}"))?
            }
            "--boot-poll" => {
                options.booting_poll_seconds =
                    Some(value.parse().map_err(|e| format!("--boot-poll: {e}"))?)
            }
            other => {
                return Err(format!(
                    "unknown option {other} (use --seed, --days, --boot-jitter, --boot-poll, --short, --short-notice, --out)"
                ))
            }
        }
    }
    Ok(options)
}

async fn run(options: &Options) -> Result<(), String> {
    let base = if options.short_notice {
        WeekConfig::short_notice(options.seed)
    } else if options.short {
        WeekConfig::short(options.seed)
    } else {
        WeekConfig::default()
    };
    let config = WeekConfig {
        seed: options.seed,
        days: options.days.unwrap_or(base.days),
        boot_jitter_seconds: options.boot_jitter_seconds,
        booting_poll_seconds: options
            .booting_poll_seconds
            .unwrap_or(base.booting_poll_seconds),
        ..base
    };
    let traffic = generate(&config).map_err(|e| e.to_string())?;
    println!(
        "seed {}: {} days, {} lablets ({} classes, {} ad-hoc, {} short-notice)",
        config.seed,
        config.days,
        traffic.bookings.len(),
        traffic.classes,
        traffic.adhoc,
        traffic.short_notice
    );
    let policies: &[Policy] = if options.short_notice {
        &Policy::SHORT_NOTICE
    } else {
        &Policy::ALL
    };
    let mut reports = Vec::new();
    for &policy in policies {
        let started = Instant::now();
        let report = run_week(&config, policy)
            .await
            .map_err(|e| format!("{}: {e}", policy.as_str()))?;
        println!(
            "  {:<10} simulated in {:.1?}",
            policy.as_str(),
            started.elapsed()
        );
        reports.push(report);
    }
    let mut table = markdown_table(&reports);
    if options.short_notice {
        table.push_str(&format!(
            "\nBookings made during the week, counted from day {}:\n\n{}",
            reports.first().map_or(0, |r| r.short_notice.from_day),
            short_notice_table(&reports)
        ));
    }
    println!("\n{table}");
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let header = format!(
        "# Simulated week, seed {}\n\n{} days, {} lablets ({} classes of {}–{} students, {} ad-hoc, {} made during the week at short notice), m5zn.metal at the price table's on-demand price.\nLateness percentiles are over the late lablets.\n\n",
        config.seed,
        config.days,
        traffic.bookings.len(),
        traffic.classes,
        config.class_min_students,
        config.class_max_students,
        traffic.adhoc,
        traffic.short_notice
    );
    let json = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
    for (name, body) in [
        ("week.md", format!("{header}{table}")),
        ("week.svg", svg_chart(&reports)),
        ("week.json", json),
    ] {
        let path = options.out.join(name);
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
