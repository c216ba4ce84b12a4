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
pub use files::{MnistFile, MnistFiles, locate, source_digests};
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

/// Reads the four MNIST files into a dataset, keeping the first images of each split up to the
/// limits in `subset`.
///
/// All four files are read and checked whole even for a subset, because the digest covers the
/// whole file.
pub fn ingest(files: &MnistFiles, subset: &Subset) -> Result<Dataset, IngestError> {
    let train = read_split(files, MnistFile::TrainImages, MnistFile::TrainLabels)?;
    let test = read_split(files, MnistFile::TestImages, MnistFile::TestLabels)?;

    // Structure is checked first, so a truncated or corrupt file reports that problem rather
    // than only a digest mismatch.
    let contents = [
        (MnistFile::TrainImages, &train.images),
        (MnistFile::TrainLabels, &train.labels),
        (MnistFile::TestImages, &test.images),
        (MnistFile::TestLabels, &test.labels),
    ];
    for (file, data) in contents {
        verify_original(files.path(file), file, data)?;
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
        "read MNIST"
    );
    Ok(dataset)
}

/// Decompressed bytes of the image and label file of one split, with their structure checked.
struct CheckedSplit {
    images: Vec<u8>,
    labels: Vec<u8>,
    count: usize,
}

impl CheckedSplit {
    /// Converts the first `limit` images (all when `None`) to a store split.
    fn to_split(&self, limit: Option<usize>) -> Split {
        let count = limit.map_or(self.count, |limit| limit.min(self.count));
        let images = idx::image_pixels(&self.images, count)
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
            image_shape: [1, idx::IMAGE_SIDE, idx::IMAGE_SIDE],
        }
    }
}

/// Reads the image and label file of one split and checks that their counts match.
fn read_split(
    files: &MnistFiles,
    images_file: MnistFile,
    labels_file: MnistFile,
) -> Result<CheckedSplit, IngestError> {
    let images_path = files.path(images_file);
    let images = idx::read_decompressed(images_path)?;
    let image_count = idx::check_images(images_path, &images)?;

    let labels_path = files.path(labels_file);
    let labels = idx::read_decompressed(labels_path)?;
    let label_count = idx::check_labels(labels_path, &labels)?;

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
        count: image_count,
    })
}

/// Checks that `data`, the uncompressed bytes read from `path`, are the original `file`.
fn verify_original(path: &Path, file: MnistFile, data: &[u8]) -> Result<(), IngestError> {
    let actual = hex::encode(Sha256::digest(data));
    if actual != file.original_sha256() {
        return Err(IngestError::DigestMismatch {
            path: path.to_path_buf(),
            name: file.file_name(),
            expected: file.original_sha256(),
            actual,
        });
    }
    tracing::debug!(path = %path.display(), sha256 = &actual[..12], "MNIST file digest matches");
    Ok(())
}
