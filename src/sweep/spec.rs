//! The sweep file: TOML deserialized as written, then checked into a [`Sweep`].
//!
//! ```toml
//! name = "token-lifetime"            # default: the file name without .toml
//! scenario = "../base.toml"          # relative to this file
//! seed = 1                           # master seed; default 1
//! replications = 100                 # runs per point; default 1
//! checks = ["p99(stale_allow_max_ms) <= 8h"]
//!
//! [[axes]]
//! key = "platform.token_lifetime"    # any scenario value by dotted path
//! values = ["1h", "8h", "24h5m"]     # or range = { from = "5m", to = "30m", step = "5m" }
//!
//! [[random]]
//! key = "events.0.at"                # drawn per run
//! uniform = { min = "0s", max = "8h" }  # or max = { axis = "platform.token_lifetime" }
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::check::Check;
use crate::engine::rng::fnv1a64;
use crate::error::{Diagnostic, ScenarioError};
use crate::time::{format_duration, parse_duration};

type Text = Spanned<String>;

/// Most points one sweep may have, so that a mistyped range step fails fast instead of
/// enumerating billions of points.
pub const MAX_POINTS: u64 = 1_000_000;

/// Most runs one sweep may have (points times replications). Every row is kept in memory until
/// the files are written, at a few hundred bytes each, so this bounds memory to a few gigabytes.
pub const MAX_RUNS: u64 = 10_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    name: Option<Text>,
    scenario: Text,
    seed: Option<Spanned<u64>>,
    replications: Option<Spanned<u64>>,
    #[serde(default)]
    checks: Vec<Text>,
    #[serde(default)]
    axes: Vec<RawAxis>,
    #[serde(default)]
    random: Vec<RawRandom>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAxis {
    key: Text,
    values: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    range: Option<Spanned<RawRange>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Spanned<toml::Value>,
    to: Spanned<toml::Value>,
    step: Spanned<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRandom {
    key: Text,
    uniform: Spanned<RawUniform>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUniform {
    min: Spanned<toml::Value>,
    max: Spanned<toml::Value>,
}

/// One value of an axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisValue {
    /// The value as TOML text, handed to the scenario override: `"8h"` (quoted), `4`.
    pub toml: String,
    /// The value as written in CSV files and seeds: `8h`, `4`.
    pub label: String,
}

/// A scenario value that takes each of a list of values in turn.
#[derive(Debug, Clone)]
pub struct Axis {
    pub key: String,
    pub values: Vec<AxisValue>,
}

/// Whether a number is a duration (milliseconds, written like `8h`) or a plain integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Duration,
    Integer,
}

/// A bound of a random input: a number, or the point's value of an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Fixed(u64),
    /// Index of the axis whose value at the point is the bound.
    Axis(usize),
}

/// A scenario value drawn uniformly from `low..=high` for every run.
#[derive(Debug, Clone)]
pub struct RandomInput {
    pub key: String,
    pub unit: Unit,
    pub low: Bound,
    pub high: Bound,
}

impl RandomInput {
    /// Resolves the bounds at a point, given as one value index per axis.
    pub fn bounds(&self, axes: &[Axis], choice: &[usize]) -> (u64, u64) {
        let resolve = |bound: Bound| match bound {
            Bound::Fixed(n) => n,
            Bound::Axis(a) => {
                axis_number(&axes[a].values[choice[a]])
                    .expect("checked when the sweep was loaded")
                    .1
            }
        };
        (resolve(self.low), resolve(self.high))
    }

    /// Formats a drawn value as TOML text for the scenario override.
    pub fn toml(&self, value: u64) -> String {
        match self.unit {
            Unit::Duration => format!("\"{}\"", format_duration(value)),
            Unit::Integer => value.to_string(),
        }
    }

    /// Names the columns in `runs.csv`: `KEY_ms` and `KEY` for a duration, `KEY` for an integer.
    pub fn columns(&self) -> Vec<String> {
        match self.unit {
            Unit::Duration => vec![format!("{}_ms", self.key), self.key.clone()],
            Unit::Integer => vec![self.key.clone()],
        }
    }

    /// Formats the cells in `runs.csv`, matching [`RandomInput::columns`].
    pub fn cells(&self, value: u64) -> Vec<String> {
        match self.unit {
            Unit::Duration => vec![value.to_string(), format_duration(value)],
            Unit::Integer => vec![value.to_string()],
        }
    }
}

