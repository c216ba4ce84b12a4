//! The evaluate stage: per-round reconstruction metrics, one row per split.
//!
//! For round k with input X(k-1) (the previous round's reconstruction, or the original data for
//! round 1), output X(k) and original data X(0), over the N images of a split with P values each:
//!
//! ```text
//! recon_loss       = 1/N * sum_i sum_p (X(k)[i,p] - X(k-1)[i,p])^2   the study's loss
//! loss_vs_original = 1/N * sum_i sum_p (X(k)[i,p] - X(0)[i,p])^2
//! mean_sq_change   = recon_loss / P                                  per-pixel mean
//! ```
//!
//! X(k) is the model's evaluation-mode reconstruction of X(k-1), so `recon_loss` is the model's
//! loss on its own round's input, reduced as pythae reduces the AE loss. For a VAE, X(k) is
//! decoded from a sampled latent (or the posterior mean), and three columns come from the
//! reconstruct stage's latents table, with z_i sampled from q(z|x_i) and mu_i its mean:
//!
//! ```text
//! reconstruction_term = 1/N * sum_i rec(x_i, g(z_i))       rec: 0.5 * squared error, or BCE
//! kl                  = 1/N * sum_i KL(q(z|x_i) || N(0, I))
//! active_units        = #{ j : Var_i(mu_i[j]) > 0.01 }     variance over the N images
//! ```
//!
//! `reconstruction_term + kl` is the VAE's loss on the round's input. These columns are null
//! for the autoencoder.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use irl_store::latents::SplitLatents;
use irl_store::table::{self, TableError};
use irl_store::{Dataset, SplitName};

pub mod retention;
pub mod stability;
pub mod stats;
pub mod tables;

/// Version of the evaluate stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 3;

/// Version of the reference stage's meaning (the classifier and the round-0 measurements).
pub const REFERENCE_VERSION: u32 = 2;

/// A latent dimension is active when the variance of its posterior mean over the data exceeds
/// this (Burda et al., 2016).
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// Metrics of one round and split; see the crate docs for the formulas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoundMetrics {
    /// Round, 1-based.
    pub iteration: u32,
    pub split: SplitName,
    pub images: u64,
    pub recon_loss: f64,
    pub loss_vs_original: f64,
    pub mean_sq_change: f64,
    /// VAE only: mean reconstruction term of the loss.
    pub reconstruction_term: Option<f64>,
    /// VAE only: mean KL divergence of q(z|x) to the prior.
    pub kl: Option<f64>,
    /// VAE only: latent dimensions whose posterior mean varies over the data.
    pub active_units: Option<u32>,
    /// Total variance of the round's input, the divisor of `normalised_loss`.
    pub input_variance: Option<f64>,
    pub normalised_loss: Option<f64>,
    /// Quantiles of the per-image squared error of the output against the original images.
    pub original_error_p50: Option<f64>,
    pub original_error_p90: Option<f64>,
    pub original_error_p99: Option<f64>,
    pub original_error_max: Option<f64>,
    /// Test rows: the round's model on the original test images.
    pub model_on_original_loss: Option<f64>,
    /// The reference classifier on the round's output.
    pub class_accuracy: Option<f64>,
    pub predicted_entropy: Option<f64>,
    pub changed_predictions: Option<u64>,
    /// Test rows, on the probe set's latents.
    pub cka_previous: Option<f64>,
    pub cka_first: Option<f64>,
    pub cka_previous_debiased: Option<f64>,
    pub cka_first_debiased: Option<f64>,
    pub linear_probe_accuracy: Option<f64>,
    pub knn_accuracy: Option<f64>,
    /// Test rows: spread of the round's images (to round 0) and latents (to round 1), all
    /// classes together.
    pub image_trace_ratio: Option<f64>,
    pub image_effective_rank_ratio: Option<f64>,
    pub latent_trace_ratio: Option<f64>,
    pub latent_effective_rank_ratio: Option<f64>,
}

