//! `staleauth validate`: check a scenario without running it and print its resolved parameters.

use clap::Args;

use staleauth::error::Error;
use staleauth::output::banner;

use super::ScenarioArgs;

#[derive(Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
}

pub fn exec(args: ValidateArgs) -> Result<u8, Error> {
    let scenario = args.scenario.load()?;
    print!("{}", banner::banner(&scenario));
    println!("{}", banner::inventory(&scenario));
    Ok(0)
}
