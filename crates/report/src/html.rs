//! The report page, `index.html`: run facts, the loss plot, a plot per group of measurements,
//! the recall and confusion heat maps, the metrics table, image grids and the resolved pipeline.
//!
//! The page carries its own style sheet and no scripts, and refers only to files of the same
//! folder, so it works when opened from disk without network access.
//!
//! `fmt::Write` for `String` always returns `Ok`, so the result of `write!` is discarded.

use std::collections::BTreeSet;
use std::fmt::Write;

use irl_store::SplitName;

use crate::grid::{CLASS_EXAMPLES_FILE, GridName, GridRow, round_label};
use crate::metrics::{MetricField, format_cell, format_value, group_by_round, has_vae_metrics};
use crate::panels::Panel;
use crate::{CONFUSION_FILE, LOSS_PLOT_FILE, RECALL_MAP_FILE, ReportInput};

/// The figure files of a report besides the loss plot, as [`crate::render`] drew them.
pub(crate) struct Figures<'a> {
    /// Grid files, sorted by split and then by round.
    pub grids: &'a [GridName],
    /// Panels with data, in page order.
    pub panels: Vec<&'static Panel>,
    pub recall_map: bool,
    pub confusion: bool,
    pub class_examples: bool,
}

/// Seconds between reloads of the page while the run is in progress. The runner re-renders
/// the report after each round, so the page shows a new round soon after it finishes.
const REFRESH_SECONDS: u32 = 30;

