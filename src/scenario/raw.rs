//! The scenario as written: TOML deserialized field by field, with spans, before any check.
//!
//! Every table rejects unknown keys. Names and durations keep their spans so that the checks in
//! [`super::build`] can point at the offending text.

use std::borrow::Cow;
use std::ops::Range;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

/// A value with its byte span in the file. Its JSON Schema is the inner value's.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Sp<T>(pub Spanned<T>);

impl<T> Sp<T> {
    pub fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    pub fn span(&self) -> Range<usize> {
        self.0.span()
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

pub type Text = Sp<String>;

/// The JSON Schema of a duration string, used through `#[schemars(with = ...)]`.
pub struct DurationString;

impl JsonSchema for DurationString {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(0|([0-9]+(d|h|m|min|s|ms))+)$",
            "description": "A duration such as \"8h\", \"1h30m\", \"24h5m\" or \"250ms\" (units d, h, m, s, ms)."
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// A staleauth scenario: identities, groups, roles, apps, services, traffic and timed changes.
pub struct RawScenario {
    /// Results folder name: letters, digits, `-`, `_`, `.`; default the file name.
    pub name: Option<Text>,
    /// Free text shown in reports.
    pub description: Option<String>,
    /// Bundle of defaults: `app-service-2018` (default) or `current`.
    pub preset: Option<Text>,
    /// Master seed of every random stream; default 1.
    pub seed: Option<Sp<u64>>,
    /// End of simulated time; windows still open there are censored.
    #[schemars(with = "Option<DurationString>")]
    pub horizon: Option<Text>,
    /// Platform-wide values; each defaults from the preset.
    #[serde(default)]
    pub platform: RawPlatform,
    /// Managed identities, service principals and users.
    #[serde(default)]
    pub principals: Vec<RawPrincipal>,
    /// Groups with members (principals or groups); nesting is allowed, cycles are not.
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    /// Custom role definitions; built-in roles need no declaration.
    #[serde(default)]
    pub roles: Vec<RawRole>,
    /// Role assignments at the start.
    #[serde(default)]
    pub assignments: Vec<RawAssignment>,
    /// App-role grants at the start: the `roles` claim of tokens for a service.
    #[serde(default)]
    pub app_roles: Vec<RawAppRole>,
    /// Processes that request tokens through a client SDK cache.
    #[serde(default)]
    pub apps: Vec<RawApp>,
    /// Enforcement points with instances and per-instance RBAC caches.
    #[serde(default)]
    pub services: Vec<RawService>,
    /// Periodic or Poisson requests from an app to a service.
    #[serde(default)]
    pub workloads: Vec<RawWorkload>,
    /// Explicit token requests at given instants.
    #[serde(default)]
    pub token_requests: Vec<RawTokenRequest>,
    /// Timed directory changes and restarts.
    #[serde(default)]
    pub events: Vec<RawEvent>,
    /// Questions asked at every instant; one per workload target is added.
    #[serde(default)]
    pub probes: Vec<RawProbe>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    /// Lifetime of managed identity tokens.
    #[schemars(with = "Option<DurationString>")]
    pub token_lifetime: Option<Text>,
    /// How long the identity endpoint backend caches a token; default the token lifetime.
    #[schemars(with = "Option<DurationString>")]
    pub backend_ttl: Option<Text>,
    /// Shortest lifetime of tokens issued directly to service principals and users.
    #[schemars(with = "Option<DurationString>")]
    pub direct_token_lifetime_min: Option<Text>,
    /// Longest lifetime of tokens issued directly to service principals and users.
    #[schemars(with = "Option<DurationString>")]
    pub direct_token_lifetime_max: Option<Text>,
    /// Groups above which the `groups` claim is omitted.
    pub overage_limit: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrincipal {
    pub name: Text,
    /// `system-assigned`, `user-assigned`, `service-principal` or `user`.
    pub kind: Text,
    /// Fixed lifetime for this principal's tokens.
    #[schemars(with = "Option<DurationString>")]
    pub token_lifetime: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: Text,
    /// Names of principals or groups.
    #[serde(default)]
    pub members: Vec<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub name: Text,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAssignment {
    /// A principal or group.
    pub principal: Text,
    pub role: Text,
    /// Applies to this scope and every scope below it.
    pub scope: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAppRole {
    pub principal: Text,
    pub service: Text,
    pub role: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub name: Text,
    /// The principal whose tokens the app requests.
    pub identity: Text,
    /// `none`, an SDK preset (`azure-dotnet`, `azure-js`, `azure-python`, `azure-java`, `adal`, `app-authentication`, `msal-managed-identity`), `offset` or `fraction`.
    pub client_cache: Option<Text>,
    /// Refresh this long before expiry.
    #[schemars(with = "Option<DurationString>")]
    pub refresh_offset: Option<Text>,
    /// Refresh at this fraction of the lifetime, in (0, 1].
    pub refresh_fraction: Option<Sp<f64>>,
    /// Shortest lifetime refreshed at the fraction; shorter ones use the offset.
    #[schemars(with = "Option<DurationString>")]
    pub fraction_min_lifetime: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Text,
    /// `arm`, `storage`, `keyvault` or `custom`: sets audiences, plane and max age.
    pub kind: Option<Text>,
    /// Token resource strings the service accepts.
    pub audiences: Option<Vec<Text>>,
    /// Instances behind the load balancer, from 1 to 100,000; default 1.
    #[schemars(range(min = 1, max = 100_000))]
    pub instances: Option<Sp<u32>>,
    /// `round-robin` (default), `random` or `sticky` (by caller).
    pub routing: Option<Text>,
    /// `rbac` (role assignments) or `claims` (token groups and roles).
    pub authorization: Option<Text>,
    /// `control` (actions) or `data` (dataActions).
    pub plane: Option<Text>,
    /// An instance reloads a caller's assignments on the first request at or after this age.
    #[schemars(with = "Option<DurationString>")]
    pub rbac_max_age: Option<Text>,
    /// Reload when a caller presents a token the instance has not seen; default true.
    pub reload_on_new_token: Option<bool>,
    /// Delay before a role assignment write is visible to this service.
    pub replication: Option<Sp<RawReplication>>,
    /// Rules of a claims-authorized service.
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub actions: Option<Vec<String>>,
    #[serde(default)]
    pub groups: Vec<Text>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A replication delay: a duration string for a fixed delay, or a table naming a distribution.
#[derive(Debug)]
pub enum RawReplication {
    Fixed(String),
    Table(RawReplicationTable),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplicationTable {
    /// `fixed` (with `delay`), `uniform` (with `min` and `max`) or `exponential` (with `mean`).
    pub distribution: Text,
    #[schemars(with = "Option<DurationString>")]
    pub delay: Option<Text>,
    #[schemars(with = "Option<DurationString>")]
    pub min: Option<Text>,
    #[schemars(with = "Option<DurationString>")]
    pub max: Option<Text>,
    #[schemars(with = "Option<DurationString>")]
    pub mean: Option<Text>,
}

impl JsonSchema for RawReplication {
    fn schema_name() -> Cow<'static, str> {
        "Replication".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let table = generator.subschema_for::<RawReplicationTable>();
        json_schema!({
            "description": "A fixed delay as a duration, or a table naming a distribution.",
            "anyOf": [DurationString::json_schema(generator), table]
        })
    }
}

impl<'de> Deserialize<'de> for RawReplication {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ReplicationVisitor;

        impl<'de> Visitor<'de> for ReplicationVisitor {
            type Value = RawReplication;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration such as \"5m\", or a table such as \
                     { distribution = \"uniform\", min = \"0s\", max = \"5m\" }",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawReplication, E> {
                Ok(RawReplication::Fixed(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawReplication, A::Error> {
                let table =
                    RawReplicationTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawReplication::Table(table))
            }
        }

        deserializer.deserialize_any(ReplicationVisitor)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub name: Option<Text>,
    pub app: Text,
    pub service: Text,
    pub action: Text,
    pub scope: Text,
    /// Token resource string; default the service's first audience.
    pub resource: Option<Text>,
    /// `fixed` (default) or `poisson`.
    pub arrivals: Option<Text>,
    /// Interval, or mean interval for Poisson arrivals.
    #[schemars(with = "DurationString")]
    pub every: Text,
    /// First request; default 0.
    #[schemars(with = "Option<DurationString>")]
    pub start: Option<Text>,
    /// No request at or after this instant; default the horizon.
    #[schemars(with = "Option<DurationString>")]
    pub stop: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTokenRequest {
    #[schemars(with = "DurationString")]
    pub at: Text,
    pub app: Text,
    pub resource: Text,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    #[schemars(with = "DurationString")]
    pub at: Text,
    /// `add-member`, `remove-member`, `assign-role`, `remove-role`, `grant-app-role`, `revoke-app-role`, `restart-app` or `restart-instance`.
    pub kind: Text,
    pub group: Option<Text>,
    pub member: Option<Text>,
    pub principal: Option<Text>,
    pub role: Option<Text>,
    pub scope: Option<Text>,
    pub service: Option<Text>,
    pub app: Option<Text>,
    /// Instance number, from 0.
    pub instance: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: Text,
    pub app: Text,
    pub service: Text,
    pub action: Text,
    pub scope: Text,
    pub resource: Option<Text>,
}
