//! The effective decision of a probe on one instance, computed from the state without changing it,
//! and the causes of a difference from the truth.
//!
//! A hypothetical request from the probe's app at instant t follows the real request path. Its
//! token is the client's if that one is usable, else what the backend would return: its unexpired
//! entry, else a token issued now. The instance then uses its RBAC entry if the entry is younger
//! than the max age and the instance has seen that token from the caller (when reload on a new
//! token is on). Otherwise it reloads from the store as visible at t.
//!
//! Causes are found by counterfactuals. A layer is *stale* when it contains something other than
//! what a refresh from its upstream would give now:
//! - the client cache, a token whose claims differ from the token the backend would return;
//! - the backend cache, a token whose claims differ from a newly issued one;
//! - the instance cache, a store version that differs from the visible store for this token;
//! - the store, other assignments than the directory.
//!
//! Token layers are compared by claims (`groups`, `roles`), not by id. So a cached token with
//! current claims is not the cause of a window, even though a new token id would also trigger an
//! RBAC reload. Refreshing a layer that is not stale changes nothing. The cause of a window at an
//! instant is the list of the smallest sets of layers whose refresh makes the decision equal the
//! truth.

use std::fmt;
use std::rc::Rc;

use crate::model::{self, Token, TokenId};
use crate::scenario::{Assignment, Authorization, ClientCache, Scenario, Target};
use crate::sim::state::State;
use crate::time::SimTime;

/// A set of layers, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Layers(pub u8);

impl Layers {
    pub const NONE: Layers = Layers(0);
    pub const CLIENT: Layers = Layers(1);
    pub const BACKEND: Layers = Layers(2);
    pub const INSTANCE: Layers = Layers(4);
    pub const REPLICATION: Layers = Layers(8);
    const ALL: [(Layers, &'static str); 4] = [
        (Layers::CLIENT, "client-cache"),
        (Layers::BACKEND, "token-claims"),
        (Layers::INSTANCE, "instance-cache"),
        (Layers::REPLICATION, "replication"),
    ];

    pub fn contains(self, other: Layers) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Layers) -> Layers {
        Layers(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Layers {
    /// Writes the layer names joined by `+`, in pipeline order: `token-claims`,
    /// `instance-cache+replication`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Layers::ALL
            .iter()
            .filter(|(l, _)| self.contains(*l))
            .map(|(_, n)| *n)
            .collect();
        f.write_str(&names.join("+"))
    }
}

/// The cause of a stale decision: every minimal set of layers whose refresh would end it. Bit `k`
/// is set when the set `Layers(k)` is one of them. `instance-cache+replication` is one set (both
/// are needed), and `client-cache|instance-cache` two sets (either alone is enough).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cause(pub u16);

impl Cause {
    pub const NONE: Cause = Cause(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds one minimal set.
    pub fn with(self, set: Layers) -> Cause {
        Cause(self.0 | 1 << set.0)
    }

    /// Returns the minimal sets, smallest first, then in pipeline order.
    pub fn sets(self) -> Vec<Layers> {
        let mut sets: Vec<Layers> = (1u8..16)
            .map(Layers)
            .filter(|l| self.0 & (1 << l.0) != 0)
            .collect();
        sets.sort_by_key(|s| (s.0.count_ones(), s.0));
        sets
    }

    /// Returns every layer that appears in one of the sets.
    pub fn layers(self) -> Layers {
        self.sets().into_iter().fold(Layers::NONE, Layers::union)
    }
}

impl From<Layers> for Cause {
    fn from(set: Layers) -> Cause {
        if set.is_empty() {
            Cause::NONE
        } else {
            Cause::NONE.with(set)
        }
    }
}

impl fmt::Display for Cause {
    /// Writes the sets joined by `|`, each set's layers joined by `+`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sets: Vec<String> = self.sets().iter().map(Layers::to_string).collect();
        f.write_str(&sets.join("|"))
    }
}

/// The source of the token of a hypothetical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    Client,
    Backend,
    Issued,
}

/// The layers a hypothetical request passes, and which of them are stale.
pub struct Path {
    client: Option<Rc<Token>>,
    backend: Option<Rc<Token>>,
    fresh: Rc<Token>,
    pub stale: Layers,
}

impl Path {
    /// The token the app's SDK would use, if its cache contains a usable one.
    pub fn client(&self) -> Option<&Rc<Token>> {
        self.client.as_ref()
    }

    /// The token the identity endpoint's backend would return, if its cache contains an unexpired
    /// one.
    pub fn backend(&self) -> Option<&Rc<Token>> {
        self.backend.as_ref()
    }

