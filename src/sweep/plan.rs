//! Points, runs and their seeds, and running them in parallel.
//!
//! Points are every combination of axis values, the last axis changing fastest. Runs are numbered
//! point by point, replication by replication. A run's seed comes from the master seed, the
//! point's axis values (as `key=value` lines sorted by key) and the replication number, never from
//! an index. So adding a value to an axis, or reordering the axes, leaves every other run's seed,
//! random inputs and results unchanged.

use std::path::Path;

use rayon::prelude::*;

use super::metrics::RunMetrics;
use super::spec::Sweep;
use crate::Scenario;
use crate::engine::RandomStream;
use crate::error::Error;
use crate::scenario::{self, Override, overrides};
use crate::sim::{self, NullSink};

/// One point: a value of every axis.
#[derive(Debug, Clone)]
pub struct Point {
    /// Axis values as written in CSV files, in axis order.
    pub labels: Vec<String>,
    /// `key=value` lines sorted by key: the point's identity in seeds.
    pub identity: String,
    overrides: Vec<Override>,
    /// The scenario text with the axis values applied.
    text: String,
    /// The validated scenario, kept when no input is random so that runs skip parsing.
    scenario: Option<Scenario>,
    /// The bounds of each random input at this point.
    bounds: Vec<(u64, u64)>,
}

/// One run to do: a point and a replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSpec {
    /// Run number from 0, in point order.
    pub run: u64,
    pub point: usize,
    pub replication: u64,
}

/// A finished run, as one row of `runs.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    /// Run number from 0; written from 1.
    pub run: u64,
    /// Point number from 0; written from 1.
    pub point: u64,
    pub axes: Vec<String>,
    pub replication: u64,
    pub seed: u64,
    pub inputs: Vec<String>,
    pub metrics: RunMetrics,
}

/// A sweep ready to run: every point built and its scenario validated.
pub struct Plan {
    pub sweep: Sweep,
    pub points: Vec<Point>,
}

/// Derives the seed of one run.
pub fn run_seed(master: u64, identity: &str, replication: u64) -> u64 {
    RandomStream::new(master, &format!("run\n{identity}\n{replication}")).next_u64()
}

impl Plan {
    /// Builds every point and validates its scenario, with each random input at its lowest and
    /// at its highest value, so that bad axis values fail before any run.
    pub fn new(sweep: Sweep) -> Result<Plan, Error> {
        let mut points = Vec::new();
        for choice in combinations(&sweep) {
            points.push(build_point(&sweep, &choice)?);
        }
        Ok(Plan { sweep, points })
    }

    /// Lists every run of the sweep, in point order.
    pub fn runs(&self) -> Vec<RunSpec> {
        let r = self.sweep.replications;
        (0..self.points.len())
            .flat_map(|point| {
                (0..r).map(move |replication| RunSpec {
                    run: point as u64 * r + replication,
                    point,
                    replication,
                })
            })
            .collect()
    }

    /// Runs one run: draws its inputs, loads its scenario and simulates it.
    pub fn run(&self, spec: RunSpec) -> Result<RunRow, Error> {
        let point = &self.points[spec.point];
        let seed = run_seed(self.sweep.seed, &point.identity, spec.replication);
        let mut drawn = Vec::new();
        let mut cells = Vec::new();
        for (input, &(low, high)) in self.sweep.inputs.iter().zip(&point.bounds) {
            let mut stream = RandomStream::new(seed, &format!("input/{}", input.key));
            let value = stream.uniform_inclusive(low, high);
            cells.extend(input.cells(value));
            drawn.push(Override {
                path: input.key.clone(),
                value: input.toml(value),
                origin: "sweep random input".into(),
            });
        }
        let mut scenario = match &point.scenario {
            Some(s) => s.clone(),
            None => load(&self.sweep, &point.text, &drawn).map_err(|e| {
                Error::Usage(format!(
                    "run {} (point {}, replication {}) gives an invalid scenario:\n{e}",
                    spec.run + 1,
                    spec.point + 1,
                    spec.replication + 1
                ))
            })?,
        };
        scenario.set_seed(seed, "sweep");
        let result = sim::simulate(&scenario, &mut NullSink)?;
        Ok(RunRow {
            run: spec.run,
            point: spec.point as u64,
            axes: point.labels.clone(),
            replication: spec.replication,
            seed,
            inputs: cells,
            metrics: RunMetrics::of(&result, scenario.horizon),
        })
    }

