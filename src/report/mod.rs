//! Reports: `report.md` and one SVG timeline per probe, written into a results folder.
//!
//! A report is built from the folder's CSV files and the scenario they came from, so it can be
//! written after a run (`staleauth run`, `staleauth regen`) or later on a committed
//! folder (`staleauth report DIR`), with the same bytes. The text has no timestamp and every
//! number is an integer of milliseconds written as a duration (`4h5m`), so the output is
//! deterministic.

pub mod data;
pub mod figure;
mod markdown;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::error::Error;
use crate::model::{self, Directory};
use crate::scenario::{EventKind, Scenario};
use data::ResultsData;
use figure::{Bar, FigureInput, InstanceBars, TokenMark};

/// The report file's name inside a results folder.
pub const REPORT_FILE: &str = "report.md";

/// A rendered report: file names and contents, written together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub files: Vec<(String, String)>,
}

/// Reads the CSV files of `dir`, renders the report of `scenario`, and writes it into `dir`.
///
/// Nothing is written unless every file renders. `*.svg` files of an earlier report that this one
/// does not produce are removed, so a folder never shows a figure of a probe that no longer exists,
/// and so are `*.partial` files that a failed report left behind.
pub fn write_report(scenario: &Scenario, dir: &Path) -> Result<Report, Error> {
    // Figures of an earlier report are deleted below, so refuse folders holding other files.
    if !crate::output::is_results_folder(dir)? {
        return Err(Error::Usage(format!(
            "`{}` holds files that staleauth does not write; a report is written only into a results folder",
            dir.display()
        )));
    }
    let data = ResultsData::read(dir)?;
    let report = render(scenario, &data)?;
    for (name, text) in &report.files {
        write_atomic(&dir.join(name), text)?;
    }
    remove_old_figures(dir, &report)?;
    Ok(report)
}

/// Renders the report of `scenario` from its results.
pub fn render(scenario: &Scenario, data: &ResultsData) -> Result<Report, Error> {
    check_probes(scenario, data)?;
    let flipped = flipped_probes(scenario);
    check_changes(scenario, data, &flipped)?;
    let names = figure_names(scenario);
    let mut files = vec![(
        REPORT_FILE.to_string(),
        markdown::render(scenario, data, &names, &flipped),
    )];
    for (p, name) in names.iter().enumerate() {
        let input = figure_input(scenario, data, p, &flipped);
        files.push((name.clone(), figure::draw(&input)?));
    }
    Ok(Report { files })
}

