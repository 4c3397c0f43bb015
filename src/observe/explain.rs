//! `explain`: the decision path of one probe on one instance at one instant, in words.
//!
//! The scenario runs up to and including the events at the instant, as the observer evaluates it.
//! The [`Evaluator`] then inspects the state without changing it. The explanation gives the token
//! a request would present and where it comes from, the instance's RBAC entry, the decision, and
//! the truth with the assignment or rule behind it. The window that contains the instant, with
//! its end, comes from a full run.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::{Evaluator, WindowKind};
use crate::error::Error;
use crate::model::{self, Token};
use crate::scenario::{Authorization, ClientCache, Scenario, Target};
use crate::sim::{self, NullSink, state::State};
use crate::time::SimTime;

/// A question for `explain`: a probe by name, an instance of its service, an instant.
#[derive(Debug, Clone)]
pub struct Question {
    pub probe: String,
    pub instance: usize,
    pub at: SimTime,
}

/// Checks the question against the scenario; returns the probe's index.
fn check(scenario: &Scenario, q: &Question) -> Result<usize, Error> {
    let Some(p) = scenario.probes.iter().position(|p| p.name == q.probe) else {
        let names: Vec<&str> = scenario.probes.iter().map(|p| p.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "unknown probe `{}`; scenario `{}` has: {}",
            q.probe,
            scenario.name,
            names.join(", ")
        )));
    };
    if q.at >= scenario.horizon {
        return Err(Error::Usage(format!(
            "--at {} is not before the horizon {} of scenario `{}`; give an instant from 0s to {}",
            q.at,
            scenario.horizon,
            scenario.name,
            SimTime(scenario.horizon.ms() - 1)
        )));
    }
    let service = &scenario.services[scenario.probes[p].target.service];
    if q.instance >= service.instances as usize {
        return Err(Error::Usage(format!(
            "--instance {} is out of range: service `{}` has {} instance(s), numbered 0 to {}",
            q.instance,
            service.name,
            service.instances,
            service.instances - 1
        )));
    }
    Ok(p)
}

/// Explains the decision of `q`'s probe on its instance at its instant.
pub fn explain(scenario: &Scenario, q: &Question) -> Result<String, Error> {
    let p = check(scenario, q)?;
    let state = sim::state_at(scenario, q.at)?;
    let full = sim::simulate(scenario, &mut NullSink)?;
    let probe = &scenario.probes[p];
    let target = &probe.target;
    let evaluator = Evaluator {
        scenario,
        state: &state,
        t: q.at,
    };
    let truth = model::truth(
        scenario,
        &state.directory,
        scenario.apps[target.app].identity,
        target.service,
        &target.action,
        &target.scope,
    );
    let permitted =
        model::permitting_roles(scenario, &scenario.services[target.service], &target.action);
    let (effective, cause) = evaluator.effective(target, q.instance, truth, &permitted);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "probe `{}` at {} on instance {} of `{}`: app `{}` asks for `{}` on `{}`.\n",
        probe.name,
        q.at,
        q.instance,
        scenario.services[target.service].name,
        scenario.apps[target.app].name,
        target.action,
        target.scope_display
    );
    token_section(&mut out, &evaluator, target);
    let token = {
        let path = evaluator.path(target);
        evaluator.presented_token(&path).as_ref().clone()
    };
    instance_section(&mut out, scenario, &state, q, target, &token);
    let _ = writeln!(
        out,
        "Effective decision: {}.",
        crate::observe::effective::decision_label(effective)
    );
    truth_section(&mut out, scenario, &state, target, truth);
    if effective == truth {
        let _ = writeln!(out, "State: consistent.");
    } else {
        let kind = if effective {
            "stale-allow"
        } else {
            "stale-deny"
        };
        let _ = writeln!(out, "State: {kind}, caused by {cause}.");
    }
    window_section(&mut out, &full.windows, p, q);
    Ok(out)
}

