//! The reconstruct stage's modes on a small VAE: shapes, value range, seeded reproducibility,
//! independence from the batch size, and the fixed prior samples.

use std::collections::BTreeMap;

use burn::tensor::Device;
use irl_models::infer::DecodedLatent;
use irl_models::{ConvAutoencoderConfig, ModelSpec, ReconstructionTerm, weights};
use irl_reconstruct::{PriorSamples, ReconstructRequest, Reconstruction, Sampling, reconstruct};
use irl_store::latents::{latents_table, read_latents_table};
use irl_store::{Dataset, Split, SplitName};

const LATENT_DIM: usize = 6;

fn split(count: usize, offset: usize) -> Split {
    let images = (0..count * 784)
        .map(|index| ((index * 7 + offset) % 29) as f32 / 28.0)
        .collect();
    Split {
        images,
        labels: (0..count as i64).map(|label| label % 10).collect(),
        image_shape: [1, 28, 28],
    }
}

fn dataset() -> Dataset {
    Dataset {
        train: split(12, 0),
        test: split(5, 3),
    }
}

fn spec(kind: &str) -> ModelSpec {
    let architecture = ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: LATENT_DIM,
    };
    match kind {
        "vae" => ModelSpec::Vae {
            architecture,
            reconstruction_term: ReconstructionTerm::Mse,
        },
        _ => ModelSpec::ConvAe { architecture },
    }
}

/// burn's device seed is global to the process; this lock keeps parallel tests from drawing
/// from each other's stream while a model is initialised.
static SEEDED_DEVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Weights of a freshly initialised model, as the train stage would write them.
fn weights_of(spec: &ModelSpec) -> Vec<u8> {
    let _guard = SEEDED_DEVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let device = Device::flex();
    device.seed(3);
    match spec {
        ModelSpec::Vae { architecture, .. } => weights::to_safetensors(
            &architecture.init_vae([1, 28, 28], &device),
            &BTreeMap::new(),
        ),
        ModelSpec::ConvAe { architecture } => {
            weights::to_safetensors(&architecture.init([1, 28, 28], &device), &BTreeMap::new())
        }
        ModelSpec::Pca { components } => weights::to_safetensors(
            &irl_models::Pca::init(*components, 28 * 28, &device),
            &BTreeMap::new(),
        ),
    }
    .unwrap()
}

fn sampling(latent: DecodedLatent, pixel_noise_std: f64, seed: u64) -> Sampling {
    Sampling {
        latent,
        pixel_noise_std,
        seed,
        prior_samples: 4,
        prior_seed: 99,
    }
}

fn run(spec: &ModelSpec, sampling: Sampling, batch_size: usize) -> Reconstruction {
    let data = dataset();
    let weights = weights_of(spec);
    reconstruct(ReconstructRequest {
        dataset: &data,
        model: spec,
        weights: &weights,
        weights_origin: "test weights",
        sampling,
        device: &Device::flex(),
        batch_size,
    })
    .unwrap()
}

fn in_unit_range(split: &Split) -> bool {
    split.images.iter().all(|value| (0.0..=1.0).contains(value))
}

#[test]
fn posterior_sample_is_seeded() {
    let vae = spec("vae");
    let first = run(&vae, sampling(DecodedLatent::Sample, 0.0, 1), 4);
    let again = run(&vae, sampling(DecodedLatent::Sample, 0.0, 1), 5);
    let other_seed = run(&vae, sampling(DecodedLatent::Sample, 0.0, 2), 4);

    assert_eq!(first.dataset.train.images.len(), 12 * 784);
    assert_eq!(first.dataset.test.images.len(), 5 * 784);
    assert_eq!(first.dataset.train.labels, dataset().train.labels);
    assert!(in_unit_range(&first.dataset.train));
    assert!(in_unit_range(&first.dataset.test));
    assert_eq!(first.dataset, again.dataset);
    assert_ne!(first.dataset.train.images, other_seed.dataset.train.images);
}

