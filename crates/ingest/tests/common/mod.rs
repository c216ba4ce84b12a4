//! Helpers shared by the test files: IDX and gzip bytes, and a directory of small fake MNIST
//! files that pass every structural check but not the digest check.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use irl_ingest::{IngestError, MnistFiles, Subset};
use tempfile::TempDir;

/// Directory of the real MNIST files, gzip-compressed.
pub const MNIST_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/mnist"
);

pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Bytes of an IDX image file of `count` images of `rows` x `columns`, pixel values counting up.
pub fn image_file(count: u32, rows: u32, columns: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for value in [0x0000_0803, count, rows, columns] {
        bytes.extend_from_slice(&u32::to_be_bytes(value));
    }
    let pixels = count as usize * rows as usize * columns as usize;
    bytes.extend((0..pixels).map(|i| (i % 256) as u8));
    bytes
}

/// Bytes of an IDX label file containing `labels`.
pub fn label_file(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0x0000_0801_u32.to_be_bytes());
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A temporary directory with four small, structurally valid MNIST files, uncompressed:
/// 3 train images and 2 test images.
pub struct FakeMnist {
    pub dir: TempDir,
}

impl FakeMnist {
    pub fn new() -> Self {
        let fake = Self {
            dir: TempDir::new().unwrap(),
        };
        fake.write(TRAIN_IMAGES, &image_file(3, 28, 28));
        fake.write(TRAIN_LABELS, &label_file(&[5, 0, 4]));
        fake.write(TEST_IMAGES, &image_file(2, 28, 28));
        fake.write(TEST_LABELS, &label_file(&[7, 2]));
        fake
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `bytes` to `name`, replacing the file there.
    pub fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).unwrap();
    }

    pub fn files(&self) -> MnistFiles {
        irl_ingest::locate(self.dir.path()).unwrap()
    }

    /// Ingests the directory, expecting an error.
    pub fn ingest_error(&self) -> IngestError {
        match irl_ingest::ingest(&self.files(), &Subset::default()) {
            Ok(_) => panic!("ingest of {} succeeded", self.dir.path().display()),
            Err(error) => error,
        }
    }
}

/// Copies the real MNIST files into `target`, decompressed, under the names without `.gz`.
pub fn write_decompressed_copies(target: &Path) {
    for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let compressed =
            std::fs::File::open(Path::new(MNIST_DIR).join(format!("{name}.gz"))).unwrap();
        let mut decoder = flate2::read::GzDecoder::new(compressed);
        let mut output = std::fs::File::create(target.join(name)).unwrap();
        std::io::copy(&mut decoder, &mut output).unwrap();
    }
}
