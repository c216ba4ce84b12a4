//! Line plots of a measurement per round: the reconstruction loss on a log-scale y axis, train
//! and test, for one run or several overlaid, and the other measurements of the evaluate stage
//! on log or linear axes.
//!
//! Drawn with plotters' SVG backend and no font backend (neither the `ttf` nor the `ab_glyph`
//! feature). The SVG backend writes text as `<text>` elements for the browser to lay out, and
//! plotters 0.3.7 then only estimates text extents to place labels, so the build needs no
//! system font libraries.

use irl_store::SplitName;
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordu32;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::metrics::format_value;
use crate::{MetricRow, ReportError};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 440;
const FONT: &str = "sans-serif";
/// Blue and orange stay distinct for the common forms of colour blindness.
const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
const TEST_COLOR: RGBColor = RGBColor(230, 115, 0);
/// One colour per run when runs are overlaid (Okabe and Ito's palette, safe for colour
/// blindness); the marker shows the split.
const RUN_COLORS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Shape drawn at each point of a line. The two series get different shapes so that they stay
/// apart in grayscale print.
#[derive(Clone, Copy)]
pub(crate) enum Marker {
    Circle,
    Triangle,
}

/// One line of the plot: the (round, value) points of one measurement and split.
pub(crate) struct Series {
    pub label: String,
    pub color: RGBColor,
    pub marker: Marker,
    pub points: Vec<(u32, f64)>,
    /// (round, low, high) of a shaded band around the line, such as a confidence interval over
    /// seeds; empty for none.
    pub band: Vec<(u32, f64, f64)>,
    /// Drawn dashed: a reference line, such as a control chain.
    pub dashed: bool,
}

impl Series {
    /// Creates a solid line without a band.
    pub fn line(label: String, color: RGBColor, marker: Marker, points: Vec<(u32, f64)>) -> Self {
        Series {
            label,
            color,
            marker,
            points,
            band: Vec::new(),
            dashed: false,
        }
    }
}

/// Y axis of a plot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Logarithmic; values that are not positive are left out.
    Log,
    Linear,
}

/// A plot of several lines against the round.
pub(crate) struct LinePlot<'a> {
    pub caption: &'a str,
    pub y_desc: &'a str,
    pub scale: Scale,
    pub series: Vec<Series>,
}

/// Colour of the k-th measurement of a plot.
pub(crate) fn series_color(index: usize) -> RGBColor {
    RUN_COLORS[index % RUN_COLORS.len()]
}

/// Renders the loss plot of one run as an SVG document.
pub(crate) fn render_loss_plot(metrics: &[MetricRow]) -> Result<String, ReportError> {
    let series = vec![
        Series::line(
            "train".into(),
            TRAIN_COLOR,
            Marker::Circle,
            points_of(metrics, SplitName::Train),
        ),
        Series::line(
            "test".into(),
            TEST_COLOR,
            Marker::Triangle,
            points_of(metrics, SplitName::Test),
        ),
    ];
    draw_svg(&loss_plot(series))
}

/// Builds the loss plot of `series`.
pub(crate) fn loss_plot(series: Vec<Series>) -> LinePlot<'static> {
    LinePlot {
        caption: "Reconstruction loss per round",
        y_desc: "recon_loss (log scale)",
        scale: Scale::Log,
        series,
    }
}

/// Renders `plot` as an SVG document.
pub(crate) fn draw_svg(plot: &LinePlot<'_>) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, plot).map_err(|source| ReportError::DrawPlot { source })?;
    }
    Ok(svg)
}

/// Collects the plottable (round, recon_loss) points of one split, sorted by round.
///
/// NOTE: losses that are zero, negative or not finite have no place on a log axis, so they are
/// left out of the plot. The metrics table still shows them.
fn points_of(metrics: &[MetricRow], split: SplitName) -> Vec<(u32, f64)> {
    let mut points: Vec<(u32, f64)> = metrics
        .iter()
        .filter(|row| row.split == split && row.recon_loss.is_finite() && row.recon_loss > 0.0)
        .map(|row| (row.iteration, row.recon_loss))
        .collect();
    points.sort_by_key(|&(round, _)| round);
    points
}

