//! The reference classifier: a small convolutional network that predicts the class of an image.
//! It is trained once on the original training images and applied to every round's output.
//!
//! # Shapes
//!
//! | step          | shape, [C, H, W] input            |
//! |---------------|-----------------------------------|
//! | input         | [B, C, H, W]                      |
//! | conv 1, pool  | [B, 16, H / 2, W / 2]             |
//! | conv 2, pool  | [B, 32, H / 4, W / 4]             |
//! | linear, ReLU  | [B, 128]                          |
//! | linear        | [B, classes], logits              |
//!
//! Both convolutions are 3x3 with padding 1, followed by ReLU and 2x2 max pooling (sides
//! rounded down).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use irl_store::Split;

use crate::infer::{batch_tensor, to_f32};

/// Channels of the two convolutions and units of the hidden linear layer.
const CHANNELS: [usize; 2] = [16, 32];
const HIDDEN: usize = 128;

/// Smallest image side the two poolings can take.
pub const MIN_CLASSIFIER_SIDE: usize = 4;

/// The reference classifier; see the module docs for the layer shapes.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    output: Linear,
}

impl Classifier {
    /// Builds a freshly initialised classifier for images of `image_shape` ([channels, height,
    /// width]) and `classes` classes. Seed the device first for a reproducible initialisation.
    pub fn init(image_shape: [usize; 3], classes: usize, device: &Device) -> Self {
        let [channels, height, width] = image_shape;
        let conv = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let features = CHANNELS[1] * (height / 4) * (width / 4);
        Self {
            conv1: conv(channels, CHANNELS[0]),
            conv2: conv(CHANNELS[0], CHANNELS[1]),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            hidden: LinearConfig::new(features, HIDDEN).init(device),
            output: LinearConfig::new(HIDDEN, classes).init(device),
        }
    }

    /// Maps images [B, C, H, W] to class logits [B, classes].
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images))); // [B, 16, H/2, W/2]
        let x = self.pool.forward(relu(self.conv2.forward(x))); // [B, 32, H/4, W/4]
        let x = relu(self.hidden.forward(x.flatten(1, 3))); // [B, 128]
        self.output.forward(x) // [B, classes]
    }
}

/// Predicts the class of every image of `split`, `batch_size` images at a time: the index of
/// the largest logit.
pub fn predict_split(
    model: &Classifier,
    split: &Split,
    device: &Device,
    batch_size: usize,
) -> Vec<u32> {
    let mut predicted = Vec::with_capacity(split.len());
    let indices: Vec<usize> = (0..split.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let images = batch_tensor(split, chunk, device); // [B, C, H, W]
        let logits = to_f32(model.forward(images).into_data()); // [B, classes]
        let classes = logits.len() / chunk.len();
        predicted.extend(logits.chunks(classes).map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (class, &logit)| {
                    if logit > best.1 { (class, logit) } else { best }
                })
                .0 as u32
        }));
    }
    predicted
}
