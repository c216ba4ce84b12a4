//! Image grids: the first images of a snapshot tiled into one PNG.
//!
//! Each image pixel becomes a `SCALE` x `SCALE` block so that 28x28 digits stay legible in a
//! browser, and a grey gap separates the tiles so that dark image borders do not merge.

use std::collections::BTreeSet;

use image::ExtendedColorType;
use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use irl_store::{Split, SplitName};

use crate::{PriorSamples, ReportError, Snapshot};

/// Maximum number of images shown per grid, which makes a full grid 5x5.
const MAX_IMAGES: usize = 25;
/// Side, in output pixels, of the block drawn for one image pixel.
const SCALE: usize = 3;
/// Width, in output pixels, of the gap between neighbouring tiles.
const GAP: usize = 2;
/// Value of the gap pixels in every channel: mid grey, distinct from black backgrounds and
/// white strokes.
const GAP_VALUE: u8 = 128;

/// Content of a row of grids: the images of a split, or a VAE's decoded prior samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GridRow {
    Split(SplitName),
    PriorSamples,
}

impl std::fmt::Display for GridRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridRow::Split(split) => write!(f, "{split}"),
            GridRow::PriorSamples => f.write_str("prior samples"),
        }
    }
}

/// The row and round of one grid, with the file it is written to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GridName {
    pub row: GridRow,
    pub round: u32,
    pub file_name: String,
}

impl GridName {
    fn new(row: GridRow, round: u32) -> Self {
        let stem = match row {
            GridRow::Split(split) => split.as_str(),
            GridRow::PriorSamples => "prior",
        };
        Self {
            row,
            round,
            file_name: format!("grid-{stem}-r{round:02}.png"),
        }
    }
}

/// The images of one grid and how an error names them.
struct GridImages<'a> {
    row: GridRow,
    round: u32,
    images: &'a Split,
}