fn draw(root: &DrawingArea<SVGBackend<'_>, Shift>, plot: &LinePlot<'_>) -> DrawResult {
    root.fill(&WHITE)?;

    let fits = |value: f64| value.is_finite() && (plot.scale == Scale::Linear || value > 0.0);
    let mut plotted: Vec<Series> = plot
        .series
        .iter()
        .map(|line| Series {
            label: line.label.clone(),
            color: line.color,
            marker: line.marker,
            points: line
                .points
                .iter()
                .copied()
                .filter(|&(_, value)| fits(value))
                .collect(),
            // A lower bound at or below zero stays: on a log axis it is drawn at the bottom.
            band: line
                .band
                .iter()
                .copied()
                .filter(|&(_, low, high)| low.is_finite() && fits(high))
                .collect(),
            dashed: line.dashed,
        })
        .filter(|line| !line.points.is_empty())
        .collect();
    // The axis spans the bands as well as the lines.
    let band_points: Vec<(u32, f64)> = plotted
        .iter()
        .flat_map(|line| line.band.iter())
        .flat_map(|&(round, low, high)| [(round, low), (round, high)])
        .filter(|&(_, value)| fits(value))
        .collect();
    let all_points = plotted
        .iter()
        .flat_map(|line| line.points.iter())
        .chain(band_points.iter());
    let last_round = all_points.clone().map(|&(round, _)| round).max();
    let (Some(last_round), Some(min), Some(max)) = (
        last_round,
        all_points.clone().map(|&(_, v)| v).min_by(f64::total_cmp),
        all_points.map(|&(_, v)| v).max_by(f64::total_cmp),
    ) else {
        return draw_placeholder(root, plot.caption);
    };

    // Round 0 (the original data) has no loss, but starting the axis there leaves a margin
    // before round 1. The y range is widened so that the extreme points do not sit on the frame.
    let x_range = 0..last_round + 1;
    let builder = |root| {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(plot.caption, (FONT, 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(76);
        builder
    };
    match plot.scale {
        Scale::Log => {
            let (y_min, y_max) = (min / 1.15, max * 1.15);
            for line in &mut plotted {
                for (_, low, _) in &mut line.band {
                    *low = low.max(y_min);
                }
            }
            let y_axis = (y_min..y_max)
                .log_scale()
                .with_key_points(log_axis_ticks(y_min, y_max));
            let chart = builder(root).build_cartesian_2d(x_range, y_axis)?;
            finish(chart, plot.y_desc, &plotted)?;
        }
        Scale::Linear => {
            let pad = ((max - min) * 0.08).max(max.abs() * 0.02).max(1e-3);
            let (y_min, y_max) = (min - pad, max + pad);
            let chart = builder(root).build_cartesian_2d(x_range, y_min..y_max)?;
            finish(chart, plot.y_desc, &plotted)?;
        }
    }
    root.present()
}

/// Draws the mesh, the lines with their markers and the legend of a built chart.
fn finish<'a, 'b: 'a, Y>(
    mut chart: ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordu32, Y>>,
    y_desc: &str,
    series: &[Series],
) -> DrawResult
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    // Plotters' linear ticks can miss zero by a rounding error (-1.388e-17 was seen on a ratio
    // axis), so a tick that close to zero, relative to the axis span, is labelled 0.
    let y_range = chart.as_coord_spec().y_spec().range();
    let near_zero = (y_range.end - y_range.start).abs() * 1e-9;
    let label = move |value: &f64| {
        if value.abs() < near_zero {
            "0".to_owned()
        } else {
            format_tick(*value)
        }
    };
    chart
        .configure_mesh()
        .x_desc("round")
        .y_desc(y_desc)
        .x_label_formatter(&|round| round.to_string())
        .y_label_formatter(&label)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()?;

    // Bands first, so that every line stays visible on top of them.
    for line in series.iter().filter(|line| line.band.len() > 1) {
        let outline: Vec<(u32, f64)> = line
            .band
            .iter()
            .map(|&(round, _, high)| (round, high))
            .chain(line.band.iter().rev().map(|&(round, low, _)| (round, low)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(
            outline,
            line.color.mix(0.18).filled(),
        )))?;
    }

    for line in series {
        let color = line.color;
        let dashed = line.dashed;
        // The legend's sample line in two pieces on either side of the marker at x = 2; dashed
        // lines leave a gap before and after the marker.
        let gap = if dashed { 7 } else { 0 };
        let sample = move || {
            let stroke = color.stroke_width(2);
            (
                PathElement::new(vec![(-12, 0), (2 - gap, 0)], stroke),
                PathElement::new(vec![(2 + gap, 0), (16, 0)], stroke),
            )
        };
        let points = line.points.iter().copied();
        let annotation = if dashed {
            chart.draw_series(DashedLineSeries::new(points, 7, 5, color.stroke_width(2)))?
        } else {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?
        }
        .label(line.label.as_str());

        match line.marker {
            Marker::Circle => {
                annotation.legend(move |at| {
                    let (left, right) = sample();
                    EmptyElement::at(at) + left + right + Circle::new((2, 0), 4, color.filled())
                });
                chart.draw_series(
                    line.points
                        .iter()
                        .map(|&point| Circle::new(point, 4, color.filled())),
                )?;
            }
            Marker::Triangle => {
                annotation.legend(move |at| {
                    let (left, right) = sample();
                    EmptyElement::at(at)
                        + left
                        + right
                        + TriangleMarker::new((2, 0), 5, color.filled())
                });
                chart.draw_series(
                    line.points
                        .iter()
                        .map(|&point| TriangleMarker::new(point, 5, color.filled())),
                )?;
            }
        }
    }

    let position = legend_corner(&chart, series);
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// Picks the corner for the legend that covers the fewest points of the lines, sampled along
/// each segment: upper right, then lower right, upper left and lower left on a tie.
fn legend_corner<Y>(
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordu32, Y>>,
    series: &[Series],
) -> SeriesLabelPosition
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    // The legend's size in pixels, estimated from 14 px text: a row per line, and the longest
    // label plus the sample line.
    let longest = series.iter().map(|line| line.label.chars().count()).max();
    let width = 60 + 8 * i32::try_from(longest.unwrap_or(0)).unwrap_or(i32::MAX / 16);
    let height = 16 + 20 * i32::try_from(series.len()).unwrap_or(i32::MAX / 32);

    let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
    let spec = chart.as_coord_spec();
    let mut pixels = Vec::new();
    for line in series {
        for pair in line.points.windows(2) {
            let (from, to) = (spec.translate(&pair[0]), spec.translate(&pair[1]));
            for step in 0..=8 {
                pixels.push((
                    from.0 + (to.0 - from.0) * step / 8,
                    from.1 + (to.1 - from.1) * step / 8,
                ));
            }
        }
        if let [point] = line.points.as_slice() {
            pixels.push(spec.translate(point));
        }
    }

    let (left, right) = (x_pixels.start, x_pixels.end);
    let (top, bottom) = (y_pixels.start, y_pixels.end);
    let covered = |x: std::ops::Range<i32>, y: std::ops::Range<i32>| {
        pixels
            .iter()
            .filter(|(px, py)| x.contains(px) && y.contains(py))
            .count()
    };
    let corners = [
        (
            SeriesLabelPosition::UpperRight,
            right - width..right,
            top..top + height,
        ),
        (
            SeriesLabelPosition::LowerRight,
            right - width..right,
            bottom - height..bottom,
        ),
        (
            SeriesLabelPosition::UpperLeft,
            left..left + width,
            top..top + height,
        ),
        (
            SeriesLabelPosition::LowerLeft,
            left..left + width,
            bottom - height..bottom,
        ),
    ];
    corners
        .into_iter()
        .enumerate()
        .min_by_key(|(order, (_, x, y))| (covered(x.clone(), y.clone()), *order))
        .map_or(SeriesLabelPosition::UpperRight, |(_, (position, _, _))| {
            position
        })
}

