//! # chorus-store: the durable object store of a Chorus node
//!
//! A node keeps every valid signed object of its coalition here, on
//! [sled](https://docs.rs/sled/0.34.7) (embedded, no server). The store is a
//! thin shell around chorus-core: every object is validated with the
//! ledger's knowledge (signatures by [`chorus_core::Ledger::check_signatures`]
//! in parallel, then [`chorus_core::Ledger::authorise`] against the objects
//! held, which knows admitted members, rotated keys and delegations) before
//! it is written, and the ledger is chorus-core's [`chorus_core::Ledger`].
//! What to admit is decided by chorus-core's admission machine,
//! [`chorus_core::Ingest`]; the store persists what it names and indexes
//! what it applies.
//!
//! ## Objects that wait for others
//! An object whose signer or roster version is not known yet
//! ([`chorus_core::Rejection::awaits_objects`], verdict Ignore) is reported
//! refused but kept in memory (the machine's [`chorus_core::Waiting`] pool
//! of at most 4,096 objects with verified signatures); it is stored, without
//! a further answer to its submitter, as soon as the objects it relies on
//! are. Within one submission it is reported `Stored` if they came in the
//! same group. At open, records are read in id order, so an object can
//! precede the objects that authorise it: the rebuild replays the records
//! ([`chorus_core::Ingest::replay`]), which keeps such objects and admits
//! them once what they wait for is, so it converges whatever the order.
//!
//! ## API in one screen
//! - [`Store::create`]`(dir, genesis_bytes, config)` founds a store (the
//!   genesis is verified and stored); [`Store::open`]`(dir, config)` opens one
//!   (the coalition comes from the stored genesis); [`Store::restore`] founds
//!   one from an export stream.
//! - [`Store::ingest`]`(&[bytes], now_ms) -> Vec<Admission>`: one
//!   [`chorus_core::Admission`] per input, in input order: `Stored` (durable
//!   before it is returned), `Duplicate`, or `Refused(rejection)` with the
//!   reason and its verdict. Blocking, safe from many threads at once, which
//!   then share commits (group commit).
//! - Reads: [`Store::get`] (exact envelope bytes, integrity-checked),
//!   [`Store::contains`], [`Store::sync_items`] (`(created_at_ms, id)` sorted,
//!   for set reconciliation), [`Store::objects_of_kind`],
//!   [`Store::endorsements_of`], [`Store::proposals`], [`Store::positions`],
//!   [`Store::with_ledger`] / [`Store::ledger_snapshot`] (tallies, proposal
//!   states, certificate endorsements), [`Store::certificate`] and
//!   [`Store::sealed_certificate`] (with a [`Sealer`]: PROTOCOL.md 9.2),
//!   [`Store::object_count`], [`Store::corrupt_records`].
//! - [`Store::export`] / [`Store::import`] / [`ExportReader`]: the portable
//!   stream described below.
//! - [`Store::flush`], [`Store::close`] (dropping closes too).
//!
//! `Store` is `Send + Sync`; share it with `Arc`. Every call blocks (std
//! threads, no async runtime): an async node calls it from `spawn_blocking`.
//! Reads never return an object before it is durable.
//!
//! ## On disk
//! One sled database in the store directory, one tree, key prefixes:
//! - `m:format` → format version (u32, big-endian; see [`FORMAT_VERSION`]);
//!   `m:coalition` → the coalition id (32 bytes).
//! - `o` ‖ object id (32 bytes) → SHA-256 of the envelope bytes (32 bytes) ‖
//!   the exact envelope bytes as received. The digest covers the signatures,
//!   which the object id does not.
//!
//! Everything else, the ledger and the indexes (objects by time and by
//! kind, endorsements by proposal, proposals, positions), is derived state,
//! held in memory and **rebuilt at every open** from the stored objects,
//! each of which is checked (digest, id) and validated again through
//! chorus-core on all cores (no clock: `now = u64::MAX`). Derived state is
//! never persisted, so it can never disagree with the objects; there is
//! nothing to repair but records themselves. Opening costs about one
//! signature check per object (about 50 CPU-µs; see the benchmark below).
//!
//! ## Integrity
//! On every read the record is checked against its key: the stored digest
//! against the bytes, then the id recomputed from the bytes against the key.
//! A record that fails is never served: [`Store::get`] returns
//! [`StoreError::Corrupt`] naming the key, and it is listed by
//! [`Store::corrupt_records`]. At open, failing records (including ones
//! that no longer validate) are logged, listed, and left out of the ledger
//! and indexes; the store still opens. Ingesting the same object again (from
//! a peer's sync or an export) rewrites the record and repairs it.
//!
//! One exception: an intact record of a kind with the common header of
//! PROTOCOL.md 3.4 (4 and 8 to 31: the reserved kinds, and comment (10),
//! open-voting (13) and withdrawal (14), which older versions admitted as
//! opaque objects) that the rules refuse at open is *dropped*, not listed
//! as corrupt: logged once with its reason and left out of the ledger and
//! indexes (not served, synced or exported), its record kept on disk,
//! untouched, so a version that admits it finds it again. An older version
//! acknowledged it without knowing the kind; a version that defines the
//! kind judges it by that kind's rules when the store is rebuilt, and one
//! they refuse is not damage (PROTOCOL.md 10). Opaque objects are otherwise
//! stored, indexed (by time and by kind), synced and exported like any
//! other object.
//!
//! sled checks its own log with a CRC per message. In sled 0.34.7 a message
//! that fails its CRC at recovery is taken as the end of the log, so a byte
//! flipped inside sled's log file makes that record (and whatever followed
//! it in the log) silently absent rather than corrupt. The store cannot see
//! such a loss from inside sled; the objects come back through set
//! reconciliation with peers or from an export. Damage that passes sled's
//! CRC is caught by the store's own check.
//!
//! ## Durability and group commit
//! An ingest is answered only after its objects are durable:
//! 1. the caller's thread checks its batch's signatures (`check_signatures`
//!    on [`StoreConfig::verify_threads`] threads), in parts of 512 objects;
//! 2. it hands each verified part to the store's committer thread through
//!    a bounded queue and goes on verifying the next part; once all parts
//!    are handed over it waits for all their answers;
//! 3. the committer takes that submission plus every other one already
//!    waiting (up to [`StoreConfig::max_commit_objects`]) and hands them to
//!    the admission machine ([`chorus_core::Ingest::begin`]), which dedupes
//!    them against the ledger and each other and authorises them against
//!    the ledger; the store writes the new records it names in **one atomic
//!    `apply_batch`**;
//! 4. `Db::flush()`, then (with [`StoreConfig::fsync`], the default)
//!    `fdatasync` of sled's log file `db`, and `fsync` of every new file in
//!    `blobs/` and of that directory;
//! 5. only then are the objects applied to the in-memory ledger
//!    ([`chorus_core::Ingest::persisted`]) and indexes; what that releases
//!    from the waiting pool is written the same way in a further round, and
//!    then each submitter receives its outcomes.
//!
//! Verification of one part or submission overlaps the commit of another,
//! and one flush + fsync covers every submission in a group.
//!
//! Which failures an acknowledgement survives:
//! - **Process killed (kill -9, panic, OOM)**: survives. After step 4 the
//!   bytes are in the kernel. Checked by the crash test
//!   (`tests/crash.rs`), which SIGKILLs a writer at random moments.
//! - **Power loss or kernel crash**: survives with `fsync = true`. sled
//!   0.34.7's `flush()` on Linux calls `sync_file_range(WAIT_BEFORE | WRITE |
//!   WAIT_AFTER)`, which writes dirty pages but neither flushes the disk's
//!   write cache nor the file's metadata (such as its size), and is not
//!   reliable on copy-on-write file systems such as btrfs (sled issues
//!   #1351 and #1452); sled writes blob files (values too large for a log
//!   segment) with no sync at all. Step 4 closes both gaps with
//!   `fdatasync`/`fsync`, which do flush the disk cache. Not tested here
//!   (it needs a power cut); it rests on the fsync contract of the file
//!   system.
//! - Atomicity: a group is one sled batch, so after any crash either all
//!   of its records are there or none; there are no index entries to get out
//!   of step, since indexes are rebuilt from records.
//!
//! ## Why sled 0.34.7
//! 0.34.7 is the last stable release and has a settled on-disk format. The
//! 1.0 line is still alpha: its API and on-disk format change between
//! alphas, and in our measurements its flush was about ten times slower,
//! which group commit cannot hide. The store uses only `apply_batch`,
//! `get`, `scan_prefix` and `flush`, so moving to a stable 1.0 later is a
//! small change behind [`FORMAT_VERSION`].
//!
//! ## Format version and migration
//! The store records [`FORMAT_VERSION`] at creation. A binary that finds a
//! version it does not know refuses to open the store with
//! [`StoreError::UnknownFormat`] ("store at X has format version 7, this
//! binary knows version 1: upgrade chorus…"). A newer binary migrates an
//! older store at open, in place, before reading it (`migrate` in
//! `record.rs`; version 1 is the first, so there is nothing to migrate yet).
//! Any version can always be carried forward by exporting with the old
//! binary and restoring with the new one.
//!
//! ## Export stream (format version 1)
//! One file, all big-endian:
//! ```text
//! magic         8 bytes   89 43 48 4F 52 55 53 0A  ("\x89CHORUS\n")
//! version       u32       1
//! coalition     32 bytes  the coalition id (= id of the genesis record)
//! records       repeated: length u32 (1..=limit) || exact envelope bytes
//!               the first record is the genesis (limit 4 MiB); every other
//!               record is one object (limit 96 KiB), ordered by
//!               (created_at_ms, object id), so proposals precede their
//!               endorsements
//! end marker    u32       0
//! count         u64       number of records, genesis included
//! ```
//! Nothing may follow the count. The envelope bytes are exactly those that
//! were signed and stored, so the file doubles as an auditor's input: every
//! record verifies on its own with chorus-core. [`Store::export`] writes
//! the objects held when it starts, safely while the node runs;
//! [`Store::import`] and [`Store::restore`] validate every record through
//! [`Store::ingest`] and return an [`ImportReport`] (stored, duplicate,
//! refused with reasons). A file for another coalition is refused whole; a
//! damaged or truncated file is reported, and only records that validated
//! were stored.
//!
//! ## Memory
//! sled's page cache is bounded by [`StoreConfig::cache_capacity_bytes`],
//! 64 MiB by default (sled's own default is 1 GiB). The derived state (ledger
//! and indexes) takes a few hundred bytes per object on top. A call to
//! `ingest` takes at most [`MAX_BATCH_OBJECTS`] objects, each already bounded
//! by chorus-core's limits; the commit queue holds at most 64 submissions.
//! Open and import work through at most 4,096 records or 16 MiB of
//! envelopes at a time.
//!
//! ## Tests
//! - `tests/crash.rs`: a child process ingests and prints each acknowledged
//!   id; the test SIGKILLs it at a random moment, reopens the store and
//!   checks every acknowledged object is present and intact, the store opens
//!   cleanly, and its ledger equals a recomputation. 30 kill points by
//!   default; `CHORUS_CRASH_KILLS=1000 cargo test --release -p chorus-store
//!   --test crash -- --nocapture` runs 1,000.
//! - `tests/integrity.rs`: bytes flipped in a record with the store closed
//!   are detected, reported with the key, not served, and repaired by
//!   re-ingest; bytes flipped in sled's files are never served.
//! - `tests/export.rs`: export then restore yields the identical ledger;
//!   a backup taken during writes restores consistently; refusals and
//!   damaged streams are reported.
//! - `tests/order.rs` (proptest): any order and batching of one set of
//!   objects gives the same state; `tests/store.rs`: outcomes, reopen,
//!   format version, lock, concurrency, pipelined batches.
//! - `tests/opaque.rs` and `tests/deliberation.rs`: objects of reserved
//!   kinds, and comments, open-voting and withdrawal objects, are stored,
//!   replayed and exported; stored ones an older version admitted that
//!   this version's rules refuse are kept on disk and dropped, never
//!   corrupt; certificates carry the dissent and verify sealed.
//!
//! ## Benchmark
//! `cargo bench -p chorus-store` prints durable ingest throughput
//! (verified and fsynced endorsements per second) with group commit and
//! with one commit per object, their ratio, and reopen speed, each with the
//! CPU time it used, beside its baseline (verification alone, no store)
//! measured in the same run. The figures seen are in the README's
//! benchmark table, the one place they are kept. In that run the store
//! added about 15 CPU-µs per object to verification (about 39 CPU-µs per
//! object alone, 52–57 with the store).

mod certificate;
mod committer;
mod durability;
mod error;
mod export;
mod index;
mod rebuild;
mod record;
mod store;

pub use certificate::{AssembledCertificate, SealState};
pub use chorus_core::certificate::Sealer;
pub use error::StoreError;
pub use export::{ExportReader, ImportReport, EXPORT_MAGIC, EXPORT_VERSION};
pub use record::{CorruptRecord, FORMAT_VERSION};
pub use store::{Store, StoreConfig, MAX_BATCH_OBJECTS};
