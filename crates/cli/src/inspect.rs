//! `irl inspect`: what a safetensors or Parquet artifact holds.

use std::path::Path;

use anyhow::{Context, Result, bail};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Prints a safetensors file's metadata and tensors, or a Parquet file's schema and first rows.
pub fn print(path: &Path, rows: usize) -> Result<()> {
    let bytes = fs_err::read(path)?;
    if bytes.starts_with(b"PAR1") {
        return print_parquet(path, bytes, rows);
    }
    print_safetensors(path, &bytes)
}

fn print_safetensors(path: &Path, bytes: &[u8]) -> Result<()> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).with_context(|| {
        format!(
            "{} is neither a Parquet file (no PAR1 magic) nor a valid safetensors file",
            path.display()
        )
    })?;
    out!("{}: safetensors", path.display())?;
    if let Some(entries) = metadata.metadata() {
        let mut entries: Vec<_> = entries.iter().collect();
        entries.sort();
        for (key, value) in entries {
            out!("  metadata {key} = {value}")?;
        }
    }
    let mut tensors: Vec<_> = metadata.tensors().into_iter().collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, info) in tensors {
        out!("  {name:<32} {:?} {:?}", info.dtype, info.shape)?;
    }
    Ok(())
}

fn print_parquet(path: &Path, bytes: Vec<u8>, rows: usize) -> Result<()> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .with_context(|| format!("{} is not a valid Parquet file", path.display()))?;
    let total = builder.metadata().file_metadata().num_rows();
    out!("{}: Parquet, {total} rows", path.display())?;
    for field in builder.schema().fields() {
        out!(
            "  {:<20} {}{}",
            field.name(),
            field.data_type(),
            if field.is_nullable() {
                " (nullable)"
            } else {
                ""
            }
        )?;
    }
    let mut batches = Vec::new();
    let mut left = rows;
    for batch in builder.with_batch_size(rows.max(1)).build()? {
        if left == 0 {
            break;
        }
        let batch = batch?;
        let taken = batch.slice(0, left.min(batch.num_rows()));
        left -= taken.num_rows();
        batches.push(taken);
    }
    if batches.is_empty() && total > 0 && rows > 0 {
        bail!(
            "{} reports {total} rows but none could be read",
            path.display()
        );
    }
    out!("{}", arrow::util::pretty::pretty_format_batches(&batches)?)?;
    Ok(())
}
