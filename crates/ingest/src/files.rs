//! The four MNIST files: their names, their known digests, and where they are in a directory.
//!
//! The files are found by name, with or without `.gz`, so that both the distributed archives and
//! decompressed copies work. Their on-disk BLAKE3 digests serve as a cheap cache key that needs no
//! decompression.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::IngestError;

/// One of the four files of the MNIST distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistFile {
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}

impl MnistFile {
    /// All four files, in the order that digests and reads use.
    pub const ALL: [MnistFile; 4] = [
        MnistFile::TrainImages,
        MnistFile::TrainLabels,
        MnistFile::TestImages,
        MnistFile::TestLabels,
    ];

    /// File name of the uncompressed file, as distributed without `.gz`.
    pub fn file_name(self) -> &'static str {
        match self {
            MnistFile::TrainImages => "train-images-idx3-ubyte",
            MnistFile::TrainLabels => "train-labels-idx1-ubyte",
            MnistFile::TestImages => "t10k-images-idx3-ubyte",
            MnistFile::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    /// SHA-256 of the original uncompressed MNIST file, in lowercase hex.
    pub fn original_sha256(self) -> &'static str {
        KnownDataset::Mnist.sha256(self)
    }

    /// Joins the four file names for messages, noting that each may end in `.gz`.
    pub(crate) fn expected_names() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|file| file.file_name()).collect();
        format!("{} (each may end in .gz)", names.join(", "))
    }
}

/// A dataset published as four IDX files with the MNIST file names, whose digests are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownDataset {
    /// MNIST: handwritten digits.
    Mnist,
    /// Fashion-MNIST: images of clothing in MNIST's format, 28x28 grayscale, 10 classes.
    FashionMnist,
}

impl KnownDataset {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            KnownDataset::Mnist => "MNIST",
            KnownDataset::FashionMnist => "Fashion-MNIST",
        }
    }

    /// Returns the SHA-256 of the original uncompressed `file`, in lowercase hex.
    pub fn sha256(self, file: MnistFile) -> &'static str {
        match self {
            KnownDataset::Mnist => mnist_sha256(file),
            KnownDataset::FashionMnist => match file {
                MnistFile::TrainImages => {
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
                }
                MnistFile::TrainLabels => {
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
                }
                MnistFile::TestImages => {
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
                }
                MnistFile::TestLabels => {
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
                }
            },
        }
    }
}

fn mnist_sha256(file: MnistFile) -> &'static str {
    match file {
        MnistFile::TestImages => "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        MnistFile::TestLabels => "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        MnistFile::TrainImages => {
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        }
        MnistFile::TrainLabels => {
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        }
    }
}

/// Paths of the four MNIST files, each either gzip-compressed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

impl MnistFiles {
    /// Path of `file`.
    pub fn path(&self, file: MnistFile) -> &Path {
        match file {
            MnistFile::TrainImages => &self.train_images,
            MnistFile::TrainLabels => &self.train_labels,
            MnistFile::TestImages => &self.test_images,
            MnistFile::TestLabels => &self.test_labels,
        }
    }
}

/// Finds the four MNIST files in `dir`, each named as distributed, with or without `.gz`.
///
/// When both names exist, the uncompressed file is used. Either way [`crate::ingest`] checks
/// the content against the original digest.
pub fn locate(dir: &Path) -> Result<MnistFiles, IngestError> {
    match fs_err::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(IngestError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(IngestError::DirectoryNotFound {
                dir: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(IngestError::Read {
                path: dir.to_path_buf(),
                source,
            });
        }
    }

    let mut found = Vec::new();
    let mut missing = Vec::new();
    for file in MnistFile::ALL {
        match find_file(dir, file.file_name())? {
            Some(path) => found.push(path),
            None => missing.push(file.file_name().to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(IngestError::FilesMissing {
            dir: dir.to_path_buf(),
            missing,
        });
    }

    let [train_images, train_labels, test_images, test_labels]: [PathBuf; 4] =
        found.try_into().expect("one path per MNIST file");
    Ok(MnistFiles {
        train_images,
        train_labels,
        test_images,
        test_labels,
    })
}

/// Returns `dir/name` or `dir/name.gz`, whichever exists, preferring the uncompressed name.
fn find_file(dir: &Path, name: &str) -> Result<Option<PathBuf>, IngestError> {
    let plain = dir.join(name);
    let gzip = dir.join(format!("{name}.gz"));
    let plain_exists = exists(&plain)?;
    let gzip_exists = exists(&gzip)?;

    if plain_exists && gzip_exists {
        tracing::debug!(
            used = %plain.display(),
            skipped = %gzip.display(),
            "both the uncompressed and the gzip file exist, using the uncompressed one"
        );
    }
    if plain_exists {
        Ok(Some(plain))
    } else if gzip_exists {
        Ok(Some(gzip))
    } else {
        Ok(None)
    }
}

/// Returns whether `path` exists. Errors other than "not found" are returned as errors, so a
/// file that cannot be accessed is not reported as missing.
fn exists(path: &Path) -> Result<bool, IngestError> {
    match fs_err::metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(IngestError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Computes the BLAKE3 digest of each file's bytes as stored on disk, without decompressing.
///
/// Returns one entry per file, keyed by its on-disk file name, in the order of
/// [`MnistFile::ALL`]. The digests change when a file is replaced or recompressed, so they
/// serve as a cache key but not as a check of the content, which [`crate::ingest`] does.
pub fn source_digests(files: &MnistFiles) -> Result<Vec<(String, [u8; 32])>, IngestError> {
    let mut digests = Vec::with_capacity(MnistFile::ALL.len());
    for file in MnistFile::ALL {
        let path = files.path(file);
        let read_error = |source| IngestError::Read {
            path: path.to_path_buf(),
            source,
        };

        let mut reader = fs_err::File::open(path).map_err(read_error)?;
        let mut hasher = blake3::Hasher::new();
        io::copy(&mut reader, &mut hasher).map_err(read_error)?;

        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        digests.push((name, *hasher.finalize().as_bytes()));
    }
    Ok(digests)
}
