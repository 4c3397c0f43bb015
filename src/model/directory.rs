//! The directory: group memberships, role assignments and app-role grants as they are now.
//!
//! Changes take effect at the instant of their event. Membership is transitive through nested
//! groups; the scenario loader rejects cycles, so the upward walk in [`Directory::groups_of`]
//! always ends.

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::{
    AppRoleGrant, Assignment, EventKind, GroupId, PrincipalId, Scenario, ServiceId, Subject,
};

#[derive(Debug, Clone)]
pub struct Directory {
    /// For each member, the groups that contain it directly.
    containing: BTreeMap<Subject, BTreeSet<GroupId>>,
    assignments: BTreeSet<Assignment>,
    grants: BTreeSet<AppRoleGrant>,
}

impl Directory {
    pub fn new(scenario: &Scenario) -> Directory {
        let mut d = Directory {
            containing: BTreeMap::new(),
            assignments: scenario.assignments.clone(),
            grants: scenario.app_role_grants.clone(),
        };
        for &(group, member) in &scenario.memberships {
            d.add_member(group, member);
        }
        d
    }

    pub fn add_member(&mut self, group: GroupId, member: Subject) {
        self.containing.entry(member).or_default().insert(group);
    }

    pub fn remove_member(&mut self, group: GroupId, member: Subject) {
        if let Some(groups) = self.containing.get_mut(&member) {
            groups.remove(&group);
            if groups.is_empty() {
                self.containing.remove(&member);
            }
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

    pub fn assignments(&self) -> &BTreeSet<Assignment> {
        &self.assignments
    }

    /// Returns the transitive groups of a principal.
    pub fn groups_of(&self, principal: PrincipalId) -> BTreeSet<GroupId> {
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
            EventKind::AddMember { group, member } => self.add_member(*group, *member),
            EventKind::RemoveMember { group, member } => self.remove_member(*group, *member),
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
