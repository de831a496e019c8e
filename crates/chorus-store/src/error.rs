//! Errors of the store. Every message names what was wrong and what to do.

use std::path::PathBuf;

use chorus_core::Rejection;

/// Why a store operation failed. Nothing acknowledged is lost on any of
/// these: a failed ingest acknowledges nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error (I/O, or corruption it detected itself).
    #[error("store at {path}: database error: {source}; check the disk and file permissions, then restore from an export if it persists")]
    Db {
        /// The store directory.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// A file system operation (fsync, directory creation, export stream) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `create` was pointed at a directory that already holds a store.
    #[error("store at {0} already exists; open it instead, or choose an empty directory")]
    AlreadyExists(PathBuf),
    /// Another process (or another handle in this one) has the store open.
    #[error("store at {0} is in use by another process (a running node?); stop it, or use another directory")]
    Locked(PathBuf),
    /// `open` was pointed at a directory with no store.
    #[error("no chorus store at {0}; create one first (it needs the coalition's genesis)")]
    NotFound(PathBuf),
    /// The store was written by a binary with a format this one does not know.
    #[error("store at {path} has format version {found}, this binary knows version {known}: upgrade chorus to a release that knows version {found}, or restore an export into a new store")]
    UnknownFormat {
        /// The store directory.
        path: PathBuf,
        /// The version recorded in the store.
        found: u32,
        /// The version this binary writes.
        known: u32,
    },
    /// The stored genesis is missing or invalid, so the coalition is unknown.
    #[error("store at {path}: the stored genesis is unusable ({reason}); restore from an export into a new store")]
    BadGenesis {
        /// The store directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The genesis given to `create` does not found a valid coalition.
    #[error("the genesis is invalid: {0}")]
    InvalidGenesis(Rejection),
    /// A stored record does not match its key: the bytes changed on disk. The
    /// record is not served; fetch the object again from a peer (ingest
    /// replaces the record) or restore from an export.
    #[error("corrupted record {key}: {detail}; it is not served; re-fetch it from a peer or restore from an export")]
    Corrupt {
        /// Hex of the record key.
        key: String,
        /// What does not match.
        detail: String,
    },
    /// An export stream is not usable.
    #[error("export stream: {0}")]
    BadExport(String),
    /// The export stream was made for another coalition.
    #[error("export is for coalition {found}, this store holds coalition {expected}; import it into a store of that coalition")]
    WrongCoalition {
        /// This store's coalition.
        expected: chorus_core::CoalitionId,
        /// The export's coalition.
        found: chorus_core::CoalitionId,
    },
    /// Writing or syncing a group commit failed; nothing in it was
    /// acknowledged, and submitting the same objects again is safe.
    #[error("commit failed, nothing in this batch was acknowledged ({detail}); check the disk, then submit again")]
    CommitFailed {
        /// The underlying error, as text (it is shared by every submitter of the group).
        detail: String,
    },
    /// A bug: the store could not account for an object it was given. Never
    /// blamed on whoever sent the object.
    #[error("internal error: {0}; nothing in this batch was acknowledged and submitting it again is safe; please report this")]
    Internal(String),
    /// The store has been closed, or its committer thread stopped.
    #[error("store is closed")]
    Closed,
    /// A submission was larger than the store accepts in one call.
    #[error("a batch of {count} objects is over the limit of {limit} per call; split it")]
    BatchTooLarge {
        /// Objects submitted.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl StoreError {
    pub(crate) fn db(path: &std::path::Path) -> impl FnOnce(sled::Error) -> StoreError + '_ {
        move |source| StoreError::Db { path: path.to_path_buf(), source }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
        let what = what.into();
        move |source| StoreError::Io { what, source }
    }
}
