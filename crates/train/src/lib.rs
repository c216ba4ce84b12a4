//! The train stage: a fresh model trained on one round's dataset.
//!
//! Every round builds a new model, seeded from the round's seed, and trains it with Adam on
//! shuffled batches. The loss is pythae's AE loss: squared error summed over the pixels of an
//! image, averaged over the batch. After each epoch the stage measures the loss on the round's
//! test split in evaluation mode and writes a checkpoint, so a killed process resumes from its last
//! finished epoch and ends with the same weights as an uninterrupted run.

pub mod adam;
pub mod checkpoint;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Float64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use irl_models::infer::{batch_tensor, reconstruct_split};
use irl_models::{ConvAutoencoder, ConvAutoencoderConfig, reconstruction_loss, weights};
use irl_store::Dataset;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use adam::{Adam, AdamConfig};

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
    pub model: &'a ConvAutoencoderConfig,
    pub config: &'a TrainConfig,
    /// Seed of this round; every random stream of the stage derives from it.
    pub seed: u64,
    /// Device to compute on, without autodiff; training enables autodiff on it.
    pub device: &'a Device,
    /// Folder for epoch checkpoints; an earlier checkpoint there is resumed.
    pub checkpoint_dir: &'a Path,
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

/// A round's training that failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training cannot start: {0}")]
    Config(String),
    #[error(
        "round {round}, epoch {epoch}, batch {batch}: the loss is not finite ({loss}), {}. Lower \
         training.learning_rate and run again; finished epochs are kept",
        last_finite_text(.last_finite)
    )]
    NonFinite {
        round: u32,
        epoch: usize,
        batch: usize,
        loss: f64,
        last_finite: Option<f64>,
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

fn last_finite_text(last_finite: &Option<f64>) -> String {
    match last_finite {
        Some(loss) => format!("after a finite batch loss of {loss}"),
        None => "in the first batch of the epoch".to_string(),
    }
}

/// Derives an independent seed from `seed` for the stream named `label`, number `index`.
pub fn derive_seed(seed: u64, label: &str, index: u64) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(label.as_bytes());
    hasher.update(&index.to_le_bytes());
    let bytes = hasher.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Trains a fresh model for one round, resuming from a checkpoint where one exists.
pub fn train(
    request: TrainRequest<'_>,
    progress: &dyn Progress,
) -> Result<TrainOutput, TrainError> {
    let TrainRequest {
        round,
        dataset,
        model: model_config,
        config,
        seed,
        device,
        checkpoint_dir,
    } = request;
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(format!(
            "training.epochs ({}) and training.batch_size ({}) must be at least 1",
            config.epochs, config.batch_size
        )));
    }
    if dataset.train.is_empty() {
        return Err(TrainError::Config(
            "the training split has no images".into(),
        ));
    }
    let checkpoint_error = |source| TrainError::Checkpoint {
        dir: checkpoint_dir.display().to_string(),
        source,
    };
    let train_device = device.clone().autodiff();

    // A fresh model, seeded from the round, then the latest checkpoint if there is one.
    // NOTE: burn seeds a process-wide generator. Two trainings in one process at the same time
    // would draw from each other's streams, so the runner trains one model at a time.
    train_device.seed(derive_seed(seed, "init", 0));
    let mut model: ConvAutoencoder = model_config.init(&train_device).train();
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

        let mut loss_sum = 0.0;
        let mut last_finite = None;
        for (batch, indices) in order.chunks(config.batch_size).enumerate() {
            let images = batch_tensor(split, indices, &train_device); // [B, 1, 28, 28]
            let reconstruction = model.forward(images.clone()); // [B, 1, 28, 28]
            let loss = reconstruction_loss(reconstruction, images); // [1]
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    round,
                    epoch,
                    batch: batch + 1,
                    loss: value,
                    last_finite,
                });
            }
            last_finite = Some(value);
            loss_sum += value;
            progress.batch_finished(value);

            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = adam.step(model, grads);
        }
        let train_seconds = started.elapsed().as_secs_f64();

        let started = Instant::now();
        let inference_model = model.valid();
        let reconstruction = reconstruct_split(
            &inference_model,
            &dataset.test,
            device,
            config.eval_batch_size,
        );
        let test_loss = dataset.test.mean_image_squared_distance(&reconstruction);
        let rows = [
            LogRow {
                round,
                epoch: epoch as u32,
                split: "train".into(),
                loss: loss_sum / batches as f64,
                seconds: train_seconds,
            },
            LogRow {
                round,
                epoch: epoch as u32,
                split: "test".into(),
                loss: test_loss,
                seconds: started.elapsed().as_secs_f64(),
            },
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

    let metadata = [
        ("format", "irl-model"),
        ("model", "conv_ae"),
        ("producer", concat!("irl ", env!("CARGO_PKG_VERSION"))),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .chain([("round".to_string(), round.to_string())])
    .collect();
    let weights = weights::to_safetensors(&model.valid(), &metadata)?;
    Ok(TrainOutput {
        weights,
        log,
        resumed_from_epoch,
    })
}

/// Encodes training log rows as Parquet (round, epoch, split, loss, seconds).
pub fn log_table(rows: &[LogRow]) -> Result<Vec<u8>, irl_store::table::TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("round", DataType::UInt32, false),
        Field::new("epoch", DataType::UInt32, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("loss", DataType::Float64, false),
        Field::new("seconds", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.round))),
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.epoch))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.split))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.loss))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.seconds),
            )),
        ],
    )
    .map_err(|source| irl_store::table::TableError::Arrow {
        name: "training log".into(),
        source,
    })?;
    irl_store::table::to_parquet("training log", schema, &[batch])
}
