//! The Markdown summary, compared with a reviewed snapshot.

mod common;

use common::{input_with_rounds, text};
use irl_report::{SUMMARY_FILE, render};

#[test]
fn summary_of_run_in_progress() {
    let files = render(&input_with_rounds(4)).unwrap();

    insta::assert_snapshot!(text(&files, SUMMARY_FILE));
}

#[test]
fn summary_of_converged_run() {
    let mut input = input_with_rounds(3);
    input.converged_at = Some(3);
    input.run_name = "mnist_conv|ae".to_owned();
    let files = render(&input).unwrap();

    insta::assert_snapshot!(text(&files, SUMMARY_FILE));
}

#[test]
fn summary_links_only_to_rendered_files() {
    let files = render(&input_with_rounds(4)).unwrap();
    let summary = text(&files, SUMMARY_FILE);
    let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();

    let targets: Vec<&str> = summary
        .match_indices("](")
        .map(|(start, _)| {
            let target = &summary[start + 2..];
            &target[..target.find(')').expect("closed link")]
        })
        .collect();
    assert_eq!(targets.len(), 1 + 6);
    for target in targets {
        assert!(names.contains(&target), "{target} is not among {names:?}");
    }
}
