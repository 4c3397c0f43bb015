//! The timeline figure of one probe, drawn as SVG with plotters.
//!
//! Rows from the top: the tokens the probe's app presented to the service (issue and expiry
//! instants), then for each instance its truth and its effective decision as bars over time.
//! Windows are shaded behind the instance's rows by kind. The directory changes that flipped the
//! probe's truth are solid vertical lines numbered as in `changes.csv`, and the restarts of its
//! app or service are dotted lines.
//! Token labels are drawn only when the probe saw at most 12 tokens, and window labels
//! (`start–end`) only when it has at most 12 windows, so they stay legible.
//!
//! Text goes into the SVG as `<text>` elements with the generic `sans-serif` family, and the
//! browser picks the font. plotters is built without its `ttf` and `ab_glyph` features, so it
//! estimates text widths itself and needs no system font library. Every coordinate comes from
//! integer milliseconds, so the bytes depend only on the results.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{ChangeRow, WindowRow};
use crate::error::Error;
use crate::time::format_duration;

/// Width of every figure in pixels: readable at docs width without scaling.
pub const WIDTH: u32 = 800;

const ALLOW: RGBColor = RGBColor(46, 125, 50);
const DENY: RGBColor = RGBColor(189, 189, 189);
const STALE_ALLOW: RGBColor = RGBColor(229, 57, 53);
const STALE_DENY: RGBColor = RGBColor(251, 140, 0);
const CHANGE: RGBColor = RGBColor(33, 33, 33);
const RESTART: RGBColor = RGBColor(123, 31, 162);
const TOKEN: RGBColor = RGBColor(21, 101, 192);

const ROW_HEIGHT: u32 = 30;
/// Height of the title and subtitle strip above the chart.
const HEADER: u32 = 46;
const TOP: u32 = HEADER + 30;
const AXIS: u32 = 50;
const LEGEND: u32 = 56;

/// A bar: `[start, end)` in milliseconds, allowed or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub start_ms: u64,
    pub end_ms: u64,
    pub allow: bool,
}

/// The truth and effective bars of one instance.
#[derive(Debug, Clone, Default)]
pub struct InstanceBars {
    pub truth: Vec<Bar>,
    pub effective: Vec<Bar>,
}

/// A token the probe's app presented to the probe's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMark {
    pub label: String,
    pub issued_ms: u64,
    pub expires_ms: u64,
}

/// Everything drawn in one probe's figure.
pub struct FigureInput<'a> {
    pub title: String,
    /// A second, smaller line under the title: the scenario and its preset.
    pub subtitle: String,
    pub horizon_ms: u64,
    pub instances: Vec<InstanceBars>,
    pub windows: Vec<&'a WindowRow>,
    /// The changes that flipped this probe's truth.
    pub changes: Vec<&'a ChangeRow>,
    /// Instants of the restarts of the probe's app or of its service's instances.
    pub restarts: Vec<u64>,
    pub tokens: Vec<TokenMark>,
}

/// Returns the time unit of the x axis: hours for horizons of 3 h or more, else minutes.
fn time_unit(horizon_ms: u64) -> (f64, &'static str) {
    if horizon_ms >= 3 * 3_600_000 {
        (3_600_000.0, "hours")
    } else {
        (60_000.0, "minutes")
    }
}

fn drawing_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Internal(format!("failed to draw a figure: {e}"))
}

/// Draws the figure and returns the SVG text.
pub fn draw(input: &FigureInput) -> Result<String, Error> {
    let rows = 1 + 2 * input.instances.len();
    let height = TOP + rows as u32 * ROW_HEIGHT + AXIS + LEGEND;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let (upper, lower) = root.split_vertically(height - LEGEND);
        let (header, body) = upper.split_vertically(HEADER);
        draw_header(&header, input)?;
        draw_chart(&body, input, rows)?;
        draw_legend(&lower)?;
        root.present().map_err(drawing_error)?;
    }
    svg.push('\n');
    Ok(svg)
}

fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    input: &FigureInput,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let centre = Pos::new(HPos::Center, VPos::Top);
    let x = (WIDTH / 2) as i32;
    let title = ("sans-serif", 18)
        .into_font()
        .into_text_style(area)
        .pos(centre);
    area.draw(&Text::new(input.title.clone(), (x, 6), title))
        .map_err(drawing_error)?;
    let subtitle = ("sans-serif", 13)
        .into_font()
        .color(&RGBColor(90, 90, 90))
        .pos(centre);
    area.draw(&Text::new(input.subtitle.clone(), (x, 28), subtitle))
        .map_err(drawing_error)?;
    Ok(())
}

