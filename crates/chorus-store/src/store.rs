//! The store: sled underneath, exact envelopes, derived state in memory.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chorus_core::{Admission, Coalition, Envelope, Kind, Ledger, ObjectId};

use crate::committer::{Committer, Job};
use crate::durability::{holds_store, open_db, sync_dir, wait_for_lock_release, FileSync};
use crate::error::StoreError;
use crate::export::{ExportReader, ExportWriter, ImportReport};
use crate::index::State;
use crate::rebuild::{rebuild, CHUNK_BYTES, OPEN_CHUNK};
use crate::record::{
    check_record, migrate, object_key, record_value, CorruptRecord, FORMAT_VERSION, KEY_COALITION, KEY_FORMAT,
};

/// Most objects one [`Store::ingest`] call may carry; larger batches are
/// refused whole so memory per call stays bounded.
pub const MAX_BATCH_OBJECTS: usize = 65_536;

/// Objects per part when one large `ingest` call is pipelined.
const PIPELINE_PART: usize = 512;

/// Tuning of a store. Every field has a modest default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Size of sled's page cache in bytes. Default 64 MiB (sled's own
    /// default is 1 GiB). The store's derived state (ledger and indexes) is
    /// held in memory besides, about 200 bytes per object.
    pub cache_capacity_bytes: u64,
    /// Threads used to verify signatures at ingest and at open. Default:
    /// the machine's cores.
    pub verify_threads: usize,
    /// fdatasync sled's files after every commit, so that an acknowledgement
    /// survives power loss and not only a killed process. Default true;
    /// turning it off is for tests and benchmarks only.
    pub fsync: bool,
    /// Most objects written in one group commit. Default 16,384.
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

/// State shared by the store handle and its committer thread.
pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) coalition: Coalition,
    pub(crate) config: StoreConfig,
    pub(crate) state: RwLock<State>,
    pub(crate) sync: Mutex<FileSync>,
}

