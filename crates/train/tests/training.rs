//! Training on small synthetic datasets: the loss falls, runs are reproducible, and a resumed
//! run ends with the same weights as an uninterrupted one.

use burn::tensor::Device;
use irl_models::ConvAutoencoderConfig;
use irl_store::{Dataset, Split};
use irl_train::{AdamConfig, NoProgress, TrainConfig, TrainRequest, train};
use rand::{Rng, SeedableRng};

/// Images of bright squares at random places on a dark background.
fn squares(count: usize, seed: u64) -> Split {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut images = vec![0.0f32; count * 784];
    let mut labels = Vec::with_capacity(count);
    for index in 0..count {
        let size = rng.random_range(4..12);
        let top = rng.random_range(0..28 - size);
        let left = rng.random_range(0..28 - size);
        for row in top..top + size {
            for column in left..left + size {
                images[index * 784 + row * 28 + column] = 0.9;
            }
        }
        labels.push((size % 10) as i64);
    }
    Split {
        images,
        labels,
        image_shape: [1, 28, 28],
    }
}

fn dataset() -> Dataset {
    Dataset {
        train: squares(256, 1),
        test: squares(64, 2),
    }
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        adam: AdamConfig {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        },
        eval_batch_size: 64,
    }
}

fn model() -> ConvAutoencoderConfig {
    ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 8,
    }
}

/// burn's device seed is global to the process. Trainings in parallel test threads would draw
/// from each other's random streams, so this lock runs them one at a time.
static SEEDED_DEVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(epochs: usize, dir: &std::path::Path) -> irl_train::TrainOutput {
    let _guard = SEEDED_DEVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let data = dataset();
    let model = model();
    let config = config(epochs);
    let request = TrainRequest {
        round: 1,
        dataset: &data,
        model: &model,
        config: &config,
        seed: 7,
        device: &Device::flex(),
        checkpoint_dir: dir,
    };
    train(request, &NoProgress).expect("training succeeds")
}

#[test]
fn loss_falls_over_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(3, dir.path());
    let train_losses: Vec<f64> = output
        .log
        .iter()
        .filter(|row| row.split == "train")
        .map(|row| row.loss)
        .collect();
    assert_eq!(train_losses.len(), 3);
    assert!(train_losses.iter().all(|loss| loss.is_finite()));
    assert!(
        train_losses[2] < train_losses[0],
        "losses {train_losses:?} do not fall"
    );
}

#[test]
fn same_seed_same_weights() {
    let first = run(1, tempfile::tempdir().unwrap().path());
    let second = run(1, tempfile::tempdir().unwrap().path());
    assert_eq!(blake3::hash(&first.weights), blake3::hash(&second.weights));
}

#[test]
fn resumed_run_matches_uninterrupted() {
    let whole = run(2, tempfile::tempdir().unwrap().path());

    let dir = tempfile::tempdir().unwrap();
    let first_half = run(1, dir.path());
    assert_eq!(first_half.resumed_from_epoch, None);
    let resumed = run(2, dir.path());
    assert_eq!(resumed.resumed_from_epoch, Some(1));

    assert_eq!(blake3::hash(&resumed.weights), blake3::hash(&whole.weights));
    let losses =
        |output: &irl_train::TrainOutput| output.log.iter().map(|row| row.loss).collect::<Vec<_>>();
    assert_eq!(losses(&resumed), losses(&whole));
}

#[test]
fn divergence_keeps_last_checkpoint() {
    let _guard = SEEDED_DEVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let data = dataset();
    let model = model();
    let request = |config: &TrainConfig| {
        let request = TrainRequest {
            round: 4,
            dataset: &data,
            model: &model,
            config,
            seed: 7,
            device: &Device::flex(),
            checkpoint_dir: dir.path(),
        };
        train(request, &NoProgress)
    };
    request(&config(1)).expect("a sane learning rate trains");
    let checkpoint = dir.path().join("epoch-0001.model.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();

    // Resuming with an absurd learning rate blows the weights up within the second epoch.
    let mut diverging = config(2);
    diverging.adam.learning_rate = 1e30;
    let error = request(&diverging).expect_err("the loss must become non-finite");
    let message = error.to_string();
    assert!(message.starts_with("round 4, epoch 2, batch"), "{message}");
    assert!(message.contains("the loss is not finite"), "{message}");
    assert!(
        message.contains("after a finite batch loss of "),
        "{message}"
    );

    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    assert!(!dir.path().join("epoch-0002.json").exists());
}