/// Returns the label of the row whose centre is `y`. Rows are counted from the top.
fn row_label(y: f64, rows: usize) -> String {
    let from_top = rows - 1 - y.floor() as usize;
    match from_top {
        0 => "tokens".to_string(),
        r => {
            let instance = (r - 1) / 2;
            let what = if (r - 1) % 2 == 0 {
                "truth"
            } else {
                "effective"
            };
            format!("instance {instance} {what}")
        }
    }
}

/// Returns the y coordinate of the bottom of the row `from_top`, counted from the top.
fn row_bottom(from_top: usize, rows: usize) -> f64 {
    (rows - 1 - from_top) as f64
}

fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    input: &FigureInput,
    rows: usize,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let (unit_ms, unit_name) = time_unit(input.horizon_ms);
    let x_max = input.horizon_ms as f64 / unit_ms;
    let centres: Vec<f64> = (0..rows).map(|r| r as f64 + 0.5).collect();
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(AXIS - 10)
        .y_label_area_size(150)
        .build_cartesian_2d(
            TickedAxis::new(x_max, x_ticks(x_max)),
            TickedAxis::new(rows as f64, centres),
        )
        .map_err(drawing_error)?;
    let x_label = |v: &f64| format_duration((v * unit_ms).round() as u64);
    let y_label = |v: &f64| row_label(*v, rows);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(format!("time since scenario start ({unit_name})"))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(drawing_error)?;
    let x = |ms: u64| ms.min(input.horizon_ms) as f64 / unit_ms;

    // Windows, shaded behind both rows of their instance.
    for w in &input.windows {
        let colour = if w.kind == "stale-allow" {
            STALE_ALLOW
        } else {
            STALE_DENY
        };
        let bottom = row_bottom(2 + 2 * w.instance, rows);
        let rect = Rectangle::new(
            [(x(w.start_ms), bottom), (x(w.end_ms), bottom + 2.0)],
            colour.mix(0.25).filled(),
        );
        chart
            .draw_series(std::iter::once(rect))
            .map_err(drawing_error)?;
    }

    // Window labels, `start–end`, inside the top of each shaded band, so that a reader can tell
    // when a window opens and closes without the CSV files.
    if input.windows.len() <= 12 {
        for w in &input.windows {
            // Darker than the shading, so that the text reads on white.
            let colour = if w.kind == "stale-allow" {
                RGBColor(183, 28, 28)
            } else {
                RGBColor(191, 96, 0)
            };
            let end = if w.censored {
                format!("{} (censored)", format_duration(w.end_ms))
            } else {
                format_duration(w.end_ms)
            };
            // Anchored at its bottom on the top edge of the instance's truth row, so that it sits
            // in the margin above the bars.
            let style = ("sans-serif", 12)
                .into_font()
                .color(&colour)
                .pos(Pos::new(HPos::Left, VPos::Bottom));
            let text = Text::new(
                format!("{}–{end}", format_duration(w.start_ms)),
                (x(w.start_ms), row_bottom(1 + 2 * w.instance, rows) + 0.97),
                style,
            );
            chart
                .draw_series(std::iter::once(text))
                .map_err(drawing_error)?;
        }
    }

    // Truth and effective bars.
    for (i, bars) in input.instances.iter().enumerate() {
        for (offset, list) in [(1, &bars.truth), (2, &bars.effective)] {
            let bottom = row_bottom(offset + 2 * i, rows);
            let rects = list.iter().map(|b| {
                let colour = if b.allow { ALLOW } else { DENY };
                Rectangle::new(
                    [(x(b.start_ms), bottom + 0.2), (x(b.end_ms), bottom + 0.8)],
                    colour.filled(),
                )
            });
            chart.draw_series(rects).map_err(drawing_error)?;
        }
    }

    // Tokens: a triangle at issue, a cross at expiry, joined by a thin line.
    let token_row = row_bottom(0, rows);
    let label_tokens = input.tokens.len() <= 12;
    for token in &input.tokens {
        let (issued, expires) = (x(token.issued_ms), x(token.expires_ms));
        let y = token_row + 0.5;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(issued, y), (expires, y)],
                TOKEN.mix(0.5),
            )))
            .map_err(drawing_error)?;
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (issued, y),
                6,
                TOKEN.filled(),
            )))
            .map_err(drawing_error)?;
        if token.expires_ms <= input.horizon_ms {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (expires, y),
                    5,
                    TOKEN.stroke_width(2),
                )))
                .map_err(drawing_error)?;
        }
        if label_tokens {
            let text = Text::new(
                token.label.clone(),
                (issued, token_row + 0.4),
                ("sans-serif", 11).into_font().color(&TOKEN),
            );
            chart
                .draw_series(std::iter::once(text))
                .map_err(drawing_error)?;
        }
    }

    // Changes and restarts, as vertical lines over every row.
    let top = rows as f64;
    for c in &input.changes {
        let line = PathElement::new(
            vec![(x(c.at_ms), 0.0), (x(c.at_ms), top)],
            CHANGE.stroke_width(2),
        );
        chart
            .draw_series(std::iter::once(line))
            .map_err(drawing_error)?;
        let label = Text::new(
            format!("change {}", c.change),
            (x(c.at_ms), top),
            ("sans-serif", 12).into_font().color(&CHANGE),
        );
        chart
            .draw_series(std::iter::once(label))
            .map_err(drawing_error)?;
    }
    for &restart_ms in &input.restarts {
        let dots = (0..rows * 4).map(|k| {
            let y = k as f64 / 4.0;
            PathElement::new(
                vec![(x(restart_ms), y), (x(restart_ms), y + 0.12)],
                RESTART.stroke_width(2),
            )
        });
        chart.draw_series(dots).map_err(drawing_error)?;
    }
    Ok(())
}

