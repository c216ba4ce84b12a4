//! Builders for synthetic but realistic report inputs shared by the test files.

#![allow(dead_code)]

use irl_report::{Confusion, MetricRow, RecallCell, ReportFile, ReportInput, Snapshot};
use irl_store::{Split, SplitName};

pub const SIDE: usize = 28;

/// Intensity of pixel (y, x) of image `index` in the generated snapshots: a diagonal ramp that
/// differs between images and between rounds.
pub fn pattern_value(index: usize, round: u32, y: usize, x: usize) -> f32 {
    let ramp = ((index + y + x) % SIDE) as f32 / (SIDE - 1) as f32;
    ramp * (1.0 - 0.1 * round as f32)
}

/// Builds a snapshot of `count` grayscale 28x28 images following [`pattern_value`].
pub fn snapshot(split: SplitName, round: u32, count: usize) -> Snapshot {
    let mut images = Vec::with_capacity(count * SIDE * SIDE);
    for index in 0..count {
        for y in 0..SIDE {
            for x in 0..SIDE {
                images.push(pattern_value(index, round, y, x));
            }
        }
    }
    Snapshot {
        round,
        split,
        images: Split {
            images,
            labels: (0..count as i64).map(|label| label % 10).collect(),
            image_shape: [1, SIDE, SIDE],
        },
    }
}

/// Metrics of `rounds` rounds with falling reconstruction losses, test a little above train.
pub fn falling_metrics(rounds: u32) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    for iteration in 1..=rounds {
        let step = f64::from(iteration - 1);
        let train_loss = 18.0 + 12.5 * 0.55_f64.powf(step);
        for (split, offset) in [(SplitName::Train, 0.0), (SplitName::Test, 0.75)] {
            rows.push(MetricRow {
                iteration,
                split,
                recon_loss: train_loss + offset,
                loss_vs_original: train_loss + offset + 1.5 * step,
                mean_sq_change: 0.04 * 0.5_f64.powf(step),
                reconstruction_term: None,
                kl: None,
                active_units: None,
                measures: [
                    ("class_accuracy", 0.97 - 0.01 * step),
                    ("cka_previous", 0.9 + 0.005 * step),
                ]
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
            });
        }
    }
    rows
}

/// Builds a run of `rounds` finished rounds out of 30, with 25-image snapshots of rounds 0, 1 and 2
/// for both splits and a pipeline that contains markup characters.
pub fn input_with_rounds(rounds: u32) -> ReportInput {
    let mut snapshots = Vec::new();
    for split in SplitName::ALL {
        for round in 0..=rounds.min(2) {
            snapshots.push(snapshot(split, round, 25));
        }
    }
    ReportInput {
        run_name: "mnist-conv-ae".to_owned(),
        metrics: falling_metrics(rounds),
        converged_at: None,
        max_iterations: 30,
        snapshots,
        prior_samples: Vec::new(),
        class_examples: (0..=rounds.min(2))
            .map(|round| snapshot(SplitName::Test, round, 10))
            .collect(),
        class_recall: recall_cells(rounds),
        confusion: (rounds > 0).then(|| confusion(rounds)),
        pipeline_yaml: "dataset: mnist\nmodel:\n  kind: conv_autoencoder\n  latent: 32\n\
                        convergence:\n  rule: relative_change < 0.01 && rounds >= 3\n"
            .to_owned(),
        tool_version: "0.1.0-test".to_owned(),
    }
}

/// Returns the bytes of the file called `name`, failing the test when it is missing.
pub fn file<'a>(files: &'a [ReportFile], name: &str) -> &'a [u8] {
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    files
        .iter()
        .find(|file| file.name == name)
        .unwrap_or_else(|| panic!("no file {name} among {names:?}"))
        .bytes
        .as_slice()
}

/// Returns the file called `name` as UTF-8 text.
pub fn text(files: &[ReportFile], name: &str) -> String {
    String::from_utf8(file(files, name).to_vec()).expect("report text files are UTF-8")
}

/// Recall of ten classes at rounds 0 to `rounds`: class c loses 0.02 * c per round.
pub fn recall_cells(rounds: u32) -> Vec<RecallCell> {
    let mut cells = Vec::new();
    for round in 0..=rounds {
        for class in 0..10u32 {
            for split in SplitName::ALL {
                cells.push(RecallCell {
                    round,
                    split,
                    class,
                    recall: 0.99 - 0.02 * f64::from(class) * f64::from(round),
                });
            }
        }
    }
    cells
}

/// Builds a confusion matrix of round `round` in which class 9 is read as 4 in a fifth of its
/// images.
pub fn confusion(round: u32) -> Confusion {
    let mut counts = Vec::new();
    for class in 0..10u32 {
        if class == 9 {
            counts.push((9, 9, 80));
            counts.push((9, 4, 20));
        } else {
            counts.push((class, class, 100));
        }
    }
    Confusion { round, counts }
}
