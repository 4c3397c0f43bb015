//! The second loading stage: from the as-written [`RawScenario`] to a validated [`Scenario`].
//!
//! Every check records a [`Diagnostic`] and carries on, so that one run reports every independent
//! problem of a file. Entities are sorted by name before indices are given out, and events are
//! sorted by (instant, class, description), so the order of entries in the file changes nothing.
//! Two directory changes to the same relation at the same instant are rejected, because their
//! order would then matter.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;

use super::overrides::{self, Override};
use super::preset::{self, Preset};
use super::raw::*;
use super::*;
use crate::error::{Diagnostic, Error, ScenarioError, closest};
use crate::model::roles::{Plane, RoleDefinition, builtin_roles, normalize_scope};
use crate::time::{SimDuration, SimTime, parse_duration};

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, Error> {
    load_file_with(path, &[])
}

/// Reads a scenario file, applies overrides, and validates the result.
///
/// Diagnostics then show the edited text, where each overridden value carries a `# --set`
/// comment, and parameters set by an override get the override's origin in the banner.
pub fn load_file_with(path: &Path, overrides: &[Override]) -> Result<Scenario, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("failed to read scenario `{}`", path.display()), e))?;
    if overrides.is_empty() {
        return load_str(&text, path).map_err(Error::from);
    }
    let (edited, paths) = match overrides::apply(&text, overrides) {
        Ok(edited) => edited,
        Err(message) => {
            // The file itself does not parse, or a path does not fit it: report against the file.
            let d = match load_str(&text, path) {
                Err(e) => return Err(e.into()),
                Ok(_) => Diagnostic::new(message),
            };
            return Err(ScenarioError {
                file: path.to_path_buf(),
                text,
                diagnostics: vec![d],
            }
            .into());
        }
    };
    let mut scenario = match load_str(&edited, path) {
        Ok(s) => s,
        Err(e) => return Err(relocate(&text, e).into()),
    };
    for (o, canonical) in overrides.iter().zip(paths) {
        for p in scenario
            .parameters
            .iter_mut()
            .filter(|p| p.key == canonical)
        {
            p.origin = o.origin.clone();
        }
    }
    Ok(scenario)
}

/// Returns each line's start offset and text.
fn lines_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        out.push((start, line.trim_end_matches(['\n', '\r'])));
        start += line.len();
    }
    out
}

/// Moves the diagnostics of a scenario edited by `--set` back onto the file as written.
///
/// The edit keeps every untouched line, so each unchanged line of the edited text is matched to
/// its line in the file, and a span on it moves there. A span on a line that `--set` wrote or
/// added has no place in the file, so it is dropped and the message notes that the value came
/// from `--set`.
fn relocate(original: &str, error: ScenarioError) -> ScenarioError {
    let file_lines = lines_with_offsets(original);
    let edited_lines = lines_with_offsets(&error.text);
    let key_of = |line: &str| line.split('=').next().unwrap_or("").trim().to_string();
    // For each edited line, the matching line of the file, if it is unchanged.
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(edited_lines.len());
    let mut i = 0;
    for (_, line) in &edited_lines {
        if i < file_lines.len() && file_lines[i].1 == *line {
            matched.push(Some(i));
            i += 1;
        } else if i < file_lines.len()
            && line.trim_end().ends_with("# --set")
            && key_of(file_lines[i].1) == key_of(line)
        {
            // A value that --set replaced in place.
            matched.push(None);
            i += 1;
        } else {
            matched.push(None);
        }
    }
    let move_span = |span: &Range<usize>| -> Option<Range<usize>> {
        let j = edited_lines
            .iter()
            .rposition(|(start, _)| *start <= span.start)?;
        let file_line = matched[j]?;
        let column = span.start - edited_lines[j].0;
        let start = file_lines[file_line].0 + column;
        let line_end = file_lines[file_line].0 + file_lines[file_line].1.len();
        Some(start..(start + span.len()).min(line_end).max(start))
    };
    let diagnostics = error
        .diagnostics
        .into_iter()
        .map(|mut d| {
            if let Some(span) = d.span.take() {
                match move_span(&span) {
                    Some(moved) => d.span = Some(moved),
                    None => d.message.push_str(" (a value given with --set)"),
                }
            }
            if let Some((label, span)) = d.related.take() {
                d.related = move_span(&span).map(|moved| (label, moved));
            }
            d
        })
        .collect();
    ScenarioError {
        file: error.file,
        text: original.to_string(),
        diagnostics,
    }
}

/// Returns the comment block at the top of a scenario file, with `# ` stripped from each line.
/// Blank lines before the block are skipped, and the first other line ends it.
fn header_comment(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        if lines.is_empty() && line.trim().is_empty() {
            continue;
        }
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            break;
        };
        lines.push(comment.strip_prefix(' ').unwrap_or(comment).trim_end());
    }
    lines.join("\n").trim().to_string()
}

/// Validates scenario text; `file` names it in diagnostics and gives the default scenario name.
///
/// Every independent problem is reported: the schema check removes each key it reports, the rest
/// of the document is deserialized and built, and build diagnostics on a key the schema check
/// already reported are dropped as repeats. Diagnostics are sorted by their place in the file.
pub fn load_str(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let fail = |mut diagnostics: Vec<Diagnostic>| {
        diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
        ScenarioError {
            file: file.to_path_buf(),
            text: text.to_string(),
            diagnostics,
        }
    };
    let checked = super::schema::check_document(text);
    let mut diagnostics = checked.diagnostics;
    let Some(document) = checked.document.filter(|_| !checked.fatal) else {
        return Err(fail(diagnostics));
    };
    let raw = match RawScenario::deserialize(toml::de::Deserializer::from(document)) {
        Ok(raw) => raw,
        Err(e) if diagnostics.is_empty() => return Err(fail(vec![serde_diagnostic(text, &e)])),
        Err(_) => return Err(fail(diagnostics)),
    };
    let mut builder = Builder {
        diagnostics: Vec::new(),
        parameters: Vec::new(),
        scope_labels: BTreeMap::new(),
        covered: checked.covered.clone(),
        uncertain_instances: BTreeSet::new(),
    };
    let scenario = builder.build(raw, file);
    let repeats = |d: &Diagnostic| {
        d.key.as_ref().is_some_and(|k| {
            checked.covered.iter().any(|c| {
                k == c
                    || k.strip_prefix(c.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            })
        })
    };
    diagnostics.extend(builder.diagnostics.into_iter().filter(|d| !repeats(d)));
    match scenario {
        Some(mut s) if diagnostics.is_empty() => {
            s.header = header_comment(text);
            Ok(s)
        }
        _ if diagnostics.is_empty() => Err(fail(vec![
            Diagnostic::new(
                "the scenario is invalid, but no problem was recorded; this is a bug in staleauth",
            )
            .span(0..0)
            .help("please report it with the scenario file"),
        ])),
        _ => Err(fail(diagnostics)),
    }
}

/// Converts a deserializer error that the schema check did not foresee, with the Rust type names
/// of serde's messages put in words.
fn serde_diagnostic(text: &str, e: &toml::de::Error) -> Diagnostic {
    let mut message = e.message().trim().to_string();
    for (rust, words) in [
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        (
            "expected u64",
            "expected a whole number from 0 to 18446744073709551615",
        ),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: list"),
    ] {
        message = message.replace(rust, words);
    }
    let mut d = Diagnostic::new(message).help("see the scenario format in README.md");
    if let Some(span) = e.span() {
        if let Some(key) = super::schema::key_at(text, &span) {
            d = d.key(key);
        }
        d = d.span(span);
    }
    d
}

/// Most instances one service may have. A run allocates every instance's RBAC cache at its start,
/// even with no probe on the service, so without a bound `instances = 4_000_000_000` would exhaust
/// memory. NOTE: the value is a chosen bound on memory, not a limit of any Azure service.
pub const MAX_INSTANCES: u32 = 100_000;

struct Builder {
    diagnostics: Vec<Diagnostic>,
    parameters: Vec<ResolvedParameter>,
    /// For each normalized scope, the smallest of its written forms, so that the label does not
    /// depend on the order of entries.
    scope_labels: BTreeMap<String, String>,
    /// Keys the schema check already reported.
    covered: Vec<String>,
    /// Services whose `instances` was invalid or already reported: a `restart-instance` of them
    /// is not checked against a count the file does not really give.
    uncertain_instances: BTreeSet<String>,
}

/// A name declared in the file, with its index after sorting and the span of its declaration.
struct Declared {
    index: usize,
    span: Range<usize>,
    /// Position of the entry in its section of the file, for dotted keys.
    entry: usize,
}

fn span_of<T>(s: &Sp<T>) -> Range<usize> {
    s.span()
}

fn list_names<'a>(names: impl Iterator<Item = &'a str>, what: &str) -> String {
    let names: Vec<&str> = names.collect();
    if !names.is_empty() {
        return format!("valid names: {}", names.join(", "));
    }
    let section = match what {
        "principal or group" => "[[principals]]` or `[[groups]]",
        "principal" => "[[principals]]",
        "group" => "[[groups]]",
        "service" => "[[services]]",
        "app" => "[[apps]]",
        _ => return format!("no {what} is declared in this file"),
    };
    format!("no {what} is declared in this file; declare it in a `{section}` entry")
}

