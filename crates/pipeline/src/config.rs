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
    /// Run one chain per seed, named `<name>-seed-<seed>`, in place of `seed`, and summarise
    /// every metric across them in `runs/<name>/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
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
        self.validate_loop_settings()?;
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
    /// Settings of the loop that apply to one data regime or model start only.
    fn validate_loop_settings(&self) -> Result<(), (&'static str, String)> {
        let iterate = &self.iterate;
        if let Some(seeds) = &self.seeds {
            if seeds.is_empty() {
                return Err(("seeds", "must list at least one seed".to_string()));
            }
            let mut sorted = seeds.clone();
            sorted.sort_unstable();
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err((
                    "seeds",
                    format!(
                        "lists seed {} twice; each chain needs its own seed",
                        pair[0]
                    ),
                ));
            }
        }
        if iterate.budget.is_some() && iterate.regime != DataRegime::Accumulate {
            return Err((
                "iterate.budget",
                only_for("regime", "accumulate", iterate.regime.as_str()),
            ));
        }
        match iterate.original_fraction {
            Some(_) if iterate.regime != DataRegime::Mix => {
                return Err((
                    "iterate.original_fraction",
                    only_for("regime", "mix", iterate.regime.as_str()),
                ));
            }
            Some(fraction) if !(fraction > 0.0 && fraction < 1.0) => {
                return Err((
                    "iterate.original_fraction",
                    format!(
                        "must be between 0 and 1 (exclusive), found {fraction}; 0 is the \
                         replace regime and 1 the original regime"
                    ),
                ));
            }
            _ => {}
        }
        if let Some(epochs) = iterate.warm_epochs {
            if iterate.start != ModelStart::Warm {
                return Err((
                    "iterate.warm_epochs",
                    only_for("start", "warm", iterate.start.as_str()),
                ));
            }
            if epochs == 0 {
                return Err(("iterate.warm_epochs", "must be at least 1, found 0".into()));
            }
        }
        if iterate.start == ModelStart::Frozen && iterate.regime != DataRegime::Replace {
            return Err((
                "iterate.start",
                format!(
                    "is frozen, which trains only in round 1 and has no use for iterate.regime \
                     {}; set iterate.regime to replace",
                    iterate.regime.as_str()
                ),
            ));
        }
        if iterate.start == ModelStart::Warm && self.model.kind == ModelKind::Pca {
            return Err((
                "iterate.start",
                "is warm, but PCA is fitted in closed form and has no weights to continue \
                 from; use fresh or frozen"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// Settings that only one model kind understands.
    fn validate_model_settings(&self) -> Result<(), (&'static str, String)> {
        let kind = self.model.kind;
        if kind != ModelKind::Vae
            && let Some(term) = self.model.reconstruction_term
        {
            return Err((
                "model.reconstruction_term",
                format!(
                    "is {}, but the {} model always fits the squared error; remove the key or \
                     set model.kind to vae",
                    term_name(term),
                    kind.as_str()
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
            ModelKind::Pca => ModelSpec::Pca {
                components: self.model.latent_dim,
            },
        }
    }
}

/// Formats the error of an `iterate` key that applies to `setting: expected` only.
fn only_for(setting: &str, expected: &str, actual: &str) -> String {
    format!(
        "applies to iterate.{setting} {expected} only, but the {setting} is {actual}; remove the \
         key or set iterate.{setting} to {expected}"
    )
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
    /// PCA has no channels and ignores it.
    pub width: f64,
    /// Size of the latent vector; PCA's number of components.
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
    /// Principal component analysis with `latent_dim` components, fitted in closed form.
    Pca,
}

impl ModelKind {
    /// Name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::ConvAe => "conv_ae",
            ModelKind::Vae => "vae",
            ModelKind::Pca => "pca",
        }
    }
}

/// Training of each round's model.
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

/// The loop: how many rounds, what each round trains on and starts from, and when to stop
/// early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IterateConfig {
    pub max_iterations: u32,
    pub convergence: ConvergenceConfig,
    /// Data each round after the first trains on.
    pub regime: DataRegime,
    /// `accumulate` only: `all` trains on the whole pool. `original_size` trains on a seeded
    /// sample of the pool as large as the original data, drawn anew each round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<AccumulateBudget>,
    /// `mix` only: share of original images in each round's training data (default 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_fraction: Option<f64>,
    /// Model each round after the first starts from.
    pub start: ModelStart,
    /// `warm` only: epochs of the rounds after the first (default `training.epochs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_epochs: Option<usize>,
}

impl Default for IterateConfig {
    fn default() -> Self {
        Self {
            max_iterations: 30,
            convergence: ConvergenceConfig::default(),
            regime: DataRegime::Replace,
            budget: None,
            original_fraction: None,
            start: ModelStart::Fresh,
            warm_epochs: None,
        }
    }
}

/// Share of original images in a `mix` round when the file sets none.
pub const DEFAULT_ORIGINAL_FRACTION: f64 = 0.1;

impl IterateConfig {
    /// Returns the share of original images of a `mix` round.
    pub fn mix_fraction(&self) -> f64 {
        self.original_fraction.unwrap_or(DEFAULT_ORIGINAL_FRACTION)
    }
}

/// Data regime: the data of each round after the first. Round 1 always trains on the original
/// data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataRegime {
    /// The previous round's reconstructions only: the study's loop.
    Replace,
    /// The original data and every earlier round's reconstructions.
    Accumulate,
    /// `original_fraction` of the images original, the rest the previous round's
    /// reconstructions; each image index comes from one of the two (seeded per round).
    Mix,
    /// The original data in every round, each round's model reconstructing the original: the
    /// retrain-on-original control, whose spread across rounds is the noise floor.
    Original,
}

impl DataRegime {
    /// Name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            DataRegime::Replace => "replace",
            DataRegime::Accumulate => "accumulate",
            DataRegime::Mix => "mix",
            DataRegime::Original => "original",
        }
    }
}

/// Size of an `accumulate` round's training data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccumulateBudget {
    /// The whole pool: round k trains on k times the original number of images.
    All,
    /// A seeded subsample of the pool with the original number of images.
    OriginalSize,
}

/// Model each round after the first starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStart {
    /// A new initialisation, seeded per round.
    Fresh,
    /// The previous round's weights, trained for `warm_epochs` more epochs.
    Warm,
    /// No training after round 1: round 1's model reconstructs its own output again and again
    /// (the frozen-map control).
    Frozen,
}

impl ModelStart {
    /// Name as written in the pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelStart::Fresh => "fresh",
            ModelStart::Warm => "warm",
            ModelStart::Frozen => "frozen",
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
    /// conv_ae and pca: the model's output (the autoencoder's in evaluation mode).
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
            ModelKind::ConvAe | ModelKind::Pca => &[ReconstructionMode::Deterministic],
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
    /// Round whose confusion matrix the report draws; the last finished round by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion_round: Option<u32>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            snapshot_rounds: vec![1, 5, 10, 15, 20],
            images_per_grid: 25,
            confusion_round: None,
        }
    }
}
