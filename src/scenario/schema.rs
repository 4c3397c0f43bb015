//! The JSON Schema of the scenario format, generated from the types that parse it, and the first
//! check of a file, which uses it to report every problem of shape at once.
//!
//! serde stops at the first error and names Rust types in it. Before deserializing,
//! [`check_document`] walks the parsed TOML document beside the schema. It reports every syntax
//! error, unknown key (with the nearest valid key), value of the wrong type, integer out of range
//! and missing required key, each with its dotted path and span. It then removes the offending
//! keys, so that the build stage can check the values and references of the rest.

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

/// The document after the schema check: every problem found, and the document with each
/// offending key removed so that the build stage can still check the rest.
pub struct Checked<'a> {
    /// The pruned document, or `None` when the text is not valid TOML.
    pub document: Option<Spanned<DeTable<'a>>>,
    pub diagnostics: Vec<Diagnostic>,
    /// Dotted key paths that the diagnostics already cover. A later diagnostic on one of these
    /// keys, or below it, would repeat a reported problem, such as a missing `horizon` after a
    /// `horizon` of the wrong type, or a missing `group` after an unknown `groop`.
    pub covered: Vec<String>,
    /// True when a problem was found that pruning cannot leave behind safely (a missing required
    /// key, a wrong type inside a list or of a required key): the build stage must not run.
    pub fatal: bool,
}

/// Parses the text and checks it against the schema: syntax, unknown keys, value types, integer
/// ranges and required keys. Every problem is reported, each with its key, span and what would be
/// valid.
pub fn check_document(text: &str) -> Checked<'_> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let diagnostics = errors.iter().map(|e| syntax_diagnostic(text, e)).collect();
        return Checked {
            document: None,
            diagnostics,
            covered: Vec::new(),
            fatal: true,
        };
    }
    let root = schema_json();
    let mut walker = Walker {
        root: &root,
        diagnostics: Vec::new(),
        covered: Vec::new(),
        fatal: false,
        path: Vec::new(),
    };
    let span = document.span();
    let mut table = document.into_inner();
    walker.table(&root, &mut table, span.clone());
    Checked {
        document: Some(Spanned::new(span, table)),
        diagnostics: walker.diagnostics,
        covered: walker.covered,
        fatal: walker.fatal,
    }
}

/// Reports every unknown key of a document (the first part of [`check_document`]).
pub fn check_keys(text: &str) -> Vec<Diagnostic> {
    check_document(text)
        .diagnostics
        .into_iter()
        .filter(|d| d.message.starts_with("unknown key"))
        .collect()
}

fn syntax_diagnostic(text: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim();
    let help = if message.contains("duplicate key") {
        "each key may appear once in a table; remove or rename one of them"
    } else {
        "the file must be valid TOML: `key = value` lines, quoted strings, `[table]` and `[[array]]` headers"
    };
    let mut d = Diagnostic::new(format!("invalid TOML: {message}")).help(help);
    if let Some(span) = e.span() {
        d = d.span(span.start.min(text.len())..span.end.min(text.len()));
    }
    d
}

/// The kinds of TOML value a schema node accepts.
#[derive(Default)]
struct Accepts {
    string: bool,
    integer: bool,
    number: bool,
    boolean: bool,
    array: bool,
    table: bool,
    duration: bool,
    /// Inclusive bounds of an integer, from the schema's `minimum`, `maximum` and `format`.
    range: Option<(i128, i128)>,
}

fn accepts(root: &Json, node: &Json) -> Accepts {
    let mut a = Accepts::default();
    for b in branches(root, node) {
        a.string |= is_type(b, "string");
        a.duration |= is_type(b, "string") && b.get("pattern").is_some();
        a.integer |= is_type(b, "integer");
        a.number |= is_type(b, "number");
        a.boolean |= is_type(b, "boolean");
        a.array |= is_type(b, "array");
        a.table |= is_type(b, "object") || b.get("properties").is_some();
        if is_type(b, "integer") {
            let format_high = match b.get("format").and_then(Json::as_str) {
                Some("uint32") => i128::from(u32::MAX),
                Some("uint64") => i128::from(u64::MAX),
                _ => i128::from(i64::MAX),
            };
            let high = b
                .get("maximum")
                .and_then(Json::as_i64)
                .map_or(format_high, |m| i128::from(m).min(format_high));
            let low = b
                .get("minimum")
                .and_then(Json::as_i64)
                .map_or(i128::from(i64::MIN), i128::from);
            a.range = Some((low, high));
        }
    }
    a
}

