//! The checks both fuzz targets make on one scenario text.

use std::path::Path;

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

/// Loads `text`, asserts that an error renders with a `-->` location, and runs an accepted
/// scenario with its horizon capped at 2 days and its work capped by `limits::check`.
pub fn load_and_run(text: &str) {
    let file = Path::new("fuzz.toml");
    let scenario = match scenario::load_str(text, file) {
        Ok(s) => s,
        Err(e) => return check_rendered(&e.to_string()),
    };
    let scenario = if scenario.horizon > HORIZON_CAP {
        let cap = overrides::parse_set("horizon=2d", "fuzz").expect("a valid override");
        let Ok((edited, _)) = overrides::apply(text, &[cap]) else {
            return;
        };
        match scenario::load_str(&edited, file) {
            Ok(s) => s,
            Err(e) => return check_rendered(&e.to_string()),
        }
    } else {
        scenario
    };
    if limits::check(&scenario, FUZZ_LIMITS).is_err() {
        return;
    }
    let _ = sim::simulate(&scenario, &mut NullSink);
}

fn check_rendered(rendered: &str) {
    assert!(
        rendered.contains("-->"),
        "error without a location:\n{rendered}"
    );
}
