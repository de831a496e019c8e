//! Rebuilding the derived state at open from every stored record.

use std::path::Path;

use chorus_core::{Coalition, Ledger, Rejection, SignatureChecked};

use crate::error::StoreError;
use crate::index::State;
use crate::record::{check_record, CorruptRecord, OBJECT_PREFIX};

/// Records validated together when rebuilding at open or importing.
pub(crate) const OPEN_CHUNK: usize = 4096;
/// Bytes of envelopes held at once when rebuilding at open or importing,
/// so memory stays bounded even when every object is of maximal size.
pub(crate) const CHUNK_BYTES: usize = 16 * 1024 * 1024;

/// Checks every stored record and rebuilds the ledger and indexes from
/// those that validate, working through at most [`OPEN_CHUNK`] records or
/// [`CHUNK_BYTES`] of envelopes at a time. Records that fail are marked
/// corrupt, never applied.
pub(crate) fn rebuild(dir: &Path, db: &sled::Db, coalition: &Coalition, threads: usize) -> Result<State, StoreError> {
    let mut state = State::new(coalition);
    let mut deferred = Deferred::default();
    let mut chunk: Vec<(sled::IVec, sled::IVec)> = Vec::with_capacity(OPEN_CHUNK);
    let mut chunk_bytes = 0;
    for item in db.scan_prefix([OBJECT_PREFIX]) {
        let (key, value) = item.map_err(StoreError::db(dir))?;
        chunk_bytes += value.len();
        chunk.push((key, value));
        if chunk.len() == OPEN_CHUNK || chunk_bytes >= CHUNK_BYTES {
            rebuild_chunk(coalition, &mut state, &mut deferred, &chunk, threads);
            chunk.clear();
            chunk_bytes = 0;
        }
    }
    rebuild_chunk(coalition, &mut state, &mut deferred, &chunk, threads);
    finish_deferred(&mut state, deferred);
    Ok(state)
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
