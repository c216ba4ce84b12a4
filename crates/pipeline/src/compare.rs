//! `irl report RUN_A RUN_B ...`: every measurement of several runs of one store in one report.
//! A run with seeds enters as the mean over its chains with a 95% confidence interval.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::{Array, BooleanArray, Float64Array};
use irl_report::{ComparedRun, CurvePoint};
use irl_store::table::{self, TableError};
use irl_store::{SplitName, Store};

use crate::config::{DataRegime, ModelStart, Pipeline};
use crate::error::RunError;
use crate::seeds::SeedSummary;
use crate::tables::{RunMetricsRow, column};

/// Folder of the comparison of `runs` in the store: `comparisons/<run>-vs-<run>...`.
pub fn comparison_dir(store: &Store, runs: &[String]) -> PathBuf {
    store.root().join("comparisons").join(runs.join("-vs-"))
}

/// True for the control chains: every round retrains on the original data, or round 1's model
/// is applied again without training.
pub fn is_control(pipeline: &Pipeline) -> bool {
    pipeline.iterate.regime == DataRegime::Original || pipeline.iterate.start == ModelStart::Frozen
}

/// Renders the comparison of `runs` and returns its folder. A run named by a pipeline with
/// `seeds` is summarised over its chains first (the tables of [`crate::seeds::summarise`]).
pub fn compare(store: &Store, runs: &[String]) -> Result<PathBuf, RunError> {
    let mut compared = Vec::new();
    for run in runs {
        let pipeline = saved_pipeline(store, run)?;
        let control = pipeline.as_ref().is_some_and(is_control);
        if let Some(pipeline) = pipeline.filter(|pipeline| pipeline.seeds.is_some()) {
            let chains = crate::seeds::chains(&pipeline);
            let summary = crate::seeds::summarise(store, &pipeline, &chains)?;
            compared.push(seed_set(run, &summary, control));
            continue;
        }
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
        compared.push(ComparedRun::from_rows(
            run.clone(),
            &crate::report_input::metric_rows(&rows),
            converged_at,
            control,
        ));
    }
    let dir = comparison_dir(store, runs);
    for file in irl_report::render_comparison(&compared)? {
        store.write_atomic(&dir.join(&file.name), &file.bytes)?;
    }
    Ok(dir)
}

/// Reads `runs/<run>/pipeline.yaml`; `None` for a run saved without one.
fn saved_pipeline(store: &Store, run: &str) -> Result<Option<Pipeline>, RunError> {
    let path = store.run_dir(run).join("pipeline.yaml");
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(crate::load::load(&path, &[])?))
}

/// Builds the curves of a seed set: each cell's mean and interval over the chains.
fn seed_set(name: &str, summary: &SeedSummary, control: bool) -> ComparedRun {
    let mut curves: BTreeMap<(String, SplitName), Vec<CurvePoint>> = BTreeMap::new();
    for cell in &summary.cells {
        let split = match cell.split.as_str() {
            "train" => SplitName::Train,
            _ => SplitName::Test,
        };
        curves
            .entry((cell.metric.clone(), split))
            .or_default()
            .push(CurvePoint {
                round: cell.round,
                value: cell.interval.mean,
                interval: cell.interval.low.zip(cell.interval.high),
            });
    }
    for points in curves.values_mut() {
        points.sort_by_key(|point| point.round);
    }
    ComparedRun {
        name: name.to_owned(),
        chains: summary.chains.len(),
        control,
        curves,
        converged_at: summary
            .chains
            .iter()
            .map(|chain| chain.converged_at)
            .collect(),
    }
}

/// Decodes `runs/<name>/metrics.parquet`, written by [`crate::tables::run_metrics_table`].
pub fn read_run_metrics_table(bytes: Vec<u8>) -> Result<Vec<RunMetricsRow>, TableError> {
    let mut rows = Vec::new();
    for batch in table::from_parquet("metrics", bytes)? {
        let metrics = irl_evaluate::read_metrics_batch(&batch)?;
        let relative: &Float64Array = column(&batch, "metrics", "relative_change")?;
        let converged: &BooleanArray = column(&batch, "metrics", "converged")?;
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
