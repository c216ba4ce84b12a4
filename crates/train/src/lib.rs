//! The train stage: a model trained on one round's dataset.
//!
//! A round builds a new model, seeded from the round's seed, or starts from the weights of the
//! round before (a warm start), and trains it with Adam on shuffled batches. A warm start begins
//! with fresh optimizer moments. PCA is fitted in closed form instead (see [`irl_models::pca`]). The autoencoder's loss is pythae's AE loss: squared error summed over the
//! pixels of an image, averaged over the batch; the VAE's is [`irl_models::vae_loss`]. Before each
//! update the loss, its terms and every parameter's gradient are checked, and a non-finite value
//! stops the stage with its name before the weights change. After each epoch the stage measures the loss on the round's
//! test split in evaluation mode and writes a checkpoint, so a killed process resumes from its last
//! finished epoch and ends with the same weights as an uninterrupted run.

pub mod adam;
pub mod checkpoint;
pub mod classifier;
mod objective;
pub mod throughput;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use irl_models::infer::batch_tensor;
use irl_models::{ModelSpec, ReconstructionTerm, weights};
use irl_store::{Dataset, SplitName};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use adam::{Adam, AdamConfig};
pub use classifier::{
    ClassifierConfig, ClassifierEpoch, ClassifierOutput, classifier_log_table, train_classifier,
};
pub use irl_models::sampling::derive_seed;
use objective::Objective;

/// Version of the train stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 2;

/// Training hyperparameters of one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub adam: AdamConfig,
    /// Images per batch when measuring the test loss; does not change results.
    pub eval_batch_size: usize,
}

/// One row of the training log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRow {
    pub round: u32,
    /// Epoch, 1-based.
    pub epoch: u32,
    /// `train`: mean of the batch losses over the epoch; `test`: loss on the test split after
    /// the epoch, in evaluation mode.
    pub split: String,
    pub loss: f64,
    /// VAE only: the reconstruction term of `loss`.
    #[serde(default)]
    pub reconstruction_term: Option<f64>,
    /// VAE only: the KL term of `loss`.
    #[serde(default)]
    pub kl: Option<f64>,
    /// Wall time of the epoch's training (train rows) or of the test pass (test rows).
    pub seconds: f64,
}

/// Receives training progress; the CLI draws it, libraries and tests ignore it.
pub trait Progress {
    fn epoch_started(&self, _round: u32, _epoch: usize, _epochs: usize, _batches: usize) {}
    fn batch_finished(&self, _loss: f64) {}
    fn epoch_finished(&self, _rows: &[LogRow]) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What one round's training needs.
#[derive(Debug, Clone, Copy)]
pub struct TrainRequest<'a> {
    pub round: u32,
    pub dataset: &'a Dataset,
    pub model: &'a ModelSpec,
    pub config: &'a TrainConfig,
    /// Seed of this round; every random stream of the stage derives from it.
    pub seed: u64,
    /// Device to compute on, without autodiff; training enables autodiff on it.
    pub device: &'a Device,
    /// Folder for epoch checkpoints; an earlier checkpoint there is resumed.
    pub checkpoint_dir: &'a Path,
    /// Weights (safetensors bytes) to start from instead of a fresh initialisation, and the name
    /// of their file for errors.
    pub warm_start: Option<(&'a [u8], &'a str)>,
}

/// Result of one round's training.
#[derive(Debug, Clone)]
pub struct TrainOutput {
    /// Final weights as safetensors bytes.
    pub weights: Vec<u8>,
    pub log: Vec<LogRow>,
    /// Epoch of the checkpoint the stage resumed from, if it did.
    pub resumed_from_epoch: Option<usize>,
}

