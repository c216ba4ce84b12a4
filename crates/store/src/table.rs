//! Parquet encoding of the store's tables (metrics, training logs, labels, manifests).
//!
//! Tables use plain Arrow types and carry page statistics, so pyarrow, DuckDB and polars read
//! them with no help.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// A table that cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("failed to encode or decode Parquet table {name}")]
    Parquet {
        name: String,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("failed to build Arrow table {name}")]
    Arrow {
        name: String,
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// Encodes record batches that share one schema as Parquet bytes; `name` labels errors.
pub fn to_parquet(
    name: &str,
    schema: Arc<Schema>,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, TableError> {
    let wrap = |source| TableError::Parquet {
        name: name.to_string(),
        source,
    };
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(concat!("irl ", env!("CARGO_PKG_VERSION")).to_string())
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, Some(properties)).map_err(wrap)?;
    for batch in batches {
        writer.write(batch).map_err(wrap)?;
    }
    writer.close().map_err(wrap)?;
    Ok(bytes)
}

/// Decodes Parquet bytes into record batches; `name` labels errors.
pub fn from_parquet(name: &str, bytes: Vec<u8>) -> Result<Vec<RecordBatch>, TableError> {
    let wrap = |source| TableError::Parquet {
        name: name.to_string(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(wrap)?
        .build()
        .map_err(wrap)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TableError::Arrow {
            name: name.to_string(),
            source,
        })
}

/// Concatenates Parquet tables that share one schema into one table; `name` labels errors.
pub fn concatenate(name: &str, parts: Vec<Vec<u8>>) -> Result<Vec<u8>, TableError> {
    let mut batches = Vec::new();
    let mut schema = None;
    for part in parts {
        for batch in from_parquet(name, part)? {
            if let Some(schema) = &schema
                && batch.schema() != *schema
            {
                return Err(TableError::Arrow {
                    name: name.to_string(),
                    source: arrow::error::ArrowError::SchemaError(
                        "the tables to concatenate have different columns".into(),
                    ),
                });
            }
            schema.get_or_insert_with(|| batch.schema());
            batches.push(batch);
        }
    }
    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
    to_parquet(name, schema, &batches)
}
