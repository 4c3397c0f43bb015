//! Sweeps: seeds that do not depend on point indices, byte-identical files whatever the thread
//! count or sharding, merge errors, checks and their exit codes, and the shipped sweep files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use staleauth::sweep::files::{self, Columns};
use staleauth::sweep::plan::RunRow;
use staleauth::sweep::{Plan, spec};

use crate::repo_path;

fn staleauth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_staleauth"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a sweep file next to a copy of a shipped base scenario and returns its path.
fn write_sweep(dir: &Path, base: &str, body: &str) -> PathBuf {
    fs::copy(repo_path(&format!("scenarios/{base}")), dir.join(base)).unwrap();
    let path = dir.join("sweep.toml");
    fs::write(&path, format!("scenario = \"{base}\"\n{body}")).unwrap();
    path
}

/// Runs every run of a sweep file in memory, on one thread.
fn run_in_memory(path: &Path) -> (Columns, Vec<RunRow>) {
    let (sweep, _) = match spec::load_file(path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let columns = staleauth::sweep::columns(&sweep);
    let plan = Plan::new(sweep).unwrap();
    let rows = plan.run_all(&plan.runs(), 1, &|| {}).unwrap();
    (columns, rows)
}

const LIFETIME_AXIS: &str = "seed = 7\nreplications = 4\n\
    [[random]]\nkey = \"events.0.at\"\nuniform = { min = \"0s\", max = \"8h\" }\n\
    [[axes]]\nkey = \"platform.token_lifetime\"\n";

#[test]
fn added_axis_value_keeps_other_runs() {
    let dir = tempfile::tempdir().unwrap();
    let small = write_sweep(
        dir.path(),
        "group-removal-exposure.toml",
        &format!("{LIFETIME_AXIS}values = [\"1h\", \"8h\"]\n"),
    );
    let (_, before) = run_in_memory(&small);
    let large = write_sweep(
        dir.path(),
        "group-removal-exposure.toml",
        &format!("{LIFETIME_AXIS}values = [\"30m\", \"1h\", \"2h\", \"8h\"]\n"),
    );
    let (_, after) = run_in_memory(&large);
    assert_eq!(before.len(), 8);
    assert_eq!(after.len(), 16);
    // `1h` moves from point 1 to point 2 and `8h` from point 2 to point 4, but their seeds,
    // drawn removal instants and metrics stay the same.
    for old in &before {
        let new = after
            .iter()
            .find(|r| r.axes == old.axes && r.replication == old.replication)
            .unwrap();
        assert_ne!(new.point, old.point);
        assert_eq!(new.seed, old.seed);
        assert_eq!(new.inputs, old.inputs);
        assert_eq!(new.metrics, old.metrics);
    }
    // Different points and replications get different seeds.
    let mut seeds: Vec<u64> = after.iter().map(|r| r.seed).collect();
    seeds.sort();
    seeds.dedup();
    assert_eq!(seeds.len(), after.len());
}

#[test]
fn exposure_matches_token_phase() {
    // Calls every minute take the backend's token, issued at 0, L, 2L, ... for a lifetime L that
    // is a whole number of minutes. A removal at t is seen at the next renewal, so the only
    // window is a stale-allow of L - (t mod L), or none when t is a multiple of L.
    let dir = tempfile::tempdir().unwrap();
    let path = write_sweep(
        dir.path(),
        "group-removal-exposure.toml",
        &format!("{LIFETIME_AXIS}values = [\"1h\", \"8h\", \"24h5m\"]\n"),
    );
    let (_, rows) = run_in_memory(&path);
    assert_eq!(rows.len(), 12);
    for row in &rows {
        let lifetime = match row.axes[0].as_str() {
            "1h" => 3_600_000,
            "8h" => 28_800_000,
            _ => 86_700_000,
        };
        let at: u64 = row.inputs[0].parse().unwrap();
        assert!(at <= 28_800_000);
        let phase = at % lifetime;
        let expected = if phase == 0 { 0 } else { lifetime - phase };
        assert_eq!(row.metrics.0[0], expected, "run {row:?}");
        assert_eq!(row.metrics.0[1], expected);
        assert_eq!(row.metrics.0[2], 0, "no stale-deny");
        // The whole window is caused by token claims (stale_allow_token_claims_max_ms).
        assert_eq!(row.metrics.0[4], expected);
        // convergence_max_ms: every pair is consistent when the window ends.
        assert_eq!(row.metrics.0[20], expected);
    }
}

fn sweep_cli(file: &Path, out: &Path, extra: &[&str]) -> Output {
    staleauth()
        .arg("sweep")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn assert_same_files(a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        let left = fs::read(a.join(name)).unwrap();
        let right = fs::read(b.join(name)).unwrap();
        assert!(
            left == right,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

const FLAP_SWEEP: &str = "seed = 3\nreplications = 3\n\
    [[axes]]\nkey = \"services.arm.instances\"\nrange = { from = 1, to = 3, step = 1 }\n\
    [[axes]]\nkey = \"services.arm.rbac_max_age\"\nvalues = [\"5m\", \"10m\"]\n\
    [[random]]\nkey = \"events.1.at\"\nuniform = { min = \"5m\", max = \"20m\" }\n";

#[test]
fn jobs_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let one = dir.path().join("one");
    let eight = dir.path().join("eight");
    let output = sweep_cli(&file, &one, &["--jobs", "1"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = sweep_cli(&file, &eight, &["--jobs", "8"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_same_files(&one, &eight, &files::FILES);
    // 3 instance counts x 2 max ages x 3 replications.
    let runs = fs::read_to_string(one.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 18);
    // Not a terminal: one summary line, no progress bar.
    assert!(stderr(&output).contains("sweep `sweep`: 18 run(s) of 6 point(s)"));
}

#[test]
fn shards_merge_to_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let whole = dir.path().join("whole");
    let output = sweep_cli(&file, &whole, &["--jobs", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut shards = Vec::new();
    for i in 1..=4 {
        let out = dir.path().join(format!("shard{i}"));
        let output = sweep_cli(&file, &out, &["--shard", &format!("{i}/4"), "--jobs", "1"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(!out.join("points.csv").exists());
        shards.push(out);
    }
    // 18 runs over 4 shards: runs 1, 5, 9, 13, 17 go to shard 1, so it has 5 rows.
    let first = fs::read_to_string(shards[0].join("runs.csv")).unwrap();
    assert_eq!(first.lines().count(), 1 + 5);
    let merged = dir.path().join("merged");
    // Shards in a different order than their numbers.
    let output = staleauth()
        .arg("merge")
        .args([&shards[2], &shards[0], &shards[3], &shards[1]])
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_same_files(&whole, &merged, &files::FILES);
}

#[test]
fn merge_rejects_bad_shard_sets() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let shard = |name: &str, shard: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["--shard", shard];
        args.extend_from_slice(extra);
        let output = sweep_cli(&file, &out, &args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        out
    };
    let a = shard("a", "1/2", &[]);
    let b = shard("b", "2/2", &[]);
    let other = shard("other", "2/2", &["--replications", "2"]);
    let merge = |dirs: &[&PathBuf]| {
        let out = dir.path().join("merged");
        let output = staleauth()
            .arg("merge")
            .args(dirs)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(!out.exists());
        stderr(&output)
    };
    assert!(merge(&[&a]).contains("missing shard(s): 2/2"));
    assert!(merge(&[&a, &b, &b]).contains("shard 2/2 is given twice"));
    assert!(merge(&[&a, &other]).contains("come from different sweeps"));
    // Shard 2/2 with the rows of shard 1/2: run 1 (from 0: 0, remainder 0) belongs to shard 1.
    let swapped = dir.path().join("swapped");
    fs::create_dir(&swapped).unwrap();
    fs::copy(b.join("sweep.toml"), swapped.join("sweep.toml")).unwrap();
    fs::copy(a.join("runs.csv"), swapped.join("runs.csv")).unwrap();
    assert!(merge(&[&a, &swapped]).contains("has run 1, which is not in shard 2/2"));
    let whole = dir.path().join("whole");
    assert_eq!(sweep_cli(&file, &whole, &[]).status.code(), Some(0));
    assert!(merge(&[&whole]).contains("is a complete sweep, not a shard"));
}

#[test]
fn broken_check_exits_1_with_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let out = dir.path().join("out");
    // A flap can last up to the max age: at 5 min it stays under 5 min, at 10 min it can exceed
    // it. The check must fail at some 10 min point and at no 5 min point.
    let output = sweep_cli(&file, &out, &["--check", "max(convergence_max_ms) <= 5m"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("check failed"), "{text}");
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("services.arm.instances"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(table[0].contains("services.arm.rbac_max_age"), "{text}");
    assert!(table.len() > 1, "{text}");
    for line in &table[1..] {
        assert!(line.contains(" 10m "), "{line}");
        assert!(line.contains("max(convergence_max_ms) <= 5m"), "{line}");
    }
    // The outputs are written all the same.
    assert!(out.join("points.csv").exists());
    let output = sweep_cli(&file, &out, &["--check", "max(convergence_max_ms) <= 10m"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn points_match_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let out = dir.path().join("out");
    assert_eq!(sweep_cli(&file, &out, &[]).status.code(), Some(0));
    let mut runs = csv::Reader::from_path(out.join("runs.csv")).unwrap();
    let header = runs.headers().unwrap().clone();
    let column = header
        .iter()
        .position(|h| h == "convergence_max_ms")
        .unwrap();
    let values: Vec<u64> = runs
        .records()
        .map(|r| r.unwrap()[column].parse().unwrap())
        .collect();
    let mut points = csv::Reader::from_path(out.join("points.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = points
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[3] == "convergence_max_ms")
        .collect();
    assert_eq!(rows.len(), 6);
    for (p, row) in rows.iter().enumerate() {
        let mut own = values[p * 3..p * 3 + 3].to_vec();
        let mean = own.iter().sum::<u64>() as f64 / 3.0;
        own.sort();
        // Columns: point, 2 axes, metric, runs, mean, p50, p90, p99, max.
        assert_eq!(&row[4], "3");
        assert_eq!(row[5], format!("{mean:.3}"));
        // Nearest rank of 3 values: p50 is rank ceil(1.5) = 2, p90 and p99 rank 3.
        assert_eq!(row[6], own[1].to_string());
        assert_eq!(row[7], own[2].to_string());
        assert_eq!(row[9], own[2].to_string());
        let low: f64 = row[10].parse().unwrap();
        let high: f64 = row[11].parse().unwrap();
        assert!(low <= mean, "{low} {mean} {high}");
        assert!(mean <= high, "{low} {mean} {high}");
    }
}

#[test]
fn invalid_sweep_exits_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "replicas = 3\n",
            "unknown field `replicas`",
            "sweep.toml:2:1",
        ),
        (
            "[[axes]]\nkey = \"services.arm.instances\"\nrange = { from = 4, to = 1, step = 1 }\n",
            "empty range",
            "axes[0].range",
        ),
        (
            "[[axes]]\nkey = \"services.arm.instances\"\nrange = { from = 1, to = \"5m\", step = 1 }\n",
            "mixes integers and durations",
            "axes[0].range.to",
        ),
        (
            "checks = [\"p99(stale_allow_ms) <= 8h\"]\n",
            "did you mean `stale_allow_max_ms`?",
            "checks[0]",
        ),
        (
            "[[axes]]\nkey = \"horizon\"\nvalues = [\"1h\"]\n[[random]]\nkey = \"horizon\"\nuniform = { min = \"1h\", max = \"2h\" }\n",
            "`horizon` is swept twice",
            "random[0].key",
        ),
    ];
    for (body, message, location) in cases {
        let file = write_sweep(dir.path(), "arm-instances-flap.toml", body);
        let out = dir.path().join("out");
        let output = sweep_cli(&file, &out, &[]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(message), "{message}: {text}");
        assert!(text.contains(location), "{location}: {text}");
        assert!(text.starts_with("error: "), "{text}");
        assert!(!text.starts_with("error: error:"), "{text}");
        assert!(text.contains("error: sweep file `"), "{text}");
        assert!(!out.exists());
    }
}

#[test]
fn invalid_point_exits_2_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (body, message) in [
        (
            "[[axes]]\nkey = \"services.arm.instances\"\nvalues = [2, 0]\n",
            "must be a whole number from 1 to 100000, not 0",
        ),
        (
            "[[axes]]\nkey = \"services.storage.instances\"\nvalues = [2]\n",
            "no entry of `services` is named `storage`",
        ),
        (
            "[[random]]\nkey = \"events.1.at\"\nuniform = { min = \"5m\", max = \"50m\" }\n",
            "events[1].at",
        ),
    ] {
        let file = write_sweep(dir.path(), "arm-instances-flap.toml", body);
        let output = sweep_cli(&file, &out, &[]);
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(message), "{message}: {text}");
        assert!(!out.exists());
    }
}

#[test]
fn shipped_sweeps_run() {
    let mut names: Vec<PathBuf> = fs::read_dir(repo_path("scenarios/sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3);
    let dir = tempfile::tempdir().unwrap();
    for file in names {
        let out = dir.path().join(file.file_stem().unwrap());
        let output = sweep_cli(&file, &out, &["--replications", "2"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(out.join("points.csv").exists());
    }
}

/// Returns the first TOML block of the README's "Sweeps" section.
fn readme_sweep_example() -> String {
    let readme = fs::read_to_string(repo_path("README.md")).unwrap();
    let section = readme.split("\n## Sweeps\n").nth(1).unwrap();
    let block = section.split("```toml\n").nth(1).unwrap();
    block.split("```").next().unwrap().to_string()
}

#[test]
fn readme_example_runs() {
    // The example names its base scenario relative to the repository root, so it is written to
    // a folder with the same layout.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("scenarios")).unwrap();
    fs::copy(
        repo_path("scenarios/arm-instances-flap.toml"),
        dir.path().join("scenarios/arm-instances-flap.toml"),
    )
    .unwrap();
    let file = dir.path().join("flap-sweep.toml");
    fs::write(&file, readme_sweep_example()).unwrap();
    let out = dir.path().join("out");
    let output = sweep_cli(&file, &out, &["--replications", "2"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // 3 instance counts x 6 max ages (5m to 30m by 5m) x 2 replications.
    assert!(text.contains("36 run(s) of 18 point(s)"), "{text}");
}

#[test]
fn run_seed_replays_with_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let (_, rows) = run_in_memory(&file);
    let row = rows.iter().find(|r| r.metrics.0[0] > 0).unwrap();
    let out = dir.path().join("replay");
    // The README documents `staleauth run BASE --seed SEED --set KEY=VALUE ...` as the replay of a run.
    let output = staleauth()
        .arg("run")
        .arg(dir.path().join("arm-instances-flap.toml"))
        .args(["--seed", &row.seed.to_string()])
        .args(["--set", &format!("services.arm.instances={}", row.axes[0])])
        .args([
            "--set",
            &format!("services.arm.rbac_max_age={}", row.axes[1]),
        ])
        .args(["--set", &format!("events.1.at={}", row.inputs[1])])
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut windows = csv::Reader::from_path(out.join("windows.csv")).unwrap();
    let header = windows.headers().unwrap().clone();
    let kind = header.iter().position(|h| h == "kind").unwrap();
    let duration = header.iter().position(|h| h == "duration_ms").unwrap();
    let longest_allow = windows
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[kind] == "stale-allow")
        .map(|r| r[duration].parse::<u64>().unwrap())
        .max()
        .unwrap();
    assert_eq!(longest_allow, row.metrics.0[0]);
}

#[test]
fn shard_checks_run_at_merge() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    // `broken_check_exits_1_with_table` shows that this check fails at the 10 min points.
    let check = ["--check", "max(convergence_max_ms) <= 5m"];
    let whole = dir.path().join("whole");
    assert_eq!(sweep_cli(&file, &whole, &check).status.code(), Some(1));
    let mut shards = Vec::new();
    for i in 1..=2 {
        let out = dir.path().join(format!("shard{i}"));
        let mut args = vec!["--shard", if i == 1 { "1/2" } else { "2/2" }];
        args.extend_from_slice(&check);
        let output = sweep_cli(&file, &out, &args);
        // A shard has no point statistics, so it cannot fail a check.
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        shards.push(out);
    }
    let merged = dir.path().join("merged");
    let output = staleauth()
        .arg("merge")
        .args(&shards)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("max(convergence_max_ms) <= 5m"), "{text}");
    assert_same_files(&whole, &merged, &files::FILES);
}

#[test]
fn shipped_lifetime_sweep_stays_in_life() {
    let path = repo_path("scenarios/sweeps/token-lifetime-exposure.toml");
    let (mut sweep, text) = match spec::load_file(&path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    sweep.set_replications(5, &text);
    let plan = Plan::new(sweep).unwrap();
    let rows = plan.run_all(&plan.runs(), 2, &|| {}).unwrap();
    assert_eq!(rows.len(), 15);
    for row in &rows {
        let lifetime = match row.axes[0].as_str() {
            "1h" => 3_600_000,
            "8h" => 28_800_000,
            _ => 86_700_000,
        };
        // The removal is drawn from 0 to the point's token lifetime, inside the first token's
        // life, so the exposure is what is left of that life.
        let at: u64 = row.inputs[0].parse().unwrap();
        assert!(at <= lifetime, "{row:?}");
        let expected = if at == lifetime { 0 } else { lifetime - at };
        assert_eq!(row.metrics.0[0], expected, "{row:?}");
    }
}

#[test]
fn interval_check_needs_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_sweep(dir.path(), "arm-instances-flap.toml", FLAP_SWEEP);
    let out = dir.path().join("out");
    let output = sweep_cli(
        &file,
        &out,
        &[
            "--replications",
            "1",
            "--check",
            "ci_high(stale_share) < 0.5",
        ],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("needs at least 2 replications"), "{text}");
    assert!(!out.exists());
    // With the file's 3 replications the interval exists; a share is at most 1.
    let output = sweep_cli(&file, &out, &["--check", "ci_low(stale_share) <= 1"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn shard_default_folder_names_shard() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("small.toml");
    std::fs::write(
        &sweep,
        format!(
            "name = \"small\"\nscenario = \"{}\"\nseed = 3\nreplications = 2\n[[axes]]\nkey = \"services.arm.instances\"\nvalues = [1, 2]\n",
            crate::repo_path("scenarios/arm-instances-flap.toml").display()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_staleauth"))
        .current_dir(dir.path())
        .args(["sweep", "small.toml", "--jobs", "1", "--shard", "2/3"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(dir.path().join("sweep-results/small-shard-2-of-3").is_dir());
    assert!(!dir.path().join("sweep-results/small").exists());
}
