//! The convolutional autoencoder in pythae's MNIST layout.
//!
//! Encoder: four 4x4 stride-2 convolutions (padding 1), each followed by batch norm and ReLU, then
//! a linear layer to the latent. Decoder: a linear layer to 4x4 maps, three 3x3 stride-2
//! transposed convolutions up to 28x28 (batch norm and ReLU between them), then a sigmoid.
//! At width 1.0 the convolutions have pythae's 128, 256, 512 and 1024 channels. `width` scales
//! them all, so width 0.125 gives 16, 32, 64 and 128.
//!
//! # Shapes
//!
//! | step            | shape (width w, latent d)       |
//! |-----------------|---------------------------------|
//! | input           | [B, 1, 28, 28]                  |
//! | conv 1          | [B, 128w, 14, 14]               |
//! | conv 2          | [B, 256w, 7, 7]                 |
//! | conv 3          | [B, 512w, 3, 3]                 |
//! | conv 4          | [B, 1024w, 1, 1]                |
//! | latent          | [B, d]                          |
//! | decoder linear  | [B, 1024w, 4, 4]                |
//! | deconv 1        | [B, 512w, 7, 7]                 |
//! | deconv 2        | [B, 256w, 14, 14]               |
//! | deconv 3        | [B, 1, 28, 28], in (0, 1)       |

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::layers::{ConvDecoder, ConvEncoder, encoded_side};

/// Channels of pythae's MNIST networks at width 1.0, encoder order.
pub const PYTHAE_CHANNELS: [usize; 4] = [128, 256, 512, 1024];

/// Smallest image side the four stride-2 convolutions of the encoder can take.
pub const MIN_IMAGE_SIDE: usize = 16;

/// Architecture of a [`ConvAutoencoder`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvAutoencoderConfig {
    /// Multiplier of pythae's channel counts; 1.0 is the published network.
    pub width: f64,
    /// Size of the latent vector.
    pub latent_dim: usize,
}

/// An architecture that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelConfigError {
    #[error("model.width must be a positive number, found {0}")]
    Width(f64),
    #[error("model.latent_dim must be at least 1, found {0}")]
    LatentDim(usize),
    #[error(
        "the pythae MNIST layout needs images of at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} \
         pixels with at least one channel, found shape {found:?} ([channels, height, width]); \
         use larger images"
    )]
    ImageShape { found: [usize; 3] },
    #[error(
        "model.latent_dim is {components}, but PCA needs between 1 and the {pixels} pixels of an \
         image; set model.latent_dim in that range"
    )]
    Components { components: usize, pixels: usize },
}

impl ConvAutoencoderConfig {
    /// Checks that the architecture can be built for images of `image_shape`.
    pub fn validate(&self, image_shape: [usize; 3]) -> Result<(), ModelConfigError> {
        if !(self.width.is_finite() && self.width > 0.0) {
            return Err(ModelConfigError::Width(self.width));
        }
        if self.latent_dim == 0 {
            return Err(ModelConfigError::LatentDim(self.latent_dim));
        }
        let [channels, height, width] = image_shape;
        if channels == 0 || height < MIN_IMAGE_SIDE || width < MIN_IMAGE_SIDE {
            return Err(ModelConfigError::ImageShape { found: image_shape });
        }
        Ok(())
    }

    /// Channel counts of the four encoder convolutions at this width, each at least 1.
    pub fn channels(&self) -> [usize; 4] {
        PYTHAE_CHANNELS.map(|channels| ((channels as f64 * self.width).round() as usize).max(1))
    }

    /// Number of features the encoder's convolutions give for images of `image_shape`.
    pub fn encoded_features(&self, image_shape: [usize; 3]) -> usize {
        let [_, height, width] = image_shape;
        self.channels()[3] * encoded_side(height) * encoded_side(width)
    }

    /// Builds a freshly initialised model for images of `image_shape` ([channels, height,
    /// width]) on `device`. Seed the device first for a reproducible initialisation.
    pub fn init(&self, image_shape: [usize; 3], device: &Device) -> ConvAutoencoder {
        let channels = self.channels();
        let [in_channels, _, _] = image_shape;
        let features = self.encoded_features(image_shape);
        ConvAutoencoder {
            encoder: ConvEncoder::init(in_channels, channels, device),
            embedding: LinearConfig::new(features, self.latent_dim).init(device),
            decoder: ConvDecoder::init(self.latent_dim, channels, image_shape, device),
        }
    }
}

/// Convolutional autoencoder; see the module docs for the layer shapes.
#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    encoder: ConvEncoder,
    embedding: Linear,
    decoder: ConvDecoder,
}

impl ConvAutoencoder {
    /// Maps images [B, C, H, W] to latents [B, d].
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let features = self.encoder.forward(images); // [B, 1024w]
        self.embedding.forward(features) // [B, d]
    }

    /// Maps latents [B, d] to images [B, C, H, W] with values in (0, 1).
    pub fn decode(&self, latents: Tensor<2>) -> Tensor<4> {
        self.decoder.forward(latents)
    }

    /// Reconstructs images [B, C, H, W] through the latent space.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }
}
