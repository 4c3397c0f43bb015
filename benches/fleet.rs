//! W3 fleet benchmark: `scenarios/bench/fleet.toml` (1,000 apps, 200 groups, three services of
//! 8 instances, a request every 30 s per app for 7 days, a directory change every 3 min).
//!
//! Run: `cargo bench --bench fleet` runs the scenario 3 times with `requests.csv` off and 3
//! times with it on, writing into a temporary folder, and prints the median, min and max rate
//! in simulated requests per second of wall-clock time. Loading the scenario is not timed.
//! `events.csv` is off in both, as `run --skip events.csv` does. `timeline.csv`, `windows.csv`
//! and `changes.csv` are always written. `cargo bench --bench fleet -- on 1` runs one case once.

// A benchmark measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::Instant;

use staleauth::output::{self, OutputOptions};

fn run_once(scenario: &staleauth::Scenario, requests: bool) -> (u64, f64) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let options = OutputOptions {
        events: false,
        requests,
        report: false,
    };
    let start = Instant::now();
    let result = output::run_to_dir_with(scenario, &dir.path().join("fleet"), options)
        .expect("the fleet scenario runs");
    (result.requests, start.elapsed().as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench/fleet.toml");
    let scenario = match staleauth::scenario::load_file(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let (cases, runs): (Vec<bool>, usize) = match args.as_slice() {
        [case, runs] => (vec![case == "on"], runs.parse().expect("runs is a count")),
        _ => (vec![false, true], 3),
    };
    println!("requests.csv  requests   median_req/s  min_req/s    max_req/s");
    for requests in cases {
        let mut rates = Vec::new();
        let mut count = 0;
        for _ in 0..runs {
            let (n, seconds) = run_once(&scenario, requests);
            count = n;
            rates.push(n as f64 / seconds);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "{:<13} {count:<10} {:<12.0} {:<12.0} {:<12.0}",
            if requests { "on" } else { "off" },
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1]
        );
    }
}
