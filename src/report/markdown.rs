//! The text of `report.md`: the scenario summary, the windows of each probe with its figure,
//! the convergence of each change beside its bound, and the causes.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::data::{ResultsData, WindowRow};
use crate::scenario::{Authorization, Scenario};
use crate::time::format_duration;

/// Writes the report; `figures[p]` is the file name of probe `p`'s figure.
/// `flipped[c]` lists the probes whose truth change `c + 1` flipped.
pub fn render(
    scenario: &Scenario,
    data: &ResultsData,
    figures: &[String],
    flipped: &[Vec<usize>],
) -> String {
    let mut out = String::new();
    summary(&mut out, scenario, data);
    windows(&mut out, scenario, data, figures, flipped);
    changes(&mut out, data);
    causes(&mut out, data);
    out
}

fn summary(out: &mut String, scenario: &Scenario, data: &ResultsData) {
    let _ = writeln!(out, "# Report: {}\n", scenario.name);
    if !scenario.header.is_empty() {
        let _ = writeln!(out, "{}\n", scenario.header);
    }
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "{}\n", scenario.description.trim());
    }
    let platform = &scenario.platform;
    let _ = writeln!(
        out,
        "Preset `{}`, seed {}, horizon {}. Managed identity tokens live {} and the identity \
         endpoint's backend caches them for {}; tokens issued directly to other principals live \
         {} to {}.\n",
        scenario.preset,
        scenario.seed,
        scenario.horizon,
        platform.token_lifetime,
        platform.backend_ttl,
        platform.direct_token_lifetime_min,
        platform.direct_token_lifetime_max,
    );
    let _ = writeln!(out, "| app | identity | kind | client cache |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for app in &scenario.apps {
        let principal = &scenario.principals[app.identity];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            app.name,
            principal.name,
            principal.kind.as_str(),
            app.client_cache_name
        );
    }
    let _ = writeln!(
        out,
        "\n| service | kind | instances | authorization | RBAC max age | reload on new token | replication |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    for s in &scenario.services {
        let (authorization, max_age, reload, replication) = match s.authorization {
            Authorization::Rbac => (
                "rbac",
                s.rbac_max_age.to_string(),
                if s.reload_on_new_token { "yes" } else { "no" },
                s.replication.describe(),
            ),
            Authorization::Claims => ("claims", "-".into(), "-", "-".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {authorization} | {max_age} | {reload} | {replication} |",
            s.name, s.kind, s.instances
        );
    }
    let requests = data.requests.len();
    let issued = data
        .requests
        .iter()
        .filter(|r| r.token_source == "issued")
        .count();
    let _ = writeln!(
        out,
        "\n{} directory change(s), {} restart(s), {requests} request(s), of which {issued} got a \
         newly issued token.\n",
        data.changes.len(),
        data.events.iter().filter(|e| e.class == "restart").count(),
    );
}

fn windows(
    out: &mut String,
    scenario: &Scenario,
    data: &ResultsData,
    figures: &[String],
    flipped: &[Vec<usize>],
) {
    let _ = writeln!(out, "## Windows\n");
    let total = |kind: &str| -> (usize, u64) {
        let list: Vec<&WindowRow> = data.windows.iter().filter(|w| w.kind == kind).collect();
        (list.len(), list.iter().map(|w| w.duration_ms).sum())
    };
    let (allow_count, allow_ms) = total("stale-allow");
    let (deny_count, deny_ms) = total("stale-deny");
    let _ = writeln!(
        out,
        "{allow_count} stale-allow window(s) lasting {} in all (access after a revoke), and \
         {deny_count} stale-deny window(s) lasting {} in all (a grant not yet honoured). Times are \
         from the scenario start; a window is `[start, end)` on one instance.\n",
        format_duration(allow_ms),
        format_duration(deny_ms)
    );
    for (p, probe) in scenario.probes.iter().enumerate() {
        let target = &probe.target;
        let _ = writeln!(out, "### Probe `{}`\n", probe.name);
        let _ = writeln!(
            out,
            "App `{}` calls `{}` ({} instance(s)) for `{}` on `{}`.\n",
            scenario.apps[target.app].name,
            scenario.services[target.service].name,
            scenario.services[target.service].instances,
            target.action,
            target.scope_display
        );
        let changes: Vec<String> = flipped
            .iter()
            .enumerate()
            .filter(|(_, probes)| probes.contains(&p))
            .map(|(c, _)| (c + 1).to_string())
            .collect();
        if changes.is_empty() {
            let _ = writeln!(out, "No change flips its truth.\n");
        } else {
            let _ = writeln!(
                out,
                "Changes that flip its truth: {}.\n",
                changes.join(", ")
            );
        }
        let list: Vec<&WindowRow> = data
            .windows
            .iter()
            .filter(|w| w.probe == probe.name)
            .collect();
        if list.is_empty() {
            let _ = writeln!(
                out,
                "No window: every instance agreed with the truth throughout.\n"
            );
        } else {
            window_table(out, &list);
        }
        let _ = writeln!(
            out,
            "![Timeline of probe {}: truth and effective decision per instance]({})\n",
            probe.name, figures[p]
        );
    }
}