    /// A token issued now, with current claims.
    pub fn fresh(&self) -> &Rc<Token> {
        &self.fresh
    }
}

/// Evaluates probes against a state at one instant.
pub struct Evaluator<'a> {
    pub scenario: &'a Scenario,
    pub state: &'a State,
    pub t: SimTime,
}

/// The assignments a token selects, read once per token while the causes are searched.
struct Selection<'s> {
    /// From the service's store, as visible now.
    visible: Vec<&'s Assignment>,
    /// From the directory.
    current: Vec<&'s Assignment>,
}

impl<'a> Evaluator<'a> {
    /// Returns the token a request issued now would carry, with current claims.
    fn fresh_token(&self, target: &Target) -> Token {
        let subject = self.scenario.apps[target.app].identity;
        let (groups, roles) = model::current_claims(
            self.scenario,
            &self.state.directory,
            subject,
            target.resource,
        );
        Token {
            id: TokenId::UNISSUED,
            subject,
            resource: target.resource,
            groups,
            roles,
            issued: self.t,
            expires: SimTime::NEVER,
        }
    }

    /// Collects the tokens each layer would contribute for `target`.
    pub fn path(&self, target: &Target) -> Path {
        let app = &self.scenario.apps[target.app];
        let identity = app.identity;
        let backend = if self.scenario.principals[identity]
            .kind
            .is_managed_identity()
        {
            self.state
                .backend
                .get(&(identity, target.resource))
                .filter(|e| e.usable(self.t))
                .map(|e| e.token.clone())
        } else {
            None
        };
        let client = match app.client_cache {
            ClientCache::None => None,
            _ => self.state.clients[target.app]
                .get(&target.resource)
                .filter(|e| e.usable(self.t))
                .map(|e| e.token.clone()),
        };
        let fresh = Rc::new(self.fresh_token(target));
        let same_claims = |a: &Token, b: &Token| a.groups == b.groups && a.roles == b.roles;
        let mut stale = Layers::NONE;
        if backend.as_ref().is_some_and(|b| !same_claims(b, &fresh)) {
            stale = stale.union(Layers::BACKEND);
        }
        if let Some(c) = &client {
            let answer = backend.as_ref().unwrap_or(&fresh);
            if !same_claims(c, answer) {
                stale = stale.union(Layers::CLIENT);
            }
        }
        Path {
            client,
            backend,
            fresh,
            stale,
        }
    }

