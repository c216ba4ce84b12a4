//! The pipeline file: typed sections, their defaults, and `--set` overrides.
//!
//! Every default is written once, in the `Default` impls below. Unknown keys are rejected, and
//! the resolved pipeline (defaults filled in) is saved with the run.

use std::path::PathBuf;

use irl_models::{ConvAutoencoderConfig, ModelSpec, ReconstructionTerm};
use serde::{Deserialize, Serialize};

/// A whole pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Run name: the folder under `runs/` in the store.
    pub name: String,
    /// Seed of every random stream of the run; each round derives its own from it.
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub iterate: IterateConfig,
    #[serde(default)]
    pub reconstruction: ReconstructionConfig,
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    #[serde(default)]
    pub report: ReportConfig,
}

fn default_seed() -> u64 {
    42
}

impl Pipeline {
    /// Checks the ranges that the types alone do not; returns the key and the problem.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = |key: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err((key, format!("must be a positive number, found {value}")))
            }
        };
        let at_least_one = |key: &'static str, value: usize| {
            if value >= 1 {
                Ok(())
            } else {
                Err((key, format!("must be at least 1, found {value}")))
            }
        };

        if self.name.is_empty() || self.name.contains(['/', '\\']) || self.name.starts_with('.') {
            return Err((
                "name",
                format!(
                    "{:?} cannot name a run folder; use letters, digits, '-' and '_'",
                    self.name
                ),
            ));
        }

        self.validate_model_settings()?;
        positive("model.width", self.model.width)?;
        at_least_one("model.latent_dim", self.model.latent_dim)?;
        at_least_one("training.epochs", self.training.epochs)?;
        at_least_one("training.batch_size", self.training.batch_size)?;
        positive("training.learning_rate", self.training.learning_rate)?;
        positive("training.epsilon", self.training.epsilon)?;
        for (key, beta) in [
            ("training.beta1", self.training.beta1),
            ("training.beta2", self.training.beta2),
        ] {
            if !(0.0..1.0).contains(&beta) {
                return Err((key, format!("must be in [0, 1), found {beta}")));
            }
        }
        at_least_one(
            "iterate.max_iterations",
            self.iterate.max_iterations as usize,
        )?;
        at_least_one(
            "iterate.convergence.patience",
            self.iterate.convergence.patience as usize,
        )?;
        let tolerance = self.iterate.convergence.tolerance;
        if tolerance.is_nan() || tolerance < 0.0 {
            return Err((
                "iterate.convergence.tolerance",
                format!(
                    "must be at least 0, found {}",
                    self.iterate.convergence.tolerance
                ),
            ));
        }

        at_least_one("data.classes", usize::from(self.data.classes))?;
        if let Some(size) = self.data.resize {
            if !self.data.source.is_image_files() {
                return Err((
                    "data.resize",
                    "applies to data.source parquet and image_folder only; IDX images keep \
                     their size"
                        .to_string(),
                ));
            }
            if size.contains(&0) {
                return Err((
                    "data.resize",
                    format!("must be two sides of at least 1, found {size:?}"),
                ));
            }
        }
        if self.data.source != DataSource::Idx && self.data.classes != 10 {
            return Err((
                "data.classes",
                format!(
                    "is {}, but the key applies to data.source idx only (MNIST and \
                     Fashion-MNIST have 10 classes, and image tables and folders take their \
                     labels as they are)",
                    self.data.classes
                ),
            ));
        }
        at_least_one("reconstruction.batch_size", self.reconstruction.batch_size)?;
        let evaluation = &self.evaluation;
        if evaluation.probe_images < 4 {
            return Err((
                "evaluation.probe_images",
                format!(
                    "must be at least 4 (debiased CKA needs 4 images), found {}",
                    evaluation.probe_images
                ),
            ));
        }
        at_least_one("evaluation.knn_k", evaluation.knn_k)?;
        let l2 = evaluation.linear_probe_l2;
        if !(l2.is_finite() && l2 >= 0.0) {
            return Err((
                "evaluation.linear_probe_l2",
                format!("must be a number of at least 0, found {l2}"),
            ));
        }
        at_least_one("evaluation.classifier.epochs", evaluation.classifier.epochs)?;
        at_least_one(
            "evaluation.classifier.batch_size",
            evaluation.classifier.batch_size,
        )?;
        positive(
            "evaluation.classifier.learning_rate",
            evaluation.classifier.learning_rate,
        )?;
        let noise = self.reconstruction.pixel_noise_std;
        if !(noise.is_finite() && noise >= 0.0) {
            return Err((
                "reconstruction.pixel_noise_std",
                format!("must be a number of at least 0, found {noise}"),
            ));
        }
        if !(1..=64).contains(&self.report.images_per_grid) {
            return Err((
                "report.images_per_grid",
                format!(
                    "must be between 1 and 64, found {}",
                    self.report.images_per_grid
                ),
            ));
        }
        Ok(())
    }
}

