//! Scenarios: the TOML format, its checks, and the validated [`Scenario`] the simulation runs.
//!
//! Loading has two stages. [`raw`] deserializes the file as written, rejecting unknown keys. Then
//! [`build`] resolves presets and units, checks every cross-reference, and produces a
//! [`Scenario`] whose entities are sorted by name and referred to by index, so that the order of
//! entries in the file never changes a result.

pub mod build;
pub mod limits;
pub mod overrides;
pub mod preset;
pub mod raw;
pub mod schema;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::roles::{Plane, RoleDefinition};
use crate::time::{SimDuration, SimTime};

pub use build::{load_file, load_file_with, load_str};
pub use overrides::Override;

pub type PrincipalId = usize;
pub type GroupId = usize;
pub type RoleId = usize;
pub type AppId = usize;
pub type ServiceId = usize;
pub type ResourceId = usize;

/// A principal's kind, which decides where its tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    SystemAssigned,
    UserAssigned,
    ServicePrincipal,
    User,
}

impl PrincipalKind {
    pub const NAMES: [&'static str; 4] = [
        "system-assigned",
        "user-assigned",
        "service-principal",
        "user",
    ];

    pub fn parse(text: &str) -> Option<PrincipalKind> {
        match text {
            "system-assigned" => Some(PrincipalKind::SystemAssigned),
            "user-assigned" => Some(PrincipalKind::UserAssigned),
            "service-principal" => Some(PrincipalKind::ServicePrincipal),
            "user" => Some(PrincipalKind::User),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Managed identities get their tokens through the identity endpoint and its backend cache.
    pub fn is_managed_identity(self) -> bool {
        matches!(
            self,
            PrincipalKind::SystemAssigned | PrincipalKind::UserAssigned
        )
    }
}

/// How long the issuer makes a principal's tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    Fixed(SimDuration),
    /// Drawn uniformly, per token, from the principal's own random stream.
    Uniform(SimDuration, SimDuration),
}

impl TokenLifetime {
    pub fn max(self) -> SimDuration {
        match self {
            TokenLifetime::Fixed(d) => d,
            TokenLifetime::Uniform(_, high) => high,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub kind: PrincipalKind,
    pub token_lifetime: TokenLifetime,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
}

/// The subject of a role assignment, group membership or app-role grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Principal(PrincipalId),
    Group(GroupId),
}

/// A role assignment: subject, role and scope (normalized: lower case, no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Assignment {
    pub subject: Subject,
    pub role: RoleId,
    pub scope: String,
}

/// An app-role grant: the subject gets `role` in the `roles` claim of tokens for the service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppRoleGrant {
    pub subject: Subject,
    pub service: ServiceId,
    pub role: String,
}

/// When a client SDK refreshes a cached token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClientCache {
    /// No client cache: every request calls the token endpoint.
    None,
    /// Refresh when the remaining lifetime is at most this offset.
    Offset(SimDuration),
    /// Refresh at `fraction` of the lifetime when the lifetime is at least `min_lifetime`, else
    /// `fallback_offset` before expiry.
    Fraction {
        parts_per_million: u64,
        min_lifetime: SimDuration,
        fallback_offset: SimDuration,
    },
}

#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub identity: PrincipalId,
    pub client_cache: ClientCache,
    /// The preset name or `offset`/`fraction`, for the banner and the docs.
    pub client_cache_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    RoundRobin,
    Random,
    Sticky,
}

impl Routing {
    pub const NAMES: [&'static str; 3] = ["round-robin", "random", "sticky"];

    pub fn as_str(self) -> &'static str {
        match self {
            Routing::RoundRobin => "round-robin",
            Routing::Random => "random",
            Routing::Sticky => "sticky",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    Rbac,
    Claims,
}

/// A delay before a role assignment write is visible to a service's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    Fixed(SimDuration),
    Uniform(SimDuration, SimDuration),
    /// Exponential with this mean; unbounded, so a change's bound uses the drawn delay.
    Exponential(SimDuration),
}

impl Replication {
    pub fn describe(self) -> String {
        match self {
            Replication::Fixed(d) => format!("fixed {d}"),
            Replication::Uniform(a, b) => format!("uniform {a}..{b}"),
            Replication::Exponential(m) => format!("exponential mean {m}"),
        }
    }
}

/// A rule of a claims-authorized service: operations matching `actions` are allowed when the
/// token carries one of `groups` or one of `roles`.
#[derive(Debug, Clone)]
pub struct ClaimsRule {
    pub actions: Vec<String>,
    pub groups: BTreeSet<GroupId>,
    pub roles: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub kind: String,
    pub audiences: Vec<ResourceId>,
    pub instances: u32,
    pub routing: Routing,
    pub authorization: Authorization,
    pub plane: Plane,
    pub rbac_max_age: SimDuration,
    pub reload_on_new_token: bool,
    pub replication: Replication,
    pub rules: Vec<ClaimsRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    Fixed,
    Poisson,
}

/// The target of a request or probe: an operation on a scope of a service, by an app.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub app: AppId,
    pub service: ServiceId,
    pub action: String,
    /// Normalized scope, used for decisions.
    pub scope: String,
    /// The scope as written, for outputs.
    pub scope_display: String,
    /// The resource string the app requests its token for.
    pub resource: ResourceId,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub target: Target,
    pub arrivals: Arrivals,
    /// Interval, or mean interval for Poisson arrivals.
    pub every: SimDuration,
    pub start: SimTime,
    /// First instant with no more arrivals.
    pub stop: SimTime,
}

