//! Properties that hold for every scenario: determinism, order independence, no window once every
//! cache and delay is off, and no window outlasting its change's bound. They run on the shipped
//! scenarios and on generated ones.

use std::fs;

use staleauth::engine::RandomStream;
use staleauth::observe::WindowKind;
use staleauth::output;
use staleauth::sim;
use toml::{Table, Value};

use crate::{load_text, repo_path, seen, simulate};

/// Lists every shipped scenario by file name.
fn shipped() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(repo_path("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    names
}

fn shipped_text(name: &str) -> String {
    fs::read_to_string(repo_path(&format!("scenarios/{name}"))).unwrap()
}

/// Reverses every array of tables and the members of every group.
fn reversed(text: &str) -> String {
    let mut table: Table = toml::from_str(text).unwrap();
    for (_, value) in table.iter_mut() {
        if let Value::Array(items) = value {
            items.reverse();
            for item in items.iter_mut() {
                if let Some(Value::Array(members)) = item.get_mut("members") {
                    members.reverse();
                }
            }
        }
    }
    toml::to_string(&table).unwrap()
}

/// Turns every cache and delay off: backend TTL 0, no client cache, RBAC max age 0, replication 0.
fn caches_off(text: &str) -> String {
    let mut table: Table = toml::from_str(text).unwrap();
    let platform = table
        .entry("platform")
        .or_insert_with(|| Value::Table(Table::new()));
    platform
        .as_table_mut()
        .unwrap()
        .insert("backend_ttl".into(), Value::String("0s".into()));
    if let Some(Value::Array(apps)) = table.get_mut("apps") {
        for app in apps.iter_mut().filter_map(Value::as_table_mut) {
            app.insert("client_cache".into(), Value::String("none".into()));
            app.remove("refresh_offset");
            app.remove("refresh_fraction");
            app.remove("fraction_min_lifetime");
        }
    }
    if let Some(Value::Array(services)) = table.get_mut("services") {
        for service in services.iter_mut().filter_map(Value::as_table_mut) {
            service.insert("rbac_max_age".into(), Value::String("0s".into()));
            service.insert("replication".into(), Value::String("0s".into()));
        }
    }
    toml::to_string(&table).unwrap()
}

#[test]
fn runs_are_byte_identical() {
    for name in shipped() {
        let scenario = crate::load(&name);
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        output::run_to_dir(&scenario, &a).unwrap();
        output::run_to_dir(&scenario, &b).unwrap();
        for file in output::FILES {
            let (x, y) = (
                fs::read(a.join(file)).unwrap(),
                fs::read(b.join(file)).unwrap(),
            );
            assert!(x == y, "{name}: {file} differs between two runs");
        }
    }
}

#[test]
fn entry_order_changes_nothing() {
    for name in shipped() {
        let text = shipped_text(&name);
        let (a, b) = (load_text(&text), load_text(&reversed(&text)));
        let (ra, rb) = (simulate(&a), simulate(&b));
        assert_eq!(seen(&a, &ra.windows), seen(&b, &rb.windows), "{name}");
        assert_eq!(ra.changes, rb.changes, "{name}");
        assert_eq!(ra.requests, rb.requests, "{name}");
    }
}

#[test]
fn caches_off_leave_no_window() {
    for name in shipped() {
        let scenario = load_text(&caches_off(&shipped_text(&name)));
        let result = simulate(&scenario);
        assert_eq!(seen(&scenario, &result.windows), [], "{name}");
        for c in &result.changes {
            // Every affected pair is consistent at the change instant itself.
            if c.affected > 0 {
                assert_eq!(c.all_consistent, Some(c.at), "{name}: {}", c.description);
            }
        }
    }
}

/// Checks the invariants of one run: windows of a pair never overlap, touching windows differ
/// in kind, no window outlasts the bound of its change, and changes converge within their bound.
fn check_invariants(label: &str, text: &str) {
    let scenario = load_text(text);
    let result = simulate(&scenario);
    let mut windows = result.windows.clone();
    windows.sort_by_key(|w| (w.probe, w.instance, w.start));
    for pair in windows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if (a.probe, a.instance) != (b.probe, b.instance) {
            continue;
        }
        assert!(a.end <= b.start, "{label}: overlapping windows {a:?} {b:?}");
        if a.end == b.start {
            assert_ne!(a.kind, b.kind, "{label}: windows not maximal {a:?} {b:?}");
        }
    }
    for w in &windows {
        assert!(w.start < w.end, "{label}: empty window {w:?}");
        assert!(
            w.end <= scenario.horizon,
            "{label}: window past the horizon {w:?}"
        );
        let Some(c) = w.change else { continue };
        let change = &result.changes[c];
        if let Some(bound) = change.bound {
            assert!(
                w.censored || w.end <= bound,
                "{label}: window {w:?} outlasts the bound {bound} of `{}`",
                change.description
            );
        }
    }
    for c in &result.changes {
        if let (Some(all), Some(bound)) = (c.all_consistent, c.bound) {
            assert!(
                all <= bound,
                "{label}: `{}` converged at {all}, after its bound {bound}",
                c.description
            );
        }
    }
}

