//! The simulation: the event loop that replays a scenario over the model and feeds the observer.
//!
//! Each instant runs in three phases: pop and apply every event of the instant in queue order
//! (directory changes, timer expiries, restarts, requests), then observe the (probe, instance)
//! pairs, then hand the transitions to the sink. Outputs are streamed through a [`Sink`], so memory
//! does not grow with the horizon except for windows and change records.
//!
//! Observation is incremental: every change of state marks the pairs that read it (the `dirty_*`
//! methods), and only marked pairs are evaluated. A pair that no event touched keeps its decision
//! and cause, because every instant at which a cached entry stops being usable is a timer event
//! that marks its readers. [`Observation::Full`] evaluates every pair instead, as a reference.

pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::engine::rng::fnv1a64;
use crate::engine::{EventClass, EventQueue, Popped, RandomStream};
use crate::error::Error;
use crate::model::{self, Directory, Token, TokenId};
use crate::observe::effective::{Path, decision_label};
use crate::observe::tracker::Transition;
use crate::observe::{ChangeRecord, Evaluator, Tracker, Window};
use crate::scenario::{
    AppId, Arrivals, Assignment, Authorization, ClientCache, EventKind, GroupId, PrincipalId,
    Replication, ResourceId, Routing, Scenario, ServiceId, Subject,
};
use crate::time::{SimDuration, SimTime};
use state::{BackendEntry, ClientEntry, RbacEntry, State, refresh_instant};

/// A processed event, as written to `events.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: u64,
    pub t: SimTime,
    pub class: EventClass,
    pub kind: &'static str,
    pub detail: String,
}

/// The source of a request's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The app's SDK cache.
    Client,
    /// The managed identity endpoint's backend cache.
    Backend,
    /// Issued by the directory for this request.
    Issued,
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Client => "client",
            TokenSource::Backend => "backend",
            TokenSource::Issued => "issued",
        }
    }
}

/// A simulated request, as written to `requests.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub t: SimTime,
    /// Index of the workload in the scenario.
    pub workload_index: usize,
    /// Names are shared with the simulation, so that building a row allocates nothing.
    pub workload: Rc<str>,
    pub app: Rc<str>,
    pub service: Rc<str>,
    pub instance: usize,
    pub token: TokenId,
    pub token_issued: SimTime,
    pub token_expires: SimTime,
    pub token_source: TokenSource,
    /// `hit` or `reload` for RBAC services, `none` for claims services.
    pub rbac_source: &'static str,
    pub allowed: bool,
    pub truth: bool,
}

/// Receives the streamed outputs of a run.
pub trait Sink {
    fn event(&mut self, row: &EventRow) -> Result<(), Error>;
    fn request(&mut self, row: &RequestRow) -> Result<(), Error>;
    fn transition(&mut self, row: &Transition) -> Result<(), Error>;

    /// Receives each token the issuer hands out, in issue order. The default keeps nothing.
    fn token(&mut self, _token: &Token) -> Result<(), Error> {
        Ok(())
    }

    /// Returns whether [`Sink::event`] keeps anything. When it does not, the simulation skips
    /// formatting event rows.
    fn wants_events(&self) -> bool {
        true
    }

    /// Returns whether [`Sink::request`] keeps anything. When it does not, the simulation skips
    /// building request rows.
    fn wants_requests(&self) -> bool {
        true
    }
}

/// A sink that keeps nothing, for callers that only want windows and changes.
pub struct NullSink;

impl Sink for NullSink {
    fn event(&mut self, _: &EventRow) -> Result<(), Error> {
        Ok(())
    }
    fn request(&mut self, _: &RequestRow) -> Result<(), Error> {
        Ok(())
    }
    fn transition(&mut self, _: &Transition) -> Result<(), Error> {
        Ok(())
    }
    fn wants_events(&self) -> bool {
        false
    }
    fn wants_requests(&self) -> bool {
        false
    }
}

/// The result of a finished run, beside the streamed outputs.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub windows: Vec<Window>,
    pub changes: Vec<ChangeRecord>,
    pub events: u64,
    pub requests: u64,
    /// Requests whose decision differed from the truth at their instant.
    pub stale_requests: u64,
    pub tokens_issued: u64,
}

