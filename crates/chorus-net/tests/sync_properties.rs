//! Properties of a whole in-process session over random pairs of sets: the
//! client receives exactly the objects it lacks (server minus client), each
//! once and byte for byte, and `have` is exactly client minus server, within
//! the round-trip bound, whatever the overlap, the shape of the difference
//! (runs or interleaved), empty sides, shared timestamps, duplicate items or
//! the limits.

mod sync_common;

use std::collections::{BTreeSet, HashSet};
use std::sync::OnceLock;

use chorus_core::testkit::T0;
use chorus_core::{Envelope, ObjectId};
use chorus_net::sync::{SyncLimits, DEFAULT_MAX_ROUND_TRIPS, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES};
use proptest::prelude::*;
use sync_common::*;

const POOL: usize = 2_500;

/// Envelopes of 40 to 1,000 body bytes, built once.
fn pool() -> &'static [Envelope] {
    static POOL_ENVELOPES: OnceLock<Vec<Envelope>> = OnceLock::new();
    POOL_ENVELOPES.get_or_init(|| (0..POOL as u64).map(|i| envelope(i, 40 + (i as usize * 7919) % 960)).collect())
}

/// Where object `k` is held: 0 both, 1 client only, 2 server only, 3
/// neither.
fn membership() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Interleaved: each object on its own, with a random bias.
        (0u8..4, 0usize..POOL).prop_flat_map(|(bias, n)| {
            proptest::collection::vec(
                prop_oneof![4 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3), 2 => Just(bias)],
                n,
            )
        }),
        // Clustered: runs of one placement.
        proptest::collection::vec((0u8..4, 1usize..400), 0..12).prop_map(|runs| runs
            .into_iter()
            .flat_map(|(side, len)| std::iter::repeat_n(side, len))
            .take(POOL)
            .collect()),
    ]
}

/// Item times: distinct, a few shared values, or all one.
fn time_of(k: usize, mode: u8) -> u64 {
    match mode {
        0 => T0 + k as u64,
        1 => T0 + (k as u64 / 17) * 3,
        _ => T0,
    }
}

fn limits() -> impl Strategy<Value = SyncLimits> {
    prop_oneof![
        2 => Just(SyncLimits::default()),
        3 => (1usize..=8, 1usize..=32, prop_oneof![Just(1usize), 200usize..5_000, Just(1 << 20)]).prop_map(
            |(queries, ids, bytes)| SyncLimits {
                max_queries_per_request: queries,
                max_ids_per_query: ids,
                response_bytes: bytes,
                // Tiny budgets mean one object per response.
                max_round_trips: u32::MAX,
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_session_moves_exactly_the_difference(
        placement in membership(),
        time_mode in 0u8..3,
        duplicated in any::<bool>(),
        limits in limits(),
    ) {
        let pool = pool();
        let mut client = Side::default();
        let mut server = Side::default();
        for (k, side) in placement.iter().enumerate() {
            let t = time_of(k, time_mode);
            if *side == 0 || *side == 1 {
                client.insert(t, &pool[k]);
            }
            if *side == 0 || *side == 2 {
                server.insert(t, &pool[k]);
            }
        }
        if duplicated {
            // The store never lists an item twice, but a snapshot must not
            // care if it does.
            let extra: Vec<_> = client.items.iter().step_by(3).copied().collect();
            client.items.extend(extra);
            let extra: Vec<_> = server.items.iter().step_by(5).copied().collect();
            server.items.extend(extra);
        }
        let out = run(&client, &server, limits).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (ours, theirs) = (client.ids(), server.ids());
        let want: BTreeSet<ObjectId> = theirs.difference(&ours).copied().collect();
        let got: Vec<ObjectId> = out.received.iter().map(|e| e.id()).collect();
        prop_assert_eq!(got.len(), got.iter().collect::<HashSet<_>>().len(), "each object once");
        prop_assert_eq!(&got.into_iter().collect::<BTreeSet<_>>(), &want);
        for e in &out.received {
            prop_assert_eq!(e.bytes(), server.objects[&e.id()].as_slice());
        }
        prop_assert_eq!(out.have.len(), out.have.iter().collect::<HashSet<_>>().len(), "each id once");
        prop_assert_eq!(out.have.iter().copied().collect::<BTreeSet<_>>(), ours.difference(&theirs).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(out.stats.have, out.have.len());
        prop_assert_eq!(out.stats.received, out.received.len());
        prop_assert!(out.largest_request <= MAX_SYNC_REQUEST_BYTES);
        prop_assert!(out.largest_response <= MAX_SYNC_RESPONSE_BYTES);
        if limits == SyncLimits::default() {
            // At most 2,500 items and 1.3 MB of objects: a handful of
            // rounds of splits and two budgets' worth of objects.
            prop_assert!(out.stats.round_trips <= 16, "{:?}", out.stats);
            prop_assert!(out.stats.round_trips <= DEFAULT_MAX_ROUND_TRIPS);
        }
        if want.is_empty() && out.have.is_empty() {
            prop_assert_eq!(out.stats.round_trips, 1);
        }
    }
}
