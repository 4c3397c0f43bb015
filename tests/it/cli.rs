//! The command line: exit codes, the output folder and what reaches stderr.

use std::fs;
use std::process::Command;

use crate::repo_path;

fn staleauth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_staleauth"))
}

#[test]
fn run_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("seed 1"), "{stderr}");
    assert!(stderr.contains("platform.token_lifetime"), "{stderr}");
    assert!(stderr.contains("stale-deny"), "{stderr}");
    for (file, header) in [
        (
            "windows.csv",
            "probe,app,service,action,scope,instance,kind,start_ms,end_ms,duration_ms",
        ),
        (
            "timeline.csv",
            "t_ms,t,probe,instance,truth,effective,state,cause",
        ),
        (
            "changes.csv",
            "change,at_ms,at,description,affected,superseded,first_consistent_ms,all_consistent_ms,bound_ms",
        ),
        ("requests.csv", "t_ms,t,workload,app,service,instance,token"),
        ("events.csv", "seq,t_ms,t,class,kind,detail"),
        (
            "tokens.csv",
            "token,principal,resource,issued_ms,expires_ms,issued,expires,groups,roles",
        ),
    ] {
        let text = fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text.starts_with(header),
            "{file} starts with {:?}",
            text.lines().next()
        );
    }
    // The ARM token, the second token issued (at 3h), already carries the group the identity
    // joined at 1h, while the storage token issued at 0 does not.
    let tokens = fs::read_to_string(out.join("tokens.csv")).unwrap();
    let rows: Vec<&str> = tokens.lines().collect();
    assert!(rows[1].starts_with("T1,webapp-msi,https://storage.azure.com/,0,28800000,"));
    assert!(rows[1].ends_with(",storage-readers,"), "{}", rows[1]);
    assert!(rows[2].starts_with("T2,webapp-msi,https://management.azure.com/,10800000,"));
    assert!(
        rows[2].ends_with(",blob-writers;storage-readers,"),
        "{}",
        rows[2]
    );
    // A run writes its report by default, as `regen` does.
    assert!(out.join("report.md").exists());
    // Nothing but the results folder is left beside it.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["grant"]);
}

#[test]
fn rerun_replaces_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("events.csv"), "from an older run").unwrap();
    fs::write(out.join("report.md"), "from an older run").unwrap();
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--no-report"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    // With --quiet, stderr is the output folder alone.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        out.display().to_string()
    );
    // The old report is gone with the old folder, and --no-report wrote no new one.
    assert!(!out.join("report.md").exists());
    assert!(
        fs::read_to_string(out.join("events.csv"))
            .unwrap()
            .starts_with("seq,")
    );
    assert!(out.join("windows.csv").exists());
}

#[test]
fn invalid_scenario_exits_2_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    fs::write(
        &scenario,
        "horizon = \"1h\"\n[[services]]\nname = \"arm\"\nkind = \"arm\"\ninstances = 0\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = staleauth()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("must be a whole number from 1 to 100000, not 0"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.toml:5:13"), "{stderr}");
    assert!(stderr.contains("services[0].instances"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn missing_file_exits_2() {
    let output = staleauth()
        .args(["run", "no-such-scenario.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("failed to read scenario `no-such-scenario.toml`"),
        "{stderr}"
    );
}

#[test]
fn unknown_key_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("typo.toml");
    fs::write(&scenario, "horizon = \"1h\"\nhorizen = \"2h\"\n").unwrap();
    let output = staleauth().arg("run").arg(&scenario).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown key `horizen` at the top level"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `horizon`?"), "{stderr}");
    assert!(stderr.contains("typo.toml:2:1"), "{stderr}");
}

#[test]
fn out_never_replaces_other_folders() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("src");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("main.rs"), "fn main() {}").unwrap();
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a staleauth results folder"),
        "{stderr}"
    );
    assert!(out.join("main.rs").exists());
}

