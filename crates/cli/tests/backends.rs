//! A backend or device that this build or machine lacks stops the run before any stage, with
//! the fix in the message.

mod common;

use std::path::Path;
use std::process::Output;

use common::{irl, mnist_dir, pipeline_file, small};

/// Runs the study pipeline on a small subset with `--backend BACKEND --device DEVICE`.
fn run_on(store: &Path, backend: &str, device: &str) -> Output {
    let mut command = irl(store);
    command
        .arg("run")
        .arg(pipeline_file())
        .arg("--data-dir")
        .arg(mnist_dir())
        .arg("--backend")
        .arg(backend)
        .arg("--device")
        .arg(device);
    for text in small(1, 1, 200) {
        command.arg("--set").arg(text);
    }
    command.output().unwrap()
}

/// Asserts that the run failed with `expected` in its message and recorded no stage.
fn assert_rejected(store: &Path, output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
    let records = std::fs::read_dir(store.join("records"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(records, 0, "a stage ran before the check");
}

#[test]
fn flex_rejects_gpu_devices() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let output = run_on(&store, "flex", "cuda:0");
    assert_rejected(
        &store,
        &output,
        "runs only on --device cpu, found \"cuda:0\"",
    );
    assert_rejected(&store, &output, "a GPU needs --backend tch");
}

#[test]
fn unknown_backend_lists_the_backends() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let output = run_on(&store, "wgpu", "cpu");
    assert_rejected(&store, &output, "the backends are flex and tch");
}

#[cfg(not(feature = "tch"))]
#[test]
fn tch_without_feature_names_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let output = run_on(&store, "tch", "cpu");
    assert_rejected(&store, &output, "built without LibTorch");
    assert_rejected(&store, &output, "make build-tch");
}

#[cfg(feature = "tch")]
#[test]
fn tch_rejects_missing_gpu_and_bad_device() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let output = run_on(&store, "tch", "cuda:64");
    assert_rejected(&store, &output, "asks for CUDA GPU 64, but LibTorch finds");
    let output = run_on(&store, "tch", "gpu0");
    assert_rejected(&store, &output, "use cpu or cuda:N");
}
