//! Safetensors encoding with a canonical header.
//!
//! The `safetensors` crate (0.8) serializes `__metadata__` from a `HashMap`, so the same tensors
//! can come out as different bytes from one process to the next. Objects are named by their
//! digest, so [`canonicalize_header`] rewrites the header with sorted keys before publishing.

use std::collections::BTreeMap;

use safetensors::{Dtype, View};

/// One tensor to serialize: name, dtype, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub struct TensorBytes {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

impl TensorBytes {
    /// Wraps `f32` values.
    pub fn f32(name: &str, shape: Vec<usize>, values: &[f32]) -> Self {
        Self {
            name: name.to_string(),
            dtype: Dtype::F32,
            shape,
            data: bytemuck::cast_slice(values).to_vec(),
        }
    }
}

impl View for &TensorBytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Serializes tensors and metadata into safetensors bytes with a canonical header.
pub fn serialize(
    tensors: &[TensorBytes],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let views = tensors.iter().map(|tensor| (tensor.name.clone(), tensor));
    let metadata = metadata.clone().into_iter().collect();
    let bytes = safetensors::serialize(views, Some(metadata))?;
    Ok(canonicalize_header(bytes))
}

/// Rewrites the JSON header of safetensors `bytes` with sorted keys, keeping the payload as is.
///
/// The header is re-padded with spaces to a multiple of 8 bytes, as the format requires. Bytes that
/// are not a valid safetensors file are returned unchanged.
pub fn canonicalize_header(bytes: Vec<u8>) -> Vec<u8> {
    let Some(length) = bytes.get(..8) else {
        return bytes;
    };
    let header_len = u64::from_le_bytes(length.try_into().expect("8 bytes")) as usize;
    let Some(header) = bytes.get(8..8 + header_len) else {
        return bytes;
    };
    // serde_json's default map is a BTreeMap, so re-encoding a parsed value sorts every key.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(header) else {
        return bytes;
    };
    let mut canonical = serde_json::to_vec(&value).expect("a parsed JSON value re-encodes");
    canonical.resize(canonical.len().div_ceil(8) * 8, b' ');

    let mut out = Vec::with_capacity(8 + canonical.len() + bytes.len() - 8 - header_len);
    out.extend_from_slice(&(canonical.len() as u64).to_le_bytes());
    out.extend_from_slice(&canonical);
    out.extend_from_slice(&bytes[8 + header_len..]);
    out
}
