//! The Markdown summary, `summary.md`: run facts, the loss and the stability measurements per
//! round, and links to the grids.
//!
//! `fmt::Write` for `String` always returns `Ok`, so the result of `write!` is discarded.

use std::fmt::Write;

use irl_store::SplitName;

use crate::grid::{GridName, GridRow, round_label};
use crate::metrics::{format_cell, format_value, group_by_round, has_vae_metrics};
use crate::{INDEX_FILE, ReportInput};

/// Renders the summary. `grids` lists the grid files, sorted by split and then by round.
pub(crate) fn render_summary(input: &ReportInput, grids: &[GridName]) -> String {
    let mut summary = String::new();

    let _ = writeln!(summary, "# Run {}\n", escape(&input.run_name));
    let _ = writeln!(summary, "- Tool version: {}", escape(&input.tool_version));
    let _ = writeln!(
        summary,
        "- Rounds: {} of {}",
        input.rounds_done(),
        input.max_iterations
    );
    let test_value = |round: Option<u32>, name: &str| {
        input
            .metrics
            .iter()
            .rev()
            .find(|row| Some(row.iteration) == round && row.split == SplitName::Test)
            .and_then(|row| row.value(name))
    };
    match input.converged_at {
        Some(round) => {
            let loss = test_value(Some(round), "recon_loss").map_or("-".into(), format_value);
            let _ = writeln!(
                summary,
                "- Converged at round {round}, test recon_loss {loss}"
            );
        }
        None => summary.push_str("- Not converged\n"),
    }
    let last_round = input.metrics.iter().map(|row| row.iteration).max();
    if let Some(accuracy) = test_value(last_round, "class_accuracy") {
        let _ = writeln!(
            summary,
            "- Final class retention (test class_accuracy): {}",
            format_value(accuracy)
        );
    }
    if input.is_in_progress() {
        summary.push_str("- Status: in progress\n");
    }
    let _ = writeln!(summary, "- Full report: [{INDEX_FILE}]({INDEX_FILE})");

    summary.push_str("\n## Loss per round\n\n");
    let rounds = group_by_round(&input.metrics);
    if rounds.is_empty() {
        summary.push_str("No round has finished yet.\n");
    } else {
        let vae = has_vae_metrics(&input.metrics);
        summary
            .push_str("| iteration | train recon_loss | test recon_loss | test loss_vs_original |");
        if vae {
            summary.push_str(" test kl | test active_units |");
        }
        summary.push_str("\n|---:|---:|---:|---:|");
        if vae {
            summary.push_str("---:|---:|");
        }
        summary.push('\n');
        for round in rounds {
            let _ = write!(
                summary,
                "| {} | {} | {} | {} |",
                round.iteration,
                format_cell(round.train, |row| Some(row.recon_loss)),
                format_cell(round.test, |row| Some(row.recon_loss)),
                format_cell(round.test, |row| Some(row.loss_vs_original)),
            );
            if vae {
                let _ = write!(
                    summary,
                    " {} | {} |",
                    format_cell(round.test, |row| row.kl),
                    format_cell(round.test, |row| row.active_units.map(f64::from)),
                );
            }
            summary.push('\n');
        }
    }

    write_stability_table(&mut summary, input);

    summary.push_str("\n## Image grids\n\n");
    if grids.is_empty() {
        summary.push_str("No image snapshots yet.\n");
    }
    let rows = SplitName::ALL
        .into_iter()
        .map(GridRow::Split)
        .chain([GridRow::PriorSamples]);
    for row in rows {
        let links: Vec<String> = grids
            .iter()
            .filter(|grid| grid.row == row)
            .map(|grid| format!("[{}]({})", round_label(grid.round), grid.file_name))
            .collect();
        if !links.is_empty() {
            let _ = writeln!(summary, "- {row}: {}", links.join(", "));
        }
    }

    summary
}

/// Measurements of the stability table, test split.
const STABILITY_COLUMNS: [&str; 5] = [
    "class_accuracy",
    "cka_previous",
    "cka_first",
    "image_effective_rank_ratio",
    "knn_accuracy",
];

/// Writes the test split's stability measurements per round, when the run has them.
fn write_stability_table(summary: &mut String, input: &ReportInput) {
    let rounds = group_by_round(&input.metrics);
    let has = |name: &str| {
        rounds
            .iter()
            .any(|round| round.test.and_then(|row| row.value(name)).is_some())
    };
    let columns: Vec<&str> = STABILITY_COLUMNS
        .into_iter()
        .filter(|name| has(name))
        .collect();
    if columns.is_empty() {
        return;
    }
    summary.push_str("\n## What survives the loop (test images)\n\n| iteration |");
    for name in &columns {
        let _ = write!(summary, " {} |", escape(name));
    }
    summary.push_str("\n|---:|");
    summary.push_str(&"---:|".repeat(columns.len()));
    summary.push('\n');
    for round in rounds {
        let _ = write!(summary, "| {} |", round.iteration);
        for name in &columns {
            let value = round.test.and_then(|row| row.value(name));
            let _ = write!(
                summary,
                " {} |",
                value.map_or("\u{2014}".to_owned(), format_value)
            );
        }
        summary.push('\n');
    }
}

/// Escapes the characters that Markdown treats as inline markup or table syntax.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(
            character,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}
