//! The event queue.
//!
//! Entries leave in the order of the key (time, class, insertion sequence). At one instant the
//! classes leave in the order of [`EventClass`]: directory changes, then timer expiries, then
//! restarts, then requests. Entries of one class at one instant leave in insertion order.
//!
//! Timers are keyed: arming a timer that is already pending moves it (and gives it a new insertion
//! sequence), and cancelling removes it, so a timer that is re-armed a million times still occupies
//! one entry. One-shot events carry a payload and occupy one entry until they are popped.

// The payload map is keyed by insertion sequence and never iterated, so its order cannot reach
// an output.
#![allow(clippy::disallowed_types)]

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash};

use priority_queue::PriorityQueue;

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
    pub fn as_str(self) -> &'static str {
        match self {
            EventClass::Directory => "directory",
            EventClass::Timer => "timer",
            EventClass::Restart => "restart",
            EventClass::Request => "request",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Slot<K> {
    Once(u64),
    Timer(K),
}

type Key = Reverse<(SimTime, EventClass, u64)>;

/// A fixed-key hasher: the queue's internal map is never iterated into output, and fixed keys keep
/// the library free of the operating system's randomness.
type FixedState = BuildHasherDefault<DefaultHasher>;

/// An entry taken from the queue.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped<K, T> {
    Event(T),
    Timer(K),
}

/// A priority queue of one-shot events with payloads of type `T` and keyed timers of type `K`.
pub struct EventQueue<K: Hash + Eq + Clone, T> {
    heap: PriorityQueue<Slot<K>, Key, FixedState>,
    payloads: HashMap<u64, T, FixedState>,
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
            heap: PriorityQueue::with_default_hasher(),
            payloads: HashMap::default(),
            next_seq: 0,
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules a one-shot event.
    pub fn schedule(&mut self, at: SimTime, class: EventClass, payload: T) {
        let seq = self.take_seq();
        self.payloads.insert(seq, payload);
        self.heap.push(Slot::Once(seq), Reverse((at, class, seq)));
    }

    /// Arms the timer `key` to fire at `at`, moving it if it is already pending.
    pub fn arm(&mut self, key: K, at: SimTime) {
        let seq = self.take_seq();
        self.heap
            .push(Slot::Timer(key), Reverse((at, EventClass::Timer, seq)));
    }

    /// Cancels the timer `key`; returns whether it was pending.
    pub fn cancel(&mut self, key: &K) -> bool {
        self.heap.remove(&Slot::Timer(key.clone())).is_some()
    }

    /// Returns the instant the timer `key` fires at, if it is pending.
    pub fn timer_at(&self, key: &K) -> Option<SimTime> {
        self.heap
            .get_priority(&Slot::Timer(key.clone()))
            .map(|Reverse((at, _, _))| *at)
    }

    /// Returns the instant of the next entry without removing it.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|(_, Reverse((at, _, _)))| *at)
    }

    /// Removes and returns the next entry with its instant and class.
    pub fn pop(&mut self) -> Option<(SimTime, EventClass, Popped<K, T>)> {
        let (slot, Reverse((at, class, _))) = self.heap.pop()?;
        let popped = match slot {
            Slot::Once(seq) => Popped::Event(
                self.payloads
                    .remove(&seq)
                    .expect("every one-shot entry has a payload"),
            ),
            Slot::Timer(key) => Popped::Timer(key),
        };
        Some((at, class, popped))
    }

    /// Number of pending entries, timers included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
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
}