fn window_table(out: &mut String, list: &[&WindowRow]) {
    let _ = writeln!(
        out,
        "| instance | kind | start | end | duration | cause | change |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    for w in list {
        let end = if w.censored {
            format!("{} (horizon)", format_duration(w.end_ms))
        } else {
            format_duration(w.end_ms)
        };
        let change = w.change.map_or("-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {} | {end} | {} | {} | {change} |",
            w.instance,
            w.kind,
            format_duration(w.start_ms),
            format_duration(w.duration_ms),
            w.cause
        );
    }
    let _ = writeln!(out);
}

fn changes(out: &mut String, data: &ResultsData) {
    let _ = writeln!(out, "## Changes\n");
    if data.changes.is_empty() {
        let _ = writeln!(out, "No directory change.\n");
        return;
    }
    let _ = writeln!(
        out,
        "Convergence is the time from the change until the first and the last affected (probe, \
         instance) pair agreed with the truth again; the bound is the model's guarantee for the \
         last one (token lifetime for membership and app-role changes, replication delay plus \
         RBAC max age for assignments).\n"
    );
    let _ = writeln!(
        out,
        "| # | at | change | affected pairs | first consistent after | all consistent after | bound | within bound |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in &data.changes {
        let after = |t: Option<u64>| match t {
            Some(t) => format_duration(t.saturating_sub(c.at_ms)),
            None if c.affected == 0 => "-".to_string(),
            None => "not by the horizon".to_string(),
        };
        let within = if c.within_bound.is_empty() {
            "-"
        } else {
            c.within_bound.as_str()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {within} |",
            c.change,
            format_duration(c.at_ms),
            c.description,
            c.affected,
            after(c.first_consistent_ms),
            after(c.all_consistent_ms),
            c.bound_ms.map_or("-".to_string(), |b| format_duration(
                b.saturating_sub(c.at_ms)
            )),
        );
    }
    let _ = writeln!(out);
}

const LAYERS: [(&str, &str); 4] = [
    (
        "client-cache",
        "the app's SDK keeps a token whose claims differ from what the identity endpoint returns now",
    ),
    (
        "token-claims",
        "the identity endpoint's backend returns a cached token with claims issued before the change",
    ),
    (
        "instance-cache",
        "the service instance decides with role assignments it loaded before the change reached it",
    ),
    (
        "replication",
        "the role assignment write has not reached the service's store yet",
    ),
];

fn causes(out: &mut String, data: &ResultsData) {
    let _ = writeln!(out, "## Causes\n");
    if data.windows.is_empty() {
        let _ = writeln!(out, "No window, so no cause.\n");
    } else {
        let mut by_cause: BTreeMap<&str, (usize, u64, u64)> = BTreeMap::new();
        for w in &data.windows {
            let entry = by_cause.entry(w.cause.as_str()).or_default();
            entry.0 += 1;
            entry.1 += w.duration_ms;
            entry.2 = entry.2.max(w.duration_ms);
        }
        let _ = writeln!(out, "| cause | windows | total | longest |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for (cause, (count, total, longest)) in by_cause {
            let _ = writeln!(
                out,
                "| {cause} | {count} | {} | {} |",
                format_duration(total),
                format_duration(longest)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "A cause names the layers whose refresh would end the window: `+` joins layers that must \
         all be refreshed, `|` separates sets of which any one would do, and `;` separates causes \
         that followed each other within one window.\n"
    );
    for (name, meaning) in LAYERS {
        let _ = writeln!(out, "- `{name}`: {meaning}.");
    }
}
