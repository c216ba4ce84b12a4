//! Subsets and the validation split: which of the read images become the round-0 dataset.
//!
//! The validation split is carved first, from the whole official training split. The limits
//! then apply to what is left for training and to the test split (the official one, or the
//! carved validation images). Random choices come from ChaCha8 streams of the seed, and every
//! chosen set keeps the images in their order in the file.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use irl_store::{Dataset, Split, SplitName};

use crate::IngestError;

/// Rule by which a limit chooses the images it keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The first N images of the split.
    #[default]
    First,
    /// N images drawn at random without replacement.
    Random,
    /// N images of each class, drawn at random within the class (a stratified subset).
    PerClass,
}

/// Choice of the images of the files that become the dataset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subset {
    /// Training images to keep (per class with [`Selection::PerClass`]); `None` keeps all.
    pub train_limit: Option<usize>,
    /// Test images to keep, the same way.
    pub test_limit: Option<usize>,
    pub selection: Selection,
    /// Hold out this many training images, drawn at random, as the test split in place of the
    /// official test split.
    pub validation_from_train: Option<usize>,
    /// Seed of every random choice.
    pub seed: u64,
}

/// ChaCha8 stream of each random choice.
const VALIDATION_STREAM: u64 = 1;
const TRAIN_STREAM: u64 = 2;
const TEST_STREAM: u64 = 3;

impl Subset {
    /// Applies the validation split and the limits to the full splits read from the files.
    pub fn apply(&self, dataset: Dataset) -> Result<Dataset, IngestError> {
        let Dataset { train, test } = dataset;
        let (train, test) = match self.validation_from_train {
            None => (train, test),
            Some(count) => {
                if count == 0 || count >= train.len() {
                    return Err(IngestError::ValidationSize {
                        requested: count,
                        available: train.len(),
                    });
                }
                let mut order: Vec<usize> = (0..train.len()).collect();
                order.shuffle(&mut self.rng(VALIDATION_STREAM));
                let (held_out, kept) = order.split_at(count);
                (
                    select(&train, sorted(kept)),
                    select(&train, sorted(held_out)),
                )
            }
        };
        Ok(Dataset {
            train: self.limit(&train, SplitName::Train, self.train_limit, TRAIN_STREAM)?,
            test: self.limit(&test, SplitName::Test, self.test_limit, TEST_STREAM)?,
        })
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream);
        rng
    }

    fn limit(
        &self,
        split: &Split,
        name: SplitName,
        limit: Option<usize>,
        stream: u64,
    ) -> Result<Split, IngestError> {
        let Some(limit) = limit else {
            return Ok(split.clone());
        };
        let indices = match self.selection {
            Selection::First => (0..limit.min(split.len())).collect(),
            Selection::Random => {
                let mut order: Vec<usize> = (0..split.len()).collect();
                order.shuffle(&mut self.rng(stream));
                order.truncate(limit);
                sorted(&order)
            }
            Selection::PerClass => {
                let mut by_class: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
                for (index, label) in split.labels.iter().enumerate() {
                    by_class.entry(*label).or_default().push(index);
                }
                let mut rng = self.rng(stream);
                let mut chosen = Vec::with_capacity(limit * by_class.len());
                for (class, mut members) in by_class {
                    if members.len() < limit {
                        return Err(IngestError::ClassTooSmall {
                            split: name,
                            class,
                            available: members.len(),
                            requested: limit,
                        });
                    }
                    members.shuffle(&mut rng);
                    chosen.extend_from_slice(&members[..limit]);
                }
                sorted(&chosen)
            }
        };
        Ok(select(split, indices))
    }
}

fn sorted(indices: &[usize]) -> Vec<usize> {
    let mut indices = indices.to_vec();
    indices.sort_unstable();
    indices
}