/// A checked sweep file with its base scenario's text.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    pub file: PathBuf,
    pub scenario_path: PathBuf,
    pub scenario_text: String,
    pub seed: u64,
    pub replications: u64,
    pub checks: Vec<Check>,
    pub axes: Vec<Axis>,
    pub inputs: Vec<RandomInput>,
    /// FNV-1a hash of the sweep text, the base scenario text and the replication count, so that
    /// `merge` can tell shards of different sweeps apart.
    pub fingerprint: u64,
}

impl Sweep {
    /// Replaces the number of replications, as `--replications` does.
    pub fn set_replications(&mut self, replications: u64, sweep_text: &str) {
        self.replications = replications;
        self.fingerprint = fingerprint(sweep_text, &self.scenario_text, replications);
    }

    /// Number of points: the product of the axes' value counts (1 with no axis), saturating at
    /// `u64::MAX`.
    pub fn point_count(&self) -> u64 {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64))
            .unwrap_or(u64::MAX)
    }

    /// Checks the number of points and runs against [`MAX_POINTS`] and [`MAX_RUNS`].
    pub fn check_size(&self) -> Result<(), String> {
        let points = self.point_count();
        if points > MAX_POINTS {
            return Err(format!(
                "the axes give {points} points, more than the limit of {MAX_POINTS}"
            ));
        }
        match points.checked_mul(self.replications) {
            Some(runs) if runs <= MAX_RUNS => Ok(()),
            _ => Err(format!(
                "{points} points times {} replications is more than the limit of {MAX_RUNS} runs; split the sweep into several files",
                self.replications
            )),
        }
    }
}

fn fingerprint(sweep_text: &str, scenario_text: &str, replications: u64) -> u64 {
    fnv1a64(&format!(
        "{sweep_text}\u{0}{scenario_text}\u{0}{replications}"
    ))
}

/// Reads and checks a sweep file and the base scenario it names.
pub fn load_file(path: &Path) -> Result<(Sweep, String), crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::Error::io(format!("failed to read sweep file `{}`", path.display()), e)
    })?;
    let sweep = load_str(&text, path).map_err(sweep_file_error)?;
    Ok((sweep, text))
}

/// Renders a sweep file's diagnostics as scenario errors are rendered, but with a closing line
/// that names a sweep file rather than a scenario.
fn sweep_file_error(e: ScenarioError) -> crate::Error {
    let n = e.diagnostics.len();
    let rendered = e.to_string();
    let body = rendered.rsplit_once('\n').map_or("", |(body, _)| body);
    // `main` prefixes a usage error with `error: `, which the first diagnostic already has.
    let body = body.strip_prefix("error: ").unwrap_or(body);
    crate::Error::Usage(format!(
        "{body}\nerror: sweep file `{}` has {n} problem{}",
        e.file.display(),
        if n == 1 { "" } else { "s" }
    ))
}

/// Checks sweep text; `file` names it in diagnostics and locates the base scenario.
pub fn load_str(text: &str, file: &Path) -> Result<Sweep, ScenarioError> {
    let fail = |diagnostics| ScenarioError {
        file: file.to_path_buf(),
        text: text.to_string(),
        diagnostics,
    };
    let raw: RawSweep = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let mut d = Diagnostic::new(e.message().trim().to_string());
            if let Some(span) = e.span() {
                d = d.span(span);
            }
            return Err(fail(vec![d]));
        }
    };
    let mut diagnostics = Vec::new();
    let sweep = build(raw, file, text, &mut diagnostics);
    match sweep {
        Some(s) if diagnostics.is_empty() => Ok(s),
        _ => Err(fail(diagnostics)),
    }
}

