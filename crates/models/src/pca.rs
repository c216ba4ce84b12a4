//! Principal component analysis as a model of the loop: the closed-form linear baseline.
//!
//! Fitting centres the training images and keeps the `k` eigenvectors of their covariance with
//! the largest eigenvalues. A reconstruction projects an image onto the affine subspace they span:
//! `x' = mean + V^T V (x - mean)`, with V the [k, D] matrix of components (D pixels per image).
//! The latent is `V (x - mean)`.
//!
//! Reconstructions lie in that subspace and have the same mean, so a second round fits the same
//! subspace again and reproduces its input exactly: the loop is a fixed point after one round.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use irl_store::Split;
use nalgebra::DMatrix;

/// Images per block when accumulating the covariance, to bound the memory of the centred copy.
const BLOCK: usize = 2048;

/// A fitted PCA: the pixel mean and the leading components, as burn parameters so that the
/// weights are stored like every other model's.
#[derive(Module, Debug)]
pub struct Pca {
    /// [D]: the mean training image.
    pub mean: Param<Tensor<1>>,
    /// [k, D]: orthonormal rows, by decreasing explained variance.
    pub components: Param<Tensor<2>>,
}

/// Statistics of a fit, besides the model.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaFit {
    /// Variance along each kept component, largest first.
    pub explained_variance: Vec<f64>,
    /// Sum of the variances of all pixels.
    pub total_variance: f64,
}

/// A PCA that cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PcaError {
    #[error(
        "model.latent_dim is {components}, but PCA of {pixels}-pixel images from {images} \
         training images has at most {max} components; set model.latent_dim to at most {max}"
    )]
    TooManyComponents {
        components: usize,
        pixels: usize,
        images: usize,
        max: usize,
    },
    #[error("model.latent_dim must be at least 1 for PCA, found 0")]
    NoComponents,
}

/// Checks that `components` can be fitted to `images` images of `pixels` pixels.
pub fn validate(components: usize, pixels: usize, images: usize) -> Result<(), PcaError> {
    if components == 0 {
        return Err(PcaError::NoComponents);
    }
    let max = pixels.min(images.saturating_sub(1));
    if components > max {
        return Err(PcaError::TooManyComponents {
            components,
            pixels,
            images,
            max,
        });
    }
    Ok(())
}

impl Pca {
    /// Builds a model of `components` zero components for images of `pixels` pixels, the shape
    /// that stored weights are loaded into.
    pub fn init(components: usize, pixels: usize, device: &Device) -> Self {
        Self {
            mean: Param::from_tensor(Tensor::zeros([pixels], device)),
            components: Param::from_tensor(Tensor::zeros([components, pixels], device)),
        }
    }

    /// Fits `components` components to the images of `split`, in double precision.
    pub fn fit(
        split: &Split,
        components: usize,
        device: &Device,
    ) -> Result<(Self, PcaFit), PcaError> {
        let pixels = split.image_len();
        let count = split.len();
        validate(components, pixels, count)?;

        let mut mean = vec![0.0f64; pixels];
        for index in 0..count {
            for (sum, value) in mean.iter_mut().zip(split.image(index)) {
                *sum += f64::from(*value);
            }
        }
        for value in &mut mean {
            *value /= count as f64;
        }

        let mut covariance = DMatrix::<f64>::zeros(pixels, pixels);
        for start in (0..count).step_by(BLOCK) {
            let rows = BLOCK.min(count - start);
            let block = DMatrix::from_row_iterator(
                rows,
                pixels,
                (start..start + rows).flat_map(|index| {
                    split
                        .image(index)
                        .iter()
                        .zip(&mean)
                        .map(|(value, mean)| f64::from(*value) - mean)
                }),
            );
            covariance += block.transpose() * &block;
        }
        covariance /= count as f64;
        let total_variance = covariance.trace();

        let eigen = covariance.symmetric_eigen();
        let mut order: Vec<usize> = (0..pixels).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let kept = &order[..components];
        let mut rows = Vec::with_capacity(components * pixels);
        for &column in kept {
            let vector = eigen.eigenvectors.column(column);
            // An eigenvector's sign is arbitrary; fix it so that its largest entry is positive.
            let largest = vector
                .iter()
                .copied()
                .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                .unwrap_or(1.0);
            let sign = if largest < 0.0 { -1.0 } else { 1.0 };
            rows.extend(vector.iter().map(|value| (sign * value) as f32));
        }
        let fit = PcaFit {
            explained_variance: kept.iter().map(|&i| eigen.eigenvalues[i]).collect(),
            total_variance,
        };
        let mean: Vec<f32> = mean.into_iter().map(|value| value as f32).collect();
        let model = Self {
            mean: Param::from_tensor(Tensor::from_data(TensorData::new(mean, [pixels]), device)),
            components: Param::from_tensor(Tensor::from_data(
                TensorData::new(rows, [components, pixels]),
                device,
            )),
        };
        Ok((model, fit))
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.components.val().dims()[0]
    }

