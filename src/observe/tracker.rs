//! The window tracker: turns the decisions observed at each instant into timeline transitions,
//! windows and change convergence.
//!
//! Decisions are observed after all events of an instant are processed, and they hold until the
//! next instant that has an event. Every instant at which a decision can change (a token or
//! cache entry expiring or falling due, a write becoming visible) is a timer in the queue, so
//! windows open and close exactly on event instants.

use super::Cause;
#[cfg(test)]
use super::Layers;
use crate::time::SimTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WindowKind {
    /// Access that survives a revoke: the security exposure.
    StaleAllow,
    /// A grant not yet honoured: the outage.
    StaleDeny,
}

impl WindowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::StaleAllow => "stale-allow",
            WindowKind::StaleDeny => "stale-deny",
        }
    }
}

/// A stale-authorization window of one (probe, instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub probe: usize,
    pub instance: usize,
    pub kind: WindowKind,
    pub start: SimTime,
    pub end: SimTime,
    /// Each distinct cause seen during the window, in order of first appearance.
    pub causes: Vec<Cause>,
    /// Still open at the horizon, and closed there.
    pub censored: bool,
    /// The last change before the start that changed this probe's truth (index into changes).
    pub change: Option<usize>,
}

impl Window {
    /// Formats the causes: each cause's layers joined by `+`, successive causes by `;`.
    pub fn cause_label(&self) -> String {
        let labels: Vec<String> = self.causes.iter().map(|c| c.to_string()).collect();
        labels.join(";")
    }
}

/// One transition of a pair's (truth, effective, cause).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub t: SimTime,
    pub probe: usize,
    pub instance: usize,
    pub truth: bool,
    pub effective: bool,
    pub cause: Cause,
}

/// Convergence of one directory change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub event: usize,
    pub at: SimTime,
    pub description: String,
    pub affected: usize,
    /// Affected pairs that a later change affected again before they became consistent: their
    /// wait for this change ends there, without a consistent instant.
    pub superseded: usize,
    pub first_consistent: Option<SimTime>,
    /// The last instant an affected pair became consistent, set once no affected pair is still
    /// waiting. It stays `None` while one waits at the horizon, or when every pair was superseded.
    pub all_consistent: Option<SimTime>,
    /// The latest instant by which the model guarantees consistency, if any pair is affected.
    pub bound: Option<SimTime>,
    pending: usize,
    last_consistent: Option<SimTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PairState {
    truth: bool,
    effective: bool,
    cause: Cause,
}

/// Per-pair state is kept in vectors indexed by pair number, `first_pair[probe] + instance`,
/// which is also (probe, instance) order.
#[derive(Default)]
pub struct Tracker {
    instances_per_probe: Vec<usize>,
    first_pair: Vec<usize>,
    last: Vec<Option<PairState>>,
    open: Vec<Option<Window>>,
    closed: Vec<Window>,
    last_truth_change: Vec<Option<usize>>,
    changes: Vec<ChangeRecord>,
    /// Changes waiting for each pair to become consistent.
    waiting: Vec<Vec<usize>>,
}

impl Tracker {
    pub fn new(instances_per_probe: Vec<usize>) -> Tracker {
        let probes = instances_per_probe.len();
        let mut first_pair = Vec::with_capacity(probes);
        let mut pairs = 0;
        for &n in &instances_per_probe {
            first_pair.push(pairs);
            pairs += n;
        }
        Tracker {
            instances_per_probe,
            first_pair,
            last: vec![None; pairs],
            open: vec![None; pairs],
            waiting: vec![Vec::new(); pairs],
            last_truth_change: vec![None; probes],
            ..Tracker::default()
        }
    }

    /// Records a directory change and the probes whose truth it changed; returns its index.
    pub fn record_change(
        &mut self,
        event: usize,
        at: SimTime,
        description: String,
        changed_probes: &[usize],
        bound: Option<SimTime>,
    ) -> usize {
        let id = self.changes.len();
        let mut affected = 0;
        for &p in changed_probes {
            self.last_truth_change[p] = Some(id);
            for i in 0..self.instances_per_probe[p] {
                let key = self.first_pair[p] + i;
                for earlier in std::mem::take(&mut self.waiting[key]) {
                    let c = &mut self.changes[earlier];
                    c.superseded += 1;
                    c.pending -= 1;
                    if c.pending == 0 {
                        c.all_consistent = c.last_consistent;
                    }
                }
                self.waiting[key].push(id);
                affected += 1;
            }
        }
        self.changes.push(ChangeRecord {
            event,
            at,
            description,
            affected,
            superseded: 0,
            first_consistent: None,
            all_consistent: None,
            bound,
            pending: affected,
            last_consistent: None,
        });
        id
    }