pub(crate) const STYLE: &str = "\
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.converged { background: #e8f4e8; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
table.grids img { image-rendering: pixelated; display: block; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
figure { margin: 0 0 1.5em; }
figcaption { max-width: 760px; color: #444; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); \
gap: 0 2em; max-width: 1600px; }
.figures img { max-width: 100%; height: auto; }
img.pixels { image-rendering: pixelated; }
";

/// The columns of each split in the metrics table, with the value each one shows.
const METRIC_COLUMNS: [(&str, MetricField); 3] = [
    ("recon_loss", |row| Some(row.recon_loss)),
    ("loss_vs_original", |row| Some(row.loss_vs_original)),
    ("mean_sq_change", |row| Some(row.mean_sq_change)),
];

/// The columns added for a VAE.
const VAE_COLUMNS: [(&str, MetricField); 3] = [
    ("reconstruction_term", |row| row.reconstruction_term),
    ("kl", |row| row.kl),
    ("active_units", |row| row.active_units.map(f64::from)),
];

/// Renders the page.
pub(crate) fn render_index(input: &ReportInput, figures: &Figures<'_>) -> String {
    let mut page = String::new();
    let title = escape(&input.run_name);

    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    if input.is_in_progress() {
        let _ = writeln!(
            page,
            "<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">"
        );
    }
    let _ = writeln!(page, "<title>{title} \u{2013} irl report</title>");
    let _ = writeln!(page, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(page, "<h1>{title}</h1>");

    write_facts(&mut page, input);

    page.push_str("<h2>Reconstruction loss</h2>\n");
    let _ = writeln!(
        page,
        "<img src=\"{LOSS_PLOT_FILE}\" alt=\"Reconstruction loss per round, train and test, \
         on a log scale\">"
    );

    let any_figure = !figures.panels.is_empty() || figures.recall_map || figures.confusion;
    if any_figure {
        page.push_str("<h2>What survives the loop</h2>\n<div class=\"figures\">\n");
    }
    for panel in &figures.panels {
        let _ = writeln!(
            page,
            "<figure><img src=\"{file}\" alt=\"{title} per round\"><figcaption>{reading}\
             </figcaption></figure>",
            file = panel.file,
            title = panel.title,
            reading = escape(panel.reading),
        );
    }
    if figures.recall_map {
        let _ = writeln!(
            page,
            "<figure><img src=\"{RECALL_MAP_FILE}\" alt=\"Recall per class and round\">\
             <figcaption>Share of each class's test images that the reference classifier still \
             assigns to it, round by round; a class that fades is one the loop loses.\
             </figcaption></figure>"
        );
    }
    if let (true, Some(confusion)) = (figures.confusion, &input.confusion) {
        let _ = writeln!(
            page,
            "<figure><img src=\"{CONFUSION_FILE}\" alt=\"Confusion matrix at round {round}\">\
             <figcaption>Reference classifier on round {round}'s test images: true class by \
             row, predicted class by column, with image counts; shading is the share of the \
             row.</figcaption></figure>",
            round = confusion.round,
        );
    }
    if any_figure {
        page.push_str("</div>\n");
    }

    page.push_str("<h2>Metrics per round</h2>\n");
    write_metrics_table(&mut page, input);

    page.push_str("<h2>Image grids</h2>\n");
    write_grid_table(&mut page, figures.grids);
    if figures.class_examples {
        let rounds: Vec<String> = {
            let mut rounds: Vec<u32> = input.class_examples.iter().map(|s| s.round).collect();
            rounds.sort_unstable();
            rounds.into_iter().map(round_label).collect()
        };
        let _ = writeln!(
            page,
            "<figure><img class=\"pixels\" src=\"{CLASS_EXAMPLES_FILE}\" alt=\"One test image \
             of each class across the rounds\"><figcaption>One test image of each class (a row \
             per class, in class order) at {}.</figcaption></figure>",
            rounds.join(", ")
        );
    }

    page.push_str("<h2>Pipeline</h2>\n");
    let _ = writeln!(page, "<pre>{}</pre>", escape(&input.pipeline_yaml));

    page.push_str("</body>\n</html>\n");
    page
}

fn write_facts(page: &mut String, input: &ReportInput) {
    let converged = match input.converged_at {
        Some(round) => format!("at round {round}"),
        None => "not converged".to_owned(),
    };
    let status = if input.is_in_progress() {
        format!("in progress (this page reloads every {REFRESH_SECONDS} s)")
    } else {
        "finished".to_owned()
    };

    let at_round = |round: Option<u32>, name: &str| {
        let row = input
            .metrics
            .iter()
            .rev()
            .find(|row| Some(row.iteration) == round && row.split == SplitName::Test);
        row.and_then(|row| row.value(name))
            .map_or("\u{2014}".to_owned(), format_value)
    };
    let last_round = input.metrics.iter().map(|row| row.iteration).max();

    page.push_str("<dl class=\"facts\">\n");
    let facts = [
        ("Tool version", escape(&input.tool_version)),
        (
            "Rounds",
            format!("{} of {}", input.rounds_done(), input.max_iterations),
        ),
        ("Convergence", converged),
        (
            "Test loss at convergence",
            at_round(input.converged_at, "recon_loss"),
        ),
        (
            "Final class retention",
            at_round(last_round, "class_accuracy"),
        ),
        ("Status", status),
    ];
    for (term, value) in facts {
        let _ = writeln!(page, "<dt>{term}</dt><dd>{value}</dd>");
    }
    page.push_str("</dl>\n");
}

fn write_metrics_table(page: &mut String, input: &ReportInput) {
    let rounds = group_by_round(&input.metrics);
    if rounds.is_empty() {
        page.push_str("<p>No round has finished yet.</p>\n");
        return;
    }
    let mut columns = METRIC_COLUMNS.to_vec();
    if has_vae_metrics(&input.metrics) {
        columns.extend(VAE_COLUMNS);
    }

    page.push_str("<table class=\"metrics\">\n<thead>\n<tr><th rowspan=\"2\">round</th>");
    for split in SplitName::ALL {
        let _ = write!(page, "<th colspan=\"{}\">{split}</th>", columns.len());
    }
    page.push_str("</tr>\n<tr>");
    for _ in SplitName::ALL {
        for (name, _) in &columns {
            let _ = write!(page, "<th>{name}</th>");
        }
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");

    for round in rounds {
        if input.converged_at == Some(round.iteration) {
            page.push_str("<tr class=\"converged\" title=\"the convergence rule fired here\">");
        } else {
            page.push_str("<tr>");
        }
        let _ = write!(page, "<td class=\"number\">{}</td>", round.iteration);
        for row in [round.train, round.test] {
            for &(_, metric) in &columns {
                let _ = write!(
                    page,
                    "<td class=\"number\">{}</td>",
                    format_cell(row, metric)
                );
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
}

/// Writes one row per split (and for a VAE, the prior samples) that has grids and one column
/// per round that any row has.
fn write_grid_table(page: &mut String, grids: &[GridName]) {
    if grids.is_empty() {
        page.push_str("<p>No image snapshots yet.</p>\n");
        return;
    }
    let rounds: BTreeSet<u32> = grids.iter().map(|grid| grid.round).collect();
    let rows: BTreeSet<GridRow> = grids.iter().map(|grid| grid.row).collect();

    page.push_str("<div class=\"scroll\">\n<table class=\"grids\">\n<tr><th>split</th>");
    for &round in &rounds {
        let _ = write!(page, "<th>{}</th>", round_label(round));
    }
    page.push_str("</tr>\n");

    for row in rows {
        let _ = write!(page, "<tr><th>{row}</th>");
        for &round in &rounds {
            let grid = grids
                .iter()
                .find(|grid| grid.row == row && grid.round == round);
            match grid {
                Some(grid) => {
                    let _ = write!(
                        page,
                        "<td><a href=\"{file}\"><img src=\"{file}\" alt=\"{row}, {label}\"></a></td>",
                        file = grid.file_name,
                        label = round_label(grid.round),
                    );
                }
                None => page.push_str("<td>\u{2014}</td>"),
            }
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n</div>\n");
}

/// Escapes the characters that HTML gives a meaning in text and in quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(character),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
    }
}