/// Describes what a schema node accepts, in words, with an example for the help line.
fn expected(root: &Json, node: &Json, name: &str) -> (String, String) {
    let a = accepts(root, node);
    if a.duration && a.table {
        return (
            "a duration or a table".into(),
            format!(
                "write for example `{name} = \"5m\"` or `{name} = {{ distribution = \"uniform\", min = \"0s\", max = \"5m\" }}`"
            ),
        );
    }
    if a.duration {
        return (
            "a duration string".into(),
            format!("write the duration in quotes with a unit, for example `{name} = \"8h\"`"),
        );
    }
    if a.string {
        return (
            "a string".into(),
            format!("write the value in quotes, for example `{name} = \"...\"`"),
        );
    }
    if a.integer {
        let (low, high) = a.range.unwrap_or((0, i128::from(u32::MAX)));
        return (
            format!("a whole number from {low} to {high}"),
            format!("write a whole number without quotes, for example `{name} = 2`"),
        );
    }
    if a.number {
        return (
            "a number".into(),
            format!("write a number without quotes, for example `{name} = 0.5`"),
        );
    }
    if a.boolean {
        return (
            "`true` or `false`".into(),
            format!("write `{name} = true` or `{name} = false`, without quotes"),
        );
    }
    if a.array {
        let items = branches(root, node)
            .into_iter()
            .find_map(|b| b.get("items"))
            .map(|items| accepts(root, items));
        if items.is_some_and(|i| i.table) {
            return (
                "a list of tables".into(),
                format!("write each entry under its own `[[{name}]]` header"),
            );
        }
        return (
            "a list of strings".into(),
            format!("write for example `{name} = [\"a\", \"b\"]`"),
        );
    }
    (
        "a table".into(),
        format!("write the keys under a `[{name}]` header"),
    )
}

