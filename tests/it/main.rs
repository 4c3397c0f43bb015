//! Integration tests, one binary organised by behaviour:
//! - `cases`: each shipped scenario from a public report, against windows derived by hand;
//! - `docs_cases`: the scenarios behind docs/propagation-delays.md, the same way;
//! - `properties`: determinism, order independence, no window with every cache off, bounds;
//! - `model`: single rules of the model on small inline scenarios;
//! - `cli`: the command line, its exit codes and its output folder;
//! - `invalid`: the corpus of invalid scenarios in `tests/invalid/` against its stderr snapshots;
//! - `mutations`: the loader on mutated shipped scenarios, which must never panic;
//! - `report`: reports, figures and `explain`;
//! - `sweeps`: sweep seeds, thread count and sharding, merge, checks, the shipped sweeps;
//! - `tidy`: checks on the source tree itself.

mod cases;
mod cli;
mod docs_cases;
mod invalid;
mod model;
mod mutations;
mod properties;
mod report;
mod sweeps;
mod tidy;

use std::path::{Path, PathBuf};

use staleauth::Scenario;
use staleauth::error::Error;
use staleauth::observe::tracker::Transition;
use staleauth::observe::{Window, WindowKind};
use staleauth::sim::{self, EventRow, NullSink, RequestRow, RunResult, Sink};

/// Returns the path of a file in the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Loads a shipped scenario by file name, panicking with the rendered diagnostics if it is invalid.
pub fn load(name: &str) -> Scenario {
    let path = repo_path(&format!("scenarios/{name}"));
    match staleauth::scenario::load_file(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Loads a scenario from text, panicking with the rendered diagnostics if it is invalid.
pub fn load_text(text: &str) -> Scenario {
    match staleauth::scenario::load_str(text, Path::new("inline.toml")) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Runs a scenario in memory.
pub fn simulate(scenario: &Scenario) -> RunResult {
    sim::simulate(scenario, &mut NullSink).expect("simulation succeeds")
}

/// Milliseconds in `h` hours, `m` minutes and `s` seconds.
pub fn hms(h: u64, m: u64, s: u64) -> u64 {
    ((h * 60 + m) * 60 + s) * 1_000
}

/// A window reduced to what the cases state: probe name, instance, kind, start, end, cause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub probe: String,
    pub instance: usize,
    pub kind: WindowKind,
    pub start_ms: u64,
    pub end_ms: u64,
    pub cause: String,
    pub censored: bool,
}

/// Lists the windows of a run in a form that tests compare with hand-derived values.
pub fn seen(scenario: &Scenario, windows: &[Window]) -> Vec<Seen> {
    let mut out: Vec<Seen> = windows
        .iter()
        .map(|w| Seen {
            probe: scenario.probes[w.probe].name.clone(),
            instance: w.instance,
            kind: w.kind,
            start_ms: w.start.ms(),
            end_ms: w.end.ms(),
            cause: w.cause_label(),
            censored: w.censored,
        })
        .collect();
    out.sort();
    out
}

/// A sink that keeps every simulated request, for the request-level facts that the cases state.
#[derive(Default)]
pub struct RequestLog {
    pub rows: Vec<RequestRow>,
}

impl Sink for RequestLog {
    fn event(&mut self, _: &EventRow) -> Result<(), Error> {
        Ok(())
    }

    fn request(&mut self, row: &RequestRow) -> Result<(), Error> {
        self.rows.push(row.clone());
        Ok(())
    }

    fn transition(&mut self, _: &Transition) -> Result<(), Error> {
        Ok(())
    }
}
