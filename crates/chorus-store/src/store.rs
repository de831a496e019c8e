//! The store: sled underneath, exact envelopes, derived state in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chorus_core::{
    certificate, Admission, Applied, Coalition, Envelope, Kind, Ledger, Object, ObjectId, Rejection, SignatureChecked,
    VerifiedObject, Waiting,
};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::export::{ExportReader, ExportWriter, ImportReport};

/// The on-disk format version this binary writes and reads. Version 1 is
/// the first; [`Store::open`] refuses any other with a message saying what to
/// do, and is where a later binary migrates older versions.
pub const FORMAT_VERSION: u32 = 1;

/// Most objects one [`Store::ingest`] call may carry; larger batches are
/// refused whole so memory per call stays bounded.
pub const MAX_BATCH_OBJECTS: usize = 65_536;

/// sled key holding the format version (u32, big-endian).
const KEY_FORMAT: &[u8] = b"m:format";
/// sled key holding the coalition id (32 bytes).
const KEY_COALITION: &[u8] = b"m:coalition";
/// Prefix of object records: `o` followed by the 32-byte object id.
const OBJECT_PREFIX: u8 = b'o';
/// Length of the digest that heads every object record.
const DIGEST_LEN: usize = 32;
/// Records validated together when rebuilding at open or importing.
const OPEN_CHUNK: usize = 4096;
/// Bytes of envelopes held at once when rebuilding at open or importing,
/// so memory stays bounded even when every object is of maximal size.
const CHUNK_BYTES: usize = 16 * 1024 * 1024;
/// Objects per part when one large `ingest` call is pipelined.
const PIPELINE_PART: usize = 512;
/// Group-commit submissions that may wait for the committer at once.
const QUEUE_DEPTH: usize = 64;
/// Objects kept in memory because their signer or roster version is not
/// known yet ([`Rejection::awaits_objects`]); they are stored as soon as the
/// objects they wait for are.
const WAITING_CAPACITY: usize = 4096;

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

/// A stored record found not to match its key, at open or on read. It is
/// not served, is not part of the ledger, and is replaced when the same
/// object is ingested again (from a peer or an export).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// Hex of the sled key (`6f` = "o", then the object id).
    pub key: String,
    /// What does not match.
    pub detail: String,
}

/// Everything derived from the stored objects. Rebuilt at every open, never
/// persisted, so it cannot disagree with the objects on disk.
struct State {
    ledger: Ledger,
    by_time: BTreeSet<(u64, ObjectId)>,
    by_kind: BTreeMap<Kind, BTreeSet<(u64, ObjectId)>>,
    by_proposal: HashMap<ObjectId, BTreeSet<(u64, ObjectId)>>,
    corrupt: BTreeMap<Vec<u8>, CorruptRecord>,
    /// Valid signatures waiting for the objects that authorise them.
    waiting: Waiting,
}

impl State {
    fn new(coalition: &Coalition) -> Self {
        let mut s = State {
            ledger: Ledger::new(coalition.clone()),
            by_time: BTreeSet::new(),
            by_kind: BTreeMap::new(),
            by_proposal: HashMap::new(),
            corrupt: BTreeMap::new(),
            waiting: Waiting::new(WAITING_CAPACITY),
        };
        let created = coalition.genesis().created_at_ms;
        s.index(Kind::Genesis, created, coalition.id(), None);
        s
    }

    fn index(&mut self, kind: Kind, created: u64, id: ObjectId, proposal: Option<ObjectId>) {
        self.by_time.insert((created, id));
        self.by_kind.entry(kind).or_default().insert((created, id));
        if let Some(p) = proposal {
            self.by_proposal.entry(p).or_default().insert((created, id));
        }
    }

    /// Applies a verified object to the ledger and the indexes.
    fn apply(&mut self, obj: &VerifiedObject) -> Applied {
        let applied = self.ledger.apply(obj);
        if let Applied::New { .. } = applied {
            let proposal = match obj.object() {
                Object::Endorsement(e) => Some(e.proposal),
                _ => None,
            };
            self.index(obj.kind(), obj.created_at_ms(), obj.id(), proposal);
            self.corrupt.remove(&object_key(&obj.id()));
        }
        applied
    }
}