fn build(raw: RawSweep, file: &Path, text: &str, out: &mut Vec<Diagnostic>) -> Option<Sweep> {
    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            out.push(
                Diagnostic::new("empty sweep name")
                    .key("name")
                    .span(n.span()),
            );
            String::new()
        }
        Some(n) => n.get_ref().clone(),
        None => file
            .file_stem()
            .map_or("sweep".to_string(), |s| s.to_string_lossy().into_owned()),
    };
    let replications = raw.replications.as_ref().map_or(1, |r| *r.get_ref());
    if let Some(r) = raw.replications.as_ref().filter(|r| *r.get_ref() == 0) {
        out.push(
            Diagnostic::new("`replications` must be at least 1")
                .key("replications")
                .span(r.span()),
        );
    }
    let scenario = read_scenario(&raw.scenario, file, out);
    let checks = build_checks(&raw.checks, out);
    let axes: Vec<Axis> = raw
        .axes
        .iter()
        .enumerate()
        .filter_map(|(i, a)| build_axis(a, i, out))
        .collect();
    let inputs: Vec<RandomInput> = raw
        .random
        .iter()
        .enumerate()
        .filter_map(|(i, r)| build_random(r, i, &axes, out))
        .collect();
    check_keys(&raw, out);
    let sweep = Sweep {
        name,
        file: file.to_path_buf(),
        scenario_path: scenario.as_ref()?.0.clone(),
        scenario_text: String::new(),
        seed: raw.seed.as_ref().map_or(1, |s| *s.get_ref()),
        replications,
        checks,
        axes,
        inputs,
        fingerprint: 0,
    };
    if let Err(message) = sweep.check_size() {
        out.push(Diagnostic::new(message));
    }
    let scenario_text = scenario?.1;
    Some(Sweep {
        fingerprint: fingerprint(text, &scenario_text, replications),
        scenario_text,
        ..sweep
    })
}

fn read_scenario(raw: &Text, file: &Path, out: &mut Vec<Diagnostic>) -> Option<(PathBuf, String)> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let path = dir.join(raw.get_ref());
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((path, text)),
        Err(e) => {
            out.push(
                Diagnostic::new(format!(
                    "failed to read base scenario `{}`: {e}",
                    path.display()
                ))
                .key("scenario")
                .span(raw.span())
                .help("the path is relative to the folder of the sweep file"),
            );
            None
        }
    }
}

fn build_checks(raw: &[Text], out: &mut Vec<Diagnostic>) -> Vec<Check> {
    let mut checks = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        match Check::parse(text.get_ref()) {
            Ok(c) => checks.push(c),
            Err(e) => out.push(
                Diagnostic::new(e.message)
                    .key(format!("checks[{i}]"))
                    .span(text.span())
                    .help(e.help),
            ),
        }
    }
    checks
}

/// Rejects empty path segments and a key used by two axes or random inputs, because the later
/// override would silently win.
fn check_keys(raw: &RawSweep, out: &mut Vec<Diagnostic>) {
    let keys = raw
        .axes
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("axes[{i}].key"), &a.key))
        .chain(
            raw.random
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("random[{i}].key"), &r.key)),
        );
    let mut seen: Vec<(&Text, String)> = Vec::new();
    for (key, text) in keys {
        let path = text.get_ref().trim();
        if path.is_empty() || path.split('.').any(|s| s.trim().is_empty()) {
            out.push(
                Diagnostic::new(format!(
                    "invalid key path `{path}`: it has an empty segment"
                ))
                .key(&key)
                .span(text.span())
                .help("write a dotted path such as `services.arm.instances` or `events.0.at`"),
            );
        }
        if let Some((first, _)) = seen.iter().find(|(t, _)| t.get_ref().trim() == path) {
            out.push(
                Diagnostic::new(format!("`{path}` is swept twice"))
                    .key(&key)
                    .span(text.span())
                    .related("first use", first.span()),
            );
        }
        seen.push((text, key));
    }
}

fn build_axis(raw: &RawAxis, i: usize, out: &mut Vec<Diagnostic>) -> Option<Axis> {
    let key = raw.key.get_ref().trim().to_string();
    let values = match (&raw.values, &raw.range) {
        (Some(values), None) => list_values(values, i, out)?,
        (None, Some(range)) => range_values(range, i, out)?,
        _ => {
            out.push(
                Diagnostic::new(format!(
                    "axis `{key}` needs exactly one of `values` and `range`"
                ))
                .key(format!("axes[{i}]"))
                .span(raw.key.span())
                .help("write `values = [...]` or `range = { from = ..., to = ..., step = ... }`"),
            );
            return None;
        }
    };
    Some(Axis { key, values })
}

fn list_values(
    values: &Spanned<Vec<Spanned<toml::Value>>>,
    i: usize,
    out: &mut Vec<Diagnostic>,
) -> Option<Vec<AxisValue>> {
    if values.get_ref().is_empty() {
        out.push(
            Diagnostic::new("an axis needs at least one value")
                .key(format!("axes[{i}].values"))
                .span(values.span()),
        );
        return None;
    }
    let mut list: Vec<AxisValue> = Vec::new();
    for (j, v) in values.get_ref().iter().enumerate() {
        let value = axis_value(v.get_ref());
        if list.iter().any(|x| x.label == value.label) {
            out.push(
                Diagnostic::new(format!("value `{}` appears twice in the axis", value.label))
                    .key(format!("axes[{i}].values[{j}]"))
                    .span(v.span()),
            );
        }
        list.push(value);
    }
    Some(list)
}

