//! The text of `irl status`, with digests, times and paths filtered out.

mod common;

use common::{check, irl, run_command, small};

#[test]
fn status_lists_stages_in_chain_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    check(run_command(&store, &small(2, 1, 300)));

    let mut status = irl(&store);
    status.arg("status").arg("mnist-ae");
    let stdout = String::from_utf8(check(status).stdout).unwrap();

    let filters = vec![
        (r"\b[0-9a-f]{12}\b", "[digest]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
        (r"\s+\d+\.\d\s", " [seconds] "),
    ];
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!(stdout);
    });
}
