//! Catch-up sync between two in-process sides: reconciliation finds exactly
//! the difference with traffic that grows with the difference, and the fetch
//! step moves exactly the missing envelopes. No network.

use std::collections::{BTreeSet, HashMap, HashSet};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{ObjectId, Stance};
use chorus_net::sync::{ClientStep, Fetcher, SyncClient, SyncLimits, SyncServer, SyncSnapshot, SyncStats};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Item `i`: created at `T0 + i` ms, with a pseudo-random id.
fn item(i: u64) -> (u64, ObjectId) {
    let id: [u8; 32] = Sha256::digest(i.to_be_bytes()).into();
    (T0 + i, ObjectId(id))
}

fn items(range: impl IntoIterator<Item = u64>) -> Vec<(u64, ObjectId)> {
    range.into_iter().map(item).collect()
}

/// Runs a whole reconciliation of `ours` (initiator) against `theirs`.
fn reconcile(
    ours: &[(u64, ObjectId)],
    theirs: &[(u64, ObjectId)],
    limits: SyncLimits,
) -> (Vec<ObjectId>, Vec<ObjectId>, SyncStats) {
    let server = SyncServer::new(SyncSnapshot::new(theirs.iter().copied()).unwrap(), limits).unwrap();
    let mut client = SyncClient::new(&SyncSnapshot::new(ours.iter().copied()).unwrap(), limits).unwrap();
    let mut request = client.initiate().unwrap();
    loop {
        let response = server.handle_request(&request, |_| None).unwrap();
        match client.handle_response(&response).unwrap() {
            ClientStep::Request(next) => request = next,
            ClientStep::Done => break,
        }
    }
    assert!(client.is_done());
    let stats = client.stats();
    let (have, need) = client.into_difference();
    (have, need, stats)
}

fn ids(items: &[(u64, ObjectId)]) -> BTreeSet<ObjectId> {
    items.iter().map(|(_, id)| *id).collect()
}

fn total(stats: &SyncStats) -> u64 {
    stats.bytes_sent + stats.bytes_received
}

#[test]
fn identical_sets_settle_in_one_small_round_trip() {
    let all = items(0..100_000);
    let (have, need, stats) = reconcile(&all, &all, SyncLimits::default());
    assert!(have.is_empty() && need.is_empty());
    assert_eq!(stats.round_trips, 1);
    assert!(total(&stats) < 2048, "identical sets cost {} bytes", total(&stats));
    println!("identical 100k: {stats:?}");
}

#[test]
fn missing_newest_ten_thousand_of_one_hundred_thousand() {
    let all = items(0..100_000);
    let ours = &all[..90_000];
    let (have, need, stats) = reconcile(ours, &all, SyncLimits::default());
    assert!(have.is_empty());
    assert_eq!(need.len(), 10_000);
    assert_eq!(need.iter().copied().collect::<BTreeSet<_>>(), ids(&all[90_000..]));
    assert_eq!(stats.need, 10_000);
    // The ids themselves must cross once (32 bytes each); the rest is overhead.
    let overhead = total(&stats) - 10_000 * 32;
    assert!(overhead < 30_000, "overhead {overhead} bytes: {stats:?}");
    println!("newest 10k of 100k missing: {stats:?}, overhead {overhead} bytes");

    // The other way round the initiator holds what the peer lacks.
    let (have, need, _) = reconcile(&all, ours, SyncLimits::default());
    assert!(need.is_empty());
    assert_eq!(have.iter().copied().collect::<BTreeSet<_>>(), ids(&all[90_000..]));
}

#[test]
fn empty_against_full_and_full_against_empty() {
    let all = items(0..20_000);
    let (have, need, stats) = reconcile(&[], &all, SyncLimits::default());
    assert!(have.is_empty());
    assert_eq!(need.iter().copied().collect::<BTreeSet<_>>(), ids(&all));
    assert!(stats.round_trips >= 2, "20k ids do not fit one 512 KiB frame: {stats:?}");

    let (have, need, _) = reconcile(&all, &[], SyncLimits::default());
    assert!(need.is_empty());
    assert_eq!(have.iter().copied().collect::<BTreeSet<_>>(), ids(&all));

    let (have, need, stats) = reconcile(&[], &[], SyncLimits::default());
    assert!(have.is_empty() && need.is_empty());
    assert_eq!(stats.round_trips, 1);
}

#[test]
fn second_reconciliation_after_transfer_finds_nothing() {
    let all = items(0..50_000);
    let ours: Vec<_> = all.iter().copied().filter(|(t, _)| t % 7 != 0).collect();
    let theirs: Vec<_> = all.iter().copied().filter(|(t, _)| t % 11 != 0).collect();
    let (have, need, _) = reconcile(&ours, &theirs, SyncLimits::default());
    assert_eq!(need.len(), theirs.len() - ids(&ours).intersection(&ids(&theirs)).count());
    assert!(!have.is_empty());
    // We fetch what we need; the peer pulls what we have in its own sync.
    let by_id: HashMap<ObjectId, u64> = all.iter().map(|(t, id)| (*id, *t)).collect();
    let mut ours_after = ours.clone();
    ours_after.extend(need.iter().map(|id| (by_id[id], *id)));
    let mut theirs_after = theirs.clone();
    theirs_after.extend(have.iter().map(|id| (by_id[id], *id)));
    let (have, need, stats) = reconcile(&ours_after, &theirs_after, SyncLimits::default());
    assert!(have.is_empty() && need.is_empty());
    assert_eq!(stats.round_trips, 1);
    assert!(total(&stats) < 2048, "{stats:?}");
}