    /// Encodes a batch of images [B, C, H, W] as latents [B, k].
    pub fn encode(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let pixels = self.mean.val().dims()[0];
        let flat: Tensor<2> = images.reshape([batch, pixels]);
        let centred = flat - self.mean.val().unsqueeze::<2>();
        centred.matmul(self.components.val().transpose())
    }

    /// Decodes latents [B, k] into images [B, C, H, W] of shape `image_shape` ([C, H, W]).
    pub fn decode(&self, latents: Tensor<2>, image_shape: [usize; 3]) -> Tensor<4> {
        let [batch, _] = latents.dims();
        let flat = latents.matmul(self.components.val()) + self.mean.val().unsqueeze::<2>();
        let [c, h, w] = image_shape;
        flat.reshape([batch, c, h, w])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images of 12 pixels on a 3-dimensional affine subspace, with labels 0.
    fn subspace_split(count: usize) -> Split {
        let directions = [
            [1.0, 0.5, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.2],
        ];
        let mut images = Vec::new();
        for index in 0..count {
            let t = index as f32;
            let weights = [
                (t * 0.37).sin() * 3.0,
                (t * 0.11).cos(),
                (t * 0.73).sin() * 0.5,
            ];
            for pixel in 0..12 {
                let value: f32 = weights
                    .iter()
                    .zip(&directions)
                    .map(|(weight, direction)| weight * direction[pixel])
                    .sum();
                images.push(0.5 + value);
            }
        }
        Split {
            images,
            labels: vec![0; count],
            image_shape: [1, 3, 4],
        }
    }

    #[test]
    fn three_components_reproduce_a_three_dimensional_subspace() {
        let device = Device::flex();
        let split = subspace_split(200);
        let (pca, fit) = Pca::fit(&split, 3, &device).unwrap();
        assert_eq!(pca.components(), 3);
        assert!(
            fit.explained_variance
                .windows(2)
                .all(|pair| pair[0] >= pair[1])
        );
        let kept: f64 = fit.explained_variance.iter().sum();
        assert!((kept - fit.total_variance).abs() < 1e-9 * fit.total_variance.max(1.0));

        let model = crate::infer::LoopModel::Pca(pca);
        let all: Vec<usize> = (0..split.len()).collect();
        let encoded = model.encode_and_reconstruct(&split, &all, &device, 64);
        assert_eq!(encoded.latent_dim, 3);
        assert!(split.mean_image_squared_distance(&encoded.reconstructions) < 1e-9);
    }

    #[test]
    fn fewer_components_keep_the_largest_variance() {
        let device = Device::flex();
        let split = subspace_split(200);
        let (pca, fit) = Pca::fit(&split, 1, &device).unwrap();
        let (_, full) = Pca::fit(&split, 3, &device).unwrap();
        assert_eq!(fit.explained_variance[0], full.explained_variance[0]);
        let model = crate::infer::LoopModel::Pca(pca);
        let all: Vec<usize> = (0..split.len()).collect();
        let encoded = model.encode_and_reconstruct(&split, &all, &device, 64);
        // The squared error left is the variance of the dropped directions.
        let left = split.mean_image_squared_distance(&encoded.reconstructions);
        let dropped = full.explained_variance[1] + full.explained_variance[2];
        assert!(
            (left - dropped).abs() < 1e-4 * dropped,
            "{left} vs {dropped}"
        );
    }

    #[test]
    fn too_many_components_are_rejected() {
        assert_eq!(validate(0, 784, 100), Err(PcaError::NoComponents));
        let error = validate(50, 12, 30).unwrap_err();
        assert_eq!(
            error.to_string(),
            "model.latent_dim is 50, but PCA of 12-pixel images from 30 training images has at \
             most 12 components; set model.latent_dim to at most 12"
        );
    }
}
