//! The convolutional encoder and decoder of pythae's MNIST networks, shared by the autoencoder
//! and the VAE.
//!
//! # Shapes
//!
//! | step            | shape (width w), 28x28 input    |
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
//!
//! pythae fixes these sizes for 28x28 images. Here they follow from the image shape: each
//! convolution maps a side s to floor(s / 2), and the flattened features are 1024w times the
//! area left after four of them. The decoder works back from the image side t: each transposed
//! convolution maps s to 2s - 1 + p with output padding p in {0, 1}, so its input side is
//! floor((t + 1) / 2) and p = t - 2 * floor((t + 1) / 2) + 1. For 28 this gives pythae's
//! 4 -> 7 -> 14 -> 28 with output paddings 0, 1, 1.

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

    /// Maps images [B, C, H, W] to features [B, 1024w * (H / 16) * (W / 16)], each side
    /// halved and rounded down four times.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.norm1.forward(self.conv1.forward(images))); // [B, 128w, 14, 14]
        let x = relu(self.norm2.forward(self.conv2.forward(x))); // [B, 256w, 7, 7]
        let x = relu(self.norm3.forward(self.conv3.forward(x))); // [B, 512w, 3, 3]
        let x = relu(self.norm4.forward(self.conv4.forward(x))); // [B, 1024w, 1, 1]
        x.flatten(1, 3) // [B, 1024w]
    }
}

/// A linear layer to small maps, then three 3x3 stride-2 transposed convolutions and a sigmoid.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    /// Side lengths of the maps the linear layer produces: 4x4 for 28x28 images.
    start_rows: usize,
    start_columns: usize,
    fc: Linear,
    deconv1: ConvTranspose2d,
    denorm1: BatchNorm,
    deconv2: ConvTranspose2d,
    denorm2: BatchNorm,
    deconv3: ConvTranspose2d,
}

impl ConvDecoder {
    /// Builds the decoder from latents of `latent_dim` to images of `image_shape`
    /// ([channels, height, width]).
    pub fn init(
        latent_dim: usize,
        channels: [usize; 4],
        image_shape: [usize; 3],
        device: &Device,
    ) -> Self {
        let [_, c2, c3, c4] = channels;
        let [out_channels, height, width] = image_shape;
        let (rows, row_padding) = upsampling_sides(height);
        let (columns, column_padding) = upsampling_sides(width);
        let up = |from: usize, to: usize, step: usize| {
            ConvTranspose2dConfig::new([from, to], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([row_padding[step], column_padding[step]])
                .init(device)
        };
        let norm = |channels: usize| BatchNormConfig::new(channels).init(device);
        Self {
            start_rows: rows[0],
            start_columns: columns[0],
            fc: LinearConfig::new(latent_dim, c4 * rows[0] * columns[0]).init(device),
            deconv1: up(c4, c3, 0),
            denorm1: norm(c3),
            deconv2: up(c3, c2, 1),
            denorm2: norm(c2),
            deconv3: up(c2, out_channels, 2),
        }
    }

    /// Maps latents [B, d] to images [B, C, H, W] with values in (0, 1).
    pub fn forward(&self, latents: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latents.dims();
        let channels = self.deconv1.weight.dims()[0];
        let (rows, columns) = (self.start_rows, self.start_columns);

        let x = self.fc.forward(latents); // [B, 1024w * 16] for 28x28
        let x: Tensor<4> = x.reshape([batch, channels, rows, columns]); // [B, 1024w, 4, 4]

        let x = relu(self.denorm1.forward(self.deconv1.forward(x))); // [B, 512w, 7, 7]
        let x = relu(self.denorm2.forward(self.deconv2.forward(x))); // [B, 256w, 14, 14]
        sigmoid(self.deconv3.forward(x)) // [B, 1, 28, 28]
    }
}

/// Side length after the four stride-2 convolutions of the encoder: halved, rounded down, four
/// times. Zero means the image is too small for the encoder.
pub fn encoded_side(side: usize) -> usize {
    (0..4).fold(side, |side, _| side / 2)
}

/// Works back from an image side through the decoder's three transposed convolutions. Returns
/// the four sides, from the linear layer's maps to the image, and the output padding of each
/// transposed convolution.
fn upsampling_sides(side: usize) -> ([usize; 4], [usize; 3]) {
    let mut sides = [0; 4];
    let mut paddings = [0; 3];
    sides[3] = side;
    for step in (0..3).rev() {
        let target = sides[step + 1];
        sides[step] = target.div_ceil(2).max(1);
        paddings[step] = (target + 1).saturating_sub(2 * sides[step]).min(1);
    }
    (sides, paddings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_matches_pythae_for_28() {
        assert_eq!(upsampling_sides(28), ([4, 7, 14, 28], [0, 1, 1]));
        assert_eq!(encoded_side(28), 1);
    }

    #[test]
    fn upsampling_reaches_every_side() {
        for side in 16..=96 {
            let (sides, paddings) = upsampling_sides(side);
            for step in 0..3 {
                assert_eq!(
                    2 * sides[step] - 1 + paddings[step],
                    sides[step + 1],
                    "side {side}"
                );
            }
        }
    }
}
