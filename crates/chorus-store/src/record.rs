//! The on-disk record format: keys, the digest-headed object records, the
//! check every record passes before it is served or rebuilt from, and the
//! format version with its migration.

use std::path::Path;

use chorus_core::{Envelope, Kind, ObjectId};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// The on-disk format version this binary writes and reads. Version 1 is
/// the first; [`Store::open`](crate::Store::open) refuses any other with a message saying what to
/// do, and is where a later binary migrates older versions.
pub const FORMAT_VERSION: u32 = 1;

/// sled key holding the format version (u32, big-endian).
pub(crate) const KEY_FORMAT: &[u8] = b"m:format";
/// sled key holding the coalition id (32 bytes).
pub(crate) const KEY_COALITION: &[u8] = b"m:coalition";
/// Prefix of object records: `o` followed by the 32-byte object id.
pub(crate) const OBJECT_PREFIX: u8 = b'o';
/// Length of the digest that heads every object record.
const DIGEST_LEN: usize = 32;

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

pub(crate) fn object_key(id: &ObjectId) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(OBJECT_PREFIX);
    k.extend_from_slice(id.as_bytes());
    k
}

pub(crate) fn record_value(envelope: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(DIGEST_LEN + envelope.len());
    v.extend_from_slice(&Sha256::digest(envelope));
    v.extend_from_slice(envelope);
    v
}

/// Checks a record against its key: the digest of the envelope bytes (which
/// covers the signatures too) and the object id recomputed from them.
/// Returns the exact envelope bytes.
pub(crate) fn check_record<'a>(key: &[u8], value: &'a [u8]) -> Result<&'a [u8], String> {
    check_record_kind(key, value).map(|(envelope, _)| envelope)
}

/// [`check_record`], also returning the kind of the object.
pub(crate) fn check_record_kind<'a>(key: &[u8], value: &'a [u8]) -> Result<(&'a [u8], Kind), String> {
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
    Ok((envelope, env.kind()))
}

/// Brings an older store format up to [`FORMAT_VERSION`], or refuses a
/// format this binary does not know. Version 1 is the first format, so
/// there is nothing to migrate yet; a version 2 would convert here, inside
/// one sled batch, before anything else reads the store.
pub(crate) fn migrate(dir: &Path, _db: &sled::Db, found: u32) -> Result<(), StoreError> {
    match found {
        FORMAT_VERSION => Ok(()),
        _ => Err(StoreError::UnknownFormat { path: dir.to_path_buf(), found, known: FORMAT_VERSION }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
