//! Durability around sled: fsync of what sled's `flush` leaves in the
//! kernel, and the lock on the store directory (retried while sled's own
//! threads let go of it).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::StoreError;
use crate::store::StoreConfig;

/// fsyncs what sled's `flush` only hands to the kernel: its log file (sled
/// 0.34.7 uses `sync_file_range`, which neither flushes the disk cache nor
/// the file's metadata) and its blob files (large values, which sled writes
/// without any sync).
pub(crate) struct FileSync {
    enabled: bool,
    db_file: File,
    blobs_dir: PathBuf,
    known_blobs: HashSet<OsString>,
}

impl FileSync {
    pub(crate) fn open(dir: &Path, enabled: bool) -> Result<Self, StoreError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(StoreError::io(format!("opening {}", db_path.display())))?;
        let mut s = FileSync { enabled, db_file, blobs_dir: dir.join("blobs"), known_blobs: HashSet::new() };
        s.sync_blobs(true)?;
        Ok(s)
    }

    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        self.db_file.sync_data().map_err(StoreError::io("fdatasync of the store's log file"))?;
        self.sync_blobs(false)
    }

    /// fsyncs every blob file not seen before (all of them when `all`), then
    /// the blob directory if any is new, so the new names are durable too.
    fn sync_blobs(&mut self, all: bool) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        let entries = match std::fs::read_dir(&self.blobs_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(format!("listing {}", self.blobs_dir.display()))(e)),
        };
        let mut current = HashSet::new();
        let mut any_new = false;
        for entry in entries {
            let entry = entry.map_err(StoreError::io(format!("listing {}", self.blobs_dir.display())))?;
            let name = entry.file_name();
            if all || !self.known_blobs.contains(&name) {
                // sled may remove a blob between listing and opening it.
                match File::open(entry.path()) {
                    Ok(f) => f.sync_data().map_err(StoreError::io(format!("fsync of {}", entry.path().display())))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io(format!("opening {}", entry.path().display()))(e)),
                }
                any_new = true;
            }
            current.insert(name);
        }
        if any_new {
            sync_dir(&self.blobs_dir)?;
        }
        self.known_blobs = current;
        Ok(())
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(format!("fsync of directory {}", dir.display())))
}

fn sled_config(dir: &Path, config: &StoreConfig) -> sled::Config {
    sled::Config::new().path(dir).cache_capacity(config.cache_capacity_bytes)
}

/// Opens sled, telling a store held by another process apart from other
/// errors (sled reports its file lock only as an I/O error's text).
///
/// sled's background threads can hold the lock for a moment after the last
/// handle of a store in this process is dropped, so a lock is retried for
/// [`LOCK_GRACE`] before it is reported as another holder's.
pub(crate) fn open_db(dir: &Path, config: &StoreConfig) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + LOCK_GRACE;
    loop {
        match sled_config(dir, config).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                if Instant::now() >= deadline {
                    return Err(StoreError::Locked(dir.to_path_buf()));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(StoreError::Db { path: dir.to_path_buf(), source: e }),
        }
    }
}

/// How long opening waits for a lock that sled's own threads may still hold.
const LOCK_GRACE: Duration = Duration::from_secs(2);

/// Waits until no one holds sled's exclusive lock on `db_file`, so that a
/// closed store can be opened again at once. sled takes the lock with
/// `flock`, which `File::try_lock` also uses.
pub(crate) fn wait_for_lock_release(db_file: &Path, limit: Duration) {
    let Ok(file) = std::fs::File::open(db_file) else { return };
    let deadline = Instant::now() + limit;
    loop {
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                return;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => {
                tracing::warn!(file = %db_file.display(), "sled still holds its lock after close");
                return;
            }
        }
    }
}

pub(crate) fn holds_store(dir: &Path) -> bool {
    dir.join("conf").exists() || dir.join("db").exists()
}