#[derive(Debug, Clone)]
enum Payload {
    Scheduled(usize),
    Arrival(usize),
    TokenRequest(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum TimerKey {
    Backend(PrincipalId, ResourceId),
    Client(AppId, ResourceId),
    Rbac(ServiceId, usize, PrincipalId),
    Replication(u64),
}

#[derive(Debug, Clone)]
struct PendingWrite {
    service: ServiceId,
    assignment: Assignment,
    add: bool,
}

/// The choice of pairs the simulation evaluates after each instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Observation {
    /// Re-evaluate only the pairs whose inputs an event of the instant changed.
    #[default]
    Incremental,
    /// Re-evaluate every pair after every instant. Slow; kept as the reference that tests
    /// compare the incremental observation with.
    Full,
}

/// Runs a scenario to its horizon, streaming outputs into `sink`.
pub fn simulate(scenario: &Scenario, sink: &mut dyn Sink) -> Result<RunResult, Error> {
    simulate_with(scenario, sink, Observation::default())
}

/// Runs a scenario to its horizon with the given observation, streaming outputs into `sink`.
/// Both observations give the same outputs.
pub fn simulate_with(
    scenario: &Scenario,
    sink: &mut dyn Sink,
    observation: Observation,
) -> Result<RunResult, Error> {
    let mut sim = Simulation::new(scenario, observation);
    sim.run(sink, SimTime::NEVER)?;
    let (windows, changes) = sim.tracker.finish(scenario.horizon);
    Ok(RunResult {
        windows,
        changes,
        events: sim.processed,
        requests: sim.requests,
        stale_requests: sim.stale_requests,
        tokens_issued: sim.state.next_token - 1,
    })
}

/// Runs a scenario up to and including the events at `until`, and returns the state then.
///
/// The state is the one [`Evaluator`] observes at `until`: every event of that instant is applied.
/// `until` at or past the horizon runs the whole scenario.
pub fn state_at(scenario: &Scenario, until: SimTime) -> Result<State, Error> {
    let mut sim = Simulation::new(scenario, Observation::default());
    sim.run(&mut NullSink, until)?;
    Ok(sim.state)
}

struct Simulation<'s> {
    scenario: &'s Scenario,
    observation: Observation,
    index: ProbeIndex,
    /// The truth of each probe, updated by every directory change.
    truths: Vec<bool>,
    /// For each workload, the workload, app and service names of its request rows.
    request_names: Vec<[Rc<str>; 3]>,
    /// Pairs to re-evaluate at the end of the instant, by pair number, and a flag per pair.
    dirty: Vec<usize>,
    is_dirty: Vec<bool>,
    state: State,
    queue: EventQueue<TimerKey, Payload>,
    tracker: Tracker,
    arrival_streams: Vec<RandomStream>,
    pending_writes: BTreeMap<u64, PendingWrite>,
    next_write: u64,
    processed: u64,
    requests: u64,
    stale_requests: u64,
    /// Tokens issued while handling the current event, not yet handed to the sink.
    issued: Vec<Rc<Token>>,
}

