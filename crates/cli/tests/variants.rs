//! Loop variants, controls, PCA and seeds through the `irl` binary, on small MNIST subsets.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array};
use common::{batches, check, column, irl, pipeline_named, run_pipeline, small};
use irl_store::{Dataset, StageRecord, Store};

/// (round, split) -> value of `name` in a run's metrics table.
fn metric(store: &Path, run: &str, name: &str) -> BTreeMap<(u32, String), f64> {
    let mut values = BTreeMap::new();
    for batch in batches(&store.join("runs").join(run).join("metrics.parquet")) {
        let round: UInt32Array = column(&batch, "iteration");
        let split: StringArray = column(&batch, "split");
        let array: Float64Array = column(&batch, name);
        for row in 0..batch.num_rows() {
            if array.is_valid(row) {
                values.insert(
                    (round.value(row), split.value(row).to_string()),
                    array.value(row),
                );
            }
        }
    }
    values
}

/// Returns the record of `slot` in run `run`.
fn record(store: &Store, run: &str, slot: &str) -> StageRecord {
    let state = store.run_state(run).unwrap();
    let key = state
        .slots
        .get(slot)
        .unwrap_or_else(|| panic!("{run} has no slot {slot}"))
        .key;
    store.record(&key).unwrap().expect("record exists")
}

fn output_dataset(store: &Store, run: &str, slot: &str) -> Dataset {
    let record = record(store, run, slot);
    Dataset::read(&store.object_path(&record.outputs["dataset"])).unwrap()
}

/// Returns overrides that shrink the study's pipeline to `rounds` rounds of 600 training images,
/// run as `name`.
fn variant(name: &str, rounds: u32, settings: &[&str]) -> Vec<String> {
    let mut overrides = small(rounds, 1, 600);
    overrides.extend([
        format!("name={name}"),
        "seed=7".to_string(),
        "model.width=0.05".to_string(),
        "evaluation.probe_images=200".to_string(),
        "evaluation.classifier.epochs=1".to_string(),
        "iterate.convergence.stop=false".to_string(),
    ]);
    overrides.extend(settings.iter().map(|text| text.to_string()));
    overrides
}

#[test]
fn pca_loop_reproduces_its_input_from_round_two() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut overrides = small(3, 1, 600);
    overrides.extend([
        "evaluation.probe_images=200".to_string(),
        "evaluation.classifier.epochs=1".to_string(),
    ]);
    check(run_pipeline(
        &store,
        &pipeline_named("mnist-pca.yaml"),
        &overrides,
    ));
    let losses = metric(&store, "mnist-pca", "recon_loss");
    for split in ["train", "test"] {
        let first = losses[&(1, split.to_string())];
        assert!(first > 1.0, "{split}: round 1 loses {first}");
        for round in [2, 3] {
            let loss = losses[&(round, split.to_string())];
            assert!(loss < 1e-6, "{split}, round {round}: {loss}");
        }
    }
    // Every round's reconstruction agrees with round 1's to float precision.
    let against_original = metric(&store, "mnist-pca", "loss_vs_original");
    let first = against_original[&(1, "test".to_string())];
    let last = against_original[&(3, "test".to_string())];
    assert!((last - first).abs() < 1e-4 * first, "{first} vs {last}");
}

