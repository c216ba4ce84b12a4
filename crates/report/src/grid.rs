//! Image grids: the first images of a snapshot tiled into one PNG.
//!
//! Each image pixel becomes a `SCALE` x `SCALE` block so that 28x28 digits stay legible in a
//! browser, and a grey gap separates the tiles so that dark image borders do not merge.

use std::collections::BTreeSet;

use image::ExtendedColorType;
use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use irl_store::{Split, SplitName};

use crate::{ReportError, Snapshot};

/// Maximum number of images shown per grid, which makes a full grid 5x5.
const MAX_IMAGES: usize = 25;
/// Side, in output pixels, of the block drawn for one image pixel.
const SCALE: usize = 3;
/// Width, in output pixels, of the gap between neighbouring tiles.
const GAP: usize = 2;
/// Value of the gap pixels in every channel: mid grey, distinct from black backgrounds and
/// white strokes.
const GAP_VALUE: u8 = 128;

/// The split and round of one grid, with the file it is written to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GridName {
    pub split: SplitName,
    pub round: u32,
    pub file_name: String,
}

impl GridName {
    fn new(split: SplitName, round: u32) -> Self {
        Self {
            split,
            round,
            file_name: format!("grid-{split}-r{round:02}.png"),
        }
    }
}

/// Returns "original" for round 0 and "round N" otherwise.
pub(crate) fn round_label(round: u32) -> String {
    if round == 0 {
        "original".to_owned()
    } else {
        format!("round {round}")
    }
}

/// Renders one PNG per snapshot, sorted by split and then by round.
pub(crate) fn render_grids(
    snapshots: &[Snapshot],
) -> Result<Vec<(GridName, Vec<u8>)>, ReportError> {
    let mut seen = BTreeSet::new();
    let mut grids = Vec::with_capacity(snapshots.len());

    for snapshot in snapshots {
        if !seen.insert((snapshot.split, snapshot.round)) {
            return Err(invalid(
                snapshot,
                "another snapshot has the same split and round",
            ));
        }
        let name = GridName::new(snapshot.split, snapshot.round);
        let png = render_grid(snapshot, &name.file_name)?;
        grids.push((name, png));
    }

    grids.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(grids)
}

/// Tiles the first [`MAX_IMAGES`] images of the snapshot into a near-square grid and encodes
/// it as PNG: grayscale for one channel, RGB for three.
fn render_grid(snapshot: &Snapshot, file_name: &str) -> Result<Vec<u8>, ReportError> {
    let split = &snapshot.images;
    validate_split(snapshot)?;

    let [channels, height, width] = split.image_shape;
    let count = split.len().min(MAX_IMAGES);
    let root = count.isqrt();
    let columns = if root * root < count { root + 1 } else { root };
    let rows = count.div_ceil(columns);
    let tile_width = width * SCALE + GAP;
    let tile_height = height * SCALE + GAP;
    let grid_width = columns * tile_width - GAP;
    let grid_height = rows * tile_height - GAP;

    let mut pixels = vec![GAP_VALUE; grid_width * grid_height * channels];
    for index in 0..count {
        let image = split.image(index);
        let left = (index % columns) * tile_width;
        let top = (index / columns) * tile_height;
        for y in 0..height * SCALE {
            for x in 0..width * SCALE {
                let source = (y / SCALE) * width + x / SCALE;
                let target = ((top + y) * grid_width + left + x) * channels;
                for channel in 0..channels {
                    let value = image[channel * height * width + source];
                    pixels[target + channel] = to_byte(value);
                }
            }
        }
    }

    let color_type = if channels == 1 {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            &pixels,
            to_u32(grid_width, snapshot)?,
            to_u32(grid_height, snapshot)?,
            color_type,
        )
        .map_err(|source| ReportError::EncodePng {
            file: file_name.to_owned(),
            source,
        })?;
    Ok(png)
}

/// Checks that the snapshot has images, a supported channel count and as many values as its
/// shape requires.
fn validate_split(snapshot: &Snapshot) -> Result<(), ReportError> {
    let split: &Split = &snapshot.images;
    let [channels, height, width] = split.image_shape;

    if split.is_empty() {
        return Err(invalid(snapshot, "it contains no images"));
    }
    if channels != 1 && channels != 3 {
        return Err(invalid(
            snapshot,
            &format!("images have {channels} channels, expected 1 (grayscale) or 3 (RGB)"),
        ));
    }
    if height == 0 || width == 0 {
        return Err(invalid(
            snapshot,
            &format!("image shape {:?} has a zero side", split.image_shape),
        ));
    }
    let expected = split.len() * split.image_len();
    if split.images.len() != expected {
        return Err(invalid(
            snapshot,
            &format!(
                "{} pixel values for {} labels of shape {:?}, expected {expected}",
                split.images.len(),
                split.len(),
                split.image_shape
            ),
        ));
    }
    Ok(())
}

/// Maps an intensity in [0, 1] to a byte. Values outside are clamped, and NaN becomes 0
/// because a float-to-int cast saturates and maps NaN to 0.
fn to_byte(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn to_u32(side: usize, snapshot: &Snapshot) -> Result<u32, ReportError> {
    u32::try_from(side).map_err(|_| invalid(snapshot, &format!("grid side {side} is too large")))
}

fn invalid(snapshot: &Snapshot, problem: &str) -> ReportError {
    ReportError::InvalidSnapshot {
        split: snapshot.split,
        round: snapshot.round,
        problem: problem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_byte_clamps_and_rounds() {
        assert_eq!(to_byte(-0.5), 0);
        assert_eq!(to_byte(0.0), 0);
        assert_eq!(to_byte(0.5), 128);
        assert_eq!(to_byte(1.0), 255);
        assert_eq!(to_byte(1.5), 255);
        assert_eq!(to_byte(f32::NAN), 0);
    }
}