impl<'s> Simulation<'s> {
    fn new(scenario: &'s Scenario, observation: Observation) -> Simulation<'s> {
        let instances = scenario
            .probes
            .iter()
            .map(|p| scenario.services[p.target.service].instances as usize)
            .collect();
        let state = State::new(scenario);
        let index = ProbeIndex::new(scenario, &state.directory);
        let pairs = index.pair_probe.len();
        let mut sim = Simulation {
            scenario,
            observation,
            index,
            truths: Vec::new(),
            request_names: scenario
                .workloads
                .iter()
                .map(|w| {
                    [
                        Rc::from(w.name.as_str()),
                        Rc::from(scenario.apps[w.target.app].name.as_str()),
                        Rc::from(scenario.services[w.target.service].name.as_str()),
                    ]
                })
                .collect(),
            dirty: Vec::new(),
            is_dirty: vec![false; pairs],
            state,
            queue: EventQueue::new(),
            tracker: Tracker::new(instances),
            arrival_streams: scenario
                .workloads
                .iter()
                .map(|w| RandomStream::new(scenario.seed, &format!("workload/{}", w.name)))
                .collect(),
            pending_writes: BTreeMap::new(),
            next_write: 0,
            processed: 0,
            requests: 0,
            stale_requests: 0,
            issued: Vec::new(),
        };
        sim.truths = (0..scenario.probes.len())
            .map(|p| sim.probe_truth(p))
            .collect();
        sim.schedule_initial();
        sim
    }

    fn schedule_initial(&mut self) {
        for (i, e) in self.scenario.events.iter().enumerate() {
            let class = if e.kind.is_directory_change() {
                EventClass::Directory
            } else {
                EventClass::Restart
            };
            self.queue.schedule(e.at, class, Payload::Scheduled(i));
        }
        for (i, r) in self.scenario.token_requests.iter().enumerate() {
            self.queue
                .schedule(r.at, EventClass::Request, Payload::TokenRequest(i));
        }
        for i in 0..self.scenario.workloads.len() {
            let w = &self.scenario.workloads[i];
            let first = match w.arrivals {
                Arrivals::Fixed => w.start,
                Arrivals::Poisson => w.start.after(self.draw_gap(i)),
            };
            if first < w.stop {
                self.queue
                    .schedule(first, EventClass::Request, Payload::Arrival(i));
            }
        }
    }

    fn draw_gap(&mut self, workload: usize) -> SimDuration {
        let mean = self.scenario.workloads[workload].every.ms();
        SimDuration(self.arrival_streams[workload].exponential_ms(mean).max(1))
    }

    /// Processes every instant before the horizon and at or before `until`.
    fn run(&mut self, sink: &mut dyn Sink, until: SimTime) -> Result<(), Error> {
        let horizon = self.scenario.horizon;
        // The first observation covers every pair, whatever the observation mode.
        self.dirty_all();
        let mut observed_start = false;
        while let Some(now) = self
            .queue
            .peek_time()
            .filter(|&t| t < horizon && t <= until)
        {
            if !observed_start && now > SimTime::ZERO {
                self.observe(SimTime::ZERO, sink)?;
            }
            observed_start = true;

            // Apply every event of this instant, in queue order.
            while self.queue.peek_time() == Some(now) {
                let (t, class, popped) = self.queue.pop().expect("peeked");
                let (kind, detail) = match popped {
                    Popped::Event(payload) => self.handle(t, payload, sink)?,
                    Popped::Timer(key) => self.fire(t, key, sink.wants_events()),
                };
                for token in self.issued.drain(..) {
                    sink.token(&token)?;
                }
                if sink.wants_events() {
                    sink.event(&EventRow {
                        seq: self.processed,
                        t,
                        class,
                        kind,
                        detail,
                    })?;
                }
                self.processed += 1;
            }

            // Observe the pairs this instant marked, once it is settled.
            self.observe(now, sink)?;
        }
        if !observed_start {
            self.observe(SimTime::ZERO, sink)?;
        }
        Ok(())
    }

    fn observe(&mut self, t: SimTime, sink: &mut dyn Sink) -> Result<(), Error> {
        if self.observation == Observation::Full {
            self.dirty_all();
        }
        // Pairs are observed in pair order, (probe, instance), so transitions leave in the same
        // order whichever pairs are dirty.
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        let evaluator = Evaluator {
            scenario: self.scenario,
            state: &self.state,
            t,
        };
        // Dirty pairs of one probe are adjacent, and they share the probe's path.
        let mut path: Option<(usize, Path)> = None;
        for &pair in &dirty {
            self.is_dirty[pair] = false;
            let p = self.index.pair_probe[pair];
            let i = pair - self.index.first_pair[p];
            let probe = &self.scenario.probes[p];
            let truth = self.truths[p];
            let permitted = &self.index.permitted[p];
            if path.as_ref().is_none_or(|(q, _)| *q != p) {
                path = Some((p, evaluator.path(&probe.target)));
            }
            let (_, probe_path) = path.as_ref().expect("set above");
            let (effective, cause) =
                evaluator.effective_on(probe_path, &probe.target, i, truth, permitted);
            if effective != truth && cause.is_empty() {
                return Err(Error::Internal(format!(
                    "no layer explains the stale decision of probe `{}` on instance {i} at {t}",
                    probe.name
                )));
            }
            if let Some(tr) = self.tracker.observe(t, p, i, truth, effective, cause) {
                sink.transition(&tr)?;
            }
        }
        dirty.clear();
        self.dirty = dirty;
        Ok(())
    }

    // Dirty pairs: what each change of state can alter.

    fn dirty_pair(&mut self, probe: usize, instance: usize) {
        let pair = self.index.first_pair[probe] + instance;
        if !self.is_dirty[pair] {
            self.is_dirty[pair] = true;
            self.dirty.push(pair);
        }
    }

    fn dirty_probe(&mut self, probe: usize) {
        let instances =
            self.scenario.services[self.scenario.probes[probe].target.service].instances;
        for i in 0..instances as usize {
            self.dirty_pair(probe, i);
        }
    }

    fn dirty_all(&mut self) {
        for p in 0..self.scenario.probes.len() {
            self.dirty_probe(p);
        }
    }

    /// Dirties the probes of `principal` that `filter` selects, on every instance or on one.
    fn dirty_principal_probes(
        &mut self,
        principal: PrincipalId,
        instance: Option<usize>,
        filter: impl Fn(&crate::scenario::Target) -> bool,
    ) {
        for k in 0..self.index.by_principal[principal].len() {
            let p = self.index.by_principal[principal][k];
            if !filter(&self.scenario.probes[p].target) {
                continue;
            }
            match instance {
                Some(i) => self.dirty_pair(p, i),
                None => self.dirty_probe(p),
            }
        }
    }

    /// Dirties every probe whose caller is `subject` or may carry it as a group, in the
    /// directory or in a cached token.
    fn dirty_subject(&mut self, subject: Subject) {
        match subject {
            Subject::Principal(p) => self.dirty_principal_probes(p, None, |_| true),
            Subject::Group(g) => {
                let members: Vec<PrincipalId> =
                    self.index.ever_members[g].iter().copied().collect();
                for p in members {
                    self.dirty_principal_probes(p, None, |_| true);
                }
            }
        }
    }

    /// Dirties the probes that read the client cache entry of (`app`, `resource`).
    fn dirty_client(&mut self, app: AppId, resource: ResourceId) {
        let identity = self.scenario.apps[app].identity;
        self.dirty_principal_probes(identity, None, |t| t.app == app && t.resource == resource);
    }

    fn probe_truth(&self, probe: usize) -> bool {
        let target = &self.scenario.probes[probe].target;
        model::truth(
            self.scenario,
            &self.state.directory,
            self.scenario.apps[target.app].identity,
            target.service,
            &target.action,
            &target.scope,
        )
    }

    fn handle(
        &mut self,
        t: SimTime,
        payload: Payload,
        sink: &mut dyn Sink,
    ) -> Result<(&'static str, String), Error> {
        match payload {
            Payload::Scheduled(i) => Ok(self.apply_event(t, i)),
            Payload::TokenRequest(i) => {
                let r = &self.scenario.token_requests[i];
                let (token, source) = self.acquire_token(t, r.app, r.resource);
                if !sink.wants_events() {
                    return Ok(("token-request", String::new()));
                }
                Ok((
                    "token-request",
                    format!(
                        "app {} resource {}: {} from {}",
                        self.scenario.apps[r.app].name,
                        self.scenario.resources[r.resource],
                        token.id.label(),
                        source.as_str()
                    ),
                ))
            }
            Payload::Arrival(i) => {
                let outcome = self.request(t, i);
                let detail = if sink.wants_events() {
                    format!(
                        "workload {} to instance {}: {} from {}, {}",
                        self.scenario.workloads[i].name,
                        outcome.instance,
                        outcome.token.id.label(),
                        outcome.token_source.as_str(),
                        decision_label(outcome.allowed)
                    )
                } else {
                    String::new()
                };
                if sink.wants_requests() {
                    sink.request(&self.request_row(t, i, &outcome))?;
                }
                self.requests += 1;
                self.stale_requests += u64::from(outcome.allowed != outcome.truth);
                self.schedule_next_arrival(t, i);
                Ok(("request", detail))
            }
        }
    }

    fn schedule_next_arrival(&mut self, t: SimTime, i: usize) {
        let w = &self.scenario.workloads[i];
        let next = match w.arrivals {
            Arrivals::Fixed => t.after(w.every),
            Arrivals::Poisson => t.after(self.draw_gap(i)),
        };
        if next < self.scenario.workloads[i].stop && next < self.scenario.horizon {
            self.queue
                .schedule(next, EventClass::Request, Payload::Arrival(i));
        }
    }

    // Directory changes and restarts.

    fn apply_event(&mut self, t: SimTime, i: usize) -> (&'static str, String) {
        let event = &self.scenario.events[i];
        let description = event.description.clone();
        let kind = event.kind.clone();
        if !kind.is_directory_change() {
            return (self.restart(&kind), description);
        }
        // The principals whose truth or fresh token the change can alter.
        let subject = match &kind {
            EventKind::AddMember { member, .. } | EventKind::RemoveMember { member, .. } => *member,
            EventKind::AssignRole(a) | EventKind::RemoveRole(a) => a.subject,
            EventKind::GrantAppRole(g) | EventKind::RevokeAppRole(g) => g.subject,
            EventKind::RestartApp(_) | EventKind::RestartInstance { .. } => unreachable!(),
        };
        let principals = self.state.directory.principals_below(subject);
        let mut delays: BTreeMap<ServiceId, SimDuration> = BTreeMap::new();
        self.state.directory.apply(&kind);
        let label = match &kind {
            EventKind::AddMember { .. } => {
                self.index.note_groups(&self.state.directory, &principals);
                "add-member"
            }
            EventKind::RemoveMember { .. } => "remove-member",
            EventKind::AssignRole(a) => {
                delays = self.replicate(t, a, true);
                "assign-role"
            }
            EventKind::RemoveRole(a) => {
                delays = self.replicate(t, a, false);
                "remove-role"
            }
            EventKind::GrantAppRole(_) => "grant-app-role",
            EventKind::RevokeAppRole(_) => "revoke-app-role",
            EventKind::RestartApp(_) | EventKind::RestartInstance { .. } => unreachable!(),
        };
        let mut probes: Vec<usize> = match self.observation {
            Observation::Incremental => principals
                .iter()
                .flat_map(|&p| self.index.by_principal[p].iter().copied())
                .collect(),
            Observation::Full => (0..self.scenario.probes.len()).collect(),
        };
        probes.sort_unstable();
        let mut changed = Vec::new();
        for p in probes {
            let truth = self.probe_truth(p);
            if truth != self.truths[p] {
                self.truths[p] = truth;
                changed.push(p);
            }
        }
        // A change of groups reaches the fresh tokens of the principals below the member. A change
        // of assignments or grants reaches every caller that may present the subject as a group.
        match &kind {
            EventKind::AddMember { .. } | EventKind::RemoveMember { .. } => {
                for &p in &principals {
                    self.dirty_principal_probes(p, None, |_| true);
                }
            }
            _ => self.dirty_subject(subject),
        }
        let bound = self.change_bound(t, &kind, &changed, &delays);
        self.tracker
            .record_change(i, t, description.clone(), &changed, bound);
        (label, description)
    }

    fn restart(&mut self, kind: &EventKind) -> &'static str {
        match *kind {
            EventKind::RestartApp(app) => {
                // The SDK cache goes with the process and the endpoint secret rotates; the
                // backend cache is not touched.
                let cached: Vec<ResourceId> = self.state.clients[app].keys().copied().collect();
                for resource in cached {
                    self.queue.cancel(&TimerKey::Client(app, resource));
                    self.dirty_client(app, resource);
                }
                self.state.clients[app].clear();
                "restart-app"
            }
            EventKind::RestartInstance { service, instance } => {
                let instance = instance as usize;
                let entries = &mut self.state.services[service].instances[instance];
                let principals: Vec<PrincipalId> = entries.principals().collect();
                entries.clear();
                for principal in principals {
                    self.queue
                        .cancel(&TimerKey::Rbac(service, instance, principal));
                    self.dirty_principal_probes(principal, Some(instance), |t| {
                        t.service == service
                    });
                }
                "restart-instance"
            }
            _ => unreachable!("only restarts reach here"),
        }
    }

