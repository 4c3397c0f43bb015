//! The text written to stderr for people: the banner before a run and the table of windows after.

use std::fmt::Write as _;

use crate::observe::Window;
use crate::scenario::Scenario;
use crate::sim::RunResult;

/// Formats the seed and every resolved parameter with its origin.
pub fn banner(scenario: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "staleauth: scenario `{}`, seed {}, horizon {}",
        scenario.name, scenario.seed, scenario.horizon
    );
    let width = scenario
        .parameters
        .iter()
        .map(|p| p.key.len())
        .max()
        .unwrap_or(0);
    for p in &scenario.parameters {
        let _ = writeln!(out, "  {:width$}  {:<24} ({})", p.key, p.value, p.origin);
    }
    out
}

/// Formats what the scenario contains: counts of entities, probes and events.
pub fn inventory(scenario: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} principals, {} groups, {} roles ({} custom), {} assignments, {} app-role grants",
        scenario.principals.len(),
        scenario.groups.len(),
        scenario.roles.len(),
        scenario.roles.iter().filter(|r| !r.builtin).count(),
        scenario.assignments.len(),
        scenario.app_role_grants.len()
    );
    let _ = writeln!(
        out,
        "{} apps, {} services, {} workloads, {} token requests, {} events",
        scenario.apps.len(),
        scenario.services.len(),
        scenario.workloads.len(),
        scenario.token_requests.len(),
        scenario.events.len()
    );
    let _ = writeln!(out, "probes:");
    for p in &scenario.probes {
        let t = &p.target;
        let _ = writeln!(
            out,
            "  {}: app {} on {} ({} instance(s)), {} at {}",
            p.name,
            scenario.apps[t.app].name,
            scenario.services[t.service].name,
            scenario.services[t.service].instances,
            t.action,
            t.scope_display
        );
    }
    let _ = write!(out, "scenario `{}` is valid", scenario.name);
    out
}

/// Formats the windows as an aligned table, one row per window.
pub fn window_table(scenario: &Scenario, windows: &[Window]) -> String {
    let header = [
        "probe", "instance", "kind", "start", "end", "duration", "cause",
    ];
    let rows: Vec<[String; 7]> = windows
        .iter()
        .map(|w| {
            let end = if w.censored {
                format!("{} (censored)", w.end)
            } else {
                w.end.to_string()
            };
            [
                scenario.probes[w.probe].name.clone(),
                w.instance.to_string(),
                w.kind.as_str().to_string(),
                w.start.to_string(),
                end,
                w.end.since(w.start).to_string(),
                w.cause_label(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |cells: &[&str]| {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(s, " {:w$}", c, w = widths[i]);
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}", line(&cells));
    }
    out
}

/// Formats the end-of-run summary.
pub fn summary(scenario: &Scenario, result: &RunResult, out_dir: &str) -> String {
    let mut out = String::new();
    if result.windows.is_empty() {
        let _ = writeln!(out, "no stale-authorization window");
    } else {
        let _ = writeln!(
            out,
            "{} stale-authorization window(s):",
            result.windows.len()
        );
        out.push_str(&window_table(scenario, &result.windows));
    }
    let _ = writeln!(
        out,
        "{} events, {} requests, {} token(s) issued; results in {out_dir}",
        result.events, result.requests, result.tokens_issued
    );
    out
}
