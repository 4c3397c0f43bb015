//! Output files and the human summary.
//!
//! A run writes into a hidden sibling folder (`.NAME.partial`). It swaps that folder with the
//! results folder only when every file is complete and flushed. So a failure never leaves a
//! folder that looks complete, and a finished folder never mixes files of two runs. On Linux the swap is one
//! atomic exchange. Time columns are integer
//! milliseconds with a `_ms` suffix; a human-readable column sits beside each.

pub mod banner;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::model::Token;
use crate::model::TokenId;
use crate::observe::effective::decision_label;
use crate::observe::tracker::Transition;
use crate::observe::{ChangeRecord, Window};
use crate::scenario::Scenario;
use crate::sim::{self, EventRow, RequestRow, RunResult, Sink};
use crate::time::{SimTime, format_duration, push_decimal, push_duration};

/// The files a run writes, in the order the README documents them.
pub const FILES: [&str; 6] = [
    "windows.csv",
    "timeline.csv",
    "changes.csv",
    "tokens.csv",
    "requests.csv",
    "events.csv",
];

type CsvFile = csv::Writer<BufWriter<File>>;

fn csv_error(path: &Path, e: csv::Error) -> Error {
    Error::io(
        format!("failed to write `{}`", path.display()),
        std::io::Error::other(e),
    )
}

fn create(dir: &Path, name: &str, header: &[&str]) -> Result<CsvFile, Error> {
    let path = dir.join(name);
    let file = File::create(&path)
        .map_err(|e| Error::io(format!("failed to create `{}`", path.display()), e))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record(header).map_err(|e| csv_error(&path, e))?;
    Ok(w)
}

fn finish(mut w: CsvFile, dir: &Path, name: &str) -> Result<(), Error> {
    let path = dir.join(name);
    w.flush()
        .map_err(|e| Error::io(format!("failed to write `{}`", path.display()), e))?;
    let inner = w.into_inner().map_err(|e| {
        Error::io(
            format!("failed to write `{}`", path.display()),
            std::io::Error::other(e.to_string()),
        )
    })?;
    inner
        .into_inner()
        .map_err(|e| {
            Error::io(
                format!("failed to write `{}`", path.display()),
                e.into_error(),
            )
        })?
        .sync_all()
        .map_err(|e| Error::io(format!("failed to write `{}`", path.display()), e))
}

fn ms(t: SimTime) -> String {
    t.ms().to_string()
}

/// The choice of files a run writes. The streamed `events.csv` and `requests.csv` are on by
/// default: on long runs they are the largest files, one row per event and per request, and
/// writing them takes most of the time. The report is off by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOptions {
    pub events: bool,
    pub requests: bool,
    /// Also write `report.md` and the SVG figures, which need every CSV file.
    pub report: bool,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            events: true,
            requests: true,
            report: false,
        }
    }
}

/// Streams events, requests and timeline transitions into CSV files.
pub struct CsvSink<'s> {
    scenario: &'s Scenario,
    dir: PathBuf,
    events: Option<CsvFile>,
    requests: Option<RequestsFile>,
    timeline: CsvFile,
    tokens: CsvFile,
}

/// `requests.csv`, written without the `csv` crate's per-field quoting analysis: one row per
/// request makes it the largest file. Only the names can need quoting, and they are quoted once,
/// per workload, when the file is created.
struct RequestsFile {
    out: BufWriter<File>,
    /// For each workload, its `workload,app,service` fields, quoted as the `csv` crate quotes them.
    names: Vec<Vec<u8>>,
    row: Vec<u8>,
}

impl RequestsFile {
    const HEADER: &'static [u8] = b"t_ms,t,workload,app,service,instance,token,token_issued_ms,\
token_expires_ms,token_source,rbac_source,decision,truth,stale\n";

    fn create(scenario: &Scenario, dir: &Path) -> Result<RequestsFile, Error> {
        let path = dir.join("requests.csv");
        let file = File::create(&path)
            .map_err(|e| Error::io(format!("failed to create `{}`", path.display()), e))?;
        let mut out = BufWriter::new(file);
        out.write_all(Self::HEADER)
            .map_err(|e| Error::io(format!("failed to write `{}`", path.display()), e))?;
        let mut names = Vec::new();
        for w in &scenario.workloads {
            let mut encoder = csv::Writer::from_writer(Vec::new());
            let fields = [
                w.name.as_str(),
                scenario.apps[w.target.app].name.as_str(),
                scenario.services[w.target.service].name.as_str(),
            ];
            encoder
                .write_record(fields)
                .map_err(|e| csv_error(&path, e))?;
            let mut encoded = encoder
                .into_inner()
                .map_err(|e| csv_error(&path, e.into_error().into()))?;
            encoded.pop(); // the record terminator, `\n`
            names.push(encoded);
        }
        Ok(RequestsFile {
            out,
            names,
            row: Vec::with_capacity(256),
        })
    }

