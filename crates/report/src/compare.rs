//! The comparison of several runs, such as the autoencoder and the VAE on the same data: their
//! loss curves overlaid in one plot, and a table of each run's last round.
//!
//! `fmt::Write` for `String` always returns `Ok`, so the result of `write!` is discarded.

use std::fmt::Write;

use crate::html::{STYLE, escape};
use crate::metrics::{MetricField, format_cell, group_by_round};
use crate::{INDEX_FILE, LOSS_PLOT_FILE, MetricRow, ReportError, ReportFile, SUMMARY_FILE};

/// One run of a comparison.
#[derive(Debug, Clone)]
pub struct ComparedRun {
    pub name: String,
    pub metrics: Vec<MetricRow>,
    /// Round at which the run's convergence rule fired, if it did.
    pub converged_at: Option<u32>,
}

/// The columns of the table, each read from the last round of a run.
const COLUMNS: [(&str, bool, MetricField); 5] = [
    ("train recon_loss", false, |row| Some(row.recon_loss)),
    ("test recon_loss", true, |row| Some(row.recon_loss)),
    ("test loss_vs_original", true, |row| {
        Some(row.loss_vs_original)
    }),
    ("test kl", true, |row| row.kl),
    ("test active_units", true, |row| {
        row.active_units.map(f64::from)
    }),
];

/// Renders the comparison folder: `index.html`, `loss.svg` with every run's train and test
/// curves, and `summary.md`.
///
/// # Errors
///
/// Returns [`ReportError::TooFewRuns`] for fewer than two runs, and
/// [`ReportError::DrawPlot`] when the plot cannot be drawn.
pub fn render_comparison(runs: &[ComparedRun]) -> Result<Vec<ReportFile>, ReportError> {
    if runs.len() < 2 {
        return Err(ReportError::TooFewRuns(runs.len()));
    }
    let curves: Vec<(&str, &[MetricRow])> = runs
        .iter()
        .map(|run| (run.name.as_str(), run.metrics.as_slice()))
        .collect();
    let plot = crate::plot::render_comparison_plot(&curves)?;
    let names: Vec<&str> = runs.iter().map(|run| run.name.as_str()).collect();

    let mut page = String::new();
    let title = escape(&names.join(" vs "));
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(page, "<title>{title} \u{2013} irl comparison</title>");
    let _ = writeln!(page, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(page, "<h1>{title}</h1>");
    page.push_str("<h2>Reconstruction loss</h2>\n");
    let _ = writeln!(
        page,
        "<img src=\"{LOSS_PLOT_FILE}\" alt=\"Reconstruction loss per round of every run, train \
         and test, on a log scale\">"
    );
    page.push_str("<h2>Last round of each run</h2>\n<table class=\"metrics\">\n<thead>\n<tr>");
    for header in ["run", "rounds", "converged at"] {
        let _ = write!(page, "<th>{header}</th>");
    }
    for (header, _, _) in COLUMNS {
        let _ = write!(page, "<th>{header}</th>");
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");
    for run in runs {
        let cells = row_cells(run);
        let _ = write!(page, "<tr><td>{}</td>", escape(&run.name));
        for cell in &cells {
            let _ = write!(page, "<td class=\"number\">{cell}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n</body>\n</html>\n");

    let mut summary = String::new();
    let _ = writeln!(summary, "# Comparison of {}\n", names.join(", "));
    let _ = writeln!(
        summary,
        "Loss curves: [{LOSS_PLOT_FILE}]({LOSS_PLOT_FILE})\n"
    );
    summary.push_str("| run | rounds | converged at |");
    for (header, _, _) in COLUMNS {
        let _ = write!(summary, " {header} |");
    }
    summary.push_str("\n|---|");
    summary.push_str(&"---:|".repeat(COLUMNS.len() + 2));
    summary.push('\n');
    for run in runs {
        let _ = write!(summary, "| {} |", run.name.replace('|', "\\|"));
        for cell in row_cells(run) {
            let _ = write!(summary, " {cell} |");
        }
        summary.push('\n');
    }

    Ok(vec![
        ReportFile {
            name: INDEX_FILE.to_owned(),
            bytes: page.into_bytes(),
        },
        ReportFile {
            name: LOSS_PLOT_FILE.to_owned(),
            bytes: plot.into_bytes(),
        },
        ReportFile {
            name: SUMMARY_FILE.to_owned(),
            bytes: summary.into_bytes(),
        },
    ])
}

/// Formats the cells after the run name: rounds, convergence round, then [`COLUMNS`] of the last
/// round.
fn row_cells(run: &ComparedRun) -> Vec<String> {
    let rounds = group_by_round(&run.metrics);
    let last = rounds.last();
    let mut cells = vec![
        rounds.len().to_string(),
        run.converged_at
            .map_or_else(|| "\u{2014}".to_owned(), |round| round.to_string()),
    ];
    for (_, test, metric) in COLUMNS {
        let row = last.and_then(|round| if test { round.test } else { round.train });
        cells.push(format_cell(row, metric));
    }
    cells
}
