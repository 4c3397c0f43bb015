//! `staleauth regen`: run every shipped scenario into `results/<name>`, with its report and
//! figures.
//!
//! Outputs are deterministic, so after `regen` a `git diff results/` shows only real changes of
//! behaviour; CI runs it and fails on any difference.

use std::path::{Path, PathBuf};

use clap::Args;

use staleauth::error::Error;
use staleauth::output;
use staleauth::scenario;

#[derive(Args)]
pub struct RegenArgs {
    /// Folder of scenarios to run; every `*.toml` directly inside it.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Folder that receives one results folder per scenario.
    #[arg(long, default_value = "results")]
    results: PathBuf,
}

/// Lists the `*.toml` files directly inside `dir`, sorted by name.
pub fn scenario_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Error::io(format!("failed to list `{}`", dir.display()), e))?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub fn exec(args: RegenArgs) -> Result<u8, Error> {
    let files = scenario_files(&args.scenarios)?;
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "no scenario (*.toml) in `{}`",
            args.scenarios.display()
        )));
    }
    // Validate every scenario before writing anything, so a bad file leaves results untouched.
    let mut scenarios = Vec::new();
    for path in &files {
        scenarios.push(scenario::load_file(path)?);
    }
    for s in &scenarios {
        let out = args.results.join(&s.name);
        let result = output::run_to_dir_with(
            s,
            &out,
            output::OutputOptions {
                report: true,
                ..output::OutputOptions::default()
            },
        )?;
        eprintln!(
            "{:<28} {:>3} window(s) {:>7} requests  -> {}",
            s.name,
            result.windows.len(),
            result.requests,
            out.display()
        );
    }
    Ok(0)
}
