//! The convolutional autoencoder in pythae's MNIST layout.
//!
//! Encoder: four 4x4 stride-2 convolutions (padding 1), each followed by batch norm and ReLU, then
//! a linear layer to the latent. Decoder: a linear layer to 4x4 maps, three 3x3 stride-2
//! transposed convolutions up to 28x28 (batch norm and ReLU between them), then a sigmoid.
//! At width 1.0 the convolutions have pythae's 128, 256, 512 and 1024 channels; `width` scales
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
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Channels of pythae's MNIST networks at width 1.0, encoder order.
pub const PYTHAE_CHANNELS: [usize; 4] = [128, 256, 512, 1024];

/// Image shape the pythae MNIST layout is built for: [channels, height, width].
pub const IMAGE_SHAPE: [usize; 3] = [1, 28, 28];

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
        "the pythae MNIST layout takes images of shape [1, 28, 28], found {found:?}; \
         use a dataset of 28x28 grayscale images"
    )]
    ImageShape { found: [usize; 3] },
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
        if image_shape != IMAGE_SHAPE {
            return Err(ModelConfigError::ImageShape { found: image_shape });
        }
        Ok(())
    }

    /// Channel counts of the four encoder convolutions at this width, each at least 1.
    pub fn channels(&self) -> [usize; 4] {
        PYTHAE_CHANNELS.map(|channels| ((channels as f64 * self.width).round() as usize).max(1))
    }

    /// Builds a freshly initialised model on `device`. Seed the device first for a reproducible
    /// initialisation.
    pub fn init(&self, device: &Device) -> ConvAutoencoder {
        let [c1, c2, c3, c4] = self.channels();
        let [in_channels, _, _] = IMAGE_SHAPE;
        let down = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |from: usize, to: usize, padding_out: usize| {
            ConvTranspose2dConfig::new([from, to], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([padding_out, padding_out])
                .init(device)
        };
        let norm = |channels: usize| BatchNormConfig::new(channels).init(device);

        ConvAutoencoder {
            conv1: down(in_channels, c1),
            norm1: norm(c1),
            conv2: down(c1, c2),
            norm2: norm(c2),
            conv3: down(c2, c3),
            norm3: norm(c3),
            conv4: down(c3, c4),
            norm4: norm(c4),
            embedding: LinearConfig::new(c4, self.latent_dim).init(device),

            fc: LinearConfig::new(self.latent_dim, c4 * 16).init(device),
            deconv1: up(c4, c3, 0),
            denorm1: norm(c3),
            deconv2: up(c3, c2, 1),
            denorm2: norm(c2),
            deconv3: up(c2, in_channels, 1),
        }
    }
}

/// Convolutional autoencoder; see the module docs for the layer shapes.
#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    conv1: Conv2d,
    norm1: BatchNorm,
    conv2: Conv2d,
    norm2: BatchNorm,
    conv3: Conv2d,
    norm3: BatchNorm,
    conv4: Conv2d,
    norm4: BatchNorm,
    embedding: Linear,

    fc: Linear,
    deconv1: ConvTranspose2d,
    denorm1: BatchNorm,
    deconv2: ConvTranspose2d,
    denorm2: BatchNorm,
    deconv3: ConvTranspose2d,
}

impl ConvAutoencoder {
    /// Maps images [B, 1, 28, 28] to latents [B, d].
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.norm1.forward(self.conv1.forward(images))); // [B, 128w, 14, 14]
        let x = relu(self.norm2.forward(self.conv2.forward(x))); // [B, 256w, 7, 7]
        let x = relu(self.norm3.forward(self.conv3.forward(x))); // [B, 512w, 3, 3]
        let x = relu(self.norm4.forward(self.conv4.forward(x))); // [B, 1024w, 1, 1]

        let x: Tensor<2> = x.flatten(1, 3); // [B, 1024w]
        self.embedding.forward(x) // [B, d]
    }

    /// Maps latents [B, d] to images [B, 1, 28, 28] with values in (0, 1).
    pub fn decode(&self, latents: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latents.dims();
        let channels = self.deconv1.weight.dims()[0];

        let x = self.fc.forward(latents); // [B, 1024w * 16]
        let x: Tensor<4> = x.reshape([batch, channels, 4, 4]); // [B, 1024w, 4, 4]

        let x = relu(self.denorm1.forward(self.deconv1.forward(x))); // [B, 512w, 7, 7]
        let x = relu(self.denorm2.forward(self.deconv2.forward(x))); // [B, 256w, 14, 14]
        sigmoid(self.deconv3.forward(x)) // [B, 1, 28, 28]
    }

    /// Reconstructs images [B, 1, 28, 28] through the latent space.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }
}
