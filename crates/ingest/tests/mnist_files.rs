//! Finding the four MNIST files in a directory, and their on-disk digests.

mod common;

use std::path::Path;

use common::{
    FakeMnist, MNIST_DIR, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, gzip, label_file,
};
use irl_ingest::{IngestError, locate, source_digests};
use tempfile::TempDir;

const ALL_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

#[test]
fn locate_finds_gzip_files() {
    let files = locate(Path::new(MNIST_DIR)).unwrap();

    assert_eq!(
        files.train_images,
        Path::new(MNIST_DIR).join(format!("{TRAIN_IMAGES}.gz"))
    );
    assert_eq!(
        files.train_labels,
        Path::new(MNIST_DIR).join(format!("{TRAIN_LABELS}.gz"))
    );
    assert_eq!(
        files.test_images,
        Path::new(MNIST_DIR).join(format!("{TEST_IMAGES}.gz"))
    );
    assert_eq!(
        files.test_labels,
        Path::new(MNIST_DIR).join(format!("{TEST_LABELS}.gz"))
    );
}

#[test]
fn locate_finds_uncompressed_files() {
    let fake = FakeMnist::new();

    let files = locate(fake.dir.path()).unwrap();

    assert_eq!(files.train_images, fake.path(TRAIN_IMAGES));
    assert_eq!(files.train_labels, fake.path(TRAIN_LABELS));
    assert_eq!(files.test_images, fake.path(TEST_IMAGES));
    assert_eq!(files.test_labels, fake.path(TEST_LABELS));
}

#[test]
fn locate_prefers_uncompressed_file() {
    let fake = FakeMnist::new();
    fake.write(&format!("{TEST_LABELS}.gz"), &gzip(&label_file(&[7, 2])));

    let files = locate(fake.dir.path()).unwrap();

    assert_eq!(files.test_labels, fake.path(TEST_LABELS));
}

#[test]
fn missing_directory_lists_expected_files() {
    let parent = TempDir::new().unwrap();
    let dir = parent.path().join("mnist");

    let error = locate(&dir).unwrap_err();

    assert!(
        matches!(error, IngestError::DirectoryNotFound { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    for name in ALL_NAMES {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn missing_file_lists_expected_files() {
    let fake = FakeMnist::new();
    std::fs::remove_file(fake.path(TEST_IMAGES)).unwrap();

    let error = locate(fake.dir.path()).unwrap_err();

    let IngestError::FilesMissing { missing, .. } = &error else {
        panic!("expected FilesMissing, got {error}");
    };
    assert_eq!(missing, &[TEST_IMAGES.to_string()]);
    let message = error.to_string();
    assert!(
        message.contains(&fake.dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&format!("is missing {TEST_IMAGES}.")),
        "{message}"
    );
    for name in ALL_NAMES {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn file_given_as_directory_is_rejected() {
    let fake = FakeMnist::new();

    let error = locate(&fake.path(TRAIN_IMAGES)).unwrap_err();

    assert!(
        matches!(error, IngestError::NotADirectory { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("is not a directory"), "{error}");
}

#[test]
fn source_digests_hash_stored_bytes() {
    let files = locate(Path::new(MNIST_DIR)).unwrap();

    let digests = source_digests(&files).unwrap();

    let names: Vec<&str> = digests.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
    );
    for (name, digest) in &digests {
        let stored = std::fs::read(Path::new(MNIST_DIR).join(name)).unwrap();
        assert_eq!(digest, blake3::hash(&stored).as_bytes(), "{name}");
    }
}

#[test]
fn source_digests_change_with_one_file() {
    let fake = FakeMnist::new();
    let before = source_digests(&fake.files()).unwrap();

    fake.write(TRAIN_LABELS, &label_file(&[5, 0, 3]));
    let after = source_digests(&fake.files()).unwrap();

    assert_eq!(before[0], after[0]);
    assert_ne!(before[1], after[1]);
    assert_eq!(before[2], after[2]);
    assert_eq!(before[3], after[3]);
}

#[test]
fn source_digests_report_unreadable_file() {
    let fake = FakeMnist::new();
    let files = fake.files();
    std::fs::remove_file(fake.path(TEST_LABELS)).unwrap();

    let error = source_digests(&files).unwrap_err();

    assert!(matches!(error, IngestError::Read { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains(&fake.path(TEST_LABELS).display().to_string()),
        "{error}"
    );
}
