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

mod card;
mod download;
mod error;
mod files;
mod idx;
mod images;
mod labels;
mod shaping;
mod source;

use std::path::Path;

use irl_store::{Dataset, Split};
use sha2::{Digest, Sha256};

pub use card::{SourceFile, card_table, sources_table};
pub use download::{DownloadRequest, download};
pub use error::{IngestError, MagicHint};
pub use files::{KnownDataset, MnistFile, MnistFiles, locate, source_digests};
pub use idx::IdxKind;
pub use labels::labels_table;
pub use shaping::{Selection, Subset};
pub use source::{SourceFiles, SourceKind, locate_source};

/// Version of the ingest stage's meaning; part of its cache key.
pub const STAGE_VERSION: u32 = 2;

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
    Ok(ingest_idx(files, IdxFormat::Known(KnownDataset::Mnist), subset)?.dataset)
}

/// A dataset read from its files, with the facts about the files that the dataset card records.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub dataset: Dataset,
    pub sources: Vec<SourceFile>,
}

/// Reads four IDX files with the MNIST file names into a dataset, as [`ingest`] does for MNIST.
pub fn ingest_idx(
    files: &MnistFiles,
    format: IdxFormat,
    subset: &Subset,
) -> Result<Ingested, IngestError> {
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
    let contents = [
        (MnistFile::TrainImages, &train.images),
        (MnistFile::TrainLabels, &train.labels),
        (MnistFile::TestImages, &test.images),
        (MnistFile::TestLabels, &test.labels),
    ];
    let mut sources = Vec::with_capacity(contents.len());
    for (file, data) in contents {
        let path = files.path(file);
        let sha256 = hex::encode(Sha256::digest(data));
        if let IdxFormat::Known(dataset) = format {
            verify_original(path, dataset, file, &sha256)?;
        }
        let bytes = fs_err::metadata(path)
            .map_err(|source| IngestError::Read {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        sources.push(SourceFile {
            name: path.file_name().map_or_else(
                || path.display().to_string(),
                |name| name.to_string_lossy().into_owned(),
            ),
            bytes,
            sha256,
            verified: matches!(format, IdxFormat::Known(_)),
        });
    }

    let dataset = subset.apply(Dataset {
        train: train.to_split(),
        test: test.to_split(),
    })?;
    tracing::info!(
        train_images = dataset.train.len(),
        test_images = dataset.test.len(),
        train_limit = ?subset.train_limit,
        test_limit = ?subset.test_limit,
        selection = ?subset.selection,
        validation_from_train = ?subset.validation_from_train,
        "read the IDX files"
    );
    Ok(Ingested { dataset, sources })
}

/// Decompressed bytes of the image and label file of one split, with their structure checked.
struct CheckedSplit {
    images: Vec<u8>,
    labels: Vec<u8>,
    header: idx::ImageHeader,
}

impl CheckedSplit {
    /// Converts every image to a store split.
    fn to_split(&self) -> Split {
        let count = self.header.count;
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

/// Checks that `actual`, the SHA-256 of the uncompressed bytes read from `path`, is that of
/// `dataset`'s original `file`.
fn verify_original(
    path: &Path,
    dataset: KnownDataset,
    file: MnistFile,
    actual: &str,
) -> Result<(), IngestError> {
    let expected = dataset.sha256(file);
    if actual != expected {
        return Err(IngestError::DigestMismatch {
            path: path.to_path_buf(),
            dataset: dataset.name(),
            name: file.file_name(),
            expected,
            actual: actual.to_string(),
        });
    }
    tracing::debug!(path = %path.display(), sha256 = &actual[..12], "file digest matches");
    Ok(())
}
