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
    // loss.svg and six grids, each grid linked and shown.
    assert_eq!(references.len(), 1 + 6 * 2, "{references:?}");
    for reference in references {
        assert!(
            names.contains(&reference),
            "{reference} is not among {names:?}"
        );
    }
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
    let files = render(&input).unwrap();
    let html = text(&files, INDEX_FILE);

    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
    assert_eq!(names, ["index.html", "loss.svg", "summary.md"]);
    assert!(html.contains("0 of 30"));
    assert!(html.contains("No round has finished yet."));
    assert!(html.contains("No image snapshots yet."));
}
