//! The VAE: loss terms against hand-computed values, the reparameterised sample's moments, and
//! the shapes of a forward pass.

use burn::tensor::{Device, Tensor, TensorData};
use irl_models::vae::reparameterize;
use irl_models::{ConvAutoencoderConfig, ReconstructionTerm, vae_loss};

fn tensor4(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
    Tensor::from_data(TensorData::new(values, shape), &Device::flex())
}

fn tensor2(values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), &Device::flex())
}

fn scalar(tensor: Tensor<1>) -> f64 {
    f64::from(tensor.into_scalar::<f32>())
}

/// Two 2x2 images, reconstructed as flat grey, and two 2-dimensional posteriors.
fn batch() -> (Tensor<4>, Tensor<4>, Tensor<2>, Tensor<2>) {
    let target = tensor4(vec![0.0, 1.0, 0.5, 0.25, 1.0, 1.0, 1.0, 1.0], [2, 1, 2, 2]);
    let reconstruction = tensor4(vec![0.5; 8], [2, 1, 2, 2]);
    let mean = tensor2(vec![0.0, 0.0, 1.0, -1.0], [2, 2]);
    let log_var = tensor2(vec![0.0, 0.0, 2f32.ln(), 0.0], [2, 2]);
    (reconstruction, target, mean, log_var)
}

#[test]
fn mse_loss_matches_hand_computation() {
    let (reconstruction, target, mean, log_var) = batch();
    let loss = vae_loss(
        reconstruction,
        target,
        mean,
        log_var,
        ReconstructionTerm::Mse,
    );

    // Image 1: 0.5 * (0.25 + 0.25 + 0 + 0.0625) = 0.28125. Image 2: 0.5 * 4 * 0.25 = 0.5.
    let reconstruction = (0.28125 + 0.5) / 2.0;
    // Image 1: -0.5 * 2 * (1 + 0 - 0 - 1) = 0. Image 2: -0.5 * ((ln 2 - 2) + (-1)).
    let kl = (0.0 + -0.5 * (2f64.ln() - 3.0)) / 2.0;
    let (got_reconstruction, got_kl) = (scalar(loss.reconstruction), scalar(loss.kl));
    assert!(
        (got_reconstruction - reconstruction).abs() < 1e-6,
        "{got_reconstruction}"
    );
    assert!((got_kl - kl).abs() < 1e-6, "{got_kl}");
    assert!((scalar(loss.total) - (reconstruction + kl)).abs() < 1e-6);
}

#[test]
fn bce_loss_matches_hand_computation() {
    let (reconstruction, target, mean, log_var) = batch();
    let loss = vae_loss(
        reconstruction,
        target,
        mean,
        log_var,
        ReconstructionTerm::Bce,
    );
    // Every pixel predicted as 0.5 costs ln 2 whatever its target: 4 ln 2 per image.
    let expected = 4.0 * 2f64.ln();
    let got = scalar(loss.reconstruction);
    assert!((got - expected).abs() < 1e-5, "{got}");
}

#[test]
fn bce_clamps_log_of_zero() {
    let target = tensor4(vec![1.0, 0.0], [1, 1, 1, 2]);
    let reconstruction = tensor4(vec![0.0, 1.0], [1, 1, 1, 2]);
    let zeros = tensor2(vec![0.0], [1, 1]);
    let loss = vae_loss(
        reconstruction,
        target,
        zeros.clone(),
        zeros,
        ReconstructionTerm::Bce,
    );
    let got = scalar(loss.reconstruction);
    assert!((got - 200.0).abs() < 1e-3, "{got}");
}

#[test]
fn reparameterized_sample_has_posterior_moments() {
    let device = Device::flex();
    device.seed(11);
    let draws = 20_000;
    let mean = tensor2(vec![1.0; draws], [draws, 1]);
    let log_var = tensor2(vec![4f32.ln(); draws], [draws, 1]);
    let z = reparameterize(mean, log_var);
    let values: Vec<f32> = z.into_data().as_slice::<f32>().unwrap().to_vec();

    let sample_mean = values.iter().map(|v| f64::from(*v)).sum::<f64>() / draws as f64;
    let sample_var = values
        .iter()
        .map(|v| (f64::from(*v) - sample_mean).powi(2))
        .sum::<f64>()
        / (draws - 1) as f64;
    // Standard errors: 2 / sqrt(20000) = 0.014 for the mean, about 0.04 for the variance.
    assert!((sample_mean - 1.0).abs() < 0.06, "mean {sample_mean}");
    assert!((sample_var - 4.0).abs() < 0.2, "variance {sample_var}");
}

#[test]
fn vae_forward_shapes() {
    let device = Device::flex();
    let config = ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 5,
    };
    let model = config.init_vae([1, 28, 28], &device);
    let output = model.forward(tensor4(vec![0.5; 3 * 784], [3, 1, 28, 28]));
    assert_eq!(output.reconstruction.dims(), [3, 1, 28, 28]);
    assert_eq!(output.mean.dims(), [3, 5]);
    assert_eq!(output.log_var.dims(), [3, 5]);
    assert_eq!(output.z.dims(), [3, 5]);
    let values = output.reconstruction.into_data();
    let values = values.as_slice::<f32>().unwrap();
    assert!(values.iter().all(|v| *v > 0.0 && *v < 1.0));
}

#[test]
fn autoencoder_forward_shapes() {
    let device = Device::flex();
    let config = ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 5,
    };
    assert_eq!(config.channels(), [8, 16, 32, 64]);
    let model = config.init([1, 28, 28], &device);
    let latents = model.encode(tensor4(vec![0.5; 2 * 784], [2, 1, 28, 28]));
    assert_eq!(latents.dims(), [2, 5]);
    assert_eq!(model.decode(latents).dims(), [2, 1, 28, 28]);
}

#[test]
fn layer_shapes_follow_the_image() {
    let device = Device::flex();
    let config = ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 4,
    };
    for shape in [[3, 32, 32], [1, 20, 36], [3, 17, 16]] {
        let [channels, height, width] = shape;
        let images = tensor4(
            vec![0.5; 2 * channels * height * width],
            [2, channels, height, width],
        );
        let autoencoder = config.init(shape, &device);
        assert_eq!(
            autoencoder.forward(images.clone()).dims(),
            [2, channels, height, width]
        );
        let vae = config.init_vae(shape, &device);
        assert_eq!(
            vae.forward(images).reconstruction.dims(),
            [2, channels, height, width]
        );
    }
}

#[test]
fn images_below_sixteen_pixels_are_rejected() {
    let config = ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 4,
    };
    assert!(config.validate([1, 16, 16]).is_ok());
    let message = config.validate([1, 12, 28]).unwrap_err().to_string();
    assert!(message.contains("at least 16x16"), "{message}");
    assert!(message.contains("[1, 12, 28]"), "{message}");
}
