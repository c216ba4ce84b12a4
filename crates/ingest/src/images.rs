//! Images stored as files: Parquet tables in the Hugging Face datasets layout, and image folders
//! with one subfolder per class.
//!
//! Both decode PNG or JPEG bytes with the `image` crate and convert pixels to `f32` in [0, 1]
//! as IDX bytes are converted (value / 255), so the same images give the same dataset whatever
//! form they come in. A split is grayscale when every image in it is grayscale, and RGB
//! otherwise. All images must have one size unless `data.resize` gives one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BinaryArray, Int64Array, LargeBinaryArray, StructArray};
use arrow::datatypes::DataType;
use image::DynamicImage;
use image::imageops::FilterType;
use irl_store::Split;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use sha2::{Digest, Sha256};

use crate::card::SourceFile;
use crate::error::IngestError;

/// Decoded images of one split with their labels, before conversion to a store split.
#[derive(Default)]
pub(crate) struct DecodedSplit {
    pub images: Vec<DynamicImage>,
    pub labels: Vec<i64>,
    /// Origin of each image, for messages: a file, or a table and row.
    pub origins: Vec<String>,
    /// The files read, for the dataset card.
    pub sources: Vec<SourceFile>,
}

/// Describes a file read whole: its name relative to `root`, size and SHA-256.
fn source_file(root: &Path, path: &Path, bytes: &[u8]) -> SourceFile {
    let name = path.strip_prefix(root).unwrap_or(path);
    SourceFile {
        name: name.display().to_string(),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        verified: false,
    }
}

impl DecodedSplit {
    /// Converts the images to one store split of shape [C, H, W]: grayscale when every image
    /// is, RGB otherwise, each resized to `resize` ([height, width]) when given.
    pub fn into_split(self, resize: Option<[u32; 2]>) -> Result<Split, IngestError> {
        let Some(first) = self.images.first() else {
            return Err(IngestError::NoImages {
                origin: "the split".into(),
            });
        };
        let grayscale = self
            .images
            .iter()
            .all(|image| image.color().channel_count() <= 2);
        let channels = if grayscale { 1 } else { 3 };
        let [height, width] = resize.unwrap_or([first.height(), first.width()]);
        let (height, width) = (height as usize, width as usize);
        let mut values = Vec::with_capacity(self.images.len() * channels * height * width);
        for (image, origin) in self.images.iter().zip(&self.origins) {
            let image = match resize {
                Some([h, w]) if (image.height(), image.width()) != (h, w) => {
                    image.resize_exact(w, h, FilterType::Triangle)
                }
                _ => image.clone(),
            };
            if (image.height() as usize, image.width() as usize) != (height, width) {
                return Err(IngestError::MixedImageSizes {
                    first: self.origins[0].clone(),
                    first_size: [height, width],
                    other: origin.clone(),
                    other_size: [image.height() as usize, image.width() as usize],
                });
            }
            let plane = height * width;
            if grayscale {
                values.extend(
                    image
                        .to_luma8()
                        .as_raw()
                        .iter()
                        .map(|v| f32::from(*v) / 255.0),
                );
            } else {
                // Channel-first: all red values, then green, then blue.
                let rgb = image.to_rgb8();
                let raw = rgb.as_raw();
                for channel in 0..3 {
                    values.extend((0..plane).map(|p| f32::from(raw[p * 3 + channel]) / 255.0));
                }
            }
        }
        Ok(Split {
            images: values,
            labels: self.labels,
            image_shape: [channels, height, width],
        })
    }
}

/// Reads the Parquet files of one split, in order: an `image` column that is a struct with a
/// `bytes` field (or plain binary) of PNG or JPEG data, and an integer `label` column.
pub(crate) fn read_parquet_split(
    root: &Path,
    paths: &[PathBuf],
) -> Result<DecodedSplit, IngestError> {
    let mut split = DecodedSplit::default();
    for path in paths {
        let read_error = |source: std::io::Error| IngestError::Read {
            path: path.clone(),
            source,
        };
        let invalid = |problem: String| IngestError::InvalidTable {
            path: path.clone(),
            problem,
        };
        let contents = bytes::Bytes::from(fs_err::read(path).map_err(read_error)?);
        split.sources.push(source_file(root, path, &contents));
        let builder = ParquetRecordBatchReaderBuilder::try_new(contents)
            .map_err(|error| invalid(error.to_string()))?;
        let schema = builder.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        for required in ["image", "label"] {
            if schema.field_with_name(required).is_err() {
                return Err(IngestError::MissingColumn {
                    path: path.clone(),
                    column: required,
                    found: names.clone(),
                });
            }
        }
        let reader = builder
            .build()
            .map_err(|error| invalid(error.to_string()))?;
        let mut row = 0usize;
        for batch in reader {
            let batch = batch.map_err(|error| invalid(error.to_string()))?;
            let image = batch.column_by_name("image").expect("checked above");
            let bytes = image_bytes(image).map_err(invalid)?;
            let labels = batch.column_by_name("label").expect("checked above");
            let labels = arrow::compute::cast(labels, &DataType::Int64)
                .map_err(|error| invalid(format!("the label column: {error}")))?;
            let labels = labels
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("cast to Int64");
            for index in 0..batch.num_rows() {
                let origin = format!("{} row {row}", path.display());
                let Some(data) = bytes(index) else {
                    return Err(IngestError::NullImage { origin });
                };
                if labels.is_null(index) {
                    return Err(IngestError::NullLabel { origin });
                }
                let image =
                    image::load_from_memory(data).map_err(|source| IngestError::Undecodable {
                        origin: origin.clone(),
                        source,
                    })?;
                split.images.push(image);
                split.labels.push(labels.value(index));
                split.origins.push(origin);
                row += 1;
            }
        }
        if row == 0 {
            return Err(IngestError::NoImages {
                origin: path.display().to_string(),
            });
        }
    }
    Ok(split)
}

