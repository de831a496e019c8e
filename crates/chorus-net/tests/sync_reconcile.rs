//! Catch-up sync between two in-process sides: the client receives exactly
//! the objects it lacks, learns exactly what the peer lacks, and pays for
//! the difference, not for the sets. No network.

mod sync_common;

use std::collections::BTreeSet;

use chorus_core::testkit::T0;
use chorus_core::{Envelope, ObjectId};
use chorus_net::sync::{SyncLimits, SyncServer, RESPONSE_SOFT_BYTES};
use chorus_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};
use sync_common::*;

/// Item `i` that only needs an id (both sides hold it, so no envelope is
/// ever read): created at `T0 + i` ms, with a pseudo-random id.
fn id_item(i: u64) -> (u64, ObjectId) {
    (T0 + i, ObjectId(Sha256::digest(i.to_be_bytes()).into()))
}

fn shared(n: u64) -> Side {
    Side { items: (0..n).map(id_item).collect(), ..Side::default() }
}

#[test]
fn identical_sets_settle_in_one_small_round_trip() {
    let side = shared(100_000);
    let out = run(&side, &side, SyncLimits::default()).unwrap();
    assert!(out.received.is_empty() && out.have.is_empty());
    assert_eq!(out.stats.round_trips, 1);
    assert!(out.total_bytes() < 64, "identical sets cost {} bytes", out.total_bytes());
    println!("identical 100k: {:?}", out.stats);
}

#[test]
fn missing_newest_ten_thousand_of_one_hundred_thousand() {
    let mut server = shared(90_000);
    let mut client = server.clone();
    for (t, e) in objects(90_000, 10_000) {
        server.insert(t, &e);
    }
    let out = run(&client, &server, SyncLimits::default()).unwrap();
    assert!(out.have.is_empty());
    assert_eq!(out.received.len(), 10_000);
    assert_eq!(out.received_ids(), server.ids().difference(&client.ids()).copied().collect());
    for e in &out.received {
        assert_eq!(e.bytes(), server.objects[&e.id()].as_slice(), "exact stored bytes travel");
    }
    // The objects must cross; everything else is overhead, and no id of a
    // missing object crosses at all.
    let overhead = out.total_bytes() - out.stats.envelope_bytes;
    assert!(overhead < 50_000, "overhead {overhead} bytes: {:?}", out.stats);
    assert!(out.largest_response <= RESPONSE_SOFT_BYTES + 1024, "{}", out.largest_response);
    println!("newest 10k of 100k missing: {:?}, overhead {overhead} bytes", out.stats);

    // The other way round the initiator holds what the peer lacks: it
    // learns those ids and receives nothing.
    std::mem::swap(&mut client, &mut server);
    let out = run(&client, &server, SyncLimits::default()).unwrap();
    assert!(out.received.is_empty());
    assert_eq!(
        out.have.iter().copied().collect::<BTreeSet<_>>(),
        client.ids().difference(&server.ids()).copied().collect()
    );
    assert_eq!(out.have.len(), 10_000, "each id once");
    assert!(out.total_bytes() < 20_000, "{:?}", out.stats);
}

#[test]
fn empty_against_full_and_full_against_empty() {
    let mut full = Side::default();
    for (t, e) in objects(0, 20_000) {
        full.insert(t, &e);
    }
    let empty = Side::default();
    let out = run(&empty, &full, SyncLimits::default()).unwrap();
    assert!(out.have.is_empty());
    assert_eq!(out.received_ids(), full.ids());
    assert!(out.stats.round_trips >= 2, "4 MB of objects do not fit one 1 MiB response: {:?}", out.stats);
    // Pull from the start: nothing but the objects, their framing and the
    // continuation bounds.
    let overhead = out.total_bytes() - out.stats.envelope_bytes;
    assert!(overhead < 20_000 * 8, "{overhead}");

    let out = run(&full, &empty, SyncLimits::default()).unwrap();
    assert!(out.received.is_empty());
    assert_eq!(out.have.iter().copied().collect::<BTreeSet<_>>(), full.ids());
    assert_eq!(out.stats.round_trips, 1);

    let out = run(&empty, &empty, SyncLimits::default()).unwrap();
    assert!(out.received.is_empty() && out.have.is_empty());
    assert_eq!(out.stats.round_trips, 1);
}

#[test]
fn second_reconciliation_after_transfer_finds_nothing() {
    let all = objects(0, 5_000);
    let mut ours = Side::default();
    let mut theirs = Side::default();
    for (k, (t, e)) in all.iter().enumerate() {
        if k % 7 != 0 {
            ours.insert(*t, e);
        }
        if k % 11 != 0 {
            theirs.insert(*t, e);
        }
    }
    let first = run(&ours, &theirs, SyncLimits::default()).unwrap();
    assert_eq!(first.received_ids(), theirs.ids().difference(&ours.ids()).copied().collect());
    assert_eq!(
        first.have.iter().copied().collect::<BTreeSet<_>>(),
        ours.ids().difference(&theirs.ids()).copied().collect()
    );
    // We store what we received; the peer pulls what we have in its own sync.
    for e in &first.received {
        let t = all.iter().find(|(_, x)| x.id() == e.id()).unwrap().0;
        ours.insert(t, e);
    }
    let back = run(&theirs, &ours, SyncLimits::default()).unwrap();
    assert_eq!(back.received.len(), first.have.len());
    for e in &back.received {
        let t = all.iter().find(|(_, x)| x.id() == e.id()).unwrap().0;
        theirs.insert(t, e);
    }
    let again = run(&ours, &theirs, SyncLimits::default()).unwrap();
    assert!(again.have.is_empty() && again.received.is_empty());
    assert_eq!(again.stats.round_trips, 1);
    assert!(again.total_bytes() < 64, "{:?}", again.stats);
}

