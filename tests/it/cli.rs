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
            "change,at_ms,at,description,affected,first_consistent_ms,all_consistent_ms,bound_ms",
        ),
        ("requests.csv", "t_ms,t,workload,app,service,instance,token"),
        ("events.csv", "seq,t_ms,t,class,kind,detail"),
    ] {
        let text = fs::read_to_string(out.join(file)).unwrap();
        assert!(
            text.starts_with(header),
            "{file} starts with {:?}",
            text.lines().next()
        );
    }
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
    fs::write(out.join("stale.txt"), "from an older run").unwrap();
    let status = staleauth()
        .arg("run")
        .arg(repo_path("scenarios/walkthrough-grant.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!out.join("stale.txt").exists());
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
    assert!(stderr.contains("zero instances"), "{stderr}");
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
    assert!(stderr.contains("unknown field `horizen`"), "{stderr}");
    assert!(stderr.contains("typo.toml:2:1"), "{stderr}");
}
