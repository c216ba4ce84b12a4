//! Helpers for tests that run the `irl` binary on the real MNIST files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use irl_store::Store;

/// Returns the folder of the original MNIST IDX files (gzip).
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/mnist")
}

/// Returns the path of the study's pipeline file.
pub fn pipeline_file() -> PathBuf {
    pipeline_named("mnist-ae.yaml")
}

/// Returns the path of a pipeline file shipped under pipelines/.
pub fn pipeline_named(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../pipelines")
        .join(file)
}

/// Overrides that make the study small enough for a test.
pub fn small(rounds: u32, epochs: u32, train: u32) -> Vec<String> {
    vec![
        format!("data.train_limit={train}"),
        "data.test_limit=300".to_string(),
        format!("iterate.max_iterations={rounds}"),
        format!("training.epochs={epochs}"),
    ]
}

/// `irl --store STORE ARGS...` with the data folder and overrides of `run`-like commands.
pub fn irl(store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_irl"));
    command.arg("--store").arg(store).env("RUST_LOG", "info");
    command
}

/// `irl run` of the study pipeline with `overrides`.
pub fn run_command(store: &Path, overrides: &[String]) -> Command {
    run_pipeline(store, &pipeline_file(), overrides)
}

/// `--backend B --device cpu` where `IRL_TEST_BACKEND` names a backend B, such as `tch` for
/// `make test-tch`; none otherwise, which runs on the default backend.
pub fn backend_args() -> Vec<String> {
    match std::env::var("IRL_TEST_BACKEND") {
        Ok(backend) if !backend.is_empty() => {
            vec!["--backend".into(), backend, "--device".into(), "cpu".into()]
        }
        _ => Vec::new(),
    }
}

/// `irl run` of the pipeline file at `path` with `overrides`.
pub fn run_pipeline(store: &Path, path: &Path, overrides: &[String]) -> Command {
    let mut command = irl(store);
    command
        .arg("run")
        .arg(path)
        .arg("--data-dir")
        .arg(mnist_dir())
        .args(backend_args());
    for text in overrides {
        command.arg("--set").arg(text);
    }
    command
}

/// Runs a command and fails the test with its output when it exits non-zero.
pub fn check(mut command: Command) -> Output {
    let output = command.output().expect("irl starts");
    assert!(
        output.status.success(),
        "irl failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Output digests of every train, reconstruct and evaluate stage of `run`, by slot and output
/// name. The training logs are left out because their `seconds` columns record wall time.
pub fn stage_outputs(store: &Path, run: &str) -> Vec<(String, String, String)> {
    let store = Store::open(store).unwrap();
    let state = store.run_state(run).unwrap();
    let mut outputs = Vec::new();
    for (slot, slot_state) in &state.slots {
        if slot == "report" {
            continue;
        }
        let record = store
            .record(&slot_state.key)
            .unwrap()
            .expect("record exists");
        for (name, object) in &record.outputs {
            if name != "training_log" && name != "classifier_log" {
                outputs.push((slot.clone(), name.clone(), object.digest.to_hex()));
            }
        }
    }
    outputs
}

/// Reads every record batch of the Parquet file at `path`.
pub fn batches(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let bytes = std::fs::read(path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
    irl_store::table::from_parquet("test", bytes).unwrap()
}

/// Returns the column `name` of `batch` as an array of type `T`.
pub fn column<T: arrow::array::Array + Clone + 'static>(
    batch: &arrow::array::RecordBatch,
    name: &str,
) -> T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("column {name} is missing"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("column {name} has another type"))
        .clone()
}
