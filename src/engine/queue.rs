//! The event queue.
//!
//! Entries leave in the order of the key (time, class, insertion sequence). At one instant the
//! classes leave in the order of [`EventClass`]: directory changes, then timer expiries, then
//! restarts, then requests. Entries of one class at one instant leave in insertion order.
//!
//! Timers are keyed: arming a timer that is already pending moves it (and gives it a new insertion
//! sequence), and cancelling removes it, so a timer that is re-armed a million times still occupies
//! one entry. One-shot events carry a payload and occupy one entry until they are popped.

// The timer index is keyed by timer key and never iterated, so its order cannot reach an output.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::hash::Hash;

use rustc_hash::FxBuildHasher;

use crate::time::SimTime;

/// The class of an event, which orders events at the same instant. The derive order is the
/// processing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventClass {
    /// A change to the directory: group membership, role assignment, app-role grant.
    Directory,
    /// A timer expiry: a token or cache entry reaching its refresh or expiry instant, or a role
    /// assignment write becoming visible to a service.
    Timer,
    /// A restart of an app or of a service instance.
    Restart,
    /// A request: a workload arrival or an explicit token request.
    Request,
}

impl EventClass {
    const ALL: [EventClass; 4] = [
        EventClass::Directory,
        EventClass::Timer,
        EventClass::Restart,
        EventClass::Request,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventClass::Directory => "directory",
            EventClass::Timer => "timer",
            EventClass::Restart => "restart",
            EventClass::Request => "request",
        }
    }
}

/// An entry taken from the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped<K, T> {
    Event(T),
    Timer(K),
}

/// Bits of a [`HeapEntry::key`] below the class: the insertion sequence. 2^62 insertions are
/// out of reach of any run.
const SEQ_BITS: u32 = 62;
/// Marks a [`HeapEntry::slot`] that indexes `timers` rather than `payloads`.
const TIMER_BIT: u32 = 1 << 31;
/// The heap position of a timer that is not pending.
const NOT_PENDING: u32 = u32::MAX;

/// One pending entry: its key, and where its payload or timer lives. 32 bytes.
#[derive(Debug, Clone, Copy)]
struct HeapEntry {
    /// The instant in the high 64 bits, the class in the next two, the insertion sequence in the
    /// low 62: comparing keys as integers compares (time, class, insertion sequence).
    key: u128,
    slot: u32,
}

impl HeapEntry {
    #[inline]
    fn before(&self, other: &HeapEntry) -> bool {
        self.key < other.key
    }

    fn at(&self) -> u64 {
        (self.key >> 64) as u64
    }

    fn class(&self) -> EventClass {
        EventClass::ALL[((self.key as u64) >> SEQ_BITS) as usize]
    }
}

#[derive(Debug)]
struct TimerSlot<K> {
    key: K,
    /// Position in the heap, or [`NOT_PENDING`].
    position: u32,
}

/// A priority queue of one-shot events with payloads of type `T` and keyed timers of type `K`.
///
/// It is a binary min-heap of 32-byte entries. Payloads of one-shot events live in a slab beside
/// it, so sifting moves only the entries. Timers live in a second slab that records each pending
/// timer's heap position, and a hash index maps a timer key to its slot, so arming a pending timer
/// sifts its entry in place instead of adding one.
pub struct EventQueue<K: Hash + Eq + Clone, T> {
    heap: Vec<HeapEntry>,
    payloads: Vec<Option<T>>,
    free_payloads: Vec<u32>,
    timers: Vec<TimerSlot<K>>,
    free_timers: Vec<u32>,
    timer_index: HashMap<K, u32, FxBuildHasher>,
    next_seq: u64,
}

