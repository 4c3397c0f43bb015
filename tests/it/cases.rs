//! The shipped scenarios from public reports, checked against windows derived by hand.
//!
//! Every expected value below is worked out from the model, with the steps beside it, and none is
//! copied from a run. A window is [start, end). A hypothetical request at t uses the client's token
//! if it is unexpired and not due for refresh, else the backend's unexpired entry, else a new token
//! with current claims. It then uses the instance's entry if t < loaded + max age and the entry was
//! loaded with that token id, else it reloads the store as visible at t.

use staleauth::Scenario;
use staleauth::observe::{ChangeRecord, WindowKind};
use staleauth::sim::{self, RequestRow, TokenSource};

use super::{RequestLog, Seen, hms, load, load_text, seen, simulate};

use WindowKind::{StaleAllow, StaleDeny};

/// Runs a scenario with a request log and returns its simulated requests in processing order.
fn requests_of(scenario: &Scenario) -> Vec<RequestRow> {
    let mut log = RequestLog::default();
    sim::simulate(scenario, &mut log).expect("simulation succeeds");
    log.rows
}

/// Returns the request of `workload` at instant `t_ms`, panicking if there is none or several.
fn request_at<'a>(rows: &'a [RequestRow], workload: &str, t_ms: u64) -> &'a RequestRow {
    let found: Vec<&RequestRow> = rows
        .iter()
        .filter(|r| &*r.workload == workload && r.t.ms() == t_ms)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one request of `{workload}` at {t_ms} ms, found {}",
        found.len()
    );
    found[0]
}

fn window(
    probe: &str,
    instance: usize,
    kind: WindowKind,
    start_ms: u64,
    end_ms: u64,
    cause: &str,
    censored: bool,
) -> Seen {
    Seen {
        probe: probe.to_string(),
        instance,
        kind,
        start_ms,
        end_ms,
        cause: cause.to_string(),
        censored,
    }
}

/// The convergence of one directory change, in milliseconds.
struct ExpectedChange {
    at: u64,
    affected: usize,
    first_consistent: Option<u64>,
    all_consistent: Option<u64>,
    bound: Option<u64>,
}

fn check_change(actual: &ChangeRecord, expected: &ExpectedChange) {
    let name = &actual.description;
    assert_eq!(actual.at.ms(), expected.at, "instant of `{name}`");
    assert_eq!(
        actual.affected, expected.affected,
        "pairs affected by `{name}`"
    );
    assert_eq!(
        actual.first_consistent.map(|t| t.ms()),
        expected.first_consistent,
        "first consistent pair after `{name}`"
    );
    assert_eq!(
        actual.all_consistent.map(|t| t.ms()),
        expected.all_consistent,
        "last consistent pair after `{name}`"
    );
    assert_eq!(
        actual.bound.map(|t| t.ms()),
        expected.bound,
        "worst-case bound of `{name}`"
    );
}