fn axis_value(value: &toml::Value) -> AxisValue {
    let toml = value.to_string();
    let label = match value {
        toml::Value::String(s) => s.clone(),
        _ => toml.clone(),
    };
    AxisValue { toml, label }
}

/// Reads a number written as an integer or as a duration string, with its unit.
fn number(
    value: &Spanned<toml::Value>,
    key: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<(Unit, u64)> {
    let found = match value.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => return Some((Unit::Integer, *n as u64)),
        toml::Value::String(s) => match parse_duration(s) {
            Ok(d) => return Some((Unit::Duration, d.ms())),
            Err(e) => e.0,
        },
        other => format!("invalid value `{other}` for `{key}`"),
    };
    out.push(
        Diagnostic::new(found)
            .key(key)
            .span(value.span())
            .help("write a non-negative integer such as `4` or a duration such as `\"8h\"`"),
    );
    None
}

/// Reads two or three numbers of one unit: both integers or both durations.
fn same_unit(
    values: &[(&Spanned<toml::Value>, String)],
    out: &mut Vec<Diagnostic>,
) -> Option<(Unit, Vec<u64>)> {
    let mut numbers = Vec::new();
    for (v, key) in values {
        numbers.push(number(v, key, out));
    }
    let numbers: Vec<(Unit, u64)> = numbers.into_iter().collect::<Option<_>>()?;
    let unit = numbers[0].0;
    if let Some(j) = numbers.iter().position(|(u, _)| *u != unit) {
        let (v, key) = &values[j];
        out.push(
            Diagnostic::new(format!("`{key}` mixes integers and durations"))
                .key(key)
                .span(v.span())
                .help("write every bound as an integer, or every bound as a duration"),
        );
        return None;
    }
    Some((unit, numbers.into_iter().map(|(_, n)| n).collect()))
}

fn range_values(
    range: &Spanned<RawRange>,
    i: usize,
    out: &mut Vec<Diagnostic>,
) -> Option<Vec<AxisValue>> {
    let r = range.get_ref();
    let key = format!("axes[{i}].range");
    let (unit, n) = same_unit(
        &[
            (&r.from, format!("{key}.from")),
            (&r.to, format!("{key}.to")),
            (&r.step, format!("{key}.step")),
        ],
        out,
    )?;
    let (from, to, step) = (n[0], n[1], n[2]);
    if step == 0 || from > to {
        out.push(
            Diagnostic::new(format!("empty range: from {from} to {to} by {step}"))
                .key(&key)
                .span(range.span())
                .help("`from` must be at most `to`, and `step` more than zero"),
        );
        return None;
    }
    if (to - from) / step >= MAX_POINTS {
        out.push(
            Diagnostic::new(format!("the range has more than {MAX_POINTS} values"))
                .key(&key)
                .span(range.span()),
        );
        return None;
    }
    let values = (0..=(to - from) / step).map(|k| {
        let n = from + k * step;
        match unit {
            Unit::Integer => AxisValue {
                toml: n.to_string(),
                label: n.to_string(),
            },
            Unit::Duration => AxisValue {
                toml: format!("\"{}\"", format_duration(n)),
                label: format_duration(n),
            },
        }
    });
    Some(values.collect())
}

/// Reads the number an axis value stands for: an integer, or a duration string in milliseconds.
fn axis_number(value: &AxisValue) -> Option<(Unit, u64)> {
    if let Ok(n) = value.toml.parse::<u64>() {
        return Some((Unit::Integer, n));
    }
    let quoted = value.toml.starts_with('"');
    parse_duration(&value.label)
        .ok()
        .filter(|_| quoted)
        .map(|d| (Unit::Duration, d.ms()))
}

