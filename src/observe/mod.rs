//! Observation: truth, effective decisions, windows and change convergence.
//!
//! Words used here:
//! - a *probe* is (app, service, action, scope): a question asked at every instant;
//! - a *pair* is (probe, instance): the probe asked of one instance of its service;
//! - a *window* is a maximal interval [start, end) in which a pair's effective decision differs
//!   from the truth, with its kind (`stale-allow` or `stale-deny`) and causes;
//! - a *change* is a directory event; the pairs it *affects* are those of the probes whose truth
//!   it changed.

pub mod effective;
pub mod explain;
pub mod tracker;

pub use effective::{Cause, Evaluator, Layers};
pub use tracker::{ChangeRecord, Tracker, Window, WindowKind};