#[test]
fn loop_variants_train_on_the_data_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let file = pipeline_named("mnist-ae.yaml");
    let runs: [(&str, &[&str]); 6] = [
        ("replace", &[]),
        (
            "mix",
            &["iterate.regime=mix", "iterate.original_fraction=0.25"],
        ),
        (
            "accumulate",
            &["iterate.regime=accumulate", "iterate.budget=original_size"],
        ),
        ("warm", &["iterate.start=warm", "iterate.warm_epochs=2"]),
        ("frozen", &["iterate.start=frozen"]),
        ("original", &["iterate.regime=original"]),
    ];
    for (name, settings) in runs {
        check(run_pipeline(&store_dir, &file, &variant(name, 3, settings)));
    }
    let store = Store::open(&store_dir).unwrap();
    let original = output_dataset(&store, "replace", "iter-00/ingest");

    // Every variant trains round 1 on the original data: one stage, shared.
    let first = record(&store, "replace", "iter-01/train").key;
    for (name, _) in runs {
        assert_eq!(record(&store, name, "iter-01/train").key, first, "{name}");
    }

    // Mix: a quarter of the training images are original, the rest round 1's, image by image.
    let previous = output_dataset(&store, "mix", "iter-01/reconstruct");
    let mixed = output_dataset(&store, "mix", "iter-02/compose");
    assert_eq!(mixed.train.len(), 600);
    let mut from_original = 0;
    for index in 0..600 {
        let image = mixed.train.image(index);
        if image == original.train.image(index) {
            from_original += 1;
        } else {
            assert_eq!(image, previous.train.image(index), "image {index}");
        }
        assert_eq!(mixed.train.labels[index], original.train.labels[index]);
    }
    assert_eq!(from_original, 150);

    // Accumulate with a budget: 600 distinct images of the pool of rounds 0, 1 and 2.
    let pool = [
        original.clone(),
        output_dataset(&store, "accumulate", "iter-01/reconstruct"),
        output_dataset(&store, "accumulate", "iter-02/reconstruct"),
    ];
    let drawn = output_dataset(&store, "accumulate", "iter-03/compose");
    assert_eq!(drawn.train.len(), 600);
    let mut per_source = [0; 3];
    for index in 0..600 {
        let image = drawn.train.image(index);
        let source = (0..3)
            .find(|&source| {
                (0..600).any(|at| {
                    pool[source].train.image(at) == image
                        && pool[source].train.labels[at] == drawn.train.labels[index]
                })
            })
            .unwrap_or_else(|| panic!("image {index} is in no source"));
        per_source[source] += 1;
    }
    assert!(
        per_source.iter().all(|&count| count > 100),
        "{per_source:?}"
    );

    // Warm: round 2 starts from round 1's weights and trains for warm_epochs.
    let warm = record(&store, "warm", "iter-02/train");
    let round_one_model = record(&store, "warm", "iter-01/train").outputs["model"].digest;
    assert_eq!(
        warm.key_inputs.inputs["warm_start"],
        round_one_model.to_hex()
    );
    let log = batches(&store.object_path(&warm.outputs["training_log"]));
    assert_eq!(log.iter().map(RecordBatch::num_rows).sum::<usize>(), 2 * 2);

    // Frozen: no training after round 1; round 1's model reconstructs every round.
    let state = store.run_state("frozen").unwrap();
    assert!(!state.slots.contains_key("iter-02/train"));
    for round in [2, 3] {
        let reconstruct = record(&store, "frozen", &format!("iter-0{round}/reconstruct"));
        assert_eq!(
            reconstruct.key_inputs.inputs["model"],
            round_one_model.to_hex()
        );
    }

    // Original: every round reconstructs the original, so its loss is the loss against it.
    let losses = metric(&store_dir, "original", "recon_loss");
    let against = metric(&store_dir, "original", "loss_vs_original");
    assert_eq!(losses.len(), 6);
    for (place, loss) in &losses {
        assert!((loss - against[place]).abs() < 1e-9 * loss, "{place:?}");
    }
}