    fn write(&mut self, r: &RequestRow) -> std::io::Result<()> {
        let row = &mut self.row;
        row.clear();
        push_decimal(row, r.t.ms());
        row.push(b',');
        push_duration(row, r.t.ms());
        row.push(b',');
        row.extend_from_slice(&self.names[r.workload_index]);
        row.push(b',');
        push_decimal(row, r.instance as u64);
        row.push(b',');
        if r.token == TokenId::UNISSUED {
            row.extend_from_slice(b"new");
        } else {
            row.push(b'T');
            push_decimal(row, r.token.0);
        }
        row.push(b',');
        push_decimal(row, r.token_issued.ms());
        row.push(b',');
        push_decimal(row, r.token_expires.ms());
        for field in [
            r.token_source.as_str(),
            r.rbac_source,
            decision_label(r.allowed),
            decision_label(r.truth),
            if r.allowed != r.truth {
                "true"
            } else {
                "false"
            },
        ] {
            row.push(b',');
            row.extend_from_slice(field.as_bytes());
        }
        row.push(b'\n');
        self.out.write_all(row)
    }

    fn finish(self, dir: &Path) -> Result<(), Error> {
        let path = dir.join("requests.csv");
        let failed = |e| Error::io(format!("failed to write `{}`", path.display()), e);
        self.out
            .into_inner()
            .map_err(|e| failed(e.into_error()))?
            .sync_all()
            .map_err(failed)
    }
}

impl<'s> CsvSink<'s> {
    pub fn create(
        scenario: &'s Scenario,
        dir: &Path,
        options: OutputOptions,
    ) -> Result<CsvSink<'s>, Error> {
        let events = options
            .events
            .then(|| {
                create(
                    dir,
                    "events.csv",
                    &["seq", "t_ms", "t", "class", "kind", "detail"],
                )
            })
            .transpose()?;
        let requests = options
            .requests
            .then(|| RequestsFile::create(scenario, dir))
            .transpose()?;
        Ok(CsvSink {
            scenario,
            dir: dir.to_path_buf(),
            events,
            requests,
            timeline: create(
                dir,
                "timeline.csv",
                &[
                    "t_ms",
                    "t",
                    "probe",
                    "instance",
                    "truth",
                    "effective",
                    "state",
                    "cause",
                ],
            )?,
            tokens: create(
                dir,
                "tokens.csv",
                &[
                    "token",
                    "principal",
                    "resource",
                    "issued_ms",
                    "expires_ms",
                    "issued",
                    "expires",
                    "groups",
                    "roles",
                ],
            )?,
        })
    }

    pub fn finish(self) -> Result<(), Error> {
        if let Some(events) = self.events {
            finish(events, &self.dir, "events.csv")?;
        }
        if let Some(requests) = self.requests {
            requests.finish(&self.dir)?;
        }
        finish(self.tokens, &self.dir, "tokens.csv")?;
        finish(self.timeline, &self.dir, "timeline.csv")
    }
}

impl Sink for CsvSink<'_> {
    fn wants_events(&self) -> bool {
        self.events.is_some()
    }

    fn wants_requests(&self) -> bool {
        self.requests.is_some()
    }

    fn event(&mut self, row: &EventRow) -> Result<(), Error> {
        let Some(events) = &mut self.events else {
            return Ok(());
        };
        let record = [
            row.seq.to_string(),
            ms(row.t),
            row.t.to_string(),
            row.class.as_str().to_string(),
            row.kind.to_string(),
            row.detail.clone(),
        ];
        events
            .write_record(&record)
            .map_err(|e| csv_error(&self.dir.join("events.csv"), e))
    }

    fn request(&mut self, row: &RequestRow) -> Result<(), Error> {
        let Some(requests) = &mut self.requests else {
            return Ok(());
        };
        requests.write(row).map_err(|e| {
            Error::io(
                format!(
                    "failed to write `{}`",
                    self.dir.join("requests.csv").display()
                ),
                e,
            )
        })
    }

    fn transition(&mut self, row: &Transition) -> Result<(), Error> {
        let state = match (row.truth, row.effective) {
            (false, true) => "stale-allow",
            (true, false) => "stale-deny",
            _ => "consistent",
        };
        let record = [
            ms(row.t),
            row.t.to_string(),
            self.scenario.probes[row.probe].name.clone(),
            row.instance.to_string(),
            decision_label(row.truth).to_string(),
            decision_label(row.effective).to_string(),
            state.to_string(),
            row.cause.to_string(),
        ];
        self.timeline
            .write_record(&record)
            .map_err(|e| csv_error(&self.dir.join("timeline.csv"), e))
    }

    fn token(&mut self, token: &Token) -> Result<(), Error> {
        let scenario = self.scenario;
        let groups = match &token.groups {
            Some(groups) => groups
                .iter()
                .map(|&g| scenario.groups[g].name.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            None => "overage".to_string(),
        };
        let roles = token.roles.iter().map(String::as_str).collect::<Vec<_>>();
        let record = [
            token.id.label(),
            scenario.principals[token.subject].name.clone(),
            scenario.resources[token.resource].clone(),
            ms(token.issued),
            ms(token.expires),
            token.issued.to_string(),
            token.expires.to_string(),
            groups,
            roles.join(";"),
        ];
        self.tokens
            .write_record(&record)
            .map_err(|e| csv_error(&self.dir.join("tokens.csv"), e))
    }
}