/// Reads a bound written as `{ axis = "KEY" }`; `None` if it is written otherwise.
fn axis_bound(
    value: &Spanned<toml::Value>,
    key: &str,
    axes: &[Axis],
    out: &mut Vec<Diagnostic>,
) -> Option<Option<(Unit, Bound)>> {
    let toml::Value::Table(table) = value.get_ref() else {
        return Some(None);
    };
    let name = match (table.len(), table.get("axis")) {
        (1, Some(toml::Value::String(name))) => name,
        _ => {
            out.push(
                Diagnostic::new(format!("invalid bound for `{key}`"))
                    .key(key)
                    .span(value.span())
                    .help("write a number, a duration, or `{ axis = \"KEY\" }` naming an axis"),
            );
            return None;
        }
    };
    let Some(index) = axes.iter().position(|a| a.key == *name) else {
        let names: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
        out.push(
            Diagnostic::new(format!("no axis has the key `{name}`"))
                .key(key)
                .span(value.span())
                .help(format!("axes: {}", names.join(", "))),
        );
        return None;
    };
    let numbers: Option<Vec<(Unit, u64)>> = axes[index].values.iter().map(axis_number).collect();
    match numbers {
        Some(n) if n.iter().all(|(u, _)| *u == n[0].0) => Some(Some((n[0].0, Bound::Axis(index)))),
        _ => {
            out.push(
                Diagnostic::new(format!(
                    "axis `{name}` has values that are not all integers or all durations"
                ))
                .key(key)
                .span(value.span())
                .help("a bound can only name an axis of integers or of durations"),
            );
            None
        }
    }
}

