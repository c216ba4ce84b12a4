//! Batched inference over a whole split, in evaluation mode.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use irl_store::Split;

use crate::{ConvAutoencoder, ConvVae, ReconstructionTerm, vae_terms_per_image};

/// Builds the image tensor [B, C, H, W] of the images at `indices`.
pub fn batch_tensor(split: &Split, indices: &[usize], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(indices.len() * split.image_len());
    for &index in indices {
        values.extend_from_slice(split.image(index));
    }
    let [c, h, w] = split.image_shape;
    Tensor::from_data(TensorData::new(values, [indices.len(), c, h, w]), device)
}

/// Reconstructs every image of `split` with `model` in evaluation mode (batch norm uses its
/// running statistics), `batch_size` images at a time. Returns the images row-major, in order.
pub fn reconstruct_split(
    model: &ConvAutoencoder,
    split: &Split,
    device: &Device,
    batch_size: usize,
) -> Vec<f32> {
    let model = model.valid();
    let mut output = Vec::with_capacity(split.images.len());
    let indices: Vec<usize> = (0..split.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let images = batch_tensor(split, chunk, device); // [B, C, H, W]
        let reconstruction = model.forward(images); // [B, C, H, W]
        output.extend_from_slice(&to_f32(reconstruction.into_data()));
    }
    output
}

/// Latent that a VAE decodes into the images it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodedLatent {
    /// z = mean + eps * exp(log_var / 2), with the given eps.
    Sample,
    /// The mean of q(z|x).
    Mean,
}

/// Result of [`vae_pass`] over a split of N images with latent size d.
#[derive(Debug, Clone)]
pub struct VaePass {
    /// Decoded images, row-major, in the order of the split.
    pub reconstructions: Vec<f32>,
    /// Means of q(z|x), [N, d] row-major.
    pub means: Vec<f32>,
    /// Per image: the reconstruction term of the loss, on the decode of the sampled z.
    pub reconstruction_terms: Vec<f64>,
    /// Per image: the KL divergence of q(z|x) to N(0, I).
    pub kl: Vec<f64>,
}

/// Runs `model` in evaluation mode over every image of `split`, `batch_size` images at a time.
///
/// `eps` holds the N(0, 1) draws of the sample, d per image in the order of the split, so the
/// result does not depend on the batch size. The loss terms always use the sampled z, as the
/// loss does in training; `decoded` chooses which latent the returned images come from.
///
/// # Panics
///
/// Panics when `eps` does not hold d values per image.
pub fn vae_pass(
    model: &ConvVae,
    split: &Split,
    eps: &[f32],
    decoded: DecodedLatent,
    term: ReconstructionTerm,
    device: &Device,
    batch_size: usize,
) -> VaePass {
    let model = model.valid();
    let latent_dim = eps.len() / split.len().max(1);
    assert_eq!(
        eps.len(),
        split.len() * latent_dim,
        "eps must hold the same number of values for every image"
    );
    let mut pass = VaePass {
        reconstructions: Vec::with_capacity(split.images.len()),
        means: Vec::with_capacity(eps.len()),
        reconstruction_terms: Vec::with_capacity(split.len()),
        kl: Vec::with_capacity(split.len()),
    };
    let indices: Vec<usize> = (0..split.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let images = batch_tensor(split, chunk, device); // [B, C, H, W]
        let (mean, log_var) = model.encode(images.clone()); // [B, d] each
        let rows = chunk[0] * latent_dim..(chunk[0] + chunk.len()) * latent_dim;
        let noise: Tensor<2> = Tensor::from_data(
            TensorData::new(eps[rows].to_vec(), [chunk.len(), latent_dim]),
            device,
        );
        let std = log_var.clone().mul_scalar(0.5).exp(); // [B, d]
        let sampled = model.decode(mean.clone() + noise * std); // [B, C, H, W]
        let (terms, kl) = vae_terms_per_image(sampled.clone(), images, mean.clone(), log_var, term);
        let output = match decoded {
            DecodedLatent::Sample => sampled,
            DecodedLatent::Mean => model.decode(mean.clone()),
        };
        pass.reconstructions
            .extend_from_slice(&to_f32(output.into_data()));
        pass.means.extend_from_slice(&to_f32(mean.into_data()));
        let widen = |values: Vec<f32>| values.into_iter().map(f64::from);
        pass.reconstruction_terms
            .extend(widen(to_f32(terms.into_data())));
        pass.kl.extend(widen(to_f32(kl.into_data())));
    }
    pass
}

