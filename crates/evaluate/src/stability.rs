//! The measurements that need the round's model and the reference classifier: class
//! retention, the model on the original data, latent similarity and structure, and spread.
//!
//! The probe set is a fixed, seeded sample of the original test images. Every round encodes it
//! with its own model (the autoencoder's latent, the VAE's posterior mean), and the latents of
//! round k are compared with those of round k-1 and of round 1 by linear CKA, plain and
//! debiased. Both probes of the latent class structure fit on the even positions of the probe
//! set and score on the odd ones. Spread is measured on the round's test images, relative to
//! the original test images (round 0), and on the probe latents, relative to round 1. The
//! formulas are in [`crate::stats`].

use burn::tensor::Device;
use irl_models::infer::LoopModel;
use irl_models::{Classifier, predict_split};
use irl_store::{Dataset, Split, SplitName};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::RoundMetrics;
use crate::retention::{Retention, retention};
use crate::stats::{self, Spread};
use crate::tables::{Predictions, ProbeLatents, SpreadRow};

/// Settings of the measurements, from the pipeline's `evaluation` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StabilitySettings {
    /// Neighbours of the k-nearest-neighbour probe.
    pub knn_k: usize,
    /// L2 penalty of the linear probe.
    pub probe_alpha: f64,
    /// Images per batch of inference; does not change results.
    pub batch_size: usize,
}

/// Inputs of one round's measurements.
pub struct StabilityInputs<'a> {
    pub iteration: u32,
    /// The round's output, X(k).
    pub output: &'a Dataset,
    pub original: &'a Dataset,
    pub model: &'a LoopModel,
    pub classifier: &'a Classifier,
    pub classes: usize,
    /// The classifier's predictions of round k-1 (round 0: the original images), per split.
    pub previous_predictions: &'a [Predictions],
    /// Indices of the probe set in the original test split.
    pub probe_indices: &'a [usize],
    /// Probe latents of round k-1 and of round 1; `None` in round 1.
    pub previous_probe: Option<&'a ProbeLatents>,
    pub first_probe: Option<&'a ProbeLatents>,
    /// Image spread of round 0, from [`image_spread`].
    pub original_spread: &'a [SpreadRow],
    pub settings: StabilitySettings,
    pub device: &'a Device,
}

/// Outputs of [`measure`] for one round.
#[derive(Debug, Clone)]
pub struct StabilityOutput {
    pub retention: Vec<Retention>,
    pub predictions: Vec<Predictions>,
    pub probe: ProbeLatents,
    pub spread: Vec<SpreadRow>,
}

