//! One writer per run.
//!
//! `irl run` holds an exclusive advisory lock (flock) on `runs/<name>/.lock` while it writes the
//! run. The kernel drops the lock when the process exits, killed or not, so a stale lock file
//! never blocks a later run. The file's text names the holder for the error a second process gets.

use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use crate::error::StoreError;
use crate::store::Store;

/// An exclusive lock on one run; released on drop.
#[derive(Debug)]
pub struct RunLock {
    file: std::fs::File,
    path: PathBuf,
}

impl RunLock {
    /// Path of the lock file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

impl Store {
    /// Takes the write lock of run `name`, or fails with [`StoreError::Locked`] naming the
    /// process that holds it.
    pub fn lock_run(&self, name: &str) -> Result<RunLock, StoreError> {
        let dir = self.run_dir(name);
        fs_err::create_dir_all(&dir).map_err(StoreError::io("create folder", &dir))?;
        let path = dir.join(".lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::io("open", &path))?;

        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    run: name.to_string(),
                    holder: if holder.is_empty() {
                        "holder unknown".to_string()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::io("lock", &path)(source));
            }
        }

        let holder = format!(
            "pid {} on {}, started {}",
            std::process::id(),
            hostname(),
            crate::now_rfc3339()
        );
        file.set_len(0).map_err(StoreError::io("truncate", &path))?;
        file.rewind().map_err(StoreError::io("rewind", &path))?;
        file.write_all(holder.as_bytes())
            .map_err(StoreError::io("write", &path))?;
        Ok(RunLock { file, path })
    }
}

fn hostname() -> String {
    fs_err::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "this host".to_string())
}