/// Inputs that do not fit together.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(
        "the {split} split of {what} has {found} values, expected {expected} (the shape of the \
         round's input)"
    )]
    ShapeMismatch {
        split: SplitName,
        what: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("the latents table has no rows of the {split} split")]
    MissingLatents { split: SplitName },
    #[error("the latents table has {found} rows of the {split} split, expected {expected}")]
    LatentCount {
        split: SplitName,
        found: usize,
        expected: usize,
    },
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Computes the metrics of round `iteration` for both splits. `latents` is the VAE's latents
/// table of the round, and `None` for the autoencoder.
pub fn evaluate(
    iteration: u32,
    input: &Dataset,
    output: &Dataset,
    original: &Dataset,
    latents: Option<&[SplitLatents]>,
) -> Result<Vec<RoundMetrics>, EvaluateError> {
    let mut rows = Vec::new();
    for split in SplitName::ALL {
        let (input, output, original) = (
            input.split(split),
            output.split(split),
            original.split(split),
        );
        for (what, other) in [("the output", output), ("the original data", original)] {
            if other.images.len() != input.images.len() {
                return Err(EvaluateError::ShapeMismatch {
                    split,
                    what,
                    found: other.images.len(),
                    expected: input.images.len(),
                });
            }
        }
        let recon_loss = input.mean_image_squared_distance(&output.images);
        let input_variance = total_variance(&input.images, input.image_len());
        let mut errors =
            per_image_squared_errors(&original.images, &output.images, input.image_len());
        errors.sort_by(f64::total_cmp);
        let mut row = RoundMetrics {
            iteration,
            split,
            images: input.len() as u64,
            recon_loss,
            loss_vs_original: original.mean_image_squared_distance(&output.images),
            mean_sq_change: recon_loss / input.image_len().max(1) as f64,
            input_variance: Some(input_variance),
            normalised_loss: (input_variance > 0.0).then(|| recon_loss / input_variance),
            original_error_p50: Some(stats::quantile(&errors, 0.5)),
            original_error_p90: Some(stats::quantile(&errors, 0.9)),
            original_error_p99: Some(stats::quantile(&errors, 0.99)),
            original_error_max: errors.last().copied(),
            ..RoundMetrics::default()
        };
        if let Some(latents) = latents {
            let latents = latents
                .iter()
                .find(|latents| latents.split == split)
                .ok_or(EvaluateError::MissingLatents { split })?;
            if latents.kl.len() != input.len() {
                return Err(EvaluateError::LatentCount {
                    split,
                    found: latents.kl.len(),
                    expected: input.len(),
                });
            }
            row.reconstruction_term = Some(mean(&latents.reconstruction_terms));
            row.kl = Some(mean(&latents.kl));
            row.active_units = Some(active_units(&latents.means, latents.latent_dim));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Total variance of images of `len` values each: the mean over the images of the squared
/// distance to the mean image, which is the trace of their covariance.
pub fn total_variance(images: &[f32], len: usize) -> f64 {
    let count = images.len() / len.max(1);
    if count == 0 {
        return 0.0;
    }
    let mut mean = vec![0.0f64; len];
    for image in images.chunks(len) {
        for (m, v) in mean.iter_mut().zip(image) {
            *m += f64::from(*v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= count as f64);
    let total: f64 = images
        .chunks(len)
        .map(|image| {
            image
                .iter()
                .zip(&mean)
                .map(|(v, m)| (f64::from(*v) - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / count as f64
}

/// Squared error summed over each image's `len` values, per image.
pub fn per_image_squared_errors(a: &[f32], b: &[f32], len: usize) -> Vec<f64> {
    a.chunks(len.max(1))
        .zip(b.chunks(len.max(1)))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(p, q)| (f64::from(*p) - f64::from(*q)).powi(2))
                .sum()
        })
        .collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Counts the dimensions whose values vary by more than [`ACTIVE_UNIT_THRESHOLD`] over the
/// rows of `means` (`dim` values per row), with the population variance.
pub fn active_units(means: &[f32], dim: usize) -> u32 {
    let rows = means.len() / dim.max(1);
    if rows == 0 {
        return 0;
    }
    let mut active = 0;
    for j in 0..dim {
        let column = || means.iter().skip(j).step_by(dim).map(|v| f64::from(*v));
        let average = column().sum::<f64>() / rows as f64;
        let variance = column().map(|v| (v - average).powi(2)).sum::<f64>() / rows as f64;
        if variance > ACTIVE_UNIT_THRESHOLD {
            active += 1;
        }
    }
    active
}

/// Returns the optional measurements that `row` has, by their metrics column name.
pub fn optional_values(row: &RoundMetrics) -> Vec<(&'static str, f64)> {
    OPTIONAL_COLUMNS
        .iter()
        .filter_map(|(name, get, _)| get(row).map(|value| (*name, value)))
        .collect()
}

/// Columns of type Float64 that may be null, with their getters and setters.
type OptionalColumn = (
    &'static str,
    fn(&RoundMetrics) -> Option<f64>,
    fn(&mut RoundMetrics, Option<f64>),
);

const OPTIONAL_COLUMNS: [OptionalColumn; 21] = [
    (
        "reconstruction_term",
        |r| r.reconstruction_term,
        |r, v| r.reconstruction_term = v,
    ),
    ("kl", |r| r.kl, |r, v| r.kl = v),
    (
        "input_variance",
        |r| r.input_variance,
        |r, v| r.input_variance = v,
    ),
    (
        "normalised_loss",
        |r| r.normalised_loss,
        |r, v| r.normalised_loss = v,
    ),
    (
        "original_error_p50",
        |r| r.original_error_p50,
        |r, v| r.original_error_p50 = v,
    ),
    (
        "original_error_p90",
        |r| r.original_error_p90,
        |r, v| r.original_error_p90 = v,
    ),
    (
        "original_error_p99",
        |r| r.original_error_p99,
        |r, v| r.original_error_p99 = v,
    ),
    (
        "original_error_max",
        |r| r.original_error_max,
        |r, v| r.original_error_max = v,
    ),
    (
        "model_on_original_loss",
        |r| r.model_on_original_loss,
        |r, v| r.model_on_original_loss = v,
    ),
    (
        "class_accuracy",
        |r| r.class_accuracy,
        |r, v| r.class_accuracy = v,
    ),
    (
        "predicted_entropy",
        |r| r.predicted_entropy,
        |r, v| r.predicted_entropy = v,
    ),
    (
        "cka_previous",
        |r| r.cka_previous,
        |r, v| r.cka_previous = v,
    ),
    ("cka_first", |r| r.cka_first, |r, v| r.cka_first = v),
    (
        "cka_previous_debiased",
        |r| r.cka_previous_debiased,
        |r, v| r.cka_previous_debiased = v,
    ),
    (
        "cka_first_debiased",
        |r| r.cka_first_debiased,
        |r, v| r.cka_first_debiased = v,
    ),
    (
        "linear_probe_accuracy",
        |r| r.linear_probe_accuracy,
        |r, v| r.linear_probe_accuracy = v,
    ),
    (
        "knn_accuracy",
        |r| r.knn_accuracy,
        |r, v| r.knn_accuracy = v,
    ),
    (
        "image_trace_ratio",
        |r| r.image_trace_ratio,
        |r, v| r.image_trace_ratio = v,
    ),
    (
        "image_effective_rank_ratio",
        |r| r.image_effective_rank_ratio,
        |r, v| r.image_effective_rank_ratio = v,
    ),
    (
        "latent_trace_ratio",
        |r| r.latent_trace_ratio,
        |r, v| r.latent_trace_ratio = v,
    ),
    (
        "latent_effective_rank_ratio",
        |r| r.latent_effective_rank_ratio,
        |r, v| r.latent_effective_rank_ratio = v,
    ),
];

/// Builds the columns of a metrics table of `rows`, in order. The run-level table appends its
/// convergence columns to these.
pub fn metrics_columns(rows: &[RoundMetrics]) -> Vec<(Field, ArrayRef)> {
    let mut columns: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("iteration", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.iteration),
            )),
        ),
        (
            Field::new("split", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.split.as_str()),
            )),
        ),
        (
            Field::new("images", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.images))),
        ),
        (
            Field::new("recon_loss", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.recon_loss),
            )),
        ),
        (
            Field::new("loss_vs_original", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.loss_vs_original),
            )),
        ),
        (
            Field::new("mean_sq_change", DataType::Float64, false),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.mean_sq_change),
            )),
        ),
        (
            Field::new("active_units", DataType::UInt32, true),
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.active_units))),
        ),
        (
            Field::new("changed_predictions", DataType::UInt64, true),
            Arc::new(UInt64Array::from_iter(
                rows.iter().map(|r| r.changed_predictions),
            )),
        ),
    ];
    for (name, get, _) in OPTIONAL_COLUMNS {
        columns.push((
            Field::new(name, DataType::Float64, true),
            Arc::new(Float64Array::from_iter(rows.iter().map(get))),
        ));
    }
    columns
}

