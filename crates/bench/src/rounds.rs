//! Time and peak resident memory of each round of a pipeline run in this process.
//!
//! A sampling thread reads the resident set size every 20 ms and charges it to the round whose
//! training started last, so a round's figure covers its training, reconstruction and
//! evaluation. Memory that grows from round to round shows up as a rising peak.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use irl_pipeline::{Backend, Mode, RunOptions};
use irl_store::Store;
use irl_train::{LogRow, Progress};

use crate::memory;
use crate::results::{RoundResult, Rounds};

const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Runs `pipeline` on flex into `store` and measures every round.
pub fn measure(
    pipeline: &Path,
    overrides: &[String],
    data_dir: Option<PathBuf>,
    store: &Path,
) -> Result<Rounds> {
    let loaded = irl_pipeline::load(pipeline, overrides)?;
    let opened =
        Store::open(store).with_context(|| format!("failed to open {}", store.display()))?;
    let watcher = Arc::new(RoundWatcher::default());

    let sampler = {
        let watcher = watcher.clone();
        std::thread::spawn(move || {
            while !watcher.done.load(Ordering::Relaxed) {
                watcher.sample();
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
    };
    let started = Instant::now();
    let outcome = irl_pipeline::run(
        &loaded,
        &RunOptions {
            store: &opened,
            data_dir,
            backend: Backend::Flex,
            mode: Mode::Full,
            progress: watcher.as_ref(),
        },
    );
    watcher.sample();
    watcher.done.store(true, Ordering::Relaxed);
    sampler.join().expect("the memory sampler does not panic");
    outcome.with_context(|| format!("run {:?} failed", loaded.name))?;
    let ended = started.elapsed();

    let starts = watcher.starts.lock().expect("no sampler panicked").clone();
    let peaks = watcher.peaks.lock().expect("no sampler panicked").clone();
    let mut boundaries: Vec<(u32, Duration)> = vec![(0, Duration::ZERO)];
    boundaries.extend(
        starts
            .iter()
            .map(|&(round, at)| (round, at.duration_since(started))),
    );
    let rounds = boundaries
        .iter()
        .enumerate()
        .map(|(index, &(round, from))| {
            let to = boundaries.get(index + 1).map_or(ended, |&(_, at)| at);
            RoundResult {
                round,
                seconds: (to - from).as_secs_f64(),
                peak_resident_bytes: peaks.get(round as usize).copied().unwrap_or(0),
            }
        })
        .collect();
    Ok(Rounds {
        pipeline: loaded.name.clone(),
        overrides: overrides.to_vec(),
        rounds,
        process_peak_resident_bytes: memory::peak_resident_bytes(),
    })
}

/// Follows the rounds through the training progress and keeps each round's peak memory.
#[derive(Default)]
struct RoundWatcher {
    round: AtomicU32,
    done: AtomicBool,
    /// When each round's training started, in order.
    starts: Mutex<Vec<(u32, Instant)>>,
    /// Peak resident bytes by round. Index 0 is the stages before round 1.
    peaks: Mutex<Vec<u64>>,
}

impl RoundWatcher {
    fn sample(&self) {
        let Some(bytes) = memory::resident_bytes() else {
            return;
        };
        let round = self.round.load(Ordering::Relaxed) as usize;
        let mut peaks = self.peaks.lock().expect("no sampler panicked");
        if peaks.len() <= round {
            peaks.resize(round + 1, 0);
        }
        peaks[round] = peaks[round].max(bytes);
    }
}

impl Progress for RoundWatcher {
    fn epoch_started(&self, round: u32, _epoch: usize, _epochs: usize, _batches: usize) {
        if self.round.load(Ordering::Relaxed) == round {
            return;
        }
        // The last sample of the previous round is taken before the switch.
        self.sample();
        self.round.store(round, Ordering::Relaxed);
        self.starts
            .lock()
            .expect("no sampler panicked")
            .push((round, Instant::now()));
    }

    fn epoch_finished(&self, _rows: &[LogRow]) {}
}