    /// Schedules a role assignment write to become visible to every RBAC service.
    ///
    /// Returns, for each service, the longest delay the write can take: the fixed delay, the
    /// maximum of a uniform range, or the delay drawn from an exponential distribution, because
    /// that one has no maximum.
    fn replicate(
        &mut self,
        t: SimTime,
        a: &Assignment,
        add: bool,
    ) -> BTreeMap<ServiceId, SimDuration> {
        let mut delays = BTreeMap::new();
        for (s, service) in self.scenario.services.iter().enumerate() {
            if service.authorization != Authorization::Rbac {
                continue;
            }
            let stream = &mut self.state.services[s].replication_stream;
            let (delay, longest) = match service.replication {
                Replication::Fixed(d) => (d, d),
                Replication::Uniform(low, high) => (
                    SimDuration(stream.uniform_inclusive(low.ms(), high.ms())),
                    high,
                ),
                Replication::Exponential(mean) => {
                    let d = SimDuration(stream.exponential_ms(mean.ms()));
                    (d, d)
                }
            };
            let id = self.next_write;
            self.next_write += 1;
            self.pending_writes.insert(
                id,
                PendingWrite {
                    service: s,
                    assignment: a.clone(),
                    add,
                },
            );
            self.queue.arm(TimerKey::Replication(id), t.after(delay));
            delays.insert(s, longest);
        }
        delays
    }

