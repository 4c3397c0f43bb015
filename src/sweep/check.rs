//! Budgets on point statistics: `p99(stale_allow_max_ms) <= 8h`.
//!
//! A check is `STAT(METRIC) OP LIMIT`. STAT is one of the columns of `points.csv` (`mean`,
//! `p50`, `p90`, `p99`, `max`, `ci_low`, `ci_high`), and METRIC a metric name. OP is one of `<=`,
//! `<`, `>=`, `>`, and LIMIT a plain number or, for a metric in milliseconds, a duration such as
//! `8h`. Every point must satisfy every check.

use super::files::PointSummary;
use super::metrics::{self, Unit};
use super::stats::Summary;
use crate::error::closest;
use crate::time::{format_duration, parse_duration};

/// The statistics a check can bound, as named in `points.csv`.
pub const STATS: [&str; 7] = ["mean", "p50", "p90", "p99", "max", "ci_low", "ci_high"];

const OPERATORS: [&str; 4] = ["<=", ">=", "<", ">"];

/// A parsed check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The check as written, for messages.
    pub text: String,
    pub stat: usize,
    pub metric: usize,
    pub operator: &'static str,
    pub limit: f64,
}

/// An invalid check, with what would be valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub message: String,
    pub help: String,
}

fn invalid(text: &str, reason: impl Into<String>, help: impl Into<String>) -> CheckError {
    CheckError {
        message: format!("invalid check `{text}`: {}", reason.into()),
        help: help.into(),
    }
}

fn name_help(word: &str, names: &[&str], what: &str) -> String {
    let list = format!("valid {what}: {}", names.join(", "));
    match closest(word, names.iter().copied()) {
        Some(c) => format!("did you mean `{c}`? {list}"),
        None => list,
    }
}

impl Check {
    /// Parses `STAT(METRIC) OP LIMIT`.
    pub fn parse(text: &str) -> Result<Check, CheckError> {
        let form = "write `STAT(METRIC) OP LIMIT`, for example `p99(stale_allow_max_ms) <= 8h`";
        let trimmed = text.trim();
        let (call, rest) = trimmed
            .split_once(')')
            .ok_or_else(|| invalid(text, "expected `STAT(METRIC)`", form))?;
        let (stat, metric) = call
            .split_once('(')
            .ok_or_else(|| invalid(text, "expected `STAT(METRIC)`", form))?;
        let (stat, metric) = (stat.trim(), metric.trim());
        let stat_index = STATS.iter().position(|s| *s == stat).ok_or_else(|| {
            invalid(
                text,
                format!("unknown statistic `{stat}`"),
                name_help(stat, &STATS, "statistics"),
            )
        })?;
        let metric_index = metrics::NAMES
            .iter()
            .position(|m| *m == metric)
            .ok_or_else(|| {
                invalid(
                    text,
                    format!("unknown metric `{metric}`"),
                    name_help(metric, &metrics::NAMES, "metrics"),
                )
            })?;
        let rest = rest.trim();
        let operator = OPERATORS
            .iter()
            .find(|o| rest.starts_with(**o))
            .ok_or_else(|| {
                invalid(
                    text,
                    "expected an operator after `)`",
                    "valid operators: <=, <, >=, >",
                )
            })?;
        let limit_text = rest[operator.len()..].trim();
        let limit = parse_limit(limit_text, metrics::unit(metric_index))
            .map_err(|reason| invalid(text, reason, form))?;
        Ok(Check {
            text: trimmed.to_string(),
            stat: stat_index,
            metric: metric_index,
            operator,
            limit,
        })
    }

    /// Returns whether `value` satisfies the check.
    pub fn holds(&self, value: f64) -> bool {
        match self.operator {
            "<=" => value <= self.limit,
            "<" => value < self.limit,
            ">=" => value >= self.limit,
            _ => value > self.limit,
        }
    }