#[test]
fn shipped_windows_within_bounds() {
    for name in shipped() {
        check_invariants(&name, &shipped_text(&name));
    }
}

/// Generates a small random scenario: a few identities of every kind, nested groups, RBAC and
/// claims services with random caches, workloads and a sequence of valid changes.
fn generated(seed: u64) -> String {
    let mut r = RandomStream::new(seed, "generated-scenario");
    let pick = |r: &mut RandomStream, items: &[&str]| items[r.index(items.len())].to_string();
    let minutes =
        |r: &mut RandomStream, low: u64, high: u64| format!("{}m", r.uniform_inclusive(low, high));
    let kinds = [
        "system-assigned",
        "user-assigned",
        "service-principal",
        "user",
    ];
    let caches = ["none", "azure-dotnet", "azure-js", "msal-managed-identity"];
    let routings = ["round-robin", "random", "sticky"];
    // TOML integers are signed 64-bit, so the scenario seed keeps the low 63 bits.
    let mut s = format!(
        "seed = {}\nhorizon = \"6h\"\n[platform]\ntoken_lifetime = \"{}\"\nbackend_ttl = \"{}\"\n",
        seed & (i64::MAX as u64),
        minutes(&mut r, 30, 180),
        minutes(&mut r, 0, 200),
    );
    for p in 0..3 {
        s += &format!(
            "[[principals]]\nname = \"p{p}\"\nkind = \"{}\"\n",
            pick(&mut r, &kinds)
        );
        s += &format!(
            "[[apps]]\nname = \"app{p}\"\nidentity = \"p{p}\"\nclient_cache = \"{}\"\n",
            pick(&mut r, &caches)
        );
    }
    s += "[[groups]]\nname = \"g0\"\nmembers = [\"p0\"]\n[[groups]]\nname = \"g1\"\nmembers = [\"g0\"]\n[[groups]]\nname = \"g2\"\nmembers = []\n";
    s += "[[assignments]]\nprincipal = \"g1\"\nrole = \"Reader\"\nscope = \"/subscriptions/s\"\n";
    s += &format!(
        "[[services]]\nname = \"arm\"\nkind = \"arm\"\ninstances = {}\nrouting = \"{}\"\nrbac_max_age = \"{}\"\nreload_on_new_token = {}\nreplication = {{ distribution = \"uniform\", min = \"0s\", max = \"{}\" }}\n",
        r.uniform_inclusive(1, 4),
        pick(&mut r, &routings),
        minutes(&mut r, 0, 40),
        r.index(2) == 0,
        minutes(&mut r, 0, 20),
    );
    s += "[[services]]\nname = \"api\"\naudiences = [\"api://api\"]\nauthorization = \"claims\"\ninstances = 2\n[[services.rules]]\ngroups = [\"g2\"]\nroles = [\"Data.Read\"]\n";
    for p in 0..3 {
        s += &format!(
            "[[workloads]]\nname = \"w{p}\"\napp = \"app{p}\"\nservice = \"arm\"\naction = \"Microsoft.Resources/subscriptions/resourceGroups/read\"\nscope = \"/subscriptions/s/resourceGroups/rg\"\nevery = \"{}\"\n",
            minutes(&mut r, 1, 20)
        );
        s += &format!(
            "[[workloads]]\nname = \"v{p}\"\napp = \"app{p}\"\nservice = \"api\"\naction = \"read\"\nscope = \"/api\"\narrivals = \"poisson\"\nevery = \"{}\"\n",
            minutes(&mut r, 1, 20)
        );
    }
    // A valid sequence of changes: each toggles a relation, so every add and remove applies.
    let mut state = [false; 9];
    let mut at = 0;
    for _ in 0..8 {
        at += r.uniform_inclusive(5, 40);
        let which = r.index(9);
        let p = which % 3;
        let on = !state[which];
        state[which] = on;
        let verb = |add: &str, remove: &str| {
            if on {
                add.to_string()
            } else {
                remove.to_string()
            }
        };
        s += &match which / 3 {
            0 => format!(
                "[[events]]\nat = \"{at}m\"\nkind = \"{}\"\ngroup = \"g2\"\nmember = \"p{p}\"\n",
                verb("add-member", "remove-member")
            ),
            1 => format!(
                "[[events]]\nat = \"{at}m\"\nkind = \"{}\"\nprincipal = \"p{p}\"\nrole = \"Reader\"\nscope = \"/subscriptions/s/resourceGroups/rg\"\n",
                verb("assign-role", "remove-role")
            ),
            _ => format!(
                "[[events]]\nat = \"{at}m\"\nkind = \"{}\"\nprincipal = \"p{p}\"\nservice = \"api\"\nrole = \"Data.Read\"\n",
                verb("grant-app-role", "revoke-app-role")
            ),
        };
        if r.index(4) == 0 {
            s += &format!("[[events]]\nat = \"{at}m\"\nkind = \"restart-app\"\napp = \"app{p}\"\n");
        }
        if r.index(4) == 0 {
            s += &format!(
                "[[events]]\nat = \"{at}m\"\nkind = \"restart-instance\"\nservice = \"api\"\ninstance = 1\n"
            );
        }
    }
    s
}

