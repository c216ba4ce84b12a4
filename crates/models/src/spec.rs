//! Which model a round trains, with the settings that decide its loss.

use serde::{Deserialize, Serialize};

use crate::{ConvAutoencoderConfig, ModelConfigError, ReconstructionTerm};

/// A model of the loop: the autoencoder, the VAE with its reconstruction term, or PCA.
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
    /// [`crate::pca::Pca`] with this many components, fitted in closed form.
    Pca { components: usize },
}

impl ModelSpec {
    /// Returns the shared convolutional architecture; PCA has none.
    pub fn architecture(&self) -> Option<&ConvAutoencoderConfig> {
        match self {
            ModelSpec::ConvAe { architecture } | ModelSpec::Vae { architecture, .. } => {
                Some(architecture)
            }
            ModelSpec::Pca { .. } => None,
        }
    }

    /// Name as written in the pipeline file and in the weights' metadata.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ModelSpec::ConvAe { .. } => "conv_ae",
            ModelSpec::Vae { .. } => "vae",
            ModelSpec::Pca { .. } => "pca",
        }
    }

    /// Checks that the model can be built for images of `image_shape`.
    pub fn validate(&self, image_shape: [usize; 3]) -> Result<(), ModelConfigError> {
        match self {
            ModelSpec::ConvAe { architecture } | ModelSpec::Vae { architecture, .. } => {
                architecture.validate(image_shape)
            }
            ModelSpec::Pca { components } => {
                let pixels = image_shape.iter().product::<usize>();
                if *components == 0 || *components > pixels {
                    return Err(ModelConfigError::Components {
                        components: *components,
                        pixels,
                    });
                }
                Ok(())
            }
        }
    }
}
