//! Renders one run's report, a self-contained HTML page with the loss plot and image grids, and
//! the comparison of several runs' loss curves.
//!
//! [`render`] returns the files of a report folder as bytes and writes nothing, so the runner
//! decides where the folder lives and can re-render it after every round. The page refers to
//! the other files by relative names and loads nothing from the network, so it works when
//! opened straight from disk.

mod compare;
mod grid;
mod heatmap;
mod html;
mod markdown;
mod metrics;
mod panels;
mod plot;

use std::collections::{BTreeMap, BTreeSet};

use irl_store::{Split, SplitName};

/// Name of the HTML page in the report folder.
pub const INDEX_FILE: &str = "index.html";
/// Name of the loss plot (SVG) in the report folder.
pub const LOSS_PLOT_FILE: &str = "loss.svg";
/// Name of the Markdown summary in the report folder.
pub const SUMMARY_FILE: &str = "summary.md";
/// Name of the per-class recall heat map in the report folder.
pub const RECALL_MAP_FILE: &str = "class-recall.svg";
/// Name of the confusion matrix plot in the report folder.
pub const CONFUSION_FILE: &str = "confusion.svg";

/// Version of the report stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 5;

pub use compare::{ComparedRun, CurvePoint, render_comparison};
/// One row of a run's metrics table: one round, one split.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Round, 1-based.
    pub iteration: u32,
    pub split: SplitName,
    /// Reconstruction loss on the round's input: squared error summed over the pixels of an
    /// image, averaged over the images.
    pub recon_loss: f64,
    /// The same loss between the round's output and the original (round-0) images.
    pub loss_vs_original: f64,
    /// Mean over pixels and images of the squared change from the round's input to its output.
    pub mean_sq_change: f64,
    /// VAE only: the reconstruction term of the VAE loss on the round's input.
    pub reconstruction_term: Option<f64>,
    /// VAE only: the KL term of the VAE loss on the round's input.
    pub kl: Option<f64>,
    /// VAE only: latent dimensions whose posterior mean varies over the data.
    pub active_units: Option<u32>,
    /// The other measurements of the round, by metrics column name (`class_accuracy`,
    /// `cka_previous`, ...); a measurement the round lacks is absent.
    pub measures: BTreeMap<String, f64>,
}

impl MetricRow {
    /// Returns the measurement `name` (a metrics column), or `None` where the row lacks it.
    pub fn value(&self, name: &str) -> Option<f64> {
        match name {
            "recon_loss" => Some(self.recon_loss),
            "loss_vs_original" => Some(self.loss_vs_original),
            "mean_sq_change" => Some(self.mean_sq_change),
            "reconstruction_term" => self.reconstruction_term,
            "kl" => self.kl,
            "active_units" => self.active_units.map(f64::from),
            _ => self.measures.get(name).copied(),
        }
    }

    /// Lists every measurement the row has, by metrics column name.
    pub fn values(&self) -> Vec<(&str, f64)> {
        let fixed = [
            ("recon_loss", Some(self.recon_loss)),
            ("loss_vs_original", Some(self.loss_vs_original)),
            ("mean_sq_change", Some(self.mean_sq_change)),
            ("reconstruction_term", self.reconstruction_term),
            ("kl", self.kl),
            ("active_units", self.active_units.map(f64::from)),
        ];
        fixed
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name, value)))
            .chain(
                self.measures
                    .iter()
                    .map(|(name, &value)| (name.as_str(), value)),
            )
            .collect()
    }
}

/// Recall of one class at one round and split: the share of its images that the reference
/// classifier assigns to it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallCell {
    pub round: u32,
    pub split: SplitName,
    pub class: u32,
    pub recall: f64,
}

/// The reference classifier's confusion matrix on one round's test images.
#[derive(Debug, Clone, PartialEq)]
pub struct Confusion {
    pub round: u32,
    /// (true class, predicted class, images); pairs without images may be absent.
    pub counts: Vec<(u32, u32, u64)>,
}

/// A VAE's decodes of the fixed prior latents at one round.
#[derive(Debug, Clone)]
pub struct PriorSamples {
    pub round: u32,
    /// The decoded images; the labels are -1, since prior samples have no class.
    pub images: Split,
}

