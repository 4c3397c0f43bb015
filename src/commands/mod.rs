//! Subcommands, one module each: a clap `Args` struct and an `exec` function that calls the
//! library and returns the exit code.

mod merge;
mod regen;
mod run;
mod sweep;
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use staleauth::Scenario;
use staleauth::error::Error;
use staleauth::scenario::{self, overrides};

#[derive(Parser)]
#[command(
    name = "staleauth",
    version,
    about = "Simulate Azure token and RBAC caching and report stale-authorization windows",
    after_help = "Exit codes: 0 success, 1 a check failed, 2 invalid input or I/O failure, 101 internal error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its CSV timelines.
    Run(run::RunArgs),
    /// Check a scenario without running it and print every resolved parameter with its origin.
    Validate(validate::ValidateArgs),
    /// Run every shipped scenario into `results/<name>`, replacing the old outputs.
    Regen(regen::RegenArgs),
    /// Run a sweep file: every point and replication, in parallel, into runs.csv and points.csv.
    Sweep(sweep::SweepArgs),
    /// Combine the shard folders of one sweep into the files an unsharded sweep writes.
    Merge(merge::MergeArgs),
}

/// Runs the chosen subcommand; returns the exit code of a run that finished.
pub fn exec(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Run(args) => run::exec(args),
        Command::Regen(args) => regen::exec(args),
        Command::Validate(args) => validate::exec(args),
        Command::Sweep(args) => sweep::exec(args),
        Command::Merge(args) => merge::exec(args),
    }
}

/// The scenario arguments shared by `run` and `validate`.
#[derive(Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML).
    scenario: PathBuf,
    /// Master seed; overrides the scenario's `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario value by dotted key path, for example `services.arm.instances=4` or
    /// `platform.token_lifetime=24h5m`; array entries are named by `name` or index. Repeatable.
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    set: Vec<String>,
}

impl ScenarioArgs {
    pub fn load(&self) -> Result<Scenario, Error> {
        let mut list = Vec::new();
        for arg in &self.set {
            list.push(overrides::parse_set(arg, "command line").map_err(Error::Usage)?);
        }
        let mut scenario = scenario::load_file_with(&self.scenario, &list)?;
        if let Some(seed) = self.seed {
            scenario.set_seed(seed, "command line");
        }
        Ok(scenario)
    }
}