#[test]
fn posterior_mean_ignores_the_seed() {
    let vae = spec("vae");
    let first = run(&vae, sampling(DecodedLatent::Mean, 0.0, 1), 4);
    let second = run(&vae, sampling(DecodedLatent::Mean, 0.0, 2), 4);
    let sampled = run(&vae, sampling(DecodedLatent::Sample, 0.0, 1), 4);
    assert_eq!(first.dataset, second.dataset);
    assert_ne!(first.dataset.train.images, sampled.dataset.train.images);
    // The loss terms always come from a sampled latent, so they follow the seed.
    assert_eq!(first.latents[0].means, second.latents[0].means);
    assert_ne!(
        first.latents[0].reconstruction_terms,
        second.latents[0].reconstruction_terms
    );
}

#[test]
fn pixel_noise_is_clipped_and_seeded() {
    let ae = spec("conv_ae");
    let clean = run(&ae, sampling(DecodedLatent::Sample, 0.0, 1), 4);
    let noisy = run(&ae, sampling(DecodedLatent::Sample, 0.3, 1), 4);
    let same = run(&ae, sampling(DecodedLatent::Sample, 0.3, 1), 7);
    let other = run(&ae, sampling(DecodedLatent::Sample, 0.3, 2), 4);
    assert!(in_unit_range(&noisy.dataset.train));
    assert_eq!(noisy.dataset, same.dataset);
    assert_ne!(noisy.dataset, other.dataset);

    // With noise of std 0.3 nearly every pixel moves. Only a pixel already at 0 or 1 that the
    // noise pushes outward stays where it is.
    let changes: Vec<f32> = clean
        .dataset
        .train
        .images
        .iter()
        .zip(&noisy.dataset.train.images)
        .map(|(a, b)| b - a)
        .collect();
    let moved = changes.iter().filter(|change| change.abs() > 1e-6).count();
    assert!(
        moved > changes.len() * 9 / 10,
        "{moved} of {}",
        changes.len()
    );
    // The autoencoder reports no latents and draws no prior samples.
    assert!(clean.latents.is_empty());
    assert!(clean.prior_samples.is_none());
}

#[test]
fn prior_samples_are_the_same_latents_every_round() {
    let vae = spec("vae");
    let first = run(&vae, sampling(DecodedLatent::Sample, 0.0, 1), 4);
    let other_round = run(&vae, sampling(DecodedLatent::Sample, 0.0, 8), 4);
    let samples = first.prior_samples.expect("a VAE decodes prior samples");
    assert_eq!(samples.image_shape, [1, 28, 28]);
    assert_eq!(samples.images.len(), 4 * 784);
    // Same weights and the same prior seed: the same images, whatever the round's seed.
    assert_eq!(Some(&samples), other_round.prior_samples.as_ref());

    let bytes = samples.to_safetensors(&BTreeMap::new()).unwrap();
    assert_eq!(
        PriorSamples::from_safetensors(&bytes, "x").unwrap(),
        samples
    );
    let error = PriorSamples::from_safetensors(b"not a file", "prior.safetensors").unwrap_err();
    assert!(error.to_string().contains("prior.safetensors"), "{error}");
}

#[test]
fn latents_table_round_trips() {
    let result = run(&spec("vae"), sampling(DecodedLatent::Sample, 0.0, 1), 4);
    assert_eq!(result.latents.len(), 2);
    let train = &result.latents[0];
    assert_eq!(train.split, SplitName::Train);
    assert_eq!(train.means.len(), 12 * LATENT_DIM);
    assert!(train.kl.iter().all(|kl| *kl >= 0.0));
    assert!(train.reconstruction_terms.iter().all(|term| *term > 0.0));

    let table = latents_table(&result.latents).unwrap();
    assert_eq!(read_latents_table(table).unwrap(), result.latents);
}
