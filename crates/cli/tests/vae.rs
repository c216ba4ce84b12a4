//! The VAE study on a small MNIST subset, through the `irl` binary: its extra tables and
//! grids, the comparison with the autoencoder, and a rerun after divergence.

mod common;

use std::path::Path;

use arrow::array::{Array, Float64Array, StringArray, UInt32Array};
use common::{check, irl, pipeline_named, run_command, run_pipeline, small};

fn vae_run(store: &Path, extra: &[&str]) -> std::process::Command {
    let mut overrides = small(2, 1, 600);
    overrides.push("report.snapshot_rounds=[1, 2]".to_string());
    overrides.extend(extra.iter().map(|text| text.to_string()));
    run_pipeline(store, &pipeline_named("mnist-vae.yaml"), &overrides)
}

/// (round, split, kl, active_units) of every row of the run's metrics table.
fn vae_metrics(store: &Path) -> Vec<(u32, String, f64, u32)> {
    let bytes = std::fs::read(store.join("runs/mnist-vae/metrics.parquet")).unwrap();
    let mut rows = Vec::new();
    for batch in irl_store::table::from_parquet("metrics", bytes).unwrap() {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let iteration = column("iteration");
        let iteration = iteration.as_any().downcast_ref::<UInt32Array>().unwrap();
        let split = column("split");
        let split = split.as_any().downcast_ref::<StringArray>().unwrap();
        let kl = column("kl");
        let kl = kl.as_any().downcast_ref::<Float64Array>().unwrap();
        let active = column("active_units");
        let active = active.as_any().downcast_ref::<UInt32Array>().unwrap();
        for row in 0..batch.num_rows() {
            assert!(kl.is_valid(row));
            assert!(active.is_valid(row));
            rows.push((
                iteration.value(row),
                split.value(row).to_string(),
                kl.value(row),
                active.value(row),
            ));
        }
    }
    rows
}

#[test]
fn vae_run_writes_latents_and_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    check(vae_run(&store, &[]));

    let rows = vae_metrics(&store);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (round, split, kl, active) in &rows {
        assert!(
            kl.is_finite() && *kl >= 0.0,
            "round {round} {split}: kl {kl}"
        );
        assert!(
            *active <= 16,
            "round {round} {split}: {active} active units"
        );
    }
    for round in 1..=2 {
        for file in [
            "latents.parquet",
            "prior-samples.safetensors",
            "dataset.safetensors",
        ] {
            let path = store.join(format!("runs/mnist-vae/iter-{round:02}/{file}"));
            assert!(path.exists(), "{} is missing", path.display());
        }
        let grid = store.join(format!("runs/mnist-vae/report/grid-prior-r{round:02}.png"));
        assert!(grid.exists(), "{} is missing", grid.display());
    }
    let page = std::fs::read_to_string(store.join("runs/mnist-vae/report/index.html")).unwrap();
    assert!(page.contains("<th>prior samples</th>"), "{page}");
    assert!(page.contains("<th>active_units</th>"), "{page}");

    // A rerun is bit-identical: every random draw of the VAE rounds is seeded.
    let before = common::stage_outputs(&store, "mnist-vae");
    let output = check(vae_run(&store, &[]));
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 stages ran"));
    let rerun_dir = tempfile::tempdir().unwrap();
    let other_store = rerun_dir.path().join("store");
    check(vae_run(&other_store, &[]));
    assert_eq!(common::stage_outputs(&other_store, "mnist-vae"), before);

    // The autoencoder beside it, and both loss curves in one report.
    check(run_command(&store, &small(2, 1, 600)));
    let mut report = irl(&store);
    report.arg("report").arg("mnist-ae").arg("mnist-vae");
    let stdout = String::from_utf8(check(report).stdout).unwrap();
    let comparison = store.join("comparisons/mnist-ae-vs-mnist-vae");
    assert!(
        stdout.contains(&comparison.join("index.html").display().to_string()),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(comparison.join("loss.svg")).unwrap();
    for label in [
        "mnist-ae train",
        "mnist-ae test",
        "mnist-vae train",
        "mnist-vae test",
    ] {
        assert!(svg.contains(label), "{label} missing from the plot");
    }
    let summary = std::fs::read_to_string(comparison.join("summary.md")).unwrap();
    assert!(summary.contains("| mnist-vae | 1 | 2 |"), "{summary}");
}

#[test]
fn rerun_after_divergence_keeps_good_stages() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let output = vae_run(&store, &["training.learning_rate=1e30"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("round 1, epoch 1, batch"), "{stderr}");
    assert!(stderr.contains("is not finite"), "{stderr}");
    assert!(stderr.contains("Lower training.learning_rate"), "{stderr}");

    let output = check(vae_run(&store, &[]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reused slot=iter-00/ingest"),
        "the ingest stage is rerun: {stderr}"
    );
    assert!(stderr.contains("2 rounds done"), "{stderr}");
}

#[test]
fn vae_trains_with_binary_cross_entropy() {
    // MNIST after ingest lies in [0, 1], so bce trains; the check that rejects data outside that
    // range is tested in the train crate.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut overrides = small(1, 1, 300);
    overrides.push("model.reconstruction_term=bce".to_string());
    check(run_pipeline(
        &store,
        &pipeline_named("mnist-vae.yaml"),
        &overrides,
    ));
}
