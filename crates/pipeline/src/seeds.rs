//! Several seeds of one pipeline: one chain per seed, and their metrics summarised with 95%
//! confidence intervals.
//!
//! The chains are ordinary runs named `<name>-seed-<seed>`. The summary goes to `runs/<name>/`:
//!
//! - `seed-summary.parquet`: for every numeric metric, split and round, the number of seeds with
//!   a value, their mean, standard deviation and the interval mean ± t(0.975, n - 1) · sd / √n.
//! - `seed-convergence.parquet`: per seed, the round at which the convergence rule fired, the
//!   loss of the rule's split at that round, and the last round's loss and class accuracy.
//! - `convergence-summary.parquet`: the mean and interval of each column of the table above,
//!   over the seeds that have a value.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray, UInt32Array, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use irl_store::Store;
use irl_store::table::TableError;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::config::{Pipeline, SplitChoice};
use crate::error::RunError;

/// Columns of the metrics table that are not measurements.
const NOT_SUMMARISED: [&str; 3] = ["iteration", "split", "images"];

/// Returns the pipelines of the chains: one per seed of `seeds`, or the pipeline itself when it
/// lists none.
pub fn chains(pipeline: &Pipeline) -> Vec<Pipeline> {
    match &pipeline.seeds {
        None => vec![pipeline.clone()],
        Some(seeds) => seeds
            .iter()
            .map(|&seed| {
                let mut chain = pipeline.clone();
                chain.name = chain_name(&pipeline.name, seed);
                chain.seed = seed;
                chain.seeds = None;
                chain
            })
            .collect(),
    }
}

/// Run name of the chain of `seed`.
pub fn chain_name(name: &str, seed: u64) -> String {
    format!("{name}-seed-{seed}")
}

/// Mean, standard deviation and 95% confidence interval of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); none for a single value.
    pub std: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// Summarises `values` with Student's t interval at 95%.
pub fn interval(values: &[f64]) -> Option<Interval> {
    let count = values.len();
    if count == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / count as f64;
    if count < 2 {
        return Some(Interval {
            count,
            mean,
            std: None,
            low: None,
            high: None,
        });
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
    let std = variance.sqrt();
    let t = StudentsT::new(0.0, 1.0, (count - 1) as f64)
        .expect("degrees of freedom are positive")
        .inverse_cdf(0.975);
    let half = t * std / (count as f64).sqrt();
    Some(Interval {
        count,
        mean,
        std: Some(std),
        low: Some(mean - half),
        high: Some(mean + half),
    })
}

/// One chain's convergence, from its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainConvergence {
    pub seed: u64,
    pub run: String,
    pub rounds_done: u32,
    pub converged_at: Option<u32>,
    /// Loss of the convergence rule's split at `converged_at`.
    pub loss_at_convergence: Option<f64>,
    /// Loss of the rule's split in the last round.
    pub final_loss: Option<f64>,
    /// Reference classifier's accuracy on the last round's test images.
    pub final_class_accuracy: Option<f64>,
}

/// Mean and interval over the chains of one metric, split and round.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCell {
    pub metric: String,
    pub split: String,
    pub round: u32,
    pub interval: Interval,
}

/// Summary that [`summarise`] wrote, for the terminal and the comparison page.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub chains: Vec<ChainConvergence>,
    /// Every row of `seed-summary.parquet`.
    pub cells: Vec<SeedCell>,
    /// (quantity, interval) of each column of the convergence table.
    pub convergence: Vec<(&'static str, Option<Interval>)>,
}

