//! The HTML page: links, facts, escaping, self-containment and the refresh tag.

mod common;

use common::{input_with_rounds, text};
use irl_report::{INDEX_FILE, render};

/// Values of every `attribute="..."` in `html`.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .map(|(start, _)| {
            let value = &html[start + marker.len()..];
            &value[..value.find('"').expect("attribute value is closed")]
        })
        .collect()
}

const REFRESH_TAG: &str = "<meta http-equiv=\"refresh\" content=\"30\">";

#[test]
fn page_links_only_to_rendered_files() {
    let files = render(&input_with_rounds(4)).unwrap();
    let html = text(&files, INDEX_FILE);
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();

    let mut references = attribute_values(&html, "src");
    references.extend(attribute_values(&html, "href"));
    for reference in &references {
        assert!(
            names.contains(reference),
            "{reference} is not among {names:?}"
        );
    }
    // Every figure is on the page: loss.svg, three measurement panels, the two heat maps,
    // six grids (each shown and linked) and the grid of one image per class.
    let figures: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| name.ends_with(".svg") || name.ends_with(".png"))
        .collect();
    assert_eq!(figures.len(), 1 + 3 + 2 + 6 + 1, "{figures:?}");
    for figure in figures {
        assert!(references.contains(&figure), "{figure} is not on the page");
    }
}

#[test]
fn heat_maps_show_recall_and_confusion() {
    let files = render(&input_with_rounds(4)).unwrap();
    let recall = text(&files, "class-recall.svg");
    // Rounds 0 to 4 of ten classes: class 9 at round 4 has recall 0.99 - 0.72.
    let cell = |text: &str| format!(">\n{text}\n</text>");
    assert!(recall.contains(&cell("0.27")), "{recall}");
    assert!(recall.contains(&cell("0.99")));
    let confusion = text(&files, "confusion.svg");
    assert!(confusion.contains("Confusion at round 4"));
    assert!(confusion.contains(&cell("20")));
    assert!(confusion.contains(&cell("80")));
    let html = text(&files, INDEX_FILE);
    assert!(
        html.contains("Final class retention</dt><dd>0.9400"),
        "{html}"
    );
}

#[test]
fn panels_draw_only_measurements_the_run_has() {
    let files = render(&input_with_rounds(4)).unwrap();
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    for drawn in [
        "class-retention.svg",
        "latent-similarity.svg",
        "loss-vs-original.svg",
    ] {
        assert!(names.contains(&drawn), "{drawn} missing from {names:?}");
    }
    for absent in ["vae-kl.svg", "effective-rank.svg", "latent-probes.svg"] {
        assert!(!names.contains(&absent), "{absent} drawn without data");
    }
    let retention = text(&files, "class-retention.svg");
    assert!(retention.contains("class_accuracy train"));
    assert!(retention.contains("class_accuracy test"));
}

#[test]
fn page_loads_nothing_from_network() {
    let files = render(&input_with_rounds(4)).unwrap();
    let html = text(&files, INDEX_FILE);

    assert!(!html.contains("<script"));
    assert!(!html.contains("http://"));
    assert!(!html.contains("https://"));
    assert!(!html.contains("<link"));
}

#[test]
fn page_shows_run_facts() {
    let mut input = input_with_rounds(4);
    let files = render(&input).unwrap();
    let html = text(&files, INDEX_FILE);

    assert!(html.contains("<h1>mnist-conv-ae</h1>"));
    assert!(html.contains("0.1.0-test"));
    assert!(html.contains("4 of 30"));
    assert!(html.contains("not converged"));

    input.converged_at = Some(4);
    let html = text(&render(&input).unwrap(), INDEX_FILE);
    assert!(html.contains("at round 4"));
    assert!(!html.contains("not converged"));
    assert!(html.contains("<tr class=\"converged\""));
}

#[test]
fn page_tables_metrics_per_round() {
    let files = render(&input_with_rounds(4)).unwrap();
    let html = text(&files, INDEX_FILE);

    assert!(html.contains("<th colspan=\"3\">train</th><th colspan=\"3\">test</th>"));
    // Round 1: train recon_loss 30.5, test 31.25, test loss_vs_original 31.25.
    assert!(html.contains(
        "<td class=\"number\">1</td><td class=\"number\">30.50</td><td class=\"number\">30.50</td>"
    ));
    assert!(html.contains("<td class=\"number\">31.25</td>"));
    for round in 1..=4 {
        assert!(
            html.contains(&format!("<tr><td class=\"number\">{round}</td>")),
            "round {round} row"
        );
    }
}

#[test]
fn page_lays_out_grids_by_split_and_round() {
    let files = render(&input_with_rounds(4)).unwrap();
    let html = text(&files, INDEX_FILE);

    assert!(
        html.contains("<tr><th>split</th><th>original</th><th>round 1</th><th>round 2</th></tr>")
    );
    let train_row = html.find("<tr><th>train</th>").expect("train row");
    let test_row = html.find("<tr><th>test</th>").expect("test row");
    assert!(train_row < test_row);
    assert!(html[train_row..test_row].contains("src=\"grid-train-r00.png\""));
    assert!(html[test_row..].contains("src=\"grid-test-r02.png\""));
}

#[test]
fn page_escapes_pipeline_text() {
    let mut input = input_with_rounds(2);
    input.pipeline_yaml =
        "rule: loss < 0.01 && x > 1\nnote: \"</pre><script>alert(1)</script>\"\n".to_owned();
    let files = render(&input).unwrap();
    let html = text(&files, INDEX_FILE);

    let start = html.find("<pre>").expect("pipeline block") + "<pre>".len();
    let end = html[start..].find("</pre>").expect("pipeline block end") + start;
    let block = &html[start..end];
    assert!(
        block.contains("rule: loss &lt; 0.01 &amp;&amp; x &gt; 1"),
        "{block}"
    );
    assert!(block.contains("&lt;/pre&gt;&lt;script&gt;"), "{block}");
    assert!(!block.contains('<'), "{block}");
    assert!(!html.contains("<script"));
}

#[test]
fn page_escapes_run_name() {
    let mut input = input_with_rounds(1);
    input.run_name = "a<b & c".to_owned();
    let html = text(&render(&input).unwrap(), INDEX_FILE);

    assert!(html.contains("<h1>a&lt;b &amp; c</h1>"));
}

#[test]
fn refresh_tag_only_while_in_progress() {
    // (rounds done, max_iterations, converged_at, refresh expected)
    let cases = [
        (0, 30, None, true),
        (3, 30, None, true),
        (3, 30, Some(3), false),
        (30, 30, None, false),
        (5, 5, Some(5), false),
    ];
    for (rounds, max_iterations, converged_at, expected) in cases {
        let mut input = input_with_rounds(rounds);
        input.max_iterations = max_iterations;
        input.converged_at = converged_at;
        let html = text(&render(&input).unwrap(), INDEX_FILE);

        assert_eq!(
            html.contains(REFRESH_TAG),
            expected,
            "rounds {rounds} of {max_iterations}, converged at {converged_at:?}"
        );
        assert_eq!(input.is_in_progress(), expected);
    }
}

#[test]
fn empty_run_renders_placeholders() {
    let mut input = input_with_rounds(0);
    input.snapshots.clear();
    input.class_examples.clear();
    input.class_recall.clear();
    let files = render(&input).unwrap();
    let html = text(&files, INDEX_FILE);

    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(names, ["index.html", "loss.svg", "summary.md"]);
    assert!(html.contains("0 of 30"));
    assert!(html.contains("No round has finished yet."));
    assert!(html.contains("No image snapshots yet."));
}
