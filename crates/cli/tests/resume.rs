//! Killing a run, mid-training and mid-write, loses nothing: the rerun reuses finished stages,
//! resumes training from its last epoch, and ends with the same artifacts as a run that was
//! never interrupted.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{check, run_command, small, stage_outputs};

fn overrides() -> Vec<String> {
    small(2, 3, 1000)
}

fn spawn(store: &Path) -> Child {
    run_command(store, &overrides())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("irl starts")
}

fn any_file(dir: &Path, accept: &dyn Fn(&Path) -> bool) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            any_file(&path, accept)
        } else {
            accept(&path)
        }
    })
}

/// Polls until `condition` is true or the child exits; returns whether the condition was met.
fn wait_for(child: &mut Child, condition: &dyn Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::yield_now();
    }
    panic!("timed out waiting for the run");
}

fn kill(mut child: Child) {
    child.kill().expect("SIGKILL is sent");
    child.wait().unwrap();
}

#[test]
fn killed_run_resumes_to_same_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("uninterrupted");
    check(run_command(&reference, &overrides()));
    let expected = stage_outputs(&reference, "mnist-ae");
    // Ingest: dataset, labels, preview, card, source files. Reference: classifier,
    // predictions, class recall, confusion, spread. Each round: model, dataset, preview, and
    // the evaluate stage's metrics, predictions, class recall, confusion, spread and probe
    // latents.
    assert_eq!(expected.len(), 5 + 5 + 2 * 9, "{expected:?}");

    // Kill during round 2's training, once its first epoch checkpoint exists.
    let store = dir.path().join("interrupted");
    let mut child = spawn(&store);
    let checkpoints = store.join("checkpoints");
    let round_two_started = || {
        store.join("runs/mnist-ae/iter-01/metrics.parquet").exists()
            && any_file(&checkpoints, &|path| path.ends_with("epoch-0001.json"))
    };
    assert!(
        wait_for(&mut child, &round_two_started),
        "the run ended first"
    );
    kill(child);
    let state = irl_store::Store::open(&store)
        .unwrap()
        .run_state("mnist-ae")
        .unwrap();
    assert!(state.slots.contains_key("iter-01/evaluate"));
    assert!(!state.slots.contains_key("iter-02/train"));

    // Kill again while an object is being written.
    let mut child = spawn(&store);
    let tmp = store.join("tmp");
    let writing = || any_file(&tmp, &|path| !path.to_string_lossy().ends_with(".partial"));
    let caught = wait_for(&mut child, &writing);
    kill(child);
    eprintln!("killed mid-write: {caught}");

    // The last run completes, reuses the finished stages and matches the reference.
    let output = check(run_command(&store, &overrides()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reused"), "{stderr}");
    assert!(
        stderr.contains("reused slot=iter-01/train"),
        "round 1 trained again:\n{stderr}"
    );
    assert_eq!(stage_outputs(&store, "mnist-ae"), expected);
    assert!(
        !any_file(&checkpoints, &|_| true),
        "checkpoints of finished stages are removed"
    );
}

#[test]
fn resumed_training_starts_after_last_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut child = spawn(&store);
    let checkpoints = store.join("checkpoints");
    let epoch_two = || any_file(&checkpoints, &|path| path.ends_with("epoch-0002.json"));
    assert!(wait_for(&mut child, &epoch_two), "the run ended first");
    kill(child);

    let output = check(run_command(&store, &overrides()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("resuming training from checkpoint round=1 epoch=2"),
        "{stderr}"
    );
}

#[test]
fn second_writer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut child = spawn(&store);
    let lock = store.join("runs/mnist-ae/.lock");
    let held = || std::fs::read_to_string(&lock).is_ok_and(|text| text.starts_with("pid"));
    assert!(wait_for(&mut child, &held), "the run ended first");

    let output = run_command(&store, &overrides()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "locked by another irl process (pid {}",
            child.id()
        )),
        "{stderr}"
    );
    kill(child);
}
