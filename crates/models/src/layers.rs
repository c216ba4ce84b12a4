//! The convolutional encoder and decoder of pythae's MNIST networks, shared by the autoencoder
//! and the VAE.
//!
//! # Shapes
//!
//! | step            | shape (width w)                 |
//! |-----------------|---------------------------------|
//! | input           | [B, 1, 28, 28]                  |
//! | conv 1          | [B, 128w, 14, 14]               |
//! | conv 2          | [B, 256w, 7, 7]                 |
//! | conv 3          | [B, 512w, 3, 3]                 |
//! | conv 4          | [B, 1024w, 1, 1], flattened     |
//! | decoder linear  | [B, 1024w, 4, 4]                |
//! | deconv 1        | [B, 512w, 7, 7]                 |
//! | deconv 2        | [B, 256w, 14, 14]               |
//! | deconv 3        | [B, 1, 28, 28], in (0, 1)       |

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

/// Four 4x4 stride-2 convolutions, each followed by batch norm and ReLU.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    norm1: BatchNorm,
    conv2: Conv2d,
    norm2: BatchNorm,
    conv3: Conv2d,
    norm3: BatchNorm,
    conv4: Conv2d,
    norm4: BatchNorm,
}

impl ConvEncoder {
    /// Builds the encoder for images of `in_channels` with the given convolution channels.
    pub fn init(in_channels: usize, channels: [usize; 4], device: &Device) -> Self {
        let [c1, c2, c3, c4] = channels;
        let down = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let norm = |channels: usize| BatchNormConfig::new(channels).init(device);
        Self {
            conv1: down(in_channels, c1),
            norm1: norm(c1),
            conv2: down(c1, c2),
            norm2: norm(c2),
            conv3: down(c2, c3),
            norm3: norm(c3),
            conv4: down(c3, c4),
            norm4: norm(c4),
        }
    }

    /// Maps images [B, 1, 28, 28] to features [B, 1024w].
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.norm1.forward(self.conv1.forward(images))); // [B, 128w, 14, 14]
        let x = relu(self.norm2.forward(self.conv2.forward(x))); // [B, 256w, 7, 7]
        let x = relu(self.norm3.forward(self.conv3.forward(x))); // [B, 512w, 3, 3]
        let x = relu(self.norm4.forward(self.conv4.forward(x))); // [B, 1024w, 1, 1]
        x.flatten(1, 3) // [B, 1024w]
    }
}

/// A linear layer to 4x4 maps, then three 3x3 stride-2 transposed convolutions and a sigmoid.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    fc: Linear,
    deconv1: ConvTranspose2d,
    denorm1: BatchNorm,
    deconv2: ConvTranspose2d,
    denorm2: BatchNorm,
    deconv3: ConvTranspose2d,
}

impl ConvDecoder {
    /// Builds the decoder from latents of `latent_dim` to images of `out_channels`.
    pub fn init(
        latent_dim: usize,
        channels: [usize; 4],
        out_channels: usize,
        device: &Device,
    ) -> Self {
        let [_, c2, c3, c4] = channels;
        let up = |from: usize, to: usize, padding_out: usize| {
            ConvTranspose2dConfig::new([from, to], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([padding_out, padding_out])
                .init(device)
        };
        let norm = |channels: usize| BatchNormConfig::new(channels).init(device);
        Self {
            fc: LinearConfig::new(latent_dim, c4 * 16).init(device),
            deconv1: up(c4, c3, 0),
            denorm1: norm(c3),
            deconv2: up(c3, c2, 1),
            denorm2: norm(c2),
            deconv3: up(c2, out_channels, 1),
        }
    }

    /// Maps latents [B, d] to images [B, 1, 28, 28] with values in (0, 1).
    pub fn forward(&self, latents: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latents.dims();
        let channels = self.deconv1.weight.dims()[0];

        let x = self.fc.forward(latents); // [B, 1024w * 16]
        let x: Tensor<4> = x.reshape([batch, channels, 4, 4]); // [B, 1024w, 4, 4]

        let x = relu(self.denorm1.forward(self.deconv1.forward(x))); // [B, 512w, 7, 7]
        let x = relu(self.denorm2.forward(self.deconv2.forward(x))); // [B, 256w, 14, 14]
        sigmoid(self.deconv3.forward(x)) // [B, 1, 28, 28]
    }
}
