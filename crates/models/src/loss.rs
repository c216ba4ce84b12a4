//! Reconstruction losses, reduced as pythae 0.1.2 reduces the AE loss.

use burn::tensor::Tensor;

/// Squared error summed over the values of each image: [B, C, H, W] pairs to [B].
pub fn per_image_squared_error(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let difference = reconstruction - target; // [B, C, H, W]
    let per_image: Tensor<2> = difference.square().flatten(1, 3); // [B, C*H*W]
    per_image.sum_dim(1).squeeze_dim(1) // [B]
}

/// The AE loss: squared error summed over the pixels of an image, averaged over the batch.
/// Returns a one-element tensor.
pub fn reconstruction_loss(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    per_image_squared_error(reconstruction, target).mean() // [1]
}
