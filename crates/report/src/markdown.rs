//! The Markdown summary, `summary.md`: run facts, the loss per round and links to the grids.
//!
//! `fmt::Write` for `String` always returns `Ok`, so the result of `write!` is discarded.

use std::fmt::Write;

use irl_store::SplitName;

use crate::grid::{GridName, GridRow, round_label};
use crate::metrics::{format_cell, group_by_round, has_vae_metrics};
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
    match input.converged_at {
        Some(round) => {
            let _ = writeln!(summary, "- Converged at round {round}");
        }
        None => summary.push_str("- Not converged\n"),
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
