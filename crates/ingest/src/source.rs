//! The sources of round-0 data: IDX files, Parquet tables or an image folder, found in one data
//! folder.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use irl_store::Dataset;

use crate::error::IngestError;
use crate::images::{self, DecodedSplit};
use crate::{IdxFormat, Ingested, MnistFiles, Subset};

/// The form of the data in the data folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The four IDX files with MNIST's names.
    Idx(IdxFormat),
    /// Parquet files named `train*.parquet` and `test*.parquet` in the Hugging Face datasets
    /// layout: an `image` column of PNG or JPEG bytes and an integer `label` column.
    Parquet,
    /// Folders `train/<class>/` and `test/<class>/` of PNG or JPEG files.
    ImageFolder,
}

/// The files of a source, found in the data folder.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceFiles {
    Idx {
        files: MnistFiles,
        format: IdxFormat,
    },
    Parquet {
        root: PathBuf,
        train: Vec<PathBuf>,
        test: Vec<PathBuf>,
    },
    ImageFolder {
        root: PathBuf,
        /// Label of each class folder name, over both splits.
        labels: BTreeMap<String, i64>,
    },
}

/// Finds the files of a source of `kind` in `dir`.
pub fn locate_source(kind: SourceKind, dir: &Path) -> Result<SourceFiles, IngestError> {
    match kind {
        SourceKind::Idx(format) => Ok(SourceFiles::Idx {
            files: crate::locate(dir)?,
            format,
        }),
        SourceKind::Parquet => {
            let entries = existing_dir(dir).and_then(|()| images::read_dir(dir))?;
            let named = |prefix: &str| -> Vec<PathBuf> {
                entries
                    .iter()
                    .filter(|path| {
                        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                        name.is_some_and(|n| n.starts_with(prefix) && n.ends_with(".parquet"))
                    })
                    .cloned()
                    .collect()
            };
            let (train, test) = (named("train"), named("test"));
            if train.is_empty() || test.is_empty() {
                return Err(IngestError::ParquetMissing {
                    dir: dir.to_path_buf(),
                    split: if train.is_empty() { "train" } else { "test" },
                });
            }
            Ok(SourceFiles::Parquet {
                root: dir.to_path_buf(),
                train,
                test,
            })
        }
        SourceKind::ImageFolder => {
            existing_dir(dir)?;
            let mut names = Vec::new();
            for split in ["train", "test"] {
                let split_dir = dir.join(split);
                if !split_dir.is_dir() {
                    return Err(IngestError::FolderMissing {
                        dir: dir.to_path_buf(),
                        split,
                    });
                }
                for entry in images::read_dir(&split_dir)? {
                    if entry.is_dir() {
                        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
                        names.extend(name);
                    }
                }
            }
            names.sort();
            names.dedup();
            Ok(SourceFiles::ImageFolder {
                root: dir.to_path_buf(),
                labels: images::class_labels(&names),
            })
        }
    }
}

fn existing_dir(dir: &Path) -> Result<(), IngestError> {
    match fs_err::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(IngestError::NotADirectory {
            dir: dir.to_path_buf(),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            Err(IngestError::DirectoryNotFound {
                dir: dir.to_path_buf(),
            })
        }
        Err(source) => Err(IngestError::Read {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

impl SourceFiles {
    /// Lists every file the source reads, in a fixed order.
    pub fn paths(&self) -> Result<Vec<PathBuf>, IngestError> {
        match self {
            SourceFiles::Idx { files, .. } => Ok(crate::MnistFile::ALL
                .iter()
                .map(|file| files.path(*file).to_path_buf())
                .collect()),
            SourceFiles::Parquet { train, test, .. } => {
                Ok(train.iter().chain(test).cloned().collect())
            }
            SourceFiles::ImageFolder { root, labels } => {
                let mut paths = Vec::new();
                for split in ["train", "test"] {
                    for class in labels.keys() {
                        let class_dir = root.join(split).join(class);
                        if class_dir.is_dir() {
                            paths.extend(
                                images::read_dir(&class_dir)?
                                    .into_iter()
                                    .filter(|p| p.is_file()),
                            );
                        }
                    }
                }
                Ok(paths)
            }
        }
    }

    /// BLAKE3 digests of every file as stored, keyed by its path relative to the data folder;
    /// they serve as the ingest stage's cache key.
    pub fn digests(&self) -> Result<Vec<(String, [u8; 32])>, IngestError> {
        if let SourceFiles::Idx { files, .. } = self {
            return crate::source_digests(files);
        }
        let root = match self {
            SourceFiles::Parquet { root, .. } | SourceFiles::ImageFolder { root, .. } => root,
            SourceFiles::Idx { .. } => unreachable!("returned above"),
        };
        let mut digests = Vec::new();
        for path in self.paths()? {
            let bytes = fs_err::read(&path).map_err(|source| IngestError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path.strip_prefix(root).unwrap_or(&path);
            digests.push((name.display().to_string(), *blake3::hash(&bytes).as_bytes()));
        }
        Ok(digests)
    }

    /// Reads the source into the round-0 dataset. `resize` ([height, width]) applies to image
    /// files only.
    pub fn ingest(
        &self,
        subset: &Subset,
        resize: Option<[u32; 2]>,
    ) -> Result<Ingested, IngestError> {
        let (train, test) = match self {
            SourceFiles::Idx { files, format } => {
                return crate::ingest_idx(files, *format, subset);
            }
            SourceFiles::Parquet { root, train, test } => (
                images::read_parquet_split(root, train)?,
                images::read_parquet_split(root, test)?,
            ),
            SourceFiles::ImageFolder { root, labels } => (
                images::read_folder_split(root, &root.join("train"), labels)?,
                images::read_folder_split(root, &root.join("test"), labels)?,
            ),
        };
        let mut sources = train.sources.clone();
        sources.extend(test.sources.iter().cloned());
        let (train_origin, test_origin) = (first_origin(&train), first_origin(&test));
        let train = train.into_split(resize)?;
        let test = test.into_split(resize)?;
        if train.image_shape != test.image_shape {
            return Err(IngestError::SplitShapesDiffer {
                train: train_origin,
                train_shape: train.image_shape,
                test: test_origin,
                test_shape: test.image_shape,
            });
        }
        let dataset = subset.apply(Dataset { train, test })?;
        Ok(Ingested { dataset, sources })
    }
}

fn first_origin(split: &DecodedSplit) -> String {
    split.origins.first().cloned().unwrap_or_default()
}
