//! [`SyncSnapshot`]: the sorted, immutable item set one side reconciles, with
//! prefix sums for fingerprints of any range.

use std::sync::Arc;

use chorus_core::ObjectId;

use super::keyspace::{fingerprint, limbs, separator, sum_add, sum_sub, Key, Sum, FINGERPRINT_BYTES};

#[derive(Debug)]
struct SnapshotData {
    keys: Vec<Key>,
    /// `sums[i]` is the sum of the first `i` ids; one entry more than keys.
    sums: Vec<Sum>,
}

/// A sealed, immutable view of a node's object set for reconciliation: one
/// item `(created_at_ms, id)` per object, sorted, duplicates removed, with
/// prefix sums so any range's fingerprint costs `O(log n)`. Cloning shares
/// the data, so one snapshot can serve many sessions at once; build a new
/// one when the store changes.
#[derive(Debug, Clone)]
pub struct SyncSnapshot {
    data: Arc<SnapshotData>,
}

impl SyncSnapshot {
    /// Builds a snapshot from items in any order (the store gives them
    /// sorted, which makes sorting cheap). Costs `O(n log n)` and 72 bytes
    /// per item.
    pub fn new<I: IntoIterator<Item = (u64, ObjectId)>>(items: I) -> Self {
        let mut keys: Vec<Key> = items.into_iter().map(|(ts, id)| Key { ts, id: id.0 }).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut sums = Vec::with_capacity(keys.len() + 1);
        let mut acc: Sum = [0; 4];
        sums.push(acc);
        for k in &keys {
            acc = sum_add(&acc, &limbs(&k.id));
            sums.push(acc);
        }
        SyncSnapshot { data: Arc::new(SnapshotData { keys, sums }) }
    }

    /// Number of distinct items.
    pub fn len(&self) -> usize {
        self.data.keys.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.data.keys.is_empty()
    }

    /// Index range `[i, j)` of the items in `[lower, upper)`.
    pub(super) fn range(&self, lower: &Key, upper: Option<&Key>) -> (usize, usize) {
        let keys = &self.data.keys;
        let i = keys.partition_point(|k| k < lower);
        let j = match upper {
            None => keys.len(),
            Some(u) => keys.partition_point(|k| k < u),
        };
        (i, j.max(i))
    }

    pub(super) fn fingerprint(&self, i: usize, j: usize) -> [u8; FINGERPRINT_BYTES] {
        let sum = sum_sub(&self.data.sums[j], &self.data.sums[i]);
        fingerprint((j - i) as u64, &sum)
    }

    pub(super) fn key(&self, i: usize) -> &Key {
        &self.data.keys[i]
    }

    /// Cuts the items `[i, j)` (at least one) into at most `parts` runs of
    /// nearly equal size; returns each run's index range and the bound it
    /// ends at (none for the last, which ends where the range does).
    pub(super) fn split(&self, i: usize, j: usize, parts: usize) -> Vec<(usize, usize, Option<Key>)> {
        let m = j - i;
        let k = parts.min(m).max(1);
        (0..k)
            .map(|t| {
                let s = i + m * t / k;
                let e = i + m * (t + 1) / k;
                let upper = (t + 1 < k).then(|| separator(self.key(e - 1), self.key(e)));
                (s, e, upper)
            })
            .collect()
    }
}