    /// Returns the checked statistic of a summary, or `None` when it is undefined (a confidence
    /// interval of a single run).
    pub fn value(&self, summary: &Summary) -> Option<f64> {
        summary.stat(self.stat)
    }

    /// Formats a value of the checked metric for the violation table: durations for metrics in
    /// milliseconds (rounded to the millisecond), numbers otherwise.
    pub fn format_value(&self, value: f64) -> String {
        match metrics::unit(self.metric) {
            Unit::Ms => format_duration(value.round().max(0.0) as u64),
            Unit::Count => format!("{value}"),
            Unit::Share => format!("{value:.6}"),
        }
    }
}

/// A point that breaks a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Point number from 0.
    pub point: u64,
    pub labels: Vec<String>,
    /// Index of the broken check.
    pub check: usize,
    /// The checked statistic; `None` when it is undefined, which breaks the check.
    pub value: Option<f64>,
}

/// Finds every (point, check) pair where the point breaks the check, in point order.
pub fn violations(checks: &[Check], points: &[PointSummary]) -> Vec<Violation> {
    let mut found = Vec::new();
    for p in points {
        for (i, c) in checks.iter().enumerate() {
            let value = c.value(&p.metrics[c.metric]);
            if !value.is_some_and(|v| c.holds(v)) {
                found.push(Violation {
                    point: p.point,
                    labels: p.labels.clone(),
                    check: i,
                    value,
                });
            }
        }
    }
    found
}

/// Formats violations as an aligned table with one column per axis.
pub fn violation_table(checks: &[Check], axes: &[String], found: &[Violation]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["point".to_string()];
    header.extend(axes.iter().cloned());
    header.extend(["check".to_string(), "value".to_string()]);
    rows.push(header);
    for v in found {
        let check = &checks[v.check];
        let mut row = vec![(v.point + 1).to_string()];
        row.extend(v.labels.iter().cloned());
        row.push(check.text.clone());
        row.push(
            v.value
                .map_or("undefined".to_string(), |x| check.format_value(x)),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str("  ");
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

fn parse_limit(text: &str, unit: Unit) -> Result<f64, String> {
    if text.is_empty() {
        return Err("expected a limit after the operator".into());
    }
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
    {
        return Ok(n);
    }
    if unit != Unit::Ms {
        return Err(format!(
            "`{text}` is not a number (this metric is not a duration)"
        ));
    }
    parse_duration(text).map(|d| d.ms() as f64).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_numbers() {
        let c = Check::parse("p99(stale_allow_max_ms) <= 8h").unwrap();
        assert_eq!(STATS[c.stat], "p99");
        assert_eq!(metrics::NAMES[c.metric], "stale_allow_max_ms");
        assert_eq!(c.operator, "<=");
        // 8 h = 8 * 3,600,000 ms.
        assert_eq!(c.limit, 28_800_000.0);
        let c = Check::parse("mean(stale_share)<0.05").unwrap();
        assert_eq!(c.operator, "<");
        assert_eq!(c.limit, 0.05);
        assert!(c.holds(0.049));
        assert!(!c.holds(0.05));
    }

    #[test]
    fn rejects_with_suggestions() {
        let e = Check::parse("p99(stale_allow_ms) <= 8h").unwrap_err();
        assert!(
            e.message.contains("unknown metric `stale_allow_ms`"),
            "{e:?}"
        );
        assert!(
            e.help.contains("did you mean `stale_allow_max_ms`?"),
            "{e:?}"
        );
        let e = Check::parse("p95(requests) <= 3").unwrap_err();
        assert!(e.message.contains("unknown statistic `p95`"), "{e:?}");
        let e = Check::parse("mean(stale_share) <= 1h").unwrap_err();
        assert!(e.message.contains("not a number"), "{e:?}");
        let e = Check::parse("max(requests) = 3").unwrap_err();
        assert!(e.message.contains("expected an operator"), "{e:?}");
        assert!(Check::parse("max requests <= 3").is_err());
    }
}
