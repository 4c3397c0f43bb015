//! Bounds on the work a scenario asks for, checked before a run starts.
//!
//! A mistyped interval (`1ms` for `1m`) or horizon can ask for billions of events; the run would
//! then take days. [`check`] estimates the requests and the (probe, instance) pairs and rejects a
//! scenario above the limits, naming the largest contributor and the option that raises the limit.

use super::{Arrivals, Scenario};
use crate::error::Error;

/// The limits a run accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Estimated requests plus scheduled events.
    pub max_events: u64,
    /// (probe, instance) pairs observed at every instant.
    pub max_pairs: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_events: 100_000_000,
            max_pairs: 1_000_000,
        }
    }
}

/// The estimated size of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// Requests of every workload: the exact count for fixed arrivals, the expected count for
    /// Poisson arrivals.
    pub requests: u64,
    pub events: u64,
    pub pairs: u64,
    /// The workload with the most requests, and its count.
    pub largest_workload: Option<(String, u64)>,
}

/// Estimates the size of a run.
pub fn estimate(s: &Scenario) -> Estimate {
    let mut requests: u64 = 0;
    let mut largest: Option<(String, u64)> = None;
    for w in &s.workloads {
        let end = w.stop.min(s.horizon);
        let span = end.ms().saturating_sub(w.start.ms());
        let count = match w.arrivals {
            // Arrivals at start, start + every, ... strictly before the end.
            Arrivals::Fixed => span.div_ceil(w.every.ms()),
            Arrivals::Poisson => span / w.every.ms(),
        };
        requests = requests.saturating_add(count);
        if largest.as_ref().is_none_or(|(_, c)| count > *c) {
            largest = Some((w.name.clone(), count));
        }
    }
    let pairs = s
        .probes
        .iter()
        .map(|p| u64::from(s.services[p.target.service].instances))
        .sum();
    Estimate {
        requests,
        events: requests
            .saturating_add(s.events.len() as u64)
            .saturating_add(s.token_requests.len() as u64),
        pairs,
        largest_workload: largest,
    }
}

fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rejects a scenario whose estimated size exceeds `limits`.
pub fn check(s: &Scenario, limits: Limits) -> Result<Estimate, Error> {
    let e = estimate(s);
    if e.events > limits.max_events {
        let mut message = format!(
            "scenario `{}` would simulate about {} events, above the limit of {}",
            s.name,
            grouped(e.events),
            grouped(limits.max_events)
        );
        if let Some((name, count)) = &e.largest_workload {
            message.push_str(&format!(
                "; workload `{name}` alone makes {} requests",
                grouped(*count)
            ));
        }
        message.push_str(
            ". Check its `every`, `start`, `stop` and the horizon, or raise the limit with --max-events N",
        );
        return Err(Error::Usage(message));
    }
    if e.pairs > limits.max_pairs {
        return Err(Error::Usage(format!(
            "scenario `{}` observes {} (probe, instance) pairs at every instant, above the limit of {}. \
             Declare fewer probes or instances, or raise the limit with --max-pairs N",
            s.name,
            grouped(e.pairs),
            grouped(limits.max_pairs)
        )));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(315_360_000_000), "315,360,000,000");
    }
}