/// Picks the y-axis ticks between `min` and `max` (both positive).
///
/// The log axis of plotters 0.3.7 only places ticks at powers of ten and their multiples, so a range
/// inside one decade, such as 14 to 38, would get no tick at all. This tries mantissas 1, then
/// 1-2-5, then 1 to 9 in every decade and keeps the first set that gives at least four ticks.
/// A range too narrow for any of them gets evenly spaced ticks.
fn log_axis_ticks(min: f64, max: f64) -> Vec<f64> {
    const MIN_TICKS: usize = 4;
    let mantissa_sets: [&[f64]; 3] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];

    let first_decade = min.log10().floor() as i32;
    let last_decade = max.log10().floor() as i32;
    for mantissas in mantissa_sets {
        let ticks: Vec<f64> = (first_decade..=last_decade)
            .flat_map(|decade| {
                mantissas
                    .iter()
                    .map(move |&mantissa| mantissa * 10_f64.powi(decade))
            })
            .filter(|&tick| (min..=max).contains(&tick))
            .collect();
        if ticks.len() >= MIN_TICKS {
            return ticks;
        }
    }

    linear_ticks(min, max)
}

/// Ticks at multiples of a 1, 2 or 5 step, chosen so that about five fall between `min` and
/// `max`.
fn linear_ticks(min: f64, max: f64) -> Vec<f64> {
    let rough_step = (max - min) / 5.0;
    let magnitude = 10_f64.powf(rough_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|&step| step >= rough_step)
        .unwrap_or(10.0 * magnitude);

    let first = (min / step).ceil() as i64;
    let last = (max / step).floor() as i64;
    (first..=last)
        .map(|multiple| multiple as f64 * step)
        .collect()
}

