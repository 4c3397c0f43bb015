//! Per-run metrics, computed from a [`RunResult`].
//!
//! Window metrics add up every stale-authorization window of the run, over all probes and
//! instances: the longest (`_max_ms`) and the sum of durations (`_total_ms`), for each kind. The
//! per-layer metrics count a window under every layer that appears in any of its causes, so a
//! window caused by `instance-cache+replication` counts under both, and per-layer totals can add
//! up to more than the kind's total. A censored window counts up to the horizon.

use crate::observe::{Layers, Window, WindowKind};
use crate::sim::RunResult;
use crate::time::SimTime;

/// The unit of a metric's values, which decides how they are written and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Integer milliseconds; checks accept durations.
    Ms,
    /// An integer count.
    Count,
    /// A fraction from 0 to 1, derived from two counts.
    Share,
}

/// Layers in pipeline order, with the name used in metric names.
const LAYERS: [(Layers, &str); 4] = [
    (Layers::BACKEND, "token_claims"),
    (Layers::CLIENT, "client_cache"),
    (Layers::INSTANCE, "instance_cache"),
    (Layers::REPLICATION, "replication"),
];

/// Every metric, in the column order of `runs.csv`.
pub const NAMES: [&str; 26] = [
    "stale_allow_max_ms",
    "stale_allow_total_ms",
    "stale_deny_max_ms",
    "stale_deny_total_ms",
    "stale_allow_token_claims_max_ms",
    "stale_allow_token_claims_total_ms",
    "stale_allow_client_cache_max_ms",
    "stale_allow_client_cache_total_ms",
    "stale_allow_instance_cache_max_ms",
    "stale_allow_instance_cache_total_ms",
    "stale_allow_replication_max_ms",
    "stale_allow_replication_total_ms",
    "stale_deny_token_claims_max_ms",
    "stale_deny_token_claims_total_ms",
    "stale_deny_client_cache_max_ms",
    "stale_deny_client_cache_total_ms",
    "stale_deny_instance_cache_max_ms",
    "stale_deny_instance_cache_total_ms",
    "stale_deny_replication_max_ms",
    "stale_deny_replication_total_ms",
    "convergence_max_ms",
    "unconverged_changes",
    "censored_windows",
    "requests",
    "stale_requests",
    "stale_share",
];

/// Number of integer metrics: every metric but the derived `stale_share`.
pub const INTEGER_METRICS: usize = NAMES.len() - 1;
const UNCONVERGED: usize = 21;
const CENSORED: usize = 22;
const REQUESTS: usize = 23;
const STALE_REQUESTS: usize = 24;
const SHARE: usize = 25;

/// Returns the unit of metric `index` in [`NAMES`].
pub fn unit(index: usize) -> Unit {
    match index {
        SHARE => Unit::Share,
        UNCONVERGED | CENSORED | REQUESTS | STALE_REQUESTS => Unit::Count,
        _ => Unit::Ms,
    }
}

/// The metrics of one run: the integer metrics, from which `stale_share` is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMetrics(pub [u64; INTEGER_METRICS]);

impl RunMetrics {
    /// Computes every metric of a finished run that ended at `horizon`.
    pub fn of(result: &RunResult, horizon: SimTime) -> RunMetrics {
        let mut m = [0u64; INTEGER_METRICS];
        for w in &result.windows {
            add_window(&mut m, w);
        }
        for c in result.changes.iter().filter(|c| c.affected > 0) {
            let converged = c.all_consistent.unwrap_or(horizon);
            m[20] = m[20].max(converged.since(c.at).ms());
            m[UNCONVERGED] += u64::from(c.all_consistent.is_none());
        }
        m[REQUESTS] = result.requests;
        m[STALE_REQUESTS] = result.stale_requests;
        RunMetrics(m)
    }

    /// Returns the value of metric `index` in [`NAMES`], as a float for statistics.
    pub fn value(&self, index: usize) -> f64 {
        if index == SHARE {
            let requests = self.0[REQUESTS];
            if requests == 0 {
                return 0.0;
            }
            return self.0[STALE_REQUESTS] as f64 / requests as f64;
        }
        self.0[index] as f64
    }

    /// Formats every metric for `runs.csv`: integers as written, the share with 6 decimals.
    pub fn cells(&self) -> Vec<String> {
        let mut cells: Vec<String> = self.0.iter().map(u64::to_string).collect();
        cells.push(format!("{:.6}", self.value(SHARE)));
        cells
    }
}

fn add_window(m: &mut [u64; INTEGER_METRICS], w: &Window) {
    let duration = w.end.since(w.start).ms();
    let base = match w.kind {
        WindowKind::StaleAllow => 0,
        WindowKind::StaleDeny => 2,
    };
    m[base] = m[base].max(duration);
    m[base + 1] += duration;
    let layer_base = 4 + base * 4;
    let all = w
        .causes
        .iter()
        .fold(Layers::NONE, |a, c| a.union(c.layers()));
    for (i, (layer, _)) in LAYERS.iter().enumerate() {
        if all.contains(*layer) {
            let at = layer_base + 2 * i;
            m[at] = m[at].max(duration);
            m[at + 1] += duration;
        }
    }
    m[CENSORED] += u64::from(w.censored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_match_table() {
        for (kind_index, kind) in ["allow", "deny"].iter().enumerate() {
            for (i, (_, layer)) in LAYERS.iter().enumerate() {
                let at = 4 + kind_index * 8 + 2 * i;
                assert_eq!(NAMES[at], format!("stale_{kind}_{layer}_max_ms"));
                assert_eq!(NAMES[at + 1], format!("stale_{kind}_{layer}_total_ms"));
            }
        }
        assert_eq!(NAMES[UNCONVERGED], "unconverged_changes");
        assert_eq!(NAMES[SHARE], "stale_share");
    }
}