    /// Records the decision of one pair at instant `t`; returns the transition if anything changed.
    pub fn observe(
        &mut self,
        t: SimTime,
        probe: usize,
        instance: usize,
        truth: bool,
        effective: bool,
        cause: Cause,
    ) -> Option<Transition> {
        let key = self.first_pair[probe] + instance;
        let now = PairState {
            truth,
            effective,
            cause,
        };
        let kind = match (truth, effective) {
            (false, true) => Some(WindowKind::StaleAllow),
            (true, false) => Some(WindowKind::StaleDeny),
            _ => None,
        };

        // Windows: close one whose kind no longer holds, open one for a new kind, note causes.
        if self.open[key]
            .as_ref()
            .is_some_and(|w| Some(w.kind) != kind)
        {
            let mut w = self.open[key].take().expect("present");
            w.end = t;
            self.closed.push(w);
        }
        if let Some(kind) = kind {
            let change = self.last_truth_change[probe];
            let w = self.open[key].get_or_insert_with(|| Window {
                probe,
                instance,
                kind,
                start: t,
                end: t,
                causes: Vec::new(),
                censored: false,
                change,
            });
            if !w.causes.contains(&cause) {
                w.causes.push(cause);
            }
        } else {
            self.converge(key, t);
        }

        // Timeline: report a transition when truth, effective or cause moved.
        if self.last[key] == Some(now) {
            return None;
        }
        self.last[key] = Some(now);
        Some(Transition {
            t,
            probe,
            instance,
            truth,
            effective,
            cause,
        })
    }

    fn converge(&mut self, key: usize, t: SimTime) {
        if self.waiting[key].is_empty() {
            return;
        }
        for id in std::mem::take(&mut self.waiting[key]) {
            let c = &mut self.changes[id];
            c.first_consistent.get_or_insert(t);
            c.last_consistent = Some(t);
            c.pending -= 1;
            if c.pending == 0 {
                c.all_consistent = c.last_consistent;
            }
        }
    }

    /// Closes every open window at the horizon, marking it censored, and returns the windows
    /// sorted by (start, probe, instance) and the change records.
    pub fn finish(mut self, horizon: SimTime) -> (Vec<Window>, Vec<ChangeRecord>) {
        for mut w in std::mem::take(&mut self.open).into_iter().flatten() {
            w.end = horizon;
            w.censored = true;
            self.closed.push(w);
        }
        let mut windows = self.closed;
        windows.sort_by_key(|w| (w.start, w.probe, w.instance));
        (windows, self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_opens_and_closes_on_instants() {
        let mut t = Tracker::new(vec![1]);
        assert!(
            t.observe(SimTime(0), 0, 0, false, false, Layers::NONE.into())
                .is_some()
        );
        let c = t.record_change(0, SimTime(10), "grant".into(), &[0], Some(SimTime(50)));
        assert_eq!(c, 0);
        t.observe(SimTime(10), 0, 0, true, false, Layers::BACKEND.into());
        // Same state again: no transition.
        assert!(
            t.observe(SimTime(20), 0, 0, true, false, Layers::BACKEND.into())
                .is_none()
        );
        t.observe(SimTime(30), 0, 0, true, true, Layers::NONE.into());
        let (windows, changes) = t.finish(SimTime(100));
        assert_eq!(windows.len(), 1);
        assert_eq!(
            (windows[0].start, windows[0].end),
            (SimTime(10), SimTime(30))
        );
        assert_eq!(windows[0].kind, WindowKind::StaleDeny);
        assert_eq!(windows[0].change, Some(0));
        assert_eq!(changes[0].first_consistent, Some(SimTime(30)));
        assert_eq!(changes[0].all_consistent, Some(SimTime(30)));
    }

    #[test]
    fn later_change_supersedes_waiting_pairs() {
        // Two instances; a grant at 10 reaches instance 0 at 20, and a revoke at 30 restores the
        // old truth on instance 1 before it ever saw the grant.
        let mut t = Tracker::new(vec![2]);
        t.observe(SimTime(0), 0, 0, false, false, Layers::NONE.into());
        t.observe(SimTime(0), 0, 1, false, false, Layers::NONE.into());
        t.record_change(0, SimTime(10), "grant".into(), &[0], None);
        t.observe(SimTime(10), 0, 0, true, false, Layers::INSTANCE.into());
        t.observe(SimTime(10), 0, 1, true, false, Layers::INSTANCE.into());
        t.observe(SimTime(20), 0, 0, true, true, Layers::NONE.into());
        t.record_change(1, SimTime(30), "revoke".into(), &[0], None);
        t.observe(SimTime(30), 0, 0, false, true, Layers::INSTANCE.into());
        t.observe(SimTime(30), 0, 1, false, false, Layers::NONE.into());
        let (_, changes) = t.finish(SimTime(100));
        assert_eq!(changes[0].superseded, 1);
        assert_eq!(changes[0].first_consistent, Some(SimTime(20)));
        assert_eq!(changes[0].all_consistent, Some(SimTime(20)));
        assert_eq!(changes[1].superseded, 0);
        assert_eq!(changes[1].first_consistent, Some(SimTime(30)));
        assert_eq!(changes[1].all_consistent, None);
    }

    #[test]
    fn kind_flip_splits_windows_and_horizon_censors() {
        let mut t = Tracker::new(vec![1]);
        t.observe(SimTime(5), 0, 0, true, false, Layers::BACKEND.into());
        t.observe(SimTime(9), 0, 0, false, true, Layers::INSTANCE.into());
        let (windows, _) = t.finish(SimTime(12));
        assert_eq!(windows.len(), 2);
        assert_eq!(
            (windows[0].start, windows[0].end, windows[0].censored),
            (SimTime(5), SimTime(9), false)
        );
        assert_eq!(windows[1].kind, WindowKind::StaleAllow);
        assert_eq!(
            (windows[1].start, windows[1].end, windows[1].censored),
            (SimTime(9), SimTime(12), true)
        );
    }
}
