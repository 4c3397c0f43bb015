//! staleauth: a deterministic discrete-event simulator of Azure token and RBAC caching.
//!
//! After a group membership or role assignment change, each caller keeps seeing the old answer for
//! a while, because of the caches between it and the directory. staleauth replays a scenario and
//! reports every *stale-authorization window*: a maximal interval in which a caller's request
//! would get a decision other than the directory's, with the layer that caused it.
//!
//! The pipeline, one module each:
//! [`scenario`] (parse, validate) → [`model`] (directory, tokens, decisions) → [`engine`] (time,
//! queue, seeded streams) → [`sim`] (the event loop and the caches) → [`observe`] (truth, windows,
//! convergence) → [`output`] (CSV files, banner) → [`report`] (`report.md` and SVG figures).

pub mod engine;
pub mod error;
pub mod model;
pub mod observe;
pub mod output;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod sweep;
pub mod time;

pub use error::Error;
pub use scenario::Scenario;