#[test]
fn small_budgets_and_requests_still_move_the_whole_difference() {
    let all = objects(0, 3_000);
    let mut ours = Side::default();
    let mut theirs = Side::default();
    for (k, (t, e)) in all.iter().enumerate() {
        if k % 5 != 0 {
            ours.insert(*t, e);
        }
        if k % 3 != 0 || k > 2_000 {
            theirs.insert(*t, e);
        }
    }
    let limits = SyncLimits {
        max_queries_per_request: 3,
        max_ids_per_query: 4,
        response_bytes: 2_000,
        max_round_trips: 100_000,
    };
    let out = run(&ours, &theirs, limits).unwrap();
    assert_eq!(out.received_ids(), theirs.ids().difference(&ours.ids()).copied().collect());
    assert_eq!(
        out.have.iter().copied().collect::<BTreeSet<_>>(),
        ours.ids().difference(&theirs.ids()).copied().collect()
    );
    assert_eq!(out.have.len(), out.stats.have);
    assert!(out.stats.round_trips > 20, "{:?}", out.stats);
    // A response holds the budget plus at most one object and one reply's
    // framing.
    assert!(out.largest_response <= 2_000 + 400 + 1_300, "{}", out.largest_response);
}

#[test]
fn objects_the_responder_cannot_read_are_left_out_without_error() {
    let mut theirs = Side::default();
    for (t, e) in objects(0, 100) {
        theirs.insert(t, &e);
    }
    let lost: BTreeSet<ObjectId> = theirs.items.iter().step_by(10).map(|(_, id)| *id).collect();
    let responder = SyncServer::new(theirs.snapshot(), SyncLimits::default()).unwrap();
    let out = run_with(&Side::default(), &responder, SyncLimits::default(), |id| {
        if lost.contains(id) {
            None
        } else {
            theirs.objects.get(id).cloned()
        }
    })
    .unwrap();
    assert_eq!(out.received_ids(), theirs.ids().difference(&lost).copied().collect());
}

#[test]
fn objects_of_unknown_kinds_are_dropped_without_blame() {
    // A kind from a later protocol version: decodes as protobuf, but the
    // envelope's verdict is Ignore.
    let future = pb::Envelope {
        kind: 99,
        body: b"later".to_vec(),
        signatures: vec![pb::Signature { signer: vec![1; 32], signature: vec![2; 64] }],
    }
    .encode_to_vec();
    assert!(Envelope::decode(&future).is_err());
    let future_id = ObjectId(Sha256::digest(&future).into());
    let known = envelope(1, 50);
    let mut theirs = Side::default();
    theirs.insert(T0 + 1, &known);
    theirs.items.push((T0 + 2, future_id));
    theirs.objects.insert(future_id, future);
    let out = run(&Side::default(), &theirs, SyncLimits::default()).unwrap();
    assert_eq!(out.received.len(), 1);
    assert_eq!(out.received[0].id(), known.id());
    assert_eq!(out.stats.ignored, 1);
}

#[test]
fn a_cut_response_loses_nothing() {
    // The failure negentropy had here: a frame cut at the responder's limit
    // silently dropped differences. Now a cut is explicit: with a one-byte
    // budget every response carries exactly one object, the rest of each
    // range is asked for again, and nothing goes missing.
    let all = objects(0, 400);
    let mut ours = Side::default();
    let mut theirs = Side::default();
    for (k, (t, e)) in all.iter().enumerate() {
        if k % 4 == 0 || k >= 300 {
            theirs.insert(*t, e);
        } else if k % 4 == 1 {
            ours.insert(*t, e);
        } else {
            ours.insert(*t, e);
            theirs.insert(*t, e);
        }
    }
    let limits = SyncLimits { response_bytes: 1, max_round_trips: 10_000, ..SyncLimits::default() };
    let out = run(&ours, &theirs, limits).unwrap();
    let want: BTreeSet<ObjectId> = theirs.ids().difference(&ours.ids()).copied().collect();
    assert_eq!(out.received_ids(), want);
    assert_eq!(
        out.have.iter().copied().collect::<BTreeSet<_>>(),
        ours.ids().difference(&theirs.ids()).copied().collect()
    );
    assert!(out.stats.round_trips as usize >= want.len(), "one object per response: {:?}", out.stats);
}

#[test]
fn many_ranges_cost_the_responder_its_budget_not_its_set() {
    let mut theirs = Side::default();
    for (t, e) in objects(0, 20_000) {
        theirs.insert(t, &e);
    }
    let responder = SyncServer::new(theirs.snapshot(), SyncLimits::default()).unwrap();
    // The most queries a request may hold, each pulling the whole set.
    let queries: Vec<pb::RangeQuery> = (0..chorus_net::sync::MAX_QUERIES_PER_REQUEST)
        .map(|_| pb::RangeQuery {
            lower: None,
            upper: None,
            query: Some(pb::range_query::Query::Pull(pb::RangePull {})),
        })
        .collect();
    let frame = pb::SyncRequest { queries, want_head: false }.encode_to_vec();
    let mut reads = 0usize;
    let response = responder
        .handle_request(&frame, |id| {
            reads += 1;
            theirs.objects.get(id).cloned()
        })
        .unwrap();
    let replies = pb::SyncResponse::decode(response.as_slice()).unwrap().replies;
    // The first pull fills the budget (objects of 100 to 300 bytes), one
    // more read finds the next object does not fit, and the rest of the
    // queries are left for the next request.
    assert_eq!(replies.len(), 1);
    assert!(reads <= RESPONSE_SOFT_BYTES / 100 + 1, "{reads} reads");
    assert!(response.len() <= RESPONSE_SOFT_BYTES + 400);
}
