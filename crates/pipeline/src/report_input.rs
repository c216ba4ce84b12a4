//! Gathers what the report shows from the run's tables and preview objects.

use irl_report::{MetricRow, PriorSamples, ReportInput, Snapshot};
use irl_store::{Dataset, ObjectRef, SplitName, Store};

use crate::config::Pipeline;
use crate::error::RunError;
use crate::tables::RunMetricsRow;

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
            }
        })
        .collect()
}

/// Builds the report input; `snapshots` are the preview objects of the rounds to draw, and
/// `prior_samples` a VAE's decoded prior samples of those rounds.
pub fn build(
    store: &Store,
    pipeline: &Pipeline,
    metrics: &[RunMetricsRow],
    converged_at: Option<u32>,
    yaml: &str,
    snapshots: &[(u32, ObjectRef)],
    prior_samples: &[(u32, ObjectRef)],
) -> Result<ReportInput, RunError> {
    let metrics = metric_rows(metrics);

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

    Ok(ReportInput {
        run_name: pipeline.name.clone(),
        metrics,
        converged_at,
        max_iterations: pipeline.iterate.max_iterations,
        snapshots: images,
        prior_samples: samples,
        pipeline_yaml: yaml.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
