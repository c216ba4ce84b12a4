//! The comparison of several runs, such as the autoencoder and the VAE on the same data, or the
//! loop variants of a study. Every measurement of every run is overlaid, one plot per
//! measurement, and a table gives each run's last round.
//!
//! A run with several seeds is drawn as the mean over its seeds with a shaded 95% confidence
//! band; a control chain is drawn dashed, as the reference the loop's changes are read against.
//!
//! `fmt::Write` for `String` always returns `Ok`, so the result of `write!` is discarded.

use std::collections::BTreeMap;
use std::fmt::Write;

use irl_store::SplitName;

use crate::html::{STYLE, escape};
use crate::metrics::format_value;
use crate::panels::{PANELS, split_marker};
use crate::plot::{LinePlot, Series, draw_svg, loss_plot, series_color};
use crate::{INDEX_FILE, LOSS_PLOT_FILE, MetricRow, ReportError, ReportFile, SUMMARY_FILE};

/// One round of a compared curve: the value of a single chain, or the mean over seeds with its
/// 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub round: u32,
    pub value: f64,
    /// (low, high) of the interval; `None` for a single chain.
    pub interval: Option<(f64, f64)>,
}

/// One run of a comparison.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    pub name: String,
    /// Chains behind the curves: 1, or the number of seeds.
    pub chains: usize,
    /// True for a control chain (retraining on the original data, or the frozen map).
    pub control: bool,
    /// Points of each (metrics column, split), sorted by round.
    pub curves: BTreeMap<(String, SplitName), Vec<CurvePoint>>,
    /// Round at which each chain's convergence rule fired; `None` where it did not.
    pub converged_at: Vec<Option<u32>>,
}

impl ComparedRun {
    /// Builds the curves of a single chain from its metrics rows.
    pub fn from_rows(
        name: String,
        metrics: &[MetricRow],
        converged_at: Option<u32>,
        control: bool,
    ) -> Self {
        let mut curves: BTreeMap<(String, SplitName), Vec<CurvePoint>> = BTreeMap::new();
        for row in metrics {
            for (measure, value) in row.values() {
                curves
                    .entry((measure.to_owned(), row.split))
                    .or_default()
                    .push(CurvePoint {
                        round: row.iteration,
                        value,
                        interval: None,
                    });
            }
        }
        for points in curves.values_mut() {
            points.sort_by_key(|point| point.round);
        }
        ComparedRun {
            name,
            chains: 1,
            control,
            curves,
            converged_at: vec![converged_at],
        }
    }

    /// Returns the curve of `measure` on `split`, if the run has one.
    fn curve(&self, measure: &str, split: SplitName) -> Option<&[CurvePoint]> {
        self.curves
            .get(&(measure.to_owned(), split))
            .map(Vec::as_slice)
            .filter(|points| !points.is_empty())
    }

    /// Returns the run's legend name: its name, marked as a control or with its seed count.
    fn label(&self) -> String {
        match (self.chains, self.control) {
            (1, false) => self.name.clone(),
            (1, true) => format!("{} (control)", self.name),
            (seeds, false) => format!("{} ({seeds} seeds)", self.name),
            (seeds, true) => format!("{} (control, {seeds} seeds)", self.name),
        }
    }

    /// Builds the plotted line of one curve, in the run's colour.
    fn series(&self, index: usize, split: SplitName, points: &[CurvePoint]) -> Series {
        let mut line = Series::line(
            format!("{} {split}", self.label()),
            series_color(index),
            split_marker(split),
            points
                .iter()
                .map(|point| (point.round, point.value))
                .collect(),
        );
        line.band = points
            .iter()
            .filter_map(|point| point.interval.map(|(low, high)| (point.round, low, high)))
            .collect();
        line.dashed = self.control;
        line
    }
}

/// The columns of the table, each read from the last round of a run: (header, measure, split).
const COLUMNS: [(&str, &str, SplitName); 6] = [
    ("train recon_loss", "recon_loss", SplitName::Train),
    ("test recon_loss", "recon_loss", SplitName::Test),
    ("test loss_vs_original", "loss_vs_original", SplitName::Test),
    ("test class_accuracy", "class_accuracy", SplitName::Test),
    ("test kl", "kl", SplitName::Test),
    ("test active_units", "active_units", SplitName::Test),
];