/// Reads the metrics of every chain and writes the summary tables to `runs/<name>/`.
pub fn summarise(
    store: &Store,
    pipeline: &Pipeline,
    chains: &[Pipeline],
) -> Result<SeedSummary, RunError> {
    // (metric, split, round) -> one value per chain that has it.
    let mut values: BTreeMap<(String, String, u32), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut convergence = Vec::new();
    let rule_split = match pipeline.iterate.convergence.split {
        SplitChoice::Train => "train",
        SplitChoice::Test => "test",
    };
    for chain in chains {
        let path = store.run_dir(&chain.name).join("metrics.parquet");
        if !path.exists() {
            return Err(RunError::NoMetrics {
                run: chain.name.clone(),
                path,
            });
        }
        let bytes = fs_err::read(&path).map_err(|source| RunError::Io {
            path: path.clone(),
            source,
        })?;
        for batch in irl_store::table::from_parquet("metrics", bytes.clone())? {
            let rounds = cast(
                batch.column_by_name("iteration").ok_or_else(missing)?,
                &DataType::UInt32,
            )
            .map_err(arrow_error)?;
            let rounds = rounds
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or_else(missing)?;
            let splits = batch.column_by_name("split").ok_or_else(missing)?;
            let splits = splits
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(missing)?;
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let name = field.name();
                if NOT_SUMMARISED.contains(&name.as_str()) || !field.data_type().is_numeric() {
                    continue;
                }
                if !order.contains(name) {
                    order.push(name.clone());
                }
                let numbers = cast(column, &DataType::Float64).map_err(arrow_error)?;
                let numbers = numbers
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .ok_or_else(missing)?;
                for row in 0..batch.num_rows() {
                    if numbers.is_valid(row) && numbers.value(row).is_finite() {
                        values
                            .entry((
                                name.clone(),
                                splits.value(row).to_string(),
                                rounds.value(row),
                            ))
                            .or_default()
                            .push(numbers.value(row));
                    }
                }
            }
        }
        let rows = crate::compare::read_run_metrics_table(bytes)?;
        let find = |split: &str, round: u32| {
            rows.iter()
                .find(|row| row.metrics.split.as_str() == split && row.metrics.iteration == round)
        };
        let converged_at = rows
            .iter()
            .filter(|row| row.converged)
            .map(|row| row.metrics.iteration)
            .min();
        let rounds_done = rows
            .iter()
            .map(|row| row.metrics.iteration)
            .max()
            .unwrap_or(0);

        convergence.push(ChainConvergence {
            seed: chain.seed,
            run: chain.name.clone(),
            rounds_done,
            converged_at,
            loss_at_convergence: converged_at
                .and_then(|round| find(rule_split, round))
                .map(|row| row.metrics.recon_loss),
            final_loss: find(rule_split, rounds_done).map(|row| row.metrics.recon_loss),
            final_class_accuracy: find("test", rounds_done)
                .and_then(|row| row.metrics.class_accuracy),
        });
    }

    let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, name) in order.iter().enumerate() {
        rank.insert(name, index);
    }
    let mut cells: Vec<(&(String, String, u32), Interval)> = values
        .iter()
        .filter_map(|(key, values)| interval(values).map(|interval| (key, interval)))
        .collect();
    cells.sort_by_key(|((metric, split, round), _)| (rank[metric.as_str()], split.clone(), *round));
    let table = interval_table(
        vec![
            (
                Field::new("metric", DataType::Utf8, false),
                Arc::new(StringArray::from_iter_values(
                    cells.iter().map(|(k, _)| k.0.as_str()),
                )),
            ),
            (
                Field::new("split", DataType::Utf8, false),
                Arc::new(StringArray::from_iter_values(
                    cells.iter().map(|(k, _)| k.1.as_str()),
                )),
            ),
            (
                Field::new("iteration", DataType::UInt32, false),
                Arc::new(UInt32Array::from_iter_values(
                    cells.iter().map(|(k, _)| k.2),
                )),
            ),
        ],
        &cells
            .iter()
            .map(|(_, interval)| Some(*interval))
            .collect::<Vec<_>>(),
        "seed-summary",
    )?;
    link_table(store, &pipeline.name, "seed-summary.parquet", &table)?;

    let table = convergence_table(&convergence)?;
    link_table(store, &pipeline.name, "seed-convergence.parquet", &table)?;

    let column = |get: fn(&ChainConvergence) -> Option<f64>| -> Option<Interval> {
        let present: Vec<f64> = convergence.iter().filter_map(get).collect();
        interval(&present)
    };
    let summary: Vec<(&'static str, Option<Interval>)> = vec![
        (
            "rounds_to_convergence",
            column(|c| c.converged_at.map(f64::from)),
        ),
        ("loss_at_convergence", column(|c| c.loss_at_convergence)),
        ("final_loss", column(|c| c.final_loss)),
        ("final_class_accuracy", column(|c| c.final_class_accuracy)),
    ];
    let table = interval_table(
        vec![(
            Field::new("quantity", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                summary.iter().map(|(name, _)| *name),
            )),
        )],
        &summary
            .iter()
            .map(|(_, interval)| *interval)
            .collect::<Vec<_>>(),
        "convergence-summary",
    )?;
    link_table(store, &pipeline.name, "convergence-summary.parquet", &table)?;
    let yaml = crate::load::to_yaml(pipeline);
    let object = store.put(yaml.as_bytes(), "yaml")?;
    store.link(&pipeline.name, "pipeline.yaml", &object)?;

    Ok(SeedSummary {
        chains: convergence,
        cells: cells
            .into_iter()
            .map(|((metric, split, round), interval)| SeedCell {
                metric: metric.clone(),
                split: split.clone(),
                round: *round,
                interval,
            })
            .collect(),
        convergence: summary,
    })
}

