//! The dataset card: what the round-0 dataset contains and where it came from, as two Parquet
//! tables.
//!
//! `dataset-card.parquet` has one row per split and class: the class count, the split's image
//! count and shape, and the range and mean of its pixel values. `source-files.parquet` has one
//! row per file read: its name, size on disk, and the SHA-256 of its bytes (decompressed first
//! for gzip IDX files).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch};
use arrow::array::{StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use irl_store::table::{self, TableError};
use irl_store::{Dataset, SplitName};

/// One file that the dataset was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// File name as found, such as `train-images-idx3-ubyte.gz`.
    pub name: String,
    /// Size on disk in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, decompressed first for gzip IDX files, in lowercase hex.
    pub sha256: String,
    /// True when the digest was checked against a published one.
    pub verified: bool,
}

fn arrow_error(name: &str) -> impl FnOnce(arrow::error::ArrowError) -> TableError + '_ {
    move |source| TableError::Arrow {
        name: name.to_string(),
        source,
    }
}

/// Encodes the card of `dataset`: one row per split and class, classes in increasing order.
pub fn card_table(dataset: &Dataset) -> Result<Vec<u8>, TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("split", DataType::Utf8, false),
        Field::new("label", DataType::Int64, false),
        Field::new("images", DataType::UInt64, false),
        Field::new("split_images", DataType::UInt64, false),
        Field::new("channels", DataType::UInt64, false),
        Field::new("height", DataType::UInt64, false),
        Field::new("width", DataType::UInt64, false),
        Field::new("value_min", DataType::Float64, false),
        Field::new("value_max", DataType::Float64, false),
        Field::new("value_mean", DataType::Float64, false),
    ]));
    let (mut split_names, mut labels, mut counts, mut totals) = (vec![], vec![], vec![], vec![]);
    let (mut channels, mut heights, mut widths) = (vec![], vec![], vec![]);
    let (mut minima, mut maxima, mut means) = (vec![], vec![], vec![]);
    for name in SplitName::ALL {
        let split = dataset.split(name);
        let mut per_class: BTreeMap<i64, u64> = BTreeMap::new();
        for label in &split.labels {
            *per_class.entry(*label).or_default() += 1;
        }
        let (min, max, sum) = split.images.iter().fold(
            (f64::INFINITY, f64::NEG_INFINITY, 0.0),
            |(min, max, sum), value| {
                let value = f64::from(*value);
                (min.min(value), max.max(value), sum + value)
            },
        );
        let mean = sum / split.images.len().max(1) as f64;
        let [c, h, w] = split.image_shape;
        for (label, count) in per_class {
            split_names.push(name.as_str());
            labels.push(label);
            counts.push(count);
            totals.push(split.len() as u64);
            channels.push(c as u64);
            heights.push(h as u64);
            widths.push(w as u64);
            minima.push(min);
            maxima.push(max);
            means.push(mean);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(split_names)),
        Arc::new(Int64Array::from(labels)),
        Arc::new(UInt64Array::from(counts)),
        Arc::new(UInt64Array::from(totals)),
        Arc::new(UInt64Array::from(channels)),
        Arc::new(UInt64Array::from(heights)),
        Arc::new(UInt64Array::from(widths)),
        Arc::new(Float64Array::from(minima)),
        Arc::new(Float64Array::from(maxima)),
        Arc::new(Float64Array::from(means)),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error("dataset card"))?;
    table::to_parquet("dataset card", schema, &[batch])
}

/// Encodes the source files: `name`, `bytes`, `sha256`, `verified`.
pub fn sources_table(sources: &[SourceFile]) -> Result<Vec<u8>, TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("verified", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            sources.iter().map(|s| &s.name),
        )),
        Arc::new(UInt64Array::from_iter_values(
            sources.iter().map(|s| s.bytes),
        )),
        Arc::new(StringArray::from_iter_values(
            sources.iter().map(|s| &s.sha256),
        )),
        Arc::new(BooleanArray::from_iter(
            sources.iter().map(|s| Some(s.verified)),
        )),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(arrow_error("source files"))?;
    table::to_parquet("source files", schema, &[batch])
}
