//! The JSON the measurements write and the report reads. The PyTorch reference script writes
//! [`Throughput`] lines too.

use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, Median};

/// One timed window of training updates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct WindowResult {
    pub steps: usize,
    pub seconds: f64,
}

/// Training throughput of one framework at one width and batch size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Throughput {
    /// pytorch, burn-flex or burn-tch.
    pub framework: String,
    #[serde(default)]
    pub device: String,
    pub threads: usize,
    pub width: f64,
    pub batch_size: usize,
    /// Minimum length of a window in seconds, as requested.
    #[serde(default)]
    pub window_seconds: Option<f64>,
    pub windows: Vec<WindowResult>,
    /// PyTorch's version, written by the reference script.
    #[serde(default)]
    pub version: Option<String>,
}

impl Throughput {
    /// Images per second of each window.
    pub fn rates(&self) -> Vec<f64> {
        self.windows
            .iter()
            .map(|window| (window.steps * self.batch_size) as f64 / window.seconds)
            .collect()
    }
}

/// One round of a measured pipeline run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundResult {
    /// 0 stands for the stages before round 1: ingest and the reference classifier.
    pub round: u32,
    /// From the start of this round's training to the start of the next round's (or the end).
    pub seconds: f64,
    /// Highest resident set size sampled while the round ran.
    pub peak_resident_bytes: u64,
}

/// A pipeline run measured round by round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rounds {
    pub pipeline: String,
    pub overrides: Vec<String>,
    pub rounds: Vec<RoundResult>,
    /// The process's peak resident set size over the whole run (VmHWM).
    pub process_peak_resident_bytes: Option<u64>,
}

/// Wall times of `irl run` on a fully cached pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedRerun {
    pub pipeline: String,
    pub overrides: Vec<String>,
    pub rounds: u32,
    pub seconds: Vec<f64>,
}

/// Median of `values`, which must not be empty.
pub fn median(values: &[f64]) -> f64 {
    Data::new(values.to_vec()).median()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn rates_count_images() {
        let line: Throughput = serde_json::from_str(
            r#"{"framework": "pytorch", "version": "2.9.0", "threads": 2, "width": 0.125,
                "batch_size": 64, "windows": [{"steps": 10, "seconds": 0.5}]}"#,
        )
        .unwrap();
        assert_eq!(line.rates(), vec![1280.0]);
    }
}
