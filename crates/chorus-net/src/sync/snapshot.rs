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

    /// The fingerprint of the whole set (what a head announces).
    pub fn set_fingerprint(&self) -> [u8; FINGERPRINT_BYTES] {
        self.fingerprint(0, self.len())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::keyspace::MIN_KEY;
    use proptest::prelude::*;

    fn items() -> impl Strategy<Value = Vec<(u64, ObjectId)>> {
        proptest::collection::vec((0u64..20, any::<[u8; 32]>().prop_map(ObjectId)), 0..80)
    }

    /// The fingerprint of `items` computed from the definition, one id at a
    /// time.
    fn direct_fingerprint(items: &[Key]) -> [u8; FINGERPRINT_BYTES] {
        let sum = items.iter().fold([0; 4], |acc, k| sum_add(&acc, &limbs(&k.id)));
        fingerprint(items.len() as u64, &sum)
    }

    #[test]
    fn items_are_sorted_and_duplicates_removed() {
        let a = ObjectId([1; 32]);
        let b = ObjectId([2; 32]);
        let snapshot = SyncSnapshot::new([(5, b), (3, b), (5, a), (3, b)]);
        assert_eq!(snapshot.len(), 3);
        let keys: Vec<(u64, u8)> = (0..3).map(|i| (snapshot.key(i).ts, snapshot.key(i).id[0])).collect();
        assert_eq!(keys, vec![(3, 2), (5, 1), (5, 2)]);
        assert!(SyncSnapshot::new([]).is_empty());
    }

    #[test]
    fn a_range_holds_the_items_from_its_lower_bound_up_to_its_upper() {
        let snapshot = SyncSnapshot::new((1..=5).map(|t| (t * 10, ObjectId([t as u8; 32]))));
        let at = |ts| Key { ts, id: [0; 32] };
        assert_eq!(snapshot.range(&MIN_KEY, None), (0, 5));
        assert_eq!(snapshot.range(&at(20), Some(&at(40))), (1, 3));
        assert_eq!(snapshot.range(&at(21), Some(&at(30))), (2, 2));
        // An upper bound below the lower one holds nothing.
        assert_eq!(snapshot.range(&at(40), Some(&at(20))), (3, 3));
    }

    proptest! {
        #[test]
        fn range_fingerprints_equal_the_definition(mut items in items(), a in 0usize..100, b in 0usize..100) {
            let snapshot = SyncSnapshot::new(items.clone());
            // The order items arrive in does not matter.
            items.reverse();
            prop_assert_eq!(SyncSnapshot::new(items).data.keys.clone(), snapshot.data.keys.clone());
            let n = snapshot.len();
            let (i, j) = (a.min(b).min(n), a.max(b).min(n));
            prop_assert_eq!(snapshot.fingerprint(i, j), direct_fingerprint(&snapshot.data.keys[i..j]));
        }

        #[test]
        fn a_split_cuts_into_nearly_equal_runs_at_bounds_between_them(items in items(), parts in 1usize..20) {
            let snapshot = SyncSnapshot::new(items);
            prop_assume!(!snapshot.is_empty());
            let runs = snapshot.split(0, snapshot.len(), parts);
            prop_assert_eq!(runs.len(), parts.min(snapshot.len()));
            let sizes: Vec<usize> = runs.iter().map(|(s, e, _)| e - s).collect();
            prop_assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            let mut lower = MIN_KEY;
            let mut next = 0;
            for (k, (s, e, upper)) in runs.iter().enumerate() {
                prop_assert_eq!(*s, next);
                prop_assert_eq!(upper.is_none(), k + 1 == runs.len());
                // Each run is exactly the items between its bounds.
                prop_assert_eq!(snapshot.range(&lower, upper.as_ref()), (*s, *e));
                if let Some(u) = upper {
                    lower = *u;
                }
                next = *e;
            }
            prop_assert_eq!(next, snapshot.len());
        }
    }
}
