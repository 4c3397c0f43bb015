//! Subcommands, one module each: a clap `Args` struct and an `exec` function that calls the
//! library and returns the exit code.

mod explain;
mod merge;
mod regen;
mod report;
mod run;
mod schema;
mod sweep;
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use staleauth::Scenario;
use staleauth::error::Error;
use staleauth::scenario::{self, limits, overrides};

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
    /// Print the JSON Schema of the scenario format (for editors such as Taplo).
    Schema(schema::SchemaArgs),
    /// Run every shipped scenario into `results/<name>` with its report, replacing the old outputs.
    Regen(regen::RegenArgs),
    /// Explain the decision of one probe at one instant: token, instance entry, truth, window.
    Explain(explain::ExplainArgs),
    /// Write `report.md` and one SVG timeline per probe into a results folder.
    Report(report::ReportArgs),
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
        Command::Report(args) => report::exec(args),
        Command::Explain(args) => explain::exec(args),
        Command::Validate(args) => validate::exec(args),
        Command::Schema(args) => schema::exec(args),
        Command::Sweep(args) => sweep::exec(args),
        Command::Merge(args) => merge::exec(args),
    }
}

/// The scenario arguments shared by `run`, `validate` and `explain`.
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
    /// Reject the scenario when it would simulate more than this many requests and events.
    #[arg(long, value_name = "N", default_value_t = limits::Limits::default().max_events)]
    max_events: u64,
    /// Reject the scenario when it observes more than this many (probe, instance) pairs.
    #[arg(long, value_name = "N", default_value_t = limits::Limits::default().max_pairs)]
    max_pairs: u64,
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
        let bounds = limits::Limits {
            max_events: self.max_events,
            max_pairs: self.max_pairs,
        };
        limits::check(&scenario, bounds)?;
        Ok(scenario)
    }
}
