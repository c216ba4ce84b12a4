//! Class retention: the classes the reference classifier predicts for a round's images.
//!
//! For the N images of a split with original labels y_i and predicted classes p_i (round k)
//! and p'_i (round k-1; round 0 is the original data):
//!
//! ```text
//! accuracy             = 1/N * #{ i : p_i = y_i }
//! recall(c)            = #{ i : y_i = c, p_i = c } / #{ i : y_i = c }
//! confusion(t, p)      = #{ i : y_i = t, p_i = p }
//! predicted_entropy    = -sum_c q_c log2 q_c,  q_c = #{ i : p_i = c } / N   (bits)
//! changed_predictions  = #{ i : p_i != p'_i }
//! ```

use irl_store::SplitName;

use crate::stats::entropy_bits;

/// Class retention of one split in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    pub round: u32,
    pub split: SplitName,
    pub accuracy: f64,
    pub predicted_entropy: f64,
    /// `None` at round 0, which has no earlier round.
    pub changed_predictions: Option<u64>,
    pub recall: Vec<ClassRecall>,
    /// Per pair (true, predicted), every pair of classes: the count of images.
    pub confusion: Vec<(u32, u32, u64)>,
}

/// Recall of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassRecall {
    pub class: u32,
    /// Images labelled with the class.
    pub images: u64,
    /// `None` without images of the class.
    pub recall: Option<f64>,
}

/// Measures the retention of predictions `predicted` against `labels`, for `classes` classes;
/// `previous` are the predictions of the round before on the same images.
pub fn retention(
    round: u32,
    split: SplitName,
    predicted: &[u32],
    labels: &[i64],
    previous: Option<&[u32]>,
    classes: usize,
) -> Retention {
    let mut confusion = vec![0u64; classes * classes];
    let mut predicted_counts = vec![0u64; classes];
    let mut right = 0u64;
    for (&p, &y) in predicted.iter().zip(labels) {
        let (p, y) = (p as usize, y as usize);
        if p < classes {
            predicted_counts[p] += 1;
        }
        if p < classes && y < classes {
            confusion[y * classes + p] += 1;
        }
        right += u64::from(p == y);
    }
    let recall = (0..classes)
        .map(|c| {
            let row = &confusion[c * classes..(c + 1) * classes];
            let images: u64 = row.iter().sum();
            ClassRecall {
                class: c as u32,
                images,
                recall: (images > 0).then(|| row[c] as f64 / images as f64),
            }
        })
        .collect();
    let changed = previous.map(|previous| {
        previous
            .iter()
            .zip(predicted)
            .filter(|(a, b)| a != b)
            .count() as u64
    });
    Retention {
        round,
        split,
        accuracy: right as f64 / labels.len().max(1) as f64,
        predicted_entropy: entropy_bits(&predicted_counts),
        changed_predictions: changed,
        recall,
        confusion: (0..classes * classes)
            .map(|i| ((i / classes) as u32, (i % classes) as u32, confusion[i]))
            .collect(),
    }
}
