//! W1 and W2 on simcore 0.1 (the DSLab engine): one component whose events reschedule
//! themselves. simcore cancels lazily: a cancelled expiry stays in its heap until its time.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use serde::Serialize;
use simcore::{Event, EventHandler, EventId, Simulation, SimulationContext, cast};
use staleauth_peers::{SplitMix64, horizon_s, parse_case};

#[derive(Clone, Serialize)]
struct Hold {
    chain: usize,
}

#[derive(Clone, Serialize)]
struct Expiry {
    chain: usize,
}

struct Chains {
    ctx: SimulationContext,
    rng: SplitMix64,
    refresh: bool,
    expiries: Vec<Option<EventId>>,
    processed: u64,
}

impl Chains {
    fn rearm(&mut self, chain: usize, delay: f64) {
        if let Some(previous) = self.expiries[chain].take() {
            self.ctx.cancel_event(previous);
        }
        self.expiries[chain] = Some(self.ctx.emit_self(Expiry { chain }, delay));
    }
}

impl EventHandler for Chains {
    fn on(&mut self, event: Event) {
        self.processed += 1;
        cast!(match event.data {
            Hold { chain } => {
                let gap = self.rng.exp_s();
                self.ctx.emit_self(Hold { chain }, gap);
                if self.refresh {
                    self.rearm(chain, 10.0);
                }
            }
            Expiry { chain } => {
                self.expiries[chain] = None;
            }
        })
    }
}

fn main() {
    let case = parse_case();
    let mut sim = Simulation::new(42);
    let ctx = sim.create_context("chains");
    let chains = Rc::new(RefCell::new(Chains {
        ctx,
        rng: SplitMix64(42),
        refresh: case.refresh,
        expiries: vec![None; case.pending],
        processed: 0,
    }));
    sim.add_handler("chains", chains.clone());
    {
        let mut c = chains.borrow_mut();
        for chain in 0..case.pending {
            let at = c.rng.exp_s();
            c.ctx.emit_self(Hold { chain }, at);
            if case.refresh {
                c.rearm(chain, at + 10.0);
            }
        }
    }
    let start = Instant::now();
    sim.step_until_time(horizon_s(&case));
    let seconds = start.elapsed().as_secs_f64();
    let processed = chains.borrow().processed;
    println!("{:.0}", processed as f64 / seconds);
}
