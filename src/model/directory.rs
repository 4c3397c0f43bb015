//! The directory: group memberships, role assignments and app-role grants as they are now.
//!
//! Changes take effect at the instant of their event. Membership is transitive through nested
//! groups; the scenario loader rejects cycles, so the upward walk that computes a principal's
//! groups always ends. Each principal's transitive groups are kept computed, and a membership
//! change recomputes them only for the principals below the changed member.

use std::collections::{BTreeMap, BTreeSet};

use super::AssignmentSet;
use crate::scenario::{
    AppRoleGrant, Assignment, EventKind, GroupId, PrincipalId, Scenario, ServiceId, Subject,
};

#[derive(Debug, Clone)]
pub struct Directory {
    /// For each member, the groups that contain it directly.
    containing: BTreeMap<Subject, BTreeSet<GroupId>>,
    assignments: AssignmentSet,
    grants: BTreeSet<AppRoleGrant>,
    /// For each principal, its transitive groups.
    groups: Vec<BTreeSet<GroupId>>,
}

impl Directory {
    pub fn new(scenario: &Scenario) -> Directory {
        let mut d = Directory {
            containing: BTreeMap::new(),
            assignments: AssignmentSet::new(
                &scenario.assignments,
                scenario.principals.len(),
                scenario.groups.len(),
            ),
            grants: scenario.app_role_grants.clone(),
            groups: vec![BTreeSet::new(); scenario.principals.len()],
        };
        for &(group, member) in &scenario.memberships {
            d.containing.entry(member).or_default().insert(group);
        }
        for principal in 0..d.groups.len() {
            d.groups[principal] = d.walk_groups(principal);
        }
        d
    }

    /// Adds `member` to `group`; returns the principals whose transitive groups changed.
    pub fn add_member(&mut self, group: GroupId, member: Subject) -> Vec<PrincipalId> {
        let below = self.principals_below(member);
        self.containing.entry(member).or_default().insert(group);
        self.recompute_groups(&below);
        below
    }

    /// Removes `member` from `group`; returns the principals whose transitive groups changed.
    pub fn remove_member(&mut self, group: GroupId, member: Subject) -> Vec<PrincipalId> {
        let below = self.principals_below(member);
        if let Some(groups) = self.containing.get_mut(&member) {
            groups.remove(&group);
            if groups.is_empty() {
                self.containing.remove(&member);
            }
        }
        self.recompute_groups(&below);
        below
    }

    /// Returns the principals that are `subject` or a transitive member of it, in index order.
    /// Adding or removing a membership of `subject` changes the groups of exactly these.
    pub fn principals_below(&self, subject: Subject) -> Vec<PrincipalId> {
        match subject {
            Subject::Principal(p) => vec![p],
            Subject::Group(g) => (0..self.groups.len())
                .filter(|&p| self.groups[p].contains(&g))
                .collect(),
        }
    }

    fn recompute_groups(&mut self, principals: &[PrincipalId]) {
        for &p in principals {
            self.groups[p] = self.walk_groups(p);
        }
    }

    pub fn assign(&mut self, a: Assignment) {
        self.assignments.insert(a);
    }

    pub fn unassign(&mut self, a: &Assignment) {
        self.assignments.remove(a);
    }

    pub fn grant(&mut self, g: AppRoleGrant) {
        self.grants.insert(g);
    }

    pub fn revoke(&mut self, g: &AppRoleGrant) {
        self.grants.remove(g);
    }

    pub fn assignments(&self) -> &AssignmentSet {
        &self.assignments
    }

    /// Returns the transitive groups of a principal.
    pub fn groups_of(&self, principal: PrincipalId) -> &BTreeSet<GroupId> {
        &self.groups[principal]
    }

    /// Computes the transitive groups of a principal by walking up the memberships.
    fn walk_groups(&self, principal: PrincipalId) -> BTreeSet<GroupId> {
        let mut found = BTreeSet::new();
        let mut pending = vec![Subject::Principal(principal)];
        while let Some(member) = pending.pop() {
            if let Some(groups) = self.containing.get(&member) {
                for &g in groups {
                    if found.insert(g) {
                        pending.push(Subject::Group(g));
                    }
                }
            }
        }
        found
    }

    /// Applies a directory change. Restarts are not directory changes and change nothing here.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::AddMember { group, member } => {
                self.add_member(*group, *member);
            }
            EventKind::RemoveMember { group, member } => {
                self.remove_member(*group, *member);
            }
            EventKind::AssignRole(a) => self.assign(a.clone()),
            EventKind::RemoveRole(a) => self.unassign(a),
            EventKind::GrantAppRole(g) => self.grant(g.clone()),
            EventKind::RevokeAppRole(g) => self.revoke(g),
            EventKind::RestartApp(_) | EventKind::RestartInstance { .. } => {}
        }
    }

    /// Returns the app roles of `service` granted to the principal directly or through `groups`.
    pub fn app_roles(
        &self,
        principal: PrincipalId,
        groups: &BTreeSet<GroupId>,
        service: ServiceId,
    ) -> BTreeSet<String> {
        self.grants
            .iter()
            .filter(|g| g.service == service)
            .filter(|g| match g.subject {
                Subject::Principal(p) => p == principal,
                Subject::Group(grp) => groups.contains(&grp),
            })
            .map(|g| g.role.clone())
            .collect()
    }
}
