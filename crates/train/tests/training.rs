//! Training on small synthetic datasets: the loss falls, runs are reproducible, a resumed run
//! ends with the same weights as an uninterrupted one, and divergence stops training without
//! touching the last good checkpoint.

use burn::tensor::Device;
use irl_models::{ConvAutoencoderConfig, ModelSpec, ReconstructionTerm};
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

fn architecture() -> ConvAutoencoderConfig {
    ConvAutoencoderConfig {
        width: 0.0625,
        latent_dim: 8,
    }
}

fn autoencoder() -> ModelSpec {
    ModelSpec::ConvAe {
        architecture: architecture(),
    }
}

fn vae(reconstruction_term: ReconstructionTerm) -> ModelSpec {
    ModelSpec::Vae {
        architecture: architecture(),
        reconstruction_term,
    }
}

/// burn's device seed is global to the process. Trainings in parallel test threads would draw
/// from each other's random streams, so this lock runs them one at a time.
static SEEDED_DEVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn train_on(
    data: &Dataset,
    model: &ModelSpec,
    config: &TrainConfig,
    round: u32,
    dir: &std::path::Path,
) -> Result<irl_train::TrainOutput, irl_train::TrainError> {
    let _guard = SEEDED_DEVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let request = TrainRequest {
        round,
        dataset: data,
        model,
        config,
        seed: 7,
        device: &Device::flex(),
        checkpoint_dir: dir,
        warm_start: None,
    };
    train(request, &NoProgress)
}

fn run_model(model: &ModelSpec, epochs: usize, dir: &std::path::Path) -> irl_train::TrainOutput {
    train_on(&dataset(), model, &config(epochs), 1, dir).expect("training succeeds")
}

fn run(epochs: usize, dir: &std::path::Path) -> irl_train::TrainOutput {
    run_model(&autoencoder(), epochs, dir)
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
    let dir = tempfile::tempdir().unwrap();
    let data = dataset();
    let model = autoencoder();
    train_on(&data, &model, &config(1), 4, dir.path()).expect("a sane learning rate trains");
    let checkpoint = dir.path().join("epoch-0001.model.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();

    // Resuming with an absurd learning rate blows the weights up within the second epoch.
    let mut diverging = config(2);
    diverging.adam.learning_rate = 1e30;
    let error = train_on(&data, &model, &diverging, 4, dir.path())
        .expect_err("the loss must become non-finite");
    let message = error.to_string();
    assert!(message.starts_with("round 4, epoch 2, batch"), "{message}");
    assert!(
        message.contains("the loss is not finite") || message.contains("the gradient of encoder."),
        "{message}"
    );
    assert!(
        message.contains("the last finite batch of the epoch, batch "),
        "{message}"
    );
    assert!(message.contains("had loss "), "{message}");

    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    assert!(!dir.path().join("epoch-0002.json").exists());
}

#[test]
fn vae_loss_falls_and_logs_its_terms() {
    let output = run_model(
        &vae(ReconstructionTerm::Mse),
        3,
        tempfile::tempdir().unwrap().path(),
    );
    for row in &output.log {
        let (term, kl) = (row.reconstruction_term.unwrap(), row.kl.unwrap());
        assert!(term > 0.0, "{row:?}");
        assert!(kl >= 0.0, "{row:?}");
        assert!((term + kl - row.loss).abs() < 1e-6 * row.loss, "{row:?}");
    }
    let train: Vec<f64> = output
        .log
        .iter()
        .filter(|row| row.split == "train")
        .map(|row| row.loss)
        .collect();
    assert!(train[2] < train[0], "losses {train:?} do not fall");

    let table = irl_train::log_table(&output.log).unwrap();
    let batches = irl_store::table::from_parquet("training log", table).unwrap();
    let schema = batches[0].schema();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        columns,
        [
            "round",
            "epoch",
            "split",
            "loss",
            "reconstruction_term",
            "kl",
            "seconds"
        ]
    );
}

#[test]
fn resumed_vae_matches_uninterrupted() {
    let model = vae(ReconstructionTerm::Bce);
    let whole = run_model(&model, 2, tempfile::tempdir().unwrap().path());
    let dir = tempfile::tempdir().unwrap();
    run_model(&model, 1, dir.path());
    let resumed = run_model(&model, 2, dir.path());
    assert_eq!(resumed.resumed_from_epoch, Some(1));
    assert_eq!(blake3::hash(&resumed.weights), blake3::hash(&whole.weights));
}

#[test]
fn vae_divergence_names_failed_term() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset();
    let model = vae(ReconstructionTerm::Mse);
    train_on(&data, &model, &config(1), 2, dir.path()).expect("a sane learning rate trains");
    let checkpoint = dir.path().join("epoch-0001.model.safetensors");
    let before = std::fs::read(&checkpoint).unwrap();

    let mut diverging = config(2);
    diverging.adam.learning_rate = 1e30;
    let error = train_on(&data, &model, &diverging, 2, dir.path())
        .expect_err("the loss must become non-finite");
    let message = error.to_string();
    assert!(message.starts_with("round 2, epoch 2, batch"), "{message}");
    let named = [
        "the KL term is not finite",
        "the reconstruction term is not finite",
    ]
    .iter()
    .any(|term| message.contains(term))
        || message.contains("the gradient of ");
    assert!(named, "{message}");
    assert!(message.contains("reconstruction term "), "{message}");
    assert!(
        message.contains("Lower training.learning_rate"),
        "{message}"
    );

    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    assert!(!dir.path().join("epoch-0002.json").exists());
}

#[test]
fn bce_rejects_data_outside_unit_range() {
    let mut data = dataset();
    data.test.images[5] = 1.5;
    data.test.images[9] = -0.25;
    let dir = tempfile::tempdir().unwrap();
    let error = train_on(
        &data,
        &vae(ReconstructionTerm::Bce),
        &config(1),
        1,
        dir.path(),
    )
    .expect_err("bce needs data in [0, 1]");
    let message = error.to_string();
    assert!(
        message.contains("the test split of this round's data ranges over [-0.25, 1.5]"),
        "{message}"
    );
    assert!(message.contains("model.reconstruction_term"), "{message}");
    assert!(!dir.path().exists() || std::fs::read_dir(dir.path()).unwrap().next().is_none());

    // The same data trains under the squared error.
    train_on(
        &data,
        &vae(ReconstructionTerm::Mse),
        &config(1),
        1,
        dir.path(),
    )
    .expect("mse accepts any range");
}
