//! The labels table: one row per image of the round-0 dataset, with its split, its index in
//! that split and its label.
//!
//! The table lets reports and notebooks count and join labels without loading the images.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use irl_store::table::{self, TableError};
use irl_store::{Dataset, SplitName};

/// Name of the table in errors.
const TABLE_NAME: &str = "labels";

/// Encodes the labels of `dataset` as a Parquet table, train rows first, then test rows.
///
/// Columns: `index` (UInt32, position within the split), `split` (Utf8, `train` or `test`)
/// and `label` (Int64).
pub fn labels_table(dataset: &Dataset) -> Result<Vec<u8>, TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("index", DataType::UInt32, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("label", DataType::Int64, false),
    ]));

    let mut indices = Vec::new();
    let mut splits = Vec::new();
    let mut labels = Vec::new();
    for name in SplitName::ALL {
        let split = dataset.split(name);
        for (index, &label) in split.labels.iter().enumerate() {
            let index = u32::try_from(index).map_err(|_| TableError::Arrow {
                name: TABLE_NAME.to_string(),
                source: ArrowError::InvalidArgumentError(format!(
                    "{name} split has more images than the UInt32 index column can number"
                )),
            })?;
            indices.push(index);
            splits.push(name.as_str());
            labels.push(label);
        }
    }

    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(indices)),
        Arc::new(StringArray::from(splits)),
        Arc::new(Int64Array::from(labels)),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|source| TableError::Arrow {
            name: TABLE_NAME.to_string(),
            source,
        })?;
    table::to_parquet(TABLE_NAME, schema, &[batch])
}