fn write_windows(scenario: &Scenario, dir: &Path, windows: &[Window]) -> Result<(), Error> {
    let path = dir.join("windows.csv");
    let mut w = create(
        dir,
        "windows.csv",
        &[
            "probe",
            "app",
            "service",
            "action",
            "scope",
            "instance",
            "kind",
            "start_ms",
            "end_ms",
            "duration_ms",
            "start",
            "end",
            "duration",
            "cause",
            "censored",
            "change",
        ],
    )?;
    for win in windows {
        let probe = &scenario.probes[win.probe];
        let t = &probe.target;
        let record = [
            probe.name.clone(),
            scenario.apps[t.app].name.clone(),
            scenario.services[t.service].name.clone(),
            t.action.clone(),
            t.scope_display.clone(),
            win.instance.to_string(),
            win.kind.as_str().to_string(),
            ms(win.start),
            ms(win.end),
            win.end.since(win.start).ms().to_string(),
            win.start.to_string(),
            win.end.to_string(),
            win.end.since(win.start).to_string(),
            win.cause_label(),
            win.censored.to_string(),
            win.change.map_or(String::new(), |c| (c + 1).to_string()),
        ];
        w.write_record(&record).map_err(|e| csv_error(&path, e))?;
    }
    finish(w, dir, "windows.csv")
}

fn opt_ms(t: Option<SimTime>) -> String {
    t.map_or(String::new(), ms)
}

fn opt_human(t: Option<SimTime>) -> String {
    t.map_or(String::new(), |t| t.to_string())
}

fn write_changes(dir: &Path, changes: &[ChangeRecord]) -> Result<(), Error> {
    let path = dir.join("changes.csv");
    let mut w = create(
        dir,
        "changes.csv",
        &[
            "change",
            "at_ms",
            "at",
            "description",
            "affected",
            "superseded",
            "first_consistent_ms",
            "all_consistent_ms",
            "bound_ms",
            "first_consistent",
            "all_consistent",
            "bound",
            "within_bound",
        ],
    )?;
    for (i, c) in changes.iter().enumerate() {
        let waiting = c.all_consistent.is_none() && c.superseded < c.affected;
        let within = match (c.all_consistent, c.bound) {
            (_, None) => "",
            (_, Some(_)) if waiting => "censored",
            (Some(all), Some(bound)) if all > bound => "no",
            (_, Some(_)) => "yes",
        };
        let record = [
            (i + 1).to_string(),
            ms(c.at),
            c.at.to_string(),
            c.description.clone(),
            c.affected.to_string(),
            c.superseded.to_string(),
            opt_ms(c.first_consistent),
            opt_ms(c.all_consistent),
            opt_ms(c.bound),
            opt_human(c.first_consistent),
            opt_human(c.all_consistent),
            opt_human(c.bound),
            within.to_string(),
        ];
        w.write_record(&record).map_err(|e| csv_error(&path, e))?;
    }
    finish(w, dir, "changes.csv")
}

/// Returns the default results folder of a scenario: `results/<name>`.
pub fn default_out_dir(scenario: &Scenario) -> PathBuf {
    Path::new("results").join(&scenario.name)
}

