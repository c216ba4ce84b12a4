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

use arrow::array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use irl_store::latents::SplitLatents;
use irl_store::table::{self, TableError};
use irl_store::{Dataset, SplitName};

/// Version of the evaluate stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 2;

/// A latent dimension is active when the variance of its posterior mean over the data exceeds
/// this (Burda et al., 2016).
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// Metrics of one round and split; see the crate docs for the formulas.
#[derive(Debug, Clone, PartialEq)]
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
        let mut row = RoundMetrics {
            iteration,
            split,
            images: input.len() as u64,
            recon_loss,
            loss_vs_original: original.mean_image_squared_distance(&output.images),
            mean_sq_change: recon_loss / input.image_len().max(1) as f64,
            reconstruction_term: None,
            kl: None,
            active_units: None,
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

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("iteration", DataType::UInt32, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("images", DataType::UInt64, false),
        Field::new("recon_loss", DataType::Float64, false),
        Field::new("loss_vs_original", DataType::Float64, false),
        Field::new("mean_sq_change", DataType::Float64, false),
        Field::new("reconstruction_term", DataType::Float64, true),
        Field::new("kl", DataType::Float64, true),
        Field::new("active_units", DataType::UInt32, true),
    ]))
}

/// Encodes metric rows as a Parquet table with the columns of [`RoundMetrics`].
pub fn metrics_table(rows: &[RoundMetrics]) -> Result<Vec<u8>, TableError> {
    let schema = schema();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.iteration),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.split.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.images))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.recon_loss),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.loss_vs_original),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.mean_sq_change),
            )),
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.reconstruction_term),
            )),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.kl))),
            Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.active_units))),
        ],
    )
    .map_err(|source| TableError::Arrow {
        name: "metrics".into(),
        source,
    })?;
    table::to_parquet("metrics", schema, &[batch])
}

/// Decodes a table written by [`metrics_table`].
pub fn read_metrics_table(bytes: Vec<u8>) -> Result<Vec<RoundMetrics>, TableError> {
    let invalid = |problem: &str| TableError::Arrow {
        name: "metrics".into(),
        source: arrow::error::ArrowError::SchemaError(problem.to_string()),
    };
    let mut rows = Vec::new();
    for batch in table::from_parquet("metrics", bytes)? {
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
        let term = downcast::<Float64Array>(column("reconstruction_term")?, &invalid)?;
        let kl = downcast::<Float64Array>(column("kl")?, &invalid)?;
        let active = downcast::<UInt32Array>(column("active_units")?, &invalid)?;
        let optional =
            |array: &Float64Array, row: usize| array.is_valid(row).then(|| array.value(row));
        for row in 0..batch.num_rows() {
            let split = match split.value(row) {
                "train" => SplitName::Train,
                "test" => SplitName::Test,
                other => return Err(invalid(&format!("unknown split {other:?}"))),
            };
            rows.push(RoundMetrics {
                iteration: iteration.value(row),
                split,
                images: images.value(row),
                recon_loss: recon.value(row),
                loss_vs_original: original.value(row),
                mean_sq_change: change.value(row),
                reconstruction_term: optional(term, row),
                kl: optional(kl, row),
                active_units: active.is_valid(row).then(|| active.value(row)),
            });
        }
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