#[test]
fn walkthrough_grant_stale_deny_windows() {
    let scenario = load("walkthrough-grant.toml");
    let result = simulate(&scenario);

    let expected = vec![
        // The storage token T1 is issued at 0 without `blob-writers` and the endpoint caches it
        // until it expires at 8 h. From the add at 1 h the truth allows writes, but every request
        // gets T1, so even a reload denies. Only a new token ends it, so the cause is token claims.
        // The restart at 2 h has no SDK cache to empty and leaves the endpoint cache as it is. At
        // 8 h the endpoint issues a token with both groups and the instance reloads on its new id.
        window(
            "blob-write",
            0,
            StaleDeny,
            hms(1, 0, 0),
            hms(8, 0, 0),
            "token-claims",
            false,
        ),
        // The ARM token T2 is issued at 3 h (expires 11 h) and the instance loads its entry then.
        // Requests every 10 min reload at the first request at or after load + 30 min: 3 h 30 and
        // 4 h 00. The assignment at 4 h 05 is visible at once (replication 0). The entry loaded
        // at 4 h 00 with T2 is used until 4 h 30, and T2 is replayed meanwhile. So only a reload
        // ends the window, and the cause is the instance cache.
        window(
            "rg2-read",
            0,
            StaleDeny,
            hms(4, 5, 0),
            hms(4, 30, 0),
            "instance-cache",
            false,
        ),
        // Blob read: `storage-readers` grants it from 0 and never changes, so it has no window.
    ];
    assert_eq!(seen(&scenario, &result.windows), expected);
    assert!(
        result
            .windows
            .iter()
            .all(|w| scenario.probes[w.probe].name != "blob-read"),
        "blob read is never stale"
    );

    // The restart is not a directory change, so two changes remain.
    assert_eq!(result.changes.len(), 2);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: hms(1, 0, 0),
            // Only blob writes change truth: reads were allowed already, and `blob-writers`
            // grants nothing on rg2. Storage has 1 instance.
            affected: 1,
            // The blob write window above ends at 8 h.
            first_consistent: Some(hms(8, 0, 0)),
            all_consistent: Some(hms(8, 0, 0)),
            // A token issued just before 1 h lives 8 h, and the instance reloads on a new token
            // id at once, so 1 h + 8 h.
            bound: Some(hms(9, 0, 0)),
        },
    );
    check_change(
        &result.changes[1],
        &ExpectedChange {
            at: hms(4, 5, 0),
            // Reader on rg2 changes only the rg2 read, on ARM's single instance.
            affected: 1,
            // The rg2 window above ends at 4 h 30.
            first_consistent: Some(hms(4, 30, 0)),
            all_consistent: Some(hms(4, 30, 0)),
            // 4 h 05 + replication 0 + 30 min max age.
            bound: Some(hms(4, 35, 0)),
        },
    );

    let requests = requests_of(&scenario);

    // The restart at 2 h does not shorten the window, because the endpoint still returns T1.
    let write_at_2h = request_at(&requests, "blob-write", hms(2, 0, 0));
    assert_eq!(write_at_2h.token_issued.ms(), 0);
    assert!(!write_at_2h.allowed);

    // The storage token issued at 8 h carries both groups, so reads and writes are allowed.
    let write_at_8h = request_at(&requests, "blob-write", hms(8, 0, 0));
    assert_eq!(write_at_8h.token_issued.ms(), hms(8, 0, 0));
    assert!(write_at_8h.allowed);
    let read_at_8h = request_at(&requests, "blob-read", hms(8, 0, 0));
    assert_eq!(read_at_8h.token_issued.ms(), hms(8, 0, 0));
    assert!(read_at_8h.allowed);

    // The rg2 reads from 3 h to 4 h 30 all replay T2, issued at 3 h. The entry is loaded at 3 h
    // and reloaded at 3 h 30, 4 h 00 and 4 h 30, the first requests at or after load + 30 min.
    // Only the reload at 4 h 30 loads the assignment made at 4 h 05.
    for minutes in (0..=90).step_by(10) {
        let t = hms(3, minutes, 0);
        let row = request_at(&requests, "rg2-read", t);
        assert_eq!(
            row.token_issued.ms(),
            hms(3, 0, 0),
            "token of rg2 read at {t} ms"
        );
        let expected_source = if minutes % 30 == 0 { "reload" } else { "hit" };
        assert_eq!(
            row.rbac_source, expected_source,
            "RBAC entry of rg2 read at {t} ms"
        );
        assert_eq!(row.allowed, minutes == 90, "decision of rg2 read at {t} ms");
    }
}

