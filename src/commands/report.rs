//! `staleauth report`: write `report.md` and the SVG figures into a results folder.

use std::path::{Path, PathBuf};

use clap::Args;

use staleauth::error::Error;
use staleauth::report;
use staleauth::scenario::{self, overrides};

#[derive(Args)]
pub struct ReportArgs {
    /// Results folder written by `staleauth run`.
    dir: PathBuf,
    /// Scenario the results came from; default `scenarios/<folder name>.toml`.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Overrides the run used, as given to `staleauth run --set`. Repeatable.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
    /// Master seed the run used, as given to `staleauth run --seed`.
    #[arg(long)]
    seed: Option<u64>,
}

/// Finds the scenario of a results folder: `scenarios/<folder name>.toml`.
fn default_scenario(dir: &Path) -> Result<PathBuf, Error> {
    let name = dir.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "invalid results folder `{}`: it has no final name",
            dir.display()
        ))
    })?;
    let mut file = name.to_os_string();
    file.push(".toml");
    let path = Path::new("scenarios").join(file);
    if !path.is_file() {
        return Err(Error::Usage(format!(
            "no scenario for `{}`: `{}` does not exist; pass the scenario file with --scenario FILE",
            dir.display(),
            path.display()
        )));
    }
    Ok(path)
}

pub fn exec(args: ReportArgs) -> Result<u8, Error> {
    if !args.dir.is_dir() {
        return Err(Error::Usage(format!(
            "results folder `{}` not found; run `staleauth run SCENARIO` first",
            args.dir.display()
        )));
    }
    let path = match &args.scenario {
        Some(p) => p.clone(),
        None => default_scenario(&args.dir)?,
    };
    let mut list = Vec::new();
    for arg in &args.set {
        list.push(overrides::parse_set(arg, "command line").map_err(Error::Usage)?);
    }
    let mut scenario = scenario::load_file_with(&path, &list)?;
    if let Some(seed) = args.seed {
        scenario.set_seed(seed, "command line");
    }
    let written = report::write_report(&scenario, &args.dir)?;
    for (name, _) in &written.files {
        println!("{}", args.dir.join(name).display());
    }
    Ok(0)
}
