//! Reading shard folders back and merging them into the rows of a complete sweep.
//!
//! `merge` checks that the shards come from one sweep and one shard count, that each shard is
//! given once and holds exactly its runs, and puts the rows back in run order. Writing them with
//! [`super::files`] then gives the same bytes an unsharded sweep writes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::files::{Columns, Manifest};
use super::metrics::{self, INTEGER_METRICS, RunMetrics};
use super::plan::RunRow;
use crate::error::Error;

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
    if total > super::spec::MAX_RUNS {
        return Err(Error::Usage(format!(
            "`{}` declares {total} runs, more than the limit of {}; is it a staleauth shard?",
            shards[0].dir.display(),
            super::spec::MAX_RUNS
        )));
    }
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