#[test]
fn out_rejects_parent_components() {
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .args(["--out", "results/../../escape"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`..` is not allowed"), "{stderr}");
}

#[test]
fn set_overrides_and_reports_origin() {
    let output = staleauth()
        .arg("validate")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .args([
            "--set",
            "services.arm.rbac_max_age=10m",
            "--set",
            "platform.token_lifetime=1h",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no `{key}` in {stdout}"))
            .to_string()
    };
    assert!(line("services.arm.rbac_max_age").contains("10m"));
    assert!(line("services.arm.rbac_max_age").contains("(command line)"));
    assert!(line("platform.token_lifetime").contains("(command line)"));
    // The backend TTL defaults to the token lifetime, so it follows the override.
    assert!(line("platform.backend_ttl").contains("1h "));
    assert!(line("platform.backend_ttl").contains("(follows platform.token_lifetime)"));
    assert!(line("services.storage.rbac_max_age").contains("(scenario)"));
    assert!(stdout.contains("is valid"));
}

#[test]
fn set_errors_point_at_value() {
    let output = staleauth()
        .arg("validate")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .args(["--set", "services.arm.instances=0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`services[1].instances` must be a whole number from 1 to 100000, not 0"),
        "{stderr}"
    );
    // The value came from --set, so no line of the file is shown for it.
    assert!(stderr.contains("(a value given with --set)"), "{stderr}");
    assert!(!stderr.contains("# --set"), "{stderr}");

    let output = staleauth()
        .arg("validate")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .args(["--set", "services.kv.instances=2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no entry of `services` is named `kv`; names: storage, arm"),
        "{stderr}"
    );
}

#[test]
fn shipped_schema_matches_code() {
    let output = staleauth().arg("schema").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let shipped = fs::read_to_string(repo_path("docs/scenario.schema.json")).unwrap();
    assert!(
        output.stdout == shipped.as_bytes(),
        "docs/scenario.schema.json is out of date: run `cargo run -- schema > docs/scenario.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert!(schema["properties"]["horizon"].is_object());
}

#[test]
fn absurd_workload_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A 1 ms interval over ten years: 315,360,000,000 requests, counted as in the message.
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-revoke.toml"))
        .args([
            "--set",
            "horizon=3650d",
            "--set",
            "workloads.blob-read.every=1ms",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("315,360,000,000 requests"), "{stderr}");
    assert!(stderr.contains("--max-events N"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn skip_leaves_out_files() {
    let dir = tempfile::tempdir().unwrap();
    let (full, skipped) = (dir.path().join("full"), dir.path().join("skipped"));
    let run = |out: &std::path::Path, extra: &[&str]| {
        staleauth()
            .arg("run")
            .arg(repo_path("scenarios/walkthrough-grant.toml"))
            .arg("--out")
            .arg(out)
            .arg("--quiet")
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(run(&full, &[]).status.code(), Some(0));
    let output = run(
        &skipped,
        &["--skip", "requests.csv", "--skip", "events.csv"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(!skipped.join("requests.csv").exists());
    assert!(!skipped.join("events.csv").exists());
    // The files that remain are the same as in a run that writes everything.
    for file in ["windows.csv", "timeline.csv", "changes.csv"] {
        assert_eq!(
            fs::read(full.join(file)).unwrap(),
            fs::read(skipped.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn skip_rejects_unknown_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--skip", "windows.csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("requests.csv, events.csv"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn set_keeps_file_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("shifted.toml");
    // Line 6 has the bad duration. `--set platform.token_lifetime=2h` adds a `[platform]` table to
    // the edited text, yet the error must name line 6 of the file as written.
    fs::write(
        &scenario,
        "horizon = \"1h\"\n[[services]]\nname = \"s\"\nkind = \"arm\"\n[[events]]\nat = \"10x\"\nkind = \"restart-instance\"\nservice = \"s\"\ninstance = 0\n",
    )
    .unwrap();
    let output = staleauth()
        .arg("validate")
        .arg(&scenario)
        .args([
            "--set",
            "platform.token_lifetime=2h",
            "--set",
            "services.s.routing=random",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("shifted.toml:6:6"), "{stderr}");
    assert!(stderr.contains("6 | at = \"10x\""), "{stderr}");
}
