//! The files of a sweep folder: `runs.csv`, `points.csv` and `sweep.toml`.
//!
//! A folder is written under a hidden sibling name and renamed into place when complete, as
//! single runs are. Shard folders hold `runs.csv` with their share of the rows and a `sweep.toml`
//! that names the shard; [`super::merge`] reads them back.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use super::metrics::{self, Unit};
use super::plan::RunRow;
use super::stats::Summary;
use crate::error::Error;

/// Every file a sweep folder may hold; a folder with anything else is never replaced.
pub const FILES: [&str; 3] = ["runs.csv", "points.csv", "sweep.toml"];

/// The parameter columns of `runs.csv` and `points.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// One column per axis, named by its key path.
    pub axes: Vec<String>,
    /// The columns of the random inputs (`KEY_ms` and `KEY` for durations).
    pub inputs: Vec<String>,
}

/// The statistics of every metric at one point.
#[derive(Debug, Clone)]
pub struct PointSummary {
    /// Point number from 0.
    pub point: u64,
    pub labels: Vec<String>,
    /// One summary per metric, in the order of [`metrics::NAMES`].
    pub metrics: Vec<Summary>,
}

/// The identity of a sweep's output, written as `sweep.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub sweep: String,
    /// The sweep's fingerprint, 16 hexadecimal digits.
    pub fingerprint: String,
    pub replications: u64,
    pub points: u64,
    pub runs: u64,
    pub checks: Vec<String>,
    /// `I/N` in shard folders; absent in a complete sweep.
    pub shard: Option<String>,
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

impl Manifest {
    pub fn to_text(&self) -> String {
        let checks: Vec<String> = self.checks.iter().map(|c| quote(c)).collect();
        let mut text = format!(
            "# Written by staleauth; `staleauth merge` reads it to match the shards of one sweep.\n\
             sweep = {}\nfingerprint = {}\nreplications = {}\npoints = {}\nruns = {}\nchecks = [{}]\n",
            quote(&self.sweep),
            quote(&self.fingerprint),
            self.replications,
            self.points,
            self.runs,
            checks.join(", ")
        );
        if let Some(shard) = &self.shard {
            text.push_str(&format!("shard = {}\n", quote(shard)));
        }
        text
    }
}

fn csv_bytes(header: &[String], rows: impl Iterator<Item = Vec<String>>) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("failed to format CSV: {e}"));
    w.write_record(header).map_err(fail)?;
    for row in rows {
        w.write_record(&row).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(format!("failed to format CSV: {e}")))
}

/// Formats `runs.csv`: one row per run, in run order.
pub fn runs_csv(columns: &Columns, rows: &[RunRow]) -> Result<Vec<u8>, Error> {
    let mut header = vec!["run".to_string(), "point".to_string()];
    header.extend(columns.axes.iter().cloned());
    header.extend(["replication".to_string(), "seed".to_string()]);
    header.extend(columns.inputs.iter().cloned());
    header.extend(metrics::NAMES.iter().map(|n| n.to_string()));
    let cells = rows.iter().map(|r| {
        let mut cells = vec![(r.run + 1).to_string(), (r.point + 1).to_string()];
        cells.extend(r.axes.iter().cloned());
        cells.extend([(r.replication + 1).to_string(), r.seed.to_string()]);
        cells.extend(r.inputs.iter().cloned());
        cells.extend(r.metrics.cells());
        cells
    });
    csv_bytes(&header, cells)
}

/// Summarizes every point of rows given in run order.
pub fn summarize(rows: &[RunRow]) -> Vec<PointSummary> {
    let mut points: Vec<PointSummary> = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let point = rows[start].point;
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| r.point == point)
                .count();
        let group = &rows[start..end];
        let summaries = (0..metrics::NAMES.len())
            .map(|m| {
                let values: Vec<f64> = group.iter().map(|r| r.metrics.value(m)).collect();
                Summary::of(&values)
            })
            .collect();
        points.push(PointSummary {
            point,
            labels: rows[start].axes.clone(),
            metrics: summaries,
        });
        start = end;
    }
    points
}

/// Formats a statistic: a run's own value (quantile, max) as the metric is written in
/// `runs.csv`, a computed one (mean, interval) with 3 decimals, or 6 for a share.
fn format_stat(metric: usize, value: f64, computed: bool) -> String {
    match (metrics::unit(metric), computed) {
        (Unit::Share, _) => format!("{value:.6}"),
        (_, true) => format!("{value:.3}"),
        (_, false) => format!("{}", value as u64),
    }
}

/// Formats `points.csv`: one row per point and metric.
pub fn points_csv(columns: &Columns, points: &[PointSummary]) -> Result<Vec<u8>, Error> {
    let mut header = vec!["point".to_string()];
    header.extend(columns.axes.iter().cloned());
    header.extend(
        [
            "metric", "runs", "mean", "p50", "p90", "p99", "max", "ci_low", "ci_high",
        ]
        .map(String::from),
    );
    let mut rows = Vec::new();
    for p in points {
        for (m, s) in p.metrics.iter().enumerate() {
            let mut cells = vec![(p.point + 1).to_string()];
            cells.extend(p.labels.iter().cloned());
            let (low, high) = match s.ci {
                Some((low, high)) => (format_stat(m, low, true), format_stat(m, high, true)),
                None => (String::new(), String::new()),
            };
            cells.extend([
                metrics::NAMES[m].to_string(),
                s.count.to_string(),
                format_stat(m, s.mean, true),
                format_stat(m, s.p50, false),
                format_stat(m, s.p90, false),
                format_stat(m, s.p99, false),
                format_stat(m, s.max, false),
                low,
                high,
            ]);
            rows.push(cells);
        }
    }
    csv_bytes(&header, rows.into_iter())
}

fn is_sweep_folder(dir: &Path) -> Result<bool, Error> {
    let list_error = |e| Error::io(format!("failed to list `{}`", dir.display()), e);
    for entry in fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let known = entry
            .file_name()
            .to_str()
            .is_some_and(|n| FILES.contains(&n));
        if !known || !entry.path().is_file() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Checks that `out` can receive a sweep folder, before any run starts.
pub fn check_out(out: &Path) -> Result<(), Error> {
    crate::output::sibling(out, ".partial")?;
    if out.exists() && !(out.is_dir() && is_sweep_folder(out)?) {
        return Err(Error::Usage(format!(
            "`{}` exists and is not a staleauth sweep folder; choose another --out or remove it",
            out.display()
        )));
    }
    Ok(())
}

/// Writes `files` into `out` under a hidden name, then renames it into place, replacing an old
/// sweep folder.
pub fn write_folder(out: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), Error> {
    check_out(out)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("failed to create `{}`", parent.display()), e))?;
    }
    let partial = crate::output::sibling(out, ".partial")?;
    if partial.exists() {
        fs::remove_dir_all(&partial)
            .map_err(|e| Error::io(format!("failed to remove `{}`", partial.display()), e))?;
    }
    fs::create_dir(&partial)
        .map_err(|e| Error::io(format!("failed to create `{}`", partial.display()), e))?;
    for (name, bytes) in files {
        let path = partial.join(name);
        let written = fs::File::create(&path).and_then(|mut f| {
            std::io::Write::write_all(&mut f, bytes)?;
            f.sync_all()
        });
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&partial);
            return Err(Error::io(
                format!("failed to write `{}`", path.display()),
                e,
            ));
        }
    }
    crate::output::move_into_place(&partial, out)
}
