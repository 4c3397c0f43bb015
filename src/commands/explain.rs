//! `staleauth explain`: the decision path of one probe at one instant, in words.

use clap::Args;

use staleauth::error::Error;
use staleauth::observe::explain::{self, Question};
use staleauth::time::{SimTime, parse_duration};

use super::ScenarioArgs;

#[derive(Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Probe name, as in windows.csv.
    #[arg(long)]
    probe: String,
    /// Instant from the scenario start, as a duration: `4h10m`. Events at this instant are applied.
    #[arg(long)]
    at: String,
    /// Instance of the probe's service, from 0.
    #[arg(long, default_value_t = 0)]
    instance: usize,
}

pub fn exec(args: ExplainArgs) -> Result<u8, Error> {
    let at = parse_duration(&args.at)
        .map_err(|e| Error::Usage(format!("invalid --at `{}`: {}", args.at, e.0)))?;
    let scenario = args.scenario.load()?;
    let question = Question {
        probe: args.probe,
        instance: args.instance,
        at: SimTime(at.ms()),
    };
    print!("{}", explain::explain(&scenario, &question)?);
    Ok(0)
}