    /// Runs `specs` on `jobs` threads and returns their rows in the order of `specs`, or the
    /// error of the first failed run in that order. `done` is called after every run.
    pub fn run_all(
        &self,
        specs: &[RunSpec],
        jobs: usize,
        done: &(dyn Fn() + Sync),
    ) -> Result<Vec<RunRow>, Error> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| Error::Internal(format!("failed to start {jobs} threads: {e}")))?;
        let results: Vec<Result<RunRow, Error>> = pool.install(|| {
            specs
                .par_iter()
                .map(|spec| {
                    let row = self.run(*spec);
                    done();
                    row
                })
                .collect()
        });
        results.into_iter().collect()
    }
}

/// Lists every combination of axis value indices, the last axis changing fastest.
fn combinations(sweep: &Sweep) -> Vec<Vec<usize>> {
    let mut all = vec![Vec::new()];
    for axis in &sweep.axes {
        all = all
            .into_iter()
            .flat_map(|prefix| {
                (0..axis.values.len()).map(move |i| {
                    let mut next = prefix.clone();
                    next.push(i);
                    next
                })
            })
            .collect();
    }
    all
}

fn build_point(sweep: &Sweep, choice: &[usize]) -> Result<Point, Error> {
    let mut labels = Vec::new();
    let mut overrides = Vec::new();
    for (axis, &i) in sweep.axes.iter().zip(choice) {
        labels.push(axis.values[i].label.clone());
        overrides.push(Override {
            path: axis.key.clone(),
            value: axis.values[i].toml.clone(),
            origin: "sweep axis".into(),
        });
    }
    let mut pairs: Vec<String> = sweep
        .axes
        .iter()
        .zip(&labels)
        .map(|(a, l)| format!("{}={l}", a.key))
        .collect();
    pairs.sort();
    let context = match pairs.is_empty() {
        true => format!("sweep `{}`", sweep.file.display()),
        false => format!(
            "point `{}` of sweep `{}`",
            pairs.join(", "),
            sweep.file.display()
        ),
    };

    let (text, _) = overrides::apply(&sweep.scenario_text, &overrides)
        .map_err(|e| Error::Usage(format!("{context}: {e}")))?;
    let bounds: Vec<(u64, u64)> = sweep
        .inputs
        .iter()
        .map(|i| i.bounds(&sweep.axes, choice))
        .collect();
    let scenario = validate_point(sweep, &text, &bounds)
        .map_err(|e| Error::Usage(format!("{context} gives an invalid scenario:\n{e}")))?;
    Ok(Point {
        labels,
        identity: pairs.join("\n"),
        overrides,
        text,
        scenario: scenario.filter(|_| sweep.inputs.is_empty()),
        bounds,
    })
}

/// Validates a point's scenario with every random input at its lowest, then at its highest
/// value; returns the scenario loaded last.
fn validate_point(
    sweep: &Sweep,
    text: &str,
    bounds: &[(u64, u64)],
) -> Result<Option<Scenario>, Error> {
    if let Some((input, (low, high))) = sweep.inputs.iter().zip(bounds).find(|(_, (l, h))| l > h) {
        return Err(Error::Usage(format!(
            "random input `{}` has min {low} above max {high}",
            input.key
        )));
    }
    // With no random input, one load validates the point.
    let ends: &[bool] = if sweep.inputs.is_empty() {
        &[false]
    } else {
        &[false, true]
    };
    let mut scenario = None;
    for &highest in ends {
        let drawn: Vec<Override> = sweep
            .inputs
            .iter()
            .zip(bounds)
            .map(|(i, b)| Override {
                path: i.key.clone(),
                value: i.toml(if highest { b.1 } else { b.0 }),
                origin: "sweep random input".into(),
            })
            .collect();
        scenario = Some(load(sweep, text, &drawn)?);
    }
    Ok(scenario)
}

/// Applies overrides to scenario text and validates it against the base scenario's path.
fn load(sweep: &Sweep, text: &str, drawn: &[Override]) -> Result<Scenario, Error> {
    let path: &Path = &sweep.scenario_path;
    let (edited, _) = overrides::apply(text, drawn).map_err(|e| Error::Usage(e.to_string()))?;
    scenario::load_str(&edited, path).map_err(Error::from)
}

impl Point {
    /// Returns the overrides that set this point's axis values.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }
}
