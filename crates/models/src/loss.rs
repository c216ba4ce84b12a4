//! The losses of the autoencoder and the VAE, reduced as pythae 0.1.2 reduces them.

use burn::tensor::Tensor;

/// Squared error summed over the values of each image: [B, C, H, W] pairs to [B].
pub fn per_image_squared_error(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let difference = reconstruction - target; // [B, C, H, W]
    let per_image: Tensor<2> = difference.square().flatten(1, 3); // [B, C*H*W]
    per_image.sum_dim(1).squeeze_dim(1) // [B]
}

/// Computes the AE loss: squared error summed over the pixels of an image, averaged over the batch.
/// Returns a one-element tensor.
pub fn reconstruction_loss(reconstruction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    per_image_squared_error(reconstruction, target).mean() // [1]
}

/// Reconstruction term of the VAE loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconstructionTerm {
    /// One half of the squared error summed over the pixels (a Gaussian decoder of unit variance).
    Mse,
    /// Binary cross-entropy summed over the pixels; the targets must lie in [0, 1].
    Bce,
}

/// The VAE loss of a batch and its two terms, each averaged over the batch ([1] tensors).
#[derive(Debug, Clone)]
pub struct VaeLoss {
    pub total: Tensor<1>,
    pub reconstruction: Tensor<1>,
    pub kl: Tensor<1>,
}

/// Computes the VAE loss as pythae 0.1.2 reduces it. Per image, the reconstruction term is summed over the
/// pixels (`0.5 * (x' - x)^2` for [`ReconstructionTerm::Mse`], `-(x ln x' + (1 - x) ln(1 - x'))`
/// for [`ReconstructionTerm::Bce`], with each logarithm clamped at -100 as PyTorch does), and the
/// KL divergence to N(0, I) is `-0.5 * sum_j (1 + log_var_j - mean_j^2 - exp(log_var_j))` over the
/// latent dimensions. Both are then averaged over the batch, and the total is their sum.
pub fn vae_loss(
    reconstruction: Tensor<4>,
    target: Tensor<4>,
    mean: Tensor<2>,
    log_var: Tensor<2>,
    term: ReconstructionTerm,
) -> VaeLoss {
    let (per_image, kl) = vae_terms_per_image(reconstruction, target, mean, log_var, term);
    let reconstruction = per_image.mean(); // [1]
    let kl = kl.mean(); // [1]
    VaeLoss {
        total: reconstruction.clone() + kl.clone(),
        reconstruction,
        kl,
    }
}

/// Computes the two terms of [`vae_loss`] for each image of the batch, before the batch average:
/// the reconstruction term [B] and the KL divergence [B].
pub fn vae_terms_per_image(
    reconstruction: Tensor<4>,
    target: Tensor<4>,
    mean: Tensor<2>,
    log_var: Tensor<2>,
    term: ReconstructionTerm,
) -> (Tensor<1>, Tensor<1>) {
    let per_image = match term {
        ReconstructionTerm::Mse => per_image_squared_error(reconstruction, target).mul_scalar(0.5),
        ReconstructionTerm::Bce => {
            let log_p = reconstruction.clone().log().clamp_min(-100.0); // [B, C, H, W]
            let log_not_p = reconstruction.neg().add_scalar(1.0).log().clamp_min(-100.0);
            let per_pixel = target.clone() * log_p + target.neg().add_scalar(1.0) * log_not_p;
            let per_pixel: Tensor<2> = per_pixel.neg().flatten(1, 3); // [B, C*H*W]
            per_pixel.sum_dim(1).squeeze_dim(1) // [B]
        }
    };
    let kl = log_var.clone().add_scalar(1.0) - mean.square() - log_var.exp(); // [B, d]
    let kl = kl.sum_dim(1).squeeze_dim::<1>(1).mul_scalar(-0.5); // [B]
    (per_image, kl)
}
