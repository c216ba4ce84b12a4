//! Ingest of the real MNIST files, compressed and uncompressed.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{MNIST_DIR, write_decompressed_copies};
use irl_ingest::{Subset, ingest, locate};
use irl_store::{Dataset, Split};
use tempfile::TempDir;

const TRAIN_LABEL_COUNTS: [usize; 10] =
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_LABEL_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

/// Reads the whole dataset from the gzip files once and shares it between the tests of this file.
fn full_dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let files = locate(Path::new(MNIST_DIR)).unwrap();
        ingest(&files, &Subset::default()).unwrap()
    })
}

fn label_counts(split: &Split) -> [usize; 10] {
    let mut counts = [0; 10];
    for &label in &split.labels {
        counts[label as usize] += 1;
    }
    counts
}

#[test]
fn full_dataset_has_mnist_sizes() {
    let dataset = full_dataset();

    assert_eq!(dataset.train.len(), 60_000);
    assert_eq!(dataset.test.len(), 10_000);
    assert_eq!(dataset.train.image_shape, [1, 28, 28]);
    assert_eq!(dataset.test.image_shape, [1, 28, 28]);
    assert_eq!(dataset.train.images.len(), 60_000 * 784);
    assert_eq!(dataset.test.images.len(), 10_000 * 784);
}

#[test]
fn full_dataset_pixels_are_in_unit_range() {
    let dataset = full_dataset();

    for split in [&dataset.train, &dataset.test] {
        let min = split.images.iter().copied().fold(f32::INFINITY, f32::min);
        let max = split
            .images
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(min, 0.0);
        assert_eq!(max, 1.0);
    }
}

#[test]
fn full_dataset_has_known_label_counts() {
    let dataset = full_dataset();

    assert_eq!(label_counts(&dataset.train), TRAIN_LABEL_COUNTS);
    assert_eq!(label_counts(&dataset.test), TEST_LABEL_COUNTS);
}

#[test]
fn subset_keeps_first_images() {
    let files = locate(Path::new(MNIST_DIR)).unwrap();
    let subset = Subset {
        train_limit: Some(100),
        test_limit: Some(10),
        ..Subset::default()
    };

    let dataset = ingest(&files, &subset).unwrap();

    let full = full_dataset();
    assert_eq!(dataset.train.len(), 100);
    assert_eq!(dataset.test.len(), 10);
    assert_eq!(dataset.train.labels, full.train.labels[..100]);
    assert_eq!(dataset.test.labels, full.test.labels[..10]);
    assert_eq!(dataset.train.images, full.train.images[..100 * 784]);
    assert_eq!(dataset.test.images, full.test.images[..10 * 784]);
    assert_eq!(dataset.train.image_shape, [1, 28, 28]);
}

#[test]
fn subset_above_split_size_keeps_all() {
    let files = locate(Path::new(MNIST_DIR)).unwrap();
    let subset = Subset {
        train_limit: None,
        test_limit: Some(1_000_000),
        ..Subset::default()
    };

    let dataset = ingest(&files, &subset).unwrap();

    assert_eq!(dataset.test.len(), 10_000);
    assert_eq!(dataset.train.len(), 60_000);
}

#[test]
fn uncompressed_files_give_same_dataset() {
    let dir = TempDir::new().unwrap();
    write_decompressed_copies(dir.path());

    let files = locate(dir.path()).unwrap();
    let dataset = ingest(&files, &Subset::default()).unwrap();

    assert_eq!(
        files.train_images,
        dir.path().join("train-images-idx3-ubyte")
    );
    assert!(dataset == *full_dataset(), "datasets differ");
}

#[test]
fn gzip_files_without_suffix_give_same_dataset() {
    let dir = TempDir::new().unwrap();
    for file in irl_ingest::MnistFile::ALL {
        let name = file.file_name();
        std::fs::copy(
            Path::new(MNIST_DIR).join(format!("{name}.gz")),
            dir.path().join(name),
        )
        .unwrap();
    }

    let files = locate(dir.path()).unwrap();
    let dataset = ingest(&files, &Subset::default()).unwrap();

    assert!(dataset == *full_dataset(), "datasets differ");
}

#[test]
fn validation_split_is_carved_from_train() {
    let files = locate(Path::new(MNIST_DIR)).unwrap();
    let subset = Subset {
        validation_from_train: Some(10_000),
        seed: 5,
        ..Subset::default()
    };
    let dataset = ingest(&files, &subset).unwrap();
    assert_eq!(dataset.train.len(), 50_000);
    assert_eq!(dataset.test.len(), 10_000);

    // The two parts together are the official training split, image for image.
    let full = full_dataset();
    let mut counts = label_counts(&dataset.train);
    for (count, held_out) in counts.iter_mut().zip(label_counts(&dataset.test)) {
        *count += held_out;
    }
    assert_eq!(counts, label_counts(&full.train));
    let pixels = |split: &Split| split.images.iter().map(|v| f64::from(*v)).sum::<f64>();
    let together = pixels(&dataset.train) + pixels(&dataset.test);
    assert!((together - pixels(&full.train)).abs() < 1e-3 * pixels(&full.train));

    // Another seed holds out other images.
    let other = ingest(&files, &Subset { seed: 6, ..subset }).unwrap();
    assert_ne!(other.test.labels, dataset.test.labels);
}
