//! Rebuilding the derived state at open from every stored record.

use std::path::Path;

use chorus_core::ingest::NO_CLOCK;
use chorus_core::{Coalition, Kind, Ledger, Rejection, Replay};

use crate::error::StoreError;
use crate::index::State;
use crate::record::{check_record_kind, CorruptRecord, OBJECT_PREFIX};

/// Records validated together when rebuilding at open or importing.
pub(crate) const OPEN_CHUNK: usize = 4096;
/// Bytes of envelopes held at once when rebuilding at open or importing,
/// so memory stays bounded even when every object is of maximal size.
pub(crate) const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Checks every stored record and rebuilds the ledger and indexes from
/// those that validate, working through at most [`OPEN_CHUNK`] records or
/// [`CHUNK_BYTES`] of envelopes at a time. The records are replayed through
/// chorus-core's admission machine without a clock (everything stored was
/// admitted once, whatever the time now). Records are read in key (id)
/// order, so an object can come before the objects that authorise it: the
/// replay keeps it and admits it once they are. Records that fail, or that
/// the stored set never authorises (which a store never writes), are marked
/// corrupt, never applied, except records of a kind with the common header
/// of PROTOCOL.md 3.4 whose bytes are intact: an older version admitted
/// them without knowing the kind, and one this version's rules refuse is
/// dropped (logged, not served, not corrupt; PROTOCOL.md 10).
pub(crate) fn rebuild(dir: &Path, db: &sled::Db, coalition: &Coalition, threads: usize) -> Result<State, StoreError> {
    let mut state = State::new(coalition);
    let mut replay: Replay<(sled::IVec, Kind)> = Replay::new(NO_CLOCK);
    let mut chunk: Vec<(sled::IVec, sled::IVec)> = Vec::with_capacity(OPEN_CHUNK);
    let mut chunk_bytes = 0;
    for item in db.scan_prefix([OBJECT_PREFIX]) {
        let (key, value) = item.map_err(StoreError::db(dir))?;
        chunk_bytes += value.len();
        chunk.push((key, value));
        if chunk.len() == OPEN_CHUNK || chunk_bytes >= CHUNK_BYTES {
            rebuild_chunk(coalition, &mut state, &mut replay, &chunk, threads);
            chunk.clear();
            chunk_bytes = 0;
        }
    }
    rebuild_chunk(coalition, &mut state, &mut replay, &chunk, threads);
    for ((key, kind), why) in replay.finish() {
        refused(&mut state, &key, kind, why);
    }
    Ok(state)
}

/// Checks one chunk of stored records and replays those that pass, which
/// also admits what earlier chunks left waiting for them.
fn rebuild_chunk(
    coalition: &Coalition,
    state: &mut State,
    replay: &mut Replay<(sled::IVec, Kind)>,
    chunk: &[(sled::IVec, sled::IVec)],
    threads: usize,
) {
    let mut keys: Vec<(sled::IVec, Kind)> = Vec::with_capacity(chunk.len());
    let mut envelopes: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    for (key, value) in chunk {
        match check_record_kind(key, value) {
            Ok((env, kind)) => {
                keys.push((key.clone(), kind));
                envelopes.push(env);
            }
            Err(detail) => mark_corrupt(state, key, detail),
        }
    }
    let checked = Ledger::check_signatures(coalition, &envelopes, threads);
    let replayed = state.ingest.replay(replay, keys.into_iter().zip(checked));
    for (_, obj, applied) in &replayed.applied {
        state.indexed(obj, applied);
    }
    for ((key, kind), why) in replayed.refused {
        refused(state, &key, kind, why);
    }
}

/// An intact record whose object this version's rules refuse (now, or
/// because the stored set never authorises it). A store writes only
/// objects that passed, so for a kind this version defines since its
/// first edition that is damage the digest could not see; for a kind with
/// the common header it is an object an older version kept without
/// knowing the kind, which this version's rules for it refuse: dropped.
fn refused(state: &mut State, key: &[u8], kind: Kind, why: Rejection) {
    if kind.has_common_header() {
        tracing::warn!(
            key = %hex::encode(key),
            kind = %kind,
            reason = %why,
            "stored object of a kind kept before this version knew it is refused by its rules: dropped, not served"
        );
        return;
    }
    mark_corrupt(state, key, format!("stored object no longer validates: {why}"));
}

fn mark_corrupt(state: &mut State, key: &[u8], detail: String) {
    let record = CorruptRecord { key: hex::encode(key), detail };
    tracing::warn!(key = %record.key, detail = %record.detail, "corrupted record found at open; not served");
    state.corrupt.insert(key.to_vec(), record);
}
