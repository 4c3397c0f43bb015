//! W1 and W2 on nexosim 1.0 with one thread: one model whose scheduled events reschedule
//! themselves. nexosim needs a deadline strictly in the future, so gaps are at least 1 ns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nexosim::model::{Context, Model, schedulable};
use nexosim::simulation::{EventKey, Mailbox, SimInit};
use nexosim::time::MonotonicTime;
use serde::{Deserialize, Serialize};
use staleauth_peers::{SplitMix64, horizon_s, parse_case};

static PROCESSED: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize, Deserialize)]
pub struct Chains {
    seed: u64,
    refresh: bool,
    pending: usize,
    expiries: Vec<Option<EventKey>>,
}

fn gap(rng: &mut SplitMix64) -> Duration {
    Duration::from_nanos(((rng.exp_s() * 1e9).round() as u64).max(1))
}

#[Model]
impl Chains {
    #[nexosim(init)]
    async fn init(&mut self, cx: &Context<Self>) {
        let mut rng = SplitMix64(self.seed);
        for chain in 0..self.pending {
            let at = gap(&mut rng);
            cx.schedule_event(at, schedulable!(Self::hold), chain)
                .unwrap();
            if self.refresh {
                let key = cx
                    .schedule_keyed_event(
                        at + Duration::from_secs(10),
                        schedulable!(Self::expire),
                        chain,
                    )
                    .unwrap();
                self.expiries.push(Some(key));
            }
        }
        self.seed = rng.0;
    }

    #[nexosim(schedulable)]
    fn hold(&mut self, chain: usize, cx: &Context<Self>) {
        PROCESSED.fetch_add(1, Ordering::Relaxed);
        let mut rng = SplitMix64(self.seed);
        cx.schedule_event(gap(&mut rng), schedulable!(Self::hold), chain)
            .unwrap();
        self.seed = rng.0;
        if self.refresh {
            if let Some(previous) = self.expiries[chain].take() {
                previous.cancel();
            }
            let key = cx
                .schedule_keyed_event(Duration::from_secs(10), schedulable!(Self::expire), chain)
                .unwrap();
            self.expiries[chain] = Some(key);
        }
    }

    #[nexosim(schedulable)]
    fn expire(&mut self, chain: usize) {
        PROCESSED.fetch_add(1, Ordering::Relaxed);
        self.expiries[chain] = None;
    }
}

fn main() {
    let case = parse_case();
    let model = Chains {
        seed: 42,
        refresh: case.refresh,
        pending: case.pending,
        expiries: Vec::new(),
    };
    let t0 = MonotonicTime::EPOCH;
    let mut sim = SimInit::with_num_threads(1)
        .add_model(model, Mailbox::new(), "chains")
        .init(t0)
        .unwrap();
    let end = t0 + Duration::from_secs_f64(horizon_s(&case));
    let start = Instant::now();
    sim.step_until(end).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    println!("{:.0}", PROCESSED.load(Ordering::Relaxed) as f64 / seconds);
}