#[test]
fn generated_scenarios_keep_invariants() {
    for seed in 0..60 {
        let text = generated(seed);
        check_invariants(&format!("generated seed {seed}"), &text);
    }
}

#[test]
fn generated_scenarios_ignore_entry_order() {
    for seed in 0..30 {
        let text = generated(seed);
        let (a, b) = (load_text(&text), load_text(&reversed(&text)));
        let (ra, rb) = (simulate(&a), simulate(&b));
        assert_eq!(seen(&a, &ra.windows), seen(&b, &rb.windows), "seed {seed}");
    }
}

#[test]
fn generated_caches_off_leave_no_window() {
    let mut windows_before = 0;
    for seed in 0..30 {
        let text = generated(seed);
        windows_before += simulate(&load_text(&text)).windows.len();
        let scenario = load_text(&caches_off(&text));
        let result = simulate(&scenario);
        assert_eq!(seen(&scenario, &result.windows), [], "seed {seed}");
    }
    // The generated scenarios do produce windows with their caches on, so the check above is
    // not vacuous.
    assert!(windows_before > 0);
}

#[test]
fn generated_scenarios_have_both_kinds() {
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..30 {
        let result = simulate(&load_text(&generated(seed)));
        kinds.extend(result.windows.iter().map(|w| w.kind));
    }
    assert!(kinds.contains(&WindowKind::StaleAllow));
    assert!(kinds.contains(&WindowKind::StaleDeny));
}

/// Shuffles every array of tables with a seeded stream.
fn shuffled(text: &str, seed: u64) -> String {
    let mut stream = RandomStream::new(seed, "shuffle");
    let mut table: Table = toml::from_str(text).unwrap();
    for (_, value) in table.iter_mut() {
        if let Value::Array(items) = value {
            // Fisher-Yates with the project's own stream, so the permutation depends on the seed
            // alone.
            for i in (1..items.len()).rev() {
                let j = stream.index(i + 1);
                items.swap(i, j);
            }
        }
    }
    toml::to_string(&table).unwrap()
}