impl GridImages<'_> {
    fn invalid(&self, problem: &str) -> ReportError {
        match self.row {
            GridRow::Split(split) => ReportError::InvalidSnapshot {
                split,
                round: self.round,
                problem: problem.to_owned(),
            },
            GridRow::PriorSamples => ReportError::InvalidPriorSamples {
                round: self.round,
                problem: problem.to_owned(),
            },
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

/// Renders one PNG per snapshot and per round of prior samples, sorted by row and then by
/// round.
pub(crate) fn render_grids(
    snapshots: &[Snapshot],
    prior_samples: &[PriorSamples],
) -> Result<Vec<(GridName, Vec<u8>)>, ReportError> {
    let mut seen = BTreeSet::new();
    let mut grids = Vec::with_capacity(snapshots.len() + prior_samples.len());

    let all = snapshots
        .iter()
        .map(|snapshot| GridImages {
            row: GridRow::Split(snapshot.split),
            round: snapshot.round,
            images: &snapshot.images,
        })
        .chain(prior_samples.iter().map(|samples| GridImages {
            row: GridRow::PriorSamples,
            round: samples.round,
            images: &samples.images,
        }));
    for grid in all {
        if !seen.insert((grid.row, grid.round)) {
            return Err(grid.invalid("another snapshot has the same split and round"));
        }
        let name = GridName::new(grid.row, grid.round);
        let png = render_grid(&grid, &name.file_name)?;
        grids.push((name, png));
    }

    grids.sort_by(|(a, _), (b, _)| a.cmp(b));
    Ok(grids)
}

/// Tiles the first [`MAX_IMAGES`] images of the snapshot into a near-square grid and encodes
/// it as PNG: grayscale for one channel, RGB for three.
fn render_grid(grid: &GridImages<'_>, file_name: &str) -> Result<Vec<u8>, ReportError> {
    let split = grid.images;
    validate_split(grid)?;

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
        draw_tile(
            &mut pixels,
            grid_width,
            image,
            split.image_shape,
            (left, top),
        );
    }

    encode_png(
        &pixels,
        (grid_width, grid_height),
        channels,
        grid,
        file_name,
    )
}

/// Draws `image` (channel-major, of `shape`) scaled by [`SCALE`] into the interleaved `pixels` of
/// a grid `grid_width` pixels wide, with its top-left corner at `corner`.
fn draw_tile(
    pixels: &mut [u8],
    grid_width: usize,
    image: &[f32],
    shape: [usize; 3],
    corner: (usize, usize),
) {
    let [channels, height, width] = shape;
    let (left, top) = corner;
    for y in 0..height * SCALE {
        for x in 0..width * SCALE {
            let source = (y / SCALE) * width + x / SCALE;
            let target = ((top + y) * grid_width + left + x) * channels;
            for channel in 0..channels {
                pixels[target + channel] = to_byte(image[channel * height * width + source]);
            }
        }
    }
}

/// File name of the grid of one image per class across the rounds.
pub(crate) const CLASS_EXAMPLES_FILE: &str = "grid-classes-test.png";

/// Tiles `examples` (one snapshot per round, images in class order) into one PNG: a row per
/// class, a column per round. Returns `None` without examples.
pub(crate) fn render_class_examples(examples: &[Snapshot]) -> Result<Option<Vec<u8>>, ReportError> {
    let mut examples: Vec<&Snapshot> = examples.iter().collect();
    examples.sort_by_key(|snapshot| snapshot.round);
    let Some(first) = examples.first() else {
        return Ok(None);
    };
    for snapshot in &examples {
        let grid = GridImages {
            row: GridRow::Split(snapshot.split),
            round: snapshot.round,
            images: &snapshot.images,
        };
        validate_split(&grid)?;
        if snapshot.images.image_shape != first.images.image_shape
            || snapshot.images.len() != first.images.len()
        {
            return Err(grid.invalid("class examples differ in count or shape between rounds"));
        }
    }

    let [channels, height, width] = first.images.image_shape;
    let (rows, columns) = (first.images.len(), examples.len());
    let tile_width = width * SCALE + GAP;
    let tile_height = height * SCALE + GAP;
    let grid_width = columns * tile_width - GAP;
    let grid_height = rows * tile_height - GAP;
    let mut pixels = vec![GAP_VALUE; grid_width * grid_height * channels];
    for (column, snapshot) in examples.iter().enumerate() {
        for row in 0..rows {
            let image = snapshot.images.image(row);
            let corner = (column * tile_width, row * tile_height);
            draw_tile(
                &mut pixels,
                grid_width,
                image,
                first.images.image_shape,
                corner,
            );
        }
    }

    let grid = GridImages {
        row: GridRow::Split(first.split),
        round: first.round,
        images: &first.images,
    };
    let size = (grid_width, grid_height);
    encode_png(&pixels, size, channels, &grid, CLASS_EXAMPLES_FILE).map(Some)
}

/// Encodes interleaved `pixels` of `size` (width, height) as PNG: grayscale for one channel,
/// RGB for three. `grid` and `file_name` name the image in errors.
fn encode_png(
    pixels: &[u8],
    size: (usize, usize),
    channels: usize,
    grid: &GridImages<'_>,
    file_name: &str,
) -> Result<Vec<u8>, ReportError> {
    let color_type = if channels == 1 {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            pixels,
            to_u32(size.0, grid)?,
            to_u32(size.1, grid)?,
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
fn validate_split(grid: &GridImages<'_>) -> Result<(), ReportError> {
    let split: &Split = grid.images;
    let [channels, height, width] = split.image_shape;

    if split.is_empty() {
        return Err(grid.invalid("it contains no images"));
    }
    if channels != 1 && channels != 3 {
        return Err(grid.invalid(&format!(
            "images have {channels} channels, expected 1 (grayscale) or 3 (RGB)"
        )));
    }
    if height == 0 || width == 0 {
        return Err(grid.invalid(&format!(
            "image shape {:?} has a zero side",
            split.image_shape
        )));
    }
    let expected = split.len() * split.image_len();
    if split.images.len() != expected {
        return Err(grid.invalid(&format!(
            "{} pixel values for {} labels of shape {:?}, expected {expected}",
            split.images.len(),
            split.len(),
            split.image_shape
        )));
    }
    Ok(())
}

/// Maps an intensity in [0, 1] to a byte. Values outside are clamped, and NaN becomes 0
/// because a float-to-int cast saturates and maps NaN to 0.
fn to_byte(value: f32) -> u8 {
    (value.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn to_u32(side: usize, grid: &GridImages<'_>) -> Result<u32, ReportError> {
    u32::try_from(side).map_err(|_| grid.invalid(&format!("grid side {side} is too large")))
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
