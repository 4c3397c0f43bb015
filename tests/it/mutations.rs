//! The loader on mutated copies of the shipped scenarios: it must return `Ok` or `Err` without
//! panicking, and every error must point at a line and column.
//!
//! The mutants come from a fixed seed, so a failure reproduces. The fuzz target in `fuzz/` does
//! the same search at length; this test keeps a fast, deterministic slice of it in the suite.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::repo_path;

/// Mutants made from each shipped scenario; with six scenarios, 360 inputs in all.
const MUTANTS_PER_SCENARIO: usize = 60;

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Applies one to three random edits: flip a bit of an ASCII byte (the result stays ASCII, so
/// the text stays UTF-8), delete a line, or duplicate a line.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut out = text.to_string();
    for _ in 0..=below(rng, 3) {
        let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
        match below(rng, 3) {
            0 => {
                let ascii: Vec<usize> = out
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| b.is_ascii())
                    .map(|(i, _)| i)
                    .collect();
                if ascii.is_empty() {
                    continue;
                }
                let mut bytes = out.into_bytes();
                let at = ascii[below(rng, ascii.len())];
                bytes[at] ^= 1 << below(rng, 7);
                out = String::from_utf8(bytes).expect("ASCII bit flips keep UTF-8");
                continue;
            }
            1 if !lines.is_empty() => {
                lines.remove(below(rng, lines.len()));
            }
            _ if !lines.is_empty() => {
                let at = below(rng, lines.len());
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            _ => {}
        }
        out = lines.join("\n");
        out.push('\n');
    }
    out
}

/// Checks that each diagnostic of a rendered error has a `--> file:line:column` location.
fn located(rendered: &str) -> bool {
    let diagnostics = rendered
        .lines()
        .filter(|l| l.starts_with("error: ") && !l.starts_with("error: scenario `"))
        .count();
    let locations = rendered
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> mutant.toml:"))
        .filter(|rest| {
            let mut parts = rest.split(':');
            let line = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            let column = parts.next().is_some_and(|p| p.parse::<usize>().is_ok());
            line && column
        })
        .count();
    diagnostics > 0 && diagnostics == locations
}

#[test]
fn mutated_scenarios_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_204);
    let mut files: Vec<_> = fs::read_dir(repo_path("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let (mut accepted, mut rejected) = (0, 0);
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for n in 0..MUTANTS_PER_SCENARIO {
            let mutant = mutate(&text, &mut rng);
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                staleauth::scenario::load_str(&mutant, Path::new("mutant.toml"))
                    .map_err(|e| e.to_string())
            }));
            match outcome {
                Ok(Ok(_)) => accepted += 1,
                Ok(Err(rendered)) => {
                    assert!(
                        located(&rendered),
                        "mutant {n} of {} has a diagnostic without a location:\n{rendered}\n--- input\n{mutant}",
                        file.display()
                    );
                    rejected += 1;
                }
                Err(_) => panic!(
                    "the loader panicked on mutant {n} of {}:\n{mutant}",
                    file.display()
                ),
            }
        }
    }
    // Both paths must be exercised, or the mutations are too weak (or too strong) to test much.
    assert!(accepted > 0, "no mutant was accepted");
    assert!(rejected > 0, "no mutant was rejected");
}
