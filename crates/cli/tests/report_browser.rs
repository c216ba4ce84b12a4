//! The report of a small real run, opened in headless Chromium: every image loads, the page logs
//! nothing to the console, and its screenshot is not blank.
//!
//! Chromium is found as `IRL_CHROMIUM`, or `chromium` on the PATH (Debian's package). It starts
//! with background networking off and only reads files of the report folder.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{check, run_command, small};

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("IRL_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
            .expect("sh starts");
        if found.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
        }
    }
    panic!(
        "Chromium is not installed; install the Debian package (apt-get install chromium) or \
         set IRL_CHROMIUM to the browser's path"
    );
}

/// Runs headless Chromium on `page` with `arguments`; returns its stdout and stderr.
fn headless(page: &Path, arguments: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(arguments)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Page that loads the report in a frame and writes, once everything has loaded, how many
/// images the report has and which of them failed.
const CHECK_PAGE: &str = r#"<!DOCTYPE html>
<html><body><pre id="result">pending</pre>
<iframe id="report" src="report/index.html" style="width:1200px;height:900px"></iframe>
<script>
window.addEventListener('load', () => {
  const page = document.getElementById('report').contentDocument;
  const images = Array.from(page.images);
  const broken = images
    .filter(image => !image.complete || image.naturalWidth === 0)
    .map(image => image.getAttribute('src'));
  document.getElementById('result').textContent =
    'images=' + images.length + ' broken=' + JSON.stringify(broken);
});
</script></body></html>
"#;

#[test]
fn report_opens_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut overrides = small(2, 1, 600);
    overrides.extend([
        "evaluation.probe_images=200".to_string(),
        "evaluation.classifier.epochs=1".to_string(),
        "report.snapshot_rounds=[1, 2]".to_string(),
    ]);
    check(run_command(&store, &overrides));
    let run = store.join("runs/mnist-ae").canonicalize().unwrap();
    let report = run.join("report");

    // Every image of the page loads: 6 grids, the class grid, the loss plot, 6 panels and 2 heat
    // maps.
    let check_page = run.join("check.html");
    std::fs::write(&check_page, CHECK_PAGE).unwrap();
    let (dom, log) = headless(
        &check_page,
        &[
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ],
    );
    let result = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no result in the page:\n{dom}"));
    assert_eq!(result, "images=16 broken=[]", "{log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(":CONSOLE") && line.contains("/report/"))
        .collect();
    assert!(console.is_empty(), "{console:?}");

    // The screenshot shows the page: dark pixels of text and plots on a white background.
    let screenshot = dir.path().join("report.png");
    let (_, log) = headless(
        &report.join("index.html"),
        &[
            "--hide-scrollbars",
            "--window-size=1200,2400",
            &format!("--screenshot={}", screenshot.display()),
        ],
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .collect();
    assert!(console.is_empty(), "{console:?}");
    let image = image::open(&screenshot).unwrap().to_luma8();
    let dark = image.pixels().filter(|pixel| pixel.0[0] < 128).count();
    let share = dark as f64 / (image.width() * image.height()) as f64;
    assert!(
        (0.005..0.6).contains(&share),
        "{share} of the screenshot is dark"
    );
}