fn found(value: &DeValue) -> String {
    match value {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => format!("`{b}`"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "a list".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

fn integer_value(value: &DeValue) -> Option<i128> {
    let DeValue::Integer(i) = value else {
        return None;
    };
    let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, digits.trim_start_matches('+').to_string()),
    };
    let digits = digits
        .trim_start_matches("0x")
        .trim_start_matches("0o")
        .trim_start_matches("0b");
    let magnitude = i128::from_str_radix(digits, i.radix()).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Checks whether a value's kind fits what a node accepts.
fn fits(a: &Accepts, value: &DeValue) -> bool {
    match value {
        DeValue::String(_) => a.string,
        DeValue::Integer(_) => a.integer || a.number,
        DeValue::Float(_) => a.number,
        DeValue::Boolean(_) => a.boolean,
        DeValue::Datetime(_) => false,
        DeValue::Array(_) => a.array,
        DeValue::Table(_) => a.table,
    }
}

/// The outcome of checking one value.
#[derive(PartialEq, Eq)]
enum Verdict {
    Keep,
    /// The value is invalid and its key should be removed.
    Remove,
}

/// The schema walk's state: the problems found so far and the dotted path of the current key.
struct Walker<'r> {
    root: &'r Json,
    diagnostics: Vec<Diagnostic>,
    covered: Vec<String>,
    fatal: bool,
    path: Vec<String>,
}

impl Walker<'_> {
    fn here(&self) -> String {
        display_path(&self.path)
    }

    fn table(&mut self, node: &Json, table: &mut DeTable, span: Range<usize>) {
        let root = self.root;
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
        let required: Vec<&str> = object
            .get("required")
            .and_then(Json::as_array)
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();

        let mut remove = Vec::new();
        // Valid keys suggested for unknown ones: a problem reported later on a suggested key
        // that the table lacks follows from the typo, so that key counts as covered.
        let mut suggestions = Vec::new();
        for (key, value) in table.iter_mut() {
            let name = key.get_ref().to_string();
            self.path.push(name.clone());
            let verdict = match properties.get(&name) {
                Some(child) => self.value(child, value, &name),
                None if closed => {
                    if let Some(suggestion) = self.unknown_key(&name, key.span(), properties) {
                        suggestions.push(suggestion);
                    }
                    Verdict::Remove
                }
                None => Verdict::Keep,
            };
            if verdict == Verdict::Remove {
                // Without a required key, a list or a table, the build stage would report
                // problems that follow from the removal (references to entries no longer there).
                let structural = properties.get(&name).is_some_and(|child| {
                    let a = accepts(root, child);
                    a.array || (a.table && !a.string)
                });
                if required.contains(&name.as_str()) || structural {
                    self.fatal = true;
                }
                self.covered.push(self.here());
                remove.push(name);
            }
            self.path.pop();
        }

        for name in remove {
            table.remove(name.as_str());
        }
        for suggestion in suggestions {
            if table.get(suggestion.as_str()).is_none() {
                let mut path = self.path.clone();
                path.push(suggestion);
                self.covered.push(display_path(&path));
            }
        }
        for name in &required {
            if table.get(*name).is_none() && !self.removed(name) {
                self.missing_key(name, &required, span.clone());
            }
        }
    }

    /// Checks whether `name` under the current path was removed after a reported problem.
    fn removed(&self, name: &str) -> bool {
        let mut path = self.path.clone();
        path.push(name.to_string());
        self.covered.contains(&display_path(&path))
    }

    /// Reports an unknown key and returns the valid key it is likely a typo of, if any.
    fn unknown_key(
        &mut self,
        name: &str,
        span: Range<usize>,
        properties: &serde_json::Map<String, Json>,
    ) -> Option<String> {
        let mut valid: Vec<&str> = properties.keys().map(String::as_str).collect();
        valid.sort_unstable();
        let mut help = format!("valid keys here: {}", valid.join(", "));
        let parent = display_path(&self.path[..self.path.len() - 1]);
        let suggestion = closest(name, valid.iter().copied());
        if let Some(c) = suggestion {
            help = format!("did you mean `{c}`? {help}");
        }
        let place = if parent.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{parent}`")
        };
        self.diagnostics.push(
            Diagnostic::new(format!("unknown key `{name}` {place}"))
                .key(self.here())
                .span(span)
                .help(help),
        );
        suggestion.map(str::to_string)
    }

    fn missing_key(&mut self, name: &str, required: &[&str], span: Range<usize>) {
        let here = self.here();
        let place = if here.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{here}`")
        };
        let section = self
            .path
            .iter()
            .rev()
            .find(|s| !s.starts_with('['))
            .cloned()
            .unwrap_or_default();
        let mut key = self.path.clone();
        key.push(name.to_string());
        self.fatal = true;
        self.diagnostics.push(
            Diagnostic::new(format!("missing key `{name}` {place}"))
                .key(display_path(&key))
                .span(span)
                .help(format!(
                    "each `{section}` entry needs the keys {}",
                    required
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
        );
    }

    fn value(&mut self, node: &Json, value: &mut Spanned<DeValue>, name: &str) -> Verdict {
        let root = self.root;
        let a = accepts(root, node);
        let span = value.span();
        if !fits(&a, value.get_ref()) {
            let (what, help) = expected(root, node, name);
            self.diagnostics.push(
                Diagnostic::new(format!(
                    "`{}` must be {what}, not {}",
                    self.here(),
                    found(value.get_ref())
                ))
                .key(self.here())
                .span(span)
                .help(help),
            );
            return Verdict::Remove;
        }
        if let (true, Some(n), Some((low, high))) =
            (a.integer, integer_value(value.get_ref()), a.range)
            && (n < low || n > high)
        {
            self.diagnostics.push(
                Diagnostic::new(format!(
                    "`{}` must be a whole number from {low} to {high}, not {n}",
                    self.here()
                ))
                .key(self.here())
                .span(span)
                .help(format!(
                    "write a whole number from {low} to {high}, without quotes"
                )),
            );
            return Verdict::Remove;
        }
        match value.get_mut() {
            DeValue::Table(table) => {
                let object = branches(root, node)
                    .into_iter()
                    .find(|b| b.get("properties").is_some())
                    .cloned();
                if let Some(object) = object {
                    self.table(&object, table, span);
                }
            }
            DeValue::Array(items) => {
                let Some(items_schema) = branches(root, node)
                    .into_iter()
                    .find(|b| is_type(b, "array"))
                    .and_then(|b| b.get("items"))
                    .cloned()
                else {
                    return Verdict::Keep;
                };
                for (i, item) in items.iter_mut().enumerate() {
                    self.path.push(format!("[{i}]"));
                    if self.value(&items_schema, item, name) == Verdict::Remove {
                        // Removing one item would renumber the others: stop after this stage.
                        self.fatal = true;
                    }
                    self.path.pop();
                }
            }
            _ => {}
        }
        Verdict::Keep
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