/// A plot of one measurement on the test split across the runs.
struct MeasurePlot {
    file: String,
    measure: &'static str,
    panel_title: &'static str,
    reading: &'static str,
}

/// Renders the comparison folder: `index.html`, `loss.svg` with every run's train and test loss,
/// one SVG per other measurement on the test split, and `summary.md`.
///
/// # Errors
///
/// Returns [`ReportError::TooFewRuns`] when there is no run, or a single run with a single
/// chain, and [`ReportError::DrawPlot`] when a plot cannot be drawn.
pub fn render_comparison(runs: &[ComparedRun]) -> Result<Vec<ReportFile>, ReportError> {
    if runs.is_empty() || (runs.len() == 1 && runs[0].chains < 2) {
        return Err(ReportError::TooFewRuns(runs.len()));
    }
    let mut files = Vec::new();

    let mut loss_series = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        for split in SplitName::ALL {
            if let Some(points) = run.curve("recon_loss", split) {
                loss_series.push(run.series(index, split, points));
            }
        }
    }
    files.push(ReportFile {
        name: LOSS_PLOT_FILE.to_owned(),
        bytes: draw_svg(&loss_plot(loss_series))?.into_bytes(),
    });

    let mut plots = Vec::new();
    for panel in PANELS {
        for &(measure, _) in panel.measures {
            let series: Vec<Series> = runs
                .iter()
                .enumerate()
                .filter_map(|(index, run)| {
                    run.curve(measure, SplitName::Test)
                        .map(|points| run.series(index, SplitName::Test, points))
                })
                .collect();
            if series.is_empty() {
                continue;
            }
            let file = format!("{}.svg", measure.replace('_', "-"));
            let caption = format!("{measure} (test)");
            let plot = LinePlot {
                caption: &caption,
                y_desc: panel.y_desc,
                scale: panel.scale,
                series,
            };
            files.push(ReportFile {
                name: file.clone(),
                bytes: draw_svg(&plot)?.into_bytes(),
            });
            plots.push(MeasurePlot {
                file,
                measure,
                panel_title: panel.title,
                reading: panel.reading,
            });
        }
    }

    files.push(ReportFile {
        name: INDEX_FILE.to_owned(),
        bytes: render_page(runs, &plots).into_bytes(),
    });
    files.push(ReportFile {
        name: SUMMARY_FILE.to_owned(),
        bytes: render_summary(runs, &plots).into_bytes(),
    });
    Ok(files)
}

