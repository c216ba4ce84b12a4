//! A VAE's latents table: per image, the posterior mean and the two terms of the loss.
//!
//! The reconstruct stage writes it and the evaluate stage reads it. The posterior mean is a
//! fixed-size list of float32 values, so pyarrow, polars and DuckDB load it as a vector column.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};

use crate::SplitName;
use crate::table::{self, TableError};

/// Latents and loss terms of one split, per image in the order of the split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitLatents {
    pub split: SplitName,
    pub labels: Vec<i64>,
    /// Means of q(z|x), `latent_dim` values per image.
    pub means: Vec<f32>,
    pub latent_dim: usize,
    /// The reconstruction term of the loss, on the decode of a sampled latent.
    pub reconstruction_terms: Vec<f64>,
    /// The KL divergence of q(z|x) to N(0, I).
    pub kl: Vec<f64>,
}

/// Encodes a VAE's latents as Parquet, one row per image: `split`, `index` (within the split),
/// `label`, `reconstruction_term`, `kl`, and `mean`, the mean of q(z|x) as a fixed-size list of
/// `latent_dim` float32 values.
pub fn latents_table(latents: &[SplitLatents]) -> Result<Vec<u8>, TableError> {
    let latent_dim = latents.first().map_or(0, |split| split.latent_dim);
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("split", DataType::Utf8, false),
        Field::new("index", DataType::UInt64, false),
        Field::new("label", DataType::Int64, false),
        Field::new("reconstruction_term", DataType::Float64, false),
        Field::new("kl", DataType::Float64, false),
        Field::new(
            "mean",
            DataType::FixedSizeList(item.clone(), latent_dim as i32),
            false,
        ),
    ]));
    let arrow_error = |source| TableError::Arrow {
        name: "latents".into(),
        source,
    };
    let mut batches = Vec::new();
    for split in latents {
        let count = split.labels.len();
        let means = Float32Array::from(split.means.clone());
        let means =
            FixedSizeListArray::try_new(item.clone(), latent_dim as i32, Arc::new(means), None)
                .map_err(arrow_error)?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                split.split.as_str(),
                count,
            ))),
            Arc::new(UInt64Array::from_iter_values(0..count as u64)),
            Arc::new(Int64Array::from(split.labels.clone())),
            Arc::new(Float64Array::from(split.reconstruction_terms.clone())),
            Arc::new(Float64Array::from(split.kl.clone())),
            Arc::new(means),
        ];
        batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error)?);
    }
    table::to_parquet("latents", schema, &batches)
}

/// Decodes a table written by [`latents_table`].
pub fn read_latents_table(bytes: Vec<u8>) -> Result<Vec<SplitLatents>, TableError> {
    let invalid = |problem: String| TableError::Arrow {
        name: "latents".into(),
        source: arrow::error::ArrowError::SchemaError(problem),
    };
    let mut splits: Vec<SplitLatents> = Vec::new();
    for batch in table::from_parquet("latents", bytes)? {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| invalid(format!("column {name} is missing")))
        };
        let wrong_type = |name: &str| invalid(format!("column {name} has an unexpected type"));
        let split = column("split")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| wrong_type("split"))?;
        let label = column("label")?
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| wrong_type("label"))?;
        let floats = |name: &str| -> Result<Vec<f64>, TableError> {
            Ok(column(name)?
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| wrong_type(name))?
                .values()
                .to_vec())
        };
        let (terms, kl) = (floats("reconstruction_term")?, floats("kl")?);
        let mean = column("mean")?
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .ok_or_else(|| wrong_type("mean"))?;
        let latent_dim = mean.value_length() as usize;
        for row in 0..batch.num_rows() {
            let name = match split.value(row) {
                "train" => SplitName::Train,
                "test" => SplitName::Test,
                other => return Err(invalid(format!("unknown split {other:?}"))),
            };
            if splits.last().is_none_or(|last| last.split != name) {
                splits.push(SplitLatents {
                    split: name,
                    labels: Vec::new(),
                    means: Vec::new(),
                    latent_dim,
                    reconstruction_terms: Vec::new(),
                    kl: Vec::new(),
                });
            }
            let target = splits.last_mut().expect("pushed above");
            target.labels.push(label.value(row));
            target.reconstruction_terms.push(terms[row]);
            target.kl.push(kl[row]);
            let row_mean = mean.value(row);
            let row_mean = row_mean
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or_else(|| wrong_type("mean"))?;
            target.means.extend_from_slice(row_mean.values());
        }
    }
    Ok(splits)
}
