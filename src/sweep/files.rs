//! The files of a sweep folder (`runs.csv`, `points.csv`, `sweep.toml`), and reading shard
//! folders back for `merge`.
//!
//! A folder is written under a hidden sibling name and renamed into place when complete, as
//! single runs are. Shard folders hold `runs.csv` with their share of the rows and a `sweep.toml`
//! that names the shard; `merge` checks that the shards belong together, puts the rows back in
//! run order and writes the same bytes an unsharded sweep writes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::metrics::{self, INTEGER_METRICS, RunMetrics, Unit};
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

/// What identifies a sweep's output: `sweep.toml`.
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

/// The bytes of `runs.csv`: one row per run, in run order.
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

/// The bytes of `points.csv`: one row per point and metric.
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

fn hidden_sibling(out: &Path, suffix: &str) -> Result<PathBuf, Error> {
    let name = out.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "invalid output folder `{}`: it has no final name",
            out.display()
        ))
    })?;
    let mut hidden = std::ffi::OsString::from(".");
    hidden.push(name);
    hidden.push(suffix);
    Ok(out.with_file_name(hidden))
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
    hidden_sibling(out, ".partial")?;
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
    let partial = hidden_sibling(out, ".partial")?;
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
    let old = hidden_sibling(out, ".old")?;
    if old.exists() {
        fs::remove_dir_all(&old)
            .map_err(|e| Error::io(format!("failed to remove `{}`", old.display()), e))?;
    }
    if out.exists() {
        fs::rename(out, &old)
            .map_err(|e| Error::io(format!("failed to replace `{}`", out.display()), e))?;
    }
    fs::rename(&partial, out).map_err(|e| {
        Error::io(
            format!("failed to move results into `{}`", out.display()),
            e,
        )
    })?;
    if old.exists() {
        fs::remove_dir_all(&old)
            .map_err(|e| Error::io(format!("failed to remove `{}`", old.display()), e))?;
    }
    Ok(())
}

/// One shard folder read back.
struct ShardFolder {
    dir: PathBuf,
    manifest: Manifest,
    index: u64,
    count: u64,
    columns: Columns,
    rows: Vec<RunRow>,
}

/// Parses `I/N` with 1 <= I <= N.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let invalid =
        || format!("invalid shard `{text}`: expected `I/N` with 1 <= I <= N, for example `2/4`");
    let (i, n) = text.split_once('/').ok_or_else(invalid)?;
    let i: u64 = i.trim().parse().map_err(|_| invalid())?;
    let n: u64 = n.trim().parse().map_err(|_| invalid())?;
    if i == 0 || i > n {
        return Err(invalid());
    }
    Ok((i, n))
}

fn read_shard(dir: &Path) -> Result<ShardFolder, Error> {
    let manifest_path = dir.join("sweep.toml");
    let text = fs::read_to_string(&manifest_path).map_err(|e| {
        Error::io(
            format!(
                "failed to read `{}`; is it a shard folder?",
                manifest_path.display()
            ),
            e,
        )
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "invalid `{}`: {}",
            manifest_path.display(),
            e.message().trim()
        ))
    })?;
    let Some(shard) = &manifest.shard else {
        return Err(Error::Usage(format!(
            "`{}` is a complete sweep, not a shard; merge only folders written with --shard",
            dir.display()
        )));
    };
    let (index, count) = parse_shard(shard)
        .map_err(|e| Error::Usage(format!("in `{}`: {e}", manifest_path.display())))?;
    let (columns, rows) = read_runs(&dir.join("runs.csv"))?;
    Ok(ShardFolder {
        dir: dir.to_path_buf(),
        manifest,
        index,
        count,
        columns,
        rows,
    })
}

fn read_runs(path: &Path) -> Result<(Columns, Vec<RunRow>), Error> {
    let bad = |what: String| Error::Usage(format!("invalid `{}`: {what}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| {
        Error::io(
            format!("failed to read `{}`", path.display()),
            std::io::Error::other(e),
        )
    })?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(String::from)
        .collect();
    let columns = columns_of(&header).ok_or_else(|| bad("unexpected header".into()))?;
    let n_axes = columns.axes.len();
    let n_inputs = columns.inputs.len();
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let cells: Vec<&str> = record.iter().collect();
        let number = |i: usize| -> Result<u64, Error> {
            cells[i].parse().map_err(|_| {
                bad(format!(
                    "row {}: `{}` is not an integer in column `{}`",
                    line + 2,
                    cells[i],
                    header[i]
                ))
            })
        };
        let mut values = [0u64; INTEGER_METRICS];
        let first_metric = 4 + n_axes + n_inputs;
        for (m, v) in values.iter_mut().enumerate() {
            *v = number(first_metric + m)?;
        }
        let run = number(0)?;
        let point = number(1)?;
        let replication = number(2 + n_axes)?;
        if run == 0 || point == 0 || replication == 0 {
            return Err(bad(format!(
                "row {}: run, point and replication count from 1",
                line + 2
            )));
        }
        rows.push(RunRow {
            run: run - 1,
            point: point - 1,
            axes: cells[2..2 + n_axes].iter().map(|s| s.to_string()).collect(),
            replication: replication - 1,
            seed: number(3 + n_axes)?,
            inputs: cells[4 + n_axes..first_metric]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            metrics: RunMetrics(values),
        });
    }
    Ok((columns, rows))
}

