//! The store: sled underneath, exact envelopes, in-memory derived state.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chorus_core::{Admission, Coalition, Kind, Ledger, ObjectId};

use crate::error::StoreError;
use crate::export::ImportReport;

/// The on-disk format version this binary writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Most objects one `ingest` call may carry.
pub const MAX_BATCH_OBJECTS: usize = 65_536;

/// Tuning of a store. Every field has a modest default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Size of sled's page cache in bytes (default 64 MiB).
    pub cache_capacity_bytes: u64,
    /// Threads used to verify signatures (default: the machine's cores).
    pub verify_threads: usize,
    /// fdatasync sled's files after every commit, so that an acknowledgement
    /// survives power loss, not only a killed process (default true).
    pub fsync: bool,
    /// Most objects written in one group commit (default 16,384).
    pub max_commit_objects: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_capacity_bytes: 64 * 1024 * 1024,
            verify_threads: chorus_core::keys::default_threads(),
            fsync: true,
            max_commit_objects: 16_384,
        }
    }
}

/// A stored record found not to match its key at open or on read. It is not
/// served and not part of the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// Hex of the sled key.
    pub key: String,
    /// What does not match.
    pub detail: String,
}

/// A node's durable object store. `Send + Sync`: share it with `Arc`.
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// Creates a store in `dir` (which must not hold one) for the coalition
    /// founded by `genesis`, fully verified first.
    pub fn create(dir: &Path, genesis: &[u8], config: StoreConfig) -> Result<Store, StoreError> {
        let _ = (dir, genesis, config);
        todo!()
    }

    /// Opens an existing store, checking its format version and every record
    /// and rebuilding the ledger from the stored objects.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        let _ = (dir, config);
        todo!()
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The coalition this store belongs to.
    pub fn coalition(&self) -> &Coalition {
        todo!()
    }

    /// Validates, dedupes and durably stores a batch; outcomes in input order.
    pub fn ingest<B: AsRef<[u8]>>(&self, batch: &[B], now_ms: u64) -> Result<Vec<Admission>, StoreError> {
        let _ = (batch, now_ms);
        todo!()
    }

    /// The exact envelope bytes of an object, integrity-checked.
    pub fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = id;
        todo!()
    }

    /// True when the store holds this object.
    pub fn contains(&self, id: &ObjectId) -> bool {
        let _ = id;
        todo!()
    }

    /// Every object as (created_at_ms, id), sorted.
    pub fn sync_items(&self) -> Vec<(u64, ObjectId)> {
        todo!()
    }

    /// Objects of one kind, sorted by (created_at_ms, id).
    pub fn objects_of_kind(&self, kind: Kind) -> Vec<ObjectId> {
        let _ = kind;
        todo!()
    }

    /// Endorsement objects naming a proposal, sorted by (created_at_ms, id).
    pub fn endorsements_of(&self, proposal: &ObjectId) -> Vec<ObjectId> {
        let _ = proposal;
        todo!()
    }

    /// Known proposals sorted by (created_at_ms, id).
    pub fn proposals(&self) -> Vec<ObjectId> {
        todo!()
    }

    /// Adopted proposals sorted by (created_at_ms, id).
    pub fn positions(&self) -> Vec<ObjectId> {
        todo!()
    }

    /// Runs `f` with read access to the ledger.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        let _ = f;
        todo!()
    }

    /// A certificate for an adopted proposal.
    pub fn certificate(&self, proposal: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = proposal;
        todo!()
    }

    /// Writes every object to `writer` as an export stream.
    pub fn export<W: Write>(&self, writer: W) -> Result<u64, StoreError> {
        let _ = writer;
        todo!()
    }

    /// Reads an export stream and ingests everything in it.
    pub fn import<R: Read>(&self, reader: R, now_ms: u64) -> Result<ImportReport, StoreError> {
        let _ = (reader, now_ms);
        todo!()
    }

    /// Number of objects held, genesis included.
    pub fn object_count(&self) -> usize {
        todo!()
    }

    /// Records found corrupted and not served.
    pub fn corrupt_records(&self) -> Vec<CorruptRecord> {
        todo!()
    }

    /// Stops the committer and flushes.
    pub fn close(self) -> Result<(), StoreError> {
        todo!()
    }
}
