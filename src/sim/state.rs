//! The mutable state of a run: the directory, every cache, and the replicated stores.
//!
//! Caches are read lazily: an entry past its refresh or expiry instant stays in its map until a
//! request replaces it or a timer removes it, and every reader checks the instant itself.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::engine::RandomStream;
use crate::model::{AssignmentSet, Directory, Token, TokenId};
use crate::scenario::{Assignment, ClientCache, PrincipalId, ResourceId, Scenario, TokenLifetime};
use crate::time::{SimDuration, SimTime};

/// A token held by an app's SDK, and the instant the SDK stops using it without asking again.
#[derive(Debug, Clone)]
pub struct ClientEntry {
    pub token: Rc<Token>,
    pub refresh_at: SimTime,
}

impl ClientEntry {
    pub fn usable(&self, t: SimTime) -> bool {
        t < self.refresh_at && t < self.token.expires
    }
}

/// A token held by the managed identity endpoint's backend for (identity, resource string).
#[derive(Debug, Clone)]
pub struct BackendEntry {
    pub token: Rc<Token>,
    pub cached_until: SimTime,
}

impl BackendEntry {
    /// The first instant the backend no longer returns this token.
    pub fn valid_until(&self) -> SimTime {
        self.cached_until.min(self.token.expires)
    }

    pub fn usable(&self, t: SimTime) -> bool {
        t < self.valid_until()
    }
}

/// An instance's cached view of one caller's role assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacEntry {
    pub loaded: SimTime,
    /// The token the entry was loaded with.
    pub token_id: TokenId,
    /// Every token this instance has seen from the caller since its last restart: a token not in
    /// this set triggers a reload when the service reloads on a new token.
    pub seen_tokens: BTreeSet<TokenId>,
    /// The service's store as it was visible at `loaded`, shared with the store and with every
    /// entry loaded from the same version. A decision keeps the assignments whose subject is the
    /// caller or one of the presented token's groups, so a known token with other groups gets its
    /// own decision from the same entry.
    pub assignments: Rc<AssignmentSet>,
}

impl RbacEntry {
    /// Returns whether a request at `t` presenting `token` is decided from this entry.
    pub fn usable(
        &self,
        t: SimTime,
        max_age: SimDuration,
        reload_on_new_token: bool,
        token: TokenId,
    ) -> bool {
        t < self.loaded.after(max_age)
            && (!reload_on_new_token || self.seen_tokens.contains(&token))
    }
}

/// One instance's RBAC cache: an entry per caller, indexed by principal.
#[derive(Debug, Clone)]
pub struct RbacCache {
    entries: Vec<Option<RbacEntry>>,
}

impl RbacCache {
    pub fn new(principals: usize) -> RbacCache {
        RbacCache {
            entries: vec![None; principals],
        }
    }

    pub fn get(&self, principal: &PrincipalId) -> Option<&RbacEntry> {
        self.entries[*principal].as_ref()
    }

    pub fn insert(&mut self, principal: PrincipalId, entry: RbacEntry) {
        self.entries[principal] = Some(entry);
    }

    /// Removes and returns the entry of `principal`.
    pub fn take(&mut self, principal: PrincipalId) -> Option<RbacEntry> {
        self.entries[principal].take()
    }

    /// Returns the principals that have an entry, in index order.
    pub fn principals(&self) -> impl Iterator<Item = PrincipalId> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .map(|(p, _)| p)
    }

    pub fn clear(&mut self) {
        self.entries.fill(None);
    }
}

/// The state of one service: its replicated store and each instance's RBAC cache.
pub struct ServiceState {
    /// Role assignments as visible in this service's store. A write copies the set only while an
    /// RBAC entry still refers to the previous version.
    pub store: Rc<AssignmentSet>,
    /// For each assignment, the sequence number of the last write applied, so that writes that
    /// arrive out of order (random delays) leave the latest one in force.
    pub applied: BTreeMap<Assignment, u64>,
    pub instances: Vec<RbacCache>,
    pub next_round_robin: u32,
    pub routing_stream: RandomStream,
    pub replication_stream: RandomStream,
}

pub struct State {
    pub directory: Directory,
    pub clients: Vec<BTreeMap<ResourceId, ClientEntry>>,
    pub backend: BTreeMap<(PrincipalId, ResourceId), BackendEntry>,
    pub services: Vec<ServiceState>,
    pub next_token: u64,
    pub lifetime_streams: Vec<RandomStream>,
}

impl State {
    pub fn new(scenario: &Scenario) -> State {
        let seed = scenario.seed;
        State {
            directory: Directory::new(scenario),
            clients: vec![BTreeMap::new(); scenario.apps.len()],
            backend: BTreeMap::new(),
            services: scenario
                .services
                .iter()
                .map(|s| ServiceState {
                    store: Rc::new(AssignmentSet::new(
                        &scenario.assignments,
                        scenario.principals.len(),
                        scenario.groups.len(),
                    )),
                    applied: BTreeMap::new(),
                    instances: vec![
                        RbacCache::new(scenario.principals.len());
                        s.instances as usize
                    ],
                    next_round_robin: 0,
                    routing_stream: RandomStream::new(seed, &format!("routing/{}", s.name)),
                    replication_stream: RandomStream::new(seed, &format!("replication/{}", s.name)),
                })
                .collect(),
            next_token: 1,
            lifetime_streams: scenario
                .principals
                .iter()
                .map(|p| RandomStream::new(seed, &format!("token-lifetime/{}", p.name)))
                .collect(),
        }
    }

    /// Draws the lifetime of the next token issued to `principal`.
    pub fn draw_lifetime(&mut self, scenario: &Scenario, principal: PrincipalId) -> SimDuration {
        match scenario.principals[principal].token_lifetime {
            TokenLifetime::Fixed(d) => d,
            TokenLifetime::Uniform(low, high) => {
                SimDuration(self.lifetime_streams[principal].uniform_inclusive(low.ms(), high.ms()))
            }
        }
    }
}

/// Computes when an SDK stops using `token` without asking the endpoint again.
pub fn refresh_instant(cache: ClientCache, token: &Token) -> SimTime {
    let lifetime = token.expires.since(token.issued);
    match cache {
        ClientCache::None => token.issued,
        ClientCache::Offset(offset) => token.expires.before(offset).max(token.issued),
        ClientCache::Fraction {
            parts_per_million,
            min_lifetime,
            fallback_offset,
        } => {
            if lifetime >= min_lifetime {
                let part = u128::from(lifetime.ms()) * u128::from(parts_per_million) / 1_000_000;
                token.issued.after(SimDuration(part as u64))
            } else {
                token.expires.before(fallback_offset).max(token.issued)
            }
        }
    }
}
