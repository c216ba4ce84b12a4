//! The reconstruct stage: a trained model's reconstruction of a round's dataset, which becomes
//! the next round's dataset.
//!
//! Both splits go through the model in evaluation mode (batch norm uses its running statistics),
//! so the output depends only on the weights and the input. Labels are carried over unchanged.

use burn::tensor::Device;
use irl_models::infer::reconstruct_split;
use irl_models::{ConvAutoencoderConfig, weights};
use irl_store::{Dataset, Split};

/// Version of the reconstruct stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 2;

/// Inputs of one reconstruction.
#[derive(Debug, Clone, Copy)]
pub struct ReconstructRequest<'a> {
    pub dataset: &'a Dataset,
    pub model: &'a ConvAutoencoderConfig,
    /// Model weights as safetensors bytes, written by the train stage.
    pub weights: &'a [u8],
    /// Names the weights in errors.
    pub weights_origin: &'a str,
    pub device: &'a Device,
    /// Images per forward pass; does not change results.
    pub batch_size: usize,
}

/// A reconstruction that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconstructError {
    #[error(transparent)]
    Weights(#[from] weights::WeightsError),
    #[error(transparent)]
    Model(#[from] irl_models::ModelConfigError),
}

/// Reconstructs both splits of the dataset.
pub fn reconstruct(request: ReconstructRequest<'_>) -> Result<Dataset, ReconstructError> {
    request.model.validate(request.dataset.train.image_shape)?;
    let model = request.model.init(request.device);
    let model = weights::load_safetensors(model, request.weights.to_vec(), request.weights_origin)?;

    let run = |split: &Split| Split {
        images: reconstruct_split(&model, split, request.device, request.batch_size),
        labels: split.labels.clone(),
        image_shape: split.image_shape,
    };
    Ok(Dataset {
        train: run(&request.dataset.train),
        test: run(&request.dataset.test),
    })
}
