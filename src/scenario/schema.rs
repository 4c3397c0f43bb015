//! The JSON Schema of the scenario format, generated from the types that parse it, and the key
//! check that uses it to report every unknown key of a file at once.
//!
//! serde stops at the first unknown key. Before deserializing, [`check_keys`] walks the parsed
//! TOML document beside the schema and reports each key that no table accepts, with its dotted
//! path, its span and the nearest valid key. Types and values are left to serde and to the build
//! stage.

use std::ops::Range;

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::raw::RawScenario;
use crate::error::{Diagnostic, closest};

/// Returns the JSON Schema of a scenario file, as pretty-printed JSON with a final newline.
pub fn json_schema_text() -> String {
    let schema = schemars::schema_for!(RawScenario);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

fn schema_json() -> Json {
    serde_json::to_value(schemars::schema_for!(RawScenario)).expect("a schema serializes")
}

/// Follows `$ref` into `$defs`.
fn resolve<'a>(root: &'a Json, node: &'a Json) -> &'a Json {
    let mut node = node;
    while let Some(reference) = node.get("$ref").and_then(Json::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        match root.get("$defs").and_then(|d| d.get(name)) {
            Some(target) => node = target,
            None => break,
        }
    }
    node
}

/// Returns the branches of a node: the node itself, or each `anyOf`/`oneOf` alternative.
fn branches<'a>(root: &'a Json, node: &'a Json) -> Vec<&'a Json> {
    let node = resolve(root, node);
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = node.get(key).and_then(Json::as_array) {
            return list.iter().flat_map(|b| branches(root, b)).collect();
        }
    }
    vec![node]
}

fn is_type(node: &Json, name: &str) -> bool {
    match node.get("type") {
        Some(Json::String(t)) => t == name,
        Some(Json::Array(ts)) => ts.iter().any(|t| t == name),
        _ => false,
    }
}

fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if segment.starts_with('[') {
            out.push_str(segment);
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Walks a parsed document beside the schema and reports every unknown key.
pub fn check_keys(text: &str) -> Vec<Diagnostic> {
    let Ok(document) = DeTable::parse(text) else {
        // Syntax errors are reported by the deserializer with their own span.
        return Vec::new();
    };
    let root = schema_json();
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk_table(&root, &root, document.get_ref(), &mut path, &mut out);
    out
}

fn walk_table(
    root: &Json,
    node: &Json,
    table: &DeTable,
    path: &mut Vec<String>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(object) = branches(root, node)
        .into_iter()
        .find(|b| b.get("properties").is_some())
    else {
        return;
    };
    let properties = object
        .get("properties")
        .and_then(Json::as_object)
        .expect("checked above");
    let closed = object.get("additionalProperties") == Some(&Json::Bool(false));
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        match properties.get(name) {
            Some(child) => {
                path.push(name.to_string());
                walk_value(root, child, value, path, out);
                path.pop();
            }
            None if closed => {
                let mut valid: Vec<&str> = properties.keys().map(String::as_str).collect();
                valid.sort_unstable();
                let mut help = format!("valid keys here: {}", valid.join(", "));
                if let Some(c) = closest(name, valid.iter().copied()) {
                    help = format!("did you mean `{c}`? {help}");
                }
                let mut full = path.clone();
                full.push(name.to_string());
                let place = if path.is_empty() {
                    "at the top level".to_string()
                } else {
                    format!("in `{}`", display_path(path))
                };
                out.push(
                    Diagnostic::new(format!("unknown key `{name}` {place}"))
                        .key(display_path(&full))
                        .span(key.span())
                        .help(help),
                );
            }
            None => {}
        }
    }
}

fn walk_value(
    root: &Json,
    node: &Json,
    value: &Spanned<DeValue>,
    path: &mut Vec<String>,
    out: &mut Vec<Diagnostic>,
) {
    match value.get_ref() {
        DeValue::Table(table) => walk_table(root, node, table, path, out),
        DeValue::Array(items) => {
            let Some(items_schema) = branches(root, node)
                .into_iter()
                .find(|b| is_type(b, "array"))
                .and_then(|b| b.get("items"))
            else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                walk_value(root, items_schema, item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Returns the dotted key path of the last key that starts before `span`, for deserializer
/// errors that carry only a span. Tables and arrays of tables do not span their bodies in the
/// parsed document, so the nearest preceding key is the best owner available.
pub fn key_at(text: &str, span: &Range<usize>) -> Option<String> {
    let document = DeTable::parse(text).ok()?;
    let mut best: Option<(usize, Vec<String>)> = None;
    let mut path = Vec::new();
    find_table(document.get_ref(), span.start, &mut path, &mut best);
    best.map(|(_, p)| display_path(&p))
}

fn find_table(
    table: &DeTable,
    offset: usize,
    path: &mut Vec<String>,
    best: &mut Option<(usize, Vec<String>)>,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        let start = key.span().start;
        if start <= offset && best.as_ref().is_none_or(|(b, _)| start >= *b) {
            *best = Some((start, path.clone()));
        }
        find_value(value, offset, path, best);
        path.pop();
    }
}

fn find_value(
    value: &Spanned<DeValue>,
    offset: usize,
    path: &mut Vec<String>,
    best: &mut Option<(usize, Vec<String>)>,
) {
    match value.get_ref() {
        DeValue::Table(t) => find_table(t, offset, path, best),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                find_value(item, offset, path, best);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_unknown_key() {
        let text = "horizen = \"1h\"\n[[services]]\nname = \"a\"\ninstanses = 2\n[[services]]\nname = \"b\"\n[services.replication]\ndistribution = \"fixed\"\ndelya = \"1m\"\n";
        let found = check_keys(text);
        let keys: Vec<String> = found.iter().map(|d| d.key.clone().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "horizen",
                "services[0].instanses",
                "services[1].replication.delya"
            ]
        );
        assert!(
            found[0]
                .help
                .as_ref()
                .unwrap()
                .starts_with("did you mean `horizon`?")
        );
        assert!(
            found[1]
                .help
                .as_ref()
                .unwrap()
                .starts_with("did you mean `instances`?")
        );
        assert!(
            found[2]
                .help
                .as_ref()
                .unwrap()
                .starts_with("did you mean `delay`?")
        );
        assert_eq!(&text[found[1].span.clone().unwrap()], "instanses");
    }

    #[test]
    fn known_keys_pass() {
        let text = "horizon = \"1h\"\n[platform]\ntoken_lifetime = \"8h\"\n[[groups]]\nname = \"g\"\nmembers = [\"a\"]\n";
        assert_eq!(check_keys(text), []);
    }

    #[test]
    fn key_at_finds_nested_values() {
        let text = "horizon = \"1h\"\n[[services]]\nname = \"a\"\ninstances = \"two\"\n";
        let start = text.find("\"two\"").unwrap();
        assert_eq!(
            key_at(text, &(start..start + 5)).as_deref(),
            Some("services[0].instances")
        );
    }
}
