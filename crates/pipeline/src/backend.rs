//! Compute backends, chosen at run time through a burn `Device`.

use burn::tensor::Device;

/// A backend and device, as given by `--backend` and `--device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// burn-flex: pure Rust on the CPU, needs no system libraries.
    Flex,
}

/// A backend or device that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("unknown backend {0:?}; this build supports: flex")]
    UnknownBackend(String),
    #[error("backend {backend} runs only on --device cpu, found {device:?}")]
    UnsupportedDevice { backend: String, device: String },
}

impl Backend {
    /// Parses `--backend` and `--device`.
    pub fn parse(backend: &str, device: &str) -> Result<Self, BackendError> {
        match backend {
            "flex" if device == "cpu" => Ok(Backend::Flex),
            "flex" => Err(BackendError::UnsupportedDevice {
                backend: backend.to_string(),
                device: device.to_string(),
            }),
            other => Err(BackendError::UnknownBackend(other.to_string())),
        }
    }

    /// Backend and device kind as recorded in cache keys, such as `flex/cpu`.
    pub fn key(&self) -> String {
        match self {
            Backend::Flex => "flex/cpu".to_string(),
        }
    }

    /// Returns the burn device to compute on.
    pub fn device(&self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
        }
    }
}