fn describe_token(scenario: &Scenario, token: &Token) -> String {
    let groups = match &token.groups {
        Some(g) if g.is_empty() => "no group".to_string(),
        Some(g) => format!(
            "groups {}",
            g.iter()
                .map(|&g| scenario.groups[g].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "no groups claim (overage: the service looks groups up itself)".to_string(),
    };
    let roles = if token.roles.is_empty() {
        "no app role".to_string()
    } else {
        format!(
            "app roles {}",
            token.roles.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    };
    format!("{groups}; {roles}")
}

fn token_section(out: &mut String, evaluator: &Evaluator, target: &Target) {
    let scenario = evaluator.scenario;
    let state = evaluator.state;
    let path = evaluator.path(target);
    let token = evaluator.presented_token(&path);
    let app = &scenario.apps[target.app];
    let resource = &scenario.resources[target.resource];
    let source = if path.client().is_some_and(|c| c.id == token.id) {
        let refresh = state.clients[target.app][&target.resource].refresh_at;
        format!(
            "the app's SDK cache (`{}`), which refreshes it at {refresh}",
            app.client_cache_name
        )
    } else if path.backend().is_some_and(|b| b.id == token.id) {
        let until = state.backend[&(token.subject, target.resource)].valid_until();
        format!("the identity endpoint's backend cache, which returns it until {until}")
    } else {
        "the issuer: no cache holds a usable token, so a request now gets a new one".to_string()
    };
    if token.id == crate::model::TokenId::UNISSUED {
        let _ = writeln!(
            out,
            "Token: a new token for `{resource}` from {source}.\n  It would carry {}.",
            describe_token(scenario, token)
        );
    } else {
        let _ = writeln!(
            out,
            "Token: {} for `{resource}`, issued at {}, expires at {}, served from {source}.\n  It carries {}.",
            token.id.label(),
            token.issued,
            token.expires,
            describe_token(scenario, token)
        );
    }
    if app.client_cache == ClientCache::None {
        let _ = writeln!(out, "  The app has no client cache (`none`).");
    }
    let backend_same = path.backend().filter(|b| b.id == token.id);
    if path.client().is_some_and(|c| c.id == token.id) && backend_same.is_some() {
        let until = state.backend[&(token.subject, target.resource)].valid_until();
        let _ = writeln!(
            out,
            "  The identity endpoint's backend holds the same token until {until}, so an app restart gets it back."
        );
    }
    let fresh = path.fresh();
    if token.id != crate::model::TokenId::UNISSUED
        && (fresh.groups != token.groups || fresh.roles != token.roles)
    {
        let _ = writeln!(
            out,
            "  A token issued now would carry {}.",
            describe_token(scenario, fresh)
        );
    }
}

fn instance_section(
    out: &mut String,
    scenario: &Scenario,
    state: &State,
    q: &Question,
    target: &Target,
    token: &Token,
) {
    let service = &scenario.services[target.service];
    if service.authorization == Authorization::Claims {
        let _ = writeln!(
            out,
            "Instance {}: `{}` decides from the token's claims; it keeps no RBAC cache.",
            q.instance, service.name
        );
        return;
    }
    let principal = &scenario.principals[token.subject].name;
    let entry = state.services[target.service].instances[q.instance].get(&token.subject);
    let Some(entry) = entry else {
        let _ = writeln!(
            out,
            "Instance {}: no RBAC entry for `{principal}`, so a request now loads one from the store.",
            q.instance
        );
        store_line(out, scenario, state, target, token);
        return;
    };
    let due = entry.loaded.after(service.rbac_max_age);
    let reload_rule = if service.reload_on_new_token {
        " or on a token other than the one it was loaded with"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "Instance {}: RBAC entry for `{principal}` loaded at {} with token {}, reload due at {due} (max age {}){reload_rule}.",
        q.instance,
        entry.loaded,
        entry.token_id.label(),
        service.rbac_max_age
    );
    let expired = q.at >= due;
    let other_token = service.reload_on_new_token && !entry.seen_tokens.contains(&token.id);
    if expired || other_token {
        let reason = if expired {
            "it has reached its max age"
        } else {
            "this instance has not seen the token from this caller"
        };
        let _ = writeln!(out, "  A request now reloads it, because {reason}.");
        store_line(out, scenario, state, target, token);
    } else {
        let _ = writeln!(
            out,
            "  A request now uses it. For this token it holds: {}.",
            list_assignments(
                scenario,
                &model::load_assignments(
                    &entry.assignments,
                    token.subject,
                    &groups_of(state, token)
                )
            )
        );
    }
}

/// Returns the groups a service uses for a token: its `groups` claim, or on overage the
/// directory's.
fn groups_of(state: &State, token: &Token) -> std::collections::BTreeSet<usize> {
    token
        .groups
        .clone()
        .unwrap_or_else(|| state.directory.groups_of(token.subject).clone())
}

fn store_line(
    out: &mut String,
    scenario: &Scenario,
    state: &State,
    target: &Target,
    token: &Token,
) {
    let groups = groups_of(state, token);
    let visible = model::load_assignments(
        &state.services[target.service].store,
        token.subject,
        &groups,
    );
    let _ = writeln!(
        out,
        "  The store of `{}` gives: {}.",
        scenario.services[target.service].name,
        list_assignments(scenario, &visible)
    );
    let current = model::load_assignments(state.directory.assignments(), token.subject, &groups);
    if current != visible {
        let _ = writeln!(
            out,
            "  The directory already has: {} (the write has not replicated yet).",
            list_assignments(scenario, &current)
        );
    }
}

fn list_assignments(scenario: &Scenario, list: &[crate::scenario::Assignment]) -> String {
    if list.is_empty() {
        return "no assignment".to_string();
    }
    list.iter()
        .map(|a| scenario.describe_assignment(a))
        .collect::<Vec<_>>()
        .join("; ")
}

fn truth_section(
    out: &mut String,
    scenario: &Scenario,
    state: &State,
    target: &Target,
    truth: bool,
) {
    let principal = scenario.apps[target.app].identity;
    let name = &scenario.principals[principal].name;
    let service = &scenario.services[target.service];
    let groups = state.directory.groups_of(principal);
    let group_names: Vec<&str> = groups
        .iter()
        .map(|&g| scenario.groups[g].name.as_str())
        .collect();
    let member_of = if group_names.is_empty() {
        format!("`{name}` is in no group")
    } else {
        format!("`{name}` is in {}", group_names.join(", "))
    };
    let label = crate::observe::effective::decision_label(truth);
    match service.authorization {
        Authorization::Rbac => {
            let granting: Vec<_> =
                model::load_assignments(state.directory.assignments(), principal, groups)
                    .into_iter()
                    .filter(|a| {
                        model::rbac_permits(scenario, service, [a], &target.action, &target.scope)
                    })
                    .collect();
            if truth {
                let _ = writeln!(
                    out,
                    "Truth: {label}, because the directory has {} ({member_of}).",
                    list_assignments(scenario, &granting)
                );
            } else {
                let _ = writeln!(
                    out,
                    "Truth: {label}: no assignment to `{name}` or its groups grants the action on this scope ({member_of})."
                );
            }
        }
        Authorization::Claims => {
            let roles = state.directory.app_roles(principal, groups, target.service);
            let reasons = matching_rules(scenario, target, groups, &roles);
            if truth {
                let _ = writeln!(
                    out,
                    "Truth: {label}, because a rule of `{}` matches the action and {} ({member_of}).",
                    service.name,
                    reasons.join(" and ")
                );
            } else {
                let _ = writeln!(
                    out,
                    "Truth: {label}: no rule of `{}` matches the action with the caller's groups or app roles ({member_of}).",
                    service.name
                );
            }
        }
    }
}

fn matching_rules(
    scenario: &Scenario,
    target: &Target,
    groups: &BTreeSet<usize>,
    roles: &BTreeSet<String>,
) -> Vec<String> {
    let service = &scenario.services[target.service];
    let mut reasons = Vec::new();
    for rule in &service.rules {
        let action_matches = rule
            .actions
            .iter()
            .any(|p| model::roles::pattern_matches(p, &target.action));
        if !action_matches {
            continue;
        }
        for g in rule.groups.intersection(groups) {
            reasons.push(format!("names group `{}`", scenario.groups[*g].name));
        }
        for r in rule.roles.intersection(roles) {
            reasons.push(format!("names app role `{r}`, granted to the caller"));
        }
    }
    reasons
}

fn window_section(out: &mut String, windows: &[super::Window], probe: usize, q: &Question) {
    let containing = windows
        .iter()
        .find(|w| w.probe == probe && w.instance == q.instance && w.start <= q.at && q.at < w.end);
    if let Some(w) = containing {
        let kind = match w.kind {
            WindowKind::StaleAllow => "stale-allow",
            WindowKind::StaleDeny => "stale-deny",
        };
        let close = if w.censored {
            format!("still open at the horizon {}", w.end)
        } else {
            format!("closes at {}", w.end)
        };
        let _ = writeln!(
            out,
            "Window: {kind} from {}, {close} ({} long; cause {}).",
            w.start,
            w.end.since(w.start),
            w.cause_label()
        );
        return;
    }
    let next = windows
        .iter()
        .find(|w| w.probe == probe && w.instance == q.instance && w.start > q.at);
    match next {
        Some(w) => {
            let _ = writeln!(
                out,
                "Window: none contains {}; the next on this instance opens at {} ({}).",
                q.at,
                w.start,
                w.kind.as_str()
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Window: none contains {}, and none opens later on this instance.",
                q.at
            );
        }
    }
}