/// Returns a reader of the encoded bytes of each row of an `image` column: a struct whose
/// `bytes` field is binary, or a binary column. A null row gives `None`.
fn image_bytes<'a>(
    column: &'a dyn Array,
) -> Result<impl Fn(usize) -> Option<&'a [u8]> + 'a, String> {
    let (values, outer): (&dyn Array, Option<&StructArray>) = match column.data_type() {
        DataType::Struct(_) => {
            let strukt = column
                .as_any()
                .downcast_ref::<StructArray>()
                .expect("struct");
            let bytes = strukt.column_by_name("bytes").ok_or_else(|| {
                "the image column is a struct without a `bytes` field".to_string()
            })?;
            (bytes.as_ref(), Some(strukt))
        }
        _ => (column, None),
    };
    let small = values.as_any().downcast_ref::<BinaryArray>();
    let large = values.as_any().downcast_ref::<LargeBinaryArray>();
    if small.is_none() && large.is_none() {
        return Err(format!(
            "the image bytes have type {}, expected binary",
            values.data_type()
        ));
    }
    Ok(move |row: usize| {
        if outer.is_some_and(|strukt| strukt.is_null(row)) {
            return None;
        }
        match (small, large) {
            (Some(array), _) if array.is_valid(row) => Some(array.value(row)),
            (_, Some(array)) if array.is_valid(row) => Some(array.value(row)),
            _ => None,
        }
    })
}

/// The class folders of an image folder split: label by class name.
///
/// When every name is a whole number, that number is the label (folders `0` to `9` are digits
/// 0 to 9); otherwise labels number the names in sorted order, as torchvision's ImageFolder does.
pub(crate) fn class_labels(names: &[String]) -> BTreeMap<String, i64> {
    let numeric: Option<Vec<i64>> = names.iter().map(|name| name.parse().ok()).collect();
    match numeric {
        Some(values) => names.iter().cloned().zip(values).collect(),
        None => {
            let mut sorted = names.to_vec();
            sorted.sort();
            sorted.into_iter().zip(0..).collect()
        }
    }
}

/// Reads one split folder: `dir/<class>/<image file>`. Images are ordered by file name across
/// classes (then by class), so files named by their index keep the order of the original data.
pub(crate) fn read_folder_split(
    root: &Path,
    dir: &Path,
    labels: &BTreeMap<String, i64>,
) -> Result<DecodedSplit, IngestError> {
    let mut files: Vec<(String, String, PathBuf)> = Vec::new();
    for class in labels.keys() {
        let class_dir = dir.join(class);
        if !class_dir.is_dir() {
            continue;
        }
        for entry in read_dir(&class_dir)? {
            if entry.is_file() {
                let name = entry.file_name().map(|n| n.to_string_lossy().into_owned());
                files.push((name.unwrap_or_default(), class.clone(), entry));
            }
        }
    }
    if files.is_empty() {
        return Err(IngestError::NoImages {
            origin: dir.display().to_string(),
        });
    }
    files.sort();
    let mut split = DecodedSplit::default();
    for (_, class, path) in files {
        let bytes = fs_err::read(&path).map_err(|source| IngestError::Read {
            path: path.clone(),
            source,
        })?;
        split.sources.push(source_file(root, &path, &bytes));
        let origin = path.display().to_string();
        let image = image::load_from_memory(&bytes).map_err(|source| IngestError::Undecodable {
            origin: origin.clone(),
            source,
        })?;
        split.images.push(image);
        split.labels.push(labels[&class]);
        split.origins.push(origin);
    }
    Ok(split)
}

/// Lists the entries of `dir`, sorted.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, IngestError> {
    let read_error = |source| IngestError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(read_error)? {
        entries.push(entry.map_err(read_error)?.path());
    }
    entries.sort();
    Ok(entries)
}
