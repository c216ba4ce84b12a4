//! Training of the reference classifier ([`irl_models::Classifier`]) on the original images.
//!
//! The classifier minimises the cross-entropy of its logits against the labels, averaged over
//! the batch, with Adam on shuffled batches. It is trained once per run, on round 0's training
//! split, and its accuracy on round 0's test split is measured after every epoch.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use irl_models::classifier::MIN_CLASSIFIER_SIDE;
use irl_models::infer::batch_tensor;
use irl_models::{Classifier, predict_split, weights};
use irl_store::{Dataset, Split};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Adam, AdamConfig, TrainError, derive_seed};

/// Settings of the reference classifier's training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Images per batch when predicting; does not change results.
    pub eval_batch_size: usize,
}

/// One epoch of the classifier's training.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifierEpoch {
    /// Epoch, 1-based.
    pub epoch: u32,
    /// Mean cross-entropy over the epoch's batches.
    pub train_loss: f64,
    /// Fraction of the test images whose predicted class is their label.
    pub test_accuracy: f64,
    pub seconds: f64,
}

/// Result of [`train_classifier`].
#[derive(Debug, Clone)]
pub struct ClassifierOutput {
    /// Final weights as safetensors bytes.
    pub weights: Vec<u8>,
    pub log: Vec<ClassifierEpoch>,
    /// Predicted class of every training image and of every test image, by the final model.
    pub train_predictions: Vec<u32>,
    pub test_predictions: Vec<u32>,
}

/// Trains the reference classifier on `dataset`'s training split for `classes` classes.
pub fn train_classifier(
    dataset: &Dataset,
    classes: usize,
    config: &ClassifierConfig,
    seed: u64,
    device: &Device,
) -> Result<ClassifierOutput, TrainError> {
    if config.batch_size == 0 || config.epochs == 0 {
        return Err(TrainError::Config(format!(
            "evaluation.classifier.epochs ({}) and evaluation.classifier.batch_size ({}) must be \
             at least 1",
            config.epochs, config.batch_size
        )));
    }
    let split = &dataset.train;
    let [_, height, width] = split.image_shape;
    if split.is_empty() || height < MIN_CLASSIFIER_SIDE || width < MIN_CLASSIFIER_SIDE {
        return Err(TrainError::Config(format!(
            "the reference classifier needs training images of at least \
             {MIN_CLASSIFIER_SIDE}x{MIN_CLASSIFIER_SIDE} pixels; found {} images of shape {:?}",
            split.len(),
            split.image_shape
        )));
    }
    let train_device = device.clone().autodiff();
    train_device.seed(derive_seed(seed, "classifier-init", 0));
    let mut model = Classifier::init(split.image_shape, classes, &train_device).train();
    let mut adam = Adam::new(AdamConfig {
        learning_rate: config.learning_rate,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
    });
    let mut log = Vec::new();
    let mut test_predictions = Vec::new();
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        let (trained, train_loss) = train_epoch(
            model,
            &mut adam,
            split,
            &train_device,
            config.batch_size,
            seed,
            epoch,
        )?;
        model = trained;

        test_predictions = predict_split(
            &model.valid(),
            &dataset.test,
            device,
            config.eval_batch_size,
        );
        log.push(ClassifierEpoch {
            epoch: epoch as u32,
            train_loss,
            test_accuracy: accuracy(&test_predictions, &dataset.test.labels),
            seconds: started.elapsed().as_secs_f64(),
        });
        tracing::info!(
            epoch,
            test_accuracy = format!("{:.4}", log.last().map_or(0.0, |row| row.test_accuracy)),
            "reference classifier epoch finished"
        );
    }
    let model = model.valid();
    let metadata = [
        ("format", "irl-classifier"),
        ("producer", concat!("irl ", env!("CARGO_PKG_VERSION"))),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .chain([("classes".to_string(), classes.to_string())])
    .collect();
    Ok(ClassifierOutput {
        weights: weights::to_safetensors(&model, &metadata)?,
        log,
        train_predictions: predict_split(&model, &dataset.train, device, config.eval_batch_size),
        test_predictions,
    })
}

/// Runs one epoch over `split` in a seeded order, `batch_size` images per step, and returns the
/// model and the mean cross-entropy of its batches.
fn train_epoch(
    mut model: Classifier,
    adam: &mut Adam,
    split: &Split,
    device: &Device,
    batch_size: usize,
    seed: u64,
    epoch: usize,
) -> Result<(Classifier, f64), TrainError> {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut order: Vec<usize> = (0..split.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(derive_seed(
        seed,
        "classifier-shuffle",
        epoch as u64,
    )));

    let mut total = 0.0;
    let mut batches = 0;
    for indices in order.chunks(batch_size) {
        let images = batch_tensor(split, indices, device); // [B, C, H, W]
        let labels: Vec<i64> = indices.iter().map(|&i| split.labels[i]).collect();
        let targets: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(labels, [indices.len()]), device);
        let loss = loss_fn.forward(model.forward(images), targets); // [1]
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Err(TrainError::NonFinite {
                round: 0,
                epoch,
                batch: batches + 1,
                quantity: "classifier's cross-entropy".into(),
                value,
                last_finite: None,
            });
        }
        total += value;
        batches += 1;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = adam.step(model, grads);
    }
    Ok((model, total / batches.max(1) as f64))
}

/// Fraction of `predicted` equal to `labels`; 0 for no images.
pub fn accuracy(predicted: &[u32], labels: &[i64]) -> f64 {
    let right = predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| i64::from(**p) == **l)
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Encodes the classifier's training log as Parquet: `epoch`, `train_loss`, `test_accuracy`,
/// `seconds`.
pub fn classifier_log_table(
    rows: &[ClassifierEpoch],
) -> Result<Vec<u8>, irl_store::table::TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("epoch", DataType::UInt32, false),
        Field::new("train_loss", DataType::Float64, false),
        Field::new("test_accuracy", DataType::Float64, false),
        Field::new("seconds", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.epoch))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.train_loss),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.test_accuracy),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.seconds),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|source| {
        irl_store::table::TableError::Arrow {
            name: "classifier log".into(),
            source,
        }
    })?;
    irl_store::table::to_parquet("classifier log", schema, &[batch])
}
