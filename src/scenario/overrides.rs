//! Overrides of scenario values by dotted key path, as given by `--set key.path=value` and by
//! sweep axes.
//!
//! A path names tables by key and entries of an array of tables by their `name` or by index:
//! `services.arm.rbac_max_age`, `services.0.instances`, `platform.token_lifetime`,
//! `events.2.at`. A missing key at the end of a path is added, and a missing plain table on the
//! way is created. The value is parsed as a TOML value (`4`, `true`, `"8h"`, `["a", "b"]`,
//! `{ distribution = "uniform", min = "0s", max = "5m" }`); text that is not a TOML value is taken
//! as a string, so `--set horizon=12h` needs no quotes.
//!
//! Overrides edit the document text with `toml_edit`, which keeps every untouched line as written,
//! and mark each edited value with a trailing `# --set` comment, so that a diagnostic about it
//! shows where the value came from.

use std::str::FromStr;

use toml_edit::{DocumentMut, Item, Table, Value};

/// One override: a dotted key path and a TOML value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub path: String,
    pub value: String,
    /// The origin shown in messages and the banner: `command line`, `sweep axis`.
    pub origin: String,
}

/// Parses `key.path=value`.
pub fn parse_set(arg: &str, origin: &str) -> Result<Override, String> {
    let Some((path, value)) = arg.split_once('=') else {
        return Err(format!(
            "invalid --set `{arg}`: expected `key.path=value`, for example `services.arm.instances=4`"
        ));
    };
    let path = path.trim();
    if path.is_empty() || path.split('.').any(|s| s.trim().is_empty()) {
        return Err(format!(
            "invalid --set `{arg}`: the key path has an empty segment"
        ));
    }
    Ok(Override {
        path: path.to_string(),
        value: value.trim().to_string(),
        origin: origin.to_string(),
    })
}

fn parse_value(text: &str) -> Value {
    match Value::from_str(text) {
        Ok(v) => v,
        Err(_) => Value::from(text),
    }
}

fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(Value::Array(_)) => "an array",
        Item::Value(Value::InlineTable(_)) => "an inline table",
        Item::Value(_) => "a value",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

/// Applies overrides to scenario text; returns the edited text and, for each override, its path
/// with array entries named (`services.arm.instances` for `services.0.instances`).
pub fn apply(text: &str, overrides: &[Override]) -> Result<(String, Vec<String>), String> {
    let mut doc = DocumentMut::from_str(text).map_err(|e| e.to_string())?;
    let mut canonical = Vec::new();
    for o in overrides {
        let path = set_path(doc.as_table_mut(), o)
            .map_err(|e| format!("invalid {} `{}={}`: {e}", o.origin, o.path, o.value))?;
        canonical.push(path);
    }
    Ok((doc.to_string(), canonical))
}

fn set_path(root: &mut Table, o: &Override) -> Result<String, String> {
    let segments: Vec<&str> = o.path.split('.').map(str::trim).collect();
    let mut table = root;
    let mut walked: Vec<String> = Vec::new();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if i == last {
            let mut value = parse_value(&o.value);
            value.decor_mut().set_suffix(" # --set");
            table.insert(segment, Item::Value(value));
            walked.push(segment.to_string());
            break;
        }
        if !table.contains_key(segment) {
            table.insert(segment, Item::Table(Table::new()));
        }
        let item = table.get_mut(segment).expect("inserted above");
        walked.push(segment.to_string());
        table = match item {
            Item::Table(t) => t,
            Item::ArrayOfTables(array) => {
                let next = segments[i + 1];
                let names: Vec<String> = array
                    .iter()
                    .map(|t| {
                        t.get("name")
                            .and_then(Item::as_str)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect();
                let index = match next.parse::<usize>() {
                    Ok(n) if n < array.len() => n,
                    Ok(n) => {
                        return Err(format!(
                            "`{}` has {} entries, so index {n} does not exist",
                            walked.join("."),
                            array.len()
                        ));
                    }
                    Err(_) => names.iter().position(|n| n == next).ok_or_else(|| {
                        format!(
                            "no entry of `{}` is named `{next}`; names: {}",
                            walked.join("."),
                            names.join(", ")
                        )
                    })?,
                };
                if i + 1 == last {
                    return Err(format!(
                        "`{}` names a whole entry; add the key to set inside it",
                        o.path
                    ));
                }
                let label = if names[index].is_empty() {
                    index.to_string()
                } else {
                    names[index].clone()
                };
                walked.push(label);
                // Skip the entry segment: the loop continues with the key inside it.
                let entry = array.get_mut(index).expect("index checked above");
                return set_path_from(entry, &segments[i + 2..], o, walked);
            }
            other => {
                return Err(format!(
                    "`{}` is {}, not a table",
                    walked.join("."),
                    describe(other)
                ));
            }
        };
    }
    Ok(walked.join("."))
}

fn set_path_from(
    table: &mut Table,
    rest: &[&str],
    o: &Override,
    walked: Vec<String>,
) -> Result<String, String> {
    let sub = Override {
        path: rest.join("."),
        value: o.value.clone(),
        origin: o.origin.clone(),
    };
    let inner = set_path(table, &sub)?;
    let mut full = walked;
    full.push(inner);
    Ok(full.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "horizon = \"1h\"\n\n[[services]]\nname = \"arm\"\ninstances = 1\n\n[[services]]\nname = \"kv\"\n";

    fn set(arg: &str) -> Result<(String, Vec<String>), String> {
        apply(TEXT, &[parse_set(arg, "--set").unwrap()])
    }

    #[test]
    fn sets_by_name_and_index() {
        let (text, paths) = set("services.arm.instances=4").unwrap();
        assert!(text.contains("instances = 4 # --set"), "{text}");
        assert_eq!(paths, ["services.arm.instances"]);
        let (text, paths) = set("services.1.instances=3").unwrap();
        assert!(
            text.contains("name = \"kv\"\ninstances = 3 # --set"),
            "{text}"
        );
        assert_eq!(paths, ["services.kv.instances"]);
    }

    #[test]
    fn bare_text_becomes_string() {
        let (text, _) = set("horizon=12h").unwrap();
        assert!(text.contains("horizon = \"12h\" # --set"), "{text}");
        let (text, _) = set("platform.token_lifetime=\"24h5m\"").unwrap();
        assert!(
            text.contains("[platform]\ntoken_lifetime = \"24h5m\""),
            "{text}"
        );
    }

    #[test]
    fn keeps_untouched_lines() {
        let (text, _) = set("services.arm.instances=2").unwrap();
        assert_eq!(text.lines().count(), TEXT.lines().count());
        assert!(text.starts_with("horizon = \"1h\"\n\n[[services]]\nname = \"arm\"\n"));
    }

    #[test]
    fn rejects_unknown_entries() {
        let e = set("services.storage.instances=2").unwrap_err();
        assert!(
            e.contains("no entry of `services` is named `storage`; names: arm, kv"),
            "{e}"
        );
        let e = set("services.5.instances=2").unwrap_err();
        assert!(e.contains("has 2 entries"), "{e}");
        let e = set("horizon.x=1").unwrap_err();
        assert!(e.contains("`horizon` is a value, not a table"), "{e}");
        assert!(parse_set("horizon", "--set").is_err());
        assert!(parse_set("a..b=1", "--set").is_err());
    }
}
