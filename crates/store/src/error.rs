//! Errors of the store.

use std::path::{Path, PathBuf};

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to {operation} {path}")]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid JSON in {path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "run {run:?} is locked by another irl process ({holder}); wait for it to finish, or \
         stop it, then run again"
    )]
    Locked { run: String, holder: String },
    #[error("object {digest} is missing from the store at {path}")]
    MissingObject { digest: String, path: PathBuf },
}

impl StoreError {
    /// Returns a closure that wraps an I/O error with the operation and the path.
    pub fn io(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            operation,
            path,
            source,
        }
    }
}
