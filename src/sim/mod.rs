//! The simulation: the event loop that replays a scenario over the model and feeds the observer.
//!
//! Each instant runs in three phases: pop and apply every event of the instant in queue order
//! (directory changes, timer expiries, restarts, requests), then observe every (probe, instance)
//! pair, then hand the transitions to the sink. Outputs are streamed through a [`Sink`], so memory
//! does not grow with the horizon except for windows and change records.

pub mod state;

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::engine::rng::fnv1a64;
use crate::engine::{EventClass, EventQueue, Popped, RandomStream};
use crate::error::Error;
use crate::model::{self, Token, TokenId};
use crate::observe::effective::decision_label;
use crate::observe::tracker::Transition;
use crate::observe::{ChangeRecord, Evaluator, Tracker, Window};
use crate::scenario::{
    AppId, Arrivals, Assignment, Authorization, ClientCache, EventKind, PrincipalId, Replication,
    ResourceId, Routing, Scenario, ServiceId,
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

/// Where a request's token came from.
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
    pub workload: String,
    pub app: String,
    pub service: String,
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
}

/// What a finished run returns beside the streamed outputs.
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

/// Runs a scenario to its horizon, streaming outputs into `sink`.
pub fn simulate(scenario: &Scenario, sink: &mut dyn Sink) -> Result<RunResult, Error> {
    let mut sim = Simulation::new(scenario);
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
    let mut sim = Simulation::new(scenario);
    sim.run(&mut NullSink, until)?;
    Ok(sim.state)
}

struct Simulation<'s> {
    scenario: &'s Scenario,
    state: State,
    queue: EventQueue<TimerKey, Payload>,
    tracker: Tracker,
    arrival_streams: Vec<RandomStream>,
    pending_writes: BTreeMap<u64, PendingWrite>,
    next_write: u64,
    processed: u64,
    requests: u64,
    stale_requests: u64,
}

impl<'s> Simulation<'s> {
    fn new(scenario: &'s Scenario) -> Simulation<'s> {
        let instances = scenario
            .probes
            .iter()
            .map(|p| scenario.services[p.target.service].instances as usize)
            .collect();
        let mut sim = Simulation {
            scenario,
            state: State::new(scenario),
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
        };
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
                    Popped::Timer(key) => self.fire(t, key),
                };
                sink.event(&EventRow {
                    seq: self.processed,
                    t,
                    class,
                    kind,
                    detail,
                })?;
                self.processed += 1;
            }

