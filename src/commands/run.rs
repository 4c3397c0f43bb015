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
    /// Also write `report.md` and one SVG timeline per probe into the output folder.
    #[arg(long)]
    report: bool,
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
    let result = output::run_to_dir_with(&scenario, &out, args.report)?;
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