impl Builder {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn param(&mut self, key: impl Into<String>, value: impl ToString, origin: impl Into<String>) {
        self.parameters.push(ResolvedParameter {
            key: key.into(),
            value: value.to_string(),
            origin: origin.into(),
        });
    }

    fn duration(&mut self, text: &Text, key: &str) -> Option<SimDuration> {
        if text.get_ref().trim_start().starts_with('-') {
            self.error(
                Diagnostic::new(format!(
                    "invalid duration `{}`: durations cannot be negative",
                    text.get_ref()
                ))
                .key(key)
                .span(span_of(text))
                .help("instants count from the scenario start at 0; write for example `5m`"),
            );
            return None;
        }
        if text.get_ref().trim().is_empty() {
            self.error(
                Diagnostic::new(format!("empty duration for `{key}`"))
                    .key(key)
                    .span(span_of(text))
                    .help("durations are written like `8h`, `1h30m`, `24h5m` or `250ms`"),
            );
            return None;
        }
        if text.get_ref().trim().contains(char::is_whitespace) {
            self.error(
                Diagnostic::new(format!(
                    "invalid duration `{}`: a duration has no spaces",
                    text.get_ref()
                ))
                .key(key)
                .span(span_of(text))
                .help("write the number and unit together, for example `5m` or `1h30m`"),
            );
            return None;
        }
        match parse_duration(text.get_ref()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(
                    Diagnostic::new(e.0)
                        .key(key)
                        .span(span_of(text))
                        .help("durations are written like `8h`, `1h30m`, `24h5m` or `250ms`"),
                );
                None
            }
        }
    }

    fn positive_duration(&mut self, text: &Text, key: &str) -> Option<SimDuration> {
        let d = self.duration(text, key)?;
        if d.ms() == 0 {
            self.error(
                Diagnostic::new(format!("`{key}` must be longer than zero"))
                    .key(key)
                    .span(span_of(text))
                    .help("write a positive duration such as `1ms`, `10m` or `8h`"),
            );
            return None;
        }
        Some(d)
    }

    fn choice<T: Copy>(&mut self, text: &Text, key: &str, options: &[(&str, T)]) -> Option<T> {
        let value = text.get_ref().as_str();
        if let Some((_, v)) = options.iter().find(|(n, _)| *n == value) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let mut help = format!("valid values: {}", names.join(", "));
        if let Some(c) = closest(value, names.iter().copied()) {
            help = format!("did you mean `{c}`? {help}");
        }
        self.error(
            Diagnostic::new(format!("invalid value `{value}` for `{key}`"))
                .key(key)
                .span(span_of(text))
                .help(help),
        );
        None
    }

    /// Sorts named entries, reports duplicates, and returns the declarations by name.
    fn declare<'a, T>(
        &mut self,
        entries: &'a [T],
        name_of: impl Fn(&T) -> &Text,
        section: &str,
    ) -> (Vec<&'a T>, BTreeMap<String, Declared>) {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| {
            name_of(&entries[a])
                .get_ref()
                .cmp(name_of(&entries[b]).get_ref())
        });
        let mut declared: BTreeMap<String, Declared> = BTreeMap::new();
        let mut sorted = Vec::new();
        for &i in &order {
            let name = name_of(&entries[i]);
            let key = format!("{section}[{i}].name");
            if name.get_ref().trim().is_empty() {
                self.error(
                    Diagnostic::new(format!("empty name in `{section}`"))
                        .key(key)
                        .span(span_of(name))
                        .help("other entries refer to this one by name; write a name such as `webapp`"),
                );
                continue;
            }
            if let Some(first) = declared.get(name.get_ref()) {
                let d = Diagnostic::new(format!(
                    "duplicate name `{}` in `{section}`",
                    name.get_ref()
                ))
                .key(key)
                .span(span_of(name))
                .related("first declared", first.span.clone())
                .help("each entry needs a unique name");
                self.error(d);
                continue;
            }
            declared.insert(
                name.get_ref().clone(),
                Declared {
                    index: sorted.len(),
                    span: span_of(name),
                    entry: i,
                },
            );
            sorted.push(&entries[i]);
        }
        (sorted, declared)
    }

    fn lookup(
        &mut self,
        declared: &BTreeMap<String, Declared>,
        name: &Text,
        what: &str,
        key: &str,
    ) -> Option<usize> {
        if let Some(d) = declared.get(name.get_ref()) {
            return Some(d.index);
        }
        let mut help = list_names(declared.keys().map(String::as_str), what);
        if let Some(c) = closest(name.get_ref(), declared.keys().map(String::as_str)) {
            help = format!("did you mean `{c}`? {help}");
        }
        self.error(
            Diagnostic::new(format!("unknown {what} `{}`", name.get_ref()))
                .key(key)
                .span(span_of(name))
                .help(help),
        );
        None
    }

    fn build(&mut self, raw: RawScenario, file: &Path) -> Option<Scenario> {
        // Identity of the run: name, preset, seed, horizon.
        let name = self.scenario_name(&raw, file);
        let preset = self.preset(&raw);
        let seed = raw.seed.as_ref().map_or(1, |s| *s.get_ref());
        self.param(
            "seed",
            seed,
            if raw.seed.is_some() {
                "scenario"
            } else {
                "default"
            },
        );
        let horizon = match &raw.horizon {
            Some(h) => self
                .positive_duration(h, "horizon")
                .map(|d| SimTime(d.ms())),
            None => {
                self.error(
                    Diagnostic::new("missing key `horizon`")
                        .key("horizon")
                        .span(0..0)
                        .help("add a top-level key such as `horizon = \"12h\"`, the end of simulated time"),
                );
                None
            }
        };
        if let Some(h) = horizon {
            self.param("horizon", h, "scenario");
        }
        let platform = self.platform(&raw.platform, preset);

        // Directory: principals, groups, roles.
        let (principals, principal_names) = self.principals(&raw.principals, &platform);
        let (group_entries, group_names) = self.declare(&raw.groups, |g| &g.name, "groups");
        let groups: Vec<Group> = group_entries
            .iter()
            .map(|g| Group {
                name: g.name.get_ref().clone(),
            })
            .collect();
        for (name, d) in &group_names {
            if let Some(p) = principal_names.get(name) {
                self.error(
                    Diagnostic::new(format!("`{name}` names both a principal and a group"))
                        .key(format!("groups[{}].name", d.entry))
                        .span(d.span.clone())
                        .related("the principal is declared", p.span.clone())
                        .help("principals and groups share one namespace; rename one of them"),
                );
            }
        }
        let subjects = Subjects {
            principals: &principal_names,
            groups: &group_names,
        };
        let memberships = self.memberships(&raw.groups, &subjects, &groups);
        let (roles, role_names) = self.roles(&raw.roles);

        // Services, resources and apps.
        let mut resources = Resources::default();
        let (services, service_names) =
            self.services(&raw.services, preset, &group_names, &mut resources);
        let (apps, app_names) = self.apps(&raw.apps, &principal_names);

        // Initial assignments and grants.
        let mut assignments = BTreeSet::new();
        let mut assignment_spans: BTreeMap<Assignment, Range<usize>> = BTreeMap::new();
        for (i, a) in raw.assignments.iter().enumerate() {
            let key = format!("assignments[{i}]");
            let assignment = self.assignment(
                &subjects,
                &role_names,
                &a.principal,
                &a.role,
                &a.scope,
                &key,
            );
            let Some(assignment) = assignment else {
                continue;
            };
            if let Some(first) = assignment_spans.get(&assignment) {
                self.error(
                    Diagnostic::new(format!(
                        "duplicate role assignment: {} on {} to {}",
                        a.role.get_ref(),
                        assignment.scope,
                        a.principal.get_ref()
                    ))
                    .key(key)
                    .span(span_of(&a.principal))
                    .related("first assigned", first.clone())
                    .help("each (principal, role, scope) may be assigned once; scopes compare without regard to case or a trailing `/`"),
                );
                continue;
            }
            assignment_spans.insert(assignment.clone(), span_of(&a.principal));
            assignments.insert(assignment);
        }
        let mut app_role_grants = BTreeSet::new();
        let mut grant_spans: BTreeMap<AppRoleGrant, Range<usize>> = BTreeMap::new();
        for (i, g) in raw.app_roles.iter().enumerate() {
            let key = format!("app_roles[{i}]");
            let Some(grant) = self.app_role(
                &subjects,
                &service_names,
                &g.principal,
                &g.service,
                &g.role,
                &key,
            ) else {
                continue;
            };
            if let Some(first) = grant_spans.get(&grant) {
                self.error(
                    Diagnostic::new(format!(
                        "duplicate app-role grant: {} of {} to {}",
                        g.role.get_ref(),
                        g.service.get_ref(),
                        g.principal.get_ref()
                    ))
                    .key(key)
                    .span(span_of(&g.principal))
                    .related("first granted", first.clone())
                    .help("each (principal, service, role) may be granted once"),
                );
                continue;
            }
            grant_spans.insert(grant.clone(), span_of(&g.principal));
            app_role_grants.insert(grant);
        }

        // Traffic and observation.
        let context = TargetContext {
            apps: &app_names,
            services: &service_names,
            service_list: &services,
        };
        let horizon_or_max = horizon.unwrap_or(SimTime::NEVER);
        let workloads = self.workloads(&raw.workloads, &context, &mut resources, horizon_or_max);
        let token_requests = self.token_requests(
            &raw.token_requests,
            &app_names,
            &mut resources,
            horizon_or_max,
        );
        let (events, event_entries): (Vec<ScheduledEvent>, Vec<usize>) = self
            .events(
                &raw.events,
                &subjects,
                &role_names,
                &app_names,
                &service_names,
                &services,
                horizon_or_max,
            )
            .into_iter()
            .unzip();
        let probes = self.probes(&raw.probes, &context, &mut resources, &workloads);
        for (i, app) in apps.iter().enumerate() {
            self.param(
                format!("apps.{}.client_cache", app.name),
                &app.client_cache_name,
                origin_of(
                    raw.apps
                        .iter()
                        .find(|a| a.name.get_ref() == &app.name)
                        .and_then(|a| a.client_cache.as_ref())
                        .is_some(),
                ),
            );
            let _ = i;
        }

        let (horizon, platform) = (horizon?, platform?);
        let mut scenario = Scenario {
            name,
            description: raw.description.clone().unwrap_or_default(),
            header: String::new(),
            preset: preset.name,
            seed,
            horizon,
            platform,
            principals,
            groups,
            memberships,
            roles,
            assignments,
            app_role_grants,
            apps,
            services,
            workloads,
            token_requests,
            events,
            probes,
            resources: resources.names,
            parameters: std::mem::take(&mut self.parameters),
            scope_labels: std::mem::take(&mut self.scope_labels),
        };
        self.check_event_sequence(&mut scenario, &raw, event_entries);
        Some(scenario)
    }

    fn scenario_name(&mut self, raw: &RawScenario, file: &Path) -> String {
        let (name, span) = match &raw.name {
            Some(n) => (n.get_ref().clone(), Some(span_of(n))),
            None => (
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "scenario".into()),
                None,
            ),
        };
        let valid = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            let message = if name.is_empty() {
                "empty scenario name".to_string()
            } else {
                format!("invalid scenario name `{name}`")
            };
            let mut d = Diagnostic::new(message)
                .key("name")
                .help("a name becomes a folder under results/: use letters, digits, `-`, `_` and `.`, not starting with `.`");
            if let Some(span) = span {
                d = d.span(span);
            }
            self.error(d);
        }
        name
    }

    fn preset(&mut self, raw: &RawScenario) -> &'static Preset {
        let Some(text) = &raw.preset else {
            self.param("preset", preset::DEFAULT_PRESET.name, "default");
            return preset::DEFAULT_PRESET;
        };
        let options: Vec<(&str, &'static Preset)> =
            preset::PRESETS.iter().map(|p| (p.name, *p)).collect();
        let chosen = self
            .choice(text, "preset", &options)
            .unwrap_or(preset::DEFAULT_PRESET);
        self.param("preset", chosen.name, "scenario");
        chosen
    }

    fn platform(&mut self, raw: &RawPlatform, preset: &Preset) -> Option<Platform> {
        let origin = |set: bool| {
            if set {
                "scenario".to_string()
            } else {
                format!("preset {}", preset.name)
            }
        };
        let value = |b: &mut Builder, text: &Option<Text>, key: &str, default: SimDuration| {
            let d = match text {
                Some(t) => b.duration(t, &format!("platform.{key}"))?,
                None => default,
            };
            b.param(format!("platform.{key}"), d, origin(text.is_some()));
            Some(d)
        };
        let token_lifetime = value(
            self,
            &raw.token_lifetime,
            "token_lifetime",
            preset.token_lifetime,
        );
        let backend_ttl = value(
            self,
            &raw.backend_ttl,
            "backend_ttl",
            token_lifetime.unwrap_or(preset.token_lifetime),
        );
        if raw.backend_ttl.is_none() {
            let followed = self
                .parameters
                .iter_mut()
                .filter(|p| p.key == "platform.backend_ttl");
            for p in followed {
                p.origin = "follows platform.token_lifetime".to_string();
            }
        }
        let direct_min = value(
            self,
            &raw.direct_token_lifetime_min,
            "direct_token_lifetime_min",
            preset.direct_token_lifetime_min,
        );
        let direct_max = value(
            self,
            &raw.direct_token_lifetime_max,
            "direct_token_lifetime_max",
            preset.direct_token_lifetime_max,
        );
        let overage_limit = raw
            .overage_limit
            .as_ref()
            .map_or(preset.overage_limit, |o| *o.get_ref());
        self.param(
            "platform.overage_limit",
            overage_limit,
            origin(raw.overage_limit.is_some()),
        );
        let (token_lifetime, backend_ttl, direct_min, direct_max) =
            (token_lifetime?, backend_ttl?, direct_min?, direct_max?);
        if let Some(t) = raw
            .token_lifetime
            .as_ref()
            .filter(|_| token_lifetime.ms() == 0)
        {
            self.error(
                Diagnostic::new("`platform.token_lifetime` must be longer than zero")
                    .key("platform.token_lifetime")
                    .span(span_of(t))
                    .help("write a positive duration such as `1h` or `8h`"),
            );
        }
        if direct_min > direct_max || direct_min.ms() == 0 {
            let mut d = Diagnostic::new(format!(
                "invalid direct token lifetime range {direct_min}..{direct_max}"
            ))
            .key("platform.direct_token_lifetime_min")
            .help("the minimum must be longer than zero and not above the maximum");
            if let Some(t) = raw
                .direct_token_lifetime_min
                .as_ref()
                .or(raw.direct_token_lifetime_max.as_ref())
            {
                d = d.span(span_of(t));
            }
            self.error(d);
        }
        Some(Platform {
            token_lifetime,
            backend_ttl,
            direct_token_lifetime_min: direct_min,
            direct_token_lifetime_max: direct_max,
            overage_limit,
        })
    }

    fn principals(
        &mut self,
        raw: &[RawPrincipal],
        platform: &Option<Platform>,
    ) -> (Vec<Principal>, BTreeMap<String, Declared>) {
        let (sorted, names) = self.declare(raw, |p| &p.name, "principals");
        let kinds: Vec<(&str, PrincipalKind)> = PrincipalKind::NAMES
            .iter()
            .map(|n| (*n, PrincipalKind::parse(n).expect("listed kind parses")))
            .collect();
        let mut principals = Vec::new();
        for p in sorted {
            let i = raw.iter().position(|r| std::ptr::eq(r, p)).unwrap_or(0);
            let kind = self
                .choice(&p.kind, &format!("principals[{i}].kind"), &kinds)
                .unwrap_or(PrincipalKind::ServicePrincipal);
            let fixed = p.token_lifetime.as_ref().and_then(|t| {
                self.positive_duration(t, &format!("principals[{i}].token_lifetime"))
            });
            let token_lifetime = match (fixed, platform) {
                (Some(d), _) => TokenLifetime::Fixed(d),
                (None, Some(pl)) if kind.is_managed_identity() => {
                    TokenLifetime::Fixed(pl.token_lifetime)
                }
                (None, Some(pl)) => TokenLifetime::Uniform(
                    pl.direct_token_lifetime_min,
                    pl.direct_token_lifetime_max,
                ),
                (None, None) => TokenLifetime::Fixed(SimDuration::from_hours(1)),
            };
            principals.push(Principal {
                name: p.name.get_ref().clone(),
                kind,
                token_lifetime,
            });
        }
        (principals, names)
    }

    fn subject(&mut self, subjects: &Subjects, name: &Text, key: &str) -> Option<Subject> {
        if let Some(d) = subjects.principals.get(name.get_ref()) {
            return Some(Subject::Principal(d.index));
        }
        if let Some(d) = subjects.groups.get(name.get_ref()) {
            return Some(Subject::Group(d.index));
        }
        let all = subjects
            .principals
            .keys()
            .chain(subjects.groups.keys())
            .map(String::as_str);
        let mut help = list_names(all.clone(), "principal or group");
        if let Some(c) = closest(name.get_ref(), all) {
            help = format!("did you mean `{c}`? {help}");
        }
        self.error(
            Diagnostic::new(format!("unknown principal or group `{}`", name.get_ref()))
                .key(key)
                .span(span_of(name))
                .help(help),
        );
        None
    }

    fn memberships(
        &mut self,
        raw: &[RawGroup],
        subjects: &Subjects,
        groups: &[Group],
    ) -> BTreeSet<(GroupId, Subject)> {
        let mut memberships = BTreeSet::new();
        // Where each membership is written: its dotted key and span.
        let mut written: BTreeMap<(GroupId, Subject), (String, Range<usize>)> = BTreeMap::new();
        for (i, g) in raw.iter().enumerate() {
            let Some(group) = subjects.groups.get(g.name.get_ref()).map(|d| d.index) else {
                continue;
            };
            for (j, m) in g.members.iter().enumerate() {
                let key = format!("groups[{i}].members[{j}]");
                let Some(member) = self.subject(subjects, m, &key) else {
                    continue;
                };
                if member == Subject::Group(group) {
                    self.error(
                        Diagnostic::new(format!("group `{}` contains itself", g.name.get_ref()))
                            .key(key)
                            .span(span_of(m))
                            .help("a group cannot be its own member; remove this entry"),
                    );
                    continue;
                }
                if let Some((_, first)) = written.get(&(group, member)) {
                    self.error(
                        Diagnostic::new(format!(
                            "`{}` is listed twice in group `{}`",
                            m.get_ref(),
                            g.name.get_ref()
                        ))
                        .key(key)
                        .span(span_of(m))
                        .related("first listed", first.clone())
                        .help("list each member once"),
                    );
                    continue;
                }
                memberships.insert((group, member));
                written.insert((group, member), (key, span_of(m)));
            }
        }
        if let Some(cycle) = find_group_cycle(&memberships, groups.len()) {
            // The cycle is reported at the membership that closes it, with the one before it
            // as the related place.
            let names: Vec<&str> = cycle.iter().map(|&g| groups[g].name.as_str()).collect();
            let n = cycle.len();
            let edge = |a: usize, b: usize| written.get(&(cycle[a], Subject::Group(cycle[b])));
            let mut d = Diagnostic::new(format!(
                "group membership cycle: {}",
                names.join(" contains ")
            ))
            .key("groups")
            .help("nested groups must form a hierarchy; remove one membership of the cycle");
            if let Some((key, span)) = edge(n - 2, n - 1) {
                d = d.key(key.clone()).span(span.clone());
            }
            if let Some((_, span)) = edge(0, 1).filter(|_| n > 2) {
                d = d.related(
                    format!("`{}` contains `{}`", names[0], names[1]),
                    span.clone(),
                );
            }
            self.error(d);
        }
        memberships
    }

    fn roles(&mut self, raw: &[RawRole]) -> (Vec<RoleDefinition>, BTreeMap<String, Declared>) {
        let mut roles = builtin_roles();
        let builtin_names: BTreeSet<String> = roles.iter().map(|r| r.name.clone()).collect();
        let (sorted, _) = self.declare(raw, |r| &r.name, "roles");
        for r in sorted {
            if builtin_names.contains(r.name.get_ref()) {
                let i = raw.iter().position(|e| std::ptr::eq(e, r)).unwrap_or(0);
                self.error(
                    Diagnostic::new(format!("role `{}` is a built-in role", r.name.get_ref()))
                        .key(format!("roles[{i}].name"))
                        .span(span_of(&r.name))
                        .help("give the custom role another name"),
                );
                continue;
            }
            roles.push(RoleDefinition {
                name: r.name.get_ref().clone(),
                actions: r.actions.clone(),
                not_actions: r.not_actions.clone(),
                data_actions: r.data_actions.clone(),
                not_data_actions: r.not_data_actions.clone(),
                builtin: false,
            });
        }
        let names = roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    r.name.clone(),
                    Declared {
                        index: i,
                        span: 0..0,
                        entry: i,
                    },
                )
            })
            .collect();
        (roles, names)
    }

    fn services(
        &mut self,
        raw: &[RawService],
        preset: &Preset,
        groups: &BTreeMap<String, Declared>,
        resources: &mut Resources,
    ) -> (Vec<Service>, BTreeMap<String, Declared>) {
        let (sorted, names) = self.declare(raw, |s| &s.name, "services");
        let mut services = Vec::new();
        // Which service accepts each audience, and where that service is declared.
        let mut audience_owner: BTreeMap<String, (String, Range<usize>)> = BTreeMap::new();
        for s in sorted {
            let i = raw.iter().position(|r| std::ptr::eq(r, s)).unwrap_or(0);
            let service = self.service(s, i, preset, groups, resources);
            for (j, &a) in service.audiences.iter().enumerate() {
                let audience = resources.names[a].clone();
                // Point at the audience as written, or at the service when it comes from `kind`.
                let (key, span) = match s.audiences.as_ref().and_then(|list| list.get(j)) {
                    Some(text) => (format!("services[{i}].audiences[{j}]"), span_of(text)),
                    None => (
                        format!("services[{i}].kind"),
                        s.kind.as_ref().map_or(span_of(&s.name), span_of),
                    ),
                };
                match audience_owner.get(&audience) {
                    Some((owner, first)) => self.error(
                        Diagnostic::new(format!("audience `{audience}` is accepted by both `{owner}` and `{}`", service.name))
                            .key(key)
                            .span(span)
                            .related(format!("`{owner}` accepts it"), first.clone())
                            .help("each audience belongs to one service; give one service `audiences` of its own"),
                    ),
                    None => {
                        audience_owner.insert(audience, (service.name.clone(), span));
                    }
                }
            }
            services.push(service);
        }
        (services, names)
    }

    fn service(
        &mut self,
        s: &RawService,
        i: usize,
        preset: &Preset,
        groups: &BTreeMap<String, Declared>,
        resources: &mut Resources,
    ) -> Service {
        let name = s.name.get_ref().clone();
        let key = |field: &str| format!("services[{i}].{field}");
        let kinds = [
            ("arm", "arm"),
            ("storage", "storage"),
            ("keyvault", "keyvault"),
            ("custom", "custom"),
        ];
        let chosen = match &s.kind {
            Some(k) => self.choice(k, &key("kind"), &kinds),
            None => Some("custom"),
        };
        // An invalid kind is reported once: the checks that depend on the kind are skipped.
        let kind_known = chosen.is_some();
        let kind = chosen.unwrap_or("custom");
        let (default_audiences, default_plane, default_auth, default_max_age): (
            &[&str],
            Plane,
            Authorization,
            SimDuration,
        ) = match kind {
            "arm" => (
                &[
                    "https://management.azure.com/",
                    "https://management.azure.com",
                    "https://management.core.windows.net/",
                ],
                Plane::Control,
                Authorization::Rbac,
                preset.arm_max_age,
            ),
            "storage" => (
                &["https://storage.azure.com/", "https://storage.azure.com"],
                Plane::Data,
                Authorization::Rbac,
                preset.storage_max_age,
            ),
            "keyvault" => (
                &["https://vault.azure.net", "https://vault.azure.net/"],
                Plane::Data,
                Authorization::Rbac,
                preset.keyvault_max_age,
            ),
            _ => (
                &[],
                Plane::Control,
                Authorization::Claims,
                SimDuration::ZERO,
            ),
        };
        let origin_preset = format!("preset {} ({kind} service)", preset.name);
        let origin = |set: bool| {
            if set {
                "scenario".to_string()
            } else {
                origin_preset.clone()
            }
        };

        let audiences: Vec<ResourceId> = match &s.audiences {
            Some(list) if !list.is_empty() => {
                list.iter().map(|a| resources.intern(a.get_ref())).collect()
            }
            Some(_) | None if default_audiences.is_empty() && !kind_known => Vec::new(),
            Some(_) | None if default_audiences.is_empty() => {
                self.error(
                    Diagnostic::new(format!("service `{name}` accepts no audience"))
                        .key(key("audiences"))
                        .span(span_of(&s.name))
                        .help("add `audiences = [\"api://my-api\"]`, or set `kind` to arm, storage or keyvault"),
                );
                Vec::new()
            }
            _ => default_audiences
                .iter()
                .map(|a| resources.intern(a))
                .collect(),
        };
        let instances = match &s.instances {
            Some(n) if *n.get_ref() == 0 => {
                self.error(
                    Diagnostic::new(format!("service `{name}` has zero instances"))
                        .key(key("instances"))
                        .span(span_of(n))
                        .help("a service needs at least 1 instance"),
                );
                1
            }
            Some(n) if *n.get_ref() > MAX_INSTANCES => {
                self.error(
                    Diagnostic::new(format!(
                        "service `{name}` has {} instances, above the maximum of {MAX_INSTANCES}",
                        n.get_ref()
                    ))
                    .key(key("instances"))
                    .span(span_of(n))
                    .help(format!(
                        "a run keeps an RBAC cache for every instance; set `instances` from 1 to {MAX_INSTANCES}"
                    )),
                );
                1
            }
            Some(n) => *n.get_ref(),
            None => 1,
        };
        let valid_count = s
            .instances
            .as_ref()
            .is_none_or(|n| (1..=MAX_INSTANCES).contains(n.get_ref()));
        if !valid_count || self.covered.contains(&key("instances")) {
            self.uncertain_instances.insert(name.clone());
        }
        let routing = match &s.routing {
            Some(r) => self
                .choice(
                    r,
                    &key("routing"),
                    &[
                        ("round-robin", Routing::RoundRobin),
                        ("random", Routing::Random),
                        ("sticky", Routing::Sticky),
                    ],
                )
                .unwrap_or(Routing::RoundRobin),
            None => Routing::RoundRobin,
        };
        let authorization = match &s.authorization {
            Some(a) => self
                .choice(
                    a,
                    &key("authorization"),
                    &[
                        ("rbac", Authorization::Rbac),
                        ("claims", Authorization::Claims),
                    ],
                )
                .unwrap_or(default_auth),
            None => default_auth,
        };
        let plane = match &s.plane {
            Some(p) => self
                .choice(
                    p,
                    &key("plane"),
                    &[("control", Plane::Control), ("data", Plane::Data)],
                )
                .unwrap_or(default_plane),
            None => default_plane,
        };
        let rbac_max_age = match &s.rbac_max_age {
            Some(t) => self
                .duration(t, &key("rbac_max_age"))
                .unwrap_or(default_max_age),
            None => default_max_age,
        };
        let reload_on_new_token = s.reload_on_new_token.unwrap_or(true);
        let replication = match &s.replication {
            Some(r) => self
                .replication(r, &key("replication"))
                .unwrap_or(Replication::Fixed(SimDuration::ZERO)),
            None => Replication::Fixed(SimDuration::ZERO),
        };
        let mut rules = Vec::new();
        for (j, r) in s.rules.iter().enumerate() {
            let mut rule_groups = BTreeSet::new();
            for (k, g) in r.groups.iter().enumerate() {
                if let Some(id) = self.lookup(
                    groups,
                    g,
                    "group",
                    &format!("services[{i}].rules[{j}].groups[{k}]"),
                ) {
                    rule_groups.insert(id);
                }
            }
            rules.push(ClaimsRule {
                actions: r.actions.clone().unwrap_or_else(|| vec!["*".to_string()]),
                groups: rule_groups,
                roles: r.roles.iter().cloned().collect(),
            });
        }
        if authorization == Authorization::Claims && rules.is_empty() && kind_known {
            self.error(
                Diagnostic::new(format!("claims-authorized service `{name}` has no rules, so it would deny everything"))
                    .key(key("rules"))
                    .span(span_of(&s.name))
                    .help("add a rule such as `[[services.rules]]` with `groups = [\"readers\"]` or `roles = [\"Data.Read\"]`"),
            );
        }
        if authorization == Authorization::Rbac && !s.rules.is_empty() {
            self.error(
                Diagnostic::new(format!("service `{name}` uses RBAC, which ignores `rules`"))
                    .key(key("rules"))
                    .span(span_of(&s.name))
                    .help("set `authorization = \"claims\"` or remove the rules"),
            );
        }
        let p = format!("services.{name}");
        self.param(
            format!("{p}.kind"),
            kind,
            if s.kind.is_some() {
                "scenario"
            } else {
                "default"
            },
        );
        self.param(
            format!("{p}.instances"),
            instances,
            if s.instances.is_some() {
                "scenario"
            } else {
                "default"
            },
        );
        self.param(
            format!("{p}.routing"),
            routing.as_str(),
            if s.routing.is_some() {
                "scenario"
            } else {
                "default"
            },
        );
        self.param(
            format!("{p}.authorization"),
            match authorization {
                Authorization::Rbac => "rbac",
                Authorization::Claims => "claims",
            },
            origin(s.authorization.is_some()),
        );
        if authorization == Authorization::Rbac {
            self.param(
                format!("{p}.plane"),
                plane.as_str(),
                origin(s.plane.is_some()),
            );
            self.param(
                format!("{p}.rbac_max_age"),
                rbac_max_age,
                origin(s.rbac_max_age.is_some()),
            );
            self.param(
                format!("{p}.reload_on_new_token"),
                reload_on_new_token,
                if s.reload_on_new_token.is_some() {
                    "scenario"
                } else {
                    "default"
                },
            );
            self.param(
                format!("{p}.replication"),
                replication.describe(),
                if s.replication.is_some() {
                    "scenario"
                } else {
                    "default"
                },
            );
        }
        Service {
            name,
            kind: kind.to_string(),
            audiences,
            instances,
            routing,
            authorization,
            plane,
            rbac_max_age,
            reload_on_new_token,
            replication,
            rules,
        }
    }

    fn replication(&mut self, r: &Sp<RawReplication>, key: &str) -> Option<Replication> {
        let t = match r.get_ref() {
            RawReplication::Fixed(text) => {
                let text = Sp(toml::Spanned::new(span_of(r), text.clone()));
                return self.duration(&text, key).map(Replication::Fixed);
            }
            RawReplication::Table(t) => t,
        };
        let distributions = [
            ("fixed", (["delay"].as_slice(), "`delay`")),
            ("uniform", (["min", "max"].as_slice(), "`min` and `max`")),
            ("exponential", (["mean"].as_slice(), "`mean`")),
        ];
        let (needed, takes) = self.choice(
            &t.distribution,
            &format!("{key}.distribution"),
            &distributions,
        )?;
        let distribution = t.distribution.get_ref();
        let fields = [
            ("delay", &t.delay),
            ("min", &t.min),
            ("max", &t.max),
            ("mean", &t.mean),
        ];
        let mut values: BTreeMap<&str, SimDuration> = BTreeMap::new();
        let mut complete = true;
        for (field, value) in fields {
            let wanted = needed.contains(&field);
            match value {
                Some(text) if wanted => match self.duration(text, &format!("{key}.{field}")) {
                    Some(d) => {
                        values.insert(field, d);
                    }
                    None => complete = false,
                },
                Some(text) => {
                    self.error(
                        Diagnostic::new(format!(
                            "`{field}` does not apply to a `{distribution}` replication delay"
                        ))
                        .key(format!("{key}.{field}"))
                        .span(span_of(text))
                        .help(format!("a `{distribution}` delay takes {takes}")),
                    );
                    complete = false;
                }
                None if wanted => {
                    self.error(
                        Diagnostic::new(format!(
                            "a `{distribution}` replication delay needs `{field}`"
                        ))
                        .key(format!("{key}.{field}"))
                        .span(span_of(&t.distribution))
                        .help(format!("a `{distribution}` delay takes {takes}")),
                    );
                    complete = false;
                }
                None => {}
            }
        }
        if !complete {
            return None;
        }
        match distribution.as_str() {
            "fixed" => Some(Replication::Fixed(values["delay"])),
            "uniform" => {
                let (low, high) = (values["min"], values["max"]);
                if low > high {
                    let min = t.min.as_ref().expect("parsed above");
                    let max = t.max.as_ref().expect("parsed above");
                    self.error(
                        Diagnostic::new(format!(
                            "uniform replication delay has min {low} above max {high}"
                        ))
                        .key(format!("{key}.min"))
                        .span(span_of(min))
                        .related("max", span_of(max))
                        .help("set `min` at or below `max`"),
                    );
                    return None;
                }
                Some(Replication::Uniform(low, high))
            }
            _ => Some(Replication::Exponential(values["mean"])),
        }
    }

    fn apps(
        &mut self,
        raw: &[RawApp],
        principals: &BTreeMap<String, Declared>,
    ) -> (Vec<App>, BTreeMap<String, Declared>) {
        let (sorted, names) = self.declare(raw, |a| &a.name, "apps");
        let mut apps = Vec::new();
        for a in sorted {
            let i = raw.iter().position(|r| std::ptr::eq(r, a)).unwrap_or(0);
            let key = |field: &str| format!("apps[{i}].{field}");
            let identity = self
                .lookup(principals, &a.identity, "principal", &key("identity"))
                .unwrap_or(0);
            let (client_cache, client_cache_name) = self.client_cache(a, i);
            apps.push(App {
                name: a.name.get_ref().clone(),
                identity,
                client_cache,
                client_cache_name,
            });
        }
        (apps, names)
    }

    fn client_cache(&mut self, a: &RawApp, i: usize) -> (ClientCache, String) {
        let key = |field: &str| format!("apps[{i}].{field}");
        let name = a
            .client_cache
            .as_ref()
            .map_or("none".to_string(), |t| t.get_ref().clone());
        let five = SimDuration::from_mins(5);
        let offset = match &a.refresh_offset {
            Some(t) => self.duration(t, &key("refresh_offset")),
            None => None,
        };
        let preset_offset = match name.as_str() {
            "adal" | "app-authentication" | "azure-dotnet" | "azure-java" => Some(five),
            "azure-js" => Some(SimDuration::from_mins(2)),
            "azure-python" => Some(SimDuration::from_secs(300)),
            _ => None,
        };
        let cache = match name.as_str() {
            "none" => ClientCache::None,
            "offset" => match offset {
                Some(o) => ClientCache::Offset(o),
                None => {
                    let mut d =
                        Diagnostic::new("`client_cache = \"offset\"` needs `refresh_offset`")
                            .key(key("refresh_offset"))
                            .help("add for example `refresh_offset = \"5m\"`");
                    if let Some(t) = &a.client_cache {
                        d = d.span(span_of(t));
                    }
                    self.error(d);
                    ClientCache::None
                }
            },
            "msal-managed-identity" | "fraction" => {
                let fraction = a.refresh_fraction.as_ref().map_or(0.5, |f| *f.get_ref());
                if !(fraction > 0.0 && fraction <= 1.0) {
                    let span = a.refresh_fraction.as_ref().map(span_of).unwrap_or(0..0);
                    self.error(
                        Diagnostic::new(format!(
                            "`refresh_fraction` must be above 0 and at most 1, not {fraction}"
                        ))
                        .key(key("refresh_fraction"))
                        .span(span)
                        .help(
                            "for example `refresh_fraction = 0.5` refreshes at half the lifetime",
                        ),
                    );
                }
                let min_lifetime = match &a.fraction_min_lifetime {
                    Some(t) => self
                        .duration(t, &key("fraction_min_lifetime"))
                        .unwrap_or(SimDuration::from_hours(2)),
                    None => SimDuration::from_hours(2),
                };
                ClientCache::Fraction {
                    parts_per_million: (fraction.clamp(0.0, 1.0) * 1e6).round() as u64,
                    min_lifetime,
                    fallback_offset: offset.unwrap_or(five),
                }
            }
            other => match preset_offset {
                Some(p) => ClientCache::Offset(offset.unwrap_or(p)),
                None => {
                    let names = preset::client_cache_names();
                    let mut help = format!("valid values: {}", names.join(", "));
                    if let Some(c) = closest(other, names.iter().copied()) {
                        help = format!("did you mean `{c}`? {help}");
                    }
                    let span = a.client_cache.as_ref().map(span_of).unwrap_or(0..0);
                    self.error(
                        Diagnostic::new(format!("invalid value `{other}` for `client_cache`"))
                            .key(key("client_cache"))
                            .span(span)
                            .help(help),
                    );
                    ClientCache::None
                }
            },
        };
        if a.refresh_fraction.is_some() && !matches!(cache, ClientCache::Fraction { .. }) {
            let span = a.refresh_fraction.as_ref().map(span_of).unwrap_or(0..0);
            self.error(
                Diagnostic::new(format!(
                    "`refresh_fraction` has no effect with `client_cache = \"{name}\"`"
                ))
                .key(key("refresh_fraction"))
                .span(span)
                .help("it applies to `client_cache = \"fraction\"` and `\"msal-managed-identity\"`; remove it or change `client_cache`"),
            );
        }
        if cache == ClientCache::None && a.refresh_offset.is_some() {
            let span = a.refresh_offset.as_ref().map(span_of).unwrap_or(0..0);
            self.error(
                Diagnostic::new("`refresh_offset` has no effect without a client cache")
                    .key(key("refresh_offset"))
                    .span(span)
                    .help("set `client_cache` to an SDK preset or `offset`"),
            );
        }
        (cache, name)
    }

    fn assignment(
        &mut self,
        subjects: &Subjects,
        roles: &BTreeMap<String, Declared>,
        principal: &Text,
        role: &Text,
        scope: &Text,
        key: &str,
    ) -> Option<Assignment> {
        let subject = self.subject(subjects, principal, &format!("{key}.principal"));
        let role = self.lookup(roles, role, "role", &format!("{key}.role"));
        let scope = self.scope(scope, &format!("{key}.scope"));
        Some(Assignment {
            subject: subject?,
            role: role?,
            scope: scope?,
        })
    }

    fn scope(&mut self, scope: &Text, key: &str) -> Option<String> {
        if !scope.get_ref().starts_with('/') {
            self.error(
                Diagnostic::new(format!("invalid scope `{}`", scope.get_ref()))
                    .key(key)
                    .span(span_of(scope))
                    .help("a scope starts with `/`, for example `/subscriptions/sub1/resourceGroups/rg1`"),
            );
            return None;
        }
        let normalized = normalize_scope(scope.get_ref());
        let written = scope.get_ref().trim().trim_end_matches('/');
        let written = if written.is_empty() { "/" } else { written };
        let label = self
            .scope_labels
            .entry(normalized.clone())
            .or_insert_with(|| written.to_string());
        if written < label.as_str() {
            *label = written.to_string();
        }
        Some(normalized)
    }

    fn app_role(
        &mut self,
        subjects: &Subjects,
        services: &BTreeMap<String, Declared>,
        principal: &Text,
        service: &Text,
        role: &Text,
        key: &str,
    ) -> Option<AppRoleGrant> {
        let subject = self.subject(subjects, principal, &format!("{key}.principal"));
        let service = self.lookup(services, service, "service", &format!("{key}.service"));
        if role.get_ref().is_empty() {
            self.error(
                Diagnostic::new("empty app role name")
                    .key(format!("{key}.role"))
                    .span(span_of(role))
                    .help(
                        "write the role's value as the service defines it, for example `Data.Read`",
                    ),
            );
            return None;
        }
        Some(AppRoleGrant {
            subject: subject?,
            service: service?,
            role: role.get_ref().clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn target(
        &mut self,
        context: &TargetContext,
        resources: &mut Resources,
        app: &Text,
        service: &Text,
        action: &Text,
        scope: &Text,
        resource: &Option<Text>,
        key: &str,
    ) -> Option<Target> {
        let app = self.lookup(context.apps, app, "app", &format!("{key}.app"));
        let service_id = self.lookup(
            context.services,
            service,
            "service",
            &format!("{key}.service"),
        );
        let scope_norm = self.scope(scope, &format!("{key}.scope"));
        if action.get_ref().trim().is_empty() {
            self.error(
                Diagnostic::new("empty action")
                    .key(format!("{key}.action"))
                    .span(span_of(action))
                    .help("write an operation such as `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`"),
            );
        }
        let service_id = service_id?;
        let svc = &context.service_list[service_id];
        let resource = match resource {
            Some(r) => {
                let id = resources.intern(r.get_ref());
                if !svc.audiences.contains(&id) {
                    let valid: Vec<&str> = svc
                        .audiences
                        .iter()
                        .map(|&a| resources.names[a].as_str())
                        .collect();
                    self.error(
                        Diagnostic::new(format!(
                            "service `{}` does not accept tokens for `{}`",
                            svc.name,
                            r.get_ref()
                        ))
                        .key(format!("{key}.resource"))
                        .span(span_of(r))
                        .help(format!(
                            "valid resources for `{}`: {}",
                            svc.name,
                            valid.join(", ")
                        )),
                    );
                    return None;
                }
                id
            }
            None => *svc.audiences.first()?,
        };
        Some(Target {
            app: app?,
            service: service_id,
            action: action.get_ref().clone(),
            scope: scope_norm?,
            scope_display: scope.get_ref().clone(),
            resource,
        })
    }

    fn workloads(
        &mut self,
        raw: &[RawWorkload],
        context: &TargetContext,
        resources: &mut Resources,
        horizon: SimTime,
    ) -> Vec<Workload> {
        let mut workloads: Vec<(String, Range<usize>, Workload)> = Vec::new();
        for (i, w) in raw.iter().enumerate() {
            let key = format!("workloads[{i}]");
            let target = self.target(
                context,
                resources,
                &w.app,
                &w.service,
                &w.action,
                &w.scope,
                &w.resource,
                &key,
            );
            let arrivals = match &w.arrivals {
                Some(a) => self.choice(
                    a,
                    &format!("{key}.arrivals"),
                    &[("fixed", Arrivals::Fixed), ("poisson", Arrivals::Poisson)],
                ),
                None => Some(Arrivals::Fixed),
            };
            let every = self.positive_duration(&w.every, &format!("{key}.every"));
            let start = match &w.start {
                Some(t) => self
                    .duration(t, &format!("{key}.start"))
                    .map(|d| SimTime(d.ms())),
                None => Some(SimTime::ZERO),
            };
            let stop = match &w.stop {
                Some(t) => self
                    .duration(t, &format!("{key}.stop"))
                    .map(|d| SimTime(d.ms())),
                None => Some(horizon),
            };
            if let (Some(a), Some(b)) = (start, stop) {
                if a >= horizon {
                    let span = w.start.as_ref().map(span_of).unwrap_or(span_of(&w.every));
                    self.error(
                        Diagnostic::new(format!(
                            "workload starts at {a}, at or after the horizon {horizon}"
                        ))
                        .key(format!("{key}.start"))
                        .span(span)
                        .help("move `start` before the horizon, or raise `horizon`"),
                    );
                } else if b <= a {
                    let span = w.stop.as_ref().map(span_of).unwrap_or(span_of(&w.every));
                    let mut d = Diagnostic::new(format!(
                        "workload stops at {b}, not after its start at {a}"
                    ))
                    .key(format!("{key}.stop"))
                    .span(span)
                    .help("set `stop` after `start`; no request is sent at or after `stop`");
                    if let Some(start) = &w.start {
                        d = d.related("start", span_of(start));
                    }
                    self.error(d);
                }
            }
            let (Some(target), Some(arrivals), Some(every), Some(start), Some(stop)) =
                (target, arrivals, every, start, stop)
            else {
                continue;
            };
            let (name, span) = match &w.name {
                Some(n) => (n.get_ref().clone(), span_of(n)),
                None => (
                    format!(
                        "{}/{}/{}",
                        w.app.get_ref(),
                        w.service.get_ref(),
                        short_action(&target.action)
                    ),
                    span_of(&w.app),
                ),
            };
            if let Some((_, first, _)) = workloads.iter().find(|(n, _, _)| *n == name) {
                self.error(
                    Diagnostic::new(format!("duplicate workload name `{name}`"))
                        .key(format!("{key}.name"))
                        .span(span.clone())
                        .related("first declared", first.clone())
                        .help("give each workload a unique `name`"),
                );
                continue;
            }
            workloads.push((
                name.clone(),
                span,
                Workload {
                    name,
                    target,
                    arrivals,
                    every,
                    start,
                    stop,
                },
            ));
        }
        workloads.sort_by(|a, b| a.0.cmp(&b.0));
        workloads.into_iter().map(|(_, _, w)| w).collect()
    }

    fn token_requests(
        &mut self,
        raw: &[RawTokenRequest],
        apps: &BTreeMap<String, Declared>,
        resources: &mut Resources,
        horizon: SimTime,
    ) -> Vec<TokenRequest> {
        let mut out = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let key = format!("token_requests[{i}]");
            let at = self.at(&r.at, &format!("{key}.at"), horizon);
            let app = self.lookup(apps, &r.app, "app", &format!("{key}.app"));
            if r.resource.get_ref().trim().is_empty() {
                self.error(
                    Diagnostic::new("empty resource")
                        .key(format!("{key}.resource"))
                        .span(span_of(&r.resource))
                        .help("write the resource string the app requests a token for, for example `https://management.azure.com/`"),
                );
                continue;
            }
            let resource = resources.intern(r.resource.get_ref());
            if let (Some(at), Some(app)) = (at, app) {
                out.push(TokenRequest { at, app, resource });
            }
        }
        out.sort_by(|a, b| {
            (a.at, a.app, &resources.names[a.resource]).cmp(&(
                b.at,
                b.app,
                &resources.names[b.resource],
            ))
        });
        out
    }

    fn at(&mut self, text: &Text, key: &str, horizon: SimTime) -> Option<SimTime> {
        let at = SimTime(self.duration(text, key)?.ms());
        if at >= horizon {
            self.error(
                Diagnostic::new(format!(
                    "`{key}` is {at}, at or after the horizon {horizon}"
                ))
                .key(key)
                .span(span_of(text))
                .help("move it before the horizon, or raise `horizon`"),
            );
            return None;
        }
        Some(at)
    }

    #[allow(clippy::too_many_arguments)]
    fn events(
        &mut self,
        raw: &[RawEvent],
        subjects: &Subjects,
        roles: &BTreeMap<String, Declared>,
        apps: &BTreeMap<String, Declared>,
        services: &BTreeMap<String, Declared>,
        service_list: &[Service],
        horizon: SimTime,
    ) -> Vec<(ScheduledEvent, usize)> {
        let mut out = Vec::new();
        for (i, e) in raw.iter().enumerate() {
            let key = format!("events[{i}]");
            let at = self.at(&e.at, &format!("{key}.at"), horizon);
            let kind = self.event_kind(e, &key, subjects, roles, apps, services, service_list);
            if let (Some(at), Some(kind)) = (at, kind) {
                let event = ScheduledEvent {
                    at,
                    kind,
                    description: String::new(),
                };
                out.push((event, i));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn event_kind(
        &mut self,
        e: &RawEvent,
        key: &str,
        subjects: &Subjects,
        roles: &BTreeMap<String, Declared>,
        apps: &BTreeMap<String, Declared>,
        services: &BTreeMap<String, Declared>,
        service_list: &[Service],
    ) -> Option<EventKind> {
        const KINDS: [&str; 8] = [
            "add-member",
            "remove-member",
            "assign-role",
            "remove-role",
            "grant-app-role",
            "revoke-app-role",
            "restart-app",
            "restart-instance",
        ];
        let kind = e.kind.get_ref().as_str();
        let fields: [(&str, Option<Range<usize>>); 8] = [
            ("group", e.group.as_ref().map(span_of)),
            ("member", e.member.as_ref().map(span_of)),
            ("principal", e.principal.as_ref().map(span_of)),
            ("role", e.role.as_ref().map(span_of)),
            ("scope", e.scope.as_ref().map(span_of)),
            ("service", e.service.as_ref().map(span_of)),
            ("app", e.app.as_ref().map(span_of)),
            ("instance", e.instance.as_ref().map(span_of)),
        ];
        let needed: &[&str] = match kind {
            "add-member" | "remove-member" => &["group", "member"],
            "assign-role" | "remove-role" => &["principal", "role", "scope"],
            "grant-app-role" | "revoke-app-role" => &["principal", "service", "role"],
            "restart-app" => &["app"],
            "restart-instance" => &["service", "instance"],
            other => {
                let mut help = format!("valid kinds: {}", KINDS.join(", "));
                if let Some(c) = closest(other, KINDS) {
                    help = format!("did you mean `{c}`? {help}");
                }
                self.error(
                    Diagnostic::new(format!("invalid event kind `{other}`"))
                        .key(format!("{key}.kind"))
                        .span(span_of(&e.kind))
                        .help(help),
                );
                return None;
            }
        };
        let mut complete = true;
        let takes = format!(
            "`{kind}` events take `at`, `kind` and {}",
            needed
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (field, present) in fields {
            let wanted = needed.contains(&field);
            match present {
                None if wanted => {
                    self.error(
                        Diagnostic::new(format!("event `{kind}` needs `{field}`"))
                            .key(format!("{key}.{field}"))
                            .span(span_of(&e.kind))
                            .help(takes.clone()),
                    );
                    complete = false;
                }
                Some(span) if !wanted => {
                    self.error(
                        Diagnostic::new(format!("event `{kind}` does not take `{field}`"))
                            .key(format!("{key}.{field}"))
                            .span(span)
                            .help(takes.clone()),
                    );
                    complete = false;
                }
                _ => {}
            }
        }
        if !complete {
            return None;
        }
        let text = |t: &Option<Text>| t.clone().expect("presence checked above");
        match kind {
            "add-member" | "remove-member" => {
                let group = self.lookup(
                    subjects.groups,
                    &text(&e.group),
                    "group",
                    &format!("{key}.group"),
                );
                let member = self.subject(subjects, &text(&e.member), &format!("{key}.member"));
                let (group, member) = (group?, member?);
                if member == Subject::Group(group) {
                    self.error(
                        Diagnostic::new(format!(
                            "group `{}` cannot be a member of itself",
                            text(&e.group).get_ref()
                        ))
                        .key(format!("{key}.member"))
                        .span(span_of(&text(&e.member)))
                        .help("nested groups must form a hierarchy at every instant"),
                    );
                    return None;
                }
                Some(if kind == "add-member" {
                    EventKind::AddMember { group, member }
                } else {
                    EventKind::RemoveMember { group, member }
                })
            }
            "assign-role" | "remove-role" => {
                let a = self.assignment(
                    subjects,
                    roles,
                    &text(&e.principal),
                    &text(&e.role),
                    &text(&e.scope),
                    key,
                )?;
                Some(if kind == "assign-role" {
                    EventKind::AssignRole(a)
                } else {
                    EventKind::RemoveRole(a)
                })
            }
            "grant-app-role" | "revoke-app-role" => {
                let g = self.app_role(
                    subjects,
                    services,
                    &text(&e.principal),
                    &text(&e.service),
                    &text(&e.role),
                    key,
                )?;
                Some(if kind == "grant-app-role" {
                    EventKind::GrantAppRole(g)
                } else {
                    EventKind::RevokeAppRole(g)
                })
            }
            "restart-app" => self
                .lookup(apps, &text(&e.app), "app", &format!("{key}.app"))
                .map(EventKind::RestartApp),
            _ => {
                let service = self.lookup(
                    services,
                    &text(&e.service),
                    "service",
                    &format!("{key}.service"),
                )?;
                let instance = e.instance.as_ref().expect("presence checked above");
                let count = service_list[service].instances;
                let uncertain = self
                    .uncertain_instances
                    .contains(&service_list[service].name);
                if *instance.get_ref() >= count && !uncertain {
                    self.error(
                        Diagnostic::new(format!(
                            "service `{}` has no instance {}",
                            service_list[service].name,
                            instance.get_ref()
                        ))
                        .key(format!("{key}.instance"))
                        .span(span_of(instance))
                        .help(format!("instances are numbered from 0 to {}", count - 1)),
                    );
                    return None;
                }
                Some(EventKind::RestartInstance {
                    service,
                    instance: *instance.get_ref(),
                })
            }
        }
    }

    fn probes(
        &mut self,
        raw: &[RawProbe],
        context: &TargetContext,
        resources: &mut Resources,
        workloads: &[Workload],
    ) -> Vec<Probe> {
        let (sorted, _) = self.declare(raw, |p| &p.name, "probes");
        let mut probes = Vec::new();
        for p in sorted {
            let i = raw.iter().position(|r| std::ptr::eq(r, p)).unwrap_or(0);
            let key = format!("probes[{i}]");
            if let Some(target) = self.target(
                context,
                resources,
                &p.app,
                &p.service,
                &p.action,
                &p.scope,
                &p.resource,
                &key,
            ) {
                probes.push(Probe {
                    name: p.name.get_ref().clone(),
                    target,
                });
            }
        }
        // One probe per distinct workload target that no declared probe covers, named after the
        // first workload (by name) with that target.
        for w in workloads {
            if probes.iter().any(|p| p.target == w.target) {
                continue;
            }
            if probes.iter().any(|p| p.name == w.name) {
                let entry = raw.iter().position(|p| p.name.get_ref() == &w.name);
                let mut d = Diagnostic::new(format!(
                    "probe `{}` has the name of a workload with another target",
                    w.name
                ))
                .key(entry.map_or("probes".to_string(), |i| format!("probes[{i}].name")))
                .help("rename the probe or the workload");
                if let Some(i) = entry {
                    d = d.span(span_of(&raw[i].name));
                }
                self.error(d);
                continue;
            }
            probes.push(Probe {
                name: w.name.clone(),
                target: w.target.clone(),
            });
        }
        probes.sort_by(|a, b| a.name.cmp(&b.name));
        probes
    }

    /// Sorts events canonically, describes them, and replays the directory in time order. It
    /// rejects changes that cannot apply (adding an existing member or assignment, removing a
    /// missing one), two changes to one relation at the same instant, and a change that closes a
    /// group cycle.
    ///
    /// `entries[i]` is the position in the file of `s.events[i]`, for keys and spans.
    fn check_event_sequence(&mut self, s: &mut Scenario, raw: &RawScenario, entries: Vec<usize>) {
        for e in &mut s.events {
            e.description = describe_event(
                s_ref_names(
                    &s.principals,
                    &s.groups,
                    &s.roles,
                    &s.apps,
                    &s.services,
                    &s.scope_labels,
                ),
                &e.kind,
            );
        }
        let rank = |k: &EventKind| if k.is_directory_change() { 0 } else { 1 };
        let mut paired: Vec<(ScheduledEvent, usize)> = std::mem::take(&mut s.events)
            .into_iter()
            .zip(entries)
            .collect();
        paired.sort_by(|(a, _), (b, _)| {
            (a.at, rank(&a.kind), &a.description).cmp(&(b.at, rank(&b.kind), &b.description))
        });

        let mut memberships = s.memberships.clone();
        let mut assignments = s.assignments.clone();
        let mut grants = s.app_role_grants.clone();
        // The first change of each relation at each instant, with its entry in the file.
        let mut touched: BTreeMap<(SimTime, String), (String, usize)> = BTreeMap::new();
        let mut cycle_reported = false;
        for (e, entry) in &paired {
            let (relation, ok, problem) = match &e.kind {
                EventKind::AddMember { group, member } => (
                    format!("membership {group}/{member:?}"),
                    memberships.insert((*group, *member)),
                    "the member is already in the group at that time",
                ),
                EventKind::RemoveMember { group, member } => (
                    format!("membership {group}/{member:?}"),
                    memberships.remove(&(*group, *member)),
                    "the member is not in the group at that time",
                ),
                EventKind::AssignRole(a) => (
                    format!("assignment {a:?}"),
                    assignments.insert(a.clone()),
                    "the assignment exists already at that time",
                ),
                EventKind::RemoveRole(a) => (
                    format!("assignment {a:?}"),
                    assignments.remove(a),
                    "the assignment does not exist at that time",
                ),
                EventKind::GrantAppRole(g) => (
                    format!("grant {g:?}"),
                    grants.insert(g.clone()),
                    "the app role is granted already at that time",
                ),
                EventKind::RevokeAppRole(g) => (
                    format!("grant {g:?}"),
                    grants.remove(g),
                    "the app role is not granted at that time",
                ),
                EventKind::RestartApp(_) | EventKind::RestartInstance { .. } => continue,
            };
            let raw_event = &raw.events[*entry];
            let key = format!("events[{entry}]");
            let span = span_of(&raw_event.kind);
            if let Some((other, other_entry)) = touched.get(&(e.at, relation.clone())).cloned() {
                // Undo the second change, so that later events are checked against the state
                // the first change left, and one mistake is reported once.
                if ok {
                    match &e.kind {
                        EventKind::AddMember { group, member } => {
                            memberships.remove(&(*group, *member));
                        }
                        EventKind::RemoveMember { group, member } => {
                            memberships.insert((*group, *member));
                        }
                        EventKind::AssignRole(a) => {
                            assignments.remove(a);
                        }
                        EventKind::RemoveRole(a) => {
                            assignments.insert(a.clone());
                        }
                        EventKind::GrantAppRole(g) => {
                            grants.remove(g);
                        }
                        EventKind::RevokeAppRole(g) => {
                            grants.insert(g.clone());
                        }
                        EventKind::RestartApp(_) | EventKind::RestartInstance { .. } => {}
                    }
                }
                self.error(
                    Diagnostic::new(format!(
                        "two changes to the same relation at {}: `{other}` and `{}`",
                        e.at, e.description
                    ))
                    .key(key)
                    .span(span)
                    .related(
                        format!("`{other}` is"),
                        span_of(&raw.events[other_entry].kind),
                    )
                    .help("their order would be ambiguous; move one of them to another instant"),
                );
                continue;
            }
            touched.insert((e.at, relation), (e.description.clone(), *entry));
            if !ok {
                self.error(
                    Diagnostic::new(format!(
                        "event `{}` at {} cannot apply: {problem}",
                        e.description, e.at
                    ))
                    .key(key)
                    .span(span)
                    .help(
                        "check the initial groups and assignments, and the events before this one in time",
                    ),
                );
                continue;
            }
            if let (EventKind::AddMember { .. }, false) = (&e.kind, cycle_reported)
                && let Some(cycle) = find_group_cycle(&memberships, s.groups.len())
            {
                cycle_reported = true;
                let names: Vec<&str> = cycle.iter().map(|&g| s.groups[g].name.as_str()).collect();
                let member = raw_event.member.as_ref().map_or(span.clone(), span_of);
                self.error(
                        Diagnostic::new(format!(
                            "event at {} creates a group membership cycle: {}",
                            e.at,
                            names.join(" contains ")
                        ))
                        .key(format!("{key}.member"))
                        .span(member)
                        .help("nested groups must form a hierarchy at every instant; remove a membership of the cycle first"),
                    );
            }
        }
        s.events = paired.into_iter().map(|(e, _)| e).collect();
    }
}

fn origin_of(set: bool) -> &'static str {
    if set { "scenario" } else { "default" }
}

/// Returns the last two path segments of an action, for generated workload names.
fn short_action(action: &str) -> String {
    let parts: Vec<&str> = action.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [last, second, _] | [last, second] => format!("{second}/{last}"),
        _ => action.to_string(),
    }
}

struct Subjects<'a> {
    principals: &'a BTreeMap<String, Declared>,
    groups: &'a BTreeMap<String, Declared>,
}

struct TargetContext<'a> {
    apps: &'a BTreeMap<String, Declared>,
    services: &'a BTreeMap<String, Declared>,
    service_list: &'a [Service],
}

#[derive(Default)]
struct Resources {
    names: Vec<String>,
}

impl Resources {
    fn intern(&mut self, name: &str) -> ResourceId {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i;
        }
        self.names.push(name.to_string());
        self.names.len() - 1
    }
}

