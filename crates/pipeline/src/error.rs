//! Errors of a pipeline run.

use std::path::PathBuf;

/// A run that failed. Finished stages keep their records, so a rerun resumes after them.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "no data folder given: set data.dir in the pipeline file, pass --data-dir DIR, or set \
         IRL_DATA_DIR to the folder with the data (for IDX sources the four files \
         train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
         t10k-labels-idx1-ubyte, gzip or raw). MNIST and Fashion-MNIST are downloaded into the \
         store when data.download is true"
    )]
    NoDataDir,
    #[error(
        "stage {slot} has not run, so {target} cannot run on its own; run the pipeline with \
         `irl run` first"
    )]
    UpstreamNotCached { slot: String, target: String },
    #[error(
        "run {run:?} has no metrics table at {path}; a run has one after its first round \
         (`irl status {run}` shows its progress)"
    )]
    NoMetrics { run: String, path: PathBuf },
    #[error("failed to write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] irl_store::StoreError),
    #[error(transparent)]
    Dataset(#[from] irl_store::DatasetError),
    #[error(transparent)]
    Table(#[from] irl_store::table::TableError),
    #[error("failed to encode a dataset as safetensors")]
    Safetensors(#[from] safetensors::SafeTensorError),
    #[error(transparent)]
    Ingest(#[from] irl_ingest::IngestError),
    #[error(transparent)]
    Model(#[from] irl_models::ModelConfigError),
    #[error(transparent)]
    Train(#[from] irl_train::TrainError),
    #[error(transparent)]
    Weights(#[from] irl_models::weights::WeightsError),
    #[error(transparent)]
    Reconstruct(#[from] irl_reconstruct::ReconstructError),
    #[error(transparent)]
    Evaluate(#[from] irl_evaluate::EvaluateError),
    #[error(transparent)]
    PriorSamples(#[from] irl_reconstruct::PriorSamplesError),
    #[error(transparent)]
    Report(#[from] irl_report::ReportError),
    #[error(transparent)]
    Pipeline(#[from] crate::load::PipelineError),
}
