//! `irl report RUN_A RUN_B ...`: the loss curves of several runs of one store in one report.

use std::path::PathBuf;

use arrow::array::{Array, BooleanArray, Float64Array, RecordBatch};
use irl_report::ComparedRun;
use irl_store::Store;
use irl_store::table::{self, TableError};

use crate::error::RunError;
use crate::tables::RunMetricsRow;

/// Folder of the comparison of `runs` in the store: `comparisons/<run>-vs-<run>...`.
pub fn comparison_dir(store: &Store, runs: &[String]) -> PathBuf {
    store.root().join("comparisons").join(runs.join("-vs-"))
}

/// Renders the comparison of `runs` from their metrics tables and returns its folder.
pub fn compare(store: &Store, runs: &[String]) -> Result<PathBuf, RunError> {
    let mut compared = Vec::new();
    for run in runs {
        let path = store.run_dir(run).join("metrics.parquet");
        if !path.exists() {
            return Err(RunError::NoMetrics {
                run: run.clone(),
                path,
            });
        }
        let bytes = fs_err::read(&path).map_err(|source| RunError::Io {
            path: path.clone(),
            source,
        })?;
        let rows = read_run_metrics_table(bytes)?;
        let converged_at = rows
            .iter()
            .filter(|row| row.converged)
            .map(|row| row.metrics.iteration)
            .min();
        compared.push(ComparedRun {
            name: run.clone(),
            metrics: crate::report_input::metric_rows(&rows),
            converged_at,
        });
    }
    let dir = comparison_dir(store, runs);
    for file in irl_report::render_comparison(&compared)? {
        store.write_atomic(&dir.join(&file.name), &file.bytes)?;
    }
    Ok(dir)
}

/// Decodes `runs/<name>/metrics.parquet`, written by [`crate::tables::run_metrics_table`].
pub fn read_run_metrics_table(bytes: Vec<u8>) -> Result<Vec<RunMetricsRow>, TableError> {
    let mut rows = Vec::new();
    for batch in table::from_parquet("metrics", bytes)? {
        let metrics = irl_evaluate::read_metrics_batch(&batch)?;
        let relative: Float64Array = column(&batch, "relative_change")?;
        let converged: BooleanArray = column(&batch, "converged")?;
        for (row, metrics) in metrics.into_iter().enumerate() {
            rows.push(RunMetricsRow {
                metrics,
                relative_change: relative.is_valid(row).then(|| relative.value(row)),
                converged: converged.value(row),
            });
        }
    }
    Ok(rows)
}

/// Returns the column `name` of `batch` as an array of type `T`.
fn column<T: Array + Clone + 'static>(batch: &RecordBatch, name: &str) -> Result<T, TableError> {
    let invalid = |problem: String| TableError::Arrow {
        name: "metrics".into(),
        source: arrow::error::ArrowError::SchemaError(problem),
    };
    batch
        .column_by_name(name)
        .ok_or_else(|| invalid(format!("column {name} is missing")))?
        .as_any()
        .downcast_ref::<T>()
        .cloned()
        .ok_or_else(|| invalid(format!("column {name} has an unexpected type")))
}