fn missing() -> TableError {
    TableError::Arrow {
        name: "metrics".into(),
        source: arrow::error::ArrowError::SchemaError(
            "the metrics table lacks its iteration or split column, or has another type".into(),
        ),
    }
}

fn arrow_error(source: arrow::error::ArrowError) -> TableError {
    TableError::Arrow {
        name: "metrics".into(),
        source,
    }
}

/// Appends `seeds`, `mean`, `std`, `ci_low` and `ci_high` to the leading `columns`. A row
/// without an interval has 0 seeds and nulls.
fn interval_table(
    mut columns: Vec<(Field, ArrayRef)>,
    intervals: &[Option<Interval>],
    name: &str,
) -> Result<Vec<u8>, TableError> {
    let float = |get: fn(&Interval) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            intervals
                .iter()
                .map(|interval| interval.as_ref().and_then(get)),
        ))
    };
    columns.push((
        Field::new("seeds", DataType::UInt32, false),
        Arc::new(UInt32Array::from_iter_values(intervals.iter().map(
            |interval| interval.map_or(0, |interval| interval.count as u32),
        ))),
    ));
    columns.push((
        Field::new("mean", DataType::Float64, true),
        float(|i| Some(i.mean)),
    ));
    columns.push((Field::new("std", DataType::Float64, true), float(|i| i.std)));
    columns.push((
        Field::new("ci_low", DataType::Float64, true),
        float(|i| i.low),
    ));
    columns.push((
        Field::new("ci_high", DataType::Float64, true),
        float(|i| i.high),
    ));
    let (schema, batch) = irl_evaluate::record_batch(name, columns)?;
    irl_store::table::to_parquet(name, schema, &[batch])
}

fn convergence_table(chains: &[ChainConvergence]) -> Result<Vec<u8>, TableError> {
    let floats = |get: fn(&ChainConvergence) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from_iter(chains.iter().map(get)))
    };
    let columns: Vec<(Field, ArrayRef)> = vec![
        (
            Field::new("seed", DataType::UInt64, false),
            Arc::new(UInt64Array::from_iter_values(chains.iter().map(|c| c.seed))),
        ),
        (
            Field::new("run", DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                chains.iter().map(|c| c.run.as_str()),
            )),
        ),
        (
            Field::new("rounds_done", DataType::UInt32, false),
            Arc::new(UInt32Array::from_iter_values(
                chains.iter().map(|c| c.rounds_done),
            )),
        ),
        (
            Field::new("converged_at", DataType::UInt32, true),
            Arc::new(UInt32Array::from_iter(
                chains.iter().map(|c| c.converged_at),
            )),
        ),
        (
            Field::new("loss_at_convergence", DataType::Float64, true),
            floats(|c| c.loss_at_convergence),
        ),
        (
            Field::new("final_loss", DataType::Float64, true),
            floats(|c| c.final_loss),
        ),
        (
            Field::new("final_class_accuracy", DataType::Float64, true),
            floats(|c| c.final_class_accuracy),
        ),
    ];
    let (schema, batch) = irl_evaluate::record_batch("seed-convergence", columns)?;
    irl_store::table::to_parquet("seed-convergence", schema, &[batch])
}

fn link_table(store: &Store, run: &str, file: &str, bytes: &[u8]) -> Result<(), RunError> {
    let object = store.put(bytes, "parquet")?;
    store.link(run, file, &object)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_uses_students_t() {
        // Five values with mean 3 and sample sd sqrt(2.5); t(0.975, 4) = 2.7764.
        let summary = interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(summary.count, 5);
        assert!((summary.mean - 3.0).abs() < 1e-12);
        let half = 2.776_445 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((summary.high.unwrap() - (3.0 + half)).abs() < 1e-5);
        assert!((summary.low.unwrap() - (3.0 - half)).abs() < 1e-5);
        let single = interval(&[7.0]).unwrap();
        assert_eq!((single.mean, single.std, single.low), (7.0, None, None));
        assert_eq!(interval(&[]), None);
    }

    #[test]
    fn chains_take_the_seeds_and_their_own_names() {
        let mut pipeline: Pipeline = serde_yaml::from_str("name: loop").unwrap();
        pipeline.seeds = Some(vec![3, 8]);
        let chains = chains(&pipeline);
        let names: Vec<(&str, u64)> = chains.iter().map(|c| (c.name.as_str(), c.seed)).collect();
        assert_eq!(names, [("loop-seed-3", 3), ("loop-seed-8", 8)]);
        assert!(chains.iter().all(|chain| chain.seeds.is_none()));
    }
}
