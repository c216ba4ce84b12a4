//! The cache-key inputs of every stage, built from the resolved pipeline in one place.
//!
//! Parameters that cannot change a stage's output (batch sizes of inference, the data folder,
//! the report's looks for non-report stages) are left out, so changing them reuses the stage.

use std::collections::BTreeMap;

use irl_store::{KeyInputs, ObjectDigest};
use serde_json::json;

use crate::config::{DataRegime, DataSource, ModelKind, ModelStart, Pipeline, ReconstructionMode};

/// Images per split kept in the small preview objects that the report draws from.
pub const PREVIEW_IMAGES: usize = 64;

/// Latents drawn once from the VAE's prior and decoded by every round's model.
pub const PRIOR_SAMPLES: usize = 25;

/// Kind of a stage in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageKind {
    Ingest,
    /// A round's training data drawn from the original data and earlier reconstructions
    /// (`accumulate` and `mix` regimes).
    Compose,
    /// The reference classifier and the round-0 measurements, once per run.
    Reference,
    Train,
    Reconstruct,
    Evaluate,
    /// Every round's model on every round's data, once at the end of the loop (optional).
    CrossRound,
    Report,
}

impl StageKind {
    /// Lowercase name used in slots, keys and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Ingest => "ingest",
            StageKind::Compose => "compose",
            StageKind::Reference => "reference",
            StageKind::Train => "train",
            StageKind::Reconstruct => "reconstruct",
            StageKind::Evaluate => "evaluate",
            StageKind::CrossRound => "cross-round",
            StageKind::Report => "report",
        }
    }

    /// Slot of the stage at `iteration`: `iter-00/ingest`, `iter-03/train`, `report`.
    pub fn slot(self, iteration: u32) -> String {
        match self {
            StageKind::Report => "report".to_string(),
            StageKind::CrossRound => "cross-round".to_string(),
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

/// Collects the ingest settings that decide its output; the class count only where it is
/// checked.
fn ingest_params(pipeline: &Pipeline) -> serde_json::Value {
    let data = &pipeline.data;
    let mut params = json!({
        "source": data.source,
        "train_limit": data.train_limit,
        "test_limit": data.test_limit,
        "preview_images": PREVIEW_IMAGES,
    });
    if data.source == DataSource::Idx {
        params["classes"] = json!(data.classes);
    }
    if let Some(size) = data.resize {
        params["resize"] = json!(size);
    }
    if data_is_random(pipeline) {
        params["selection"] = json!(data.selection);
        params["validation_from_train"] = json!(data.validation_from_train);
    }
    params
}

/// Tells whether ingest draws random numbers: a random or stratified subset, or a validation
/// split carved from the training images.
fn data_is_random(pipeline: &Pipeline) -> bool {
    let data = &pipeline.data;
    let limited = data.train_limit.is_some() || data.test_limit.is_some();
    (limited && data.selection != irl_ingest::Selection::First)
        || data.validation_from_train.is_some()
}

/// Ingest: the data source and subset, and the digests of the raw files.
pub fn ingest_key(pipeline: &Pipeline, source_digests: &[(String, [u8; 32])]) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Ingest.as_str().into(),
        version: irl_ingest::STAGE_VERSION,
        params: ingest_params(pipeline),
        inputs: source_digests
            .iter()
            .map(|(name, digest)| (name.clone(), hex::encode(digest)))
            .collect(),
        seed: data_is_random(pipeline).then_some(pipeline.seed),
        backend: None,
    }
}

/// Version of the compose stage's meaning; part of its cache key.
pub const COMPOSE_VERSION: u32 = 1;

/// Compose: the regime and its settings, the round, the original dataset and the
/// reconstructions it draws from (in round order), and the run seed where it draws at random.
pub fn compose_key(
    pipeline: &Pipeline,
    iteration: u32,
    original: &ObjectDigest,
    reconstructions: &[ObjectDigest],
) -> KeyInputs {
    let iterate = &pipeline.iterate;
    let mut params = json!({
        "round": iteration,
        "regime": iterate.regime,
    });
    let random = match iterate.regime {
        DataRegime::Mix => {
            params["original_fraction"] = json!(iterate.mix_fraction());
            true
        }
        DataRegime::Accumulate => {
            let budget = iterate
                .budget
                .unwrap_or(crate::config::AccumulateBudget::All);
            params["budget"] = json!(budget);
            budget != crate::config::AccumulateBudget::All
        }
        DataRegime::Replace | DataRegime::Original => false,
    };
    let mut inputs = inputs(&[("original", original)]);
    for (index, digest) in reconstructions.iter().enumerate() {
        inputs.insert(format!("reconstruction_{:02}", index + 1), digest.to_hex());
    }
    KeyInputs {
        stage: StageKind::Compose.as_str().into(),
        version: COMPOSE_VERSION,
        params,
        inputs,
        seed: random.then_some(pipeline.seed),
        backend: None,
    }
}