            // Observe every pair once the instant is settled.
            self.observe(now, sink)?;
        }
        if !observed_start {
            self.observe(SimTime::ZERO, sink)?;
        }
        Ok(())
    }

    fn observe(&mut self, t: SimTime, sink: &mut dyn Sink) -> Result<(), Error> {
        let evaluator = Evaluator {
            scenario: self.scenario,
            state: &self.state,
            t,
        };
        for (p, probe) in self.scenario.probes.iter().enumerate() {
            let target = &probe.target;
            let truth = self.probe_truth(p);
            let instances = self.scenario.services[target.service].instances as usize;
            for i in 0..instances {
                let (effective, cause) = evaluator.effective(target, i, truth);
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
        }
        Ok(())
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
                let row = self.request(t, i);
                let detail = format!(
                    "workload {} to instance {}: {} from {}, {}",
                    row.workload,
                    row.instance,
                    row.token.label(),
                    row.token_source.as_str(),
                    decision_label(row.allowed)
                );
                sink.request(&row)?;
                self.requests += 1;
                self.stale_requests += u64::from(row.allowed != row.truth);
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
        let before: Vec<bool> = (0..self.scenario.probes.len())
            .map(|p| self.probe_truth(p))
            .collect();
        let mut delays: BTreeMap<ServiceId, SimDuration> = BTreeMap::new();
        self.state.directory.apply(&kind);
        let label = match &kind {
            EventKind::AddMember { .. } => "add-member",
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
        let changed: Vec<usize> = (0..self.scenario.probes.len())
            .filter(|&p| self.probe_truth(p) != before[p])
            .collect();
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
                }
                self.state.clients[app].clear();
                "restart-app"
            }
            EventKind::RestartInstance { service, instance } => {
                let instance = instance as usize;
                let entries = &mut self.state.services[service].instances[instance];
                for &principal in entries.keys() {
                    self.queue
                        .cancel(&TimerKey::Rbac(service, instance, principal));
                }
                entries.clear();
                "restart-instance"
            }
            _ => unreachable!("only restarts reach here"),
        }
    }

    /// Schedules a role assignment write to become visible to every RBAC service; returns for each
    /// the longest delay the write can take: the fixed delay, the maximum of a uniform range, or
    /// the delay drawn from an exponential distribution, which has no maximum.
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

    fn fire(&mut self, t: SimTime, key: TimerKey) -> (&'static str, String) {
        match key {
            TimerKey::Backend(principal, resource) => {
                let key = (principal, resource);
                if self.state.backend.get(&key).is_some_and(|e| !e.usable(t)) {
                    self.state.backend.remove(&key);
                }
                (
                    "backend-expiry",
                    format!(
                        "backend entry of {} for {} expires",
                        self.scenario.principals[principal].name, self.scenario.resources[resource]
                    ),
                )
            }
            TimerKey::Client(app, resource) => (
                "client-refresh-due",
                format!(
                    "app {} token for {} is due for refresh",
                    self.scenario.apps[app].name, self.scenario.resources[resource]
                ),
            ),
            TimerKey::Rbac(service, instance, principal) => (
                "rbac-max-age",
                format!(
                    "{} instance {instance} entry of {} reaches its max age",
                    self.scenario.services[service].name, self.scenario.principals[principal].name
                ),
            ),
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
                }
                (
                    "replication-visible",
                    format!(
                        "{} sees {} {}",
                        self.scenario.services[w.service].name,
                        if w.add { "assignment of" } else { "removal of" },
                        self.scenario.describe_assignment(&w.assignment)
                    ),
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
        Rc::new(Token {
            id,
            subject,
            resource,
            groups,
            roles,
            issued: t,
            expires: t.after(lifetime),
        })
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
        if cache != ClientCache::None {
            let refresh_at = refresh_instant(cache, &token);
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

    fn request(&mut self, t: SimTime, workload: usize) -> RequestRow {
        let scenario = self.scenario;
        let w = &scenario.workloads[workload];
        let target = &w.target;
        let (token, token_source) = self.acquire_token(t, target.app, target.resource);
        let principal = token.subject;
        let instance = self.route(target.service, principal);
        let service = &scenario.services[target.service];
        let groups = match &token.groups {
            Some(g) => g.clone(),
            None => self.state.directory.groups_of(principal),
        };
        let (allowed, rbac_source) = match service.authorization {
            Authorization::Claims => (
                model::claims_permit(&service.rules, &groups, &token.roles, &target.action),
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
                        .remove(&principal)
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
                    let key = TimerKey::Rbac(target.service, instance, principal);
                    if service.rbac_max_age.ms() > 0 {
                        self.queue.arm(key, t.after(service.rbac_max_age));
                    } else {
                        self.queue.cancel(&key);
                    }
                }
                let entry = &self.state.services[target.service].instances[instance][&principal];
                let applicable = model::load_assignments(&entry.assignments, principal, &groups);
                let allowed = model::rbac_permits(
                    scenario,
                    service,
                    &applicable,
                    &target.action,
                    &target.scope,
                );
                (allowed, if hit { "hit" } else { "reload" })
            }
        };
        let truth = model::truth(
            scenario,
            &self.state.directory,
            principal,
            target.service,
            &target.action,
            &target.scope,
        );
        RequestRow {
            t,
            workload: w.name.clone(),
            app: scenario.apps[target.app].name.clone(),
            service: service.name.clone(),
            instance,
            token: token.id,
            token_issued: token.issued,
            token_expires: token.expires,
            token_source,
            rbac_source,
            allowed,
            truth,
        }
    }
}