    /// Computes the latest instant by which every pair a change affects is consistent again.
    ///
    /// A claims change (membership, app role) reaches a caller only through a new token: at most
    /// the token lifetime later, plus the max age on RBAC services that do not reload on a new
    /// token. The max age also bounds RBAC services that resolve groups themselves on overage. An
    /// assignment write reaches an RBAC service after its longest replication delay plus the max
    /// age.
    fn change_bound(
        &self,
        t: SimTime,
        kind: &EventKind,
        changed: &[usize],
        delays: &BTreeMap<ServiceId, SimDuration>,
    ) -> Option<SimTime> {
        let assignment_write = matches!(kind, EventKind::AssignRole(_) | EventKind::RemoveRole(_));
        changed
            .iter()
            .map(|&p| {
                let target = &self.scenario.probes[p].target;
                let service = &self.scenario.services[target.service];
                let principal = self.scenario.apps[target.app].identity;
                let lifetime = self.scenario.principals[principal].token_lifetime.max();
                let max_age = service.rbac_max_age;
                let worst = match (assignment_write, service.authorization) {
                    (true, _) => {
                        delays
                            .get(&target.service)
                            .copied()
                            .unwrap_or_default()
                            .ms()
                            + max_age.ms()
                    }
                    (false, Authorization::Claims) => lifetime.ms(),
                    (false, Authorization::Rbac) if service.reload_on_new_token => {
                        lifetime.ms().max(max_age.ms())
                    }
                    (false, Authorization::Rbac) => lifetime.ms() + max_age.ms(),
                };
                t.after(SimDuration(worst))
            })
            .max()
    }