impl<K: Hash + Eq + Clone, T> Default for EventQueue<K, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone, T> EventQueue<K, T> {
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::new(),
            payloads: Vec::new(),
            free_payloads: Vec::new(),
            timers: Vec::new(),
            free_timers: Vec::new(),
            timer_index: HashMap::default(),
            next_seq: 0,
        }
    }

    fn key(&mut self, at: SimTime, class: EventClass) -> u128 {
        let seq = self.next_seq;
        self.next_seq += 1;
        debug_assert!(seq < 1 << SEQ_BITS);
        (u128::from(at.0) << 64) | u128::from(((class as u64) << SEQ_BITS) | seq)
    }

    /// Schedules a one-shot event.
    pub fn schedule(&mut self, at: SimTime, class: EventClass, payload: T) {
        let key = self.key(at, class);
        let slot = match self.free_payloads.pop() {
            Some(slot) => {
                self.payloads[slot as usize] = Some(payload);
                slot
            }
            None => {
                self.payloads.push(Some(payload));
                (self.payloads.len() - 1) as u32
            }
        };
        assert!(slot < TIMER_BIT, "more than 2^31 pending events");
        self.push(HeapEntry { key, slot });
    }

    /// Arms the timer `key` to fire at `at`, moving it if it is already pending.
    pub fn arm(&mut self, key: K, at: SimTime) {
        let order = self.key(at, EventClass::Timer);
        if let Some(&timer) = self.timer_index.get(&key) {
            let position = self.timers[timer as usize].position as usize;
            let old = self.heap[position];
            self.heap[position] = HeapEntry {
                key: order,
                slot: old.slot,
            };
            // The new key is later than the old one unless `at` moved earlier.
            if order < old.key {
                self.sift_up(position);
            } else {
                self.sift_down(position);
            }
            return;
        }
        let timer = match self.free_timers.pop() {
            Some(timer) => {
                self.timers[timer as usize] = TimerSlot {
                    key: key.clone(),
                    position: NOT_PENDING,
                };
                timer
            }
            None => {
                self.timers.push(TimerSlot {
                    key: key.clone(),
                    position: NOT_PENDING,
                });
                (self.timers.len() - 1) as u32
            }
        };
        assert!(timer < TIMER_BIT, "more than 2^31 pending timers");
        self.timer_index.insert(key, timer);
        self.push(HeapEntry {
            key: order,
            slot: timer | TIMER_BIT,
        });
    }

    /// Cancels the timer `key`; returns whether it was pending.
    pub fn cancel(&mut self, key: &K) -> bool {
        let Some(timer) = self.timer_index.remove(key) else {
            return false;
        };
        let position = self.timers[timer as usize].position as usize;
        self.remove_at(position);
        self.timers[timer as usize].position = NOT_PENDING;
        self.free_timers.push(timer);
        true
    }

    /// Returns the instant the timer `key` fires at, if it is pending.
    pub fn timer_at(&self, key: &K) -> Option<SimTime> {
        let &timer = self.timer_index.get(key)?;
        let position = self.timers[timer as usize].position as usize;
        Some(SimTime(self.heap[position].at()))
    }

    /// Returns the instant of the next entry without removing it.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|e| SimTime(e.at()))
    }

    /// Removes and returns the next entry with its instant and class.
    pub fn pop(&mut self) -> Option<(SimTime, EventClass, Popped<K, T>)> {
        let top = *self.heap.first()?;
        self.remove_top();
        let class = top.class();
        let popped = if top.slot & TIMER_BIT != 0 {
            let timer = top.slot & !TIMER_BIT;
            let slot = &mut self.timers[timer as usize];
            slot.position = NOT_PENDING;
            let key = slot.key.clone();
            self.timer_index.remove(&key);
            self.free_timers.push(timer);
            Popped::Timer(key)
        } else {
            let payload = self.payloads[top.slot as usize]
                .take()
                .expect("every one-shot entry has a payload");
            self.free_payloads.push(top.slot);
            Popped::Event(payload)
        };
        Some((SimTime(top.at()), class, popped))
    }

    /// Number of pending entries, timers included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    // Heap maintenance. The heap is binary: a 4-ary heap took 5 to 25% more CPU time on the W1
    // and W2 benchmarks (`benches/queue.rs`). Every move of an entry goes through `set`, which
    // keeps the position of a timer up to date. The loops work on slices split from `self`, so
    // that the compiler sees the heap's length and drops most bounds checks.

    fn push(&mut self, entry: HeapEntry) {
        self.heap.push(entry);
        let last = self.heap.len() - 1;
        sift_up(&mut self.heap, &mut self.timers, last, entry);
    }

    /// Removes the root. The hole walks down to a leaf along the earlier child, with one
    /// comparison per level. The last entry then fills it and sifts up, which is usually short
    /// because the last entry usually belongs near the leaves.
    fn remove_top(&mut self) {
        let last = self.heap.pop().expect("the heap is not empty");
        let heap = self.heap.as_mut_slice();
        let timers = self.timers.as_mut_slice();
        let len = heap.len();
        if len == 0 {
            return;
        }
        let mut hole = 0;
        // While both children exist, pick the earlier one without a branch: which child wins is
        // a coin flip that a branch predictor cannot learn.
        while 2 * hole + 2 < len {
            let left = 2 * hole + 1;
            let child = left + usize::from(heap[left + 1].before(&heap[left]));
            set(heap, timers, hole, heap[child]);
            hole = child;
        }
        if 2 * hole + 1 < len {
            let left = 2 * hole + 1;
            set(heap, timers, hole, heap[left]);
            hole = left;
        }
        sift_up(heap, timers, hole, last);
    }

    /// Removes the entry at `position`, filling the hole with the last entry.
    fn remove_at(&mut self, position: usize) {
        let last = self.heap.pop().expect("position is in the heap");
        if position == self.heap.len() {
            return;
        }
        let removed = self.heap[position];
        if last.before(&removed) {
            sift_up(&mut self.heap, &mut self.timers, position, last);
        } else {
            sift_down(&mut self.heap, &mut self.timers, position, last);
        }
    }

    fn sift_up(&mut self, position: usize) {
        let entry = self.heap[position];
        sift_up(&mut self.heap, &mut self.timers, position, entry);
    }

    fn sift_down(&mut self, position: usize) {
        let entry = self.heap[position];
        sift_down(&mut self.heap, &mut self.timers, position, entry);
    }
}

