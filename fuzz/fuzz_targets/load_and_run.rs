//! Loads arbitrary text as a scenario and runs whatever the loader accepts, on a short horizon.
//!
//! The loader must return `Ok` or `Err` without panicking, and every error must render with a
//! `-->` location. An accepted scenario runs with its horizon capped at 2 days and its work
//! capped by `limits::check`, so that one input costs milliseconds, and the run must not panic.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        common::load_and_run(text);
    }
});
