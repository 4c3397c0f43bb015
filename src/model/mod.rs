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

/// Selects the assignments an RBAC cache entry loads for a caller: those whose subject is the
/// caller or one of `groups`, in the store's order.
///
/// The store is ordered by subject first, and principals before groups, so reading the range of
/// each subject in subject order yields the store's order without scanning the whole store.
pub fn load_assignments(
    store: &BTreeSet<Assignment>,
    principal: PrincipalId,
    groups: &BTreeSet<GroupId>,
) -> Vec<Assignment> {
    let mut loaded = Vec::new();
    let subjects = std::iter::once(Subject::Principal(principal))
        .chain(groups.iter().map(|&g| Subject::Group(g)));
    for subject in subjects {
        loaded.extend(assignments_of(store, subject).cloned());
    }
    loaded
}

/// Returns the assignments of one subject, in the store's order.
pub fn assignments_of(
    store: &BTreeSet<Assignment>,
    subject: Subject,
) -> impl Iterator<Item = &Assignment> {
    // The least assignment of `subject`: role 0 and the empty scope sort first.
    let first = Assignment {
        subject,
        role: 0,
        scope: String::new(),
    };
    store
        .range(first..)
        .take_while(move |a| a.subject == subject)
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
