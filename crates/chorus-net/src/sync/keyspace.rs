//! The key space: keys and bounds of `(timestamp, id)`, ranges, sums of ids
//! and fingerprints, and how a bound is written on the wire. The rules are
//! the normative "Items, keys and ranges" and "Fingerprints" sections of the
//! [module docs](super).

use chorus_proto::v1 as pb;
use sha2::{Digest, Sha256};

use super::error::SyncError;

/// Bytes of a range fingerprint.
pub const FINGERPRINT_BYTES: usize = 16;

const FINGERPRINT_DOMAIN: &[u8] = b"chorus/v1/sync-fingerprint\n";

/// A point of the key space: an item's key, or a bound (its id prefix padded
/// with zero bytes). Ordered by timestamp, then id bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Key {
    pub(super) ts: u64,
    pub(super) id: [u8; 32],
}

/// The smallest key: the lower end of the key space.
pub(super) const MIN_KEY: Key = Key { ts: 0, id: [0; 32] };

/// A 256-bit sum of ids, little-endian limbs.
pub(super) type Sum = [u64; 4];

pub(super) fn limbs(id: &[u8; 32]) -> Sum {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().zip(id.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    out
}

pub(super) fn sum_add(a: &Sum, b: &Sum) -> Sum {
    let mut out = [0u64; 4];
    let mut carry = false;
    for k in 0..4 {
        let (s, c1) = a[k].overflowing_add(b[k]);
        let (s, c2) = s.overflowing_add(carry as u64);
        out[k] = s;
        carry = c1 || c2;
    }
    out
}

pub(super) fn sum_sub(a: &Sum, b: &Sum) -> Sum {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for k in 0..4 {
        let (d, b1) = a[k].overflowing_sub(b[k]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        out[k] = d;
        borrow = b1 || b2;
    }
    out
}

pub(super) fn fingerprint(count: u64, sum: &Sum) -> [u8; FINGERPRINT_BYTES] {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DOMAIN);
    h.update(count.to_le_bytes());
    for limb in sum {
        h.update(limb.to_le_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; FINGERPRINT_BYTES];
    out.copy_from_slice(&digest[..FINGERPRINT_BYTES]);
    out
}

/// The shortest bound `c` with `a < c <= b`, for adjacent keys `a < b`: the
/// cut between them that costs the fewest bytes on the wire.
pub(super) fn separator(a: &Key, b: &Key) -> Key {
    if a.ts != b.ts {
        return Key { ts: b.ts, id: [0; 32] };
    }
    match a.id.iter().zip(b.id.iter()).position(|(x, y)| x != y) {
        Some(k) => {
            let mut id = [0u8; 32];
            id[..=k].copy_from_slice(&b.id[..=k]);
            Key { ts: b.ts, id }
        }
        // Equal keys do not occur in a snapshot; `b` is still a valid cut.
        None => *b,
    }
}

pub(super) fn bound_to_wire(k: &Key) -> pb::SyncBound {
    // Trailing zero bytes are implied by the padding rule.
    let len = k.id.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    pb::SyncBound { timestamp: k.ts, id_prefix: k.id[..len].to_vec() }
}

pub(super) fn bound_from_wire(b: &pb::SyncBound) -> Result<Key, SyncError> {
    if b.id_prefix.len() > 32 {
        return Err(SyncError::BadBound { len: b.id_prefix.len() });
    }
    let mut id = [0u8; 32];
    id[..b.id_prefix.len()].copy_from_slice(&b.id_prefix);
    Ok(Key { ts: b.timestamp, id })
}

pub(super) fn lower_to_wire(k: &Key) -> Option<pb::SyncBound> {
    (*k != MIN_KEY).then(|| bound_to_wire(k))
}

pub(super) fn below(k: &Key, upper: Option<&Key>) -> bool {
    upper.is_none_or(|u| k < u)
}
