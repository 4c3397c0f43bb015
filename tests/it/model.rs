//! Single rules of the model, each on a small inline scenario.

use staleauth::sim;

use crate::{RequestLog, hms, load_text, seen, simulate};

/// Two apps share one service principal, so the ARM instance receives two tokens of one caller.
const SHARED_CALLER: &str = r#"
horizon = "30m"
[[principals]]
name = "deployer"
kind = "service-principal"
token_lifetime = "75m"
[[apps]]
name = "a"
identity = "deployer"
client_cache = "azure-dotnet"
[[apps]]
name = "b"
identity = "deployer"
client_cache = "azure-dotnet"
[[assignments]]
principal = "deployer"
role = "Reader"
scope = "/subscriptions/s"
[[services]]
name = "arm"
kind = "arm"
rbac_max_age = "1h"
[[workloads]]
name = "a-read"
app = "a"
service = "arm"
action = "Microsoft.Resources/subscriptions/resourceGroups/read"
scope = "/subscriptions/s/resourceGroups/rg"
every = "1m"
[[workloads]]
name = "b-read"
app = "b"
service = "arm"
action = "Microsoft.Resources/subscriptions/resourceGroups/read"
scope = "/subscriptions/s/resourceGroups/rg"
every = "1m"
start = "30s"
"#;

#[test]
fn rbac_reloads_only_on_unseen_token() {
    let scenario = load_text(SHARED_CALLER);
    let mut log = RequestLog::default();
    sim::simulate(&scenario, &mut log).unwrap();
    let sources: Vec<(u64, &str, String)> = log
        .rows
        .iter()
        .map(|r| (r.t.ms(), r.rbac_source, r.token.label()))
        .collect();
    // App a gets T1 at 0 and app b gets T2 at 30 s, each kept by its SDK for the whole run (75 min
    // lifetime, refresh 5 min before expiry). The instance has seen neither at first, so both of
    // the first two requests reload. From then on both tokens are known, so every request is a
    // hit although the presented token alternates. The 1 h max age is never reached.
    assert_eq!(sources[0], (0, "reload", "T1".to_string()));
    assert_eq!(sources[1], (hms(0, 0, 30), "reload", "T2".to_string()));
    assert_eq!(sources.len(), 60);
    for (t, source, _) in &sources[2..] {
        assert_eq!(*source, "hit", "request at {t} ms");
    }
}

#[test]
fn unseen_token_reload_can_be_off() {
    let text = SHARED_CALLER.replace(
        "rbac_max_age = \"1h\"",
        "rbac_max_age = \"1h\"\nreload_on_new_token = false",
    );
    let scenario = load_text(&text);
    let mut log = RequestLog::default();
    sim::simulate(&scenario, &mut log).unwrap();
    // With reload on a new token off, only the first request loads; the max age is never reached.
    let reloads = log
        .rows
        .iter()
        .filter(|r| r.rbac_source == "reload")
        .count();
    assert_eq!(reloads, 1);
    let result = simulate(&scenario);
    assert_eq!(seen(&scenario, &result.windows), []);
}

#[test]
fn cause_lists_alternative_layers() {
    let text = r#"
horizon = "40m"
[[principals]]
name = "deployer"
kind = "service-principal"
token_lifetime = "60m"
[[groups]]
name = "readers"
members = ["deployer"]
[[assignments]]
principal = "readers"
role = "Reader"
scope = "/subscriptions/s"
[[apps]]
name = "pipeline"
identity = "deployer"
client_cache = "azure-dotnet"
[[services]]
name = "arm"
kind = "arm"
rbac_max_age = "30m"
[[workloads]]
name = "rg-read"
app = "pipeline"
service = "arm"
action = "Microsoft.Resources/subscriptions/resourceGroups/read"
scope = "/subscriptions/s/resourceGroups/rg"
every = "1m"
[[events]]
at = "10m"
kind = "remove-member"
group = "readers"
member = "deployer"
[[events]]
at = "10m"
kind = "remove-role"
principal = "readers"
role = "Reader"
scope = "/subscriptions/s"
"#;
    let scenario = load_text(text);
    let result = simulate(&scenario);
    // At 10m the directory denies: the caller left the group and the group lost its role. The SDK
    // still holds T1 (issued at 0, groups [readers], refresh due at 60m - 5m = 55m), and the
    // instance still holds the store version it loaded at 0, which has the group's Reader. So a
    // request at 10m is allowed: stale-allow. Either refresh alone ends it: a new token (no
    // groups, never seen) makes the instance reload and deny; a reload with T1 reads a store
    // without the group's assignment and denies. The instance entry reaches its 30 min max age
    // at 30m, before the SDK's refresh at 55m, so the window is [10m, 30m).
    let windows = seen(&scenario, &result.windows);
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0].start_ms, hms(0, 10, 0));
    assert_eq!(windows[0].end_ms, hms(0, 30, 0));
    assert_eq!(windows[0].cause, "client-cache|instance-cache");
}
