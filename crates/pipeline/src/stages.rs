//! The cache-key inputs of every stage, built from the resolved pipeline in one place.
//!
//! Parameters that cannot change a stage's output (batch sizes of inference, the data folder,
//! the report's looks for non-report stages) are left out, so changing them reuses the stage.

use std::collections::BTreeMap;

use irl_store::{KeyInputs, ObjectDigest};
use serde_json::json;

use crate::config::Pipeline;

/// Images per split kept in the small preview objects that the report draws from.
pub const PREVIEW_IMAGES: usize = 64;

/// Kind of a stage in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageKind {
    Ingest,
    Train,
    Reconstruct,
    Evaluate,
    Report,
}

impl StageKind {
    /// Lowercase name used in slots, keys and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Ingest => "ingest",
            StageKind::Train => "train",
            StageKind::Reconstruct => "reconstruct",
            StageKind::Evaluate => "evaluate",
            StageKind::Report => "report",
        }
    }

    /// Slot of the stage at `iteration`: `iter-00/ingest`, `iter-03/train`, `report`.
    pub fn slot(self, iteration: u32) -> String {
        match self {
            StageKind::Report => "report".to_string(),
            _ => format!("iter-{iteration:02}/{}", self.as_str()),
        }
    }
}

fn inputs(pairs: &[(&str, &ObjectDigest)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, digest)| (name.to_string(), digest.to_hex()))
        .collect()
}

/// Ingest: the data source and subset, and the digests of the raw files.
pub fn ingest_key(pipeline: &Pipeline, source_digests: &[(String, [u8; 32])]) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Ingest.as_str().into(),
        version: irl_ingest::STAGE_VERSION,
        params: json!({
            "source": pipeline.data.source,
            "train_limit": pipeline.data.train_limit,
            "test_limit": pipeline.data.test_limit,
            "preview_images": PREVIEW_IMAGES,
        }),
        inputs: source_digests
            .iter()
            .map(|(name, digest)| (name.clone(), hex::encode(digest)))
            .collect(),
        seed: None,
        backend: None,
    }
}

/// Train: the architecture, the training settings and the round, the input dataset, the run
/// seed and the backend.
pub fn train_key(
    pipeline: &Pipeline,
    iteration: u32,
    dataset: &ObjectDigest,
    backend: &str,
) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Train.as_str().into(),
        version: irl_train::STAGE_VERSION,
        params: json!({
            "round": iteration,
            "model": pipeline.model,
            "training": pipeline.training,
        }),
        inputs: inputs(&[("dataset", dataset)]),
        seed: Some(pipeline.seed),
        backend: Some(backend.to_string()),
    }
}

/// Reconstruct: the mode and architecture, the model and its input dataset, the backend.
pub fn reconstruct_key(
    pipeline: &Pipeline,
    model: &ObjectDigest,
    dataset: &ObjectDigest,
    backend: &str,
) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Reconstruct.as_str().into(),
        version: irl_reconstruct::STAGE_VERSION,
        params: json!({
            "mode": pipeline.reconstruction.mode,
            "model": pipeline.model,
            "preview_images": PREVIEW_IMAGES,
        }),
        inputs: inputs(&[("model", model), ("dataset", dataset)]),
        seed: None,
        backend: Some(backend.to_string()),
    }
}

/// Evaluate: the round, and its input, output and original datasets.
pub fn evaluate_key(
    iteration: u32,
    input: &ObjectDigest,
    output: &ObjectDigest,
    original: &ObjectDigest,
) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Evaluate.as_str().into(),
        version: irl_evaluate::STAGE_VERSION,
        params: json!({ "round": iteration }),
        inputs: inputs(&[("input", input), ("output", output), ("original", original)]),
        seed: None,
        backend: None,
    }
}

/// Report: its settings, the run's state, the metrics table, the resolved pipeline and the
/// previews of the snapshot rounds.
pub fn report_key(
    pipeline: &Pipeline,
    rounds_done: u32,
    converged_at: Option<u32>,
    metrics: &ObjectDigest,
    pipeline_yaml: &ObjectDigest,
    previews: &[(u32, ObjectDigest)],
) -> KeyInputs {
    let mut inputs = inputs(&[("metrics", metrics), ("pipeline", pipeline_yaml)]);
    for (round, digest) in previews {
        inputs.insert(format!("preview_{round:02}"), digest.to_hex());
    }
    KeyInputs {
        stage: StageKind::Report.as_str().into(),
        version: irl_report::STAGE_VERSION,
        params: json!({
            "run": pipeline.name,
            "report": pipeline.report,
            "max_iterations": pipeline.iterate.max_iterations,
            "rounds_done": rounds_done,
            "converged_at": converged_at,
        }),
        inputs,
        seed: None,
        backend: None,
    }
}
