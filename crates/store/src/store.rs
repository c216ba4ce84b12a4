//! The store root and its operations: objects, records, checkpoints, runs, verify and gc.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::digest::{ObjectDigest, StageKey};
use crate::error::StoreError;
use crate::object::{ObjectRef, ObjectWriter, sync_dir};
use crate::record::StageRecord;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A store rooted at one folder; see the crate docs for its layout.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Way the latest run of a pipeline obtained a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The stage ran and wrote its record.
    Ran,
    /// A record with the same key existed and its objects were present.
    Reused,
}

/// One stage of a run, as the latest run left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotState {
    pub key: StageKey,
    pub outcome: Outcome,
    /// Time the stage was finished or reused, RFC 3339 in UTC.
    pub at: String,
}

/// The stages a run has reached, by slot (`iter-03/train`), saved as `runs/<name>/state.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub slots: BTreeMap<String, SlotState>,
}

/// An object whose bytes no longer match its name.
#[derive(Debug, Clone, PartialEq)]
pub struct CorruptObject {
    pub path: PathBuf,
    pub expected: String,
    pub actual: String,
}

/// Files that [`Store::gc`] removed, or would remove in a dry run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcReport {
    pub objects: Vec<PathBuf>,
    /// Run-view links to deleted round datasets ([`Store::drop_round_datasets`]).
    pub links: Vec<PathBuf>,
    pub records: Vec<PathBuf>,
    pub checkpoints: Vec<PathBuf>,
    pub bytes: u64,
}

