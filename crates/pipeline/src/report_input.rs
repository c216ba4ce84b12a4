//! Gathers what the report shows from the run's tables and preview objects.

use arrow::array::{Array, Float64Array, StringArray, UInt32Array, UInt64Array};
use irl_report::{Confusion, MetricRow, PriorSamples, RecallCell, ReportInput, Snapshot};
use irl_store::table::TableError;
use irl_store::{Dataset, ObjectRef, Split, SplitName, Store};

use crate::config::Pipeline;
use crate::error::RunError;
use crate::tables::{RunMetricsRow, column};

/// Converts the run's metrics rows to the report's.
pub fn metric_rows(metrics: &[RunMetricsRow]) -> Vec<MetricRow> {
    metrics
        .iter()
        .map(|row| {
            let row = &row.metrics;
            MetricRow {
                iteration: row.iteration,
                split: row.split,
                recon_loss: row.recon_loss,
                loss_vs_original: row.loss_vs_original,
                mean_sq_change: row.mean_sq_change,
                reconstruction_term: row.reconstruction_term,
                kl: row.kl,
                active_units: row.active_units,
                measures: irl_evaluate::optional_values(row)
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value))
                    .collect(),
            }
        })
        .collect()
}

/// The run-level tables a report reads, where the run has them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportTables<'a> {
    pub class_recall: Option<&'a ObjectRef>,
    pub confusion: Option<&'a ObjectRef>,
}

/// Builds the report input; `snapshots` are the preview objects of the rounds to draw, and
/// `prior_samples` a VAE's decoded prior samples of those rounds.
#[allow(clippy::too_many_arguments)]
pub fn build(
    store: &Store,
    pipeline: &Pipeline,
    metrics: &[RunMetricsRow],
    converged_at: Option<u32>,
    yaml: &str,
    snapshots: &[(u32, ObjectRef)],
    prior_samples: &[(u32, ObjectRef)],
    tables: ReportTables<'_>,
) -> Result<ReportInput, RunError> {
    let metrics = metric_rows(metrics);
    let last_round = metrics.iter().map(|row| row.iteration).max();

    let count = pipeline.report.images_per_grid;
    let mut images = Vec::new();
    let mut previews = Vec::new();
    for (round, object) in snapshots {
        let bytes = store.read(object)?;
        let origin = store.object_path(object).display().to_string();
        let preview = Dataset::from_safetensors(&bytes, &origin)?;
        previews.push((*round, preview.test.clone()));
        for split in SplitName::ALL {
            let source = preview.split(split);
            let kept = source.len().min(count);
            images.push(Snapshot {
                round: *round,
                split,
                images: irl_store::Split {
                    images: source.images[..kept * source.image_len()].to_vec(),
                    labels: source.labels[..kept].to_vec(),
                    image_shape: source.image_shape,
                },
            });
        }
    }

    let mut samples = Vec::new();
    for (round, object) in prior_samples {
        let bytes = store.read(object)?;
        let origin = store.object_path(object).display().to_string();
        let decoded = irl_reconstruct::PriorSamples::from_safetensors(&bytes, &origin)?;
        let count = decoded.images.len() / decoded.image_shape.iter().product::<usize>().max(1);
        samples.push(PriorSamples {
            round: *round,
            images: irl_store::Split {
                images: decoded.images,
                labels: vec![-1; count],
                image_shape: decoded.image_shape,
            },
        });
    }

    let class_recall = match tables.class_recall {
        Some(object) => read_recall(store.read(object)?)?,
        None => Vec::new(),
    };
    let confusion_round = pipeline.report.confusion_round.or(last_round);
    let confusion = match (tables.confusion, confusion_round) {
        (Some(object), Some(round)) => read_confusion(store.read(object)?, round)?,
        _ => None,
    };

    Ok(ReportInput {
        run_name: pipeline.name.clone(),
        metrics,
        converged_at,
        max_iterations: pipeline.iterate.max_iterations,
        snapshots: images,
        prior_samples: samples,
        class_examples: class_examples(&previews),
        class_recall,
        confusion,
        pipeline_yaml: yaml.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// Picks, in round 0's test preview, the first image of each class, and takes the images at the
/// same places in every round's preview (reconstruction keeps the order of the images).
fn class_examples(previews: &[(u32, Split)]) -> Vec<Snapshot> {
    let Some((_, original)) = previews.iter().find(|(round, _)| *round == 0) else {
        return Vec::new();
    };
    let mut first_of_class: std::collections::BTreeMap<i64, usize> = Default::default();
    for (index, &label) in original.labels.iter().enumerate() {
        first_of_class.entry(label).or_insert(index);
    }
    previews
        .iter()
        .map(|(round, split)| {
            let mut images = Vec::new();
            let mut labels = Vec::new();
            for (&label, &index) in &first_of_class {
                images.extend_from_slice(split.image(index));
                labels.push(label);
            }
            Snapshot {
                round: *round,
                split: SplitName::Test,
                images: Split {
                    images,
                    labels,
                    image_shape: split.image_shape,
                },
            }
        })
        .collect()
}

fn split_of(name: &str) -> SplitName {
    if name == "train" {
        SplitName::Train
    } else {
        SplitName::Test
    }
}

/// Reads the run's `class-recall.parquet`; classes without images (null recall) are left out.
fn read_recall(bytes: Vec<u8>) -> Result<Vec<RecallCell>, TableError> {
    let mut cells = Vec::new();
    for batch in irl_store::table::from_parquet("class-recall", bytes)? {
        let round: &UInt32Array = column(&batch, "report input", "round")?;
        let split: &StringArray = column(&batch, "report input", "split")?;
        let class: &UInt32Array = column(&batch, "report input", "class")?;
        let recall: &Float64Array = column(&batch, "report input", "recall")?;
        for row in 0..batch.num_rows() {
            if recall.is_valid(row) {
                cells.push(RecallCell {
                    round: round.value(row),
                    split: split_of(split.value(row)),
                    class: class.value(row),
                    recall: recall.value(row),
                });
            }
        }
    }
    Ok(cells)
}

/// Reads the test rows of round `round` from the run's `confusion.parquet`.
fn read_confusion(bytes: Vec<u8>, round: u32) -> Result<Option<Confusion>, TableError> {
    let mut counts = Vec::new();
    for batch in irl_store::table::from_parquet("confusion", bytes)? {
        let rounds: &UInt32Array = column(&batch, "report input", "round")?;
        let split: &StringArray = column(&batch, "report input", "split")?;
        let truth: &UInt32Array = column(&batch, "report input", "true_class")?;
        let predicted: &UInt32Array = column(&batch, "report input", "predicted_class")?;
        let count: &UInt64Array = column(&batch, "report input", "count")?;
        for row in 0..batch.num_rows() {
            if rounds.value(row) == round && split.value(row) == "test" {
                counts.push((truth.value(row), predicted.value(row), count.value(row)));
            }
        }
    }
    Ok((!counts.is_empty()).then_some(Confusion { round, counts }))
}
