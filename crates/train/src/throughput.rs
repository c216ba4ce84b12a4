//! Training throughput: images per second through the same update a round's training runs
//! (forward pass, loss, backward pass, finiteness checks, Adam step), on seeded uniform images so
//! that no dataset is needed.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use irl_models::ModelSpec;
use irl_models::infer::batch_tensor;
use irl_store::Split;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::objective::{self, Objective};
use crate::{Adam, AdamConfig, TrainError, derive_seed, step};

/// Distinct batches the measurement cycles through.
const BATCHES_IN_POOL: usize = 4;

/// Settings of a throughput measurement.
#[derive(Debug, Clone, Copy)]
pub struct ThroughputRequest<'a> {
    pub model: &'a ModelSpec,
    /// Shape of one image: [channels, height, width].
    pub image_shape: [usize; 3],
    pub batch_size: usize,
    pub adam: AdamConfig,
    /// Device to compute on, without autodiff.
    pub device: &'a Device,
    /// Updates run before timing starts: they pay for first allocations and thread start-up.
    pub warmup_steps: usize,
    /// Number of timed windows.
    pub windows: usize,
    /// Each window runs whole updates until at least this many seconds have passed.
    pub window_seconds: f64,
    pub seed: u64,
}

/// One timed window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub steps: usize,
    pub seconds: f64,
}

impl Window {
    /// Images trained on per second in this window.
    pub fn images_per_second(&self, batch_size: usize) -> f64 {
        (self.steps * batch_size) as f64 / self.seconds
    }
}

/// Trains a fresh model on seeded uniform images in [0, 1) and times the updates.
pub fn measure_throughput(request: ThroughputRequest<'_>) -> Result<Vec<Window>, TrainError> {
    if request.batch_size == 0 || request.windows == 0 {
        return Err(TrainError::Config(format!(
            "the batch size ({}) and the number of windows ({}) must be at least 1",
            request.batch_size, request.windows
        )));
    }
    let image_shape = request.image_shape;
    match request.model {
        ModelSpec::ConvAe { architecture } => time_steps(
            &objective::Autoencoder {
                architecture,
                image_shape,
            },
            request,
        ),
        ModelSpec::Vae {
            architecture,
            reconstruction_term,
        } => time_steps(
            &objective::Vae {
                architecture,
                image_shape,
                term: *reconstruction_term,
            },
            request,
        ),
        ModelSpec::Pca { .. } => Err(TrainError::Config(
            "PCA is fitted in closed form and has no training steps to time; measure conv_ae or \
             vae"
            .into(),
        )),
    }
}

fn time_steps<O: Objective>(
    objective: &O,
    request: ThroughputRequest<'_>,
) -> Result<Vec<Window>, TrainError> {
    let pool = uniform_images(
        request.image_shape,
        request.batch_size * BATCHES_IN_POOL,
        request.seed,
    );
    let batches: Vec<Vec<usize>> = (0..BATCHES_IN_POOL)
        .map(|batch| (batch * request.batch_size..(batch + 1) * request.batch_size).collect())
        .collect();

    let device = request.device.clone().autodiff();
    device.seed(derive_seed(request.seed, "init", 0));
    let mut model = objective.init(&device).train();
    let mut adam = Adam::new(request.adam);
    let mut steps_run = 0;
    let mut run_step = |model| {
        let images = batch_tensor(&pool, &batches[steps_run % BATCHES_IN_POOL], &device);
        steps_run += 1;
        step(objective, model, &mut adam, images).map_err(|(quantity, value)| {
            TrainError::Config(format!(
                "the {quantity} became {value} during the throughput measurement"
            ))
        })
    };

    for _ in 0..request.warmup_steps {
        model = run_step(model)?.0;
    }
    let mut windows = Vec::with_capacity(request.windows);
    for _ in 0..request.windows {
        let started = Instant::now();
        let mut steps = 0;
        while steps == 0 || started.elapsed().as_secs_f64() < request.window_seconds {
            model = run_step(model)?.0;
            steps += 1;
        }
        windows.push(Window {
            steps,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(windows)
}

/// Builds a split of `count` images with seeded uniform pixels in [0, 1) and label 0.
fn uniform_images(image_shape: [usize; 3], count: usize, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "throughput-images", 0));
    let pixels = count * image_shape.iter().product::<usize>();
    Split {
        images: (0..pixels).map(|_| rng.random::<f32>()).collect(),
        labels: vec![0; count],
        image_shape,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use irl_models::ConvAutoencoderConfig;

    fn request<'a>(model: &'a ModelSpec, device: &'a Device) -> ThroughputRequest<'a> {
        ThroughputRequest {
            model,
            image_shape: [1, 28, 28],
            batch_size: 8,
            adam: AdamConfig {
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            device,
            warmup_steps: 1,
            windows: 2,
            window_seconds: 0.0,
            seed: 7,
        }
    }

    #[test]
    fn each_window_times_at_least_one_update() {
        let model = ModelSpec::ConvAe {
            architecture: ConvAutoencoderConfig {
                width: 0.02,
                latent_dim: 4,
            },
        };
        let device = Device::flex();
        let windows = measure_throughput(request(&model, &device)).unwrap();
        assert_eq!(windows.len(), 2);
        for window in windows {
            assert_eq!(window.steps, 1);
            assert!(window.seconds > 0.0);
            assert!(window.images_per_second(8) > 0.0);
        }
    }

    #[test]
    fn pca_has_no_steps_to_time() {
        let model = ModelSpec::Pca { components: 4 };
        let device = Device::flex();
        let error = measure_throughput(request(&model, &device)).unwrap_err();
        assert!(error.to_string().contains("closed form"), "{error}");
    }
}