mod generated_properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn invariants_hold(seed in any::<u64>()) {
            check_invariants(&format!("generated seed {seed}"), &generated(seed));
        }

        #[test]
        fn permutation_changes_nothing(seed in any::<u64>(), order in any::<u64>()) {
            let text = generated(seed);
            let (a, b) = (load_text(&text), load_text(&shuffled(&text, order)));
            let (ra, rb) = (simulate(&a), simulate(&b));
            prop_assert_eq!(seen(&a, &ra.windows), seen(&b, &rb.windows));
            prop_assert_eq!(ra.changes, rb.changes);
            prop_assert_eq!(ra.requests, rb.requests);
        }

        #[test]
        fn outputs_are_byte_identical(seed in any::<u64>()) {
            let scenario = load_text(&generated(seed));
            let dir = tempfile::tempdir().unwrap();
            let (a, b) = (dir.path().join("a"), dir.path().join("b"));
            output::run_to_dir(&scenario, &a).unwrap();
            output::run_to_dir(&scenario, &b).unwrap();
            for file in output::FILES {
                let (x, y) = (fs::read(a.join(file)).unwrap(), fs::read(b.join(file)).unwrap());
                prop_assert!(x == y, "{} differs", file);
            }
        }

        #[test]
        fn caches_off_match_truth(seed in any::<u64>()) {
            let scenario = load_text(&caches_off(&generated(seed)));
            let result = simulate(&scenario);
            prop_assert_eq!(seen(&scenario, &result.windows), []);
        }
    }
}

/// Keeps every streamed row, formatted, to compare two runs row by row.
#[derive(Default)]
struct RecordingSink {
    rows: Vec<String>,
}

impl sim::Sink for RecordingSink {
    fn event(&mut self, row: &sim::EventRow) -> Result<(), staleauth::Error> {
        self.rows.push(format!("{row:?}"));
        Ok(())
    }
    fn request(&mut self, row: &sim::RequestRow) -> Result<(), staleauth::Error> {
        self.rows.push(format!("{row:?}"));
        Ok(())
    }
    fn transition(
        &mut self,
        row: &staleauth::observe::tracker::Transition,
    ) -> Result<(), staleauth::Error> {
        self.rows.push(format!("{row:?}"));
        Ok(())
    }
}

/// Adds changes to group `g2` that the generator does not make: a role assignment to the group,
/// and the nesting of `g1` (which contains `g0`, which contains `p0`) into it. Callers then hold
/// tokens whose groups differ from the directory's while the group's assignments change.
fn with_group_changes(text: &str) -> String {
    let mut s = text.to_string();
    for k in 0..6u64 {
        let (assign, nest) = if k % 2 == 0 {
            ("assign-role", "add-member")
        } else {
            ("remove-role", "remove-member")
        };
        s += &format!(
            "[[events]]\nat = \"{}m\"\nkind = \"{assign}\"\nprincipal = \"g2\"\nrole = \"Reader\"\nscope = \"/subscriptions/s/resourceGroups/rg\"\n",
            3 + 37 * k
        );
        s += &format!(
            "[[events]]\nat = \"{}m\"\nkind = \"{nest}\"\ngroup = \"g2\"\nmember = \"g1\"\n",
            20 + 37 * k
        );
    }
    s
}

fn assert_observations_agree(label: &str, scenario: &staleauth::Scenario) {
    let mut full = RecordingSink::default();
    let mut incremental = RecordingSink::default();
    let a = sim::simulate_with(scenario, &mut full, sim::Observation::Full).unwrap();
    let b = sim::simulate_with(scenario, &mut incremental, sim::Observation::Incremental).unwrap();
    assert_eq!(
        full.rows.len(),
        incremental.rows.len(),
        "{label}: row count"
    );
    for (x, y) in full.rows.iter().zip(&incremental.rows) {
        assert_eq!(x, y, "{label}: first differing row");
    }
    assert_eq!(a.windows, b.windows, "{label}: windows");
    assert_eq!(a.changes, b.changes, "{label}: changes");
}

#[test]
fn incremental_observation_matches_full() {
    for name in shipped() {
        assert_observations_agree(&name, &crate::load(&name));
    }
    let mut windows = 0;
    for seed in 0..60 {
        let text = with_group_changes(&generated(seed));
        let scenario = load_text(&text);
        assert_observations_agree(&format!("generated seed {seed}"), &scenario);
        windows += simulate(&scenario).windows.len();
    }
    // The generated runs open windows, so the comparison covers stale pairs and their causes.
    assert!(windows > 0);
}
