//! Loads arbitrary text as a scenario and runs whatever the loader accepts, on a short horizon.
//!
//! The loader must return `Ok` or `Err` without panicking, and every error must render with a
//! `-->` location. An accepted scenario is rerun with its horizon capped at 2 days and its work
//! capped by `limits::check`, so that one input costs milliseconds, and the run must not panic.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use staleauth::scenario::limits::{self, Limits};
use staleauth::scenario::{self, overrides};
use staleauth::sim::{self, NullSink};
use staleauth::time::SimTime;

/// Longest simulated time a fuzz input may run: 2 days in milliseconds.
const HORIZON_CAP: SimTime = SimTime(2 * 24 * 3_600_000);

/// Work limits for one input: far below the defaults, so each run stays short.
const FUZZ_LIMITS: Limits = Limits {
    max_events: 20_000,
    max_pairs: 200,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("fuzz.toml");
    let scenario = match scenario::load_str(text, file) {
        Ok(s) => s,
        Err(e) => {
            let rendered = e.to_string();
            assert!(rendered.contains("-->"), "error without a location:\n{rendered}");
            return;
        }
    };
    let scenario = if scenario.horizon > HORIZON_CAP {
        let cap = overrides::parse_set("horizon=2d", "fuzz").expect("a valid override");
        let Ok((edited, _)) = overrides::apply(text, &[cap]) else {
            return;
        };
        match scenario::load_str(&edited, file) {
            Ok(s) => s,
            Err(e) => {
                let rendered = e.to_string();
                assert!(rendered.contains("-->"), "error without a location:\n{rendered}");
                return;
            }
        }
    } else {
        scenario
    };
    if limits::check(&scenario, FUZZ_LIMITS).is_err() {
        return;
    }
    let _ = sim::simulate(&scenario, &mut NullSink);
});
