//! Presets: named bundles of defaults for the platform, the services and the client SDKs.
//!
//! Every value here can be overridden in a scenario. The sources of the numbers are listed in
//! `docs/model.md`; the short form is beside each value.

use crate::time::SimDuration;

/// Defaults for one era of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    /// Managed identity token lifetime: 8 h on App Service in 2018 (the original walkthrough),
    /// 24 h 5 min today (azure-sdk-for-net#27019).
    pub token_lifetime: SimDuration,
    /// ARM's per-instance RBAC cache: 30 min (2018 support comment; RBAC troubleshooting doc until
    /// 2023), 10 min since 2023 (RBAC troubleshooting doc).
    pub arm_max_age: SimDuration,
    /// Storage data-plane propagation: up to 5 min until 2021, up to 30 min since (Storage RBAC docs).
    pub storage_max_age: SimDuration,
    /// Key Vault data-plane propagation: up to 10 min (Key Vault RBAC guide).
    pub keyvault_max_age: SimDuration,
    /// Tokens issued directly to service principals and users live a random 60 to 90 min (Microsoft
    /// identity platform access token reference).
    pub direct_token_lifetime_min: SimDuration,
    pub direct_token_lifetime_max: SimDuration,
    /// Groups above which a JWT omits the `groups` claim (access token claims reference).
    pub overage_limit: u32,
}

pub const APP_SERVICE_2018: Preset = Preset {
    name: "app-service-2018",
    token_lifetime: SimDuration::from_hours(8),
    arm_max_age: SimDuration::from_mins(30),
    storage_max_age: SimDuration::from_mins(5),
    keyvault_max_age: SimDuration::from_mins(10),
    direct_token_lifetime_min: SimDuration::from_mins(60),
    direct_token_lifetime_max: SimDuration::from_mins(90),
    overage_limit: 200,
};

pub const CURRENT: Preset = Preset {
    name: "current",
    token_lifetime: SimDuration::from_mins(24 * 60 + 5),
    arm_max_age: SimDuration::from_mins(10),
    storage_max_age: SimDuration::from_mins(30),
    keyvault_max_age: SimDuration::from_mins(10),
    direct_token_lifetime_min: SimDuration::from_mins(60),
    direct_token_lifetime_max: SimDuration::from_mins(90),
    overage_limit: 200,
};

pub const PRESETS: [&Preset; 2] = [&APP_SERVICE_2018, &CURRENT];

/// The preset a scenario gets when it names none: the values of the original walkthrough.
pub const DEFAULT_PRESET: &Preset = &APP_SERVICE_2018;

pub fn find_preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().copied().find(|p| p.name == name)
}

/// Client SDK presets: name, and the refresh rule they apply to a cached token.
pub const CLIENT_PRESETS: [(&str, &str); 9] = [
    (
        "none",
        "no client cache: every request calls the token endpoint",
    ),
    (
        "adal",
        "refresh 5 min before expiry (ADAL .NET ExpirationMarginInMinutes)",
    ),
    (
        "app-authentication",
        "refresh 5 min before expiry (Microsoft.Azure.Services.AppAuthentication)",
    ),
    (
        "azure-dotnet",
        "refresh 5 min before expiry (Azure.Core BearerTokenAuthenticationPolicy)",
    ),
    (
        "azure-java",
        "refresh 5 min before expiry (azure-core AccessTokenCache)",
    ),
    (
        "azure-js",
        "refresh 2 min before expiry (core-rest-pipeline token cycler)",
    ),
    (
        "azure-python",
        "refresh 300 s before expiry (azure-core BearerTokenCredentialPolicy)",
    ),
    (
        "msal-managed-identity",
        "refresh at half the lifetime when it is at least 2 h, else 5 min before expiry (MSAL)",
    ),
    ("offset", "refresh `refresh_offset` before expiry"),
];

/// The names accepted for `client_cache`, in documentation order.
pub fn client_cache_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = CLIENT_PRESETS.iter().map(|(n, _)| *n).collect();
    names.push("fraction");
    names
}
