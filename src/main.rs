//! The `staleauth` command: a thin layer over the library that maps results to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use staleauth::error::{EXIT_OK, Error};
use staleauth::output::{self, banner};
use staleauth::scenario;

#[derive(Parser)]
#[command(
    name = "staleauth",
    version,
    about = "Simulate Azure token and RBAC caching and report stale-authorization windows",
    after_help = "Exit codes: 0 success, 2 invalid input or I/O failure, 101 internal error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its CSV timelines.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Output folder; default `results/<scenario name>`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Master seed; overrides the scenario's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Print only the output folder, not the banner and the table of windows.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Run {
            scenario: path,
            out,
            seed,
            quiet,
        } => {
            let mut scenario = scenario::load_file(&path)?;
            if let Some(seed) = seed {
                scenario.seed = seed;
                for p in &mut scenario.parameters {
                    if p.key == "seed" {
                        p.value = seed.to_string();
                        p.origin = "command line".into();
                    }
                }
            }
            let out = out.unwrap_or_else(|| output::default_out_dir(&scenario));
            if !quiet {
                eprint!("{}", banner::banner(&scenario));
            }
            let result = output::run_to_dir(&scenario, &out)?;
            if quiet {
                eprintln!("{}", out.display());
            } else {
                eprint!(
                    "{}",
                    banner::summary(&scenario, &result, &out.display().to_string())
                );
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::from(EXIT_OK as u8),
        Err(e) => {
            match &e {
                Error::Scenario(_) => eprintln!("{e}"),
                _ => eprintln!("error: {e}"),
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