impl Pipeline {
    /// Settings that only one model kind understands.
    fn validate_model_settings(&self) -> Result<(), (&'static str, String)> {
        let kind = self.model.kind;
        if kind == ModelKind::ConvAe
            && let Some(term) = self.model.reconstruction_term
        {
            return Err((
                "model.reconstruction_term",
                format!(
                    "is {}, but the conv_ae model is always trained on the squared error; remove \
                     the key or set model.kind to vae",
                    term_name(term)
                ),
            ));
        }
        if let Some(mode) = self.reconstruction.mode {
            let allowed = ReconstructionMode::allowed_for(kind);
            if !allowed.contains(&mode) {
                let names: Vec<&str> = allowed.iter().map(|mode| mode.as_str()).collect();
                return Err((
                    "reconstruction.mode",
                    format!(
                        "{} does not apply to model.kind {}; use {}",
                        mode.as_str(),
                        kind.as_str(),
                        names.join(" or ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Fills in the defaults that depend on the model kind: the VAE's reconstruction term and
    /// each kind's reconstruction mode. The resolved pipeline is what the run saves.
    pub fn resolved(mut self) -> Self {
        if self.model.kind == ModelKind::Vae && self.model.reconstruction_term.is_none() {
            self.model.reconstruction_term = Some(ReconstructionTerm::Mse);
        }
        if self.reconstruction.mode.is_none() {
            self.reconstruction.mode = Some(ReconstructionMode::allowed_for(self.model.kind)[0]);
        }
        self
    }

    /// Returns the reconstruction mode, with the model kind's default where the file sets none.
    pub fn reconstruction_mode(&self) -> ReconstructionMode {
        self.reconstruction
            .mode
            .unwrap_or(ReconstructionMode::allowed_for(self.model.kind)[0])
    }

    /// Returns the model the rounds train, as the stages take it.
    pub fn model_spec(&self) -> ModelSpec {
        let architecture = ConvAutoencoderConfig {
            width: self.model.width,
            latent_dim: self.model.latent_dim,
        };
        match self.model.kind {
            ModelKind::ConvAe => ModelSpec::ConvAe { architecture },
            ModelKind::Vae => ModelSpec::Vae {
                architecture,
                reconstruction_term: self
                    .model
                    .reconstruction_term
                    .unwrap_or(ReconstructionTerm::Mse),
            },
        }
    }
}

fn term_name(term: ReconstructionTerm) -> &'static str {
    match term {
        ReconstructionTerm::Mse => "mse",
        ReconstructionTerm::Bce => "bce",
    }
}

/// Source of the round-0 data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    pub source: DataSource,
    /// Folder with the four MNIST IDX files (gzip or raw). `--data-dir` takes precedence, and
    /// the `IRL_DATA_DIR` environment variable is used when neither is set. Not part of any cache
    /// key: the files' digests are.
    pub dir: Option<PathBuf>,
    /// Keep only N training images (N per class with `selection: per_class`).
    pub train_limit: Option<usize>,
    /// Keep only N test images, the same way.
    pub test_limit: Option<usize>,
    /// Rule by which the limits choose images: `first`, `random` (seeded) or `per_class`
    /// (seeded, stratified).
    pub selection: irl_ingest::Selection,
    /// Hold out N training images, drawn with the run's seed, as the test split in place of the
    /// official one (pythae's notebooks use 10,000, leaving 50,000 for training).
    pub validation_from_train: Option<usize>,
    /// `idx` only: the number of classes; every label must be below it.
    pub classes: u8,
    /// `parquet` and `image_folder` only: resize every image to [height, width].
    pub resize: Option<[u32; 2]>,
    /// `mnist` and `fashion_mnist`: with no data folder given, fetch the files into the store's
    /// `downloads/` folder.
    pub download: bool,
    /// Base addresses that serve the four files as `<base><name>.gz`, tried in order; by default
    /// the dataset's public mirrors.
    pub mirrors: Option<Vec<String>>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            source: DataSource::Mnist,
            dir: None,
            train_limit: None,
            test_limit: None,
            selection: irl_ingest::Selection::First,
            validation_from_train: None,
            classes: 10,
            resize: None,
            download: true,
            mirrors: None,
        }
    }
}

/// Dataset kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// MNIST's original IDX files, checked against their SHA-256 digests.
    Mnist,
    /// Fashion-MNIST's original IDX files, checked against their SHA-256 digests.
    FashionMnist,
    /// Any four IDX files with MNIST's file names: one image size, labels below `data.classes`.
    Idx,
    /// Parquet tables `train*.parquet` and `test*.parquet` in the Hugging Face datasets
    /// layout: an `image` column of PNG or JPEG bytes and an integer `label` column.
    Parquet,
    /// Folders `train/<class>/` and `test/<class>/` of PNG or JPEG files.
    ImageFolder,
}

impl DataSource {
    /// Returns the form of data the ingest stage looks for.
    pub fn kind(self, classes: u8) -> irl_ingest::SourceKind {
        use irl_ingest::{IdxFormat, KnownDataset, SourceKind};
        match self {
            DataSource::Mnist => SourceKind::Idx(IdxFormat::Known(KnownDataset::Mnist)),
            DataSource::FashionMnist => {
                SourceKind::Idx(IdxFormat::Known(KnownDataset::FashionMnist))
            }
            DataSource::Idx => SourceKind::Idx(IdxFormat::Any { classes }),
            DataSource::Parquet => SourceKind::Parquet,
            DataSource::ImageFolder => SourceKind::ImageFolder,
        }
    }

    /// Returns the published dataset of the source, whose files can be downloaded.
    pub fn known_dataset(self) -> Option<irl_ingest::KnownDataset> {
        match self {
            DataSource::Mnist => Some(irl_ingest::KnownDataset::Mnist),
            DataSource::FashionMnist => Some(irl_ingest::KnownDataset::FashionMnist),
            DataSource::Idx | DataSource::Parquet | DataSource::ImageFolder => None,
        }
    }

    /// Tells whether the source is image files (PNG or JPEG), which `data.resize` applies to.
    pub fn is_image_files(self) -> bool {
        matches!(self, DataSource::Parquet | DataSource::ImageFolder)
    }
}

/// Model architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub kind: ModelKind,
    /// Multiplier of pythae's channel counts (128, 256, 512, 1024); 1.0 is the published network.
    pub width: f64,
    pub latent_dim: usize,
    /// VAE only: `mse` (one half of the squared error, the default) or `bce` (binary
    /// cross-entropy, for data in [0, 1]), summed over the pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconstruction_term: Option<ReconstructionTerm>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::ConvAe,
            width: 0.1,
            latent_dim: 16,
            reconstruction_term: None,
        }
    }
}

