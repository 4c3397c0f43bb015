//! The scenario as written: TOML deserialized field by field, with spans, before any check.
//!
//! Every table rejects unknown keys. Names and durations keep their spans so that the checks in
//! [`super::build`] can point at the offending text.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use toml::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<Text>,
    pub description: Option<String>,
    pub preset: Option<Text>,
    pub seed: Option<Spanned<u64>>,
    pub horizon: Option<Text>,
    #[serde(default)]
    pub platform: RawPlatform,
    #[serde(default)]
    pub principals: Vec<RawPrincipal>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub roles: Vec<RawRole>,
    #[serde(default)]
    pub assignments: Vec<RawAssignment>,
    #[serde(default)]
    pub app_roles: Vec<RawAppRole>,
    #[serde(default)]
    pub apps: Vec<RawApp>,
    #[serde(default)]
    pub services: Vec<RawService>,
    #[serde(default)]
    pub workloads: Vec<RawWorkload>,
    #[serde(default)]
    pub token_requests: Vec<RawTokenRequest>,
    #[serde(default)]
    pub events: Vec<RawEvent>,
    #[serde(default)]
    pub probes: Vec<RawProbe>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    pub token_lifetime: Option<Text>,
    pub backend_ttl: Option<Text>,
    pub direct_token_lifetime_min: Option<Text>,
    pub direct_token_lifetime_max: Option<Text>,
    pub overage_limit: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrincipal {
    pub name: Text,
    pub kind: Text,
    pub token_lifetime: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub name: Text,
    #[serde(default)]
    pub members: Vec<Text>,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAssignment {
    pub principal: Text,
    pub role: Text,
    pub scope: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAppRole {
    pub principal: Text,
    pub service: Text,
    pub role: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub name: Text,
    pub identity: Text,
    pub client_cache: Option<Text>,
    pub refresh_offset: Option<Text>,
    pub refresh_fraction: Option<Spanned<f64>>,
    pub fraction_min_lifetime: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Text,
    pub kind: Option<Text>,
    pub audiences: Option<Vec<Text>>,
    pub instances: Option<Spanned<u32>>,
    pub routing: Option<Text>,
    pub authorization: Option<Text>,
    pub plane: Option<Text>,
    pub rbac_max_age: Option<Text>,
    pub reload_on_new_token: Option<bool>,
    pub replication: Option<Spanned<RawReplication>>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplicationTable {
    pub distribution: String,
    pub delay: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub mean: Option<String>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub name: Option<Text>,
    pub app: Text,
    pub service: Text,
    pub action: Text,
    pub scope: Text,
    pub resource: Option<Text>,
    pub arrivals: Option<Text>,
    pub every: Text,
    pub start: Option<Text>,
    pub stop: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenRequest {
    pub at: Text,
    pub app: Text,
    pub resource: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub at: Text,
    pub kind: Text,
    pub group: Option<Text>,
    pub member: Option<Text>,
    pub principal: Option<Text>,
    pub role: Option<Text>,
    pub scope: Option<Text>,
    pub service: Option<Text>,
    pub app: Option<Text>,
    pub instance: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    pub name: Text,
    pub app: Text,
    pub service: Text,
    pub action: Text,
    pub scope: Text,
    pub resource: Option<Text>,
}
