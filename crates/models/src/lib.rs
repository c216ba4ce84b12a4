//! Burn modules for iterated representation learning, shared by the train and reconstruct stages.
//!
//! The convolutional autoencoder follows the layout of pythae's MNIST networks
//! (`Encoder_Conv_AE_MNIST` / `Decoder_Conv_AE_MNIST`, pythae 0.1.2), with a channel-width
//! multiplier so that the study can run on a CPU. The VAE shares its convolution stacks and
//! ends the encoder in two linear heads, the mean and log-variance of q(z|x).

pub mod classifier;
pub mod conv_ae;
pub mod infer;
pub mod layers;
pub mod loss;
pub mod pca;
pub mod sampling;
pub mod spec;
pub mod vae;
pub mod weights;

pub use classifier::{Classifier, predict_split};
pub use conv_ae::{ConvAutoencoder, ConvAutoencoderConfig, ModelConfigError};
pub use loss::{
    ReconstructionTerm, VaeLoss, per_image_squared_error, reconstruction_loss, vae_loss,
    vae_terms_per_image,
};
pub use pca::Pca;
pub use spec::ModelSpec;
pub use vae::{ConvVae, VaeOutput};