/// A node's durable object store; see the crate docs for the design.
///
/// `Send + Sync`: share it with `Arc`. Every method is blocking (the node
/// calls them from `spawn_blocking`). Reads never see an object before it is
/// durable.
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    pub(crate) committer: Mutex<Option<Committer>>,
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panic while holding the lock leaves the state as consistent as the
    // last completed apply; keep serving rather than propagate the panic.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// Creates a store in `dir` (created if absent; it must not hold a store)
    /// for the coalition founded by `genesis`, which is fully verified first
    /// and stored as the first object. The store is durable on return.
    pub fn create(dir: &Path, genesis: &[u8], config: StoreConfig) -> Result<Store, StoreError> {
        let coalition =
            Coalition::from_genesis(genesis, config.verify_threads.max(1)).map_err(StoreError::InvalidGenesis)?;
        let existed = holds_store(dir);
        std::fs::create_dir_all(dir).map_err(StoreError::io(format!("creating {}", dir.display())))?;
        let db = open_db(dir, &config)?;
        // sled files without a format record are a creation that never
        // committed (its one batch carries the format record): finish it.
        if existed && db.get(KEY_FORMAT).map_err(StoreError::db(dir))?.is_some() {
            return Err(StoreError::AlreadyExists(dir.to_path_buf()));
        }
        let mut batch = sled::Batch::default();
        batch.insert(KEY_FORMAT, &FORMAT_VERSION.to_be_bytes());
        batch.insert(KEY_COALITION, coalition.id().as_bytes());
        batch.insert(object_key(&coalition.id()), record_value(coalition.genesis_envelope().bytes()));
        db.apply_batch(batch).map_err(StoreError::db(dir))?;
        db.flush().map_err(StoreError::db(dir))?;
        let mut sync = FileSync::open(dir, config.fsync)?;
        sync.sync()?;
        if config.fsync {
            sync_dir(dir)?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let state = State::new(&coalition);
        tracing::info!(path = %dir.display(), coalition = %coalition.id(), "created store");
        Ok(Store::start(Inner {
            path: dir.to_path_buf(),
            db,
            coalition,
            config,
            state: RwLock::new(state),
            sync: Mutex::new(sync),
        }))
    }

    /// Opens an existing store: checks its format version, verifies every
    /// record (digest, id and full validation through chorus-core, on
    /// `verify_threads` threads), and rebuilds the ledger and indexes from
    /// the stored objects. Records that fail are logged, listed by
    /// [`Store::corrupt_records`] and never served; they do not stop the
    /// store from opening. Opening costs one signature check per object.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Store, StoreError> {
        if !holds_store(dir) {
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        let db = open_db(dir, &config)?;
        let format = db.get(KEY_FORMAT).map_err(StoreError::db(dir))?.ok_or(StoreError::NotFound(dir.to_path_buf()))?;
        let format = <[u8; 4]>::try_from(format.as_ref()).map(u32::from_be_bytes).map_err(|_| {
            StoreError::BadGenesis { path: dir.to_path_buf(), reason: "the format version record is damaged".into() }
        })?;
        migrate(dir, &db, format)?;
        let bad_genesis = |reason: String| StoreError::BadGenesis { path: dir.to_path_buf(), reason };
        let coalition_id = db
            .get(KEY_COALITION)
            .map_err(StoreError::db(dir))?
            .and_then(|v| ObjectId::from_slice(&v))
            .ok_or_else(|| bad_genesis("the coalition id record is missing or damaged".into()))?;
        let genesis_key = object_key(&coalition_id);
        let genesis = db
            .get(&genesis_key)
            .map_err(StoreError::db(dir))?
            .ok_or_else(|| bad_genesis(format!("no genesis record for coalition {coalition_id}")))?;
        let genesis_bytes = check_record(&genesis_key, &genesis).map_err(bad_genesis)?;
        let threads = config.verify_threads.max(1);
        let coalition = Coalition::from_genesis(genesis_bytes, threads).map_err(|e| bad_genesis(e.to_string()))?;

        let state = rebuild(dir, &db, &coalition, threads)?;
        if !state.corrupt.is_empty() {
            tracing::warn!(
                path = %dir.display(),
                count = state.corrupt.len(),
                "store holds corrupted records; they are not served and are replaced when the objects arrive again"
            );
        }
        let sync = FileSync::open(dir, config.fsync)?;
        tracing::info!(path = %dir.display(), objects = state.ledger().object_count(), "opened store");
        Ok(Store::start(Inner {
            path: dir.to_path_buf(),
            db,
            coalition,
            config,
            state: RwLock::new(state),
            sync: Mutex::new(sync),
        }))
    }

    /// Creates a store in `dir` from an export stream: the stream's genesis
    /// founds the store, then every object is validated and stored as by
    /// [`Store::import`].
    pub fn restore<R: Read>(
        dir: &Path,
        reader: R,
        config: StoreConfig,
        now_ms: u64,
    ) -> Result<(Store, ImportReport), StoreError> {
        let mut stream = ExportReader::new(reader)?;
        let genesis = stream.genesis().to_vec();
        let store = Store::create(dir, &genesis, config)?;
        let report = store.import_stream(&mut stream, now_ms)?;
        Ok((store, report))
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The coalition this store belongs to, from its stored genesis.
    pub fn coalition(&self) -> &Coalition {
        &self.inner.coalition
    }

    /// Validates (through chorus-core, on `verify_threads` threads),
    /// dedupes and durably stores a batch, and returns one outcome per input
    /// in input order. `now_ms` is this node's clock, used only to defer
    /// objects dated too far ahead.
    ///
    /// Group commit: batches from concurrent callers waiting at the same
    /// time are written in one sled batch and made durable with one flush
    /// and fsync. `Admission::Stored` is returned only once the object is
    /// durable. On error nothing of this batch is acknowledged (a large batch
    /// is committed in parts of 512, so some parts may already be stored);
    /// submitting it again is safe: what was stored comes back as
    /// `Duplicate`. Safe to call from many threads.
    pub fn ingest<B: AsRef<[u8]>>(&self, batch: &[B], now_ms: u64) -> Result<Vec<Admission>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if batch.len() > MAX_BATCH_OBJECTS {
            return Err(StoreError::BatchTooLarge { count: batch.len(), limit: MAX_BATCH_OBJECTS });
        }
        let refs: Vec<&[u8]> = batch.iter().map(|b| b.as_ref()).collect();
        let queue = lock(&self.committer).as_ref().map(|c| c.queue.clone()).ok_or(StoreError::Closed)?;
        // Verified on the caller's thread, so signature checks of one caller
        // overlap the commit of another; a large batch is cut into parts so
        // that its own parts overlap too (part k+1 is verified while part k
        // commits). The call still returns only once every part is durable.
        let mut answers = Vec::new();
        for part in refs.chunks(PIPELINE_PART) {
            let items = Ledger::check_signatures(&self.inner.coalition, part, self.inner.config.verify_threads.max(1));
            let (reply, answer) = mpsc::sync_channel(1);
            queue.send(Job { items, reply, now_ms }).map_err(|_| StoreError::Closed)?;
            answers.push(answer);
        }
        let mut outcomes = Vec::with_capacity(batch.len());
        for answer in answers {
            outcomes.extend(answer.recv().map_err(|_| StoreError::Closed)??);
        }
        Ok(outcomes)
    }

    /// The exact envelope bytes of a stored object, after checking them
    /// against the record's digest and the id. `Ok(None)` when the store does
    /// not hold the object; [`StoreError::Corrupt`] (naming the key) when
    /// the record no longer matches: corrupted bytes are never returned.
    pub fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let key = object_key(id);
        {
            let state = read(&self.inner.state);
            if let Some(c) = state.corrupt.get(&key) {
                return Err(StoreError::Corrupt { key: c.key.clone(), detail: c.detail.clone() });
            }
            // Only acknowledged (durable) objects are served.
            if !state.ledger().contains(id) {
                return Ok(None);
            }
        }
        let Some(value) = self.inner.db.get(&key).map_err(StoreError::db(&self.inner.path))? else {
            return Ok(None);
        };
        match check_record(&key, &value) {
            Ok(envelope) => Ok(Some(envelope.to_vec())),
            Err(detail) => {
                let record = CorruptRecord { key: hex::encode(&key), detail };
                tracing::error!(key = %record.key, detail = %record.detail, "corrupted record; not served");
                write(&self.inner.state).corrupt.insert(key, record.clone());
                Err(StoreError::Corrupt { key: record.key, detail: record.detail })
            }
        }
    }

    /// True when the store holds this object (durably).
    pub fn contains(&self, id: &ObjectId) -> bool {
        read(&self.inner.state).ledger().contains(id)
    }

    /// Every object as (created_at_ms, id), sorted, genesis included: the
    /// item list for set reconciliation.
    pub fn sync_items(&self) -> Vec<(u64, ObjectId)> {
        read(&self.inner.state).by_time.iter().copied().collect()
    }

    /// [`Store::sync_items`] and `f` of the ledger, both from one state of
    /// the store (no object is stored between them). Ingest waits while `f`
    /// runs: keep it short.
    pub fn sync_items_with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> (Vec<(u64, ObjectId)>, R) {
        let state = read(&self.inner.state);
        (state.by_time.iter().copied().collect(), f(state.ledger()))
    }

    /// Objects of one kind, sorted by (created_at_ms, id).
    pub fn objects_of_kind(&self, kind: Kind) -> Vec<ObjectId> {
        read(&self.inner.state).by_kind.get(&kind).into_iter().flatten().map(|(_, id)| *id).collect()
    }

    /// How many objects of each kind are held, genesis included, in kind
    /// order; kinds with none are left out.
    pub fn kind_counts(&self) -> Vec<(Kind, usize)> {
        read(&self.inner.state).by_kind.iter().map(|(k, ids)| (*k, ids.len())).collect()
    }

    /// Endorsement objects (any stance) naming a proposal, whether or not
    /// the proposal itself is held, sorted by (created_at_ms, id).
    pub fn endorsements_of(&self, proposal: &ObjectId) -> Vec<ObjectId> {
        read(&self.inner.state).by_proposal.get(proposal).into_iter().flatten().map(|(_, id)| *id).collect()
    }

    /// Known proposals sorted by (created_at_ms, id).
    pub fn proposals(&self) -> Vec<ObjectId> {
        self.objects_of_kind(Kind::Proposal)
    }

    /// Adopted proposals (positions) sorted by (created_at_ms, id).
    pub fn positions(&self) -> Vec<ObjectId> {
        read(&self.inner.state).ledger().positions()
    }

    /// Runs `f` with read access to the ledger (tallies, proposal states,
    /// certificate endorsements). Ingest waits while `f` runs: keep it short.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(read(&self.inner.state).ledger())
    }

    /// A copy of the ledger as it is now.
    pub fn ledger_snapshot(&self) -> Ledger {
        read(&self.inner.state).ledger().clone()
    }

    /// Writes every object held when the call starts to `writer` as an
    /// export stream (see the crate docs for the format): genesis first,
    /// then the rest by (created_at_ms, id). Safe while the node runs:
    /// objects stored meanwhile are simply not included. Fails, naming the
    /// key, if a record is corrupted, so a backup never silently lacks an
    /// object. Returns the number of objects written.
    pub fn export<W: Write>(&self, writer: W) -> Result<u64, StoreError> {
        let genesis = self.inner.coalition.id();
        let items = self.sync_items();
        let mut out = ExportWriter::new(writer, self.inner.coalition.genesis_envelope().bytes())?;
        for (_, id) in items.iter().filter(|(_, id)| *id != genesis) {
            let bytes = self.get(id)?.ok_or_else(|| StoreError::Corrupt {
                key: hex::encode(object_key(id)),
                detail: "record vanished from a store that acknowledged it".into(),
            })?;
            out.write(&bytes)?;
        }
        out.finish()
    }

    /// Reads an export stream and ingests every object in it through
    /// [`Store::ingest`] (so everything is validated; nothing invalid is
    /// stored). The stream must be for this store's coalition. Objects are
    /// durable chunk by chunk: if the stream turns out damaged midway, the
    /// valid objects before the damage are kept and the error says so.
    pub fn import<R: Read>(&self, reader: R, now_ms: u64) -> Result<ImportReport, StoreError> {
        let mut stream = ExportReader::new(reader)?;
        self.import_stream(&mut stream, now_ms)
    }

    fn import_stream<R: Read>(&self, stream: &mut ExportReader<R>, now_ms: u64) -> Result<ImportReport, StoreError> {
        let expected = self.inner.coalition.id();
        let found = stream.coalition();
        if found != expected {
            return Err(StoreError::WrongCoalition { expected, found });
        }
        let mut report = ImportReport { read: 1, duplicate: 1, ..ImportReport::default() };
        // Refused for want of objects: (index in report.refused, id).
        let mut waiting: Vec<(usize, ObjectId)> = Vec::new();
        let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(OPEN_CHUNK);
        let mut chunk_bytes = 0;
        loop {
            let next = stream.next_envelope()?;
            let done = next.is_none();
            if let Some(bytes) = next {
                chunk_bytes += bytes.len();
                chunk.push(bytes);
            }
            if chunk.len() == OPEN_CHUNK || chunk_bytes >= CHUNK_BYTES || (done && !chunk.is_empty()) {
                chunk_bytes = 0;
                let first = report.read;
                for (i, outcome) in self.ingest(&chunk, now_ms)?.into_iter().enumerate() {
                    match outcome {
                        Admission::Stored { .. } => report.stored += 1,
                        Admission::Duplicate { .. } => report.duplicate += 1,
                        Admission::Refused(why) => {
                            if why.awaits_objects() {
                                if let Ok(e) = Envelope::decode(&chunk[i]) {
                                    waiting.push((report.refused.len(), e.id()));
                                }
                            }
                            report.refused.push((first + i, why));
                        }
                    }
                }
                report.read += chunk.len();
                chunk.clear();
            }
            if done {
                // Objects that waited for later ones in the stream were
                // stored when those came: they count as stored.
                let stored: BTreeSet<usize> =
                    waiting.iter().filter(|(_, id)| self.contains(id)).map(|(at, _)| *at).collect();
                report.stored += stored.len();
                let mut at = 0;
                report.refused.retain(|_| {
                    at += 1;
                    !stored.contains(&(at - 1))
                });
                return Ok(report);
            }
        }
    }

    /// Number of objects held, genesis included.
    pub fn object_count(&self) -> usize {
        read(&self.inner.state).ledger().object_count()
    }

    /// Records found corrupted (at open or on read) and not served.
    pub fn corrupt_records(&self) -> Vec<CorruptRecord> {
        read(&self.inner.state).corrupt.values().cloned().collect()
    }

    /// Flushes sled and fsyncs its files. Every acknowledged object is
    /// already durable; this only covers sled's own bookkeeping.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush().map_err(StoreError::db(&self.inner.path))?;
        lock(&self.inner.sync).sync()
    }

    /// Stops the committer (waiting for submissions already queued), then
    /// flushes, and returns once sled has released the directory, so the
    /// store can be opened again at once. Dropping the store stops and
    /// flushes too, ignoring errors, but does not wait for the release.
    pub fn close(self) -> Result<(), StoreError> {
        self.stop_committer();
        let flushed = self.flush();
        let db_file = self.inner.path.join("db");
        drop(self);
        wait_for_lock_release(&db_file, Duration::from_secs(10));
        flushed
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop_committer();
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "flush at close failed; acknowledged objects were already durable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Store>();
    }
}