#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub at: SimTime,
    pub app: AppId,
    pub resource: ResourceId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    AddMember { group: GroupId, member: Subject },
    RemoveMember { group: GroupId, member: Subject },
    AssignRole(Assignment),
    RemoveRole(Assignment),
    GrantAppRole(AppRoleGrant),
    RevokeAppRole(AppRoleGrant),
    RestartApp(AppId),
    RestartInstance { service: ServiceId, instance: u32 },
}

impl EventKind {
    pub fn is_directory_change(&self) -> bool {
        !matches!(
            self,
            EventKind::RestartApp(_) | EventKind::RestartInstance { .. }
        )
    }
}

#[derive(Debug, Clone)]
pub struct ScheduledEvent {
    pub at: SimTime,
    pub kind: EventKind,
    /// A description naming every entity, for outputs.
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub target: Target,
}

/// Platform-wide parameters.
#[derive(Debug, Clone)]
pub struct Platform {
    pub token_lifetime: SimDuration,
    pub backend_ttl: SimDuration,
    pub direct_token_lifetime_min: SimDuration,
    pub direct_token_lifetime_max: SimDuration,
    pub overage_limit: u32,
}

/// A resolved parameter and where its value came from, for the banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedParameter {
    pub key: String,
    pub value: String,
    pub origin: String,
}

/// A validated scenario: units resolved, references checked, entities sorted by name.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The comment block at the top of the file, without its `#` marks: what the scenario shows
    /// and its source. Empty when the file starts with a key.
    pub header: String,
    pub preset: &'static str,
    pub seed: u64,
    pub horizon: SimTime,
    pub platform: Platform,
    pub principals: Vec<Principal>,
    pub groups: Vec<Group>,
    /// Initial memberships, as (group, member).
    pub memberships: BTreeSet<(GroupId, Subject)>,
    pub roles: Vec<RoleDefinition>,
    pub assignments: BTreeSet<Assignment>,
    pub app_role_grants: BTreeSet<AppRoleGrant>,
    pub apps: Vec<App>,
    pub services: Vec<Service>,
    pub workloads: Vec<Workload>,
    pub token_requests: Vec<TokenRequest>,
    /// Events sorted by (instant, class, description).
    pub events: Vec<ScheduledEvent>,
    pub probes: Vec<Probe>,
    /// Interned resource strings, as requested.
    pub resources: Vec<String>,
    pub parameters: Vec<ResolvedParameter>,
    /// For each normalized scope, the form it is written in (the smallest, when it is written in
    /// several), for outputs.
    pub scope_labels: BTreeMap<String, String>,
}

impl Scenario {
    /// Replaces the master seed and records where the new value came from.
    pub fn set_seed(&mut self, seed: u64, origin: &str) {
        self.seed = seed;
        for p in self.parameters.iter_mut().filter(|p| p.key == "seed") {
            p.value = seed.to_string();
            p.origin = origin.to_string();
        }
    }

    pub fn subject_name(&self, subject: Subject) -> &str {
        match subject {
            Subject::Principal(p) => &self.principals[p].name,
            Subject::Group(g) => &self.groups[g].name,
        }
    }

    /// Returns a scope as the scenario writes it.
    pub fn scope_label<'s>(&'s self, normalized: &'s str) -> &'s str {
        self.scope_labels
            .get(normalized)
            .map_or(normalized, String::as_str)
    }

    /// Describes an assignment as `Reader on /subscriptions/s for deployer`.
    pub fn describe_assignment(&self, a: &Assignment) -> String {
        format!(
            "{} on {} for {}",
            self.roles[a.role].name,
            self.scope_label(&a.scope),
            self.subject_name(a.subject)
        )
    }
}
