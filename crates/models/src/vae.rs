//! The variational autoencoder in pythae's MNIST layout (`Encoder_Conv_VAE_MNIST`, pythae 0.1.2).
//!
//! The encoder is the autoencoder's convolution stack followed by two linear heads, the mean and
//! the log-variance of q(z|x). A latent is drawn by reparameterisation,
//! z = mean + eps * exp(log_var / 2) with eps ~ N(0, I), and decoded by the autoencoder's decoder.
//!
//! # Shapes
//!
//! | step              | shape (width w, latent d)       |
//! |-------------------|---------------------------------|
//! | input             | [B, 1, 28, 28]                  |
//! | encoder features  | [B, 1024w]                      |
//! | mean, log_var     | [B, d] each                     |
//! | z                 | [B, d]                          |
//! | reconstruction    | [B, 1, 28, 28], in (0, 1)       |

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

use crate::conv_ae::ConvAutoencoderConfig;
use crate::layers::{ConvDecoder, ConvEncoder};

/// Variational autoencoder; see the module docs for the layer shapes.
#[derive(Module, Debug)]
pub struct ConvVae {
    encoder: ConvEncoder,
    mean: Linear,
    log_var: Linear,
    decoder: ConvDecoder,
}

/// Result of one pass through the VAE.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// Decoded sample, [B, C, H, W].
    pub reconstruction: Tensor<4>,
    /// Mean of q(z|x), [B, d].
    pub mean: Tensor<2>,
    /// Log-variance of q(z|x), [B, d].
    pub log_var: Tensor<2>,
    /// The sampled latent, [B, d].
    pub z: Tensor<2>,
}

impl ConvAutoencoderConfig {
    /// Builds a freshly initialised VAE of this architecture for images of `image_shape` on
    /// `device`.
    pub fn init_vae(&self, image_shape: [usize; 3], device: &Device) -> ConvVae {
        let channels = self.channels();
        let [in_channels, _, _] = image_shape;
        let features = self.encoded_features(image_shape);
        ConvVae {
            encoder: ConvEncoder::init(in_channels, channels, device),
            mean: LinearConfig::new(features, self.latent_dim).init(device),
            log_var: LinearConfig::new(features, self.latent_dim).init(device),
            decoder: ConvDecoder::init(self.latent_dim, channels, image_shape, device),
        }
    }
}

impl ConvVae {
    /// Maps images [B, C, H, W] to the mean and log-variance of q(z|x), [B, d] each.
    pub fn encode(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let features = self.encoder.forward(images); // [B, 1024w]
        let mean = self.mean.forward(features.clone()); // [B, d]
        let log_var = self.log_var.forward(features); // [B, d]
        (mean, log_var)
    }

    /// Maps latents [B, d] to images [B, C, H, W] with values in (0, 1).
    pub fn decode(&self, latents: Tensor<2>) -> Tensor<4> {
        self.decoder.forward(latents)
    }

    /// Encodes, draws z from q(z|x) with the device's random generator, and decodes it.
    pub fn forward(&self, images: Tensor<4>) -> VaeOutput {
        let (mean, log_var) = self.encode(images);
        let z = reparameterize(mean.clone(), log_var.clone()); // [B, d]
        VaeOutput {
            reconstruction: self.decode(z.clone()),
            mean,
            log_var,
            z,
        }
    }
}

/// Draws z = mean + eps * exp(log_var / 2), eps ~ N(0, I), from the device's random generator.
pub fn reparameterize(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<2> {
    let eps = Tensor::random(mean.shape(), Distribution::Normal(0.0, 1.0), &mean.device());
    let std = log_var.mul_scalar(0.5).exp(); // [B, d]
    mean + eps * std
}