/// Train: the architecture, the training settings and the round, the input dataset, the run
/// seed and the backend. A warm round also depends on the weights it starts from and trains for
/// `iterate.warm_epochs`. PCA is fitted in closed form, so neither the training settings nor the
/// seed are part of its key.
pub fn train_key(
    pipeline: &Pipeline,
    iteration: u32,
    dataset: &ObjectDigest,
    warm_start: Option<&ObjectDigest>,
    backend: &str,
) -> KeyInputs {
    let closed_form = pipeline.model.kind == ModelKind::Pca;
    let mut params = json!({
        "round": iteration,
        "model": model_params(pipeline),
    });
    if !closed_form {
        params["training"] = json!(pipeline.training);
    }
    let mut inputs = inputs(&[("dataset", dataset)]);
    if let Some(weights) = warm_start {
        params["start"] = json!(ModelStart::Warm);
        params["training"]["epochs"] = json!(warm_epochs(pipeline));
        inputs.insert("warm_start".into(), weights.to_hex());
    }
    KeyInputs {
        stage: StageKind::Train.as_str().into(),
        version: irl_train::STAGE_VERSION,
        params,
        inputs,
        seed: (!closed_form).then_some(pipeline.seed),
        backend: Some(backend.to_string()),
    }
}

/// Epochs of a warm round.
pub fn warm_epochs(pipeline: &Pipeline) -> usize {
    pipeline
        .iterate
        .warm_epochs
        .unwrap_or(pipeline.training.epochs)
}

/// Returns the model section with the defaults that depend on the kind filled in.
fn model_params(pipeline: &Pipeline) -> serde_json::Value {
    json!(pipeline.clone().resolved().model)
}

/// Tells whether a round's reconstruction draws random numbers: a VAE's sample or pixel noise.
pub fn reconstruction_is_random(pipeline: &Pipeline) -> bool {
    pipeline.model.kind == ModelKind::Vae || pipeline.reconstruction.pixel_noise_std > 0.0
}

/// Reconstruct: the mode and architecture, the model and its input dataset, the backend. A
/// reconstruction that draws random numbers also depends on the round, the run seed, the pixel
/// noise, and for a VAE the number of prior samples.
pub fn reconstruct_key(
    pipeline: &Pipeline,
    iteration: u32,
    model: &ObjectDigest,
    dataset: &ObjectDigest,
    backend: &str,
) -> KeyInputs {
    let mut params = json!({
        "mode": pipeline.reconstruction_mode(),
        "model": model_params(pipeline),
        "preview_images": PREVIEW_IMAGES,
    });
    let random = reconstruction_is_random(pipeline);
    if random {
        params["round"] = json!(iteration);
        params["pixel_noise_std"] = json!(pipeline.reconstruction.pixel_noise_std);
    }
    if pipeline.model.kind == ModelKind::Vae {
        params["prior_samples"] = json!(PRIOR_SAMPLES);
    }
    KeyInputs {
        stage: StageKind::Reconstruct.as_str().into(),
        version: irl_reconstruct::STAGE_VERSION,
        params,
        inputs: inputs(&[("model", model), ("dataset", dataset)]),
        seed: random.then_some(pipeline.seed),
        backend: Some(backend.to_string()),
    }
}

/// Returns the latent the VAE decodes in the reconstruct stage.
pub fn decoded_latent(pipeline: &Pipeline) -> irl_models::infer::DecodedLatent {
    match pipeline.reconstruction_mode() {
        ReconstructionMode::PosteriorMean => irl_models::infer::DecodedLatent::Mean,
        ReconstructionMode::Deterministic | ReconstructionMode::PosteriorSample => {
            irl_models::infer::DecodedLatent::Sample
        }
    }
}

/// Reference: the classifier's training settings, the original dataset, the run seed and the
/// backend.
pub fn reference_key(pipeline: &Pipeline, original: &ObjectDigest, backend: &str) -> KeyInputs {
    KeyInputs {
        stage: StageKind::Reference.as_str().into(),
        version: irl_evaluate::REFERENCE_VERSION,
        params: json!({ "classifier": pipeline.evaluation.classifier }),
        inputs: inputs(&[("original", original)]),
        seed: Some(pipeline.seed),
        backend: Some(backend.to_string()),
    }
}

