//! Batched inference over a whole split, in evaluation mode.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use irl_store::Split;

use crate::ConvAutoencoder;

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
        let data = reconstruction.into_data();
        output.extend_from_slice(data.as_slice::<f32>().expect("model outputs are f32"));
    }
    output
}