/// fsyncs what sled's `flush` only hands to the kernel: its log file (sled
/// 0.34.7 uses `sync_file_range`, which neither flushes the disk cache nor
/// the file's metadata) and its blob files (large values, which sled writes
/// without any sync).
struct FileSync {
    enabled: bool,
    db_file: File,
    blobs_dir: PathBuf,
    known_blobs: HashSet<OsString>,
}

impl FileSync {
    fn open(dir: &Path, enabled: bool) -> Result<Self, StoreError> {
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(StoreError::io(format!("opening {}", db_path.display())))?;
        let mut s = FileSync { enabled, db_file, blobs_dir: dir.join("blobs"), known_blobs: HashSet::new() };
        s.sync_blobs(true)?;
        Ok(s)
    }

    fn sync(&mut self) -> Result<(), StoreError> {
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

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(StoreError::io(format!("fsync of directory {}", dir.display())))
}

/// State shared by the store handle and its committer thread.
struct Inner {
    path: PathBuf,
    db: sled::Db,
    coalition: Coalition,
    config: StoreConfig,
    state: RwLock<State>,
    sync: Mutex<FileSync>,
}

/// One caller's validated batch, waiting for a group commit.
struct Job {
    items: Vec<Result<SignatureChecked, Rejection>>,
    reply: SyncSender<Result<Vec<Admission>, StoreError>>,
    /// The submitter's clock, for the time rule.
    now_ms: u64,
}

struct Committer {
    queue: SyncSender<Job>,
    thread: JoinHandle<()>,
}

/// A node's durable object store; see the crate docs for the design.
///
/// `Send + Sync`: share it with `Arc`. Every method is blocking (the node
/// calls them from `spawn_blocking`). Reads never see an object before it is
/// durable.
pub struct Store {
    inner: Arc<Inner>,
    committer: Mutex<Option<Committer>>,
}

fn object_key(id: &ObjectId) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(OBJECT_PREFIX);
    k.extend_from_slice(id.as_bytes());
    k
}

fn record_value(envelope: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(DIGEST_LEN + envelope.len());
    v.extend_from_slice(&Sha256::digest(envelope));
    v.extend_from_slice(envelope);
    v
}