/// Digests of the objects an evaluate stage reads besides the round's datasets.
#[derive(Debug, Clone, Copy)]
pub struct EvaluateInputs<'a> {
    pub input: &'a ObjectDigest,
    pub output: &'a ObjectDigest,
    pub original: &'a ObjectDigest,
    /// The VAE's latents table of the round.
    pub latents: Option<&'a ObjectDigest>,
    pub model: &'a ObjectDigest,
    pub classifier: &'a ObjectDigest,
    /// Round 0's image spread table.
    pub original_spread: &'a ObjectDigest,
    /// The classifier's predictions of the round before.
    pub previous_predictions: &'a ObjectDigest,
    /// Probe latents of the round before and of round 1; none in round 1.
    pub previous_probe: Option<&'a ObjectDigest>,
    pub first_probe: Option<&'a ObjectDigest>,
}

/// Evaluate: the round, the measurement settings, the run seed (it draws the probe set), the
/// backend (it runs the round's model and the classifier), and every object it reads.
pub fn evaluate_key(
    pipeline: &Pipeline,
    iteration: u32,
    objects: EvaluateInputs<'_>,
    backend: &str,
) -> KeyInputs {
    let mut inputs = inputs(&[
        ("input", objects.input),
        ("output", objects.output),
        ("original", objects.original),
        ("model", objects.model),
        ("classifier", objects.classifier),
        ("original_spread", objects.original_spread),
        ("previous_predictions", objects.previous_predictions),
    ]);
    for (name, digest) in [
        ("latents", objects.latents),
        ("previous_probe", objects.previous_probe),
        ("first_probe", objects.first_probe),
    ] {
        if let Some(digest) = digest {
            inputs.insert(name.into(), digest.to_hex());
        }
    }
    let evaluation = &pipeline.evaluation;
    KeyInputs {
        stage: StageKind::Evaluate.as_str().into(),
        version: irl_evaluate::STAGE_VERSION,
        params: json!({
            "round": iteration,
            "model": model_params(pipeline),
            "probe_images": evaluation.probe_images,
            "knn_k": evaluation.knn_k,
            "linear_probe_l2": evaluation.linear_probe_l2,
        }),
        inputs,
        seed: Some(pipeline.seed),
        backend: Some(backend.to_string()),
    }
}

/// Cross-round losses: the architecture, the backend, and the model and output dataset of
/// every round.
pub fn cross_round_key(
    pipeline: &Pipeline,
    models: &[(u32, ObjectDigest)],
    datasets: &[(u32, ObjectDigest)],
    backend: &str,
) -> KeyInputs {
    let mut inputs = BTreeMap::new();
    for (round, digest) in models {
        inputs.insert(format!("model_{round:02}"), digest.to_hex());
    }
    for (round, digest) in datasets {
        inputs.insert(format!("dataset_{round:02}"), digest.to_hex());
    }
    KeyInputs {
        stage: StageKind::CrossRound.as_str().into(),
        version: irl_evaluate::STAGE_VERSION,
        params: json!({ "model": model_params(pipeline) }),
        inputs,
        seed: None,
        backend: Some(backend.to_string()),
    }
}

/// Digests of the objects a report reads.
#[derive(Debug, Clone, Copy)]
pub struct ReportInputs<'a> {
    pub metrics: &'a ObjectDigest,
    pub pipeline_yaml: &'a ObjectDigest,
    /// Previews of the snapshot rounds.
    pub previews: &'a [(u32, ObjectDigest)],
    /// A VAE's prior samples of the snapshot rounds.
    pub prior_samples: &'a [(u32, ObjectDigest)],
    /// Run-level tables, by stage output name (`class_recall`, `confusion`).
    pub tables: &'a [(&'a str, ObjectDigest)],
}

/// Report: its settings, the run's state, the metrics table, the resolved pipeline, the
/// previews and prior samples of the snapshot rounds, and the run-level tables it draws.
pub fn report_key(
    pipeline: &Pipeline,
    rounds_done: u32,
    converged_at: Option<u32>,
    objects: ReportInputs<'_>,
) -> KeyInputs {
    let mut inputs = inputs(&[
        ("metrics", objects.metrics),
        ("pipeline", objects.pipeline_yaml),
    ]);
    for (round, digest) in objects.previews {
        inputs.insert(format!("preview_{round:02}"), digest.to_hex());
    }
    for (round, digest) in objects.prior_samples {
        inputs.insert(format!("prior_samples_{round:02}"), digest.to_hex());
    }
    for (name, digest) in objects.tables {
        inputs.insert((*name).to_string(), digest.to_hex());
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
