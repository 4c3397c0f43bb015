//! Errors and their exit codes.
//!
//! A scenario problem is a [`Diagnostic`]: a message, the dotted key path, the byte span in the file
//! and what would be valid. [`ScenarioError`] gathers every diagnostic of one file and renders them
//! the way compilers do, with the line and a caret under the offending text.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// Exit code of a run that finished.
pub const EXIT_OK: i32 = 0;
/// Exit code for invalid input or an input/output failure.
pub const EXIT_INVALID: i32 = 2;
/// Exit code for an internal error: a bug in staleauth.
pub const EXIT_INTERNAL: i32 = 101;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Dotted key path such as `services[1].instances`.
    pub key: Option<String>,
    pub span: Option<Range<usize>>,
    /// The valid values or the fix.
    pub help: Option<String>,
    /// A second place in the file that the problem involves, such as the first of two duplicates.
    pub related: Option<(String, Range<usize>)>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            key: None,
            span: None,
            help: None,
            related: None,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Diagnostic {
        self.key = Some(key.into());
        self
    }

    pub fn span(mut self, span: Range<usize>) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, label: impl Into<String>, span: Range<usize>) -> Diagnostic {
        self.related = Some((label.into(), span));
        self
    }
}

/// Every problem found in one scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Converts a byte offset into a 1-based line and column (in characters).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Width of the line-number gutter for a diagnostic: the digits of its line number, at least 1.
fn gutter_width(text: &str, span: Option<&Range<usize>>) -> usize {
    span.map_or(1, |s| line_column(text, s.start).0.to_string().len())
}

fn render_snippet(
    f: &mut fmt::Formatter<'_>,
    text: &str,
    span: &Range<usize>,
    gutter: usize,
) -> fmt::Result {
    let start = span.start.min(text.len());
    let (line, column) = line_column(text, start);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let source_line = text[line_start..line_end].trim_end_matches('\r');
    let end = span.end.min(line_end).max(start);
    let width = text[start..end].chars().count().max(1);
    writeln!(f, "{:gutter$} |", "")?;
    writeln!(f, "{line} | {source_line}")?;
    writeln!(
        f,
        "{:gutter$} | {}{}",
        "",
        " ".repeat(column - 1),
        "^".repeat(width)
    )
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            // The layout of rustc's diagnostics: the arrow is indented by the gutter width and
            // the notes line up with the gutter's `|`.
            let gutter = gutter_width(&self.text, d.span.as_ref());
            let indent = " ".repeat(gutter);
            writeln!(f, "error: {}", d.message)?;
            match &d.span {
                Some(span) => {
                    let (line, column) = line_column(&self.text, span.start);
                    writeln!(f, "{indent}--> {file}:{line}:{column}")?;
                    render_snippet(f, &self.text, span, gutter)?;
                }
                None => writeln!(f, "{indent}--> {file}")?,
            }
            if let Some(key) = &d.key {
                writeln!(f, "{indent} = key: {key}")?;
            }
            if let Some((label, span)) = &d.related {
                let (line, column) = line_column(&self.text, span.start);
                writeln!(f, "{indent} = note: {label} at {file}:{line}:{column}")?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "{indent} = help: {help}")?;
            }
        }
        let n = self.diagnostics.len();
        write!(
            f,
            "error: scenario `{file}` has {n} problem{}",
            if n == 1 { "" } else { "s" }
        )
    }
}

/// Any failure of a staleauth command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Scenario(Box<ScenarioError>),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    #[error(
        "internal error: {0}\nThis is a bug in staleauth. Please report it with the scenario file and seed."
    )]
    Internal(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Scenario(_) | Error::Io { .. } | Error::Usage(_) => EXIT_INVALID,
            Error::Internal(_) => EXIT_INTERNAL,
        }
    }
}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Error {
        Error::Scenario(Box::new(e))
    }
}

/// Returns the candidate closest to `word` by edit distance, if it is close enough to be a likely
/// typo (at most a third of the word's length, and at least 1).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
/// two neighbouring characters each cost 1, so `delya` is 1 from `delay`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["instances", "routing", "audiences"];
        assert_eq!(closest("instanse", names), Some("instances"));
        assert_eq!(closest("colour", names), None);
    }
}