/// The first images of one split at one round; round 0 is the original data.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub round: u32,
    pub split: SplitName,
    pub images: Split,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub run_name: String,
    pub metrics: Vec<MetricRow>,
    /// Round at which the convergence rule fired, if it did.
    pub converged_at: Option<u32>,
    pub max_iterations: u32,
    pub snapshots: Vec<Snapshot>,
    /// VAE only: decoded prior samples of the snapshot rounds.
    pub prior_samples: Vec<PriorSamples>,
    /// One test image of each class, in class order, at each snapshot round (labels are the
    /// classes): the page draws one row per class across the rounds.
    pub class_examples: Vec<Snapshot>,
    /// Per-class recall of every round (round 0: the original images).
    pub class_recall: Vec<RecallCell>,
    /// Confusion matrix of the chosen round, where the run has one.
    pub confusion: Option<Confusion>,
    /// Resolved pipeline, as saved with the run.
    pub pipeline_yaml: String,
    pub tool_version: String,
}

impl ReportInput {
    /// Counts the distinct rounds that have at least one metrics row.
    pub fn rounds_done(&self) -> u32 {
        let rounds: BTreeSet<u32> = self.metrics.iter().map(|row| row.iteration).collect();
        u32::try_from(rounds.len()).unwrap_or(u32::MAX)
    }

    /// True while the run can still add rounds: fewer than `max_iterations` are done and the
    /// convergence rule has not fired.
    pub fn is_in_progress(&self) -> bool {
        self.converged_at.is_none() && self.rounds_done() < self.max_iterations
    }
}

/// One rendered file, named relative to the report folder.
#[derive(Debug, Clone)]
pub struct ReportFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A report that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("failed to draw the loss plot {LOSS_PLOT_FILE}")]
    DrawPlot {
        #[source]
        source: plotters::drawing::DrawingAreaErrorKind<std::io::Error>,
    },
    #[error("failed to encode image grid {file} as PNG")]
    EncodePng {
        file: String,
        #[source]
        source: image::ImageError,
    },
    #[error("invalid {split} snapshot of round {round}: {problem}")]
    InvalidSnapshot {
        split: SplitName,
        round: u32,
        problem: String,
    },
    #[error("invalid prior samples of round {round}: {problem}")]
    InvalidPriorSamples { round: u32, problem: String },
    #[error(
        "a comparison needs two runs or a run with several seeds, found {0} run(s) with one \
         chain; name another run"
    )]
    TooFewRuns(usize),
}

/// Renders the report folder of `input`. It contains the HTML page, the loss plot, a plot per
/// group of measurements, and the recall and confusion heat maps. It also contains one PNG grid
/// per snapshot, the grid of one image per class across the rounds, and the Markdown summary.
///
/// # Errors
///
/// Returns [`ReportError::InvalidSnapshot`] when a snapshot is empty, has a channel count
/// other than 1 or 3, has a value count that does not match its shape, or repeats the split and
/// round of another snapshot. Returns the other variants when drawing or encoding fails.
pub fn render(input: &ReportInput) -> Result<Vec<ReportFile>, ReportError> {
    let grids = grid::render_grids(&input.snapshots, &input.prior_samples)?;
    let grid_names: Vec<grid::GridName> = grids.iter().map(|(name, _)| name.clone()).collect();
    let loss_plot = plot::render_loss_plot(&input.metrics)?;
    let panels = panels::render_panels(&input.metrics)?;
    let recall_map = heatmap::render_recall_map(&input.class_recall)?;
    let confusion = match &input.confusion {
        Some(confusion) => heatmap::render_confusion(confusion)?,
        None => None,
    };
    let class_examples = grid::render_class_examples(&input.class_examples)?;
    let figures = html::Figures {
        grids: &grid_names,
        panels: panels.iter().map(|(panel, _)| *panel).collect(),
        recall_map: recall_map.is_some(),
        confusion: confusion.is_some(),
        class_examples: class_examples.is_some(),
    };

    let mut files = vec![
        ReportFile {
            name: INDEX_FILE.to_owned(),
            bytes: html::render_index(input, &figures).into_bytes(),
        },
        ReportFile {
            name: LOSS_PLOT_FILE.to_owned(),
            bytes: loss_plot.into_bytes(),
        },
        ReportFile {
            name: SUMMARY_FILE.to_owned(),
            bytes: markdown::render_summary(input, &grid_names).into_bytes(),
        },
    ];
    for (name, png) in grids {
        files.push(ReportFile {
            name: name.file_name,
            bytes: png,
        });
    }
    for (panel, svg) in panels {
        files.push(ReportFile {
            name: panel.file.to_owned(),
            bytes: svg.into_bytes(),
        });
    }
    for (name, svg) in [(RECALL_MAP_FILE, recall_map), (CONFUSION_FILE, confusion)] {
        if let Some(svg) = svg {
            files.push(ReportFile {
                name: name.to_owned(),
                bytes: svg.into_bytes(),
            });
        }
    }
    if let Some(png) = class_examples {
        files.push(ReportFile {
            name: grid::CLASS_EXAMPLES_FILE.to_owned(),
            bytes: png,
        });
    }
    Ok(files)
}
