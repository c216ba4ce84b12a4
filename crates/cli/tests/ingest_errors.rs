//! A broken data file stops the run with its name, and leaves nothing cached behind.

mod common;

use common::{check, irl, mnist_dir, small};

#[test]
fn truncated_file_caches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mnist");
    std::fs::create_dir(&data).unwrap();
    for name in [
        "train-images-idx3-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(mnist_dir().join(name), data.join(name)).unwrap();
    }
    let labels = std::fs::read(mnist_dir().join("train-labels-idx1-ubyte.gz")).unwrap();
    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&labels[..])
        .read_to_end(&mut raw)
        .unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte"), &raw[..raw.len() / 2]).unwrap();

    let store = dir.path().join("store");
    let ingest = |store: &std::path::Path| {
        let mut command = irl(store);
        command
            .arg("ingest")
            .arg(common::pipeline_file())
            .arg("--data-dir")
            .arg(&data);
        for text in small(1, 1, 500) {
            command.arg("--set").arg(text);
        }
        command
    };
    let output = ingest(&store).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("train-labels-idx1-ubyte"), "{stderr}");
    assert!(
        std::fs::read_dir(store.join("records"))
            .unwrap()
            .next()
            .is_none(),
        "a record was written"
    );
    assert!(!store.join("runs/mnist-ae/state.json").exists());

    // With the file fixed, the next run ingests it.
    std::fs::remove_file(data.join("train-labels-idx1-ubyte")).unwrap();
    std::fs::copy(
        mnist_dir().join("train-labels-idx1-ubyte.gz"),
        data.join("train-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    check(ingest(&store));
    assert!(store.join("runs/mnist-ae/state.json").exists());
}