/// Model kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Convolutional autoencoder in pythae's MNIST layout.
    ConvAe,
    /// Variational autoencoder in pythae's MNIST layout.
    Vae,
}

impl ModelKind {
    /// Name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::ConvAe => "conv_ae",
            ModelKind::Vae => "vae",
        }
    }
}

/// Training of each round's fresh model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerKind,
    pub beta1: f64,
    pub beta2: f64,
    /// Adam's epsilon; PyTorch's default.
    pub epsilon: f64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 64,
            learning_rate: 1e-3,
            optimizer: OptimizerKind::Adam,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// Optimizer kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adam,
}

/// The loop: how many rounds, and when to stop early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IterateConfig {
    pub max_iterations: u32,
    pub convergence: ConvergenceConfig,
}

impl Default for IterateConfig {
    fn default() -> Self {
        Self {
            max_iterations: 30,
            convergence: ConvergenceConfig::default(),
        }
    }
}

/// Convergence rule: the loss of `split` changed by less than `tolerance`, relative to the
/// previous round, in `patience` consecutive rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvergenceConfig {
    pub tolerance: f64,
    pub patience: u32,
    pub split: SplitChoice,
    /// Stop the loop at convergence; when false, the round is recorded and the loop goes on to
    /// `max_iterations`.
    pub stop: bool,
}

