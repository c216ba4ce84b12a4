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
//! loss on its own round's input, reduced as pythae reduces the AE loss.

use std::sync::Arc;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use irl_store::table::{self, TableError};
use irl_store::{Dataset, SplitName};

/// Version of the evaluate stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 1;

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
    #[error(transparent)]
    Table(#[from] TableError),
}

/// Computes the metrics of round `iteration` for both splits.
pub fn evaluate(
    iteration: u32,
    input: &Dataset,
    output: &Dataset,
    original: &Dataset,
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
        rows.push(RoundMetrics {
            iteration,
            split,
            images: input.len() as u64,
            recon_loss,
            loss_vs_original: original.mean_image_squared_distance(&output.images),
            mean_sq_change: recon_loss / input.image_len().max(1) as f64,
        });
    }
    Ok(rows)
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("iteration", DataType::UInt32, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("images", DataType::UInt64, false),
        Field::new("recon_loss", DataType::Float64, false),
        Field::new("loss_vs_original", DataType::Float64, false),
        Field::new("mean_sq_change", DataType::Float64, false),
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