/// Returns the hidden sibling `.NAME<suffix>` of a folder, where a run writes before it moves the
/// folder into place.
pub fn sibling(out: &Path, suffix: &str) -> Result<PathBuf, Error> {
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

/// Checks an output folder given on the command line: no `..` component, and a final name.
pub fn check_out_dir(out: &Path) -> Result<PathBuf, Error> {
    use std::path::Component;
    if out.components().any(|c| c == Component::ParentDir) {
        return Err(Error::Usage(format!(
            "invalid --out `{}`: `..` is not allowed; give a path inside the current folder or an absolute path",
            out.display()
        )));
    }
    if out.file_name().is_none() {
        return Err(Error::Usage(format!(
            "invalid --out `{}`: it must end in a folder name",
            out.display()
        )));
    }
    Ok(out.to_path_buf())
}

/// Returns whether an existing folder contains only files a run writes, so that replacing it
/// loses nothing else.
pub fn is_results_folder(dir: &Path) -> Result<bool, Error> {
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?;
        let name = entry.file_name();
        // A report file may be left as `<name>.partial` by a report that failed while writing.
        let known = name.to_str().is_some_and(|n| {
            let report = n.strip_suffix(".partial").unwrap_or(n);
            FILES.contains(&n) || report == "report.md" || report.ends_with(".svg")
        });
        if !known || !entry.path().is_file() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs `scenario` and writes every output file into `out`, replacing it only once complete.
///
/// An existing `out` is replaced only when it contains nothing but files a run writes. Anything
/// else is an error, so a mistyped `--out` never deletes unrelated files.
pub fn run_to_dir(scenario: &Scenario, out: &Path) -> Result<RunResult, Error> {
    run_to_dir_with(scenario, out, OutputOptions::default())
}

/// Runs `scenario` like [`run_to_dir`], writing the streamed files that `options` selects, and
/// with `options.report` also `report.md` and the SVG figures, before the folder is moved into
/// place.
pub fn run_to_dir_with(
    scenario: &Scenario,
    out: &Path,
    options: OutputOptions,
) -> Result<RunResult, Error> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("failed to create `{}`", parent.display()), e))?;
    }
    if out.exists() && !(out.is_dir() && is_results_folder(out)?) {
        return Err(Error::Usage(format!(
            "`{}` exists and is not a staleauth results folder; choose another --out or remove it",
            out.display()
        )));
    }
    let partial = sibling(out, ".partial")?;
    if partial.exists() {
        fs::remove_dir_all(&partial)
            .map_err(|e| Error::io(format!("failed to remove `{}`", partial.display()), e))?;
    }
    fs::create_dir(&partial)
        .map_err(|e| Error::io(format!("failed to create `{}`", partial.display()), e))?;

    let outcome = (|| {
        let mut sink = CsvSink::create(scenario, &partial, options)?;
        let result = sim::simulate(scenario, &mut sink)?;
        sink.finish()?;
        write_windows(scenario, &partial, &result.windows)?;
        write_changes(&partial, &result.changes)?;
        if options.report {
            crate::report::write_report(scenario, &partial)?;
        }
        Ok(result)
    })();
    let result = match outcome {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(e);
        }
    };

    move_into_place(&partial, out)?;
    Ok(result)
}

/// Moves the complete folder `partial` to `out`, replacing an old `out`.
///
/// Where the platform can exchange two paths in one step, a reader finds either the old folder or
/// the new one, never neither. Elsewhere the old folder is moved aside, the new one renamed in,
/// and then the old one deleted.
pub fn move_into_place(partial: &Path, out: &Path) -> Result<(), Error> {
    if out.exists() && exchange(partial, out)? {
        fs::remove_dir_all(partial)
            .map_err(|e| Error::io(format!("failed to remove `{}`", partial.display()), e))?;
        return Ok(());
    }
    let old = sibling(out, ".old")?;
    if old.exists() {
        fs::remove_dir_all(&old)
            .map_err(|e| Error::io(format!("failed to remove `{}`", old.display()), e))?;
    }
    if out.exists() {
        fs::rename(out, &old)
            .map_err(|e| Error::io(format!("failed to replace `{}`", out.display()), e))?;
    }
    fs::rename(partial, out).map_err(|e| {
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

/// Exchanges two existing paths atomically with Linux's `renameat2(RENAME_EXCHANGE)`.
///
/// Returns `false` when the file system or kernel does not support it, so that the caller can
/// fall back to two renames.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<bool, Error> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let fail = |e: std::io::Error| Error::io(format!("failed to replace `{}`", b.display()), e);
    let path_a = CString::new(a.as_os_str().as_bytes()).map_err(|e| fail(e.into()))?;
    let path_b = CString::new(b.as_os_str().as_bytes()).map_err(|e| fail(e.into()))?;
    // SAFETY: both pointers come from live CStrings, which are NUL-terminated, and renameat2
    // reads them only during the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            path_a.as_ptr(),
            libc::AT_FDCWD,
            path_b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(fail(e)),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> Result<bool, Error> {
    Ok(false)
}

/// Formats a duration in milliseconds for tables.
pub fn human(ms: u64) -> String {
    format_duration(ms)
}