fn render_page(runs: &[ComparedRun], plots: &[MeasurePlot]) -> String {
    let names: Vec<&str> = runs.iter().map(|run| run.name.as_str()).collect();
    let mut page = String::new();
    let title = escape(&names.join(" vs "));
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(page, "<title>{title} \u{2013} irl comparison</title>");
    let _ = writeln!(page, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(page, "<h1>{title}</h1>");
    if runs.iter().any(|run| run.chains > 1) {
        page.push_str(
            "<p>A run with several seeds is drawn as the mean over its seeds with a shaded 95% \
             confidence interval (Student's t). Where an interval reaches zero or below on a \
             log axis, its band ends at the bottom of the plot.</p>\n",
        );
    }
    if runs.iter().any(|run| run.control) {
        page.push_str("<p>Control chains are drawn dashed, as reference lines.</p>\n");
    }
    page.push_str("<h2>Reconstruction loss</h2>\n");
    let _ = writeln!(
        page,
        "<img src=\"{LOSS_PLOT_FILE}\" alt=\"Reconstruction loss per round of every run, train \
         and test, on a log scale\">"
    );

    // One heading per group of measurements, with the group's plots side by side.
    let mut heading = "";
    for plot in plots {
        if plot.panel_title != heading {
            if !heading.is_empty() {
                page.push_str("</div>\n");
            }
            heading = plot.panel_title;
            let _ = writeln!(
                page,
                "<h2>{}</h2>\n<p class=\"reading\">{}</p>\n<div class=\"figures\">",
                escape(heading),
                escape(plot.reading)
            );
        }
        let _ = writeln!(
            page,
            "<figure><img src=\"{file}\" alt=\"{measure} on the test split per round of every \
             run\"></figure>",
            file = plot.file,
            measure = plot.measure,
        );
    }
    if !heading.is_empty() {
        page.push_str("</div>\n");
    }

    page.push_str("<h2>Last round of each run</h2>\n<table class=\"metrics\">\n<thead>\n<tr>");
    for header in HEADERS {
        let _ = write!(page, "<th>{header}</th>");
    }
    for (header, _, _) in COLUMNS {
        let _ = write!(page, "<th>{header}</th>");
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");
    for run in runs {
        let _ = write!(page, "<tr><td>{}</td>", escape(&run.name));
        for cell in row_cells(run) {
            let _ = write!(page, "<td class=\"number\">{}</td>", escape(&cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
    page.push_str(
        "<p>A cell of a run with several seeds is the mean of its last round with the 95% \
         interval in brackets; the convergence column lists each seed's round.</p>\n",
    );
    page.push_str("</body>\n</html>\n");
    page
}

/// Headers of the table before [`COLUMNS`]; the first is the run name.
const HEADERS: [&str; 4] = ["run", "seeds", "rounds", "converged at"];

fn render_summary(runs: &[ComparedRun], plots: &[MeasurePlot]) -> String {
    let names: Vec<&str> = runs.iter().map(|run| run.name.as_str()).collect();
    let mut summary = String::new();
    let _ = writeln!(summary, "# Comparison of {}\n", names.join(", "));
    let _ = writeln!(
        summary,
        "Loss curves: [{LOSS_PLOT_FILE}]({LOSS_PLOT_FILE}). A run with several seeds shows the \
         mean of its last round with the 95% interval in brackets.\n"
    );
    if !plots.is_empty() {
        summary.push_str("Measurements on the test split:");
        for plot in plots {
            let _ = write!(summary, " [{}]({})", plot.measure, plot.file);
        }
        summary.push_str("\n\n");
    }
    summary.push('|');
    for header in HEADERS {
        let _ = write!(summary, " {header} |");
    }
    for (header, _, _) in COLUMNS {
        let _ = write!(summary, " {header} |");
    }
    summary.push_str("\n|---|");
    summary.push_str(&"---:|".repeat(COLUMNS.len() + HEADERS.len() - 1));
    summary.push('\n');
    for run in runs {
        let _ = write!(summary, "| {} |", run.name.replace('|', "\\|"));
        for cell in row_cells(run) {
            let _ = write!(summary, " {cell} |");
        }
        summary.push('\n');
    }
    summary
}

/// Formats the cells after the run name: seeds, rounds, convergence rounds, then [`COLUMNS`] of
/// the last round.
fn row_cells(run: &ComparedRun) -> Vec<String> {
    const MISSING: &str = "\u{2014}";
    let last_round = run
        .curves
        .values()
        .filter_map(|points| points.last())
        .map(|point| point.round)
        .max();
    let converged: Vec<String> = run
        .converged_at
        .iter()
        .map(|round| round.map_or_else(|| MISSING.to_owned(), |round| round.to_string()))
        .collect();
    let mut cells = vec![
        run.chains.to_string(),
        last_round.map_or_else(|| "0".to_owned(), |round| round.to_string()),
        converged.join(", "),
    ];
    for (_, measure, split) in COLUMNS {
        let point = run
            .curve(measure, split)
            .and_then(|points| points.iter().rfind(|point| Some(point.round) == last_round));
        cells.push(match point {
            None => MISSING.to_owned(),
            Some(CurvePoint {
                value,
                interval: Some((low, high)),
                ..
            }) => format!(
                "{} [{}, {}]",
                format_value(*value),
                format_value(*low),
                format_value(*high)
            ),
            Some(point) => format_value(point.value),
        });
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(iteration: u32, split: SplitName, recon_loss: f64) -> MetricRow {
        MetricRow {
            iteration,
            split,
            recon_loss,
            loss_vs_original: recon_loss * 2.0,
            mean_sq_change: 0.01,
            reconstruction_term: None,
            kl: None,
            active_units: None,
            measures: BTreeMap::from([("class_accuracy".to_owned(), 0.9)]),
        }
    }

    fn seed_set(name: &str, control: bool) -> ComparedRun {
        let points = |base: f64| {
            (1..=3)
                .map(|round| CurvePoint {
                    round,
                    value: base / f64::from(round),
                    interval: Some((base / f64::from(round) - 1.0, base / f64::from(round) + 1.0)),
                })
                .collect::<Vec<_>>()
        };
        ComparedRun {
            name: name.to_owned(),
            chains: 5,
            control,
            curves: BTreeMap::from([
                (("recon_loss".to_owned(), SplitName::Train), points(30.0)),
                (("recon_loss".to_owned(), SplitName::Test), points(20.0)),
                (("class_accuracy".to_owned(), SplitName::Test), points(0.9)),
            ]),
            converged_at: vec![Some(2), None, Some(3), Some(2), Some(3)],
        }
    }

    fn file<'a>(files: &'a [ReportFile], name: &str) -> &'a str {
        let file = files
            .iter()
            .find(|file| file.name == name)
            .unwrap_or_else(|| panic!("{name} was not rendered"));
        std::str::from_utf8(&file.bytes).unwrap()
    }

    #[test]
    fn single_chain_curves_follow_the_rows() {
        let rows = [
            row(2, SplitName::Test, 4.0),
            row(1, SplitName::Test, 8.0),
            row(1, SplitName::Train, 9.0),
        ];
        let run = ComparedRun::from_rows("ae".into(), &rows, Some(2), false);
        let test = run.curve("recon_loss", SplitName::Test).unwrap();
        assert_eq!(
            test.iter().map(|p| (p.round, p.value)).collect::<Vec<_>>(),
            [(1, 8.0), (2, 4.0)]
        );
        assert!(test.iter().all(|point| point.interval.is_none()));
        assert_eq!(
            run.curve("loss_vs_original", SplitName::Train).unwrap()[0].value,
            18.0
        );
        assert!(run.curve("kl", SplitName::Test).is_none());
        // The last round has a test row only.
        assert_eq!(row_cells(&run)[..5], ["1", "2", "2", "\u{2014}", "4"]);
    }

    #[test]
    fn seed_sets_get_bands_and_controls_get_dashes() {
        let rows = [row(1, SplitName::Test, 8.0), row(1, SplitName::Train, 9.0)];
        let runs = [
            ComparedRun::from_rows("single".into(), &rows, None, false),
            seed_set("loop", false),
            seed_set("baseline", true),
        ];
        let files = render_comparison(&runs).unwrap();
        let loss = file(&files, LOSS_PLOT_FILE);
        assert!(loss.contains("loop (5 seeds) test"), "{loss}");
        assert!(loss.contains("baseline (control, 5 seeds) train"));
        // Two seed sets draw one band per split; the single chain draws none.
        assert_eq!(loss.matches("opacity=\"0.18\"").count(), 4, "{loss}");
        // The control's dashed lines are many short strokes; the loop's are one per split, and
        // two per legend entry.
        let strokes = |color: &str| loss.matches(&format!("stroke=\"{color}\"")).count();
        assert_eq!(strokes("#D55E00"), 6);
        assert!(strokes("#009E73") > 20, "{}", strokes("#009E73"));

        let accuracy = file(&files, "class-accuracy.svg");
        assert!(accuracy.contains("single test"));
        let page = file(&files, INDEX_FILE);
        assert!(page.contains("src=\"class-accuracy.svg\""));
        assert!(!page.contains("kl.svg"), "no run has a KL term");

        let summary = file(&files, SUMMARY_FILE);
        assert!(
            summary.contains(
                "| loop | 5 | 3 | 2, \u{2014}, 3, 2, 3 | 10 [9, 11] | 6.667 [5.667, 7.667] |"
            ),
            "{summary}"
        );
        assert!(summary.contains("| single | 1 | 1 | \u{2014} | 9 | 8 | 16 | 0.9000 |"));
    }

    #[test]
    fn one_seed_set_alone_is_a_comparison() {
        assert!(render_comparison(&[seed_set("loop", false)]).is_ok());
        let rows = [row(1, SplitName::Test, 8.0)];
        let single = ComparedRun::from_rows("ae".into(), &rows, None, false);
        assert!(matches!(
            render_comparison(&[single]),
            Err(ReportError::TooFewRuns(1))
        ));
    }
}
