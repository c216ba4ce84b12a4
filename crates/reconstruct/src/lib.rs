//! The reconstruct stage: a trained model's reconstruction of a round's dataset, which becomes
//! the next round's dataset.
//!
//! Both splits go through the model in evaluation mode (batch norm uses its running
//! statistics). The outputs of the autoencoder and of PCA depend only on the weights and the
//! input. A VAE decodes either a latent sampled from q(z|x) (`posterior_sample`, as in the
//! study) or the posterior mean (`posterior_mean`). Any model may then add Gaussian pixel noise,
//! clipped to [0, 1]. All noise is drawn on the host from streams derived from the request's seed, so a
//! rerun gives the same bytes whatever the backend or the batch size. Labels are carried over
//! unchanged.
//!
//! A VAE also reports, per image, the mean of q(z|x) and the two terms of its loss (the table of
//! [`irl_store::latents`]), and decodes a fixed set of latents drawn from the prior N(0, I), so
//! that the samples of every round can be compared.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use irl_models::infer::{DecodedLatent, LoopModel, reconstruct_split, vae_pass};
use irl_models::sampling::{derive_seed, standard_normal};
use irl_models::{ModelSpec, weights};
use irl_store::latents::SplitLatents;
use irl_store::safetensors_io::{self, TensorBytes};
use irl_store::{Dataset, Split, SplitName};

/// Version of the reconstruct stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 2;

/// The random parts of a reconstruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// VAE only: the latent that is decoded.
    pub latent: DecodedLatent,
    /// Standard deviation of the Gaussian noise added to every output value before clipping to
    /// [0, 1]; 0 adds none.
    pub pixel_noise_std: f64,
    /// Seed of the latent and pixel noise of this reconstruction.
    pub seed: u64,
    /// VAE only: how many latents to draw from the prior and decode.
    pub prior_samples: usize,
    /// Seed of the prior latents; the same in every round, so every round decodes the same
    /// latents.
    pub prior_seed: u64,
}

/// Inputs of one reconstruction.
#[derive(Debug, Clone, Copy)]
pub struct ReconstructRequest<'a> {
    pub dataset: &'a Dataset,
    pub model: &'a ModelSpec,
    /// Model weights as safetensors bytes, written by the train stage.
    pub weights: &'a [u8],
    /// Names the weights in errors.
    pub weights_origin: &'a str,
    pub sampling: Sampling,
    pub device: &'a Device,
    /// Images per forward pass; does not change results.
    pub batch_size: usize,
}

