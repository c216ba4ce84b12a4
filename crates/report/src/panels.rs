//! One plot per group of measurements of the evaluate stage, each against the round.
//!
//! A panel lists measurements (metrics columns) and the splits to draw them for. It is drawn
//! only when at least one round has one of its measurements, so an autoencoder's report has no
//! VAE panels and a run from before a measurement existed shows what it has.

use irl_store::SplitName;

use crate::plot::{LinePlot, Marker, Scale, Series, draw_svg, series_color};
use crate::{MetricRow, ReportError};

/// A group of measurements drawn in one plot.
pub(crate) struct Panel {
    /// File name of the plot in the report folder.
    pub file: &'static str,
    pub title: &'static str,
    /// Caption under the plot: how to read it.
    pub reading: &'static str,
    pub y_desc: &'static str,
    pub scale: Scale,
    /// (metrics column, splits) of each measurement.
    pub measures: &'static [(&'static str, &'static [SplitName])],
}

const BOTH: &[SplitName] = &[SplitName::Train, SplitName::Test];
const TEST: &[SplitName] = &[SplitName::Test];

/// Every panel, in page order.
pub(crate) const PANELS: &[Panel] = &[
    Panel {
        file: "loss-vs-original.svg",
        title: "Distance from the original images",
        reading: "loss_vs_original: the round's output against the original images. \
                  model_on_original_loss: the round's model reconstructing the original test \
                  images.",
        y_desc: "squared error per image (log scale)",
        scale: Scale::Log,
        measures: &[("loss_vs_original", BOTH), ("model_on_original_loss", TEST)],
    },
    Panel {
        file: "normalised-loss.svg",
        title: "Normalised loss",
        reading: "recon_loss divided by the total pixel variance of the round's input: the share \
                  of the input's variation the round loses.",
        y_desc: "normalised_loss (log scale)",
        scale: Scale::Log,
        measures: &[("normalised_loss", BOTH)],
    },
    Panel {
        file: "class-retention.svg",
        title: "Class retention",
        reading: "Accuracy of the reference classifier, trained on the original images, on each \
                  round's output.",
        y_desc: "class_accuracy",
        scale: Scale::Linear,
        measures: &[("class_accuracy", BOTH)],
    },
    Panel {
        file: "latent-similarity.svg",
        title: "Latent similarity (linear CKA)",
        reading: "Linear CKA between the latents of the probe images under this round's model \
                  and under the previous round's (cka_previous) or round 1's (cka_first).",
        y_desc: "CKA",
        scale: Scale::Linear,
        measures: &[("cka_previous", TEST), ("cka_first", TEST)],
    },
    Panel {
        file: "effective-rank.svg",
        title: "Spread: effective rank",
        reading: "Effective rank of the covariance of the output images (ratio to the original \
                  images) and of the latents (ratio to round 1); falling values mean the data \
                  spans fewer directions.",
        y_desc: "ratio",
        scale: Scale::Linear,
        measures: &[
            ("image_effective_rank_ratio", TEST),
            ("latent_effective_rank_ratio", TEST),
        ],
    },
    Panel {
        file: "latent-probes.svg",
        title: "Class information in the latents",
        reading: "Accuracy of a k-nearest-neighbour vote and of a logistic-regression probe that \
                  read the original test labels from the round's latents.",
        y_desc: "accuracy",
        scale: Scale::Linear,
        measures: &[("knn_accuracy", TEST), ("linear_probe_accuracy", TEST)],
    },
    Panel {
        file: "vae-kl.svg",
        title: "VAE: KL term",
        reading: "KL divergence of q(z|x) to the prior, averaged over the images.",
        y_desc: "kl (log scale)",
        scale: Scale::Log,
        measures: &[("kl", BOTH)],
    },
    Panel {
        file: "vae-active-units.svg",
        title: "VAE: active units",
        reading: "Latent dimensions whose posterior mean varies over the images (variance above \
                  0.01).",
        y_desc: "active units",
        scale: Scale::Linear,
        measures: &[("active_units", BOTH)],
    },
];

/// Marker of a split: circles for train, triangles for test.
pub(crate) fn split_marker(split: SplitName) -> Marker {
    match split {
        SplitName::Train => Marker::Circle,
        SplitName::Test => Marker::Triangle,
    }
}

/// Renders the panels that have data: (panel, SVG document).
pub(crate) fn render_panels(
    metrics: &[MetricRow],
) -> Result<Vec<(&'static Panel, String)>, ReportError> {
    let mut rendered = Vec::new();
    for panel in PANELS {
        let mut series = Vec::new();
        for (index, (name, splits)) in panel.measures.iter().enumerate() {
            for &split in *splits {
                let mut points: Vec<(u32, f64)> = metrics
                    .iter()
                    .filter(|row| row.split == split)
                    .filter_map(|row| row.value(name).map(|value| (row.iteration, value)))
                    .collect();
                if points.is_empty() {
                    continue;
                }
                points.sort_by_key(|&(round, _)| round);
                series.push(Series::line(
                    format!("{name} {split}"),
                    series_color(index),
                    split_marker(split),
                    points,
                ));
            }
        }
        if series.is_empty() {
            continue;
        }
        let plot = LinePlot {
            caption: panel.title,
            y_desc: panel.y_desc,
            scale: panel.scale,
            series,
        };
        rendered.push((panel, draw_svg(&plot)?));
    }
    Ok(rendered)
}