impl Default for ConvergenceConfig {
    fn default() -> Self {
        Self {
            tolerance: 0.01,
            patience: 3,
            split: SplitChoice::Test,
            stop: true,
        }
    }
}

/// A dataset split, as named in the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitChoice {
    Train,
    Test,
}

/// Settings of the reconstruction that becomes the next round's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconstructionConfig {
    /// Method that turns an image into its reconstruction. The default is `deterministic` for
    /// conv_ae and `posterior_sample` for vae.
    pub mode: Option<ReconstructionMode>,
    /// Standard deviation of Gaussian noise added to every pixel of the reconstruction, which is
    /// then clipped to [0, 1]; 0 adds none.
    pub pixel_noise_std: f64,
    /// Images per forward pass; does not change results, so it is not part of any cache key.
    pub batch_size: usize,
}

impl Default for ReconstructionConfig {
    fn default() -> Self {
        Self {
            mode: None,
            pixel_noise_std: 0.0,
            batch_size: 500,
        }
    }
}

/// Reconstruction mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconstructionMode {
    /// conv_ae: the model's output in evaluation mode.
    Deterministic,
    /// vae: decode z = mean + eps * exp(log_var / 2), one seeded eps per image (the study's loop).
    PosteriorSample,
    /// vae: decode the mean of q(z|x).
    PosteriorMean,
}

impl ReconstructionMode {
    /// Lists the modes a model kind accepts, its default first.
    pub fn allowed_for(kind: ModelKind) -> &'static [ReconstructionMode] {
        match kind {
            ModelKind::ConvAe => &[ReconstructionMode::Deterministic],
            ModelKind::Vae => &[
                ReconstructionMode::PosteriorSample,
                ReconstructionMode::PosteriorMean,
            ],
        }
    }

    /// Name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconstructionMode::Deterministic => "deterministic",
            ReconstructionMode::PosteriorSample => "posterior_sample",
            ReconstructionMode::PosteriorMean => "posterior_mean",
        }
    }
}

/// The stability measurements of the evaluate stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Original test images in the probe set whose latents every round compares (seeded sample).
    pub probe_images: usize,
    /// Neighbours of the k-nearest-neighbour probe of the latents.
    pub knn_k: usize,
    /// L2 penalty of the linear (logistic regression) probe of the latents.
    pub linear_probe_l2: f64,
    /// Training of the reference classifier.
    pub classifier: ClassifierTraining,
    /// After the last round, measure every round's model on every round's test images.
    pub cross_round_losses: bool,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        Self {
            probe_images: 2000,
            knn_k: 5,
            linear_probe_l2: 1e-3,
            classifier: ClassifierTraining::default(),
            cross_round_losses: false,
        }
    }
}

/// Training of the reference classifier, on the original training images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierTraining {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
}

impl Default for ClassifierTraining {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 64,
            learning_rate: 1e-3,
        }
    }
}

/// Contents of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Rounds whose images are drawn next to the original (round 0).
    pub snapshot_rounds: Vec<u32>,
    /// Images per grid, at most 64.
    pub images_per_grid: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            snapshot_rounds: vec![1, 5, 10, 15, 20],
            images_per_grid: 25,
        }
    }
}