/// Splits a `runs.csv` header into axis and input columns; `None` if it is not one.
fn columns_of(header: &[String]) -> Option<Columns> {
    let metrics_start = header.len().checked_sub(metrics::NAMES.len())?;
    if header[metrics_start..] != metrics::NAMES.map(String::from) {
        return None;
    }
    if header.first()? != "run" || header.get(1)? != "point" {
        return None;
    }
    let replication = header.iter().position(|h| h == "replication")?;
    if header.get(replication + 1)? != "seed" || replication + 2 > metrics_start {
        return None;
    }
    Some(Columns {
        axes: header[2..replication].to_vec(),
        inputs: header[replication + 2..metrics_start].to_vec(),
    })
}

/// Reads shard folders and returns the complete sweep's manifest, columns and rows in run
/// order. Rejects shards of different sweeps, a missing or repeated shard, and rows that are not
/// exactly the shard's share of the runs.
pub fn merge(dirs: &[PathBuf]) -> Result<(Manifest, Columns, Vec<RunRow>), Error> {
    let shards: Vec<ShardFolder> = dirs
        .iter()
        .map(|d| read_shard(d))
        .collect::<Result<_, _>>()?;
    let first = shards
        .first()
        .ok_or_else(|| Error::Usage("merge needs at least one shard folder".into()))?;
    check_shard_set(&shards)?;
    let rows = collect_rows(&shards, first.manifest.runs)?;
    let manifest = Manifest {
        shard: None,
        ..first.manifest.clone()
    };
    Ok((manifest, first.columns.clone(), rows))
}

/// Rejects shards of different sweeps or shard counts, and a shard missing or given twice.
fn check_shard_set(shards: &[ShardFolder]) -> Result<(), Error> {
    let first = &shards[0];
    let same = |s: &ShardFolder| Manifest {
        shard: None,
        ..s.manifest.clone()
    };
    for s in &shards[1..] {
        if same(s) != same(first) || s.count != first.count || s.columns != first.columns {
            return Err(Error::Usage(format!(
                "`{}` (sweep `{}`, fingerprint {}, {} shards) and `{}` (sweep `{}`, fingerprint {}, {} shards) come from different sweeps or shard counts; merge only shards of one sweep file, base scenario, replication count and shard count",
                first.dir.display(),
                first.manifest.sweep,
                first.manifest.fingerprint,
                first.count,
                s.dir.display(),
                s.manifest.sweep,
                s.manifest.fingerprint,
                s.count
            )));
        }
    }
    let mut by_index: BTreeMap<u64, &ShardFolder> = BTreeMap::new();
    for s in shards {
        if let Some(other) = by_index.insert(s.index, s) {
            return Err(Error::Usage(format!(
                "shard {}/{} is given twice: `{}` and `{}`",
                s.index,
                s.count,
                other.dir.display(),
                s.dir.display()
            )));
        }
    }
    let missing: Vec<String> = (1..=first.count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{}", first.count))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "missing shard(s): {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Puts the shards' rows back in run order, checking that each shard holds exactly its runs.
fn collect_rows(shards: &[ShardFolder], total: u64) -> Result<Vec<RunRow>, Error> {
    let count = shards[0].count;
    let mut slots: Vec<Option<RunRow>> = vec![None; total as usize];
    for s in shards {
        for row in &s.rows {
            let fits = row.run < total && row.run % s.count == s.index - 1;
            let slot = slots
                .get_mut(row.run as usize)
                .filter(|_| fits)
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "`{}` has run {}, which is not in shard {}/{}",
                        s.dir.display(),
                        row.run + 1,
                        s.index,
                        s.count
                    ))
                })?;
            if slot.replace(row.clone()).is_some() {
                return Err(Error::Usage(format!(
                    "`{}` has run {} twice",
                    s.dir.display(),
                    row.run + 1
                )));
            }
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                Error::Usage(format!(
                    "run {} is missing from shard {}/{}",
                    i + 1,
                    i as u64 % count + 1,
                    count
                ))
            })
        })
        .collect()
}