    // Timers.

    /// Applies a timer expiry; returns its kind, and its description when `describe` is set.
    fn fire(&mut self, t: SimTime, key: TimerKey, describe: bool) -> (&'static str, String) {
        let (kind, detail) = self.fire_timer(t, key, describe);
        (kind, detail.unwrap_or_default())
    }

    fn fire_timer(
        &mut self,
        t: SimTime,
        key: TimerKey,
        describe: bool,
    ) -> (&'static str, Option<String>) {
        match key {
            TimerKey::Backend(principal, resource) => {
                let key = (principal, resource);
                if self.state.backend.get(&key).is_some_and(|e| !e.usable(t)) {
                    self.state.backend.remove(&key);
                }
                self.dirty_principal_probes(principal, None, |t| t.resource == resource);
                (
                    "backend-expiry",
                    describe.then(|| {
                        format!(
                            "backend entry of {} for {} expires",
                            self.scenario.principals[principal].name,
                            self.scenario.resources[resource]
                        )
                    }),
                )
            }
            TimerKey::Client(app, resource) => {
                self.dirty_client(app, resource);
                (
                    "client-refresh-due",
                    describe.then(|| {
                        format!(
                            "app {} token for {} is due for refresh",
                            self.scenario.apps[app].name, self.scenario.resources[resource]
                        )
                    }),
                )
            }
            TimerKey::Rbac(service, instance, principal) => {
                self.dirty_principal_probes(principal, Some(instance), |t| t.service == service);
                (
                    "rbac-max-age",
                    describe.then(|| {
                        format!(
                            "{} instance {instance} entry of {} reaches its max age",
                            self.scenario.services[service].name,
                            self.scenario.principals[principal].name
                        )
                    }),
                )
            }
            TimerKey::Replication(id) => {
                let w = self
                    .pending_writes
                    .remove(&id)
                    .expect("every replication timer has a pending write");
                let state = &mut self.state.services[w.service];
                let newer = state.applied.get(&w.assignment).is_none_or(|&seq| seq < id);
                if newer {
                    state.applied.insert(w.assignment.clone(), id);
                    if w.add {
                        Rc::make_mut(&mut state.store).insert(w.assignment.clone());
                    } else {
                        Rc::make_mut(&mut state.store).remove(&w.assignment);
                    }
                    self.dirty_subject(w.assignment.subject);
                }
                (
                    "replication-visible",
                    describe.then(|| {
                        format!(
                            "{} sees the {} of {}",
                            self.scenario.services[w.service].name,
                            if w.add { "assignment" } else { "removal" },
                            self.scenario.describe_assignment(&w.assignment)
                        )
                    }),
                )
            }
        }
    }

    // Requests.

    fn issue_token(&mut self, t: SimTime, subject: PrincipalId, resource: ResourceId) -> Rc<Token> {
        let lifetime = self.state.draw_lifetime(self.scenario, subject);
        let (groups, roles) =
            model::current_claims(self.scenario, &self.state.directory, subject, resource);
        let id = TokenId(self.state.next_token);
        self.state.next_token += 1;
        let token = Rc::new(Token {
            id,
            subject,
            resource,
            groups,
            roles,
            issued: t,
            expires: t.after(lifetime),
        });
        self.issued.push(token.clone());
        token
    }

