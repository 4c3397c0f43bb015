//! The rows of a results folder, read back from its CSV files.
//!
//! A report is built from the files alone (plus the scenario for its summary), so `staleauth
//! report DIR` on a committed folder and `staleauth run` give the same bytes. Only the
//! columns a report uses are read; the others are ignored by name.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// One row of `windows.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct WindowRow {
    pub probe: String,
    pub instance: usize,
    pub kind: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub duration_ms: u64,
    pub cause: String,
    pub censored: bool,
    pub change: Option<usize>,
}

/// One row of `timeline.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct TimelineRow {
    pub t_ms: u64,
    pub probe: String,
    pub instance: usize,
    pub truth: String,
    pub effective: String,
}

/// One row of `changes.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangeRow {
    pub change: usize,
    pub at_ms: u64,
    pub description: String,
    pub affected: usize,
    pub first_consistent_ms: Option<u64>,
    pub all_consistent_ms: Option<u64>,
    pub bound_ms: Option<u64>,
    pub within_bound: String,
}

/// One row of `requests.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestRow {
    pub t_ms: u64,
    pub app: String,
    pub service: String,
    pub token: String,
    pub token_issued_ms: u64,
    pub token_expires_ms: u64,
    pub token_source: String,
}

/// One row of `events.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub t_ms: u64,
    pub class: String,
    pub kind: String,
    pub detail: String,
}

/// Every CSV file of a results folder.
#[derive(Debug, Clone)]
pub struct ResultsData {
    pub windows: Vec<WindowRow>,
    pub timeline: Vec<TimelineRow>,
    pub changes: Vec<ChangeRow>,
    pub requests: Vec<RequestRow>,
    pub events: Vec<EventRow>,
}

impl ResultsData {
    /// Reads the five CSV files of the results folder `dir`.
    pub fn read(dir: &Path) -> Result<ResultsData, Error> {
        Ok(ResultsData {
            windows: read_rows(&dir.join("windows.csv"))?,
            timeline: read_rows(&dir.join("timeline.csv"))?,
            changes: read_rows(&dir.join("changes.csv"))?,
            requests: read_rows(&dir.join("requests.csv"))?,
            events: read_rows(&dir.join("events.csv"))?,
        })
    }
}

fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, Error> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("failed to read `{}`", path.display()), e))?;
    let mut reader = csv::Reader::from_reader(std::io::BufReader::new(file));
    let mut rows = Vec::new();
    for record in reader.deserialize() {
        rows.push(record.map_err(|e| invalid_csv(path, &e))?);
    }
    Ok(rows)
}

fn invalid_csv(path: &Path, e: &csv::Error) -> Error {
    let line = e
        .position()
        .map_or(String::new(), |p| format!(" line {}", p.line()));
    let path: PathBuf = path.to_path_buf();
    Error::Usage(format!(
        "invalid results file `{}`{line}: {e}; rerun `staleauth run` to rewrite it",
        path.display()
    ))
}