#[test]
fn walkthrough_revoke_stale_allow_window() {
    let scenario = load("walkthrough-revoke.toml");
    let result = simulate(&scenario);

    let expected = vec![
        // The storage token T1, issued at 0 and cached by the endpoint until 8 h, lists
        // `storage-readers`. After the removal at 2 h the truth denies, but every request gets T1,
        // and even a reload of the instance with T1's groups allows. Only a new token ends it,
        // so the cause is token claims. At 8 h the new token has no group, the instance reloads
        // on its new id, and reads are denied. The restart at 3 h changes nothing (see below).
        window(
            "blob-read",
            0,
            StaleAllow,
            hms(2, 0, 0),
            hms(8, 0, 0),
            "token-claims",
            false,
        ),
    ];
    assert_eq!(seen(&scenario, &result.windows), expected);

    assert_eq!(result.changes.len(), 1);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: hms(2, 0, 0),
            // The blob read on storage's single instance.
            affected: 1,
            // The window above ends at 8 h.
            first_consistent: Some(hms(8, 0, 0)),
            all_consistent: Some(hms(8, 0, 0)),
            // A token issued just before 2 h lives 8 h, and the instance reloads on a new token
            // id at once, so 2 h + 8 h.
            bound: Some(hms(10, 0, 0)),
        },
    );

    // The same scenario without the restart gives the same windows, because a restart rotates
    // the endpoint secret and the app has no SDK cache to empty.
    let text = std::fs::read_to_string(super::repo_path("scenarios/walkthrough-revoke.toml"))
        .expect("scenario file is readable");
    let restart = "[[events]]\nat = \"3h\"\nkind = \"restart-app\"\napp = \"webapp\"\n";
    assert!(
        text.contains(restart),
        "the scenario restarts the app at 3 h"
    );
    let without_restart = load_text(&text.replace(restart, ""));
    let result_without_restart = simulate(&without_restart);
    assert_eq!(
        seen(&without_restart, &result_without_restart.windows),
        expected
    );

    let requests = requests_of(&scenario);

    // Right after the restart the endpoint still returns T1, and the read is allowed.
    let read_at_3h = request_at(&requests, "blob-read", hms(3, 0, 0));
    assert_eq!(read_at_3h.token_issued.ms(), 0);
    assert_eq!(read_at_3h.token_source, TokenSource::Backend);
    assert!(read_at_3h.allowed);

    // The token issued at 8 h has no group, and the instance reloads on its new id.
    let read_at_8h = request_at(&requests, "blob-read", hms(8, 0, 0));
    assert_eq!(read_at_8h.token_issued.ms(), hms(8, 0, 0));
    assert_eq!(read_at_8h.rbac_source, "reload");
    assert!(!read_at_8h.allowed);
}

#[test]
fn functions_group_waits_for_expiry() {
    let scenario = load("functions-group-24h.toml");
    let result = simulate(&scenario);

    let mut expected = vec![
        // T1 is issued at 0 without `api-readers` and lives 24 h 5 min, in the endpoint cache and
        // the SDK, which refreshes 5 min before expiry (24 h 00). From the add at 1 h the truth
        // allows, but the SDK serves T1 until 24 h 00, and from then its refresh gets T1 back from
        // the endpoint. The SDK caches what the endpoint returns, so only a new token ends the
        // window, and the cause is token claims. At 24 h 05 T1 expires and T2 is issued with the
        // group.
        window(
            "team-api-read",
            0,
            StaleDeny,
            hms(1, 0, 0),
            hms(24, 5, 0),
            "token-claims",
            false,
        ),
        // T2 is issued at 24 h 05 with `api-readers` and expires at 48 h 10. After the removal at
        // 25 h the truth denies, but the SDK serves T2 until 48 h 05, and its refresh then gets
        // T2 back until 48 h 10, when a token without the group is issued. The horizon is 49 h.
        window(
            "team-api-read",
            0,
            StaleAllow,
            hms(25, 0, 0),
            hms(48, 10, 0),
            "token-claims",
            false,
        ),
    ];
    // `seen` sorts by probe, instance and then kind, which puts stale-allow first.
    expected.sort();
    assert_eq!(seen(&scenario, &result.windows), expected);

    assert_eq!(result.changes.len(), 2);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: hms(1, 0, 0),
            // The one probe on team-api's single instance.
            affected: 1,
            first_consistent: Some(hms(24, 5, 0)),
            all_consistent: Some(hms(24, 5, 0)),
            // A claims service decides by the token alone, so 1 h + 24 h 5 min.
            bound: Some(hms(25, 5, 0)),
        },
    );
    check_change(
        &result.changes[1],
        &ExpectedChange {
            at: hms(25, 0, 0),
            affected: 1,
            first_consistent: Some(hms(48, 10, 0)),
            all_consistent: Some(hms(48, 10, 0)),
            // 25 h + 24 h 5 min, after the horizon.
            bound: Some(hms(49, 5, 0)),
        },
    );

    let requests = requests_of(&scenario);

    // Before the restart at 2 h the SDK serves T1. The restart empties the SDK cache, and the
    // endpoint then returns the same T1, so the call stays denied.
    let before_restart = request_at(&requests, "team-api-read", hms(1, 59, 0));
    assert_eq!(before_restart.token_source, TokenSource::Client);
    assert_eq!(before_restart.token_issued.ms(), 0);
    let after_restart = request_at(&requests, "team-api-read", hms(2, 0, 0));
    assert_eq!(after_restart.token_source, TokenSource::Backend);
    assert_eq!(after_restart.token_issued.ms(), 0);
    assert!(!after_restart.allowed);

    // From 24 h 00 to 24 h 04 the SDK refreshes and the endpoint returns T1 each time.
    for minute in 0..5 {
        let t = hms(24, minute, 0);
        let row = request_at(&requests, "team-api-read", t);
        assert_eq!(
            row.token_source,
            TokenSource::Backend,
            "token source at {t} ms"
        );
        assert_eq!(row.token_issued.ms(), 0, "token issue instant at {t} ms");
        assert!(!row.allowed, "decision at {t} ms");
    }

    // The token issued at 24 h 05 contains `api-readers`.
    let at_expiry = request_at(&requests, "team-api-read", hms(24, 5, 0));
    assert_eq!(at_expiry.token_source, TokenSource::Issued);
    assert_eq!(at_expiry.token_issued.ms(), hms(24, 5, 0));
    assert!(at_expiry.allowed);

    // After the removal, the refreshes from 48 h 05 to 48 h 09 still get T2 from the endpoint.
    for minute in 5..10 {
        let t = hms(48, minute, 0);
        let row = request_at(&requests, "team-api-read", t);
        assert_eq!(
            row.token_source,
            TokenSource::Backend,
            "token source at {t} ms"
        );
        assert_eq!(
            row.token_issued.ms(),
            hms(24, 5, 0),
            "token issue instant at {t} ms"
        );
        assert!(row.allowed, "decision at {t} ms");
    }
    let second_expiry = request_at(&requests, "team-api-read", hms(48, 10, 0));
    assert_eq!(second_expiry.token_source, TokenSource::Issued);
    assert!(!second_expiry.allowed);
}

