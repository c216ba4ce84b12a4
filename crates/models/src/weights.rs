//! Model weights as safetensors, named by module path (`conv1.weight`, `norm1.running_mean`).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};

/// Weights that cannot be encoded, or bytes that do not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("failed to encode model weights as safetensors: {0}")]
    Encode(String),
    #[error("failed to load model weights from {origin}: {message}")]
    Load { origin: String, message: String },
}

/// Encodes every parameter and running statistic of `model` as safetensors bytes, with
/// `metadata` in the header. The header is canonical, so equal weights give equal bytes.
pub fn to_safetensors<M: Module + ModuleSnapshot>(
    model: &M,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, WeightsError> {
    // The store's own metadata carries the burn version, and ours names what produced the weights.
    let mut store = SafetensorsStore::from_bytes(None).clear_metadata();
    for (key, value) in metadata {
        store = store.metadata(key.clone(), value.clone());
    }
    model
        .save_into(&mut store)
        .map_err(|error| WeightsError::Encode(error.to_string()))?;
    let bytes = store
        .get_bytes()
        .map_err(|error| WeightsError::Encode(error.to_string()))?;
    Ok(irl_store::safetensors_io::canonicalize_header(bytes))
}

/// Loads weights written by [`to_safetensors`] into `model`; every tensor must match a
/// parameter of the same path and shape. `origin` names the weights in errors.
pub fn load_safetensors<M: Module + ModuleSnapshot>(
    mut model: M,
    bytes: Vec<u8>,
    origin: &str,
) -> Result<M, WeightsError> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).allow_partial(false);
    let result = model
        .load_from(&mut store)
        .map_err(|error| WeightsError::Load {
            origin: origin.to_string(),
            message: error.to_string(),
        })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(WeightsError::Load {
            origin: origin.to_string(),
            message: format!(
                "missing tensors {:?}, errors {:?}",
                result.missing, result.errors
            ),
        });
    }
    Ok(model)
}