    /// Gets a token for `app` and `resource` through the client cache, the backend cache and the
    /// issuer, updating each cache on the way.
    fn acquire_token(
        &mut self,
        t: SimTime,
        app: AppId,
        resource: ResourceId,
    ) -> (Rc<Token>, TokenSource) {
        let cache = self.scenario.apps[app].client_cache;
        let cached = self.state.clients[app]
            .get(&resource)
            .filter(|e| e.usable(t));
        if let Some(e) = cached.filter(|_| cache != ClientCache::None) {
            return (e.token.clone(), TokenSource::Client);
        }
        let identity = self.scenario.apps[app].identity;
        let (token, source) = if self.scenario.principals[identity]
            .kind
            .is_managed_identity()
        {
            self.token_from_backend(t, identity, resource)
        } else {
            (self.issue_token(t, identity, resource), TokenSource::Issued)
        };
        if source == TokenSource::Issued {
            // The backend entry (managed identities) changed.
            self.dirty_principal_probes(identity, None, |t| t.resource == resource);
        }
        if cache != ClientCache::None {
            let refresh_at = refresh_instant(cache, &token);
            // Past its refresh instant, the SDK calls the endpoint on every request and usually
            // gets the token it already has. Storing it again would change nothing: the entry's
            // refresh instant has passed, so its timer is not pending either.
            let unchanged = self.state.clients[app]
                .get(&resource)
                .is_some_and(|e| e.token.id == token.id && e.refresh_at == refresh_at);
            if unchanged {
                debug_assert!(refresh_at <= t);
                return (token, source);
            }
            self.dirty_client(app, resource);
            self.state.clients[app].insert(
                resource,
                ClientEntry {
                    token: token.clone(),
                    refresh_at,
                },
            );
            if refresh_at > t {
                self.queue.arm(TimerKey::Client(app, resource), refresh_at);
            } else {
                self.queue.cancel(&TimerKey::Client(app, resource));
            }
        }
        (token, source)
    }

    fn token_from_backend(
        &mut self,
        t: SimTime,
        identity: PrincipalId,
        resource: ResourceId,
    ) -> (Rc<Token>, TokenSource) {
        let key = (identity, resource);
        if let Some(e) = self.state.backend.get(&key).filter(|e| e.usable(t)) {
            return (e.token.clone(), TokenSource::Backend);
        }
        let token = self.issue_token(t, identity, resource);
        let entry = BackendEntry {
            token: token.clone(),
            cached_until: t.after(self.scenario.platform.backend_ttl),
        };
        if entry.usable(t) {
            self.queue
                .arm(TimerKey::Backend(identity, resource), entry.valid_until());
            self.state.backend.insert(key, entry);
        } else {
            self.state.backend.remove(&key);
            self.queue.cancel(&TimerKey::Backend(identity, resource));
        }
        (token, TokenSource::Issued)
    }

    fn route(&mut self, service: ServiceId, principal: PrincipalId) -> usize {
        let n = self.scenario.services[service].instances as usize;
        let state = &mut self.state.services[service];
        match self.scenario.services[service].routing {
            Routing::RoundRobin => {
                let i = state.next_round_robin as usize % n;
                state.next_round_robin = ((i + 1) % n) as u32;
                i
            }
            Routing::Random => state.routing_stream.index(n),
            Routing::Sticky => {
                (fnv1a64(&self.scenario.principals[principal].name) % n as u64) as usize
            }
        }
    }

    fn request(&mut self, t: SimTime, workload: usize) -> RequestOutcome {
        let scenario = self.scenario;
        let w = &scenario.workloads[workload];
        let target = &w.target;
        let (token, token_source) = self.acquire_token(t, target.app, target.resource);
        let principal = token.subject;
        let instance = self.route(target.service, principal);
        let service = &scenario.services[target.service];
        let overage;
        let groups = match &token.groups {
            Some(g) => g,
            None => {
                overage = self.state.directory.groups_of(principal).clone();
                &overage
            }
        };
        let (allowed, rbac_source) = match service.authorization {
            Authorization::Claims => (
                model::claims_permit(&service.rules, groups, &token.roles, &target.action),
                "none",
            ),
            Authorization::Rbac => {
                let state = &mut self.state.services[target.service];
                let entries = &mut state.instances[instance];
                let hit = entries.get(&principal).is_some_and(|e| {
                    e.usable(
                        t,
                        service.rbac_max_age,
                        service.reload_on_new_token,
                        token.id,
                    )
                });
                if !hit {
                    let mut seen_tokens = entries
                        .take(principal)
                        .map(|e| e.seen_tokens)
                        .unwrap_or_default();
                    seen_tokens.insert(token.id);
                    let entry = RbacEntry {
                        loaded: t,
                        token_id: token.id,
                        seen_tokens,
                        assignments: state.store.clone(),
                    };
                    entries.insert(principal, entry);
                    let service_id = target.service;
                    self.dirty_principal_probes(principal, Some(instance), |t| {
                        t.service == service_id
                    });
                    let key = TimerKey::Rbac(target.service, instance, principal);
                    if service.rbac_max_age.ms() > 0 {
                        self.queue.arm(key, t.after(service.rbac_max_age));
                    } else {
                        self.queue.cancel(&key);
                    }
                }
                let entry = self.state.services[target.service].instances[instance]
                    .get(&principal)
                    .expect("the entry was used or just loaded");
                // The workload's probe has the same target, so its roles permit the action.
                let permitted = &self.index.permitted[self.index.workload_probe[workload]];
                let applicable = model::select_assignments(&entry.assignments, principal, groups);
                let allowed = model::rbac_permits_with(permitted, applicable, &target.scope);
                (allowed, if hit { "hit" } else { "reload" })
            }
        };
        // The workload's probe has the same target, so its truth is the request's.
        let truth = self.truths[self.index.workload_probe[workload]];
        RequestOutcome {
            instance,
            token,
            token_source,
            rbac_source,
            allowed,
            truth,
        }
    }

