//! Same set of objects, any order and any batching: same stored state.

mod common;

use chorus_core::testkit::Fixture;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_batching_gives_the_same_state(
        order in Just((0..36usize).collect::<Vec<_>>()).prop_shuffle(),
        cuts in proptest::collection::vec(1..12usize, 1..8),
        repeats in proptest::collection::vec(0..36usize, 0..6),
    ) {
        let f = Fixture::new(5);
        let objs = common::objects(&f, 0..36);

        let sorted_dir = tempfile::tempdir().unwrap();
        let sorted = common::create(sorted_dir.path(), &f);
        sorted.ingest(&objs, u64::MAX).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let store = common::create(dir.path(), &f);
        let mut shuffled: Vec<Vec<u8>> = order.iter().map(|&i| objs[i].clone()).collect();
        shuffled.extend(repeats.iter().map(|&i| objs[i].clone()));
        let mut rest = &shuffled[..];
        let mut k = 0;
        while !rest.is_empty() {
            let n = cuts[k % cuts.len()].min(rest.len());
            store.ingest(&rest[..n], u64::MAX).unwrap();
            rest = &rest[n..];
            k += 1;
        }
        prop_assert_eq!(store.with_ledger(|l| l.digest()), sorted.with_ledger(|l| l.digest()));
        prop_assert_eq!(store.sync_items(), sorted.sync_items());
        prop_assert_eq!(store.positions(), sorted.positions());
        for p in sorted.proposals() {
            prop_assert_eq!(store.endorsements_of(&p), sorted.endorsements_of(&p));
            prop_assert_eq!(store.certificate(&p).unwrap(), sorted.certificate(&p).unwrap());
        }
    }
}
