//! Training data of the `accumulate` and `mix` regimes, drawn from the original data and the
//! reconstructions of earlier rounds.
//!
//! A composed split is a list of picks, (source, image index) pairs, filled in one source at a
//! time so that only one earlier round's dataset needs to be in memory. Source 0 is the original
//! data; source j is round j's reconstruction. Labels travel with their images.

use irl_store::{Dataset, Split, SplitName};
use rand::SeedableRng;
use rand::seq::{SliceRandom, index};
use rand_chacha::ChaCha8Rng;

use crate::error::RunError;

/// An image of a composed split: (source, index within that source's split).
pub type Pick = (usize, usize);

/// Mix: `fraction` of the `len` indices, chosen at random, come from the original (source 0)
/// and the rest from the previous round (source 1). Index i of the output is image i of one of
/// the two, so every image keeps its place and label.
pub fn mix_picks(len: usize, fraction: f64, seed: u64) -> Vec<Pick> {
    let originals = ((len as f64) * fraction).round() as usize;
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut picks: Vec<Pick> = (0..len).map(|index| (1, index)).collect();
    for &index in &order[..originals.min(len)] {
        picks[index].0 = 0;
    }
    picks
}

/// Accumulate: the pool of every source's images in source order. With a `budget`, a random
/// sample of that many distinct pool images, kept in pool order.
pub fn pool_picks(lens: &[usize], budget: Option<usize>, seed: u64) -> Vec<Pick> {
    let pool: Vec<Pick> = lens
        .iter()
        .enumerate()
        .flat_map(|(source, &len)| (0..len).map(move |index| (source, index)))
        .collect();
    match budget {
        Some(budget) if budget < pool.len() => {
            let mut chosen =
                index::sample(&mut ChaCha8Rng::seed_from_u64(seed), pool.len(), budget).into_vec();
            chosen.sort_unstable();
            chosen.into_iter().map(|position| pool[position]).collect()
        }
        _ => pool,
    }
}

/// Builds the composed dataset from the picks of each split. `load(source)` returns a source's
/// dataset; each source is loaded once, in order, and dropped before the next.
pub fn gather(
    picks: &[Vec<Pick>; 2],
    sources: usize,
    image_shape: [usize; 3],
    mut load: impl FnMut(usize) -> Result<std::sync::Arc<Dataset>, RunError>,
) -> Result<Dataset, RunError> {
    let image_len: usize = image_shape.iter().product();
    let mut splits: Vec<Split> = picks
        .iter()
        .map(|picks| Split {
            images: vec![0.0; picks.len() * image_len],
            labels: vec![0; picks.len()],
            image_shape,
        })
        .collect();
    for source in 0..sources {
        if !picks.iter().flatten().any(|pick| pick.0 == source) {
            continue;
        }
        let dataset = load(source)?;
        for (split_index, name) in SplitName::ALL.into_iter().enumerate() {
            let from = dataset.split(name);
            let into = &mut splits[split_index];
            for (position, &(_, index)) in picks[split_index]
                .iter()
                .enumerate()
                .filter(|(_, pick)| pick.0 == source)
            {
                into.images[position * image_len..(position + 1) * image_len]
                    .copy_from_slice(from.image(index));
                into.labels[position] = from.labels[index];
            }
        }
    }
    let test = splits.pop().expect("two splits");
    let train = splits.pop().expect("two splits");
    Ok(Dataset { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_takes_the_given_share_from_the_original() {
        let picks = mix_picks(1000, 0.1, 3);
        assert_eq!(picks.iter().filter(|pick| pick.0 == 0).count(), 100);
        assert!(picks.iter().enumerate().all(|(i, pick)| pick.1 == i));
        assert_eq!(picks, mix_picks(1000, 0.1, 3));
        assert_ne!(picks, mix_picks(1000, 0.1, 4));
    }

    #[test]
    fn budgeted_pool_draws_distinct_images_from_every_source() {
        let picks = pool_picks(&[500, 500, 500], Some(500), 9);
        assert_eq!(picks.len(), 500);
        let mut distinct = picks.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 500, "picks are sorted and distinct");
        for source in 0..3 {
            let count = picks.iter().filter(|pick| pick.0 == source).count();
            assert!((120..=220).contains(&count), "source {source}: {count}");
        }
        assert_eq!(pool_picks(&[2, 3], None, 9).len(), 5);
    }
}