/// Copies the images and labels of `split` at `indices`, in that order.
fn select(split: &Split, indices: Vec<usize>) -> Split {
    let mut images = Vec::with_capacity(indices.len() * split.image_len());
    for &index in &indices {
        images.extend_from_slice(split.image(index));
    }
    Split {
        images,
        labels: indices.iter().map(|&index| split.labels[index]).collect(),
        image_shape: split.image_shape,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a split of `count` one-pixel images whose value is the image's index, with labels
    /// cycling through `classes`.
    fn split(count: usize, classes: i64) -> Split {
        Split {
            images: (0..count).map(|index| index as f32).collect(),
            labels: (0..count as i64).map(|index| index % classes).collect(),
            image_shape: [1, 1, 1],
        }
    }

    fn dataset() -> Dataset {
        Dataset {
            train: split(100, 4),
            test: split(40, 4),
        }
    }

    fn indices(split: &Split) -> Vec<usize> {
        split.images.iter().map(|value| *value as usize).collect()
    }

    fn subset(selection: Selection, train: usize, test: usize) -> Subset {
        Subset {
            train_limit: Some(train),
            test_limit: Some(test),
            selection,
            validation_from_train: None,
            seed: 9,
        }
    }

    #[test]
    fn first_keeps_the_head() {
        let shaped = subset(Selection::First, 5, 3).apply(dataset()).unwrap();
        assert_eq!(indices(&shaped.train), [0, 1, 2, 3, 4]);
        assert_eq!(indices(&shaped.test), [0, 1, 2]);
    }

    #[test]
    fn random_is_seeded_and_in_file_order() {
        let chosen = subset(Selection::Random, 10, 4).apply(dataset()).unwrap();
        let again = subset(Selection::Random, 10, 4).apply(dataset()).unwrap();
        let other = Subset {
            seed: 10,
            ..subset(Selection::Random, 10, 4)
        }
        .apply(dataset())
        .unwrap();
        let train = indices(&chosen.train);
        assert_eq!(train.len(), 10);
        assert!(train.windows(2).all(|pair| pair[0] < pair[1]), "{train:?}");
        assert_ne!(train, (0..10).collect::<Vec<_>>());
        assert_eq!(chosen, again);
        assert_ne!(indices(&other.train), train);
        assert_eq!(
            chosen.train.labels,
            train.iter().map(|i| *i as i64 % 4).collect::<Vec<_>>()
        );
    }

    #[test]
    fn per_class_keeps_n_of_each_class() {
        let shaped = subset(Selection::PerClass, 3, 2).apply(dataset()).unwrap();
        assert_eq!(shaped.train.len(), 12);
        assert_eq!(shaped.test.len(), 8);
        for class in 0..4 {
            let count = shaped
                .train
                .labels
                .iter()
                .filter(|label| **label == class)
                .count();
            assert_eq!(count, 3, "class {class}");
        }
    }

    #[test]
    fn per_class_above_class_size_is_rejected() {
        let error = subset(Selection::PerClass, 26, 2)
            .apply(dataset())
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("class 0 of the train split has 25 images"),
            "{message}"
        );
        assert!(message.contains("at most 25"), "{message}");
    }

    #[test]
    fn validation_is_held_out_of_train() {
        let carve = Subset {
            validation_from_train: Some(30),
            ..Subset::default()
        };
        let shaped = carve.apply(dataset()).unwrap();
        assert_eq!(shaped.train.len(), 70);
        assert_eq!(shaped.test.len(), 30);
        let mut all = indices(&shaped.train);
        all.extend(indices(&shaped.test));
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());

        // Limits apply after the split: to the training rest and to the held-out images.
        let limited = Subset {
            train_limit: Some(7),
            test_limit: Some(5),
            ..carve
        }
        .apply(dataset())
        .unwrap();
        assert_eq!(indices(&limited.test), indices(&shaped.test)[..5]);
        assert_eq!(indices(&limited.train), indices(&shaped.train)[..7]);
    }

    #[test]
    fn validation_as_large_as_train_is_rejected() {
        for count in [0, 100, 150] {
            let carve = Subset {
                validation_from_train: Some(count),
                ..Subset::default()
            };
            let message = carve.apply(dataset()).unwrap_err().to_string();
            assert!(
                message.contains(&format!("is {count}, but the training split has 100")),
                "{message}"
            );
        }
    }
}
