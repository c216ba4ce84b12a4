//! The stability measurements through the `irl` binary: the reference classifier, every
//! per-round table and its run-level concatenation, and the cross-round losses.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{
    Array, FixedSizeListArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use common::{batches, check, column, irl, mnist_dir, pipeline_file, run_command, small};

fn rows(path: &Path) -> usize {
    batches(path).iter().map(RecordBatch::num_rows).sum()
}

/// (round, column) -> value of the test rows of the run's metrics table.
fn test_metrics(store: &Path, names: &[&str]) -> BTreeMap<(u32, String), Option<f64>> {
    let mut values = BTreeMap::new();
    for batch in batches(&store.join("runs/mnist-ae/metrics.parquet")) {
        let round: UInt32Array = column(&batch, "iteration");
        let split: StringArray = column(&batch, "split");
        for name in names {
            let array: Float64Array = column(&batch, name);
            for row in 0..batch.num_rows() {
                if split.value(row) == "test" {
                    let value = array.is_valid(row).then(|| array.value(row));
                    values.insert((round.value(row), name.to_string()), value);
                }
            }
        }
    }
    values
}

#[test]
fn stability_tables_of_small_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut overrides = small(2, 1, 600);
    overrides.extend([
        "evaluation.probe_images=200".to_string(),
        "evaluation.cross_round_losses=true".to_string(),
        "evaluation.classifier.epochs=2".to_string(),
    ]);
    check(run_command(&store, &overrides));
    let run = store.join("runs/mnist-ae");

    // Round 0: the classifier on the original images, two epochs in its log.
    assert_eq!(rows(&run.join("iter-00/classifier-log.parquet")), 2);
    assert!(run.join("iter-00/classifier.safetensors").exists());

    // Rounds 0 to 2, both splits (600 and 300 images), ten classes.
    assert_eq!(rows(&run.join("predictions.parquet")), 3 * 900);
    assert_eq!(rows(&run.join("class-recall.parquet")), 3 * 2 * 10);
    let confusion = batches(&run.join("confusion.parquet"));
    let mut images = BTreeMap::new();
    for batch in &confusion {
        let round: UInt32Array = column(batch, "round");
        let split: StringArray = column(batch, "split");
        let count: UInt64Array = column(batch, "count");
        for row in 0..batch.num_rows() {
            *images
                .entry((round.value(row), split.value(row).to_string()))
                .or_insert(0) += count.value(row);
        }
    }
    for round in 0..=2 {
        assert_eq!(images[&(round, "train".to_string())], 600);
        assert_eq!(images[&(round, "test".to_string())], 300);
    }
    assert_eq!(
        confusion.iter().map(RecordBatch::num_rows).sum::<usize>(),
        3 * 2 * 100
    );

    // The probe set's latents: 200 per round, each a list of 16 floats.
    let probe = batches(&run.join("probe-latents.parquet"));
    assert_eq!(
        probe.iter().map(RecordBatch::num_rows).sum::<usize>(),
        2 * 200
    );
    let latents: FixedSizeListArray = column(&probe[0], "latent");
    assert_eq!(latents.value_length(), 16);

    // Spread: images of rounds 0 to 2 and latents of rounds 1 and 2, overall and per class.
    let spread = batches(&run.join("spread.parquet"));
    let mut groups = BTreeMap::new();
    for batch in &spread {
        let round: UInt32Array = column(batch, "round");
        let space: StringArray = column(batch, "space");
        for row in 0..batch.num_rows() {
            *groups
                .entry((round.value(row), space.value(row).to_string()))
                .or_insert(0) += 1;
        }
    }
    for round in 0..=2 {
        assert_eq!(groups[&(round, "image".to_string())], 11, "{groups:?}");
    }
    for round in 1..=2 {
        assert_eq!(groups[&(round, "latent".to_string())], 11, "{groups:?}");
    }

    // Every model on every round's data: 2 models, rounds 0 to 2.
    assert_eq!(rows(&run.join("cross-round-losses.parquet")), 2 * 3);

    let metrics = test_metrics(
        &store,
        &[
            "class_accuracy",
            "normalised_loss",
            "model_on_original_loss",
            "cka_previous",
            "cka_first",
            "cka_first_debiased",
            "linear_probe_accuracy",
            "knn_accuracy",
            "image_trace_ratio",
            "latent_effective_rank_ratio",
        ],
    );
    let value = |round: u32, name: &str| metrics[&(round, name.to_string())];
    assert_eq!(value(1, "cka_previous"), None);
    assert!((value(1, "cka_first").unwrap() - 1.0).abs() < 1e-9);
    assert!((value(1, "cka_first_debiased").unwrap() - 1.0).abs() < 1e-9);
    assert!((value(1, "latent_effective_rank_ratio").unwrap() - 1.0).abs() < 1e-9);
    let cka = value(2, "cka_previous").unwrap();
    assert!(cka > 0.0, "CKA {cka}");
    assert!(cka <= 1.0 + 1e-9, "CKA {cka}");
    for round in 1..=2 {
        for name in ["class_accuracy", "linear_probe_accuracy", "knn_accuracy"] {
            let accuracy = value(round, name).unwrap();
            assert!(
                (0.0..=1.0).contains(&accuracy),
                "round {round} {name} {accuracy}"
            );
        }
        for name in [
            "normalised_loss",
            "model_on_original_loss",
            "image_trace_ratio",
        ] {
            let measured = value(round, name).unwrap();
            assert!(
                measured.is_finite() && measured > 0.0,
                "round {round} {name} {measured}"
            );
        }
    }

    // A rerun reuses every stage, the cross-round losses included.
    let output = check(run_command(&store, &overrides));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(" 0 stages ran"), "{stderr}");
}

#[test]
fn reference_classifier_on_full_mnist() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for stage in ["ingest", "reference"] {
        let mut command = irl(&store);
        command
            .arg(stage)
            .arg(pipeline_file())
            .arg("--data-dir")
            .arg(mnist_dir());
        check(command);
    }
    let log = batches(&store.join("runs/mnist-ae/iter-00/classifier-log.parquet"));
    let accuracy: Float64Array = column(&log[0], "test_accuracy");
    let last = accuracy.value(accuracy.len() - 1);
    assert!(last >= 0.98, "test accuracy {last}");
}
