//! Immutable objects named by the BLAKE3 digest of their bytes.
//!
//! Publishing writes to a temporary file in the store while hashing, fsyncs it, and renames it to
//! `objects/<first two hex digits>/<rest of the digest>.<ext>`. A rename within one file system is
//! atomic, so an object path either does not exist or contains the whole, final bytes. A process
//! killed mid-write leaves at most a temporary file, which [`crate::Store::clean_tmp`] removes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::ObjectDigest;
use crate::error::StoreError;

/// A published object: its digest, file extension and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub digest: ObjectDigest,
    /// Extension without the dot, such as `safetensors` or `parquet`.
    pub ext: String,
    /// Size in bytes.
    pub size: u64,
}

impl ObjectRef {
    /// Path of the object relative to the store root.
    pub fn relative_path(&self) -> PathBuf {
        let hex = self.digest.to_hex();
        Path::new("objects")
            .join(&hex[..2])
            .join(format!("{}.{}", &hex[2..], self.ext))
    }
}

/// Streams bytes into a temporary file while hashing them; [`ObjectWriter::publish`] makes the
/// file an object.
pub struct ObjectWriter {
    file: fs_err::File,
    tmp_path: PathBuf,
    root: PathBuf,
    ext: String,
    hasher: blake3::Hasher,
    size: u64,
}

impl ObjectWriter {
    pub(crate) fn create(root: &Path, tmp_path: PathBuf, ext: &str) -> Result<Self, StoreError> {
        let file = fs_err::File::create(&tmp_path).map_err(StoreError::io("create", &tmp_path))?;
        Ok(Self {
            file,
            tmp_path,
            root: root.to_path_buf(),
            ext: ext.to_string(),
            hasher: blake3::Hasher::new(),
            size: 0,
        })
    }

    /// Temporary file the bytes go to until [`ObjectWriter::publish`].
    pub fn tmp_path(&self) -> &Path {
        &self.tmp_path
    }

    /// Flushes, fsyncs and renames the file into place. An object with the same digest that
    /// exists already is kept, and the new copy is dropped, so identical bytes are stored once.
    pub fn publish(mut self) -> Result<ObjectRef, StoreError> {
        self.file
            .flush()
            .map_err(StoreError::io("flush", &self.tmp_path))?;
        self.file
            .sync_all()
            .map_err(StoreError::io("fsync", &self.tmp_path))?;

        let object = ObjectRef {
            digest: ObjectDigest::from_bytes(*self.hasher.finalize().as_bytes()),
            ext: self.ext.clone(),
            size: self.size,
        };
        let target = self.root.join(object.relative_path());
        if target.exists() {
            fs_err::remove_file(&self.tmp_path)
                .map_err(StoreError::io("remove", &self.tmp_path))?;
            return Ok(object);
        }
        let parent = target.parent().expect("object paths have a parent folder");
        fs_err::create_dir_all(parent).map_err(StoreError::io("create folder", parent))?;
        fs_err::rename(&self.tmp_path, &target).map_err(StoreError::io("rename", &target))?;
        sync_dir(parent)?;
        Ok(object)
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Fsyncs a folder so that a rename into it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let handle = fs_err::File::open(dir).map_err(StoreError::io("open folder", dir))?;
    handle
        .sync_all()
        .map_err(StoreError::io("fsync folder", dir))
}