/// Result of one reconstruction.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// The next round's dataset.
    pub dataset: Dataset,
    /// VAE only: posterior means and loss terms of both splits.
    pub latents: Vec<SplitLatents>,
    /// VAE only: the decoded prior latents.
    pub prior_samples: Option<PriorSamples>,
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
pub fn reconstruct(request: ReconstructRequest<'_>) -> Result<Reconstruction, ReconstructError> {
    let ReconstructRequest {
        dataset,
        model,
        weights: bytes,
        weights_origin,
        sampling,
        device,
        batch_size,
    } = request;
    model.validate(dataset.train.image_shape)?;
    let mut result = Reconstruction {
        dataset: dataset.clone(),
        latents: Vec::new(),
        prior_samples: None,
    };
    match model {
        ModelSpec::ConvAe { architecture } => {
            let model = architecture.init(dataset.train.image_shape, device);
            let model = weights::load_safetensors(model, bytes.to_vec(), weights_origin)?;
            for split in SplitName::ALL {
                let output = reconstruct_split(&model, dataset.split(split), device, batch_size);
                set_images(&mut result.dataset, split, output);
            }
        }
        ModelSpec::Vae {
            architecture,
            reconstruction_term,
        } => {
            let model = architecture.init_vae(dataset.train.image_shape, device);
            let model = weights::load_safetensors(model, bytes.to_vec(), weights_origin)?;
            let latent_dim = architecture.latent_dim;
            for (index, split) in SplitName::ALL.into_iter().enumerate() {
                let input = dataset.split(split);
                let seed = derive_seed(sampling.seed, "latent", index as u64);
                let eps = standard_normal(seed, input.len() * latent_dim);
                let pass = vae_pass(
                    &model,
                    input,
                    &eps,
                    sampling.latent,
                    *reconstruction_term,
                    device,
                    batch_size,
                );
                set_images(&mut result.dataset, split, pass.reconstructions);
                result.latents.push(SplitLatents {
                    split,
                    labels: input.labels.clone(),
                    means: pass.means,
                    latent_dim,
                    reconstruction_terms: pass.reconstruction_terms,
                    kl: pass.kl,
                });
            }
            if sampling.prior_samples > 0 {
                let count = sampling.prior_samples;
                let latents = standard_normal(sampling.prior_seed, count * latent_dim);
                let latents: Tensor<2> =
                    Tensor::from_data(TensorData::new(latents, [count, latent_dim]), device);
                let images = model.valid().decode(latents).into_data();
                result.prior_samples = Some(PriorSamples {
                    images: images.try_into_vec::<f32>().expect("model outputs are f32"),
                    image_shape: dataset.train.image_shape,
                });
            }
        }
        ModelSpec::Pca { .. } => {
            let model = LoopModel::load(
                model,
                dataset.train.image_shape,
                bytes.to_vec(),
                weights_origin,
                device,
            )?;
            for split in SplitName::ALL {
                let input = dataset.split(split);
                let all: Vec<usize> = (0..input.len()).collect();
                let encoded = model.encode_and_reconstruct(input, &all, device, batch_size);
                set_images(&mut result.dataset, split, encoded.reconstructions);
            }
        }
    }

    if sampling.pixel_noise_std > 0.0 {
        for (index, split) in SplitName::ALL.into_iter().enumerate() {
            let seed = derive_seed(sampling.seed, "pixel", index as u64);
            let images = match split {
                SplitName::Train => &mut result.dataset.train.images,
                SplitName::Test => &mut result.dataset.test.images,
            };
            let noise = standard_normal(seed, images.len());
            let std = sampling.pixel_noise_std as f32;
            for (value, noise) in images.iter_mut().zip(noise) {
                *value = (*value + std * noise).clamp(0.0, 1.0);
            }
        }
    }
    Ok(result)
}

fn set_images(dataset: &mut Dataset, split: SplitName, images: Vec<f32>) {
    let target: &mut Split = match split {
        SplitName::Train => &mut dataset.train,
        SplitName::Test => &mut dataset.test,
    };
    target.images = images;
}

/// Decoded prior latents of one round, as the report draws them.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorSamples {
    /// Images, row-major.
    pub images: Vec<f32>,
    /// [channels, height, width] of one image.
    pub image_shape: [usize; 3],
}

/// A prior-samples file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid prior samples in {origin}: {problem}")]
pub struct PriorSamplesError {
    origin: String,
    problem: String,
}

impl PriorSamples {
    /// Encodes the images as safetensors, one tensor `images` of shape [N, C, H, W].
    pub fn to_safetensors(
        &self,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, safetensors::SafeTensorError> {
        let [c, h, w] = self.image_shape;
        let count = self.images.len() / (c * h * w).max(1);
        let tensor = TensorBytes::f32("images", vec![count, c, h, w], &self.images);
        safetensors_io::serialize(&[tensor], metadata)
    }

    /// Reads a file written by [`PriorSamples::to_safetensors`]; `origin` names it in errors.
    pub fn from_safetensors(bytes: &[u8], origin: &str) -> Result<Self, PriorSamplesError> {
        let invalid = |problem: String| PriorSamplesError {
            origin: origin.to_string(),
            problem,
        };
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|error| invalid(error.to_string()))?;
        let view = tensors
            .tensor("images")
            .map_err(|_| invalid("there is no tensor named images".into()))?;
        let (safetensors::Dtype::F32, &[_, c, h, w]) = (view.dtype(), view.shape()) else {
            return Err(invalid(format!(
                "images must be F32 of shape [N, C, H, W], found {:?} {:?}",
                view.dtype(),
                view.shape()
            )));
        };
        Ok(Self {
            images: bytemuck::pod_collect_to_vec(view.data()),
            image_shape: [c, h, w],
        })
    }
}