/// Writes `entry` at `position`, recording the position of a timer.
#[inline]
fn set<K>(heap: &mut [HeapEntry], timers: &mut [TimerSlot<K>], position: usize, entry: HeapEntry) {
    if entry.slot & TIMER_BIT != 0 {
        timers[(entry.slot & !TIMER_BIT) as usize].position = position as u32;
    }
    heap[position] = entry;
}

/// Places `entry` at `position` or above it, moving earlier-leaving parents down.
fn sift_up<K>(
    heap: &mut [HeapEntry],
    timers: &mut [TimerSlot<K>],
    mut position: usize,
    entry: HeapEntry,
) {
    while position > 0 {
        let parent = (position - 1) / 2;
        let above = heap[parent];
        if !entry.before(&above) {
            break;
        }
        set(heap, timers, position, above);
        position = parent;
    }
    set(heap, timers, position, entry);
}

/// Places `entry` at `position` or below it, moving later-leaving children up.
fn sift_down<K>(
    heap: &mut [HeapEntry],
    timers: &mut [TimerSlot<K>],
    mut position: usize,
    entry: HeapEntry,
) {
    let len = heap.len();
    loop {
        let left = 2 * position + 1;
        if left >= len {
            break;
        }
        // Branch-free choice of the earlier child, as in `remove_top`.
        let child = if left + 1 < len {
            left + usize::from(heap[left + 1].before(&heap[left]))
        } else {
            left
        };
        let below = heap[child];
        if !below.before(&entry) {
            break;
        }
        set(heap, timers, position, below);
        position = child;
    }
    set(heap, timers, position, entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut EventQueue<u32, &'static str>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((at, class, popped)) = q.pop() {
            let what = match popped {
                Popped::Event(name) => name.to_string(),
                Popped::Timer(key) => format!("timer{key}"),
            };
            out.push(format!("{}:{}:{what}", at.ms(), class.as_str()));
        }
        out
    }

    #[test]
    fn same_instant_follows_class_order() {
        // Inserted in the reverse of the processing order, all at t = 5.
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), EventClass::Request, "req");
        q.schedule(SimTime(5), EventClass::Restart, "restart");
        q.arm(1, SimTime(5));
        q.schedule(SimTime(5), EventClass::Directory, "change");
        q.schedule(SimTime(4), EventClass::Request, "early");
        assert_eq!(
            drain(&mut q),
            [
                "4:request:early",
                "5:directory:change",
                "5:timer:timer1",
                "5:restart:restart",
                "5:request:req"
            ]
        );
    }

    #[test]
    fn ties_keep_insertion_order() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(7), EventClass::Request, "a");
        q.schedule(SimTime(7), EventClass::Request, "b");
        q.schedule(SimTime(7), EventClass::Request, "c");
        q.arm(2, SimTime(7));
        q.arm(1, SimTime(7));
        assert_eq!(
            drain(&mut q),
            [
                "7:timer:timer2",
                "7:timer:timer1",
                "7:request:a",
                "7:request:b",
                "7:request:c"
            ]
        );
    }

    #[test]
    fn rearming_moves_timer_without_growth() {
        let mut q: EventQueue<u32, &str> = EventQueue::new();
        for i in 0..10_000u64 {
            q.arm(9, SimTime(100 + i));
        }
        assert_eq!(q.len(), 1);
        assert_eq!(q.timer_at(&9), Some(SimTime(10_099)));
        // A re-armed timer takes a new insertion sequence: it now leaves after timer 3.
        q.arm(3, SimTime(10_099));
        q.arm(9, SimTime(10_099));
        assert_eq!(drain(&mut q), ["10099:timer:timer3", "10099:timer:timer9"]);
    }

    #[test]
    fn cancelled_timer_never_fires() {
        let mut q: EventQueue<u32, &str> = EventQueue::new();
        q.arm(1, SimTime(10));
        q.arm(2, SimTime(20));
        assert!(q.cancel(&1));
        assert!(!q.cancel(&1));
        assert_eq!(q.len(), 1);
        assert_eq!(drain(&mut q), ["20:timer:timer2"]);
    }

    /// Runs random operations against the queue and a sorted-map model of the same contract,
    /// and checks that both release the same entries in the same order.
    #[test]
    fn matches_sorted_map_model() {
        use std::collections::BTreeMap;

        use crate::engine::RandomStream;

        let classes = [
            EventClass::Directory,
            EventClass::Timer,
            EventClass::Restart,
            EventClass::Request,
        ];
        for seed in 0..20 {
            let mut stream = RandomStream::new(seed, "queue-model");
            let mut q: EventQueue<u32, u64> = EventQueue::new();
            // The model: key (time, class, seq) -> entry, and each pending timer's key.
            let mut model: BTreeMap<(u64, EventClass, u64), Popped<u32, u64>> = BTreeMap::new();
            let mut pending: BTreeMap<u32, (u64, EventClass, u64)> = BTreeMap::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            for step in 0..3_000u64 {
                let at = now + stream.uniform_inclusive(0, 50);
                match stream.index(4) {
                    0 => {
                        let class = classes[stream.index(4)];
                        q.schedule(SimTime(at), class, step);
                        model.insert((at, class, seq), Popped::Event(step));
                        seq += 1;
                    }
                    1 => {
                        let key = stream.index(40) as u32;
                        q.arm(key, SimTime(at));
                        if let Some(old) = pending.remove(&key) {
                            model.remove(&old);
                        }
                        let k = (at, EventClass::Timer, seq);
                        model.insert(k, Popped::Timer(key));
                        pending.insert(key, k);
                        seq += 1;
                    }
                    2 => {
                        let key = stream.index(40) as u32;
                        let was = pending.remove(&key);
                        if let Some(old) = was {
                            model.remove(&old);
                        }
                        assert_eq!(q.cancel(&key), was.is_some());
                    }
                    _ => {
                        let expected = model.pop_first().map(|((t, class, _), p)| {
                            if let Popped::Timer(key) = &p {
                                pending.remove(key);
                            }
                            (SimTime(t), class, p)
                        });
                        let got = q.pop();
                        assert_eq!(got, expected, "seed {seed} step {step}");
                        if let Some((t, _, _)) = got {
                            now = t.ms();
                        }
                    }
                }
                assert_eq!(q.len(), model.len());
                let key = stream.index(40) as u32;
                assert_eq!(q.timer_at(&key), pending.get(&key).map(|k| SimTime(k.0)));
            }
        }
    }
}
