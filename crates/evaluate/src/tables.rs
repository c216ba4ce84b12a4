//! Parquet encodings of the stability tables. Every table has a `round` column, so the
//! per-round files of a run can be read together (DuckDB: `read_parquet('iter-*/confusion.parquet')`).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use irl_store::SplitName;
use irl_store::table::{self, TableError};

use crate::retention::{ClassRecall, Retention};

/// Predicted classes of every image of one split in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub round: u32,
    pub split: SplitName,
    pub predicted: Vec<u32>,
}

/// Latents of the probe set in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeLatents {
    pub round: u32,
    /// Index of each probe image in the original test split.
    pub indices: Vec<u64>,
    pub labels: Vec<i64>,
    /// `latent_dim` values per probe image, row-major.
    pub latents: Vec<f32>,
    pub latent_dim: usize,
}

/// Spread of one group of vectors in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadRow {
    pub round: u32,
    /// `image` (the round's test images) or `latent` (the probe set's latents).
    pub space: &'static str,
    /// `None` for all classes together.
    pub class: Option<u32>,
    pub count: u64,
    pub trace: f64,
    pub effective_rank: f64,
    /// Ratios to the same group at the reference round: round 0 for images, round 1 for latents.
    pub trace_ratio: Option<f64>,
    pub effective_rank_ratio: Option<f64>,
}

fn arrow_error(name: &str) -> impl Fn(arrow::error::ArrowError) -> TableError + '_ {
    move |source| TableError::Arrow {
        name: name.to_string(),
        source,
    }
}

fn invalid(name: &str, problem: String) -> TableError {
    TableError::Arrow {
        name: name.to_string(),
        source: arrow::error::ArrowError::SchemaError(problem),
    }
}

/// Encodes one batch of named columns.
fn encode(name: &str, columns: Vec<(Field, ArrayRef)>) -> Result<Vec<u8>, TableError> {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(arrow_error(name))?;
    table::to_parquet(name, schema, &[batch])
}

fn column<'a, T: 'static>(
    name: &str,
    batch: &'a RecordBatch,
    column: &str,
) -> Result<&'a T, TableError> {
    batch
        .column_by_name(column)
        .and_then(|array| array.as_any().downcast_ref::<T>())
        .ok_or_else(|| {
            invalid(
                name,
                format!("column {column} is missing or has another type"),
            )
        })
}

fn parse_split(name: &str, text: &str) -> Result<SplitName, TableError> {
    SplitName::ALL
        .into_iter()
        .find(|split| split.as_str() == text)
        .ok_or_else(|| invalid(name, format!("unknown split {text:?}")))
}

/// Encodes predictions as Parquet: `round`, `split`, `index` (within the split), `predicted`.
pub fn predictions_table(predictions: &[Predictions]) -> Result<Vec<u8>, TableError> {
    let rows = || {
        predictions
            .iter()
            .flat_map(|p| p.predicted.iter().map(move |c| (p, *c)))
    };
    let indices = predictions.iter().flat_map(|p| 0..p.predicted.len() as u64);
    encode(
        "predictions",
        vec![
            (
                Field::new("round", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(rows().map(|(p, _)| p.round))),
            ),
            (
                Field::new("split", DataType::Utf8, false),
                Arc::new(StringArray::from_iter_values(
                    rows().map(|(p, _)| p.split.as_str()),
                )),
            ),
            (
                Field::new("index", DataType::UInt64, false),
                Arc::new(UInt64Array::from_iter_values(indices)),
            ),
            (
                Field::new("predicted", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(rows().map(|(_, c)| c))),
            ),
        ],
    )
}

/// Decodes a table written by [`predictions_table`].
pub fn read_predictions_table(bytes: Vec<u8>) -> Result<Vec<Predictions>, TableError> {
    let name = "predictions";
    let mut out: Vec<Predictions> = Vec::new();
    for batch in table::from_parquet(name, bytes)? {
        let round = column::<UInt32Array>(name, &batch, "round")?;
        let split = column::<StringArray>(name, &batch, "split")?;
        let predicted = column::<UInt32Array>(name, &batch, "predicted")?;
        for row in 0..batch.num_rows() {
            let split = parse_split(name, split.value(row))?;
            let round = round.value(row);
            match out.last_mut() {
                Some(last) if last.split == split && last.round == round => {
                    last.predicted.push(predicted.value(row));
                }
                _ => out.push(Predictions {
                    round,
                    split,
                    predicted: vec![predicted.value(row)],
                }),
            }
        }
    }
    Ok(out)
}

