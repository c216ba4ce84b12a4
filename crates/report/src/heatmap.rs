//! Heat maps: per-class recall against the round, and the confusion matrix of one round.
//!
//! Both are drawn cell by cell on plotters' SVG backend, with the value written in each cell so
//! that the map reads without a colour scale.

use std::collections::{BTreeMap, BTreeSet};

use irl_store::SplitName;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Confusion, RecallCell, ReportError};

const FONT: &str = "sans-serif";
/// Colour of the largest value; cells fade to white towards 0.
const FULL: (f64, f64, f64) = (8.0, 48.0, 107.0);
const LEFT: i32 = 80;
const TOP: i32 = 50;

/// Cells of a map: (column, row) -> (shade in [0, 1], text).
struct Cells {
    caption: String,
    x_desc: &'static str,
    y_desc: &'static str,
    columns: Vec<String>,
    rows: Vec<String>,
    values: BTreeMap<(usize, usize), (f64, String)>,
    cell: (i32, i32),
}

/// Renders the recall of each class (rows) at each round (columns) on the test split. The
/// darkest cell has the highest recall and the white one the lowest.
pub(crate) fn render_recall_map(cells: &[RecallCell]) -> Result<Option<String>, ReportError> {
    let test: Vec<&RecallCell> = cells
        .iter()
        .filter(|cell| cell.split == SplitName::Test)
        .collect();
    if test.is_empty() {
        return Ok(None);
    }
    let rounds: BTreeSet<u32> = test.iter().map(|cell| cell.round).collect();
    let classes: BTreeSet<u32> = test.iter().map(|cell| cell.class).collect();
    let rounds: Vec<u32> = rounds.into_iter().collect();
    let classes: Vec<u32> = classes.into_iter().collect();

    // Shading spans the recalls present, so a class that falls from 0.99 to 0.7 fades visibly.
    let low = test
        .iter()
        .map(|cell| cell.recall)
        .fold(f64::INFINITY, f64::min);
    let high = test
        .iter()
        .map(|cell| cell.recall)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (high - low).max(1e-9);
    let mut values = BTreeMap::new();
    for cell in test {
        let column = rounds.binary_search(&cell.round).unwrap_or_default();
        let row = classes.binary_search(&cell.class).unwrap_or_default();
        let text = format!("{:.2}", cell.recall);
        values.insert((column, row), ((cell.recall - low) / span, text));
    }

    let width = if rounds.len() > 20 { 26 } else { 34 };
    draw(&Cells {
        caption: format!("Recall per class, test images (shading from {low:.2} to {high:.2})"),
        x_desc: "round (0: original)",
        y_desc: "class",
        columns: rounds.iter().map(u32::to_string).collect(),
        rows: classes.iter().map(u32::to_string).collect(),
        values,
        cell: (width, 24),
    })
    .map(Some)
}

/// Renders the confusion matrix: true class (rows) against predicted class (columns), each cell
/// the share of the row's images.
pub(crate) fn render_confusion(confusion: &Confusion) -> Result<Option<String>, ReportError> {
    let classes: BTreeSet<u32> = confusion
        .counts
        .iter()
        .flat_map(|&(truth, predicted, _)| [truth, predicted])
        .collect();
    if classes.is_empty() {
        return Ok(None);
    }
    let classes: Vec<u32> = classes.into_iter().collect();
    let mut totals: BTreeMap<u32, u64> = BTreeMap::new();
    for &(truth, _, count) in &confusion.counts {
        *totals.entry(truth).or_default() += count;
    }
    let mut values = BTreeMap::new();
    for &(truth, predicted, count) in &confusion.counts {
        let total = totals[&truth].max(1) as f64;
        let column = classes.binary_search(&predicted).unwrap_or_default();
        let row = classes.binary_search(&truth).unwrap_or_default();
        values.insert((column, row), (count as f64 / total, count.to_string()));
    }
    draw(&Cells {
        caption: format!("Confusion at round {}, test images", confusion.round),
        x_desc: "predicted class",
        y_desc: "true class",
        columns: classes.iter().map(u32::to_string).collect(),
        rows: classes.iter().map(u32::to_string).collect(),
        values,
        cell: (44, 30),
    })
    .map(Some)
}

fn draw(cells: &Cells) -> Result<String, ReportError> {
    let (cell_width, cell_height) = cells.cell;
    let width = LEFT + cell_width * cells.columns.len() as i32 + 20;
    let height = TOP + cell_height * cells.rows.len() as i32 + 60;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        draw_cells(&root, cells).map_err(|source| ReportError::DrawPlot { source })?;
    }
    Ok(svg)
}

fn draw_cells(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    cells: &Cells,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let (cell_width, cell_height) = cells.cell;
    let centred = |size: u32| {
        TextStyle::from((FONT, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center))
    };
    root.draw(&Text::new(
        cells.caption.clone(),
        (LEFT + cell_width * cells.columns.len() as i32 / 2, 18),
        centred(20),
    ))?;
    for ((column, row), (shade, text)) in &cells.values {
        let left = LEFT + cell_width * *column as i32;
        let top = TOP + cell_height * *row as i32;
        let mix = |full: f64| (255.0 - (255.0 - full) * shade).round() as u8;
        let fill = RGBColor(mix(FULL.0), mix(FULL.1), mix(FULL.2));
        root.draw(&Rectangle::new(
            [(left, top), (left + cell_width, top + cell_height)],
            fill.filled(),
        ))?;
        let ink = if *shade > 0.55 { WHITE } else { BLACK };
        root.draw(&Text::new(
            text.clone(),
            (left + cell_width / 2, top + cell_height / 2),
            centred(13).color(&ink),
        ))?;
    }

    // The frame, the tick labels and the axis names.
    let bottom = TOP + cell_height * cells.rows.len() as i32;
    root.draw(&Rectangle::new(
        [
            (LEFT, TOP),
            (LEFT + cell_width * cells.columns.len() as i32, bottom),
        ],
        BLACK.stroke_width(1),
    ))?;
    for (index, label) in cells.columns.iter().enumerate() {
        let x = LEFT + cell_width * index as i32 + cell_width / 2;
        root.draw(&Text::new(label.clone(), (x, bottom + 12), centred(14)))?;
    }
    for (index, label) in cells.rows.iter().enumerate() {
        let y = TOP + cell_height * index as i32 + cell_height / 2;
        root.draw(&Text::new(label.clone(), (LEFT - 14, y), centred(14)))?;
    }
    root.draw(&Text::new(
        cells.x_desc,
        (
            LEFT + cell_width * cells.columns.len() as i32 / 2,
            bottom + 34,
        ),
        centred(16),
    ))?;
    root.draw(&Text::new(
        cells.y_desc,
        (LEFT - 44, TOP + cell_height * cells.rows.len() as i32 / 2),
        centred(16).transform(FontTransform::Rotate270),
    ))?;
    root.present()
}
