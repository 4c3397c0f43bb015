//! The scenarios behind docs/propagation-delays.md, checked against windows derived by hand.
//!
//! Every change is at 1h1m. Workloads call every 10 min from 0 (or from their `start`), so every
//! RBAC entry was last loaded at 1h: ARM and Storage reload at their max age, and 1h is a multiple
//! of 5, 10 and 30 min. An assignment change (no replication delay in either preset) therefore
//! shows until the next reload at 1h + max age. A membership or app-role change shows until the
//! token issued before it expires: the SDK refreshes 5 min before expiry, but the identity
//! endpoint returns the same token until its expiry, and at that instant a new token with the new
//! claims makes the instance reload.

use staleauth::observe::WindowKind;

use super::{Seen, hms, load, seen, simulate};

use WindowKind::{StaleAllow, StaleDeny};

fn window(probe: &str, kind: WindowKind, start_ms: u64, end_ms: u64, cause: &str) -> Seen {
    Seen {
        probe: probe.to_string(),
        instance: 0,
        kind,
        start_ms,
        end_ms,
        cause: cause.to_string(),
        censored: false,
    }
}

/// The windows of a propagation scenario with token lifetime `token` (ms), ARM max age `arm` and
/// Storage max age `storage` (min).
fn propagation_windows(token: u64, arm: u64, storage: u64) -> Vec<Seen> {
    let change = hms(1, 1, 0);
    let claims = "token-claims";
    let instance = "instance-cache";
    let mut expected = vec![
        // The API token issued at 0 expires at `token`.
        window("approle-grant/team-api", StaleDeny, change, token, claims),
        window(
            "direct-add/arm",
            StaleDeny,
            change,
            hms(1, arm, 0),
            instance,
        ),
        window(
            "direct-add/storage",
            StaleDeny,
            change,
            hms(1, storage, 0),
            instance,
        ),
        window(
            "direct-remove/arm",
            StaleAllow,
            change,
            hms(1, arm, 0),
            instance,
        ),
        window(
            "direct-remove/storage",
            StaleAllow,
            change,
            hms(1, storage, 0),
            instance,
        ),
        window("grp-add/arm", StaleDeny, change, token, claims),
        window("grp-add/storage", StaleDeny, change, token, claims),
        window("grp-remove/arm", StaleAllow, change, token, claims),
        window("grp-remove/storage", StaleAllow, change, token, claims),
        // The early app took its first token at 1h, one minute before its group add.
        window(
            "new-early/arm",
            StaleDeny,
            change,
            hms(1, 0, 0) + token,
            claims,
        ),
        window(
            "new-early/storage",
            StaleDeny,
            change,
            hms(1, 0, 0) + token,
            claims,
        ),
        // The late app takes its first token at 1h2m, after its group add: no window.
    ];
    expected.sort();
    expected
}

#[test]
fn propagation_2018_windows() {
    // app-service-2018: tokens 8 h, ARM 30 min, Storage 5 min.
    let scenario = load("propagation-app-service-2018.toml");
    let result = simulate(&scenario);
    assert_eq!(
        seen(&scenario, &result.windows),
        propagation_windows(hms(8, 0, 0), 30, 5)
    );
}

#[test]
fn propagation_current_windows() {
    // current: tokens 24 h 5 min, ARM 10 min, Storage 30 min.
    let scenario = load("propagation-current.toml");
    let result = simulate(&scenario);
    assert_eq!(
        seen(&scenario, &result.windows),
        propagation_windows(hms(24, 5, 0), 10, 30)
    );
}

#[test]
fn mitigation_windows() {
    let scenario = load("mitigations-current.toml");
    let result = simulate(&scenario);
    let windows = seen(&scenario, &result.windows);
    let find =
        |probe: &str| -> Vec<&Seen> { windows.iter().filter(|w| w.probe == probe).collect() };
    let change = hms(1, 1, 0);
    let token_end = hms(24, 5, 0);
    // Baseline: the token issued at 0 keeps the old groups until 24h5m on both services.
    for probe in [
        "baseline/arm",
        "baseline/storage",
        "restart/arm",
        "restart/storage",
    ] {
        let w = find(probe);
        assert_eq!(w.len(), 1, "{probe}: {w:?}");
        assert_eq!((w[0].start_ms, w[0].end_ms), (change, token_end), "{probe}");
        assert_eq!(w[0].cause, "token-claims", "{probe}");
    }
    // Direct assignment: the next reload, at 1h + 10 min (ARM) and 1h + 30 min (Storage).
    assert_eq!(find("direct/arm")[0].end_ms, hms(1, 10, 0));
    assert_eq!(find("direct/storage")[0].end_ms, hms(1, 30, 0));
    // The other spelling has no token cached anywhere, so its first token carries the group.
    assert!(find("other-resource/storage-no-slash").is_empty());
    // The old spelling stays stale like the baseline: the switch helps only the new spelling.
    assert_eq!(find("other-resource/storage")[0].end_ms, token_end);
    // A 10 min service principal token issued at 1h is refreshed by the SDK 5 min before expiry.
    let short = find("sp-short/storage");
    assert_eq!((short[0].start_ms, short[0].end_ms), (change, hms(1, 5, 0)));
    // Default service principal tokens live 60 to 90 min: the window ends by 1h + 90 min - 5 min.
    let default = find("sp-default/storage");
    assert_eq!(default.len(), 1);
    assert!(default[0].end_ms <= hms(2, 25, 0), "{default:?}");
}
