//! The errors of reading the round-0 data, one variant per problem.
//!
//! Each message names the file and the values involved and ends with what to do next, because
//! the usual cause is a broken or wrong download that the user has to replace by hand.

use std::path::PathBuf;

use crate::files::MnistFile;
use crate::idx::IdxKind;

/// A problem that stops the round-0 data from being read.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(
        "data folder {} not found. Create it and put the four IDX files in it: {}",
        dir.display(),
        MnistFile::expected_names()
    )]
    DirectoryNotFound { dir: PathBuf },

    #[error(
        "data folder {} is not a directory. Give the folder that contains the four IDX files: {}",
        dir.display(),
        MnistFile::expected_names()
    )]
    NotADirectory { dir: PathBuf },

    #[error(
        "data folder {} is missing {}. It must contain the four IDX files: {}",
        dir.display(),
        missing.join(", "),
        MnistFile::expected_names()
    )]
    FilesMissing { dir: PathBuf, missing: Vec<String> },

    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "failed to decompress gzip file {}: the gzip stream is corrupt or truncated. Download the file again",
        path.display()
    )]
    Decompress {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("IDX file {} is empty (0 bytes). Download the file again", path.display())]
    EmptyFile { path: PathBuf },

    #[error(
        "IDX file {} is too short for an IDX header: its uncompressed data has {actual} bytes, but the header of an IDX {kind} file needs {expected}. Download the file again",
        path.display()
    )]
    HeaderTruncated {
        path: PathBuf,
        kind: IdxKind,
        expected: usize,
        actual: usize,
    },

    #[error(
        "IDX file {} has magic number {}, expected 0x{expected:08x} for an IDX {kind} file (unsigned bytes, {}).{}",
        path.display(),
        describe_magic(*found),
        counted(kind.dimensions().into(), "dimension"),
        MagicHint::text(*hint, path)
    )]
    WrongMagic {
        path: PathBuf,
        kind: IdxKind,
        found: u32,
        expected: u32,
        hint: Option<MagicHint>,
    },

    #[error(
        "IDX file {} contains {rows}x{columns} images, but MNIST and Fashion-MNIST images are 28x28. Use the original image file, or set data.source to idx for IDX files of another size",
        path.display()
    )]
    WrongImageSize {
        path: PathBuf,
        rows: u32,
        columns: u32,
    },

    #[error(
        "IDX file {} is truncated: its header declares {count} {}, so its uncompressed data should be {expected} bytes long including the header, but it is {actual} bytes. Download the file again",
        path.display(),
        kind.item_plural()
    )]
    PayloadTruncated {
        path: PathBuf,
        kind: IdxKind,
        count: u32,
        expected: u64,
        actual: u64,
    },

    #[error(
        "IDX file {} has {} after its last item: its header declares {count} {}, so its uncompressed data should be {expected} bytes long including the header, but it is {actual} bytes. Download the file again",
        path.display(),
        counted(actual - expected, "byte"),
        kind.item_plural()
    )]
    TrailingBytes {
        path: PathBuf,
        kind: IdxKind,
        count: u32,
        expected: u64,
        actual: u64,
    },

    #[error(
        "{} has no {split}*.parquet file; put the Parquet files of each split there, named \
         train*.parquet and test*.parquet as the Hugging Face datasets layout does",
        dir.display()
    )]
    ParquetMissing { dir: PathBuf, split: &'static str },

    #[error(
        "{} has no {split}/ folder; an image folder has train/<class>/ and test/<class>/ \
         subfolders of PNG or JPEG files",
        dir.display()
    )]
    FolderMissing { dir: PathBuf, split: &'static str },

    #[error(
        "failed to download {dataset} file {file}: {}. Without network access, put the four \
         files (gzip or raw) in {} yourself: {expected}",
        failures.join("; "),
        dir.display()
    )]
    DownloadFailed {
        dataset: &'static str,
        file: String,
        failures: Vec<String>,
        dir: PathBuf,
        expected: String,
    },

    #[error("failed to read Parquet table {}: {problem}", path.display())]
    InvalidTable { path: PathBuf, problem: String },

    #[error(
        "Parquet table {} has no `{column}` column (its columns: {}); image tables need an \
         `image` column of PNG or JPEG bytes and an integer `label` column",
        path.display(),
        found.join(", ")
    )]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        found: Vec<String>,
    },

    #[error("{origin}: the image is null; remove the row or fill in its bytes")]
    NullImage { origin: String },

    #[error("{origin}: the label is null; every image needs a label")]
    NullLabel { origin: String },

    #[error("{origin}: the image bytes are not a PNG or JPEG image that can be decoded")]
    Undecodable {
        origin: String,
        #[source]
        source: image::ImageError,
    },

    #[error("{origin} contains no images; a dataset split needs at least one")]
    NoImages { origin: String },

    #[error(
        "{first} is {}x{} but {other} is {}x{}; give every image one size, or set data.resize \
         to [height, width] to resize them all",
        first_size[0], first_size[1], other_size[0], other_size[1]
    )]
    MixedImageSizes {
        first: String,
        first_size: [usize; 2],
        other: String,
        other_size: [usize; 2],
    },

    #[error(
        "the training images (such as {train}) have shape {train_shape:?} but the test images \
         (such as {test}) have shape {test_shape:?}; both splits need one shape \
         ([channels, height, width]), so set data.resize or convert the images"
    )]
    SplitShapesDiffer {
        train: String,
        train_shape: [usize; 3],
        test: String,
        test_shape: [usize; 3],
    },

    #[error(
        "data.validation_from_train is {requested}, but the training split has {available} images; hold out at least 1 and fewer than {available}"
    )]
    ValidationSize { requested: usize, available: usize },

    #[error(
        "class {class} of the {split} split has {available} images, fewer than the {requested} per class that data.selection per_class asks for; lower the limit to at most {available}"
    )]
    ClassTooSmall {
        split: irl_store::SplitName,
        class: i64,
        available: usize,
        requested: usize,
    },

    #[error(
        "training images {} are {}x{} but test images {} are {}x{}; both splits must have one image size",
        train.display(), train_size[0], train_size[1], test.display(), test_size[0], test_size[1]
    )]
    SplitSizesDiffer {
        train: PathBuf,
        train_size: [usize; 2],
        test: PathBuf,
        test_size: [usize; 2],
    },

    #[error(
        "IDX image file {} contains {images} images but label file {} contains {labels} labels. Both files must come from the same split of the same dataset",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },

    #[error(
        "IDX label file {} has label {value} at index {index}, but the labels of this dataset are 0 to {}. Download the file again, or set data.classes to the number of classes",
        path.display(),
        classes - 1
    )]
    LabelOutOfRange {
        path: PathBuf,
        index: usize,
        value: u8,
        classes: u8,
    },

    #[error(
        "{} is not the original {dataset} file {name}: the SHA-256 of its uncompressed bytes is {actual}, expected {expected}. Download the original file again",
        path.display()
    )]
    DigestMismatch {
        path: PathBuf,
        dataset: &'static str,
        name: &'static str,
        expected: &'static str,
        actual: String,
    },
}

