//! Epoch checkpoints of one training stage, kept under the stage's key until the stage finishes.
//!
//! After each epoch the stage writes, in this order: the model weights, the Adam state, and a
//! JSON file with the epoch number, the random-number state and the training log so far. Each
//! file is written to a temporary name, fsynced and renamed, and the JSON file comes last, so a
//! checkpoint whose JSON file exists is complete. Only the latest checkpoint is kept.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LogRow;

/// The JSON part of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Number of finished epochs.
    pub epoch: usize,
    /// Seed that every random stream of the stage derives from.
    pub seed: u64,
    /// The random streams are reseeded from (seed, epoch) at the start of each epoch, so this
    /// epoch number is the whole random-number state to resume from.
    pub next_rng_epoch: usize,
    /// Training log rows up to this epoch.
    pub log: Vec<LogRow>,
}

/// Paths of the checkpoint after `epoch` in `dir`.
#[derive(Debug, Clone)]
pub struct CheckpointFiles {
    pub weights: PathBuf,
    pub optimizer: PathBuf,
    pub state: PathBuf,
}

impl CheckpointFiles {
    fn at(dir: &Path, epoch: usize) -> Self {
        Self {
            weights: dir.join(format!("epoch-{epoch:04}.model.safetensors")),
            optimizer: dir.join(format!("epoch-{epoch:04}.adam.safetensors")),
            state: dir.join(format!("epoch-{epoch:04}.json")),
        }
    }
}

/// Writes the checkpoint after `state.epoch` and removes older ones.
pub fn write(
    dir: &Path,
    state: &CheckpointState,
    weights: &[u8],
    optimizer: &[u8],
) -> std::io::Result<CheckpointFiles> {
    fs_err::create_dir_all(dir)?;
    let files = CheckpointFiles::at(dir, state.epoch);
    write_atomic(&files.weights, weights)?;
    write_atomic(&files.optimizer, optimizer)?;
    let json = serde_json::to_vec_pretty(state).expect("checkpoint state encodes as JSON");
    write_atomic(&files.state, &json)?;

    for epoch in 0..state.epoch {
        let old = CheckpointFiles::at(dir, epoch);
        for path in [old.state, old.weights, old.optimizer] {
            if path.exists() {
                fs_err::remove_file(path)?;
            }
        }
    }
    Ok(files)
}

/// Finds the latest complete checkpoint in `dir`.
pub fn latest(dir: &Path) -> std::io::Result<Option<(CheckpointState, CheckpointFiles)>> {
    if !dir.exists() {
        return Ok(None);
    }
    let mut best: Option<(CheckpointState, CheckpointFiles)> = None;
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        let is_state = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("epoch-") && name.ends_with(".json"));
        if !is_state {
            continue;
        }
        let Ok(state) = serde_json::from_slice::<CheckpointState>(&fs_err::read(&path)?) else {
            tracing::warn!(path = %path.display(), "ignoring an unreadable checkpoint");
            continue;
        };
        let files = CheckpointFiles::at(dir, state.epoch);
        if !(files.weights.exists() && files.optimizer.exists()) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(current, _)| state.epoch > current.epoch)
        {
            best = Some((state, files));
        }
    }
    Ok(best)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("partial-{}", std::process::id()));
    {
        let mut file = fs_err::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs_err::rename(&tmp, path)
}