#[test]
fn small_frames_still_find_the_whole_difference() {
    let all = items(0..6_000);
    let ours: Vec<_> = all.iter().copied().filter(|(t, _)| t % 5 != 0).collect();
    let theirs: Vec<_> = all.iter().copied().filter(|(t, _)| t % 3 != 0).collect();
    let limits = SyncLimits { frame_size_limit: 4096, max_round_trips: 10_000, ..SyncLimits::default() };
    let (have, need, stats) = reconcile(&ours, &theirs, limits);
    let (a, b) = (ids(&ours), ids(&theirs));
    assert_eq!(have.iter().copied().collect::<BTreeSet<_>>(), a.difference(&b).copied().collect());
    assert_eq!(need.iter().copied().collect::<BTreeSet<_>>(), b.difference(&a).copied().collect());
    assert!(stats.round_trips > 2, "{stats:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For any two sets (shared, ours only, theirs only), `have` and `need`
    /// are exactly the two set differences, each id once.
    #[test]
    fn random_differences_both_ways(
        membership in proptest::collection::vec(0u8..3, 0..3000),
        small_frames in any::<bool>(),
        same_time in any::<bool>(),
    ) {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for (i, side) in membership.iter().enumerate() {
            let (t, id) = item(i as u64);
            // Many items sharing one timestamp exercise id-prefix bounds.
            let it = (if same_time { T0 } else { t }, id);
            match side {
                0 => { ours.push(it); theirs.push(it); }
                1 => ours.push(it),
                _ => theirs.push(it),
            }
        }
        let limits = if small_frames {
            SyncLimits { frame_size_limit: 4096, ..SyncLimits::default() }
        } else {
            SyncLimits::default()
        };
        let (have, need, stats) = reconcile(&ours, &theirs, limits);
        let (a, b) = (ids(&ours), ids(&theirs));
        prop_assert_eq!(have.len(), have.iter().collect::<HashSet<_>>().len());
        prop_assert_eq!(need.len(), need.iter().collect::<HashSet<_>>().len());
        prop_assert_eq!(have.into_iter().collect::<BTreeSet<_>>(), a.difference(&b).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(need.into_iter().collect::<BTreeSet<_>>(), b.difference(&a).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(stats.have + stats.need, a.symmetric_difference(&b).count());
    }
}

#[test]
fn fetch_moves_exactly_the_missing_envelopes_in_bounded_batches() {
    let fixture = Fixture::new(1);
    let proposal = fixture.proposal(0, "Catch-up", 0, None);
    let envelopes: Vec<_> = (1..=500u64).map(|i| fixture.endorsement(0, proposal.id(), Stance::Endorse, i)).collect();
    let store: HashMap<ObjectId, Vec<u8>> = envelopes.iter().map(|e| (e.id(), e.bytes().to_vec())).collect();
    let theirs: Vec<(u64, ObjectId)> = envelopes.iter().enumerate().map(|(i, e)| (T0 + 1 + i as u64, e.id())).collect();
    let ours = &theirs[..300];

    let limits = SyncLimits { max_ids_per_fetch: 64, fetch_response_bytes: 4096, ..SyncLimits::default() };
    let (_, need, _) = reconcile(ours, &theirs, limits);
    assert_eq!(need.len(), 200);
    let server = SyncServer::new(SyncSnapshot::new(theirs.iter().copied()).unwrap(), limits).unwrap();
    let mut fetcher = Fetcher::new(need.iter().copied(), limits).unwrap();
    let mut got = Vec::new();
    while let Some(request) = fetcher.next_request() {
        assert!(fetcher.next_request().is_none(), "one request in flight at a time");
        let response = server.handle_request(&request, |id| store.get(id).cloned()).unwrap();
        assert!(response.len() <= 4096 + envelopes[0].bytes().len() + 256);
        got.extend(fetcher.handle_response(&response).unwrap());
    }
    assert!(fetcher.is_done());
    assert!(fetcher.unavailable().is_empty());
    let got_ids: BTreeSet<ObjectId> = got.iter().map(|e| e.id()).collect();
    assert_eq!(got.len(), 200);
    assert_eq!(got_ids, need.iter().copied().collect());
    for e in &got {
        assert_eq!(e.bytes(), store[&e.id()].as_slice(), "exact stored bytes travel");
    }
    let stats = fetcher.stats();
    assert_eq!(stats.delivered, 200);
    assert!(stats.round_trips > 200usize.div_ceil(64) as u32, "byte bound splits responses: {stats:?}");
}

#[test]
fn fetch_reports_objects_the_peer_no_longer_serves() {
    let fixture = Fixture::new(1);
    let proposal = fixture.proposal(0, "Gone", 0, None);
    let held = fixture.endorsement(0, proposal.id(), Stance::Endorse, 1);
    let gone = fixture.endorsement(0, proposal.id(), Stance::Endorse, 2);
    let server = SyncServer::new(SyncSnapshot::new([]).unwrap(), SyncLimits::default()).unwrap();
    let mut fetcher = Fetcher::new([gone.id(), held.id()], SyncLimits::default()).unwrap();
    let request = fetcher.next_request().unwrap();
    let response = server.handle_request(&request, |id| (*id == held.id()).then(|| held.bytes().to_vec())).unwrap();
    let got = fetcher.handle_response(&response).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id(), held.id());
    assert_eq!(fetcher.unavailable(), &[gone.id()]);
    assert!(fetcher.is_done());
}