/// Names of entities, for describing events.
pub struct Names<'a> {
    principals: &'a [Principal],
    groups: &'a [Group],
    roles: &'a [RoleDefinition],
    apps: &'a [App],
    services: &'a [Service],
    scope_labels: &'a BTreeMap<String, String>,
}

fn s_ref_names<'a>(
    principals: &'a [Principal],
    groups: &'a [Group],
    roles: &'a [RoleDefinition],
    apps: &'a [App],
    services: &'a [Service],
    scope_labels: &'a BTreeMap<String, String>,
) -> Names<'a> {
    Names {
        principals,
        groups,
        roles,
        apps,
        services,
        scope_labels,
    }
}

impl Names<'_> {
    fn scope<'s>(&'s self, normalized: &'s str) -> &'s str {
        self.scope_labels
            .get(normalized)
            .map_or(normalized, String::as_str)
    }

    fn subject(&self, s: Subject) -> &str {
        match s {
            Subject::Principal(p) => &self.principals[p].name,
            Subject::Group(g) => &self.groups[g].name,
        }
    }
}

fn describe_event(n: Names, kind: &EventKind) -> String {
    match kind {
        EventKind::AddMember { group, member } => format!(
            "add {} to group {}",
            n.subject(*member),
            n.groups[*group].name
        ),
        EventKind::RemoveMember { group, member } => format!(
            "remove {} from group {}",
            n.subject(*member),
            n.groups[*group].name
        ),
        EventKind::AssignRole(a) => format!(
            "assign {} at {} to {}",
            n.roles[a.role].name,
            n.scope(&a.scope),
            n.subject(a.subject)
        ),
        EventKind::RemoveRole(a) => format!(
            "remove {} at {} from {}",
            n.roles[a.role].name,
            n.scope(&a.scope),
            n.subject(a.subject)
        ),
        EventKind::GrantAppRole(g) => format!(
            "grant app role {} of {} to {}",
            g.role,
            n.services[g.service].name,
            n.subject(g.subject)
        ),
        EventKind::RevokeAppRole(g) => format!(
            "revoke app role {} of {} from {}",
            g.role,
            n.services[g.service].name,
            n.subject(g.subject)
        ),
        EventKind::RestartApp(a) => format!("restart app {}", n.apps[*a].name),
        EventKind::RestartInstance { service, instance } => format!(
            "restart instance {instance} of {}",
            n.services[*service].name
        ),
    }
}

