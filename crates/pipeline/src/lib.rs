//! Pipelines of iterated representation learning: the YAML schema, the cache keys of every
//! stage, and the runner that chains the stages through the store.

pub mod backend;
pub mod compare;
pub mod compose;
pub mod config;
pub mod error;
pub mod load;
pub mod report_input;
pub mod runner;
pub mod seeds;
pub mod stages;
pub mod tables;

pub use backend::Backend;
pub use config::Pipeline;
pub use error::RunError;
pub use load::{PipelineError, load, parse, to_yaml};
pub use runner::{Mode, RunOptions, RunSummary, StageReport, StageStatus, run};
pub use stages::StageKind;
