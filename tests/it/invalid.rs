//! The corpus of invalid scenarios: each `tests/invalid/NAME.toml` must be rejected by both
//! `validate` and `run` with exit code 2, no output folder, and stderr equal to
//! `tests/invalid/NAME.stderr`.
//!
//! Set `STALEAUTH_UPDATE_SNAPSHOTS=1` to rewrite the snapshots, then review them in the diff.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::repo_path;

/// The corpus must cover every error kind; the README promises at least this many files.
const MIN_CASES: usize = 60;

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo_path("tests/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Runs the binary from the repository root with a relative scenario path, so that the file name
/// in the snapshots does not depend on where the repository is.
fn staleauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_staleauth"))
        .current_dir(repo_path(""))
        .args(args)
        .output()
        .unwrap()
}

/// Checks that every diagnostic of a rendered error has a location, a caret, a key and a help
/// line, the standard every snapshot is reviewed against. TOML syntax errors have no key, because
/// a document that does not parse has no keys.
fn check_shape(name: &str, relative: &str, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let blocks: Vec<&str> = stderr.split("\n\n").collect();
    let Some(last) = stderr.lines().last() else {
        return vec![format!("{name}: empty stderr")];
    };
    if !last.starts_with(&format!("error: scenario `{relative}` has ")) {
        problems.push(format!("{name}: last line is not the summary: {last}"));
    }
    for block in blocks {
        let location = format!("--> {relative}:");
        if !block.lines().any(|l| l.trim_start().starts_with(&location)) {
            problems.push(format!(
                "{name}: a diagnostic has no line and column:\n{block}"
            ));
        }
        if !block
            .lines()
            .any(|l| l.trim_start().starts_with("| ") && l.contains('^'))
        {
            problems.push(format!("{name}: a diagnostic has no caret:\n{block}"));
        }
        let syntax = block.starts_with("error: invalid TOML");
        if !syntax && !block.lines().any(|l| l.trim_start().starts_with("= key: ")) {
            problems.push(format!("{name}: a diagnostic has no key:\n{block}"));
        }
        if !block
            .lines()
            .any(|l| l.trim_start().starts_with("= help: "))
        {
            problems.push(format!("{name}: a diagnostic has no help:\n{block}"));
        }
    }
    problems
}

fn check_case(file: &Path, update: bool) -> Vec<String> {
    let name = file.file_stem().unwrap().to_string_lossy().into_owned();
    let relative = format!("tests/invalid/{name}.toml");
    let snapshot_path = file.with_extension("stderr");
    let mut problems = Vec::new();

    let validate = staleauth(&["validate", &relative]);
    let stderr = String::from_utf8_lossy(&validate.stderr).into_owned();
    if validate.status.code() != Some(2) {
        problems.push(format!(
            "{name}: validate exited with {:?}, not 2",
            validate.status.code()
        ));
    }
    if !validate.stdout.is_empty() {
        problems.push(format!("{name}: validate printed on stdout"));
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = staleauth(&["run", &relative, "--out", out.to_str().unwrap()]);
    let run_stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    if run.status.code() != Some(2) {
        problems.push(format!(
            "{name}: run exited with {:?}, not 2",
            run.status.code()
        ));
    }
    if out.exists() || fs::read_dir(dir.path()).unwrap().next().is_some() {
        problems.push(format!("{name}: run left files in its output folder"));
    }
    if run_stderr != stderr {
        problems.push(format!(
            "{name}: run and validate print different errors:\n{run_stderr}\n---\n{stderr}"
        ));
    }

    problems.extend(check_shape(&name, &relative, &stderr));
    if update {
        fs::write(&snapshot_path, &stderr).unwrap();
        return problems;
    }
    match fs::read_to_string(&snapshot_path) {
        Ok(expected) if expected == stderr => {}
        Ok(expected) => problems.push(format!(
            "{name}: stderr differs from {}\n--- expected\n{expected}\n--- actual\n{stderr}",
            snapshot_path.display()
        )),
        Err(_) => problems.push(format!(
            "{name}: no snapshot {}; run with STALEAUTH_UPDATE_SNAPSHOTS=1 and review it\n{stderr}",
            snapshot_path.display()
        )),
    }
    problems
}

#[test]
fn invalid_scenarios_match_snapshots() {
    let update = std::env::var_os("STALEAUTH_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let files = corpus();
    assert!(
        files.len() >= MIN_CASES,
        "tests/invalid holds {} scenarios, fewer than {MIN_CASES}",
        files.len()
    );
    let mut problems = Vec::new();
    for file in &files {
        problems.extend(check_case(file, update));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_snapshot_has_a_scenario() {
    for entry in fs::read_dir(repo_path("tests/invalid")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            assert!(
                path.with_extension("toml").exists(),
                "{} has no scenario beside it",
                path.display()
            );
        }
    }
}
