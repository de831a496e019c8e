//! The key space: keys and bounds of `(timestamp, id)`, ranges, sums of ids
//! and fingerprints, and how a bound is written on the wire. The rules are
//! the normative "Items, keys and ranges" and "Fingerprints" paragraphs of
//! `docs/PROTOCOL.md` 14.5.

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(ts: u64, prefix: &[u8]) -> Key {
        let mut id = [0u8; 32];
        id[..prefix.len()].copy_from_slice(prefix);
        Key { ts, id }
    }

    fn any_key() -> impl Strategy<Value = Key> {
        // Few timestamps and small bytes, so that equal timestamps and
        // shared id prefixes are common.
        (0u64..4, proptest::collection::vec(0u8..3, 32)).prop_map(|(ts, id)| key(ts, &id))
    }

    #[test]
    fn keys_order_by_timestamp_then_id_bytes() {
        assert!(key(1, &[0xff; 32]) < key(2, &[]));
        assert!(key(2, &[1, 0xff]) < key(2, &[2]));
        assert_eq!(MIN_KEY, key(0, &[]));
        assert!(below(&key(3, &[]), None));
        assert!(below(&key(3, &[]), Some(&key(3, &[1]))));
        assert!(!below(&key(3, &[1]), Some(&key(3, &[1]))));
    }

    #[test]
    fn a_cut_between_timestamps_is_the_later_timestamp_alone() {
        assert_eq!(separator(&key(5, &[9, 9]), &key(7, &[1, 2, 3])), key(7, &[]));
    }

    #[test]
    fn a_cut_within_a_timestamp_ends_at_the_first_differing_byte() {
        let a = key(5, &[1, 2, 3, 4]);
        let b = key(5, &[1, 2, 7, 0, 8]);
        let cut = separator(&a, &b);
        assert_eq!(cut, key(5, &[1, 2, 7]));
        assert_eq!(bound_to_wire(&cut).id_prefix, vec![1, 2, 7]);
    }

    #[test]
    fn a_bound_prefix_longer_than_an_id_is_refused() {
        let bound = pb::SyncBound { timestamp: 1, id_prefix: vec![0; 33] };
        assert_eq!(bound_from_wire(&bound), Err(SyncError::BadBound { len: 33 }));
        let bound = pb::SyncBound { timestamp: 1, id_prefix: vec![7; 32] };
        assert_eq!(bound_from_wire(&bound), Ok(key(1, &[7; 32])));
    }

    #[test]
    fn the_lower_end_of_the_key_space_is_sent_as_no_bound() {
        assert_eq!(lower_to_wire(&MIN_KEY), None);
        assert_eq!(lower_to_wire(&key(0, &[0, 1])), Some(pb::SyncBound { timestamp: 0, id_prefix: vec![0, 1] }));
    }

    #[test]
    fn ids_are_summed_as_little_endian_integers_modulo_2_256() {
        assert_eq!(limbs(&key(0, &[1]).id), [1, 0, 0, 0]);
        assert_eq!(limbs(&key(0, &[0, 0, 0, 0, 0, 0, 0, 0, 2]).id), [0, 2, 0, 0]);
        assert_eq!(sum_add(&[u64::MAX, 0, 0, 0], &[1, 0, 0, 0]), [0, 1, 0, 0]);
        assert_eq!(sum_add(&[u64::MAX; 4], &[1, 0, 0, 0]), [0; 4]);
        assert_eq!(sum_sub(&[0; 4], &[1, 0, 0, 0]), [u64::MAX; 4]);
    }

    /// Vectors computed from the normative definition with an independent
    /// SHA-256 (Python's hashlib), so that a change to the hashed layout
    /// fails here and not only between nodes of different versions.
    #[test]
    fn fingerprints_match_the_normative_definition() {
        assert_eq!(hex::encode(fingerprint(0, &[0; 4])), "47ce875cd9a6c4394ca11be2f25d36b0");
        // Two ids of all ones: their sum wraps to 2^256 - 2.
        let ones = limbs(&[0xff; 32]);
        assert_eq!(hex::encode(fingerprint(2, &sum_add(&ones, &ones))), "40cdd930dedc7e9cb82e6a8a4506a08c");
    }

    proptest! {
        #[test]
        fn a_cut_lies_between_its_keys_and_no_shorter_bound_does(a in any_key(), b in any_key()) {
            prop_assume!(a < b);
            let cut = separator(&a, &b);
            prop_assert!(a < cut && cut <= b);
            let wire = bound_to_wire(&cut);
            if let Some((_, shorter)) = wire.id_prefix.split_last() {
                let shorter = bound_from_wire(&pb::SyncBound { timestamp: wire.timestamp, id_prefix: shorter.to_vec() });
                prop_assert!(shorter.unwrap() <= a);
            }
        }

        #[test]
        fn bounds_survive_the_wire(k in any_key()) {
            prop_assert_eq!(bound_from_wire(&bound_to_wire(&k)), Ok(k));
        }

        #[test]
        fn subtraction_undoes_addition(a in any::<[u64; 4]>(), b in any::<[u64; 4]>()) {
            prop_assert_eq!(sum_sub(&sum_add(&a, &b), &b), a);
        }
    }
}