pub(crate) fn to_f32(data: TensorData) -> Vec<f32> {
    data.try_into_vec::<f32>().expect("model outputs are f32")
}

/// Latents and evaluation-mode reconstructions of a split, from [`encode_and_reconstruct`].
#[derive(Debug, Clone)]
pub struct Encoded {
    /// [N, d] row-major: the autoencoder's latent, or the mean of the VAE's q(z|x).
    pub latents: Vec<f32>,
    pub latent_dim: usize,
    /// Decoded latents, row-major, in the order of the split.
    pub reconstructions: Vec<f32>,
}

/// A trained model of the loop, ready for inference.
#[derive(Debug)]
pub enum LoopModel {
    ConvAe(ConvAutoencoder),
    Vae(ConvVae),
    Pca(crate::Pca),
}

impl LoopModel {
    /// Builds the model that `spec` describes for images of `image_shape` and loads `weights`
    /// (safetensors bytes; `origin` names them in errors).
    pub fn load(
        spec: &crate::ModelSpec,
        image_shape: [usize; 3],
        weights: Vec<u8>,
        origin: &str,
        device: &Device,
    ) -> Result<Self, crate::weights::WeightsError> {
        Ok(match spec {
            crate::ModelSpec::ConvAe { architecture } => LoopModel::ConvAe(
                crate::weights::load_safetensors(
                    architecture.init(image_shape, device),
                    weights,
                    origin,
                )?
                .valid(),
            ),
            crate::ModelSpec::Vae { architecture, .. } => LoopModel::Vae(
                crate::weights::load_safetensors(
                    architecture.init_vae(image_shape, device),
                    weights,
                    origin,
                )?
                .valid(),
            ),
            crate::ModelSpec::Pca { components } => LoopModel::Pca(
                crate::weights::load_safetensors(
                    crate::Pca::init(*components, image_shape.iter().product(), device),
                    weights,
                    origin,
                )?
                .valid(),
            ),
        })
    }

    /// Encodes the images at `indices` of `split` and decodes the latents again, in evaluation
    /// mode, `batch_size` images at a time. The VAE uses the mean of q(z|x), so the result is
    /// deterministic.
    pub fn encode_and_reconstruct(
        &self,
        split: &Split,
        indices: &[usize],
        device: &Device,
        batch_size: usize,
    ) -> Encoded {
        let mut encoded = Encoded {
            latents: Vec::new(),
            latent_dim: 0,
            reconstructions: Vec::with_capacity(indices.len() * split.image_len()),
        };
        for chunk in indices.chunks(batch_size.max(1)) {
            let images = batch_tensor(split, chunk, device); // [B, C, H, W]
            let (latents, reconstruction) = match self {
                LoopModel::ConvAe(model) => {
                    let latents = model.encode(images); // [B, d]
                    (latents.clone(), model.decode(latents))
                }
                LoopModel::Vae(model) => {
                    let (mean, _) = model.encode(images); // [B, d]
                    (mean.clone(), model.decode(mean))
                }
                LoopModel::Pca(model) => {
                    let latents = model.encode(images); // [B, k]
                    (latents.clone(), model.decode(latents, split.image_shape))
                }
            };
            encoded.latent_dim = latents.dims()[1];
            encoded.latents.extend(to_f32(latents.into_data()));
            encoded
                .reconstructions
                .extend(to_f32(reconstruction.into_data()));
        }
        encoded
    }
}
