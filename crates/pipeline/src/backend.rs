//! Compute backends, chosen at run time through a burn `Device`.

use burn::tensor::Device;

/// A backend and device, as given by `--backend` and `--device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// burn-flex: pure Rust on the CPU, needs no system libraries.
    Flex,
    /// burn-tch: LibTorch from the PyTorch wheel, on the CPU or a CUDA GPU. Only in builds
    /// with the `tch` feature.
    Tch(TchDevice),
}

/// Device of the LibTorch backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TchDevice {
    Cpu,
    /// CUDA GPU by index.
    Cuda(usize),
}

/// A backend or device that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("unknown backend {0:?}; the backends are flex and tch")]
    UnknownBackend(String),
    #[error(
        "backend {backend} runs only on --device cpu, found {device:?}; a GPU needs --backend \
         tch and a build with it (`make build-tch`)"
    )]
    UnsupportedDevice { backend: String, device: String },
    #[error("invalid --device {0:?} for backend tch; use cpu or cuda:N, such as cuda:0")]
    InvalidTchDevice(String),
    #[error(
        "this irl binary was built without LibTorch, so --backend tch is unavailable; build it \
         with `make build-tch` (cargo feature `tch`, PyTorch 2.9.0 in .venv), or use --backend \
         flex"
    )]
    TchNotBuilt,
    #[error(
        "--device {device} asks for CUDA GPU {index}, but LibTorch finds {found} CUDA GPU(s) on \
         this machine; {}. A CPU-only PyTorch wheel or a missing NVIDIA driver also reads as \
         zero GPUs",
        gpu_choices(*found)
    )]
    NoSuchGpu {
        device: String,
        index: usize,
        found: usize,
    },
}

/// Lists the devices to choose from when the requested GPU is missing.
fn gpu_choices(found: usize) -> String {
    match found {
        0 => "use --device cpu".to_string(),
        1 => "use --device cuda:0 or cpu".to_string(),
        _ => format!("use --device cuda:0 to cuda:{} or cpu", found - 1),
    }
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
            "tch" => {
                let parsed = TchDevice::parse(device)?;
                check_tch(device, parsed)?;
                Ok(Backend::Tch(parsed))
            }
            other => Err(BackendError::UnknownBackend(other.to_string())),
        }
    }

    /// Backend and device kind as recorded in cache keys, such as `flex/cpu` or `tch/cuda`.
    /// The GPU index is left out, so a stage that ran on one GPU is reused on another.
    pub fn key(&self) -> String {
        match self {
            Backend::Flex => "flex/cpu".to_string(),
            Backend::Tch(TchDevice::Cpu) => "tch/cpu".to_string(),
            Backend::Tch(TchDevice::Cuda(_)) => "tch/cuda".to_string(),
        }
    }

    /// Parses a key written by [`Backend::key`]; a CUDA key maps to GPU 0.
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "flex/cpu" => Some(Backend::Flex),
            "tch/cpu" => Some(Backend::Tch(TchDevice::Cpu)),
            "tch/cuda" => Some(Backend::Tch(TchDevice::Cuda(0))),
            _ => None,
        }
    }

    /// Returns the burn device to compute on.
    pub fn device(&self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            Backend::Tch(device) => tch_device(*device),
        }
    }
}

impl TchDevice {
    /// Parses `cpu` or `cuda:N`.
    fn parse(device: &str) -> Result<Self, BackendError> {
        if device == "cpu" {
            return Ok(TchDevice::Cpu);
        }
        device
            .strip_prefix("cuda:")
            .and_then(|index| index.parse().ok())
            .map(TchDevice::Cuda)
            .ok_or_else(|| BackendError::InvalidTchDevice(device.to_string()))
    }
}

/// Checks that this build has LibTorch and that the CUDA GPU asked for exists.
#[cfg(feature = "tch")]
fn check_tch(device: &str, parsed: TchDevice) -> Result<(), BackendError> {
    if let TchDevice::Cuda(index) = parsed {
        let found = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
        if index >= found {
            return Err(BackendError::NoSuchGpu {
                device: device.to_string(),
                index,
                found,
            });
        }
    }
    Ok(())
}

#[cfg(not(feature = "tch"))]
fn check_tch(_device: &str, _parsed: TchDevice) -> Result<(), BackendError> {
    Err(BackendError::TchNotBuilt)
}

// burn-tch is deprecated upstream; it stays as the fast CPU path and the GPU path.
#[cfg(feature = "tch")]
#[allow(deprecated)]
fn tch_device(device: TchDevice) -> Device {
    match device {
        TchDevice::Cpu => Device::libtorch(),
        TchDevice::Cuda(index) => Device::libtorch_cuda(index),
    }
}

// A build without the feature meets a tch backend only when refreshing the report of a run made
// on tch, and refreshing computes nothing on a device.
#[cfg(not(feature = "tch"))]
fn tch_device(_device: TchDevice) -> Device {
    unreachable!("a build without the tch feature computes nothing on a tch backend")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tch_devices_parse() {
        assert_eq!(TchDevice::parse("cpu").unwrap(), TchDevice::Cpu);
        assert_eq!(TchDevice::parse("cuda:1").unwrap(), TchDevice::Cuda(1));
        for invalid in ["cuda", "cuda:x", "gpu:0", ""] {
            assert!(
                matches!(
                    TchDevice::parse(invalid),
                    Err(BackendError::InvalidTchDevice(_))
                ),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn keys_name_the_device_kind() {
        assert_eq!(Backend::Flex.key(), "flex/cpu");
        assert_eq!(Backend::Tch(TchDevice::Cuda(3)).key(), "tch/cuda");
        for backend in [Backend::Flex, Backend::Tch(TchDevice::Cpu)] {
            assert_eq!(Backend::from_key(&backend.key()), Some(backend));
        }
        assert_eq!(Backend::from_key("wgpu/cpu"), None);
    }

    #[test]
    fn gpu_choices_match_the_count() {
        assert_eq!(gpu_choices(0), "use --device cpu");
        assert_eq!(gpu_choices(1), "use --device cuda:0 or cpu");
        assert_eq!(gpu_choices(4), "use --device cuda:0 to cuda:3 or cpu");
    }

    #[cfg(not(feature = "tch"))]
    #[test]
    fn tch_needs_the_feature() {
        assert!(matches!(
            Backend::parse("tch", "cpu"),
            Err(BackendError::TchNotBuilt)
        ));
    }

    #[cfg(feature = "tch")]
    #[test]
    fn missing_gpu_is_reported() {
        let found = usize::try_from(tch::Cuda::device_count()).unwrap();
        let device = format!("cuda:{found}");
        let error = Backend::parse("tch", &device).unwrap_err();
        assert!(matches!(error, BackendError::NoSuchGpu { index, .. } if index == found));
        assert!(error.to_string().contains("--device cpu"), "{error}");
    }
}
