//! Logging and training progress: a bar per epoch in a terminal, log lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use irl_train::{LogRow, Progress};

/// Sends tracing output to stderr, at `info` unless `RUST_LOG` sets another level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Draws training progress when stderr is a terminal.
pub struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
}

impl TerminalProgress {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for TerminalProgress {
    fn epoch_started(&self, round: u32, epoch: usize, epochs: usize, batches: usize) {
        if !self.terminal {
            return;
        }
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} batches, {per_sec}, eta {eta} {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("round {round} epoch {epoch}/{epochs}"));
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn batch_finished(&self, loss: f64) {
        if let Some(bar) = self.bar.lock().expect("progress lock").as_ref() {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.2}"));
        }
    }

    fn epoch_finished(&self, rows: &[LogRow]) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
        for row in rows {
            tracing::info!(
                round = row.round,
                epoch = row.epoch,
                split = %row.split,
                loss = format!("{:.4}", row.loss),
                seconds = format!("{:.1}", row.seconds),
                "epoch finished"
            );
        }
    }
}
