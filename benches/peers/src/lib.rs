//! Shared parts of the peers' W1 and W2 benchmarks: the random stream and the command line.
//!
//! Every program takes `w1|w2 PENDING EVENTS` and prints the rate in events per second, timed
//! after set-up, as `cargo bench --bench queue -- w1 PENDING EVENTS` does for staleauth.

/// SplitMix64, the same generator as staleauth's `benches/queue.rs`.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Draws Exp(mean 1 s) in seconds.
    pub fn exp_s(&mut self) -> f64 {
        let u = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        -u.ln()
    }
}

/// The workload and its size, from the command line.
pub struct Case {
    /// W2: each event also re-arms its chain's expiry 10 s ahead.
    pub refresh: bool,
    pub pending: usize,
    pub events: u64,
}

pub fn parse_case() -> Case {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [workload, pending, events] = args.as_slice() else {
        eprintln!("usage: w1|w2 PENDING EVENTS");
        std::process::exit(2);
    };
    let refresh = match workload.as_str() {
        "w1" => false,
        "w2" => true,
        other => {
            eprintln!("unknown workload `{other}`; valid: w1, w2");
            std::process::exit(2);
        }
    };
    Case {
        refresh,
        pending: pending.parse().expect("PENDING is a count"),
        events: events.parse().expect("EVENTS is a count"),
    }
}

/// Simulated seconds in which the hold model processes about `events` events: each of the
/// `pending` chains fires once per second on average.
pub fn horizon_s(case: &Case) -> f64 {
    case.events as f64 / case.pending as f64
}
