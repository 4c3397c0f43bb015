//! Sweep throughput: a 10,000-run sweep of a shipped sweep file, with 1 and with 2 jobs.
//!
//! Run with `cargo bench --bench sweep`. It prints runs per second for each job count; the
//! numbers are wall-clock and depend on what else the machine runs. docs/performance.md records
//! them with the machine.

use std::path::Path;
use std::time::Instant;

use staleauth::sweep::{Plan, spec};

/// `scenarios/sweeps/client-cache-stale-deny.toml` has 4 points, so 2,500 replications give
/// 10,000 runs.
const SWEEP: &str = "scenarios/sweeps/client-cache-stale-deny.toml";
const REPLICATIONS: u64 = 2_500;

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SWEEP);
    let (mut sweep, text) = match spec::load_file(&path) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{e}"),
    };
    sweep.set_replications(REPLICATIONS, &text);
    let plan = Plan::new(sweep).expect("the shipped sweep is valid");
    let runs = plan.runs();
    println!("sweep {SWEEP}: {} runs", runs.len());
    let mut first = None;
    for jobs in [1, 2] {
        #[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
        let started = Instant::now();
        let rows = plan
            .run_all(&runs, jobs, &|| {})
            .expect("every run succeeds");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "jobs {jobs}: {:.2} s, {:.0} runs/s",
            seconds,
            runs.len() as f64 / seconds
        );
        // The job count must not change a row.
        match &first {
            None => first = Some(rows),
            Some(expected) => assert!(*expected == rows, "rows differ between job counts"),
        }
    }
}
