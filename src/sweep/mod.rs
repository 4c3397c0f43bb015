//! Parameter sweeps and Monte Carlo replications of one base scenario.
//!
//! A sweep file names a base scenario, axes (scenario values by dotted path, each with a list of
//! values) and random inputs (values drawn for every run). Every combination of axis values is a
//! *point*; each point runs `replications` times, and each run is one simulation with its own
//! seed and drawn inputs. Runs go to a thread pool and come back in run order, so the output
//! bytes never depend on the thread count. A *shard* `I/N` runs every run whose number, counted
//! from 0, leaves remainder I - 1 when divided by N; `merge` puts shards back together.
//!
//! The pipeline: [`spec`] (read and check the sweep file) → [`plan`] (points, seeds, parallel
//! runs) → [`metrics`] (per run) → [`stats`] (per point) → [`check`] (budgets) → [`files`]
//! (CSV files) → [`merge`] (shards back into one sweep).

pub mod check;
pub mod files;
pub mod merge;
pub mod metrics;
pub mod plan;
pub mod spec;
pub mod stats;

use check::Check;
use files::{Columns, Manifest, PointSummary};
use plan::{RunRow, RunSpec};
use spec::Sweep;

use crate::error::Error;

pub use plan::Plan;

/// Files to write into a sweep folder: (file name, contents).
pub type FileList = Vec<(&'static str, Vec<u8>)>;

/// Lists the parameter columns of a sweep's CSV files.
pub fn columns(sweep: &Sweep) -> Columns {
    Columns {
        axes: sweep.axes.iter().map(|a| a.key.clone()).collect(),
        inputs: sweep.inputs.iter().flat_map(|i| i.columns()).collect(),
    }
}

/// Builds the manifest of a complete sweep (`shard` `None`) or of one shard `(I, N)`, with every
/// check to run on it: the sweep file's and the command line's.
pub fn manifest(sweep: &Sweep, checks: &[Check], shard: Option<(u64, u64)>) -> Manifest {
    Manifest {
        sweep: sweep.name.clone(),
        fingerprint: format!("{:016x}", sweep.fingerprint),
        replications: sweep.replications,
        points: sweep.point_count(),
        runs: sweep.point_count() * sweep.replications,
        checks: checks.iter().map(|c| c.text.clone()).collect(),
        shard: shard.map(|(i, n)| format!("{i}/{n}")),
    }
}

/// Selects the runs of shard `I/N` (1 <= I <= N): those whose number from 0 leaves remainder
/// I - 1.
pub fn shard_runs(runs: &[RunSpec], index: u64, count: u64) -> Vec<RunSpec> {
    runs.iter()
        .filter(|r| r.run % count == index - 1)
        .copied()
        .collect()
}

/// Formats the files of a complete sweep, and returns them with the per-point statistics they
/// hold.
pub fn complete_files(
    manifest: &Manifest,
    columns: &Columns,
    rows: &[RunRow],
) -> Result<(FileList, Vec<PointSummary>), Error> {
    let points = files::summarize(rows);
    let list = vec![
        ("runs.csv", files::runs_csv(columns, rows)?),
        ("points.csv", files::points_csv(columns, &points)?),
        ("sweep.toml", manifest.to_text().into_bytes()),
    ];
    Ok((list, points))
}

/// Formats the files of one shard: its rows and its manifest.
pub fn shard_files(
    manifest: &Manifest,
    columns: &Columns,
    rows: &[RunRow],
) -> Result<FileList, Error> {
    Ok(vec![
        ("runs.csv", files::runs_csv(columns, rows)?),
        ("sweep.toml", manifest.to_text().into_bytes()),
    ])
}

/// Parses check texts, from the command line or a manifest.
pub fn parse_checks(texts: &[String], origin: &str) -> Result<Vec<Check>, Error> {
    texts
        .iter()
        .map(|t| {
            Check::parse(t).map_err(|e| {
                Error::Usage(format!("{} ({origin})\n  = help: {}", e.message, e.help))
            })
        })
        .collect()
}