/// Checks a record against its key: the digest of the envelope bytes (which
/// covers the signatures too) and the object id recomputed from them.
/// Returns the exact envelope bytes.
fn check_record<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], String> {
    let id = key
        .strip_prefix(&[OBJECT_PREFIX])
        .and_then(ObjectId::from_slice)
        .ok_or_else(|| format!("key is {} bytes, not \"o\" and a 32-byte id", key.len()))?;
    if value.len() < DIGEST_LEN {
        return Err(format!("record is {} bytes, shorter than its digest", value.len()));
    }
    let (digest, envelope) = value.split_at(DIGEST_LEN);
    if Sha256::digest(envelope).as_slice() != digest {
        return Err("envelope bytes do not match the digest stored with them".into());
    }
    let env = Envelope::decode(envelope).map_err(|e| format!("envelope does not decode: {e}"))?;
    if env.id() != id {
        return Err(format!("envelope has id {}, not the id it is stored under", env.id()));
    }
    Ok(envelope)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A panic while holding the lock leaves the state as consistent as the
    // last completed apply; keep serving rather than propagate the panic.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
fn open_db(dir: &Path, config: &StoreConfig) -> Result<sled::Db, StoreError> {
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
fn wait_for_lock_release(db_file: &Path, limit: Duration) {
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

fn holds_store(dir: &Path) -> bool {
    dir.join("conf").exists() || dir.join("db").exists()
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

        let mut state = State::new(&coalition);
        let mut deferred = Deferred::default();
        let mut chunk: Vec<(sled::IVec, sled::IVec)> = Vec::with_capacity(OPEN_CHUNK);
        let mut chunk_bytes = 0;
        for item in db.scan_prefix([OBJECT_PREFIX]) {
            let (key, value) = item.map_err(StoreError::db(dir))?;
            chunk_bytes += value.len();
            chunk.push((key, value));
            if chunk.len() == OPEN_CHUNK || chunk_bytes >= CHUNK_BYTES {
                rebuild_chunk(&coalition, &mut state, &mut deferred, &chunk, threads);
                chunk.clear();
                chunk_bytes = 0;
            }
        }
        rebuild_chunk(&coalition, &mut state, &mut deferred, &chunk, threads);
        finish_deferred(&mut state, deferred);
        if !state.corrupt.is_empty() {
            tracing::warn!(
                path = %dir.display(),
                count = state.corrupt.len(),
                "store holds corrupted records; they are not served and are replaced when the objects arrive again"
            );
        }
        let sync = FileSync::open(dir, config.fsync)?;
        tracing::info!(path = %dir.display(), objects = state.ledger.object_count(), "opened store");
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

    fn start(inner: Inner) -> Store {
        let inner = Arc::new(inner);
        let (queue, jobs) = mpsc::sync_channel(QUEUE_DEPTH);
        let worker = Arc::clone(&inner);
        let thread =
            std::thread::Builder::new().name("chorus-store-commit".into()).spawn(move || worker.run_committer(jobs));
        let committer = match thread {
            Ok(thread) => Some(Committer { queue, thread }),
            Err(e) => {
                // Without a committer every ingest reports Closed; reads work.
                tracing::error!(error = %e, "could not start the store's committer thread");
                None
            }
        };
        Store { inner, committer: Mutex::new(committer) }
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
            if !state.ledger.contains(id) {
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
        read(&self.inner.state).ledger.contains(id)
    }

    /// Every object as (created_at_ms, id), sorted, genesis included: the
    /// item list for set reconciliation.
    pub fn sync_items(&self) -> Vec<(u64, ObjectId)> {
        read(&self.inner.state).by_time.iter().copied().collect()
    }

    /// Objects of one kind, sorted by (created_at_ms, id).
    pub fn objects_of_kind(&self, kind: Kind) -> Vec<ObjectId> {
        read(&self.inner.state).by_kind.get(&kind).into_iter().flatten().map(|(_, id)| *id).collect()
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
        read(&self.inner.state).ledger.positions()
    }

    /// Runs `f` with read access to the ledger (tallies, proposal states,
    /// certificate endorsements). Ingest waits while `f` runs: keep it short.
    pub fn with_ledger<R>(&self, f: impl FnOnce(&Ledger) -> R) -> R {
        f(&read(&self.inner.state).ledger)
    }

    /// A copy of the ledger as it is now.
    pub fn ledger_snapshot(&self) -> Ledger {
        read(&self.inner.state).ledger.clone()
    }

    /// The certificate of an adopted proposal, assembled with
    /// [`chorus_core::certificate::assemble_with_chain`] from the exact
    /// stored envelopes chosen by [`Ledger::certificate_endorsements`] and
    /// the proof chain of [`Ledger::certificate_chain`] (empty under the
    /// genesis roster with stances signed by trust ids, which gives the
    /// certificate of [`chorus_core::certificate::assemble`]), so it
    /// verifies offline. `Ok(None)` when the proposal is unknown or not
    /// adopted.
    pub fn certificate(&self, proposal: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((endorsements, chain)) =
            self.with_ledger(|l| Some((l.certificate_endorsements(proposal)?, l.certificate_chain(proposal)?)))
        else {
            return Ok(None);
        };
        let mut links = Vec::with_capacity(chain.len());
        for id in &chain {
            match self.get_envelope(id)? {
                Some(e) => links.push(e),
                None => return Ok(None),
            }
        }
        let Some(proposal) = self.get_envelope(proposal)? else {
            return Ok(None);
        };
        let mut ends = Vec::with_capacity(endorsements.len());
        for id in &endorsements {
            match self.get_envelope(id)? {
                Some(e) => ends.push(e),
                None => return Ok(None),
            }
        }
        Ok(Some(certificate::assemble_with_chain(self.inner.coalition.genesis_envelope(), &proposal, &ends, &links)))
    }

    fn get_envelope(&self, id: &ObjectId) -> Result<Option<Envelope>, StoreError> {
        let Some(bytes) = self.get(id)? else { return Ok(None) };
        // get() already decoded these bytes once; a failure here would be a
        // bug, reported as corruption rather than a panic.
        Envelope::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt { key: hex::encode(object_key(id)), detail: e.to_string() })
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
        read(&self.inner.state).ledger.object_count()
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

    fn stop_committer(&self) {
        if let Some(c) = lock(&self.committer).take() {
            drop(c.queue);
            if c.thread.join().is_err() {
                tracing::error!("the store's committer thread panicked");
            }
        }
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

/// Brings an older store format up to [`FORMAT_VERSION`], or refuses a
/// format this binary does not know. Version 1 is the first format, so
/// there is nothing to migrate yet; a version 2 would convert here, inside
/// one sled batch, before anything else reads the store.
fn migrate(dir: &Path, _db: &sled::Db, found: u32) -> Result<(), StoreError> {
    match found {
        FORMAT_VERSION => Ok(()),
        _ => Err(StoreError::UnknownFormat { path: dir.to_path_buf(), found, known: FORMAT_VERSION }),
    }
}

/// Stored objects whose signer or roster version is not known yet at this
/// point of the rebuild: records are read in key (id) order, so an object
/// can come before the objects that authorise it.
#[derive(Default)]
struct Deferred {
    items: Vec<(Vec<u8>, SignatureChecked, Rejection)>,
}

/// Validates one chunk of stored records and applies the valid ones, then
/// retries the deferred ones while that makes progress.
fn rebuild_chunk(
    coalition: &Coalition,
    state: &mut State,
    deferred: &mut Deferred,
    chunk: &[(sled::IVec, sled::IVec)],
    threads: usize,
) {
    let mut keys: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    let mut envelopes: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    for (key, value) in chunk {
        match check_record(key, value) {
            Ok(env) => {
                keys.push(key);
                envelopes.push(env);
            }
            Err(detail) => mark_corrupt(state, key, detail),
        }
    }
    let results = Ledger::check_signatures(coalition, &envelopes, threads);
    let mut progress = false;
    for (key, result) in keys.into_iter().zip(results) {
        let checked = match result {
            Ok(c) => c,
            Err(why) => {
                mark_corrupt(state, key, format!("stored object no longer validates: {why}"));
                continue;
            }
        };
        // No clock: everything stored was admitted once, whatever the time now.
        match state.ledger.authorise(&checked, u64::MAX) {
            Ok(obj) => {
                state.apply(&obj);
                progress = true;
            }
            Err(why) if why.awaits_objects() => deferred.items.push((key.to_vec(), checked, why)),
            Err(why) => mark_corrupt(state, key, format!("stored object no longer validates: {why}")),
        }
    }
    if progress {
        retry_deferred(state, deferred);
    }
}

/// Applies every deferred object the ledger now authorises, until none is.
fn retry_deferred(state: &mut State, deferred: &mut Deferred) {
    loop {
        let mut progress = false;
        deferred.items.retain_mut(|(key, c, why)| match state.ledger.authorise(c, u64::MAX) {
            Ok(obj) => {
                state.apply(&obj);
                progress = true;
                false
            }
            Err(w) if w.awaits_objects() => {
                *why = w;
                true
            }
            Err(w) => {
                mark_corrupt(state, key, format!("stored object no longer validates: {w}"));
                false
            }
        });
        if !progress || deferred.items.is_empty() {
            return;
        }
    }
}

/// Marks what is still deferred once every record has been read: objects
/// the stored set does not authorise (which a store never writes).
fn finish_deferred(state: &mut State, deferred: Deferred) {
    for (key, _, why) in deferred.items {
        mark_corrupt(state, &key, format!("stored object no longer validates: {why}"));
    }
}

fn mark_corrupt(state: &mut State, key: &[u8], detail: String) {
    let record = CorruptRecord { key: hex::encode(key), detail };
    tracing::warn!(key = %record.key, detail = %record.detail, "corrupted record found at open; not served");
    state.corrupt.insert(key.to_vec(), record);
}

impl Inner {
    /// The committer: waits for a submission, gathers every other one
    /// already waiting (up to `max_commit_objects`), commits them together
    /// and answers each submitter.
    fn run_committer(&self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut count = first.items.len();
            let mut group = vec![first];
            while count < self.config.max_commit_objects {
                match jobs.try_recv() {
                    Ok(job) => {
                        count += job.items.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            let (items, replies): (Vec<_>, Vec<_>) = group.into_iter().map(|j| ((j.items, j.now_ms), j.reply)).unzip();
            match self.commit(items) {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        // A submitter that went away needs no answer.
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "group commit failed; nothing in it was acknowledged");
                    let detail = e.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(StoreError::CommitFailed { detail: detail.clone() }));
                    }
                }
            }
        }
    }

    /// Dedupes, authorises each object against the ledger (with the
    /// submitter's clock), writes one atomic sled batch, makes it durable,
    /// and only then applies the new objects to the in-memory state. Objects
    /// refused only for want of others ([`Rejection::awaits_objects`]) are
    /// kept in the waiting pool; after every round that stored something,
    /// the pool is tried again and what it releases is stored in a further
    /// round, so an object and the objects it relies on may come in any
    /// order, in one batch or in several.
    fn commit(
        &self,
        jobs: Vec<(Vec<Result<SignatureChecked, Rejection>>, u64)>,
    ) -> Result<Vec<Vec<Admission>>, StoreError> {
        let now_ms = jobs.iter().map(|(_, now)| *now).max().unwrap_or(0);
        let mut outcomes: Vec<Vec<Option<Admission>>> = jobs.iter().map(|(j, _)| vec![None; j.len()]).collect();
        // Where each object of this group first appears, and later copies.
        let mut first: HashMap<ObjectId, (usize, usize)> = HashMap::new();
        let mut copies: Vec<((usize, usize), (usize, usize))> = Vec::new();
        let mut round: Vec<VerifiedObject> = Vec::new();
        {
            let mut state = write(&self.state);
            let state = &mut *state;
            for (j, (job, job_now)) in jobs.into_iter().enumerate() {
                for (i, item) in job.into_iter().enumerate() {
                    let checked = match item {
                        Err(why) => {
                            outcomes[j][i] = Some(Admission::Refused(why));
                            continue;
                        }
                        Ok(c) => c,
                    };
                    let id = checked.id();
                    if state.ledger.contains(&id) {
                        outcomes[j][i] = Some(Admission::Duplicate { id });
                        continue;
                    }
                    if let Some(at) = first.get(&id) {
                        copies.push(((j, i), *at));
                        continue;
                    }
                    first.insert(id, (j, i));
                    match state.ledger.authorise(&checked, job_now) {
                        Ok(obj) => round.push(obj),
                        Err(why) => {
                            if why.awaits_objects() {
                                state.waiting.hold(checked);
                            }
                            outcomes[j][i] = Some(Admission::Refused(why));
                        }
                    }
                }
            }
        }
        while !round.is_empty() {
            let mut batch = sled::Batch::default();
            for obj in &round {
                batch.insert(object_key(&obj.id()), record_value(obj.envelope().bytes()));
            }
            self.db.apply_batch(batch).map_err(StoreError::db(&self.path))?;
            self.db.flush().map_err(StoreError::db(&self.path))?;
            lock(&self.sync).sync()?;
            let mut state = write(&self.state);
            let state = &mut *state;
            for obj in round.drain(..) {
                let id = obj.id();
                let admission = match state.apply(&obj) {
                    Applied::New { adopted } => Admission::Stored { id, adopted },
                    Applied::Duplicate | Applied::Foreign => Admission::Duplicate { id },
                };
                // Objects released from the pool that came in this group are
                // reported stored; earlier submitters were already answered.
                if let Some((j, i)) = first.get(&id) {
                    outcomes[*j][*i] = Some(admission);
                }
            }
            round = state.waiting.release(&state.ledger, now_ms);
        }
        for ((j, i), (fj, fi)) in copies {
            outcomes[j][i] = match &outcomes[fj][fi] {
                Some(Admission::Stored { id, .. }) => Some(Admission::Duplicate { id: *id }),
                other => other.clone(),
            };
        }
        // Every object gets an outcome above; if one did not, that is a bug
        // of this store, reported as such, never as a fault of the object
        // or of the peer that sent it.
        outcomes
            .into_iter()
            .map(|job| job.into_iter().collect::<Option<Vec<Admission>>>())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StoreError::Internal("an object of the group got no outcome".into()))
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

    #[test]
    fn record_check_names_what_is_wrong() {
        let f = chorus_core::testkit::Fixture::new(3);
        let p = f.proposal(0, "Check", 1, None);
        let key = object_key(&p.id());
        let value = record_value(p.bytes());
        assert_eq!(check_record(&key, &value), Ok(p.bytes()));
        let mut flipped = value.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(check_record(&key, &flipped).unwrap_err().contains("digest"));
        let other = f.proposal(0, "Other", 1, None);
        let swapped = record_value(other.bytes());
        assert!(check_record(&key, &swapped).unwrap_err().contains("not the id"));
        assert!(check_record(&key, &value[..10]).unwrap_err().contains("shorter"));
    }
}