#[test]
fn seeds_are_summarised_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut overrides = variant("study", 2, &["seeds=[3, 4]"]);
    overrides.retain(|text| text != "seed=7");
    let mut command = run_pipeline(&store, &pipeline_named("mnist-ae.yaml"), &overrides);
    command.arg("--drop-round-datasets");
    let output = check(command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("study-seed-3"), "{stdout}");
    assert!(stdout.contains("final_class_accuracy"), "{stdout}");

    let chains: Vec<BTreeMap<(u32, String), f64>> = ["study-seed-3", "study-seed-4"]
        .iter()
        .map(|run| metric(&store, run, "recon_loss"))
        .collect();
    let mut checked = 0;
    for batch in batches(&store.join("runs/study/seed-summary.parquet")) {
        let metric_name: StringArray = column(&batch, "metric");
        let split: StringArray = column(&batch, "split");
        let round: UInt32Array = column(&batch, "iteration");
        let mean: Float64Array = column(&batch, "mean");
        let high: Float64Array = column(&batch, "ci_high");
        for row in 0..batch.num_rows() {
            if metric_name.value(row) != "recon_loss" {
                continue;
            }
            let place = (round.value(row), split.value(row).to_string());
            let (a, b) = (chains[0][&place], chains[1][&place]);
            assert!((mean.value(row) - (a + b) / 2.0).abs() < 1e-9);
            // Two seeds: t(0.975, 1) = 12.706, sd = |a - b| / sqrt(2).
            let half = 12.706_204 * (a - b).abs() / 2.0;
            assert!((high.value(row) - ((a + b) / 2.0 + half)).abs() < 1e-5 * half.max(1.0));
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "two rounds of two splits");
    let convergence = batches(&store.join("runs/study/seed-convergence.parquet"));
    assert_eq!(convergence[0].num_rows(), 2);

    // Only the last round's dataset is kept, and a rerun of the finished chains reuses every
    // stage without recomputing the others.
    let seed_three = store.join("runs/study-seed-3");
    assert!(!seed_three.join("iter-01/dataset.safetensors").exists());
    assert!(seed_three.join("iter-02/dataset.safetensors").exists());
    let before = metric(&store, "study-seed-3", "cka_previous");
    let rerun = check(run_pipeline(
        &store,
        &pipeline_named("mnist-ae.yaml"),
        &overrides,
    ));
    let log = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        log.contains("run study-seed-3: 2 rounds done, 0 stages ran, 9 reused"),
        "{log}"
    );
    let link = seed_three.join("iter-01/dataset.safetensors");
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "{link:?} is left"
    );
    assert_eq!(metric(&store, "study-seed-3", "cka_previous"), before);

    check({
        let mut status = irl(&store);
        status.arg("status").arg("study-seed-4");
        status
    });

    // The seed set beside a control chain: mean and interval bands, and a dashed reference.
    check(run_pipeline(
        &store,
        &pipeline_named("mnist-ae.yaml"),
        &variant("baseline", 2, &["iterate.regime=original"]),
    ));
    let saved = store.join("runs/study-seed-3/pipeline.yaml");
    let pipeline_before = std::fs::read_to_string(&saved).unwrap();
    let mut report = irl(&store);
    report.arg("report").arg("study").arg("baseline");
    let stdout = String::from_utf8(check(report).stdout).unwrap();
    // Refreshing a chain keeps the pipeline it ran with, data folder included.
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), pipeline_before);
    let comparison = store.join("comparisons/study-vs-baseline");
    assert!(
        stdout.contains("comparisons/study-vs-baseline/index.html"),
        "{stdout}"
    );
    let loss = std::fs::read_to_string(comparison.join("loss.svg")).unwrap();
    assert!(loss.contains("study (2 seeds) test"), "{loss}");
    assert!(loss.contains("baseline (control) train"), "{loss}");
    assert_eq!(
        loss.matches("opacity=\"0.18\"").count(),
        2,
        "a band per split"
    );
    let page = std::fs::read_to_string(comparison.join("index.html")).unwrap();
    for plot in [
        "class-accuracy.svg",
        "cka-first.svg",
        "loss-vs-original.svg",
    ] {
        assert!(page.contains(plot), "{plot} missing from the page");
        assert!(comparison.join(plot).exists(), "{plot} was not written");
    }
    let summary = std::fs::read_to_string(comparison.join("summary.md")).unwrap();
    let last = (2, "test".to_string());
    let mean = (chains[0][&last] + chains[1][&last]) / 2.0;
    let study_row = summary
        .lines()
        .find(|line| line.starts_with("| study | 2 | 2 |"))
        .unwrap_or_else(|| panic!("{summary}"));
    let cells: Vec<&str> = study_row.split(" | ").collect();
    let test_loss: f64 = cells[5].split(' ').next().unwrap().parse().unwrap();
    assert!(
        (test_loss - mean).abs() < 1e-3 * mean,
        "{test_loss} vs {mean}"
    );

    // A longer chain recomputes the deleted datasets and reuses the rounds it had.
    let mut longer = variant("study", 3, &["seeds=[3, 4]"]);
    longer.retain(|text| text != "seed=7");
    let extended = check(run_pipeline(
        &store,
        &pipeline_named("mnist-ae.yaml"),
        &longer,
    ));
    let log = String::from_utf8_lossy(&extended.stderr);
    assert!(log.contains("run study-seed-3: 3 rounds done"), "{log}");
    let state = Store::open(&store)
        .unwrap()
        .run_state("study-seed-3")
        .unwrap();
    assert_eq!(
        state.slots["iter-01/reconstruct"].outcome,
        irl_store::Outcome::Ran
    );
    assert_eq!(
        state.slots["iter-02/train"].outcome,
        irl_store::Outcome::Reused
    );
    let extended_metrics = metric(&store, "study-seed-3", "cka_previous");
    for (place, value) in &before {
        assert_eq!(extended_metrics[place], *value, "{place:?}");
    }
}