/// The values of the last batch whose loss and gradients were all finite.
#[derive(Debug, Clone, PartialEq)]
pub struct LastFinite {
    /// Batch, 1-based within the epoch.
    pub batch: usize,
    /// The loss and its terms, by name.
    pub values: Vec<(&'static str, f64)>,
}

/// A round's training that failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training cannot start: {0}")]
    Config(String),
    #[error(
        "model.reconstruction_term is bce, which needs pixel values in [0, 1], but the {split} \
         split of this round's data ranges over [{min}, {max}]; rescale the data to [0, 1] or \
         set model.reconstruction_term to mse"
    )]
    BceRange {
        split: &'static str,
        min: f32,
        max: f32,
    },
    #[error(
        "round {round}, epoch {epoch}, batch {batch}: the {quantity} is not finite ({value}); {}. \
         Lower training.learning_rate and run again; the stages before this one are reused",
        last_finite_text(.last_finite)
    )]
    NonFinite {
        round: u32,
        epoch: usize,
        batch: usize,
        /// The loss, one of its terms, or the gradient of a named parameter.
        quantity: String,
        value: f64,
        last_finite: Option<LastFinite>,
    },
    #[error("failed to write or read a checkpoint in {dir}")]
    Checkpoint {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
    #[error(transparent)]
    AdamState(#[from] adam::AdamStateError),
    #[error("failed to encode the optimizer state: {0}")]
    Encode(#[from] safetensors::SafeTensorError),
}

fn last_finite_text(last_finite: &Option<LastFinite>) -> String {
    match last_finite {
        Some(last) => {
            let values: Vec<String> = last
                .values
                .iter()
                .map(|(name, value)| format!("{name} {value}"))
                .collect();
            format!(
                "the last finite batch of the epoch, batch {}, had {}",
                last.batch,
                values.join(", ")
            )
        }
        None => "no batch of this epoch was finite before it".to_string(),
    }
}

/// Trains a fresh model for one round, resuming from a checkpoint where one exists.
pub fn train(
    request: TrainRequest<'_>,
    progress: &dyn Progress,
) -> Result<TrainOutput, TrainError> {
    let config = request.config;
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(format!(
            "training.epochs ({}) and training.batch_size ({}) must be at least 1",
            config.epochs, config.batch_size
        )));
    }
    if request.dataset.train.is_empty() {
        return Err(TrainError::Config(
            "the training split has no images".into(),
        ));
    }
    let image_shape = request.dataset.train.image_shape;
    match request.model {
        ModelSpec::Pca { components } => fit_pca(request, *components),
        ModelSpec::ConvAe { architecture } => {
            let objective = objective::Autoencoder {
                architecture,
                image_shape,
            };
            train_with(&objective, request, progress)
        }
        ModelSpec::Vae {
            architecture,
            reconstruction_term,
        } => {
            if *reconstruction_term == ReconstructionTerm::Bce {
                check_unit_range(request.dataset)?;
            }
            let objective = objective::Vae {
                architecture,
                image_shape,
                term: *reconstruction_term,
            };
            train_with(&objective, request, progress)
        }
    }
}

/// Binary cross-entropy is defined for targets in [0, 1] only.
fn check_unit_range(dataset: &Dataset) -> Result<(), TrainError> {
    for split in SplitName::ALL {
        let images = &dataset.split(split).images;
        let (min, max) = images
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(min, max), &value| {
                (min.min(value), max.max(value))
            });
        if images.iter().any(|value| !(0.0..=1.0).contains(value)) {
            return Err(TrainError::BceRange {
                split: split.as_str(),
                min,
                max,
            });
        }
    }
    Ok(())
}

