//! Run-level tables: every round's metrics with the convergence columns, and the manifest.

use std::sync::Arc;

use arrow::array::{BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use irl_evaluate::RoundMetrics;
use irl_store::table::{self, TableError};
use irl_store::{RunState, Store};

use crate::error::RunError;

/// One row of `runs/<name>/metrics.parquet`: a round's metrics and the convergence columns.
#[derive(Debug, Clone, PartialEq)]
pub struct RunMetricsRow {
    pub metrics: RoundMetrics,
    /// |loss(k) - loss(k-1)| / loss(k-1) of this split; `None` in round 1.
    pub relative_change: Option<f64>,
    /// True from the round at which the convergence rule fired.
    pub converged: bool,
}

impl From<RoundMetrics> for RunMetricsRow {
    fn from(metrics: RoundMetrics) -> Self {
        Self {
            metrics,
            relative_change: None,
            converged: false,
        }
    }
}

/// Relative change of each loss from the one before it; the first has none.
pub fn relative_changes(losses: &[f64]) -> Vec<Option<f64>> {
    let mut changes = vec![None];
    for pair in losses.windows(2) {
        changes.push(Some(
            (pair[1] - pair[0]).abs() / pair[0].abs().max(f64::MIN_POSITIVE),
        ));
    }
    changes.truncate(losses.len());
    changes
}

fn arrow_error(name: &str) -> impl FnOnce(arrow::error::ArrowError) -> TableError + '_ {
    move |source| TableError::Arrow {
        name: name.to_string(),
        source,
    }
}

/// Encodes the run's metrics, every round and split, as Parquet: the evaluate stage's columns,
/// then `relative_change` and `converged`.
pub fn run_metrics_table(rows: &[RunMetricsRow]) -> Result<Vec<u8>, TableError> {
    let metrics: Vec<RoundMetrics> = rows.iter().map(|row| row.metrics.clone()).collect();
    let mut columns = irl_evaluate::metrics_columns(&metrics);
    columns.push((
        Field::new("relative_change", DataType::Float64, true),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.relative_change),
        )),
    ));
    columns.push((
        Field::new("converged", DataType::Boolean, false),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.converged)),
        )),
    ));
    let (schema, batch) = irl_evaluate::record_batch("metrics", columns)?;
    table::to_parquet("metrics", schema, &[batch])
}

/// Encodes `runs/<name>/manifest.parquet`: one row per stage output of the run, with the stage's
/// key, how the latest run obtained it, and the object it points at.
pub fn manifest_table(store: &Store, state: &RunState) -> Result<Vec<u8>, RunError> {
    let mut slot = Vec::new();
    let mut key = Vec::new();
    let mut outcome = Vec::new();
    let mut output = Vec::new();
    let mut path = Vec::new();
    let mut bytes = Vec::new();
    let mut seconds = Vec::new();
    let mut finished_at = Vec::new();
    for (name, slot_state) in &state.slots {
        let Some(record) = store.record(&slot_state.key)? else {
            continue;
        };
        for (output_name, object) in &record.outputs {
            slot.push(name.clone());
            key.push(slot_state.key.to_hex());
            outcome.push(match slot_state.outcome {
                irl_store::Outcome::Ran => "ran",
                irl_store::Outcome::Reused => "reused",
            });
            output.push(output_name.clone());
            path.push(object.relative_path().display().to_string());
            bytes.push(object.size);
            seconds.push(record.seconds);
            finished_at.push(slot_state.at.clone());
        }
    }

    let schema = Arc::new(Schema::new(vec![
        Field::new("slot", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("output", DataType::Utf8, false),
        Field::new("object", DataType::Utf8, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("seconds", DataType::Float64, false),
        Field::new("at", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(slot)),
            Arc::new(StringArray::from(key)),
            Arc::new(StringArray::from(outcome)),
            Arc::new(StringArray::from(output)),
            Arc::new(StringArray::from(path)),
            Arc::new(UInt64Array::from(bytes)),
            Arc::new(Float64Array::from(seconds)),
            Arc::new(StringArray::from(finished_at)),
        ],
    )
    .map_err(arrow_error("manifest"))?;
    Ok(table::to_parquet("manifest", schema, &[batch])?)
}

/// Returns the column `name` of `batch`, a batch of the table `table`, as an array of type `T`.
pub(crate) fn column<'a, T: arrow::array::Array + 'static>(
    batch: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<&'a T, TableError> {
    batch
        .column_by_name(name)
        .and_then(|array| array.as_any().downcast_ref::<T>())
        .ok_or_else(|| TableError::Arrow {
            name: table.into(),
            source: arrow::error::ArrowError::SchemaError(format!(
                "column {name} is missing or has another type"
            )),
        })
}