#[test]
fn imds_early_fetch_hides_group() {
    let scenario = load("imds-fetch-order-a.toml");
    let result = simulate(&scenario);

    let expected = vec![
        // The single read at 0 h 10 fetches T1 from IMDS without `deployers`, cached until it
        // expires at 8 h 10. After the add at 0 h 30 the truth allows, but a request gets T1, and
        // even a reload of the instance with T1's groups denies, so the cause is token claims. The
        // entry reaching its max age at 0 h 40 changes nothing, because a reload still uses T1.
        // At 8 h 10 a new token carries the group and the instance reloads on its new id.
        window(
            "rg1-read",
            0,
            StaleDeny,
            hms(0, 30, 0),
            hms(8, 10, 0),
            "token-claims",
            false,
        ),
    ];
    assert_eq!(seen(&scenario, &result.windows), expected);

    assert_eq!(result.changes.len(), 1);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: hms(0, 30, 0),
            // The one probe on ARM's single instance.
            affected: 1,
            first_consistent: Some(hms(8, 10, 0)),
            all_consistent: Some(hms(8, 10, 0)),
            // A token issued just before 0 h 30 lives 8 h, and ARM reloads on a new token id.
            bound: Some(hms(8, 30, 0)),
        },
    );

    let requests = requests_of(&scenario);

    // One early read only: the next arrival, at 0 h 20, is past its stop at 0 h 11.
    let early: Vec<&RequestRow> = requests
        .iter()
        .filter(|r| &*r.workload == "rg1-read-early")
        .collect();
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].t.ms(), hms(0, 10, 0));
    assert_eq!(early[0].token_source, TokenSource::Issued);

    // The first periodic read gets T1 back from IMDS and is denied.
    let first_periodic = request_at(&requests, "rg1-read-periodic", hms(1, 0, 0));
    assert_eq!(first_periodic.token_source, TokenSource::Backend);
    assert_eq!(first_periodic.token_issued.ms(), hms(0, 10, 0));
    assert!(!first_periodic.allowed);

    let at_expiry = request_at(&requests, "rg1-read-periodic", hms(8, 10, 0));
    assert_eq!(at_expiry.token_source, TokenSource::Issued);
    assert!(at_expiry.allowed);
}

