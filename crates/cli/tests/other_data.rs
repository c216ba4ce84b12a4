//! Rounds on data other than MNIST: Fashion-MNIST, and IDX files of another image size.

mod common;

use std::path::Path;

use common::{check, irl, pipeline_named};

/// Writes an IDX image file of `count` images of `rows` x `columns` and its label file, with
/// images that are bright rectangles on a dark background and labels 0 to 2.
fn write_split(dir: &Path, images: &str, labels: &str, count: u32, rows: u32, columns: u32) {
    let mut image_bytes = Vec::new();
    for value in [0x0000_0803, count, rows, columns] {
        image_bytes.extend_from_slice(&u32::to_be_bytes(value));
    }
    let mut label_bytes = Vec::new();
    for value in [0x0000_0801, count] {
        label_bytes.extend_from_slice(&u32::to_be_bytes(value));
    }
    for index in 0..count {
        let top = index % (rows / 2);
        for row in 0..rows {
            for column in 0..columns {
                let inside = row >= top && row < top + rows / 3 && column > columns / 4;
                image_bytes.push(if inside { 230 } else { 10 });
            }
        }
        label_bytes.push((index % 3) as u8);
    }
    std::fs::write(dir.join(images), image_bytes).unwrap();
    std::fs::write(dir.join(labels), label_bytes).unwrap();
}

#[test]
fn idx_files_of_another_size_run_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    write_split(
        &data,
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        96,
        20,
        24,
    );
    write_split(
        &data,
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        32,
        20,
        24,
    );

    let store = dir.path().join("store");
    for pipeline in ["mnist-ae.yaml", "mnist-vae.yaml"] {
        let mut run = irl(&store);
        run.arg("run")
            .arg(pipeline_named(pipeline))
            .arg("--data-dir")
            .arg(&data);
        for text in [
            "data.source=idx",
            "data.classes=3",
            "iterate.max_iterations=2",
            "report.snapshot_rounds=[1]",
        ] {
            run.arg("--set").arg(text);
        }
        check(run);
    }
    let round = Path::new("runs/mnist-vae/iter-02");
    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join(round).join("dataset.safetensors"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("[96, 1, 20, 24]"), "{stdout}");
    let mut inspect = irl(&store);
    inspect
        .arg("inspect")
        .arg(store.join(round).join("prior-samples.safetensors"));
    let stdout = String::from_utf8(check(inspect).stdout).unwrap();
    assert!(stdout.contains("[25, 1, 20, 24]"), "{stdout}");
    assert!(
        store
            .join("runs/mnist-ae/report/grid-test-r01.png")
            .exists()
    );
}

#[test]
fn fashion_mnist_runs_a_round() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let fashion =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fashion-mnist");
    let mut run = irl(&store);
    run.arg("run")
        .arg(pipeline_named("fashion-ae.yaml"))
        .arg("--data-dir")
        .arg(&fashion);
    for text in common::small(1, 1, 500) {
        run.arg("--set").arg(text);
    }
    let output = check(run);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run fashion-ae: 1 rounds done"), "{stderr}");

    // MNIST's files are not Fashion-MNIST's: the digest check names the dataset.
    let mut wrong = irl(&store);
    wrong
        .arg("run")
        .arg(pipeline_named("fashion-ae.yaml"))
        .arg("--data-dir")
        .arg(common::mnist_dir());
    let output = wrong.output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not the original Fashion-MNIST file"),
        "{stderr}"
    );
}