fn build_random(
    raw: &RawRandom,
    i: usize,
    axes: &[Axis],
    out: &mut Vec<Diagnostic>,
) -> Option<RandomInput> {
    let u = raw.uniform.get_ref();
    let key = format!("random[{i}].uniform");
    let (min_key, max_key) = (format!("{key}.min"), format!("{key}.max"));
    let min_axis = axis_bound(&u.min, &min_key, axes, out)?;
    let max_axis = axis_bound(&u.max, &max_key, axes, out)?;
    let mut written = Vec::new();
    let mut fixed = Vec::new();
    for (bound, value, bound_key) in [(&min_axis, &u.min, &min_key), (&max_axis, &u.max, &max_key)]
    {
        match bound {
            Some((unit, b)) => written.push((*unit, *b, value, bound_key)),
            None => fixed.push((value, bound_key.clone())),
        }
    }
    if !fixed.is_empty() {
        let (unit, numbers) = same_unit(&fixed, out)?;
        for ((value, bound_key), n) in fixed.iter().zip(numbers) {
            written.push((unit, Bound::Fixed(n), value, bound_key));
        }
    }
    // Restore the order min, max.
    written.sort_by_key(|w| w.3 != &min_key);
    let unit = written[0].0;
    if let Some(w) = written.iter().find(|w| w.0 != unit) {
        out.push(
            Diagnostic::new(format!("`{key}` mixes integers and durations"))
                .key(w.3)
                .span(w.2.span())
                .help("write both bounds as integers, or both as durations"),
        );
        return None;
    }
    let (low, high) = (written[0].1, written[1].1);
    if let (Bound::Fixed(a), Bound::Fixed(b)) = (low, high)
        && a > b
    {
        out.push(
            Diagnostic::new(format!("`{min_key}` is larger than `{max_key}`"))
                .key(&key)
                .span(raw.uniform.span()),
        );
        return None;
    }
    Some(RandomInput {
        key: raw.key.get_ref().trim().to_string(),
        unit,
        low,
        high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(body: &str) -> Result<Sweep, ScenarioError> {
        // The base scenario is read from the sweep file's folder, so name a shipped one.
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps/test.toml");
        load_str(
            &format!("scenario = \"../arm-instances-flap.toml\"\n{body}"),
            &file,
        )
    }

    #[test]
    fn duration_range_includes_both_ends() {
        let sweep = load("[[axes]]\nkey = \"horizon\"\nrange = { from = \"30m\", to = \"1h30m\", step = \"20m\" }\n").unwrap();
        let labels: Vec<&str> = sweep.axes[0]
            .values
            .iter()
            .map(|v| v.label.as_str())
            .collect();
        // 30m, 50m, 70m = 1h10m, 90m = 1h30m.
        assert_eq!(labels, ["30m", "50m", "1h10m", "1h30m"]);
        assert_eq!(sweep.axes[0].values[0].toml, "\"30m\"");
        assert_eq!(sweep.point_count(), 4);
        assert_eq!(sweep.replications, 1);
        assert_eq!(sweep.seed, 1);
    }

    #[test]
    fn integer_range_and_values() {
        let sweep = load("[[axes]]\nkey = \"a\"\nrange = { from = 2, to = 7, step = 2 }\n[[axes]]\nkey = \"b\"\nvalues = [true, \"x\", 0.5]\n").unwrap();
        let labels: Vec<&str> = sweep.axes[0]
            .values
            .iter()
            .map(|v| v.label.as_str())
            .collect();
        assert_eq!(labels, ["2", "4", "6"]);
        let tomls: Vec<&str> = sweep.axes[1]
            .values
            .iter()
            .map(|v| v.toml.as_str())
            .collect();
        assert_eq!(tomls, ["true", "\"x\"", "0.5"]);
        assert_eq!(sweep.point_count(), 9);
    }

    #[test]
    fn fingerprint_follows_replications() {
        let text = "scenario = \"../arm-instances-flap.toml\"\n";
        let mut sweep = load("").unwrap();
        let before = sweep.fingerprint;
        sweep.set_replications(5, text);
        assert_ne!(sweep.fingerprint, before);
        assert_eq!(sweep.replications, 5);
    }

    #[test]
    fn bound_takes_axis_value() {
        let sweep = load("[[axes]]\nkey = \"platform.token_lifetime\"\nvalues = [\"1h\", \"24h5m\"]\n[[random]]\nkey = \"events.1.at\"\nuniform = { min = \"1m\", max = { axis = \"platform.token_lifetime\" } }\n").unwrap();
        let input = &sweep.inputs[0];
        assert_eq!(input.unit, Unit::Duration);
        assert_eq!(input.low, Bound::Fixed(60_000));
        assert_eq!(input.high, Bound::Axis(0));
        // 24 h 5 min = 86,700,000 ms.
        assert_eq!(input.bounds(&sweep.axes, &[1]), (60_000, 86_700_000));
        assert_eq!(input.bounds(&sweep.axes, &[0]), (60_000, 3_600_000));
    }

    #[test]
    fn rejects_bad_axis_bounds() {
        let e = load("[[random]]\nkey = \"events.1.at\"\nuniform = { min = \"0s\", max = { axis = \"horizon\" } }\n").unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("no axis has the key `horizon`"),
            "{e}"
        );
        let e = load("[[axes]]\nkey = \"n\"\nvalues = [1, 2]\n[[random]]\nkey = \"events.1.at\"\nuniform = { min = \"0s\", max = { axis = \"n\" } }\n").unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("mixes integers and durations"),
            "{e}"
        );
        let e = load("[[axes]]\nkey = \"n\"\nvalues = [\"a\"]\n[[random]]\nkey = \"x\"\nuniform = { min = 0, max = { axis = \"n\" } }\n").unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("not all integers or all durations"),
            "{e}"
        );
        let e = load("[[random]]\nkey = \"x\"\nuniform = { min = 0, max = { key = \"n\" } }\n")
            .unwrap_err();
        assert!(e.diagnostics[0].message.contains("invalid bound"), "{e}");
    }

    #[test]
    fn rejects_oversized_sweeps() {
        // 4 axes of 100,000 values give 10^20 points, more than u64::MAX (about 1.8 * 10^19).
        let axis = |k: &str| {
            format!("[[axes]]\nkey = \"{k}\"\nrange = {{ from = 1, to = 100000, step = 1 }}\n")
        };
        let body: String = ["a", "b", "c", "d"].iter().map(|k| axis(k)).collect();
        let e = load(&body).unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("more than the limit of 1000000"),
            "{e}"
        );
        let e = load("replications = 20000000\n").unwrap_err();
        assert!(
            e.diagnostics[0].message.contains("limit of 10000000 runs"),
            "{e}"
        );
    }

    #[test]
    fn rejects_axis_without_values() {
        let e = load("[[axes]]\nkey = \"horizon\"\n").unwrap_err();
        assert!(
            e.diagnostics[0]
                .message
                .contains("exactly one of `values` and `range`"),
            "{e}"
        );
        let e = load("[[axes]]\nkey = \"horizon\"\nvalues = []\n").unwrap_err();
        assert!(
            e.diagnostics[0].message.contains("at least one value"),
            "{e}"
        );
        let e = load("replications = 0\n").unwrap_err();
        assert_eq!(e.diagnostics[0].key.as_deref(), Some("replications"));
        let e = load("[[axes]]\nkey = \"a\"\nvalues = [1, 1]\n").unwrap_err();
        assert!(e.diagnostics[0].message.contains("appears twice"), "{e}");
    }
}
