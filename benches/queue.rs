//! Queue benchmarks W1 and W2: the hold model on the project's event queue.
//!
//! W1 (hold): `pending` events are scheduled at set-up. Each popped event schedules one successor
//! at now + Exp(mean 1 s), rounded to the millisecond, so the queue stays at `pending` entries.
//! W2 (hold with refresh): as W1, and each popped event of chain `k` also re-arms chain `k`'s
//! expiry timer to now + 10 s. Re-arming a pending timer cancels its previous instant, so the
//! queue contains `pending` events and `pending` timers. An expiry that fires is counted and not
//! re-armed.
//!
//! Run: `cargo bench --bench queue` prints the median, min and max rate of 5 runs of each case,
//! and the heap bytes per pending entry after set-up. `cargo bench --bench queue -- w2 100000
//! 5000000` runs one case once and prints its rate alone (used by `benches/peers/compare`).

// A benchmark measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use staleauth::engine::{EventClass, EventQueue, Popped};
use staleauth::time::{SimDuration, SimTime};

/// Counts the bytes currently allocated, to report the queue's memory per pending entry.
struct CountingAllocator;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// SplitMix64: a small, fast generator, the same in every peer's version of these workloads.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Draws Exp(mean 1 s) in milliseconds, rounded.
    fn exp_ms(&mut self) -> u64 {
        // A uniform in (0, 1]: 53 random bits, shifted off zero.
        let u = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        (-u.ln() * 1_000.0).round() as u64
    }
}

#[derive(Clone, Copy)]
enum Workload {
    Hold,
    HoldRefresh,
}

struct Outcome {
    events: u64,
    seconds: f64,
    bytes_per_pending: f64,
    expiries: u64,
}

const EXPIRY: SimDuration = SimDuration::from_secs(10);

fn run(workload: Workload, pending: usize, events: u64) -> Outcome {
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut rng = SplitMix64(42);
    let mut queue: EventQueue<u32, u32> = EventQueue::new();
    for chain in 0..pending as u32 {
        let at = SimTime(rng.exp_ms());
        queue.schedule(at, EventClass::Request, chain);
        if let Workload::HoldRefresh = workload {
            queue.arm(chain, at.after(EXPIRY));
        }
    }
    let entries = queue.len();
    let bytes_per_pending = (LIVE_BYTES.load(Ordering::Relaxed) - before) as f64 / entries as f64;

    let start = Instant::now();
    let mut done = 0u64;
    let mut expiries = 0u64;
    while done < events {
        let (now, _, popped) = queue.pop().expect("the hold model never empties");
        match popped {
            Popped::Event(chain) => {
                queue.schedule(
                    now.after(SimDuration(rng.exp_ms())),
                    EventClass::Request,
                    chain,
                );
                if let Workload::HoldRefresh = workload {
                    queue.arm(chain, now.after(EXPIRY));
                }
            }
            Popped::Timer(_) => expiries += 1,
        }
        done += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(&queue);
    Outcome {
        events: done,
        seconds,
        bytes_per_pending,
        expiries,
    }
}

fn parse_workload(name: &str) -> Workload {
    match name {
        "w1" => Workload::Hold,
        "w2" => Workload::HoldRefresh,
        other => {
            eprintln!("unknown workload `{other}`; valid: w1, w2");
            std::process::exit(2);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; positional arguments select one case.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [workload, pending, events] = args.as_slice() {
        let workload = parse_workload(workload);
        let pending = pending.parse().expect("pending is a count");
        let events = events.parse().expect("events is a count");
        let o = run(workload, pending, events);
        println!("{:.0}", o.events as f64 / o.seconds);
        return;
    }

    let cases = [
        ("w1", Workload::Hold, 1_000, 20_000_000),
        ("w1", Workload::Hold, 100_000, 10_000_000),
        ("w2", Workload::HoldRefresh, 1_000, 20_000_000),
        ("w2", Workload::HoldRefresh, 100_000, 10_000_000),
    ];
    println!(
        "case  pending  events    median_ev/s  min_ev/s     max_ev/s     bytes/entry  expiries"
    );
    for (name, workload, pending, events) in cases {
        let mut rates = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let o = run(workload, pending, events);
            rates.push(o.events as f64 / o.seconds);
            last = Some(o);
        }
        rates.sort_by(f64::total_cmp);
        let o = last.expect("five runs");
        println!(
            "{name}    {pending:<8} {events:<9} {:<12.0} {:<12.0} {:<12.0} {:<12.1} {}",
            rates[2], rates[0], rates[4], o.bytes_per_pending, o.expiries
        );
    }
}