/// Draws the probe set: `size` distinct indices of a split of `len` images, seeded, in
/// increasing order. All images when `size` is at least `len`.
pub fn probe_indices(len: usize, size: usize, seed: u64) -> Vec<usize> {
    if size >= len {
        return (0..len).collect();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indices = rand::seq::index::sample(&mut rng, len, size).into_vec();
    indices.sort_unstable();
    indices
}

/// Predicts every image of both splits with the classifier.
pub fn predict(
    round: u32,
    dataset: &Dataset,
    classifier: &Classifier,
    device: &Device,
    batch_size: usize,
) -> Vec<Predictions> {
    SplitName::ALL
        .into_iter()
        .map(|split| Predictions {
            round,
            split,
            predicted: predict_split(classifier, dataset.split(split), device, batch_size),
        })
        .collect()
}

/// Class retention of both splits from their predictions.
pub fn retention_of(
    dataset: &Dataset,
    predictions: &[Predictions],
    previous: Option<&[Predictions]>,
    classes: usize,
) -> Vec<Retention> {
    predictions
        .iter()
        .map(|p| {
            let before = previous
                .and_then(|previous| previous.iter().find(|q| q.split == p.split))
                .map(|q| q.predicted.as_slice());
            retention(
                p.round,
                p.split,
                &p.predicted,
                &dataset.split(p.split).labels,
                before,
                classes,
            )
        })
        .collect()
}

/// Groups the rows of `values` (`dim` per row) by `labels`: all rows, then each class present.
fn groups<'a>(values: &'a [f32], dim: usize, labels: &'a [i64]) -> Vec<(Option<u32>, Vec<f32>)> {
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut out = vec![(None, values.to_vec())];
    for class in classes {
        let rows: Vec<f32> = labels
            .iter()
            .enumerate()
            .filter(|(_, label)| **label == class)
            .flat_map(|(i, _)| values[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        out.push((Some(class as u32), rows));
    }
    out
}

/// Builds spread rows of `values` grouped by class, with ratios to the matching rows of
/// `reference` (same space and class).
fn spread_rows(
    round: u32,
    space: &'static str,
    values: &[f32],
    dim: usize,
    labels: &[i64],
    reference: &[SpreadRow],
) -> Vec<SpreadRow> {
    groups(values, dim, labels)
        .into_iter()
        .map(|(class, rows)| {
            let Spread {
                trace,
                effective_rank,
            } = stats::spread(&rows, dim);
            let base = reference
                .iter()
                .find(|row| row.space == space && row.class == class);
            let ratio = |value: f64, base: f64| (base > 0.0).then(|| value / base);
            SpreadRow {
                round,
                space,
                class,
                count: (rows.len() / dim.max(1)) as u64,
                trace,
                effective_rank,
                trace_ratio: base.and_then(|base| ratio(trace, base.trace)),
                effective_rank_ratio: base
                    .and_then(|base| ratio(effective_rank, base.effective_rank)),
            }
        })
        .collect()
}

/// Measures the spread of the images of `split` (a round's test split), overall and per class,
/// with ratios to `reference`, the rows of round 0. For round 0 itself `reference` is empty and
/// every ratio is 1.
pub fn image_spread(round: u32, split: &Split, reference: &[SpreadRow]) -> Vec<SpreadRow> {
    let mut rows = spread_rows(
        round,
        "image",
        &split.images,
        split.image_len(),
        &split.labels,
        reference,
    );
    if reference.is_empty() {
        for row in &mut rows {
            row.trace_ratio = Some(1.0);
            row.effective_rank_ratio = Some(1.0);
        }
    }
    rows
}

/// Runs the round's measurements and fills the matching columns of `metrics` (the rows of
/// [`crate::evaluate`] for this round).
pub fn measure(inputs: &StabilityInputs<'_>, metrics: &mut [RoundMetrics]) -> StabilityOutput {
    let settings = inputs.settings;
    let device = inputs.device;
    let started = std::time::Instant::now();
    let lap =
        |what: &str| tracing::debug!(what, seconds = started.elapsed().as_secs_f64(), "measured");

    // Class retention of the round's output.
    let predictions = predict(
        inputs.iteration,
        inputs.output,
        inputs.classifier,
        device,
        settings.batch_size,
    );
    let retention = retention_of(
        inputs.output,
        &predictions,
        Some(inputs.previous_predictions),
        inputs.classes,
    );
    lap("class retention");
    for row in metrics.iter_mut() {
        if let Some(r) = retention.iter().find(|r| r.split == row.split) {
            row.class_accuracy = Some(r.accuracy);
            row.predicted_entropy = Some(r.predicted_entropy);
            row.changed_predictions = r.changed_predictions;
        }
    }

    // The round's model on the original test images; the probe latents come from the same pass.
    let test = &inputs.original.test;
    let all: Vec<usize> = (0..test.len()).collect();
    let encoded = inputs
        .model
        .encode_and_reconstruct(test, &all, device, settings.batch_size);
    let dim = encoded.latent_dim;
    let probe = ProbeLatents {
        round: inputs.iteration,
        indices: inputs.probe_indices.iter().map(|&i| i as u64).collect(),
        labels: inputs
            .probe_indices
            .iter()
            .map(|&i| test.labels[i])
            .collect(),
        latents: inputs
            .probe_indices
            .iter()
            .flat_map(|&i| encoded.latents[i * dim..(i + 1) * dim].iter().copied())
            .collect(),
        latent_dim: dim,
    };
    let on_original = test.mean_image_squared_distance(&encoded.reconstructions);
    lap("model on the original test images");

    // Latent similarity to round k-1 and round 1, and class structure of the latents.
    let first = inputs.first_probe.unwrap_or(&probe);
    let cka = |other: &ProbeLatents| {
        (
            stats::linear_cka(&probe.latents, dim, &other.latents, other.latent_dim),
            stats::debiased_linear_cka(&probe.latents, dim, &other.latents, other.latent_dim),
        )
    };
    let (cka_previous, cka_previous_debiased) = match inputs.previous_probe {
        Some(previous) => cka(previous),
        None => (None, None),
    };
    let (cka_first, cka_first_debiased) = cka(first);
    let linear_probe =
        stats::linear_probe_accuracy(&probe.latents, dim, &probe.labels, settings.probe_alpha);
    let knn = stats::knn_accuracy(&probe.latents, dim, &probe.labels, settings.knn_k);
    lap("latent similarity and probes");

    // Spread of the round's test images and of the probe latents.
    let mut spread = image_spread(
        inputs.iteration,
        &inputs.output.test,
        inputs.original_spread,
    );
    let first_rows = if inputs.first_probe.is_some() {
        spread_rows(1, "latent", &first.latents, dim, &first.labels, &[])
    } else {
        Vec::new()
    };
    let mut latent_rows = spread_rows(
        inputs.iteration,
        "latent",
        &probe.latents,
        dim,
        &probe.labels,
        &first_rows,
    );
    if inputs.first_probe.is_none() {
        for row in &mut latent_rows {
            row.trace_ratio = (row.trace > 0.0).then_some(1.0);
            row.effective_rank_ratio = (row.effective_rank > 0.0).then_some(1.0);
        }
    }
    spread.extend(latent_rows);
    let overall = |space: &str| {
        spread
            .iter()
            .find(|r| r.space == space && r.class.is_none())
    };

    if let Some(row) = metrics.iter_mut().find(|row| row.split == SplitName::Test) {
        row.model_on_original_loss = Some(on_original);
        row.cka_previous = cka_previous;
        row.cka_previous_debiased = cka_previous_debiased;
        row.cka_first = cka_first;
        row.cka_first_debiased = cka_first_debiased;
        row.linear_probe_accuracy = linear_probe;
        row.knn_accuracy = knn;
        row.image_trace_ratio = overall("image").and_then(|r| r.trace_ratio);
        row.image_effective_rank_ratio = overall("image").and_then(|r| r.effective_rank_ratio);
        row.latent_trace_ratio = overall("latent").and_then(|r| r.trace_ratio);
        row.latent_effective_rank_ratio = overall("latent").and_then(|r| r.effective_rank_ratio);
    }
    StabilityOutput {
        retention,
        predictions,
        probe,
        spread,
    }
}