/// Finds a cycle among group-in-group memberships; returns it as a list of groups with the first
/// repeated at the end.
fn find_group_cycle(
    memberships: &BTreeSet<(GroupId, Subject)>,
    group_count: usize,
) -> Option<Vec<GroupId>> {
    // Edges from a group to the groups it contains.
    let mut children: Vec<Vec<GroupId>> = vec![Vec::new(); group_count];
    for &(parent, member) in memberships {
        if let Subject::Group(child) = member {
            children[parent].push(child);
        }
    }
    // Iterative depth-first search with colours: 0 unvisited, 1 on the stack, 2 done.
    let mut colour = vec![0u8; group_count];
    for root in 0..group_count {
        if colour[root] != 0 {
            continue;
        }
        let mut stack: Vec<(GroupId, usize)> = vec![(root, 0)];
        colour[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next < children[node].len() {
                let child = children[node][*next];
                *next += 1;
                match colour[child] {
                    0 => {
                        colour[child] = 1;
                        stack.push((child, 0));
                    }
                    1 => {
                        let start = stack
                            .iter()
                            .position(|(g, _)| *g == child)
                            .expect("on stack");
                        let mut cycle: Vec<GroupId> =
                            stack[start..].iter().map(|(g, _)| *g).collect();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::header_comment;

    #[test]
    fn header_comment_strips_marks() {
        let text = "\n# What it shows.\n#\n#   indented\nname = \"x\"\n# not header\n";
        assert_eq!(header_comment(text), "What it shows.\n\n  indented");
    }

    #[test]
    fn header_comment_empty_without_comment() {
        assert_eq!(header_comment("name = \"x\"\n# later\n"), "");
    }
}
