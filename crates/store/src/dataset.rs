//! The dataset artifact: the images and labels of one round, train and test split.
//!
//! One safetensors file contains four tensors, one per field and split, never one per sample:
//!
//! | tensor         | dtype | shape          | values                     |
//! |----------------|-------|----------------|----------------------------|
//! | `train.images` | F32   | [N, C, H, W]   | pixel intensities, [0, 1]  |
//! | `train.labels` | I64   | [N]            | class index                |
//! | `test.images`  | F32   | [M, C, H, W]   |                            |
//! | `test.labels`  | I64   | [M]            |                            |
//!
//! `__metadata__` says which stage and round produced the file.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::safetensors_io::{self, TensorBytes};

/// Name of a dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SplitName {
    #[default]
    Train,
    Test,
}

impl SplitName {
    /// Both splits, in the order they are written.
    pub const ALL: [SplitName; 2] = [SplitName::Train, SplitName::Test];

    /// Lowercase name used in tensor names and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Test => "test",
        }
    }
}

impl std::fmt::Display for SplitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Images and labels of one split, images stored row-major as [N, C, H, W].
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    /// Shape of one image: [channels, height, width].
    pub image_shape: [usize; 3],
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split contains no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of values in one image (C * H * W).
    pub fn image_len(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// Pixels of image `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        let len = self.image_len();
        &self.images[index * len..(index + 1) * len]
    }

    /// Mean over the images of the squared distance between `images` (row-major, this split's
    /// shape) and this split's images, summed over each image's values: pythae's AE loss.
    pub fn mean_image_squared_distance(&self, images: &[f32]) -> f64 {
        let len = self.image_len().max(1);
        let total: f64 = images
            .chunks(len)
            .zip(self.images.chunks(len))
            .map(|(output, input)| {
                output
                    .iter()
                    .zip(input)
                    .map(|(a, b)| {
                        let difference = f64::from(*a) - f64::from(*b);
                        difference * difference
                    })
                    .sum::<f64>()
            })
            .sum();
        total / self.len().max(1) as f64
    }

    /// Shape of the image tensor: [N, C, H, W].
    pub fn tensor_shape(&self) -> [usize; 4] {
        let [c, h, w] = self.image_shape;
        [self.len(), c, h, w]
    }
}

/// Train and test split of one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub train: Split,
    pub test: Split,
}

/// A dataset file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("failed to read dataset file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid safetensors in dataset file {path}")]
    Format {
        path: String,
        #[source]
        source: safetensors::SafeTensorError,
    },
    #[error("dataset file {path} is invalid: {problem}")]
    Invalid { path: String, problem: String },
}

impl Dataset {
    /// Returns the split named `name`.
    pub fn split(&self, name: SplitName) -> &Split {
        match name {
            SplitName::Train => &self.train,
            SplitName::Test => &self.test,
        }
    }

    /// Encodes the dataset as safetensors bytes, with `metadata` in the header.
    pub fn to_safetensors(
        &self,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, safetensors::SafeTensorError> {
        let mut tensors = Vec::new();
        for name in SplitName::ALL {
            let split = self.split(name);
            tensors.push(TensorBytes::f32(
                &format!("{name}.images"),
                split.tensor_shape().to_vec(),
                &split.images,
            ));
            tensors.push(TensorBytes {
                name: format!("{name}.labels"),
                dtype: Dtype::I64,
                shape: vec![split.len()],
                data: bytemuck::cast_slice(&split.labels).to_vec(),
            });
        }
        safetensors_io::serialize(&tensors, metadata)
    }

    /// Reads a dataset file written by [`Dataset::to_safetensors`].
    pub fn read(path: &Path) -> Result<Self, DatasetError> {
        let shown = path.display().to_string();
        let bytes = fs_err::read(path).map_err(|source| DatasetError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_safetensors(&bytes, &shown)
    }

    /// Decodes dataset bytes; `origin` names the file in errors.
    pub fn from_safetensors(bytes: &[u8], origin: &str) -> Result<Self, DatasetError> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|source| DatasetError::Format {
            path: origin.to_string(),
            source,
        })?;
        let invalid = |problem: String| DatasetError::Invalid {
            path: origin.to_string(),
            problem,
        };

        let mut splits = Vec::new();
        for name in SplitName::ALL {
            let images = tensors
                .tensor(&format!("{name}.images"))
                .map_err(|_| invalid(format!("tensor {name}.images is missing")))?;
            let labels = tensors
                .tensor(&format!("{name}.labels"))
                .map_err(|_| invalid(format!("tensor {name}.labels is missing")))?;
            if images.dtype() != Dtype::F32 || images.shape().len() != 4 {
                return Err(invalid(format!(
                    "{name}.images must be F32 [N, C, H, W], found {:?} {:?}",
                    images.dtype(),
                    images.shape()
                )));
            }
            if labels.dtype() != Dtype::I64 || labels.shape() != [images.shape()[0]] {
                return Err(invalid(format!(
                    "{name}.labels must be I64 [{}], found {:?} {:?}",
                    images.shape()[0],
                    labels.dtype(),
                    labels.shape()
                )));
            }
            let shape = images.shape();
            splits.push(Split {
                images: bytemuck::pod_collect_to_vec(images.data()),
                labels: bytemuck::pod_collect_to_vec(labels.data()),
                image_shape: [shape[1], shape[2], shape[3]],
            });
        }
        let test = splits.pop().expect("two splits");
        let train = splits.pop().expect("two splits");
        Ok(Self { train, test })
    }
}
