//! The training objective of each model kind, and the measurement of its loss on the test split.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use irl_models::infer::{DecodedLatent, reconstruct_split, vae_pass};
use irl_models::sampling::standard_normal;
use irl_models::{
    ConvAutoencoder, ConvAutoencoderConfig, ConvVae, ReconstructionTerm, reconstruction_loss,
    vae_loss,
};
use irl_store::Split;

/// A model kind's training objective.
pub(crate) trait Objective {
    type Model: Module;

    /// Builds a freshly initialised model on `device`.
    fn init(&self, device: &Device) -> Self::Model;

    /// Names of the values [`Objective::batch_loss`] returns, the total loss first.
    fn value_names(&self) -> &'static [&'static str];

    /// Computes the loss of a batch, then its terms, as [1] tensors. The first one is minimised.
    fn batch_loss(&self, model: &Self::Model, images: Tensor<4>) -> Vec<Tensor<1>>;

    /// Computes the same values, averaged over the images of `split`, with `model` in evaluation
    /// mode. `seed` determines any sampling.
    fn test_loss(
        &self,
        model: &Self::Model,
        split: &Split,
        device: &Device,
        batch_size: usize,
        seed: u64,
    ) -> Vec<f64>;
}

/// pythae's AE loss: squared error summed over the pixels of an image, averaged over the batch.
pub(crate) struct Autoencoder<'a> {
    pub architecture: &'a ConvAutoencoderConfig,
    pub image_shape: [usize; 3],
}

impl Objective for Autoencoder<'_> {
    type Model = ConvAutoencoder;

    fn init(&self, device: &Device) -> ConvAutoencoder {
        self.architecture.init(self.image_shape, device)
    }

    fn value_names(&self) -> &'static [&'static str] {
        &["loss"]
    }

    fn batch_loss(&self, model: &ConvAutoencoder, images: Tensor<4>) -> Vec<Tensor<1>> {
        let reconstruction = model.forward(images.clone()); // [B, C, H, W]
        vec![reconstruction_loss(reconstruction, images)]
    }

    fn test_loss(
        &self,
        model: &ConvAutoencoder,
        split: &Split,
        device: &Device,
        batch_size: usize,
        _seed: u64,
    ) -> Vec<f64> {
        let reconstruction = reconstruct_split(model, split, device, batch_size);
        vec![split.mean_image_squared_distance(&reconstruction)]
    }
}

/// pythae's VAE loss, [`vae_loss`], with one sampled latent per image.
pub(crate) struct Vae<'a> {
    pub architecture: &'a ConvAutoencoderConfig,
    pub image_shape: [usize; 3],
    pub term: ReconstructionTerm,
}

impl Objective for Vae<'_> {
    type Model = ConvVae;

    fn init(&self, device: &Device) -> ConvVae {
        self.architecture.init_vae(self.image_shape, device)
    }

    fn value_names(&self) -> &'static [&'static str] {
        &["loss", "reconstruction term", "KL term"]
    }

    fn batch_loss(&self, model: &ConvVae, images: Tensor<4>) -> Vec<Tensor<1>> {
        let output = model.forward(images.clone());
        let loss = vae_loss(
            output.reconstruction,
            images,
            output.mean,
            output.log_var,
            self.term,
        );
        vec![loss.total, loss.reconstruction, loss.kl]
    }

    fn test_loss(
        &self,
        model: &ConvVae,
        split: &Split,
        device: &Device,
        batch_size: usize,
        seed: u64,
    ) -> Vec<f64> {
        let eps = standard_normal(seed, split.len() * self.architecture.latent_dim);
        let pass = vae_pass(
            model,
            split,
            &eps,
            DecodedLatent::Sample,
            self.term,
            device,
            batch_size,
        );
        let count = split.len().max(1) as f64;
        let reconstruction = pass.reconstruction_terms.iter().sum::<f64>() / count;
        let kl = pass.kl.iter().sum::<f64>() / count;
        vec![reconstruction + kl, reconstruction, kl]
    }
}