/// Rejects results whose probes are not the scenario's: the report would describe another run.
fn check_probes(scenario: &Scenario, data: &ResultsData) -> Result<(), Error> {
    let known: BTreeSet<&str> = scenario.probes.iter().map(|p| p.name.as_str()).collect();
    let seen = data
        .timeline
        .iter()
        .map(|r| (r.probe.as_str(), r.instance))
        .chain(data.windows.iter().map(|w| (w.probe.as_str(), w.instance)));
    for (probe, instance) in seen {
        let Some(p) = scenario.probes.iter().find(|p| p.name == probe) else {
            return Err(Error::Usage(format!(
                "the results name probe `{probe}`, which scenario `{}` does not have (its probes: {}); \
                 pass the scenario the results came from with --scenario",
                scenario.name,
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        };
        let instances = scenario.services[p.target.service].instances as usize;
        if instance >= instances {
            return Err(Error::Usage(format!(
                "the results name instance {instance} of probe `{probe}`, but scenario `{}` gives it {instances} instance(s); \
                 pass the scenario the results came from with --scenario",
                scenario.name
            )));
        }
    }
    Ok(())
}

/// Lists, for each directory change in the order of `changes.csv`, the probes whose truth it
/// flipped, by replaying the scenario's directory changes without any cache.
///
/// Directory changes are processed in the order of `scenario.events` (sorted by instant, then
/// class, then description), which is the order the simulator numbers them in.
pub fn flipped_probes(scenario: &Scenario) -> Vec<Vec<usize>> {
    let mut directory = Directory::new(scenario);
    let truth = |directory: &Directory, p: usize| {
        let target = &scenario.probes[p].target;
        model::truth(
            scenario,
            directory,
            scenario.apps[target.app].identity,
            target.service,
            &target.action,
            &target.scope,
        )
    };
    let mut out = Vec::new();
    for event in scenario
        .events
        .iter()
        .filter(|e| e.kind.is_directory_change())
    {
        let before: Vec<bool> = (0..scenario.probes.len())
            .map(|p| truth(&directory, p))
            .collect();
        directory.apply(&event.kind);
        let flipped = (0..scenario.probes.len())
            .filter(|&p| truth(&directory, p) != before[p])
            .collect();
        out.push(flipped);
    }
    out
}

/// Rejects results whose changes are not the scenario's, by count and by affected pairs.
fn check_changes(
    scenario: &Scenario,
    data: &ResultsData,
    flipped: &[Vec<usize>],
) -> Result<(), Error> {
    let mismatch = |what: String| {
        Error::Usage(format!(
            "the results do not match scenario `{}`: {what}; pass the scenario the results came from with --scenario",
            scenario.name
        ))
    };
    if data.changes.len() != flipped.len() {
        return Err(mismatch(format!(
            "changes.csv has {} change(s), the scenario {}",
            data.changes.len(),
            flipped.len()
        )));
    }
    for (row, probes) in data.changes.iter().zip(flipped) {
        let pairs: usize = probes
            .iter()
            .map(|&p| scenario.services[scenario.probes[p].target.service].instances as usize)
            .sum();
        if row.affected != pairs {
            return Err(mismatch(format!(
                "change {} affects {} pair(s) in changes.csv and {pairs} in the scenario",
                row.change, row.affected
            )));
        }
    }
    Ok(())
}

/// Returns the file name of each probe's figure: `timeline-<probe>.svg`, with characters other
/// than letters, digits, `-` and `_` replaced by `_`, and a number added when two names collide.
pub fn figure_names(scenario: &Scenario) -> Vec<String> {
    let mut used = BTreeSet::new();
    let mut names = Vec::new();
    for (p, probe) in scenario.probes.iter().enumerate() {
        let safe: String = probe
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = format!("timeline-{safe}.svg");
        if !used.insert(name.clone()) {
            name = format!("timeline-{safe}-{p}.svg");
            used.insert(name.clone());
        }
        names.push(name);
    }
    names
}

fn figure_input<'a>(
    scenario: &Scenario,
    data: &'a ResultsData,
    p: usize,
    flipped: &[Vec<usize>],
) -> FigureInput<'a> {
    let probe = &scenario.probes[p];
    let target = &probe.target;
    let instances = scenario.services[target.service].instances as usize;
    let horizon_ms = scenario.horizon.ms();
    let app = &scenario.apps[target.app].name;
    let service = &scenario.services[target.service].name;
    FigureInput {
        title: format!(
            "{}: {app} → {service}, {}",
            probe.name,
            short_action(&target.action)
        ),
        subtitle: format!(
            "scenario {}, preset {}, seed {}",
            scenario.name, scenario.preset, scenario.seed
        ),
        horizon_ms,
        instances: (0..instances)
            .map(|i| instance_bars(data, &probe.name, i, horizon_ms))
            .collect(),
        windows: data
            .windows
            .iter()
            .filter(|w| w.probe == probe.name)
            .collect(),
        changes: data
            .changes
            .iter()
            .zip(flipped)
            .filter(|(_, probes)| probes.contains(&p))
            .map(|(row, _)| row)
            .collect(),
        restarts: restarts_of(scenario, p),
        tokens: tokens_of(data, app, service),
    }
}

/// Lists the instants of the restarts that touch probe `p`: of its app, or of an instance of its
/// service.
fn restarts_of(scenario: &Scenario, p: usize) -> Vec<u64> {
    let target = &scenario.probes[p].target;
    scenario
        .events
        .iter()
        .filter(|e| match e.kind {
            EventKind::RestartApp(app) => app == target.app,
            EventKind::RestartInstance { service, .. } => service == target.service,
            _ => false,
        })
        .map(|e| e.at.ms())
        .collect()
}

/// Shortens an action to its last two segments for titles: `blobs/read`.
pub fn short_action(action: &str) -> String {
    let parts: Vec<&str> = action.rsplitn(3, '/').collect();
    if parts.len() < 3 {
        return action.to_string();
    }
    format!("{}/{}", parts[1], parts[0])
}

/// Turns the timeline transitions of one pair into bars that cover `[0, horizon)`.
fn instance_bars(
    data: &ResultsData,
    probe: &str,
    instance: usize,
    horizon_ms: u64,
) -> InstanceBars {
    let rows: Vec<_> = data
        .timeline
        .iter()
        .filter(|r| r.probe == probe && r.instance == instance)
        .collect();
    let mut bars = InstanceBars::default();
    for (k, row) in rows.iter().enumerate() {
        let end_ms = rows.get(k + 1).map_or(horizon_ms, |next| next.t_ms);
        push_bar(&mut bars.truth, row.t_ms, end_ms, row.truth == "allow");
        push_bar(
            &mut bars.effective,
            row.t_ms,
            end_ms,
            row.effective == "allow",
        );
    }
    bars
}

/// Appends a bar, merging it into the previous one when the decision is the same.
fn push_bar(bars: &mut Vec<Bar>, start_ms: u64, end_ms: u64, allow: bool) {
    if let Some(last) = bars
        .last_mut()
        .filter(|b| b.allow == allow && b.end_ms == start_ms)
    {
        last.end_ms = end_ms;
        return;
    }
    if end_ms > start_ms {
        bars.push(Bar {
            start_ms,
            end_ms,
            allow,
        });
    }
}

/// Lists the tokens that the app presented to the service, once each, in order of issue.
fn tokens_of(data: &ResultsData, app: &str, service: &str) -> Vec<TokenMark> {
    let mut tokens: BTreeMap<(u64, String), TokenMark> = BTreeMap::new();
    for r in data
        .requests
        .iter()
        .filter(|r| r.app == app && r.service == service)
    {
        tokens
            .entry((r.token_issued_ms, r.token.clone()))
            .or_insert_with(|| TokenMark {
                label: r.token.clone(),
                issued_ms: r.token_issued_ms,
                expires_ms: r.token_expires_ms,
            });
    }
    tokens.into_values().collect()
}

fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    fs::write(&partial, text)
        .map_err(|e| Error::io(format!("failed to write `{}`", partial.display()), e))?;
    fs::rename(&partial, path)
        .map_err(|e| Error::io(format!("failed to write `{}`", path.display()), e))
}

fn remove_old_figures(dir: &Path, report: &Report) -> Result<(), Error> {
    let keep: BTreeSet<&str> = report.files.iter().map(|(n, _)| n.as_str()).collect();
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let leftover = name.ends_with(".partial");
        if (name.ends_with(".svg") || leftover) && !keep.contains(name) {
            fs::remove_file(entry.path()).map_err(|e| {
                Error::io(format!("failed to remove `{}`", entry.path().display()), e)
            })?;
        }
    }
    Ok(())
}
