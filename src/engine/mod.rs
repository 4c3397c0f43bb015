//! The discrete-event machinery: the event queue with re-armable timers, and seeded random streams.
//!
//! Nothing here knows about Azure. The simulation in [`crate::sim`] drives the queue and draws from
//! the streams; the engine never reads the wall clock or the operating system's randomness.

pub mod queue;
pub mod rng;

pub use queue::{EventClass, EventQueue, Popped};
pub use rng::RandomStream;