fn train_with<O: Objective>(
    objective: &O,
    request: TrainRequest<'_>,
    progress: &dyn Progress,
) -> Result<TrainOutput, TrainError> {
    let TrainRequest {
        round,
        dataset,
        model: spec,
        config,
        seed,
        device,
        checkpoint_dir,
        warm_start,
    } = request;
    let checkpoint_error = |source| TrainError::Checkpoint {
        dir: checkpoint_dir.display().to_string(),
        source,
    };
    let train_device = device.clone().autodiff();

    // A fresh model, seeded from the round, then the latest checkpoint if there is one.
    // NOTE: burn seeds a process-wide generator. Two trainings in one process at the same time
    // would draw from each other's streams, so the runner trains one model at a time.
    train_device.seed(derive_seed(seed, "init", 0));
    let mut model = objective.init(&train_device).train();
    if let Some((bytes, origin)) = warm_start {
        model = weights::load_safetensors(model, bytes.to_vec(), origin)?;
    }
    let mut adam = Adam::new(config.adam);
    let mut log = Vec::new();
    let mut first_epoch = 1;
    let mut resumed_from_epoch = None;
    if let Some((state, files)) = checkpoint::latest(checkpoint_dir).map_err(checkpoint_error)? {
        let origin = files.weights.display().to_string();
        let bytes = fs_err::read(&files.weights).map_err(checkpoint_error)?;
        model = weights::load_safetensors(model, bytes, &origin)?;
        let bytes = fs_err::read(&files.optimizer).map_err(checkpoint_error)?;
        let origin = files.optimizer.display().to_string();
        adam = Adam::from_safetensors(config.adam, &bytes, device, &origin)?;
        log = state.log;
        first_epoch = state.epoch + 1;
        resumed_from_epoch = Some(state.epoch);
        tracing::info!(
            round,
            epoch = state.epoch,
            "resuming training from checkpoint"
        );
    }

    let split = &dataset.train;
    let batches = split.len().div_ceil(config.batch_size);
    let names = objective.value_names();
    for epoch in first_epoch..=config.epochs {
        progress.epoch_started(round, epoch, config.epochs, batches);
        let started = Instant::now();

        // Every random stream restarts from (seed, epoch), so a resumed epoch gets the same data
        // order and the same device randomness as an uninterrupted one.
        train_device.seed(derive_seed(seed, "device", epoch as u64));
        let mut order: Vec<usize> = (0..split.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(derive_seed(
            seed,
            "shuffle",
            epoch as u64,
        )));

        let mut sums = vec![0.0; names.len()];
        let mut last_finite: Option<LastFinite> = None;
        for (batch, indices) in order.chunks(config.batch_size).enumerate() {
            let images = batch_tensor(split, indices, &train_device); // [B, C, H, W]
            let values;
            (model, values) = match step(objective, model, &mut adam, images) {
                Ok(stepped) => stepped,
                Err((quantity, value)) => {
                    return Err(TrainError::NonFinite {
                        round,
                        epoch,
                        batch: batch + 1,
                        quantity,
                        value,
                        last_finite,
                    });
                }
            };
            for (sum, value) in sums.iter_mut().zip(&values) {
                *sum += value;
            }
            progress.batch_finished(values[0]);
            last_finite = Some(LastFinite {
                batch: batch + 1,
                values: names.iter().copied().zip(values).collect(),
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let means: Vec<f64> = sums.iter().map(|sum| sum / batches as f64).collect();

        let started = Instant::now();
        let test = objective.test_loss(
            &model.valid(),
            &dataset.test,
            device,
            config.eval_batch_size,
            derive_seed(seed, "test-latent", epoch as u64),
        );
        let row = |split: &str, values: &[f64], seconds: f64| LogRow {
            round,
            epoch: epoch as u32,
            split: split.into(),
            loss: values[0],
            reconstruction_term: values.get(1).copied(),
            kl: values.get(2).copied(),
            seconds,
        };
        let rows = [
            row("train", &means, train_seconds),
            row("test", &test, started.elapsed().as_secs_f64()),
        ];
        log.extend_from_slice(&rows);
        progress.epoch_finished(&rows);

        let state = checkpoint::CheckpointState {
            epoch,
            seed,
            next_rng_epoch: epoch + 1,
            log: log.clone(),
        };
        let weights = weights::to_safetensors(&model, &Default::default())?;
        checkpoint::write(checkpoint_dir, &state, &weights, &adam.to_safetensors()?)
            .map_err(checkpoint_error)?;
    }

    let weights = weights::to_safetensors(&model.valid(), &model_metadata(spec, round))?;
    Ok(TrainOutput {
        weights,
        log,
        resumed_from_epoch,
    })
}

/// Applies one Adam update to `model` on a batch of images [B, C, H, W]. Returns the updated model and
/// the loss with its terms, or the name and value of the first quantity that is not finite, in
/// which case no weight has changed.
fn step<O: Objective>(
    objective: &O,
    model: O::Model,
    adam: &mut Adam,
    images: Tensor<4>,
) -> Result<(O::Model, Vec<f64>), (String, f64)> {
    let names = objective.value_names();
    let losses = objective.batch_loss(&model, images);
    let values = values_of(&losses);
    // The terms come after the total, and a term names the cause better than the total.
    if let Some(index) = (0..values.len())
        .rev()
        .find(|&index| !values[index].is_finite())
    {
        return Err((names[index].into(), values[index]));
    }
    let grads = GradientsParams::from_grads(losses[0].backward(), &model);
    if let Some((parameter, value)) = first_non_finite_gradient(&model, &grads) {
        return Err((format!("gradient of {parameter}"), value));
    }
    Ok((adam.step(model, grads), values))
}

/// Header metadata of a round's model weights.
fn model_metadata(spec: &ModelSpec, round: u32) -> std::collections::BTreeMap<String, String> {
    [
        ("format", "irl-model"),
        ("model", spec.kind_name()),
        ("producer", concat!("irl ", env!("CARGO_PKG_VERSION"))),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .chain([("round".to_string(), round.to_string())])
    .collect()
}

/// Fits PCA to the training split. The log has one epoch: the mean squared error summed over
/// the pixels of an image, on each split, and the fit's seconds.
fn fit_pca(request: TrainRequest<'_>, components: usize) -> Result<TrainOutput, TrainError> {
    let started = Instant::now();
    let dataset = request.dataset;
    let (model, _) = irl_models::Pca::fit(&dataset.train, components, request.device)
        .map_err(|error| TrainError::Config(error.to_string()))?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let weights = weights::to_safetensors(&model, &model_metadata(request.model, request.round))?;
    let model = irl_models::infer::LoopModel::Pca(model);
    let mut log = Vec::new();
    for split in SplitName::ALL {
        let started = Instant::now();
        let images = dataset.split(split);
        let all: Vec<usize> = (0..images.len()).collect();
        let encoded = model.encode_and_reconstruct(
            images,
            &all,
            request.device,
            request.config.eval_batch_size,
        );
        let seconds = match split {
            SplitName::Train => fit_seconds,
            SplitName::Test => started.elapsed().as_secs_f64(),
        };
        log.push(LogRow {
            round: request.round,
            epoch: 1,
            split: split.as_str().into(),
            loss: images.mean_image_squared_distance(&encoded.reconstructions),
            reconstruction_term: None,
            kl: None,
            seconds,
        });
    }
    Ok(TrainOutput {
        weights,
        log,
        resumed_from_epoch: None,
    })
}

/// Reads the loss and its terms back in one transfer.
fn values_of(losses: &[Tensor<1>]) -> Vec<f64> {
    let data = Tensor::cat(losses.to_vec(), 0).into_data();
    data.iter::<f32>().map(f64::from).collect()
}

/// Sums |gradient| per parameter, reads the sums back in one transfer, and returns the path
/// and sum of the first parameter whose sum is not finite.
fn first_non_finite_gradient<M: Module>(
    model: &M,
    grads: &GradientsParams,
) -> Option<(String, f64)> {
    let mut visitor = GradientSums {
        grads,
        path: Vec::new(),
        names: Vec::new(),
        sums: Vec::new(),
    };
    model.visit(&mut visitor);
    if visitor.sums.is_empty() {
        return None;
    }
    let sums = values_of(&visitor.sums);
    visitor
        .names
        .into_iter()
        .zip(sums)
        .find(|(_, sum)| !sum.is_finite())
}

struct GradientSums<'a> {
    grads: &'a GradientsParams,
    path: Vec<String>,
    names: Vec<String>,
    sums: Vec<Tensor<1>>,
}

impl ModuleVisitor for GradientSums<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.names.push(self.path.join("."));
            self.sums.push(grad.abs().sum());
        }
    }
}

/// Encodes training log rows as Parquet (round, epoch, split, loss, seconds). A VAE's log has
/// two more columns, `reconstruction_term` and `kl`, the two terms of its loss.
pub fn log_table(rows: &[LogRow]) -> Result<Vec<u8>, irl_store::table::TableError> {
    let mut fields = vec![
        Field::new("round", DataType::UInt32, false),
        Field::new("epoch", DataType::UInt32, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("loss", DataType::Float64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.round))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.epoch))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.split))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.loss))),
    ];
    if rows.iter().any(|row| row.kl.is_some()) {
        fields.push(Field::new("reconstruction_term", DataType::Float64, true));
        fields.push(Field::new("kl", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.reconstruction_term),
        )));
        columns.push(Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.kl))));
    }
    fields.push(Field::new("seconds", DataType::Float64, false));
    columns.push(Arc::new(Float64Array::from_iter_values(
        rows.iter().map(|r| r.seconds),
    )));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|source| {
        irl_store::table::TableError::Arrow {
            name: "training log".into(),
            source,
        }
    })?;
    irl_store::table::to_parquet("training log", schema, &[batch])
}
