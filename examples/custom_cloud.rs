//! ccm's engine on another cloud: *Nimbus*, a small fictional provider behind
//! ccm-core's `CloudProvider` port (`examples/src/custom_cloud.rs`, which passes
//! the port's conformance suite). The engine creates a worker — Nimbus builds a
//! server for it — stops it and starts it again, and the example prints what
//! ccm recorded beside what the Nimbus console shows.
//!
//! ```text
//! cargo run -p ccm-examples --example custom_cloud
//! ```
//!
//! Everything runs on a virtual clock, so the same story prints in well under a
//! second.

use std::process::ExitCode;

use ccm_examples::custom_cloud::tour::{tour, FLAVOR};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("custom_cloud: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let tour = match runtime.block_on(tour()) {
        Ok(tour) => tour,
        Err(error) => {
            eprintln!("custom_cloud: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "ccm on Nimbus, a fictional cloud behind ccm's CloudProvider port ({FLAVOR} servers)\n"
    );
    for line in &tour.lines {
        println!("  {line}");
    }
    let calls: Vec<String> = tour
        .calls
        .iter()
        .map(|(operation, count)| format!("{operation} ×{count}"))
        .collect();
    println!("\nNimbus API calls: {}", calls.join(", "));
    ExitCode::SUCCESS
}
