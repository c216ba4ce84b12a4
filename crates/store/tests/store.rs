//! The object store: atomic publishing, deduplication, verify, gc and run locks.

use std::collections::BTreeMap;
use std::io::Write;

use irl_store::{KeyInputs, Outcome, RunState, SlotState, StageRecord, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn files_under(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.path().is_dir() {
                files.extend(files_under(&entry.path()));
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

fn record(store: &Store, name: &str, bytes: &[u8]) -> StageRecord {
    let object = store.put(bytes, "bin").unwrap();
    let key_inputs = KeyInputs {
        stage: "test".into(),
        version: 1,
        params: serde_json::json!({ "name": name }),
        inputs: BTreeMap::new(),
        seed: None,
        backend: None,
    };
    StageRecord {
        key: key_inputs.key(),
        key_inputs,
        slot: name.into(),
        run: "run".into(),
        outputs: BTreeMap::from([("out".to_string(), object)]),
        started_at: irl_store::now_rfc3339(),
        seconds: 0.0,
        tool_version: "test".into(),
    }
}

#[test]
fn object_is_named_by_its_digest() {
    let (_dir, store) = store();
    let object = store.put(b"hello", "txt").unwrap();
    assert_eq!(
        object.digest.to_hex(),
        blake3::hash(b"hello").to_hex().to_string()
    );
    assert_eq!(object.size, 5);
    assert_eq!(std::fs::read(store.object_path(&object)).unwrap(), b"hello");
    assert!(files_under(&store.root().join("tmp")).is_empty());
}

#[test]
fn unpublished_writer_leaves_no_object() {
    let (_dir, store) = store();
    let mut writer = store.writer("bin").unwrap();
    writer.write_all(b"half an object").unwrap();
    let tmp = writer.tmp_path().to_path_buf();
    drop(writer); // as if the process died before publish

    assert!(files_under(&store.root().join("objects")).is_empty());
    assert!(tmp.exists());
    // The writing process (this one) is alive, so its file stays until it exits.
    assert_eq!(store.clean_tmp().unwrap(), 0);
}

#[test]
fn dead_process_tmp_files_are_removed() {
    let (_dir, store) = store();
    let stale = store.root().join("tmp").join("4000000000-0.safetensors");
    std::fs::write(&stale, b"partial").unwrap();
    assert_eq!(store.clean_tmp().unwrap(), 1);
    assert!(!stale.exists());
}

#[test]
fn identical_bytes_are_stored_once() {
    let (_dir, store) = store();
    let first = store.put(b"same bytes", "bin").unwrap();
    let second = store.put(b"same bytes", "bin").unwrap();
    assert_eq!(first, second);
    assert_eq!(files_under(&store.root().join("objects")).len(), 1);
}

#[test]
fn verify_finds_flipped_byte() {
    let (_dir, store) = store();
    let good = store.put(b"good object", "bin").unwrap();
    let bad = store.put(b"object to corrupt", "bin").unwrap();
    let (checked, corrupt) = store.verify().unwrap();
    assert_eq!(checked, 2);
    assert!(corrupt.is_empty());

    let path = store.object_path(&bad);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();

    let (checked, corrupt) = store.verify().unwrap();
    assert_eq!(checked, 2);
    assert_eq!(corrupt.len(), 1);
    assert_eq!(corrupt[0].path, path);
    assert_eq!(corrupt[0].expected, bad.digest.to_hex());
    assert!(store.has_object(&good));
}

#[test]
fn gc_keeps_objects_runs_reference() {
    let (_dir, store) = store();
    let kept = record(&store, "kept", b"referenced");
    store.write_record(&kept).unwrap();
    let dropped = record(&store, "dropped", b"unreferenced");
    store.write_record(&dropped).unwrap();
    let loose = store.put(b"loose object", "bin").unwrap();
    let linked = store.put(b"run-level table", "parquet").unwrap();
    store.link("run", "metrics.parquet", &linked).unwrap();

    let mut state = RunState::default();
    state.slots.insert(
        "iter-01/train".into(),
        SlotState {
            key: kept.key,
            outcome: Outcome::Ran,
            at: irl_store::now_rfc3339(),
        },
    );
    store.write_run_state("run", &state).unwrap();

    let dry = store.gc(true).unwrap();
    assert_eq!(dry.objects.len(), 2);
    assert_eq!(dry.records.len(), 1);
    assert!(store.has_object(&loose), "a dry run deletes nothing");

    let report = store.gc(false).unwrap();
    assert_eq!(report.objects.len(), 2);
    assert!(store.has_object(&kept.outputs["out"]));
    assert!(!store.has_object(&dropped.outputs["out"]));
    assert!(!store.has_object(&loose));
    assert!(
        store.has_object(&linked),
        "objects that run views link to are kept"
    );
    assert!(store.record(&kept.key).unwrap().is_some());
    assert!(store.record(&dropped.key).unwrap().is_none());
}

#[test]
fn record_round_trips() {
    let (_dir, store) = store();
    let written = record(&store, "slot", b"payload");
    store.write_record(&written).unwrap();
    assert_eq!(store.record(&written.key).unwrap(), Some(written));
}

#[test]
fn second_lock_names_holder() {
    let (_dir, store) = store();
    let lock = store.lock_run("study").unwrap();
    let error = store.lock_run("study").unwrap_err().to_string();
    assert!(error.contains("run \"study\" is locked"), "{error}");
    assert!(
        error.contains(&format!("pid {}", std::process::id())),
        "{error}"
    );
    drop(lock);
    assert!(store.lock_run("study").is_ok());
}

#[test]
fn link_points_at_object() {
    let (_dir, store) = store();
    let object = store.put(b"metrics", "parquet").unwrap();
    store
        .link("study", "iter-01/metrics.parquet", &object)
        .unwrap();
    let link = store.run_dir("study").join("iter-01/metrics.parquet");
    assert_eq!(std::fs::read(&link).unwrap(), b"metrics");
    let newer = store.put(b"newer metrics", "parquet").unwrap();
    store
        .link("study", "iter-01/metrics.parquet", &newer)
        .unwrap();
    assert_eq!(std::fs::read(&link).unwrap(), b"newer metrics");
}

#[test]
fn gc_keeps_unfinished_checkpoints() {
    let (_dir, store) = store();
    let finished = record(&store, "finished", b"weights");
    store.write_record(&finished).unwrap();
    let unfinished = record(&store, "unfinished", b"other weights").key;
    for key in [finished.key, unfinished] {
        let dir = store.checkpoint_dir(&key);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("epoch-0001.json"), b"{}").unwrap();
    }

    let report = store.gc(false).unwrap();
    assert_eq!(
        report.checkpoints,
        vec![store.checkpoint_dir(&finished.key)]
    );
    assert!(
        store.checkpoint_dir(&unfinished).exists(),
        "a killed run resumes from it"
    );
}