/// Builds the `round` and `split` columns of rows that belong to these retention entries.
fn round_and_split<'a>(
    rows: impl Iterator<Item = &'a Retention> + Clone,
) -> Vec<(Field, ArrayRef)> {
    vec![
        (
            Field::new("round", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(rows.clone().map(|r| r.round))),
        ),
        (
            Field::new("split", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                rows.map(|r| r.split.as_str()),
            )),
        ),
    ]
}

/// Encodes per-class recall as Parquet: `round`, `split`, `class`, `images` (labelled with the
/// class), `recall` (null without images).
pub fn recall_table(retention: &[Retention]) -> Result<Vec<u8>, TableError> {
    let rows: Vec<(&Retention, &ClassRecall)> = retention
        .iter()
        .flat_map(|r| r.recall.iter().map(move |row| (r, row)))
        .collect();
    let mut columns = round_and_split(rows.iter().map(|(r, _)| *r));
    columns.extend::<[(Field, ArrayRef); 3]>([
        (
            Field::new("class", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|(_, row)| row.class),
            )),
        ),
        (
            Field::new("images", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, row)| row.images),
            )),
        ),
        (
            Field::new("recall", DataType::Float64, true),
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|(_, row)| row.recall),
            )),
        ),
    ]);
    encode("class recall", columns)
}

/// Encodes confusion matrices in long format: `round`, `split`, `true_class`,
/// `predicted_class`, `count`, one row per pair of classes.
pub fn confusion_table(retention: &[Retention]) -> Result<Vec<u8>, TableError> {
    let rows: Vec<(&Retention, &(u32, u32, u64))> = retention
        .iter()
        .flat_map(|r| r.confusion.iter().map(move |row| (r, row)))
        .collect();
    let mut columns = round_and_split(rows.iter().map(|(r, _)| *r));
    columns.extend::<[(Field, ArrayRef); 3]>([
        (
            Field::new("true_class", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|(_, row)| row.0),
            )),
        ),
        (
            Field::new("predicted_class", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|(_, row)| row.1),
            )),
        ),
        (
            Field::new("count", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, row)| row.2),
            )),
        ),
    ]);
    encode("confusion", columns)
}

/// Encodes probe latents as Parquet: `round`, `index` (in the original test split), `label`,
/// and `latent`, a fixed-size list of `latent_dim` float32 values.
pub fn probe_latents_table(probe: &ProbeLatents) -> Result<Vec<u8>, TableError> {
    let name = "probe latents";
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let latents = FixedSizeListArray::try_new(
        item.clone(),
        probe.latent_dim as i32,
        Arc::new(Float32Array::from(probe.latents.clone())),
        None,
    )
    .map_err(arrow_error(name))?;
    encode(
        name,
        vec![
            (
                Field::new("round", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(std::iter::repeat_n(
                    probe.round,
                    probe.indices.len(),
                ))),
            ),
            (
                Field::new("index", DataType::UInt64, false),
                Arc::new(UInt64Array::from(probe.indices.clone())),
            ),
            (
                Field::new("label", DataType::Int64, false),
                Arc::new(Int64Array::from(probe.labels.clone())),
            ),
            (
                Field::new(
                    "latent",
                    DataType::FixedSizeList(item, probe.latent_dim as i32),
                    false,
                ),
                Arc::new(latents),
            ),
        ],
    )
}

/// Decodes a table written by [`probe_latents_table`].
pub fn read_probe_latents_table(bytes: Vec<u8>) -> Result<ProbeLatents, TableError> {
    let name = "probe latents";
    let mut probe = ProbeLatents {
        round: 0,
        indices: Vec::new(),
        labels: Vec::new(),
        latents: Vec::new(),
        latent_dim: 0,
    };
    for batch in table::from_parquet(name, bytes)? {
        let round = column::<UInt32Array>(name, &batch, "round")?;
        let index = column::<UInt64Array>(name, &batch, "index")?;
        let label = column::<Int64Array>(name, &batch, "label")?;
        let latent = column::<FixedSizeListArray>(name, &batch, "latent")?;
        let values = latent
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| invalid(name, "latent values are not float32".into()))?;
        if !round.is_empty() {
            probe.round = round.value(0);
        }
        probe.latent_dim = latent.value_length() as usize;
        probe.indices.extend(index.values().iter().copied());
        probe.labels.extend(label.values().iter().copied());
        let start = latent.offset() * probe.latent_dim;
        probe
            .latents
            .extend_from_slice(&values.values()[start..start + latent.len() * probe.latent_dim]);
    }
    Ok(probe)
}

