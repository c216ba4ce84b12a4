//! Gathers what the report shows from the run's tables and preview objects.

use irl_report::{MetricRow, ReportInput, Snapshot};
use irl_store::{Dataset, ObjectRef, SplitName, Store};

use crate::config::Pipeline;
use crate::error::RunError;
use crate::tables::RunMetricsRow;

/// Builds the report input; `snapshots` are the preview objects of the rounds to draw.
pub fn build(
    store: &Store,
    pipeline: &Pipeline,
    metrics: &[RunMetricsRow],
    converged_at: Option<u32>,
    yaml: &str,
    snapshots: &[(u32, ObjectRef)],
) -> Result<ReportInput, RunError> {
    let metrics = metrics
        .iter()
        .map(|row| MetricRow {
            iteration: row.iteration,
            split: if row.split == "train" {
                SplitName::Train
            } else {
                SplitName::Test
            },
            recon_loss: row.recon_loss,
            loss_vs_original: row.loss_vs_original,
            mean_sq_change: row.mean_sq_change,
        })
        .collect();

    let count = pipeline.report.images_per_grid;
    let mut images = Vec::new();
    for (round, object) in snapshots {
        let bytes = store.read(object)?;
        let origin = store.object_path(object).display().to_string();
        let preview = Dataset::from_safetensors(&bytes, &origin)?;
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

    Ok(ReportInput {
        run_name: pipeline.name.clone(),
        metrics,
        converged_at,
        max_iterations: pipeline.iterate.max_iterations,
        snapshots: images,
        pipeline_yaml: yaml.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