    /// Returns the token a request would present now, with no layer refreshed.
    pub fn presented_token<'p>(&self, path: &'p Path) -> &'p Rc<Token> {
        self.presented(path, Layers::NONE)
    }

    /// Returns the token presented when the stale layers in `refresh` are refreshed.
    ///
    /// With nothing refreshed this is the real request path. A client that holds the very token
    /// the backend holds passes a backend refresh through, as its next refresh would.
    fn presented<'p>(&self, path: &'p Path, refresh: Layers) -> &'p Rc<Token> {
        let refreshed = |layer: Layers| refresh.contains(layer) && path.stale.contains(layer);
        let source = match &path.backend {
            Some(b) if !refreshed(Layers::BACKEND) => b,
            _ => &path.fresh,
        };
        match &path.client {
            Some(_) if refreshed(Layers::CLIENT) => source,
            Some(c) if path.backend.as_ref().is_some_and(|b| b.id == c.id) => source,
            Some(c) => c,
            None => source,
        }
    }

    /// Returns the decision for `target` on `instance` with the layers in `refresh` refreshed,
    /// and whether the instance's RBAC layer and the store are stale for this token.
    ///
    /// `permitted` marks the roles that permit the target's action (see
    /// [`model::permitting_roles`]). `selections` keeps the assignments each presented token
    /// selects, so that the search over causes reads the store once per token.
    fn decide(
        &self,
        target: &Target,
        instance: usize,
        path: &Path,
        refresh: Layers,
        permitted: &[bool],
        selections: &mut Vec<(TokenId, Selection<'a>)>,
    ) -> (bool, Layers) {
        let token = self.presented(path, refresh);
        let service = &self.scenario.services[target.service];
        let directory = &self.state.directory;
        let groups = match &token.groups {
            Some(g) => g,
            // Overage: the service resolves membership from the directory itself.
            None => directory.groups_of(token.subject),
        };
        if service.authorization == Authorization::Claims {
            let allowed =
                model::claims_permit(&service.rules, groups, &token.roles, &target.action);
            return (allowed, Layers::NONE);
        }

        let state = &self.state.services[target.service];
        // Tokens on one path have distinct ids (the fresh one is unissued), so the id names the
        // token within this evaluation.
        let selection = match selections.iter().position(|(id, _)| *id == token.id) {
            Some(k) => &selections[k].1,
            None => {
                selections.push((
                    token.id,
                    Selection {
                        visible: model::select_assignments(&state.store, token.subject, groups),
                        current: model::select_assignments(
                            directory.assignments(),
                            token.subject,
                            groups,
                        ),
                    },
                ));
                &selections.last().expect("just pushed").1
            }
        };
        let (visible, current) = (&selection.visible, &selection.current);
        let mut stale = Layers::NONE;
        if visible != current {
            stale = stale.union(Layers::REPLICATION);
        }
        let store_view = if refresh.contains(Layers::REPLICATION) {
            current
        } else {
            visible
        };
        let entry = state.instances[instance].get(&token.subject).filter(|e| {
            e.usable(
                self.t,
                service.rbac_max_age,
                service.reload_on_new_token,
                token.id,
            )
        });
        // The entry's store version, filtered for this token, when it differs from the visible
        // store's. An entry that shares the store's version is current by construction.
        let cached = entry
            .filter(|e| !Rc::ptr_eq(&e.assignments, &state.store))
            .map(|e| model::select_assignments(&e.assignments, token.subject, groups))
            .filter(|view| view != visible);
        let allowed = match cached {
            Some(view) => {
                stale = stale.union(Layers::INSTANCE);
                if refresh.contains(Layers::INSTANCE) {
                    model::rbac_permits_with(permitted, store_view.iter().copied(), &target.scope)
                } else {
                    model::rbac_permits_with(permitted, view, &target.scope)
                }
            }
            _ => model::rbac_permits_with(permitted, store_view.iter().copied(), &target.scope),
        };
        (allowed, stale)
    }

    /// Returns the effective decision, and when it differs from `truth`, its cause.
    ///
    /// `permitted` marks the roles that permit the target's action on its service, as
    /// [`model::permitting_roles`] computes it.
    pub fn effective(
        &self,
        target: &Target,
        instance: usize,
        truth: bool,
        permitted: &[bool],
    ) -> (bool, Cause) {
        self.effective_on(&self.path(target), target, instance, truth, permitted)
    }

    /// Returns what [`Evaluator::effective`] returns, given the target's path. The path does not
    /// depend on the instance, so the instances of one probe can share it.
    pub fn effective_on(
        &self,
        path: &Path,
        target: &Target,
        instance: usize,
        truth: bool,
        permitted: &[bool],
    ) -> (bool, Cause) {
        let mut selections = Vec::new();
        let (allowed, _) = self.decide(
            target,
            instance,
            path,
            Layers::NONE,
            permitted,
            &mut selections,
        );
        if allowed == truth {
            return (allowed, Cause::NONE);
        }
        let cause = self.cause(target, instance, path, truth, permitted, &mut selections);
        (allowed, cause)
    }

    /// Returns the minimal sets of layers whose refresh gives `truth`.
    ///
    /// Every layer is a candidate, not only those stale on the current path: a new token can make
    /// an instance entry stale that was current for the old one (with reload on a new token off).
    /// Refreshing a layer that is not stale changes nothing, so it never enters a minimal set.
    fn cause(
        &self,
        target: &Target,
        instance: usize,
        path: &Path,
        truth: bool,
        permitted: &[bool],
        selections: &mut Vec<(TokenId, Selection<'a>)>,
    ) -> Cause {
        let mut subsets: Vec<Layers> = (1u8..16).map(Layers).collect();
        subsets.sort_by_key(|s| (s.0.count_ones(), s.0));
        let mut minimal: Vec<Layers> = Vec::new();
        for s in subsets {
            if minimal.iter().any(|m| s.contains(*m)) {
                continue;
            }
            let (allowed, _) = self.decide(target, instance, path, s, permitted, selections);
            if allowed == truth {
                minimal.push(s);
            }
        }
        minimal.into_iter().fold(Cause::NONE, Cause::with)
    }
}

/// Formats a decision for outputs.
pub fn decision_label(allowed: bool) -> &'static str {
    if allowed { "allow" } else { "deny" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_labels_sets_and_alternatives() {
        let both = Layers::INSTANCE.union(Layers::REPLICATION);
        assert_eq!(Cause::from(both).to_string(), "instance-cache+replication");
        let either = Cause::NONE.with(Layers::INSTANCE).with(Layers::CLIENT);
        assert_eq!(either.to_string(), "client-cache|instance-cache");
        assert_eq!(either.layers(), Layers::CLIENT.union(Layers::INSTANCE));
        let mixed = Cause::NONE.with(both).with(Layers::BACKEND);
        assert_eq!(mixed.to_string(), "token-claims|instance-cache+replication");
        assert!(Cause::from(Layers::NONE).is_empty());
    }
}