/// Encodes spread rows as Parquet: `round`, `space`, `class` (null for all classes), `count`,
/// `trace`, `effective_rank`, `trace_ratio`, `effective_rank_ratio`.
pub fn spread_table(rows: &[SpreadRow]) -> Result<Vec<u8>, TableError> {
    encode(
        "spread",
        vec![
            (
                Field::new("round", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.round))),
            ),
            (
                Field::new("space", DataType::Utf8, false),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.space))),
            ),
            (
                Field::new("class", DataType::UInt32, true),
                Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.class))),
            ),
            (
                Field::new("count", DataType::UInt64, false),
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.count))),
            ),
            (
                Field::new("trace", DataType::Float64, false),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.trace))),
            ),
            (
                Field::new("effective_rank", DataType::Float64, false),
                Arc::new(Float64Array::from_iter_values(
                    rows.iter().map(|r| r.effective_rank),
                )),
            ),
            (
                Field::new("trace_ratio", DataType::Float64, true),
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.trace_ratio))),
            ),
            (
                Field::new("effective_rank_ratio", DataType::Float64, true),
                Arc::new(Float64Array::from_iter(
                    rows.iter().map(|r| r.effective_rank_ratio),
                )),
            ),
        ],
    )
}

/// Decodes a table written by [`spread_table`].
pub fn read_spread_table(bytes: Vec<u8>) -> Result<Vec<SpreadRow>, TableError> {
    let name = "spread";
    let mut rows = Vec::new();
    for batch in table::from_parquet(name, bytes)? {
        let round = column::<UInt32Array>(name, &batch, "round")?;
        let space = column::<StringArray>(name, &batch, "space")?;
        let class = column::<UInt32Array>(name, &batch, "class")?;
        let count = column::<UInt64Array>(name, &batch, "count")?;
        let trace = column::<Float64Array>(name, &batch, "trace")?;
        let rank = column::<Float64Array>(name, &batch, "effective_rank")?;
        let trace_ratio = column::<Float64Array>(name, &batch, "trace_ratio")?;
        let rank_ratio = column::<Float64Array>(name, &batch, "effective_rank_ratio")?;
        for row in 0..batch.num_rows() {
            let space = match space.value(row) {
                "image" => "image",
                "latent" => "latent",
                other => return Err(invalid(name, format!("unknown space {other:?}"))),
            };
            let optional = |array: &Float64Array| array.is_valid(row).then(|| array.value(row));
            rows.push(SpreadRow {
                round: round.value(row),
                space,
                class: class.is_valid(row).then(|| class.value(row)),
                count: count.value(row),
                trace: trace.value(row),
                effective_rank: rank.value(row),
                trace_ratio: optional(trace_ratio),
                effective_rank_ratio: optional(rank_ratio),
            });
        }
    }
    Ok(rows)
}

/// The loss of one round's model on one round's test images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossRoundLoss {
    /// Round whose model reconstructs, 1-based.
    pub model_round: u32,
    /// Round whose output is reconstructed, where 0 is the original data.
    pub data_round: u32,
    /// Squared error summed over the pixels, averaged over the images.
    pub loss: f64,
}

/// Encodes cross-round losses as Parquet: `model_round`, `data_round`, `loss`.
pub fn cross_round_table(rows: &[CrossRoundLoss]) -> Result<Vec<u8>, TableError> {
    encode(
        "cross-round losses",
        vec![
            (
                Field::new("model_round", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(
                    rows.iter().map(|r| r.model_round),
                )),
            ),
            (
                Field::new("data_round", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(
                    rows.iter().map(|r| r.data_round),
                )),
            ),
            (
                Field::new("loss", DataType::Float64, false),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.loss))),
            ),
        ],
    )
}