/// Likely cause of a wrong magic number, guessed from the first bytes of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagicHint {
    /// The data starts with `<` (after whitespace), as an HTML error page saved by a failed
    /// download does.
    Html,
    /// The data starts with the gzip magic bytes 1f 8b after one decompression.
    GzipTwice,
    /// The magic number is the one of the other IDX kind (images for labels or the reverse).
    OtherKind(IdxKind),
}

impl MagicHint {
    fn text(hint: Option<MagicHint>, path: &std::path::Path) -> String {
        match hint {
            Some(MagicHint::Html) => " The file looks like an HTML page, which a failed download \
                 saves in place of the data. Download the file again"
                .to_string(),
            Some(MagicHint::GzipTwice) => format!(
                " The decompressed data starts with the gzip magic bytes 1f 8b, so the file was \
                 compressed twice. Decompress {} once with gunzip",
                path.display()
            ),
            Some(MagicHint::OtherKind(kind)) => format!(
                " That is the magic number of an IDX {kind} file, so the image and label files \
                 may be swapped"
            ),
            None => " The file is not an MNIST IDX file. Download the file again".to_string(),
        }
    }
}

/// Formats a magic number, with its data type and dimension count when it has the IDX layout
/// (two zero bytes, a type code, a dimension count).
fn describe_magic(magic: u32) -> String {
    let [zero_high, zero_low, type_code, dimensions] = magic.to_be_bytes();
    if zero_high != 0 || zero_low != 0 {
        return format!("0x{magic:08x}");
    }
    let data_type = match type_code {
        0x08 => "unsigned bytes",
        0x09 => "signed bytes",
        0x0b => "16-bit integers",
        0x0c => "32-bit integers",
        0x0d => "32-bit floats",
        0x0e => "64-bit floats",
        _ => return format!("0x{magic:08x} (unknown IDX data type 0x{type_code:02x})"),
    };
    format!(
        "0x{magic:08x} ({data_type}, {})",
        counted(dimensions.into(), "dimension")
    )
}

/// Formats `count` with `noun`, adding a plural "s" unless the count is one.
fn counted(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