/// A linear axis from 0 with ticks at chosen values, which plotters' own axes cannot place.
struct TickedAxis {
    max: f64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    fn new(max: f64, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis { max, ticks }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = if self.max > 0.0 {
            value / self.max
        } else {
            0.0
        };
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.max
    }
}

/// Ticks on the x axis at multiples of a whole step in units, at most 13 of them.
fn x_ticks(x_max: f64) -> Vec<f64> {
    let steps = [1.0, 2.0, 4.0, 6.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0];
    let step = steps
        .into_iter()
        .find(|s| x_max / s <= 12.0)
        .unwrap_or(480.0);
    let count = (x_max / step).floor() as usize;
    (0..=count).map(|k| k as f64 * step).collect()
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13).into_font();
    let labels = [
        "allow",
        "deny",
        "stale-allow window",
        "stale-deny window",
        "directory change",
        "restart",
        "token issued",
        "token expires",
    ];
    for (k, label) in labels.iter().enumerate() {
        let column = (k % 4) as i32;
        let row = (k / 4) as i32;
        let (x0, y0) = (20 + column * 195, 6 + row * 24);
        let swatch =
            |colour: RGBColor| Rectangle::new([(x0, y0 + 2), (x0 + 16, y0 + 12)], colour.filled());
        let vertical =
            |style: ShapeStyle| PathElement::new(vec![(x0 + 8, y0), (x0 + 8, y0 + 14)], style);
        match k {
            0 => area.draw(&swatch(ALLOW)),
            1 => area.draw(&swatch(DENY)),
            2 => area.draw(&Rectangle::new(
                [(x0, y0 + 2), (x0 + 16, y0 + 12)],
                STALE_ALLOW.mix(0.25).filled(),
            )),
            3 => area.draw(&Rectangle::new(
                [(x0, y0 + 2), (x0 + 16, y0 + 12)],
                STALE_DENY.mix(0.25).filled(),
            )),
            4 => area.draw(&vertical(CHANGE.stroke_width(2))),
            5 => {
                for dot in 0..3 {
                    let y = y0 + dot * 5;
                    area.draw(&PathElement::new(
                        vec![(x0 + 8, y), (x0 + 8, y + 3)],
                        RESTART.stroke_width(2),
                    ))
                    .map_err(drawing_error)?;
                }
                Ok(())
            }
            6 => area.draw(&TriangleMarker::new((x0 + 8, y0 + 7), 6, TOKEN.filled())),
            _ => area.draw(&Cross::new((x0 + 8, y0 + 7), 5, TOKEN.stroke_width(2))),
        }
        .map_err(drawing_error)?;
        area.draw(&Text::new(label.to_string(), (x0 + 24, y0), font.clone()))
            .map_err(drawing_error)?;
    }
    Ok(())
}