/// Formats a tick value with at most four significant digits and no trailing zeros, so that
/// 20 reads "20" rather than "20.00".
fn format_tick(value: f64) -> String {
    let formatted = format_value(value);
    let (mantissa, exponent) = match formatted.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, format!("e{exponent}")),
        None => (formatted.as_str(), String::new()),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa}{exponent}")
}

/// Draws a frame with a message when no round has a plottable value yet.
fn draw_placeholder(root: &DrawingArea<SVGBackend<'_>, Shift>, caption: &str) -> DrawResult {
    let style = TextStyle::from((FONT, 18).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(
        format!("{caption}: no round has a value to plot yet."),
        (WIDTH as i32 / 2, HEIGHT as i32 / 2),
        style,
    ))?;
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted_ticks(min: f64, max: f64) -> Vec<String> {
        log_axis_ticks(min, max)
            .into_iter()
            .map(format_tick)
            .collect()
    }

    #[test]
    fn ticks_cover_decades_when_range_is_wide() {
        assert_eq!(
            formatted_ticks(0.05, 2000.0),
            ["0.1", "1", "10", "100", "1000"]
        );
    }

    #[test]
    fn ticks_add_two_and_five_within_few_decades() {
        assert_eq!(
            formatted_ticks(0.5, 60.0),
            ["0.5", "1", "2", "5", "10", "20", "50"]
        );
    }

    #[test]
    fn ticks_use_all_mantissas_within_one_decade() {
        assert_eq!(
            formatted_ticks(1.5, 9.5),
            ["2", "3", "4", "5", "6", "7", "8", "9"]
        );
    }

    #[test]
    fn ticks_fall_back_to_even_spacing() {
        assert_eq!(formatted_ticks(14.0, 38.0), ["15", "20", "25", "30", "35"]);
        assert_eq!(
            formatted_ticks(17.95, 18.35),
            ["18", "18.1", "18.2", "18.3"]
        );
    }

    #[test]
    fn tick_labels_drop_trailing_zeros() {
        let cases = [
            (20.0, "20"),
            (0.1 * 3.0, "0.3"),
            (1234.6, "1235"),
            (1.5e7, "1.5e7"),
            (2.5e-5, "2.5e-5"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_tick(value), expected, "formatting {value}");
        }
    }
}