#[test]
fn imds_late_fetch_no_window() {
    let scenario = load("imds-fetch-order-b.toml");
    let result = simulate(&scenario);

    // Before 0 h 30 the truth denies, and a request would get a new token without the group and
    // be denied. From 0 h 30 IMDS has no cached token, so a request would get a new token with
    // `deployers` and the instance, holding no entry, would load an allowing one. No window.
    assert_eq!(seen(&scenario, &result.windows), Vec::<Seen>::new());

    assert_eq!(result.changes.len(), 1);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: hms(0, 30, 0),
            affected: 1,
            // Consistent at the instant of the change.
            first_consistent: Some(hms(0, 30, 0)),
            all_consistent: Some(hms(0, 30, 0)),
            // The bound does not depend on the fetch order, so it is 0 h 30 + 8 h as in variant A.
            bound: Some(hms(8, 30, 0)),
        },
    );

    // The first token, issued at 1 h, carries the group.
    let requests = requests_of(&scenario);
    let first = request_at(&requests, "rg1-read-periodic", hms(1, 0, 0));
    assert_eq!(first.token_source, TokenSource::Issued);
    assert_eq!(first.token_issued.ms(), hms(1, 0, 0));
    assert!(first.allowed);
}

#[test]
fn arm_instances_flap_after_revoke() {
    let scenario = load("arm-instances-flap.toml");
    let result = simulate(&scenario);

    // The SDK keeps the token issued at 0 (75 min, refresh due at 70 min) for the whole 40 min, so
    // the token id never changes and only the max age makes an instance reload. Instance k gets
    // minutes k, k+4, k+8, ... An entry loaded at L is used while t < L + 10 min, and a request at
    // t reloads otherwise, so the loads are:
    //   instance 0: 0, 12 (12 >= 10), 24 (24 >= 22), 36
    //   instance 1: 1, 13 (13 >= 11), 25 (25 >= 23), 37
    //   instance 2: 2, 14 (14 >= 12), 26 (26 >= 24), 38
    //   instance 3: 3, 15 (15 >= 13), 27 (27 >= 25), 39
    // The assignment is visible from 0 (replication 0) and removed at 12 min 30 s. At that instant
    // the entries in force were loaded at 12, 1, 2 and 3, all allowing. A hypothetical request
    // at t >= 12 min 30 s on instance 1 (1 + 10 = 11 <= t) or 2 (2 + 10 = 12 <= t) reloads and is
    // denied, so those have no window. Instances 0 and 3 use their entries until L + 10 min.
    let expected = vec![
        // Loaded at 12 min, used until 22 min.
        window(
            "rg1-read",
            0,
            StaleAllow,
            hms(0, 12, 30),
            hms(0, 22, 0),
            "instance-cache",
            false,
        ),
        // Loaded at 3 min, used until 13 min.
        window(
            "rg1-read",
            3,
            StaleAllow,
            hms(0, 12, 30),
            hms(0, 13, 0),
            "instance-cache",
            false,
        ),
    ];
    assert_eq!(seen(&scenario, &result.windows), expected);

    // The probe is stale on some instance over the union of its windows, [12 min 30 s, 22 min).
    // That interval ends when the last stale entry, instance 0's from 12 min, reaches its max age.
    let stale_until = result.windows.iter().map(|w| w.end.ms()).max();
    assert_eq!(stale_until, Some(hms(0, 22, 0)));

    assert_eq!(result.changes.len(), 2);
    check_change(
        &result.changes[0],
        &ExpectedChange {
            at: 0,
            // The read on each of the 4 instances becomes allowed.
            affected: 4,
            // No instance has an entry yet, so every instance would load the new store at 0.
            first_consistent: Some(0),
            all_consistent: Some(0),
            // Replication 0 plus the 10 min max age.
            bound: Some(hms(0, 10, 0)),
        },
    );
    check_change(
        &result.changes[1],
        &ExpectedChange {
            at: hms(0, 12, 30),
            affected: 4,
            // Instances 1 and 2 are consistent at once, instance 0 last, at 22 min.
            first_consistent: Some(hms(0, 12, 30)),
            all_consistent: Some(hms(0, 22, 0)),
            // 12 min 30 s + replication 0 + 10 min max age.
            bound: Some(hms(0, 22, 30)),
        },
    );

    // Real requests from the load table above: (minute, instance, reload, allowed). A load
    // before 12 min 30 s allows and a load after denies. Instance 0 returns 200 at 16 and 20 with
    // its entry from 12 min while the others return 403. It keeps that entry past its window until
    // its next request, at 24 min, reloads it.
    let table: [(u64, usize, bool, bool); 25] = [
        (0, 0, true, true),
        (1, 1, true, true),
        (2, 2, true, true),
        (3, 3, true, true),
        (4, 0, false, true),
        (5, 1, false, true),
        (6, 2, false, true),
        (7, 3, false, true),
        (8, 0, false, true),
        (9, 1, false, true),
        (10, 2, false, true),
        (11, 3, false, true),
        (12, 0, true, true),
        (13, 1, true, false),
        (14, 2, true, false),
        (15, 3, true, false),
        (16, 0, false, true),
        (17, 1, false, false),
        (18, 2, false, false),
        (19, 3, false, false),
        (20, 0, false, true),
        (21, 1, false, false),
        (22, 2, false, false),
        (23, 3, false, false),
        (24, 0, true, false),
    ];
    let requests = requests_of(&scenario);
    for (minute, instance, reload, allowed) in table {
        let row = request_at(&requests, "rg1-read", hms(0, minute, 0));
        assert_eq!(row.instance, instance, "instance at minute {minute}");
        let expected_source = if reload { "reload" } else { "hit" };
        assert_eq!(
            row.rbac_source, expected_source,
            "RBAC entry at minute {minute}"
        );
        assert_eq!(row.allowed, allowed, "decision at minute {minute}");
        assert_eq!(
            row.token_issued.ms(),
            0,
            "token issue instant at minute {minute}"
        );
    }
}

