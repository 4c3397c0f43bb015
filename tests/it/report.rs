//! Reports and `explain`: SVG figures that parse, deterministic bytes, the text of the tables,
//! and the exit codes of bad questions.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::repo_path;

fn staleauth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_staleauth"))
}

/// Runs `staleauth` from the repository root and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let output = staleauth()
        .current_dir(repo_path(""))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn run_with_report(scenario: &str, out: &Path) {
    let (code, _, stderr) = run(&[
        "run",
        &format!("scenarios/{scenario}.toml"),
        "--report",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn committed_svgs_parse_as_xml() {
    let mut count = 0;
    for entry in fs::read_dir(repo_path("results")).unwrap() {
        let dir = entry.unwrap().path();
        for file in fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "svg") {
                continue;
            }
            let text = fs::read_to_string(&path).unwrap();
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
            assert_eq!(root.attribute("width"), Some("800"), "{}", path.display());
            let texts: Vec<&str> = root
                .descendants()
                .filter(|n| n.has_tag_name("text"))
                .filter_map(|n| n.text().map(str::trim))
                .collect();
            assert!(texts.contains(&"stale-deny window"), "{}", path.display());
            count += 1;
        }
    }
    // Every shipped scenario has at least one probe, so at least one figure each.
    let scenarios = fs::read_dir(repo_path("scenarios")).unwrap().count();
    assert!(
        count >= scenarios,
        "{count} figures for {scenarios} scenarios"
    );
}

#[test]
fn report_bytes_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_with_report("arm-instances-flap", &a);
    run_with_report("arm-instances-flap", &b);
    let (files_a, files_b) = (files_of(&a), files_of(&b));
    assert!(files_a.iter().any(|(n, _)| n == "report.md"));
    assert!(files_a.iter().any(|(n, _)| n.ends_with(".svg")));
    assert_eq!(files_a, files_b);

    // `report DIR` on the folder later rewrites the same bytes.
    let (code, _, stderr) = run(&[
        "report",
        a.to_str().unwrap(),
        "--scenario",
        "scenarios/arm-instances-flap.toml",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(files_of(&a), files_b);
}

#[test]
fn report_tables_show_windows_and_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    run_with_report("walkthrough-grant", &out);
    let text = fs::read_to_string(out.join("report.md")).unwrap();
    // The token issued at 0 lives 8 h and carries the groups of 0, so the write granted through
    // the group at 1 h is denied until 8 h: 7 h, caused by the token's claims, change 1.
    assert!(
        text.contains("| 0 | stale-deny | 1h | 8h | 7h | token-claims | 1 |"),
        "{text}"
    );
    // The Reader assignment at 4h5m reaches ARM at its reload at 4h30m (loaded at 4h, max age
    // 30m): 25m after the change, within the bound of 0s replication plus 30m max age.
    assert!(
        text.contains("| 2 | 4h5m | assign Reader at /subscriptions/sub1/resourceGroups/rg2 to webapp-msi | 1 | 25m | 25m | 30m | yes |"),
        "{text}"
    );
    assert!(text.contains("![Timeline of probe blob-write"), "{text}");
    // The summary opens with the scenario file's comment header, without its `#` marks.
    assert!(
        text.contains("\n\nThe original 2018 walkthrough, grant path.\n"),
        "{text}"
    );
    assert!(!text.contains("# Source:"), "{text}");
    assert!(out.join("timeline-blob-write.svg").is_file());
}

#[test]
fn report_rejects_other_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    run_with_report("walkthrough-grant", &out);
    let before = files_of(&out);
    let (code, _, stderr) = run(&[
        "report",
        out.to_str().unwrap(),
        "--scenario",
        "scenarios/arm-instances-flap.toml",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("does not have"), "{stderr}");
    assert!(stderr.contains("rg1-read"), "{stderr}");
    assert_eq!(files_of(&out), before, "nothing is written");
}

#[test]
fn report_without_scenario_names_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("not-a-scenario");
    run_with_report("walkthrough-grant", &out);
    let (code, _, stderr) = run(&["report", out.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--scenario"), "{stderr}");
}

#[test]
fn report_rejects_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    run_with_report("walkthrough-grant", &out);
    fs::write(out.join("notes.txt"), "mine").unwrap();
    fs::write(out.join("old-figure.svg"), "<svg/>").unwrap();
    let (code, _, stderr) = run(&[
        "report",
        out.to_str().unwrap(),
        "--scenario",
        "scenarios/walkthrough-grant.toml",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("does not write"), "{stderr}");
    assert!(out.join("old-figure.svg").is_file(), "nothing is deleted");
}

#[test]
fn report_removes_stale_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    run_with_report("walkthrough-grant", &out);
    fs::write(out.join("timeline-gone.svg"), "<svg/>").unwrap();
    fs::write(out.join("report.md.partial"), "half").unwrap();
    let (code, _, stderr) = run(&[
        "report",
        out.to_str().unwrap(),
        "--scenario",
        "scenarios/walkthrough-grant.toml",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!out.join("timeline-gone.svg").exists());
    assert!(!out.join("report.md.partial").exists());
    assert!(out.join("timeline-blob-write.svg").is_file());
}

#[test]
fn report_rejects_broken_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grant");
    run_with_report("walkthrough-grant", &out);
    // 25200000 ms is the 7 h duration of the blob-write window; a word there is not a number.
    let text = fs::read_to_string(out.join("windows.csv")).unwrap();
    assert!(text.contains("25200000"));
    fs::write(out.join("windows.csv"), text.replace("25200000", "soon")).unwrap();
    let before = files_of(&out);
    let (code, _, stderr) = run(&[
        "report",
        out.to_str().unwrap(),
        "--scenario",
        "scenarios/walkthrough-grant.toml",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid results file"), "{stderr}");
    assert!(stderr.contains("windows.csv"), "{stderr}");
    assert_eq!(files_of(&out), before, "nothing is written");
}

#[test]
fn report_of_missing_folder_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("never-run");
    let (code, _, stderr) = run(&["report", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    assert!(!missing.exists());
}

#[test]
fn explain_walks_the_token_path() {
    let (code, stdout, stderr) = run(&[
        "explain",
        "scenarios/walkthrough-grant.toml",
        "--probe",
        "blob-write",
        "--at",
        "4h",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    // T1 was issued at 0 for storage with the groups of 0; it lives 8 h and the backend keeps it
    // as long, so at 4 h it is still served and lacks blob-writers, which the directory has.
    assert!(stdout.contains("Token: T1"), "{stdout}");
    assert!(stdout.contains("issued at 0s, expires at 8h"), "{stdout}");
    assert!(stdout.contains("backend cache"), "{stdout}");
    assert!(stdout.contains("no client cache"), "{stdout}");
    assert!(stdout.contains("Effective decision: deny."), "{stdout}");
    assert!(stdout.contains("Truth: allow"), "{stdout}");
    assert!(stdout.contains("for blob-writers"), "{stdout}");
    assert!(
        stdout.contains("stale-deny, caused by token-claims"),
        "{stdout}"
    );
    assert!(stdout.contains("closes at 8h"), "{stdout}");
}

#[test]
fn explain_at_change_instant_applies_it() {
    // The Reader assignment at 4h5m is applied before the observation at 4h5m, so the truth is
    // already allow; the ARM entry loaded at 4h holds no Reader until its reload at 4h30m.
    let (code, stdout, stderr) = run(&[
        "explain",
        "scenarios/walkthrough-grant.toml",
        "--probe",
        "rg2-read",
        "--at",
        "4h5m",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("Truth: allow"), "{stdout}");
    assert!(
        stdout.contains("loaded at 4h with token T2, reload due at 4h30m"),
        "{stdout}"
    );
    assert!(stdout.contains("closes at 4h30m"), "{stdout}");
}

#[test]
fn explain_rejects_bad_questions() {
    let scenario = "scenarios/walkthrough-grant.toml";
    let cases: [(&[&str], &str); 4] = [
        (
            &["--probe", "nope", "--at", "1h"],
            "blob-read, blob-write, rg2-read",
        ),
        (&["--probe", "blob-write", "--at", "10h"], "horizon 10h"),
        (
            &["--probe", "blob-write", "--at", "1h", "--instance", "1"],
            "numbered 0 to 0",
        ),
        (
            &["--probe", "blob-write", "--at", "1x"],
            "invalid --at `1x`",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["explain", scenario];
        full.extend_from_slice(args);
        let (code, stdout, stderr) = run(&full);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

#[test]
fn readme_explain_example_runs() {
    // The README shows an `explain` command and lines of its output; both must stay true.
    let readme = fs::read_to_string(repo_path("README.md")).unwrap();
    let command = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- explain "))
        .expect("README has an explain example");
    let args: Vec<&str> = command
        .trim_start_matches("cargo run --release -- ")
        .split_whitespace()
        .collect();
    let (code, stdout, stderr) = run(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let shown = readme
        .split("The example\nabove prints, among other lines:\n\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README shows the example's output");
    for line in shown.lines().filter(|l| *l != "...") {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

/// Splits a Markdown table row into trimmed cells.
fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// Reads `results/<scenario>/windows.csv` as (probe, kind, duration, cause) rows.
fn windows_of(scenario: &str) -> Vec<(String, String, String, String)> {
    let path = repo_path(&format!("results/{scenario}/windows.csv"));
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (probe, kind, duration, cause) = (
        column("probe"),
        column("kind"),
        column("duration"),
        column("cause"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[probe].to_string(),
                r[kind].to_string(),
                r[duration].to_string(),
                r[cause].to_string(),
            )
        })
        .collect()
}

#[test]
fn docs_tables_match_results() {
    // Every "window in `scenario`" cell of the propagation page must be the duration of that
    // probe's window in the scenario's committed windows.csv, or "none" when it has none.
    let page = fs::read_to_string(repo_path("docs/propagation-delays.md")).unwrap();
    let lines: Vec<&str> = page.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let header = cells(line);
        if !line.starts_with('|') || !header.iter().any(|h| h.starts_with("window in `")) {
            continue;
        }
        let probe_col = header.iter().position(|h| h == "probe").unwrap();
        let kind_col = header.iter().position(|h| h == "kind");
        let cause_col = header.iter().position(|h| h == "cause").unwrap();
        for row in lines[i + 2..].iter().take_while(|l| l.starts_with('|')) {
            let row = cells(row);
            let probes: Vec<&str> = row[probe_col]
                .split(", ")
                .map(|p| p.trim_matches('`'))
                .collect();
            for (c, title) in header.iter().enumerate() {
                let Some(scenario) = title
                    .strip_prefix("window in `")
                    .and_then(|s| s.strip_suffix('`'))
                else {
                    continue;
                };
                let windows = windows_of(scenario);
                for probe in &probes {
                    let found: Vec<_> = windows.iter().filter(|w| w.0 == *probe).collect();
                    if row[c] == "none" {
                        assert!(found.is_empty(), "{scenario} {probe}: {found:?}");
                    } else {
                        assert_eq!(found.len(), 1, "{scenario} {probe}: {found:?}");
                        assert_eq!(found[0].2, row[c], "{scenario} {probe} duration");
                        assert_eq!(found[0].3, row[cause_col], "{scenario} {probe} cause");
                        if let Some(k) = kind_col {
                            assert_eq!(found[0].1, row[k], "{scenario} {probe} kind");
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    // The first table names 13 probes (2 + 2 + 1 + 1 + 1 + 1 + 1 + 2 + 2) in two scenarios, and
    // the second 10 (2 + 1 + 1 + 1 + 1 + 2 + 1 + 1) in one.
    assert_eq!(checked, 2 * 13 + 10);
}

#[test]
fn docs_links_resolve() {
    let docs = repo_path("docs");
    let page = fs::read_to_string(docs.join("propagation-delays.md")).unwrap();
    let mut count = 0;
    for part in page.split("](").skip(1) {
        let target = part.split(')').next().unwrap();
        if target.starts_with("http") {
            continue;
        }
        assert!(docs.join(target).exists(), "broken link {target}");
        count += 1;
    }
    assert!(count >= 8, "{count} links");
}