/// Builds a record batch of `columns`; `name` labels errors.
pub fn record_batch(
    name: &str,
    columns: Vec<(Field, ArrayRef)>,
) -> Result<(Arc<Schema>, RecordBatch), TableError> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|source| TableError::Arrow {
            name: name.into(),
            source,
        })?;
    Ok((schema, batch))
}

/// Encodes metric rows as a Parquet table with the columns of [`RoundMetrics`].
pub fn metrics_table(rows: &[RoundMetrics]) -> Result<Vec<u8>, TableError> {
    let (schema, batch) = record_batch("metrics", metrics_columns(rows))?;
    table::to_parquet("metrics", schema, &[batch])
}

/// Decodes the metric rows of `batch`, a batch of a table written by [`metrics_table`] or of a
/// table with more columns. Optional columns that are absent read as null.
pub fn read_metrics_batch(batch: &RecordBatch) -> Result<Vec<RoundMetrics>, TableError> {
    let invalid = |problem: &str| TableError::Arrow {
        name: "metrics".into(),
        source: arrow::error::ArrowError::SchemaError(problem.to_string()),
    };
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| invalid(&format!("column {name} is missing")))
    };
    let iteration = downcast::<UInt32Array>(column("iteration")?, &invalid)?;
    let split = downcast::<StringArray>(column("split")?, &invalid)?;
    let images = downcast::<UInt64Array>(column("images")?, &invalid)?;
    let recon = downcast::<Float64Array>(column("recon_loss")?, &invalid)?;
    let original = downcast::<Float64Array>(column("loss_vs_original")?, &invalid)?;
    let change = downcast::<Float64Array>(column("mean_sq_change")?, &invalid)?;
    let active = downcast::<UInt32Array>(column("active_units")?, &invalid)?;
    let changed = match batch.column_by_name("changed_predictions") {
        Some(array) => Some(downcast::<UInt64Array>(array, &invalid)?),
        None => None,
    };
    let mut optional = Vec::new();
    for (name, _, set) in OPTIONAL_COLUMNS {
        if let Some(array) = batch.column_by_name(name) {
            optional.push((downcast::<Float64Array>(array, &invalid)?, set));
        }
    }
    let mut rows = Vec::new();
    for row in 0..batch.num_rows() {
        let split = match split.value(row) {
            "train" => SplitName::Train,
            "test" => SplitName::Test,
            other => return Err(invalid(&format!("unknown split {other:?}"))),
        };
        let mut metrics = RoundMetrics {
            iteration: iteration.value(row),
            split,
            images: images.value(row),
            recon_loss: recon.value(row),
            loss_vs_original: original.value(row),
            mean_sq_change: change.value(row),
            active_units: active.is_valid(row).then(|| active.value(row)),
            changed_predictions: changed
                .filter(|array| array.is_valid(row))
                .map(|array| array.value(row)),
            ..RoundMetrics::default()
        };
        for (array, set) in &optional {
            set(&mut metrics, array.is_valid(row).then(|| array.value(row)));
        }
        rows.push(metrics);
    }
    Ok(rows)
}

/// Decodes a table written by [`metrics_table`].
pub fn read_metrics_table(bytes: Vec<u8>) -> Result<Vec<RoundMetrics>, TableError> {
    let mut rows = Vec::new();
    for batch in table::from_parquet("metrics", bytes)? {
        rows.extend(read_metrics_batch(&batch)?);
    }
    Ok(rows)
}

fn downcast<'a, T: 'static>(
    array: &'a Arc<dyn Array>,
    invalid: &dyn Fn(&str) -> TableError,
) -> Result<&'a T, TableError> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| invalid("a column has an unexpected type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_units_count_dimensions_that_vary() {
        // Three dimensions over four rows: variances 1.25, 0 and 0.0125 (population).
        let means = [
            0.0, 5.0, 0.0, //
            1.0, 5.0, 0.1, //
            2.0, 5.0, 0.2, //
            3.0, 5.0, 0.3,
        ];
        assert_eq!(active_units(&means, 3), 2);
        assert_eq!(active_units(&means[..3], 3), 0);
        assert_eq!(active_units(&[], 3), 0);
    }
}
