//! Reads the original MNIST IDX files into the round-0 dataset.
//!
//! Every later round of iterated learning starts from this dataset, so ingest accepts only the
//! original files. The files may be gzip-compressed or not. [`ingest`] checks each file's
//! structure, then the SHA-256 of its uncompressed bytes against the published digest, and only
//! then converts pixels to `f32` in [0, 1].
//!
//! ```no_run
//! use std::path::Path;
//!
//! let files = irl_ingest::locate(Path::new("datasets/mnist"))?;
//! let dataset = irl_ingest::ingest(&files, &irl_ingest::Subset::default())?;
//! assert_eq!(dataset.train.len(), 60_000);
//! # Ok::<(), irl_ingest::IngestError>(())
//! ```

mod error;
mod files;
mod idx;
mod labels;

use std::path::Path;

use irl_store::{Dataset, Split};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use error::{IngestError, MagicHint};
pub use files::{KnownDataset, MnistFile, MnistFiles, locate, source_digests};
pub use idx::IdxKind;
pub use labels::labels_table;

/// Version of the ingest stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 1;

/// How many images of each split to keep, counted from the start of the file.
///
/// `None` keeps the whole split. A limit above the split size keeps the whole split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subset {
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
}

/// Expected content of the four IDX files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxFormat {
    /// A published dataset: 28x28 images, 10 classes, and each file's SHA-256 checked.
    Known(KnownDataset),
    /// Any IDX files with the MNIST file names: images of any one size, labels below
    /// `classes`, no digest check.
    Any { classes: u8 },
}

/// Reads the four MNIST files into a dataset, keeping the first images of each split up to the
/// limits in `subset`.
///
/// All four files are read and checked whole even for a subset, because the digest covers the
/// whole file.
pub fn ingest(files: &MnistFiles, subset: &Subset) -> Result<Dataset, IngestError> {
    ingest_idx(files, IdxFormat::Known(KnownDataset::Mnist), subset)
}

/// Reads four IDX files with the MNIST file names into a dataset, as [`ingest`] does for MNIST.
pub fn ingest_idx(
    files: &MnistFiles,
    format: IdxFormat,
    subset: &Subset,
) -> Result<Dataset, IngestError> {
    let train = read_split(
        files,
        format,
        MnistFile::TrainImages,
        MnistFile::TrainLabels,
    )?;
    let test = read_split(files, format, MnistFile::TestImages, MnistFile::TestLabels)?;
    if (train.header.rows, train.header.columns) != (test.header.rows, test.header.columns) {
        return Err(IngestError::SplitSizesDiffer {
            train: files.train_images.clone(),
            train_size: [train.header.rows, train.header.columns],
            test: files.test_images.clone(),
            test_size: [test.header.rows, test.header.columns],
        });
    }

    // Structure is checked first, so a truncated or corrupt file reports that problem rather
    // than only a digest mismatch.
    if let IdxFormat::Known(dataset) = format {
        let contents = [
            (MnistFile::TrainImages, &train.images),
            (MnistFile::TrainLabels, &train.labels),
            (MnistFile::TestImages, &test.images),
            (MnistFile::TestLabels, &test.labels),
        ];
        for (file, data) in contents {
            verify_original(files.path(file), dataset, file, data)?;
        }
    }

    let dataset = Dataset {
        train: train.to_split(subset.train_limit),
        test: test.to_split(subset.test_limit),
    };
    tracing::info!(
        train_images = dataset.train.len(),
        test_images = dataset.test.len(),
        train_limit = ?subset.train_limit,
        test_limit = ?subset.test_limit,
        "read the IDX files"
    );
    Ok(dataset)
}

/// Decompressed bytes of the image and label file of one split, with their structure checked.
struct CheckedSplit {
    images: Vec<u8>,
    labels: Vec<u8>,
    header: idx::ImageHeader,
}

impl CheckedSplit {
    /// Converts the first `limit` images (all when `None`) to a store split.
    fn to_split(&self, limit: Option<usize>) -> Split {
        let count = limit.map_or(self.header.count, |limit| limit.min(self.header.count));
        let images = idx::image_pixels(&self.images, self.header, count)
            .iter()
            .map(|&pixel| f32::from(pixel) / 255.0)
            .collect();
        let labels = idx::label_values(&self.labels, count)
            .iter()
            .map(|&label| i64::from(label))
            .collect();
        Split {
            images,
            labels,
            image_shape: [1, self.header.rows, self.header.columns],
        }
    }
}

/// Reads the image and label file of one split and checks that their counts match.
fn read_split(
    files: &MnistFiles,
    format: IdxFormat,
    images_file: MnistFile,
    labels_file: MnistFile,
) -> Result<CheckedSplit, IngestError> {
    let (side, classes) = match format {
        IdxFormat::Known(_) => (Some(idx::IMAGE_SIDE), idx::MNIST_CLASSES),
        IdxFormat::Any { classes } => (None, classes),
    };
    let images_path = files.path(images_file);
    let images = idx::read_decompressed(images_path)?;
    let header = idx::check_images(images_path, &images, side)?;
    let image_count = header.count;

    let labels_path = files.path(labels_file);
    let labels = idx::read_decompressed(labels_path)?;
    let label_count = idx::check_labels(labels_path, &labels, classes)?;

    if image_count != label_count {
        return Err(IngestError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: image_count,
            labels_path: labels_path.to_path_buf(),
            labels: label_count,
        });
    }
    Ok(CheckedSplit {
        images,
        labels,
        header,
    })
}

/// Checks that `data`, the uncompressed bytes read from `path`, are `dataset`'s original `file`.
fn verify_original(
    path: &Path,
    dataset: KnownDataset,
    file: MnistFile,
    data: &[u8],
) -> Result<(), IngestError> {
    let actual = hex::encode(Sha256::digest(data));
    let expected = dataset.sha256(file);
    if actual != expected {
        return Err(IngestError::DigestMismatch {
            path: path.to_path_buf(),
            dataset: dataset.name(),
            name: file.file_name(),
            expected,
            actual,
        });
    }
    tracing::debug!(path = %path.display(), sha256 = &actual[..12], "file digest matches");
    Ok(())
}