#[test]
fn group_removal_outlives_until_expiry() {
    let scenario = load("group-removal-exposure.toml");
    let result = simulate(&scenario);
    // T1 is issued at 0 with `api-readers` and lives 24 h 5 min in the endpoint cache; with no SDK
    // cache every call gets T1 back from the backend. After the removal at 5 h the truth denies,
    // and the claims allow until T1 expires at 24 h 05, when a token without the group is issued.
    let expected = vec![window(
        "team-api-read",
        0,
        StaleAllow,
        hms(5, 0, 0),
        hms(24, 5, 0),
        "token-claims",
        false,
    )];
    assert_eq!(seen(&scenario, &result.windows), expected);
    let rows = requests_of(&scenario);
    assert_eq!(
        request_at(&rows, "team-api-read", hms(24, 4, 0)).token_source,
        TokenSource::Backend
    );
    assert_eq!(
        request_at(&rows, "team-api-read", hms(24, 5, 0)).token_source,
        TokenSource::Issued
    );
}

#[test]
fn group_add_waits_for_sdk_refresh() {
    let scenario = load("client-cache-group-add.toml");
    let rows = requests_of(&scenario);
    // Lifetimes are drawn per token, so the expected window follows from the token the SDK holds
    // at the add (2 h): the one issued at 1 h 11 min. The SDK (`azure-dotnet`) refreshes it 5 min
    // before its expiry; until then calls are denied though the truth allows.
    let held = request_at(&rows, "team-api-read", hms(2, 0, 0));
    assert_eq!(held.token_issued.ms(), hms(1, 11, 0));
    assert_eq!(held.token_source, TokenSource::Client);
    let lifetime = held.token_expires.ms() - held.token_issued.ms();
    assert!(
        (hms(1, 0, 0)..=hms(1, 30, 0)).contains(&lifetime),
        "{lifetime}"
    );
    let refresh = held.token_expires.ms() - hms(0, 5, 0);
    let result = simulate(&scenario);
    let expected = vec![window(
        "team-api-read",
        0,
        StaleDeny,
        hms(2, 0, 0),
        refresh,
        "client-cache",
        false,
    )];
    assert_eq!(seen(&scenario, &result.windows), expected);
    // The header states this refresh instant, 2 h 20 min 42 s 267 ms, for seed 1.
    assert_eq!(refresh, hms(2, 20, 42) + 267);
}
