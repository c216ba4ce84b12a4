//! The loss plot: one line with markers per split, labels and legend.

mod common;

use common::{input_with_rounds, text};
use irl_report::{LOSS_PLOT_FILE, render};

/// Point lists of the `<polyline>` elements in `svg`.
fn polyline_points(svg: &str) -> Vec<Vec<(f64, f64)>> {
    svg.match_indices("<polyline")
        .map(|(start, _)| {
            let element = &svg[start..start + svg[start..].find("/>").expect("closed polyline")];
            let points = element.split("points=\"").nth(1).expect("points attribute");
            points[..points.find('"').unwrap()]
                .split_whitespace()
                .map(|pair| {
                    let (x, y) = pair.split_once(',').expect("x,y pair");
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// Trimmed contents of the `<text>` elements in `svg`.
fn text_contents(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .map(|element| {
            let content = &element[element.find('>').expect("closed start tag") + 1..];
            content[..content.find("</text>").expect("closed text")].trim()
        })
        .collect()
}

#[test]
fn plot_has_line_per_split() {
    let rounds = 5;
    let svg = text(&render(&input_with_rounds(rounds)).unwrap(), LOSS_PLOT_FILE);

    // The legend samples are two-point polylines, so only the data lines have five points.
    let lines: Vec<Vec<(f64, f64)>> = polyline_points(&svg)
        .into_iter()
        .filter(|points| points.len() == rounds as usize)
        .collect();
    assert_eq!(lines.len(), 2, "{svg}");
    for line in &lines {
        let xs: Vec<f64> = line.iter().map(|&(x, _)| x).collect();
        assert!(
            xs.windows(2).all(|pair| pair[0] < pair[1]),
            "x rises: {xs:?}"
        );
        // Losses fall, and SVG y grows downwards.
        let ys: Vec<f64> = line.iter().map(|&(_, y)| y).collect();
        assert!(
            ys.windows(2).all(|pair| pair[0] < pair[1]),
            "loss falls: {ys:?}"
        );
    }
    assert_ne!(lines[0], lines[1]);
}

#[test]
fn plot_has_markers_labels_and_legend() {
    let rounds = 5;
    let svg = text(&render(&input_with_rounds(rounds)).unwrap(), LOSS_PLOT_FILE);

    // Train points and their legend sample are circles. Test points and theirs are triangles,
    // which SVG draws as polygons.
    assert_eq!(svg.matches("<circle").count(), rounds as usize + 1);
    assert_eq!(svg.matches("<polygon").count(), rounds as usize + 1);
    let texts = text_contents(&svg);
    for label in ["round", "recon_loss (log scale)", "train", "test"] {
        assert!(
            texts.contains(&label),
            "missing text {label} among {texts:?}"
        );
    }
}

#[test]
fn plot_y_axis_is_logarithmic() {
    let svg = text(&render(&input_with_rounds(5)).unwrap(), LOSS_PLOT_FILE);
    let train = polyline_points(&svg)
        .into_iter()
        .find(|points| points.len() == 5)
        .expect("train line");

    // Train losses are 18 + 12.5 * 0.55^k. On a log axis the pixel drop between two rounds is
    // proportional to the ratio of their losses' logarithms.
    let losses: Vec<f64> = (0..5).map(|k| 18.0 + 12.5 * 0.55_f64.powi(k)).collect();
    let first_drop = train[1].1 - train[0].1;
    let second_drop = train[2].1 - train[1].1;
    let expected = (losses[0] / losses[1]).ln() / (losses[1] / losses[2]).ln();
    let linear = (losses[0] - losses[1]) / (losses[1] - losses[2]);
    let measured = first_drop / second_drop;
    assert!(
        (measured - expected).abs() < (measured - linear).abs(),
        "measured {measured}, log {expected}, linear {linear}"
    );
}

#[test]
fn plot_labels_y_axis_within_one_decade() {
    let svg = text(&render(&input_with_rounds(5)).unwrap(), LOSS_PLOT_FILE);
    let texts = text_contents(&svg);

    // Losses run from about 18 to 31.25, so the axis spans about 16 to 36 and no power of ten.
    for tick in ["20", "25", "30"] {
        assert!(
            texts.contains(&tick),
            "missing y tick {tick} among {texts:?}"
        );
    }
}

#[test]
fn plot_skips_losses_a_log_axis_cannot_show() {
    let mut input = input_with_rounds(4);
    input.metrics[0].recon_loss = 0.0;
    input.metrics[2].recon_loss = f64::NAN;
    let svg = text(&render(&input).unwrap(), LOSS_PLOT_FILE);

    let lengths: Vec<usize> = polyline_points(&svg).iter().map(Vec::len).collect();
    assert!(
        lengths.contains(&2),
        "train keeps rounds 3 and 4: {lengths:?}"
    );
    assert!(lengths.contains(&4), "test keeps all rounds: {lengths:?}");
}

#[test]
fn plot_without_rounds_shows_message() {
    let svg = text(&render(&input_with_rounds(0)).unwrap(), LOSS_PLOT_FILE);

    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("no round has a value to plot yet."));
    assert!(!svg.contains("<polyline"));
}
