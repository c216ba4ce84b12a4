//! Which model a round trains, with the settings that decide its loss.

use serde::{Deserialize, Serialize};

use crate::{ConvAutoencoderConfig, ModelConfigError, ReconstructionTerm};

/// A model of the loop: the autoencoder, or the VAE with its reconstruction term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// [`crate::ConvAutoencoder`], trained on the squared error summed over the pixels.
    ConvAe { architecture: ConvAutoencoderConfig },
    /// [`crate::ConvVae`], trained on [`crate::vae_loss`].
    Vae {
        architecture: ConvAutoencoderConfig,
        reconstruction_term: ReconstructionTerm,
    },
}

impl ModelSpec {
    /// Returns the shared convolutional architecture.
    pub fn architecture(&self) -> &ConvAutoencoderConfig {
        match self {
            ModelSpec::ConvAe { architecture } | ModelSpec::Vae { architecture, .. } => {
                architecture
            }
        }
    }

    /// Name as written in the pipeline file and in the weights' metadata.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ModelSpec::ConvAe { .. } => "conv_ae",
            ModelSpec::Vae { .. } => "vae",
        }
    }

    /// Checks that the model can be built for images of `image_shape`.
    pub fn validate(&self, image_shape: [usize; 3]) -> Result<(), ModelConfigError> {
        self.architecture().validate(image_shape)
    }
}