impl Store {
    /// Opens the store at `root`, creating its folders when missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        for folder in ["objects", "records", "checkpoints", "runs", "tmp"] {
            let path = root.join(folder);
            fs_err::create_dir_all(&path).map_err(StoreError::io("create folder", &path))?;
        }
        Ok(Self { root })
    }

    /// Root folder of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_path(&self, ext: &str) -> PathBuf {
        let count = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{}-{count}.{ext}", std::process::id()))
    }

    /// Starts a new object with extension `ext`.
    pub fn writer(&self, ext: &str) -> Result<ObjectWriter, StoreError> {
        ObjectWriter::create(&self.root, self.tmp_path(ext), ext)
    }

    /// Publishes `bytes` as an object with extension `ext`.
    pub fn put(&self, bytes: &[u8], ext: &str) -> Result<ObjectRef, StoreError> {
        let mut writer = self.writer(ext)?;
        let tmp = writer.tmp_path().to_path_buf();
        writer
            .write_all(bytes)
            .map_err(StoreError::io("write", &tmp))?;
        writer.publish()
    }

    /// Absolute path of an object.
    pub fn object_path(&self, object: &ObjectRef) -> PathBuf {
        self.root.join(object.relative_path())
    }

    /// Reads a whole object.
    pub fn read(&self, object: &ObjectRef) -> Result<Vec<u8>, StoreError> {
        let path = self.object_path(object);
        if !path.exists() {
            return Err(StoreError::MissingObject {
                digest: object.digest.to_hex(),
                path,
            });
        }
        fs_err::read(&path).map_err(StoreError::io("read", &path))
    }

    /// True when the object file exists with the recorded size. `verify` rehashes the bytes.
    pub fn has_object(&self, object: &ObjectRef) -> bool {
        fs_err::metadata(self.object_path(object)).is_ok_and(|meta| meta.len() == object.size)
    }

    fn record_path(&self, key: &StageKey) -> PathBuf {
        let hex = key.to_hex();
        self.root
            .join("records")
            .join(&hex[..2])
            .join(format!("{}.json", &hex[2..]))
    }

    /// Reads the record of `key`, if the stage finished before.
    pub fn record(&self, key: &StageKey) -> Result<Option<StageRecord>, StoreError> {
        let path = self.record_path(key);
        if !path.exists() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Publishes a record: the last write of a finished stage.
    pub fn write_record(&self, record: &StageRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(record).expect("records encode as JSON");
        self.write_atomic(&self.record_path(&record.key), &bytes)
    }

    /// Folder for the epoch checkpoints of the training stage `key`.
    pub fn checkpoint_dir(&self, key: &StageKey) -> PathBuf {
        self.root.join("checkpoints").join(key.to_hex())
    }

    /// Writes `bytes` to `path` through a temporary file, fsync and rename.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let parent = path.parent().expect("store paths have a parent folder");
        fs_err::create_dir_all(parent).map_err(StoreError::io("create folder", parent))?;
        let tmp = self.tmp_path("partial");
        {
            let mut file = fs_err::File::create(&tmp).map_err(StoreError::io("create", &tmp))?;
            file.write_all(bytes)
                .map_err(StoreError::io("write", &tmp))?;
            file.sync_all().map_err(StoreError::io("fsync", &tmp))?;
        }
        fs_err::rename(&tmp, path).map_err(StoreError::io("rename", path))?;
        sync_dir(parent)
    }

    /// Folder of the readable view of run `name`.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }

    /// Reads `runs/<name>/state.json`; a run never started has an empty state.
    pub fn run_state(&self, name: &str) -> Result<RunState, StoreError> {
        let path = self.run_dir(name).join("state.json");
        if !path.exists() {
            return Ok(RunState::default());
        }
        read_json(&path)
    }

    /// Writes `runs/<name>/state.json`.
    pub fn write_run_state(&self, name: &str, state: &RunState) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(state).expect("run state encodes as JSON");
        self.write_atomic(&self.run_dir(name).join("state.json"), &bytes)
    }

    /// Names of the runs in the store.
    pub fn runs(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join("runs");
        let mut names = Vec::new();
        for entry in fs_err::read_dir(&dir).map_err(StoreError::io("list", &dir))? {
            let entry = entry.map_err(StoreError::io("list", &dir))?;
            if entry.path().is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Points `runs/<run>/<relative>` at an object with a relative symbolic link, replacing any
    /// earlier link atomically.
    pub fn link(&self, run: &str, relative: &str, object: &ObjectRef) -> Result<(), StoreError> {
        let link = self.run_dir(run).join(relative);
        let parent = link.parent().expect("view paths have a parent folder");
        fs_err::create_dir_all(parent).map_err(StoreError::io("create folder", parent))?;

        let depth = Path::new(relative).components().count() + 1; // runs/<run>/...
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push(object.relative_path());

        let tmp = parent.join(format!(
            ".{}.link-{}",
            std::process::id(),
            object.digest.short()
        ));
        let _ = fs_err::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp).map_err(StoreError::io("create link", &tmp))?;
        fs_err::rename(&tmp, &link).map_err(StoreError::io("rename", &link))
    }

    /// Removes temporary files left by processes that no longer run.
    pub fn clean_tmp(&self) -> Result<usize, StoreError> {
        let dir = self.root.join("tmp");
        let mut removed = 0;
        for entry in fs_err::read_dir(&dir).map_err(StoreError::io("list", &dir))? {
            let entry = entry.map_err(StoreError::io("list", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .split('-')
                .next()
                .and_then(|pid| pid.parse::<u32>().ok());
            let alive = pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                fs_err::remove_file(entry.path())
                    .map_err(StoreError::io("remove", &entry.path()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Lists every object file in the store.
    pub fn object_files(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut files = Vec::new();
        walk_files(&self.root.join("objects"), &mut files)?;
        files.sort();
        Ok(files)
    }

    /// Rehashes every object and lists those whose bytes do not match their name.
    pub fn verify(&self) -> Result<(usize, Vec<CorruptObject>), StoreError> {
        let files = self.object_files()?;
        let mut corrupt = Vec::new();
        for path in &files {
            let Some(expected) = digest_from_object_path(path) else {
                continue;
            };
            let mut hasher = blake3::Hasher::new();
            hasher
                .update_mmap(path)
                .map_err(StoreError::io("read", path))?;
            let actual = hasher.finalize().to_hex().to_string();
            if actual != expected {
                corrupt.push(CorruptObject {
                    path: path.clone(),
                    expected,
                    actual,
                });
            }
        }
        Ok((files.len(), corrupt))
    }

    /// Deletes objects and records that no run references and the checkpoints of finished
    /// stages; with `dry_run`, only lists them.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport, StoreError> {
        let mut live_keys = BTreeSet::new();
        let mut live_objects = BTreeSet::new();
        for run in self.runs()? {
            for slot in self.run_state(&run)?.slots.values() {
                live_keys.insert(slot.key.to_hex());
                if let Some(record) = self.record(&slot.key)? {
                    for object in record.outputs.values() {
                        live_objects.insert(object.digest.to_hex());
                    }
                }
            }
        }

        // Objects the run views link to directly: the run-level tables, the resolved pipeline
        // and the report, which no stage record lists.
        for run in self.runs()? {
            let mut links = Vec::new();
            walk_files(&self.run_dir(&run), &mut links)?;
            for link in links {
                let Ok(target) = fs_err::read_link(&link) else {
                    continue;
                };
                if let Some(digest) = digest_from_object_path(&target) {
                    live_objects.insert(digest);
                }
            }
        }

        let mut report = GcReport::default();
        for path in self.object_files()? {
            if digest_from_object_path(&path).is_some_and(|digest| !live_objects.contains(&digest))
            {
                report.bytes += fs_err::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
                report.objects.push(path);
            }
        }
        let mut records = Vec::new();
        walk_files(&self.root.join("records"), &mut records)?;
        for path in records {
            if digest_from_object_path(&path).is_some_and(|key| !live_keys.contains(&key)) {
                report.records.push(path);
            }
        }
        let checkpoints = self.root.join("checkpoints");
        for entry in fs_err::read_dir(&checkpoints).map_err(StoreError::io("list", &checkpoints))? {
            let entry = entry.map_err(StoreError::io("list", &checkpoints))?;
            let key = entry.file_name().to_string_lossy().into_owned();
            let finished = key
                .parse::<StageKey>()
                .ok()
                .is_some_and(|key| self.record_path(&key).exists());
            // An unfinished stage's checkpoints are what a killed run resumes from, so only
            // those of finished stages go.
            // NOTE: checkpoints of a stage whose settings then changed stay until removed by hand.
            if finished {
                report.checkpoints.push(entry.path());
            }
        }

        if !dry_run {
            for path in report.objects.iter().chain(&report.records) {
                fs_err::remove_file(path).map_err(StoreError::io("remove", path))?;
            }
            for path in &report.checkpoints {
                fs_err::remove_dir_all(path).map_err(StoreError::io("remove", path))?;
            }
        }
        Ok(report)
    }
}

impl Store {
    /// Deletes the datasets of every round but the last of each run in `runs` (every run when
    /// `None`) that no other process is writing, and the run-view links to them. With
    /// `dry_run`, it only lists them. Round datasets (the `dataset` outputs of reconstruct and
    /// compose stages) are most of a store's size. The records stay: a run that extends or
    /// changes the chain recomputes such a dataset from the round's kept model, with the same
    /// digest.
    /// A dataset that any run uses in its last round, or as another kind of output, stays.
    pub fn drop_round_datasets(
        &self,
        runs: Option<&[String]>,
        dry_run: bool,
    ) -> Result<GcReport, StoreError> {
        let mut droppable = BTreeSet::new();
        let mut kept = BTreeSet::new();
        // The runs whose datasets go stay locked until the deletion is done, so none starts
        // reading a dataset that is going.
        let mut locks = Vec::new();
        let mut selected = Vec::new();
        for run in self.runs()? {
            let mut chosen = runs.is_none_or(|runs| runs.contains(&run));
            if chosen {
                match self.lock_run(&run) {
                    Ok(lock) => locks.push(lock),
                    Err(StoreError::Locked { .. }) => chosen = false,
                    Err(error) => return Err(error),
                }
            }
            let state = self.run_state(&run)?;
            let last_round = state
                .slots
                .keys()
                .filter_map(|slot| round_dataset_slot(slot))
                .max()
                .unwrap_or(0);
            for (slot, slot_state) in &state.slots {
                let Some(record) = self.record(&slot_state.key)? else {
                    continue;
                };
                for (name, object) in &record.outputs {
                    let round = round_dataset_slot(slot).filter(|_| name == "dataset");
                    let hex = object.digest.to_hex();
                    if chosen && round.is_some_and(|round| round < last_round) {
                        droppable.insert(hex);
                    } else {
                        kept.insert(hex);
                    }
                }
            }
            if chosen {
                selected.push(run);
            }
        }

        let mut report = GcReport::default();
        let dropped: BTreeSet<&String> = droppable.difference(&kept).collect();
        for path in self.object_files()? {
            if digest_from_object_path(&path).is_some_and(|digest| dropped.contains(&digest)) {
                report.bytes += fs_err::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
                report.objects.push(path);
            }
        }
        for run in &selected {
            let mut links = Vec::new();
            walk_files(&self.run_dir(run), &mut links)?;
            for link in links {
                let target = fs_err::read_link(&link).ok();
                if target
                    .and_then(|target| digest_from_object_path(&target))
                    .is_some_and(|digest| dropped.contains(&digest))
                {
                    report.links.push(link);
                }
            }
        }
        if !dry_run {
            for path in report.objects.iter().chain(&report.links) {
                fs_err::remove_file(path).map_err(StoreError::io("remove", path))?;
            }
        }
        drop(locks);
        Ok(report)
    }
}

impl Store {
    /// Returns true when a round dataset that a stage of `state` wrote is gone from the store,
    /// as after `drop_round_datasets`.
    pub fn lacks_round_datasets(&self, state: &RunState) -> Result<bool, StoreError> {
        for (slot, slot_state) in &state.slots {
            if round_dataset_slot(slot).is_none() {
                continue;
            }
            let Some(record) = self.record(&slot_state.key)? else {
                continue;
            };
            if record
                .outputs
                .get("dataset")
                .is_some_and(|object| !self.has_object(object))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Round of a slot whose stage writes a round dataset: `iter-07/reconstruct` or
/// `iter-07/compose`.
fn round_dataset_slot(slot: &str) -> Option<u32> {
    let (folder, stage) = slot.split_once('/')?;
    if stage != "reconstruct" && stage != "compose" {
        return None;
    }
    folder.strip_prefix("iter-")?.parse().ok()
}

/// Digest hex encoded by an `objects/ab/cdef...ext` or `records/ab/cdef....json` path.
fn digest_from_object_path(path: &Path) -> Option<String> {
    let prefix = path.parent()?.file_name()?.to_str()?;
    let name = path.file_name()?.to_str()?;
    let rest = name.split('.').next()?;
    let hex = format!("{prefix}{rest}");
    (hex.len() == 64 && hex.parse::<ObjectDigest>().is_ok()).then_some(hex)
}

fn walk_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), StoreError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs_err::read_dir(dir).map_err(StoreError::io("list", dir))? {
        let entry = entry.map_err(StoreError::io("list", dir))?;
        let path = entry.path();
        if path.is_dir() {
            walk_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = fs_err::read(path).map_err(StoreError::io("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
        path: path.to_path_buf(),
        source,
    })
}
