//! Role definitions, permission matching and scopes.
//!
//! A role permits an operation when one of its `actions` (control plane) or `dataActions` (data
//! plane) matches it and none of its `notActions` or `notDataActions` does. Patterns compare
//! case-insensitively and `*` matches any run of characters, `/` included, as in Azure RBAC. Roles
//! combine by union: a `notActions` entry only trims its own role.
//!
//! A scope applies to itself and to every scope below it: `/subscriptions/sub1` covers
//! `/subscriptions/sub1/resourceGroups/rg1`. Scopes compare case-insensitively, ignoring a trailing
//! `/`.

/// The plane an operation belongs to, which decides which permission lists of a role apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plane {
    /// Management operations, checked against `actions` and `notActions` (ARM).
    Control,
    /// Data operations, checked against `dataActions` and `notDataActions` (Storage, Key Vault).
    Data,
}

impl Plane {
    pub fn as_str(self) -> &'static str {
        match self {
            Plane::Control => "control",
            Plane::Data => "data",
        }
    }
}

/// A role definition: a name and four permission lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub builtin: bool,
}

impl RoleDefinition {
    /// Returns whether this role permits `operation` on `plane`.
    pub fn permits(&self, operation: &str, plane: Plane) -> bool {
        let (allow, deny) = match plane {
            Plane::Control => (&self.actions, &self.not_actions),
            Plane::Data => (&self.data_actions, &self.not_data_actions),
        };
        allow.iter().any(|p| pattern_matches(p, operation))
            && !deny.iter().any(|p| pattern_matches(p, operation))
    }
}

/// Matches an Azure permission pattern with `*` wildcards against an operation, ignoring case.
pub fn pattern_matches(pattern: &str, operation: &str) -> bool {
    let p = pattern.as_bytes();
    let s = operation.as_bytes();
    // Iterative wildcard matching with one backtrack point, linear in practice.
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((star_pi, star_si)) = star {
            pi = star_pi + 1;
            si = star_si + 1;
            star = Some((star_pi, star_si + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Normalizes a scope for comparison: lower case, no trailing `/` except for the root.
pub fn normalize_scope(scope: &str) -> String {
    let lower = scope.trim().to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Returns whether an assignment at `assigned` (normalized) applies to `target` (normalized).
pub fn scope_covers(assigned: &str, target: &str) -> bool {
    if assigned == "/" || assigned == target {
        return true;
    }
    target.len() > assigned.len()
        && target.starts_with(assigned)
        && target.as_bytes()[assigned.len()] == b'/'
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn builtin(
    name: &str,
    actions: &[&str],
    not_actions: &[&str],
    data_actions: &[&str],
    not_data_actions: &[&str],
) -> RoleDefinition {
    RoleDefinition {
        name: name.to_string(),
        actions: list(actions),
        not_actions: list(not_actions),
        data_actions: list(data_actions),
        not_data_actions: list(not_data_actions),
        builtin: true,
    }
}

/// The built-in roles the simulator knows, with the permission lists of Microsoft's "Azure built-in
/// roles" reference. Lists of monitoring and support actions that no simulated service checks are
/// kept where they are short.
pub fn builtin_roles() -> Vec<RoleDefinition> {
    const BLOB: &str = "Microsoft.Storage/storageAccounts/blobServices";
    let blob = |suffix: &str| format!("{BLOB}/{suffix}");
    let blob_reader_actions = [
        blob("containers/read"),
        blob("generateUserDelegationKey/action"),
    ];
    let blob_contributor_actions = [
        blob("containers/delete"),
        blob("containers/read"),
        blob("containers/write"),
        blob("generateUserDelegationKey/action"),
    ];
    let blob_contributor_data = [
        blob("containers/blobs/delete"),
        blob("containers/blobs/read"),
        blob("containers/blobs/write"),
        blob("containers/blobs/move/action"),
        blob("containers/blobs/add/action"),
    ];
    vec![
        builtin("Owner", &["*"], &[], &[], &[]),
        builtin(
            "Contributor",
            &["*"],
            &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action",
                "Microsoft.Purview/consents/write",
                "Microsoft.Purview/consents/delete",
                "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
                "Microsoft.Subscription/cancel/action",
                "Microsoft.Subscription/enable/action",
            ],
            &[],
            &[],
        ),
        builtin("Reader", &["*/read"], &[], &[], &[]),
        builtin(
            "Storage Blob Data Reader",
            &refs(&blob_reader_actions),
            &[],
            &[&blob("containers/blobs/read")],
            &[],
        ),
        builtin(
            "Storage Blob Data Contributor",
            &refs(&blob_contributor_actions),
            &[],
            &refs(&blob_contributor_data),
            &[],
        ),
        builtin(
            "Storage Blob Data Owner",
            &[
                &blob("containers/*"),
                &blob("generateUserDelegationKey/action"),
            ],
            &[],
            &[&blob("containers/blobs/*")],
            &[],
        ),
        builtin(
            "Key Vault Secrets User",
            &[],
            &[],
            &[
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
            ],
            &[],
        ),
        builtin(
            "Key Vault Secrets Officer",
            &[
                "Microsoft.Authorization/*/read",
                "Microsoft.Insights/alertRules/*",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                "Microsoft.Support/*",
                "Microsoft.KeyVault/checkNameAvailability/read",
                "Microsoft.KeyVault/deletedVaults/read",
                "Microsoft.KeyVault/locations/*/read",
                "Microsoft.KeyVault/vaults/*/read",
                "Microsoft.KeyVault/operations/read",
            ],
            &[],
            &["Microsoft.KeyVault/vaults/secrets/*"],
            &[],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> RoleDefinition {
        builtin_roles()
            .into_iter()
            .find(|r| r.name == name)
            .unwrap()
    }

    #[test]
    fn wildcards_match_any_run() {
        assert!(pattern_matches("*", "Microsoft.Storage/x/read"));
        assert!(pattern_matches(
            "*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read"
        ));
        assert!(!pattern_matches(
            "*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/write"
        ));
        assert!(pattern_matches(
            "Microsoft.Authorization/*/Write",
            "microsoft.authorization/roleAssignments/write"
        ));
        assert!(pattern_matches("a*b*c", "aXbYbZc"));
        assert!(!pattern_matches("a*b*c", "aXbYbZ"));
    }

    #[test]
    fn contributor_cannot_write_assignments() {
        let c = role("Contributor");
        assert!(c.permits("Microsoft.Compute/virtualMachines/write", Plane::Control));
        assert!(!c.permits(
            "Microsoft.Authorization/roleAssignments/write",
            Plane::Control
        ));
        // Control-plane roles grant no data actions.
        assert!(!c.permits(
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            Plane::Data
        ));
    }

    #[test]
    fn blob_roles_split_read_and_write() {
        let write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write";
        let read = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read";
        assert!(role("Storage Blob Data Reader").permits(read, Plane::Data));
        assert!(!role("Storage Blob Data Reader").permits(write, Plane::Data));
        assert!(role("Storage Blob Data Contributor").permits(write, Plane::Data));
        assert!(role("Storage Blob Data Owner").permits(write, Plane::Data));
    }

    #[test]
    fn scopes_inherit_downwards_ignoring_case() {
        let sub = normalize_scope("/subscriptions/SUB1/");
        let rg = normalize_scope("/subscriptions/sub1/resourceGroups/rg1");
        assert!(scope_covers(&sub, &rg));
        assert!(!scope_covers(&rg, &sub));
        assert!(!scope_covers(&normalize_scope("/subscriptions/sub"), &sub));
        assert!(scope_covers("/", &rg));
    }
}
