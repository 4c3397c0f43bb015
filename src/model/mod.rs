//! The model of Azure's layers: the directory (ground truth), tokens, and authorization decisions.
//!
//! The caches that sit between them (client, backend, per-instance RBAC) and the replicated
//! assignment stores live in [`crate::sim::state`], because their contents change as the
//! simulation runs.

pub mod directory;
pub mod roles;

use std::collections::BTreeSet;

use crate::scenario::{
    Assignment, Authorization, ClaimsRule, GroupId, PrincipalId, ResourceId, Scenario, Service,
    Subject,
};
use crate::time::SimTime;

pub use directory::Directory;

/// A token id. Issued tokens are numbered from 1 in issue order; [`TokenId::UNISSUED`] marks the
/// token a hypothetical request would get, which no instance has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(pub u64);

impl TokenId {
    pub const UNISSUED: TokenId = TokenId(0);

    pub fn label(self) -> String {
        if self == TokenId::UNISSUED {
            "new".to_string()
        } else {
            format!("T{}", self.0)
        }
    }
}

/// An access token: a snapshot of the caller's claims at issuance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub subject: PrincipalId,
    pub resource: ResourceId,
    /// Transitive groups at issuance, or `None` when they exceed the overage limit and the claim
    /// is omitted.
    pub groups: Option<BTreeSet<GroupId>>,
    /// App roles granted for the service that accepts `resource`.
    pub roles: BTreeSet<String>,
    pub issued: SimTime,
    pub expires: SimTime,
}

/// Builds the claims of a token issued now for `subject` and `resource`.
pub fn current_claims(
    scenario: &Scenario,
    directory: &Directory,
    subject: PrincipalId,
    resource: ResourceId,
) -> (Option<BTreeSet<GroupId>>, BTreeSet<String>) {
    let groups = directory.groups_of(subject);
    let service = scenario
        .services
        .iter()
        .position(|s| s.audiences.contains(&resource));
    let roles = match service {
        Some(s) => directory.app_roles(subject, groups, s),
        None => BTreeSet::new(),
    };
    let limit = scenario.platform.overage_limit as usize;
    let groups = if groups.len() > limit {
        None
    } else {
        Some(groups.clone())
    };
    (groups, roles)
}

/// A set of role assignments grouped by subject, in the order of [`Assignment`]: by subject, then
/// role, then scope. Reading one subject's assignments is one vector index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentSet {
    by_principal: Vec<Vec<Assignment>>,
    by_group: Vec<Vec<Assignment>>,
}

impl AssignmentSet {
    /// Builds the set for a scenario with `principals` principals and `groups` groups.
    pub fn new(assignments: &BTreeSet<Assignment>, principals: usize, groups: usize) -> Self {
        let mut set = AssignmentSet {
            by_principal: vec![Vec::new(); principals],
            by_group: vec![Vec::new(); groups],
        };
        for a in assignments {
            set.insert(a.clone());
        }
        set
    }

    fn list_mut(&mut self, subject: Subject) -> &mut Vec<Assignment> {
        match subject {
            Subject::Principal(p) => &mut self.by_principal[p],
            Subject::Group(g) => &mut self.by_group[g],
        }
    }

    /// Inserts `a`; returns whether it was absent.
    pub fn insert(&mut self, a: Assignment) -> bool {
        let list = self.list_mut(a.subject);
        match list.binary_search(&a) {
            Ok(_) => false,
            Err(k) => {
                list.insert(k, a);
                true
            }
        }
    }

    /// Removes `a`; returns whether it was present.
    pub fn remove(&mut self, a: &Assignment) -> bool {
        let list = self.list_mut(a.subject);
        let Ok(k) = list.binary_search(a) else {
            return false;
        };
        list.remove(k);
        true
    }

    /// Returns the assignments of one subject, in order.
    pub fn of(&self, subject: Subject) -> &[Assignment] {
        match subject {
            Subject::Principal(p) => &self.by_principal[p],
            Subject::Group(g) => &self.by_group[g],
        }
    }
}

/// Selects the assignments an RBAC cache entry loads for a caller: those whose subject is the
/// caller or one of `groups`, in the set's order (principals sort before groups).
pub fn load_assignments(
    store: &AssignmentSet,
    principal: PrincipalId,
    groups: &BTreeSet<GroupId>,
) -> Vec<Assignment> {
    select_assignments(store, principal, groups)
        .into_iter()
        .cloned()
        .collect()
}

/// Selects the same assignments as [`load_assignments`], borrowed from the store.
pub fn select_assignments<'a>(
    store: &'a AssignmentSet,
    principal: PrincipalId,
    groups: &BTreeSet<GroupId>,
) -> Vec<&'a Assignment> {
    let mut loaded: Vec<&Assignment> = store.of(Subject::Principal(principal)).iter().collect();
    for &g in groups {
        loaded.extend(store.of(Subject::Group(g)));
    }
    loaded
}

/// Returns whether any of `assignments` permits `action` on `scope` for `service`.
pub fn rbac_permits<'a>(
    scenario: &Scenario,
    service: &Service,
    assignments: impl IntoIterator<Item = &'a Assignment>,
    action: &str,
    scope: &str,
) -> bool {
    assignments.into_iter().any(|a| {
        roles::scope_covers(&a.scope, scope)
            && scenario.roles[a.role].permits(action, service.plane)
    })
}

/// Returns for each role whether it permits `action` on the plane of `service`, so that deciding
/// a request for a fixed target needs no pattern matching.
pub fn permitting_roles(scenario: &Scenario, service: &Service, action: &str) -> Vec<bool> {
    scenario
        .roles
        .iter()
        .map(|role| role.permits(action, service.plane))
        .collect()
}

/// Returns whether any of `assignments` covers `scope` with a role that `permitted` marks, as
/// computed by [`permitting_roles`] for the target's action. Same result as [`rbac_permits`].
pub fn rbac_permits_with<'a>(
    permitted: &[bool],
    assignments: impl IntoIterator<Item = &'a Assignment>,
    scope: &str,
) -> bool {
    assignments
        .into_iter()
        .any(|a| permitted[a.role] && roles::scope_covers(&a.scope, scope))
}

/// Returns whether a claims-authorized service allows `action` for a token carrying `groups` and
/// `roles`.
pub fn claims_permit(
    rules: &[ClaimsRule],
    groups: &BTreeSet<GroupId>,
    roles: &BTreeSet<String>,
    action: &str,
) -> bool {
    rules.iter().any(|rule| {
        rule.actions
            .iter()
            .any(|p| roles::pattern_matches(p, action))
            && (rule.groups.iter().any(|g| groups.contains(g))
                || rule.roles.iter().any(|r| roles.contains(r)))
    })
}

/// The directory's own decision for a caller: the ground truth a probe is compared with.
pub fn truth(
    scenario: &Scenario,
    directory: &Directory,
    principal: PrincipalId,
    service_id: usize,
    action: &str,
    scope: &str,
) -> bool {
    let service = &scenario.services[service_id];
    let groups = directory.groups_of(principal);
    match service.authorization {
        Authorization::Rbac => {
            let subjects = load_assignments(directory.assignments(), principal, groups);
            rbac_permits(scenario, service, &subjects, action, scope)
        }
        Authorization::Claims => {
            let roles = directory.app_roles(principal, groups, service_id);
            claims_permit(&service.rules, groups, &roles, action)
        }
    }
}