    fn request_row(&self, t: SimTime, workload: usize, outcome: &RequestOutcome) -> RequestRow {
        let [name, app, service] = &self.request_names[workload];
        RequestRow {
            t,
            workload_index: workload,
            workload: name.clone(),
            app: app.clone(),
            service: service.clone(),
            instance: outcome.instance,
            token: outcome.token.id,
            token_issued: outcome.token.issued,
            token_expires: outcome.token.expires,
            token_source: outcome.token_source,
            rbac_source: outcome.rbac_source,
            allowed: outcome.allowed,
            truth: outcome.truth,
        }
    }
}

/// The outcome of a simulated request, before it is formatted as a [`RequestRow`].
struct RequestOutcome {
    instance: usize,
    token: Rc<Token>,
    token_source: TokenSource,
    rbac_source: &'static str,
    allowed: bool,
    truth: bool,
}

/// Lookups from a change of state to the pairs it can alter.
struct ProbeIndex {
    /// For each probe, the number of its first pair; pairs of probe p are numbered
    /// `first_pair[p] + instance`.
    first_pair: Vec<usize>,
    /// For each pair, its probe.
    pair_probe: Vec<usize>,
    /// For each principal, the probes whose app it is the identity of, in probe order.
    by_principal: Vec<Vec<usize>>,
    /// For each workload, a probe with the same target.
    workload_probe: Vec<usize>,
    /// For each probe, whether each role permits its action on its service's plane.
    permitted: Vec<Vec<bool>>,
    /// For each group, every principal that has been a transitive member of it during the run.
    /// Tokens snapshot groups at issuance, so a cached token can carry any of these groups.
    ever_members: Vec<BTreeSet<PrincipalId>>,
}

impl ProbeIndex {
    fn new(scenario: &Scenario, directory: &Directory) -> ProbeIndex {
        let mut first_pair = Vec::new();
        let mut pair_probe = Vec::new();
        let mut by_principal = vec![Vec::new(); scenario.principals.len()];
        for (p, probe) in scenario.probes.iter().enumerate() {
            first_pair.push(pair_probe.len());
            let instances = scenario.services[probe.target.service].instances as usize;
            pair_probe.extend(std::iter::repeat_n(p, instances));
            by_principal[scenario.apps[probe.target.app].identity].push(p);
        }
        let workload_probe = scenario
            .workloads
            .iter()
            .map(|w| {
                scenario
                    .probes
                    .iter()
                    .position(|p| p.target == w.target)
                    .expect("the loader adds a probe for every workload target")
            })
            .collect();
        let permitted = scenario
            .probes
            .iter()
            .map(|p| {
                let service = &scenario.services[p.target.service];
                model::permitting_roles(scenario, service, &p.target.action)
            })
            .collect();
        let mut index = ProbeIndex {
            first_pair,
            pair_probe,
            by_principal,
            workload_probe,
            permitted,
            ever_members: vec![BTreeSet::new(); scenario.groups.len()],
        };
        let all: Vec<PrincipalId> = (0..scenario.principals.len()).collect();
        index.note_groups(directory, &all);
        index
    }

    /// Records the current groups of `principals` in `ever_members`.
    fn note_groups(&mut self, directory: &Directory, principals: &[PrincipalId]) {
        for &p in principals {
            for &g in directory.groups_of(p) {
                let g: GroupId = g;
                self.ever_members[g].insert(p);
            }
        }
    }
}
