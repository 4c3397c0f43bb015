//! Varies a shipped scenario with `--set` overrides and runs the result.
//!
//! Arbitrary text rarely makes a valid scenario, so most inputs of `load_and_run` stop in the
//! loader. Here the first byte picks a shipped scenario and each following line is one override
//! (`services.storage.instances=3`, `events.0.at=90m`), so that most inputs are valid and reach
//! the simulation with values the shipped files never use.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use staleauth::scenario::overrides;

const SCENARIOS: [&str; 6] = [
    include_str!("../../scenarios/arm-instances-flap.toml"),
    include_str!("../../scenarios/functions-group-24h.toml"),
    include_str!("../../scenarios/imds-fetch-order-a.toml"),
    include_str!("../../scenarios/imds-fetch-order-b.toml"),
    include_str!("../../scenarios/walkthrough-grant.toml"),
    include_str!("../../scenarios/walkthrough-revoke.toml"),
];

/// Most overrides applied from one input, to keep each input small.
const MAX_OVERRIDES: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(lines) = std::str::from_utf8(rest) else {
        return;
    };
    let base = SCENARIOS[usize::from(pick) % SCENARIOS.len()];
    let sets: Vec<overrides::Override> = lines
        .lines()
        .take(MAX_OVERRIDES)
        .filter_map(|line| overrides::parse_set(line, "fuzz").ok())
        .collect();
    if let Ok((edited, _)) = overrides::apply(base, &sets) {
        common::load_and_run(&edited);
    }
});
