//! Image grids: file names, size, pixel values, clamping and RGB snapshots.

mod common;

use common::{SIDE, input_with_rounds, pattern_value, snapshot};
use image::{DynamicImage, ImageFormat};
use irl_report::{ReportError, ReportInput, Snapshot, render};
use irl_store::{Split, SplitName};

fn decode(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory_with_format(bytes, ImageFormat::Png).expect("grid is a valid PNG")
}

/// Renders an input whose only content is `snapshots`.
fn render_snapshots(snapshots: Vec<Snapshot>) -> Result<Vec<irl_report::ReportFile>, ReportError> {
    let mut input: ReportInput = input_with_rounds(0);
    input.snapshots = snapshots;
    render(&input)
}

#[test]
fn grid_files_named_by_split_and_round() {
    let files = render(&input_with_rounds(3)).unwrap();

    for name in [
        "grid-train-r00.png",
        "grid-train-r01.png",
        "grid-train-r02.png",
        "grid-test-r00.png",
        "grid-test-r01.png",
        "grid-test-r02.png",
    ] {
        assert!(files.iter().any(|file| file.name == name), "missing {name}");
    }
}

#[test]
fn grid_of_25_digits_has_expected_size() {
    let files = render(&input_with_rounds(3)).unwrap();
    let grid = decode(common::file(&files, "grid-train-r01.png"));

    // 5 tiles of 28 * 3 pixels and 4 gaps of 2 pixels each way.
    assert_eq!(grid.width(), 428);
    assert_eq!(grid.height(), 428);
    assert_eq!(grid.color(), image::ColorType::L8);
}

#[test]
fn grid_pixel_matches_source_image() {
    let round = 1;
    let files = render(&input_with_rounds(3)).unwrap();
    let grid = decode(common::file(&files, "grid-train-r01.png")).into_luma8();

    // Image 7 sits in row 1, column 2 of the 5x5 grid. Each tile is 84 pixels plus a 2-pixel gap.
    let (index, y, x) = (7, 5, 9);
    let expected = (pattern_value(index, round, y, x) * 255.0).round() as u8;
    let left = 2 * 86 + x * 3;
    let top = 86 + y * 3;
    for (dx, dy) in [(0, 0), (2, 0), (0, 2), (2, 2)] {
        let pixel = grid.get_pixel((left + dx) as u32, (top + dy) as u32)[0];
        assert_eq!(pixel, expected, "grid pixel ({}, {})", left + dx, top + dy);
    }
}

#[test]
fn grid_gap_is_mid_grey() {
    let files = render(&input_with_rounds(3)).unwrap();
    let grid = decode(common::file(&files, "grid-test-r00.png")).into_luma8();

    assert_eq!(grid.get_pixel(84, 10)[0], 128);
    assert_eq!(grid.get_pixel(85, 10)[0], 128);
    assert_eq!(grid.get_pixel(10, 85)[0], 128);
}

#[test]
fn grid_shows_only_first_25_images() {
    let files = render_snapshots(vec![snapshot(SplitName::Train, 0, 40)]).unwrap();
    let grid = decode(common::file(&files, "grid-train-r00.png"));

    assert_eq!((grid.width(), grid.height()), (428, 428));
}

#[test]
fn grid_of_10_images_uses_ceil_sqrt_columns() {
    let files = render_snapshots(vec![snapshot(SplitName::Train, 0, 10)]).unwrap();
    let grid = decode(common::file(&files, "grid-train-r00.png"));

    // ceil(sqrt(10)) = 4 columns, and 10 images need 3 rows of 4.
    assert_eq!(grid.width(), 4 * 84 + 3 * 2);
    assert_eq!(grid.height(), 3 * 84 + 2 * 2);
}

#[test]
fn grid_clamps_values_outside_unit_range() {
    let mut single = snapshot(SplitName::Test, 0, 1);
    single.images.images[0] = -0.5;
    single.images.images[1] = 1.5;
    let files = render_snapshots(vec![single]).unwrap();
    let grid = decode(common::file(&files, "grid-test-r00.png")).into_luma8();

    assert_eq!(grid.dimensions(), (84, 84));
    assert_eq!(grid.get_pixel(1, 1)[0], 0);
    assert_eq!(grid.get_pixel(4, 1)[0], 255);
}

#[test]
fn grid_of_rgb_images_is_rgb() {
    let side = 4;
    let plane = side * side;
    let count = 4;
    // Red channel 1.0, green 0.5, blue 0.0 in every pixel of every image.
    let mut images = Vec::new();
    for _ in 0..count {
        images.extend(std::iter::repeat_n(1.0_f32, plane));
        images.extend(std::iter::repeat_n(0.5_f32, plane));
        images.extend(std::iter::repeat_n(0.0_f32, plane));
    }
    let rgb = Snapshot {
        round: 2,
        split: SplitName::Train,
        images: Split {
            images,
            labels: vec![0; count],
            image_shape: [3, side, side],
        },
    };
    let files = render_snapshots(vec![rgb]).unwrap();
    let grid = decode(common::file(&files, "grid-train-r02.png"));

    assert_eq!(grid.color(), image::ColorType::Rgb8);
    assert_eq!((grid.width(), grid.height()), (2 * 12 + 2, 2 * 12 + 2));
    let grid = grid.into_rgb8();
    assert_eq!(grid.get_pixel(0, 0).0, [255, 128, 0]);
    assert_eq!(grid.get_pixel(25, 25).0, [255, 128, 0]);
    assert_eq!(grid.get_pixel(12, 0).0, [128, 128, 128]);
}

#[test]
fn snapshot_with_bad_shape_is_rejected() {
    let mut two_channels = snapshot(SplitName::Train, 1, 2);
    two_channels.images.image_shape = [2, SIDE / 2, SIDE];
    let mut short = snapshot(SplitName::Train, 1, 2);
    short.images.images.pop();
    let empty = snapshot(SplitName::Train, 1, 0);

    for (case, bad) in [
        ("two channels", two_channels),
        ("too few values", short),
        ("no images", empty),
    ] {
        let error = render_snapshots(vec![bad]).unwrap_err();
        assert!(
            matches!(
                error,
                ReportError::InvalidSnapshot {
                    split: SplitName::Train,
                    round: 1,
                    ..
                }
            ),
            "{case}: got {error:?}"
        );
    }
}

#[test]
fn duplicate_snapshot_is_rejected() {
    let error = render_snapshots(vec![
        snapshot(SplitName::Test, 1, 4),
        snapshot(SplitName::Test, 1, 4),
    ])
    .unwrap_err();

    assert!(
        matches!(error, ReportError::InvalidSnapshot { round: 1, .. }),
        "got {error:?}"
    );
    assert!(
        error.to_string().contains("same split and round"),
        "{error}"
    );
}
