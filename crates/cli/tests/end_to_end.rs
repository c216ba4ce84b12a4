//! The study on a small MNIST subset, through the `irl` binary.

mod common;

use arrow::array::{Float64Array, StringArray, UInt32Array};
use common::{check, irl, run_command, small, stage_outputs};

fn metrics(store: &std::path::Path) -> Vec<(u32, String, f64)> {
    let bytes = std::fs::read(store.join("runs/mnist-ae/metrics.parquet")).unwrap();
    let batches = irl_store::table::from_parquet("metrics", bytes).unwrap();
    let mut rows = Vec::new();
    for batch in batches {
        let iteration = batch.column_by_name("iteration").unwrap();
        let iteration = iteration.as_any().downcast_ref::<UInt32Array>().unwrap();
        let split = batch.column_by_name("split").unwrap();
        let split = split.as_any().downcast_ref::<StringArray>().unwrap();
        let loss = batch.column_by_name("recon_loss").unwrap();
        let loss = loss.as_any().downcast_ref::<Float64Array>().unwrap();
        for row in 0..batch.num_rows() {
            rows.push((
                iteration.value(row),
                split.value(row).to_string(),
                loss.value(row),
            ));
        }
    }
    rows
}

#[test]
fn three_rounds_fall_and_rerun_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    check(run_command(&store, &small(3, 1, 2000)));

    let rows = metrics(&store);
    assert_eq!(rows.len(), 6, "{rows:?}");
    for split in ["train", "test"] {
        let losses: Vec<f64> = rows
            .iter()
            .filter(|(_, name, _)| name == split)
            .map(|(_, _, loss)| *loss)
            .collect();
        assert_eq!(losses.len(), 3);
        assert!(
            losses.iter().all(|loss| loss.is_finite() && *loss > 0.0),
            "{losses:?}"
        );
        assert!(
            losses[2] < losses[0],
            "{split} loss does not fall: {losses:?}"
        );
    }
    for round in 1..=3 {
        for file in [
            "model.safetensors",
            "dataset.safetensors",
            "metrics.parquet",
        ] {
            let path = store.join(format!("runs/mnist-ae/iter-{round:02}/{file}"));
            assert!(path.exists(), "{} is missing", path.display());
        }
    }
    for file in [
        "index.html",
        "loss.svg",
        "grid-test-r00.png",
        "grid-train-r01.png",
    ] {
        let path = store.join("runs/mnist-ae/report").join(file);
        assert!(path.exists(), "{} is missing", path.display());
    }

    // A second run reuses every stage and changes nothing.
    let before = stage_outputs(&store, "mnist-ae");
    let output = check(run_command(&store, &small(3, 1, 2000)));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("0 stages ran"), "{stderr}");
    assert_eq!(stage_outputs(&store, "mnist-ae"), before);

    // Explain names the key input that changed for the first stage that would rerun.
    let mut explain = irl(&store);
    explain
        .arg("explain")
        .args(common::backend_args())
        .arg(common::pipeline_file())
        .arg("--data-dir")
        .arg(common::mnist_dir());
    for text in small(3, 1, 2000) {
        explain.arg("--set").arg(text);
    }
    explain.arg("--set").arg("training.learning_rate=0.002");
    let output = check(explain);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("iter-00/ingest"), "{stdout}");
    assert!(stdout.contains("iter-01/train"), "{stdout}");
    assert!(stdout.contains("would run"), "{stdout}");
    assert!(
        stdout.contains("params.training.learning_rate: 0.001 -> 0.002"),
        "{stdout}"
    );

    // Without a data folder, explain uses the file digests the run recorded, and still names
    // a changed data setting.
    let mut explain = irl(&store);
    explain
        .env_remove("IRL_DATA_DIR")
        .arg("explain")
        .args(common::backend_args())
        .arg(common::pipeline_file());
    for text in small(3, 1, 1000) {
        explain.arg("--set").arg(text);
    }
    let output = check(explain);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("params.train_limit: 2000 -> 1000"),
        "{stdout}"
    );

    // Status lists the stages in chain order.
    let mut status = irl(&store);
    status.arg("status").arg("mnist-ae");
    let output = check(status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let train = stdout.find("iter-01/train").unwrap();
    let reconstruct = stdout.find("iter-01/reconstruct").unwrap();
    assert!(train < reconstruct, "{stdout}");
    assert!(stdout.contains("reused"), "{stdout}");

    // A run name is enough for explain and report: the saved pipeline records the data folder.
    let mut explain = irl(&store);
    explain
        .arg("explain")
        .args(common::backend_args())
        .arg("mnist-ae");
    let stdout = String::from_utf8(check(explain).stdout).unwrap();
    assert!(stdout.contains("every stage is cached"), "{stdout}");
    let mut report = irl(&store);
    report.arg("report").arg("mnist-ae");
    let stdout = String::from_utf8(check(report).stdout).unwrap();
    assert!(
        stdout
            .trim_end()
            .ends_with("runs/mnist-ae/report/index.html"),
        "{stdout}"
    );

    // Verify rehashes every object.
    let mut verify = irl(&store);
    verify.arg("verify");
    let output = check(verify);
    assert!(String::from_utf8_lossy(&output.stdout).contains("objects verified"));
}

#[test]
fn inspect_prints_tensors_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    check(run_command(&store, &small(1, 1, 500)));

    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join("runs/mnist-ae/iter-00/dataset.safetensors"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("train.images"), "{stdout}");
    assert!(stdout.contains("[500, 1, 28, 28]"), "{stdout}");
    assert!(stdout.contains("metadata stage = ingest"), "{stdout}");

    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join("runs/mnist-ae/metrics.parquet"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("Parquet, 2 rows"), "{stdout}");
    assert!(stdout.contains("recon_loss"), "{stdout}");
}
