//! `staleauth run`: run one scenario and write its outputs.

use std::path::PathBuf;

use clap::Args;

use staleauth::error::Error;
use staleauth::output::{self, banner};

use super::ScenarioArgs;

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Output folder; default `results/<scenario name>`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the output folder, not the banner and the table of windows.
    #[arg(long, short)]
    quiet: bool,
    /// Write `report.md` and one SVG timeline per probe into the output folder. This is the
    /// default, so that a run into `results/<name>` leaves what `staleauth regen` leaves.
    #[arg(long, conflicts_with = "no_report")]
    report: bool,
    /// Do not write `report.md` and the SVG figures. `--skip` implies it, since a report needs
    /// every CSV file.
    #[arg(long)]
    no_report: bool,
    /// Do not write this output file: `requests.csv` (one row per request) or `events.csv` (one
    /// row per processed event). Repeatable. On long runs these are the largest files.
    #[arg(long, value_name = "FILE", value_parser = ["requests.csv", "events.csv"])]
    skip: Vec<String>,
}

pub fn exec(args: RunArgs) -> Result<u8, Error> {
    let scenario = args.scenario.load()?;
    let out = match args.out {
        Some(out) => output::check_out_dir(&out)?,
        None => output::default_out_dir(&scenario),
    };
    if !args.quiet {
        eprint!("{}", banner::banner(&scenario));
    }
    if args.report && !args.skip.is_empty() {
        return Err(Error::Usage(
            "--report needs every CSV file; drop --skip or write the report later with `staleauth report`, which also needs them".into(),
        ));
    }
    let options = output::OutputOptions {
        events: !args.skip.iter().any(|f| f == "events.csv"),
        requests: !args.skip.iter().any(|f| f == "requests.csv"),
        report: !args.no_report && args.skip.is_empty(),
    };
    let result = output::run_to_dir_with(&scenario, &out, options)?;
    if args.quiet {
        eprintln!("{}", out.display());
    } else {
        eprint!(
            "{}",
            banner::summary(&scenario, &result, &out.display().to_string())
        );
    }
    Ok(0)
}
