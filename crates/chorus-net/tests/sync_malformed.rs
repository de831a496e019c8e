//! Bad sync frames give typed errors, blame the peer and never panic.

mod sync_common;

use chorus_core::ObjectId;
use chorus_net::sync::{
    ClientStep, SyncClient, SyncError, SyncLimits, SyncServer, SyncSnapshot, BUCKETS, MAX_IDS_PER_QUERY,
    MAX_QUERIES_PER_REQUEST, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES,
};
use chorus_proto::v1 as pb;
use proptest::prelude::*;
use prost::Message;
use sync_common::*;

/// Item `i`: time `1000 + i`, id with `i` in its first bytes.
fn item(i: u64) -> (u64, ObjectId) {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&i.to_be_bytes());
    id[31] = 1;
    (1000 + i, ObjectId(id))
}

fn snapshot(range: std::ops::Range<u64>) -> SyncSnapshot {
    SyncSnapshot::new(range.map(item))
}

fn server() -> SyncServer {
    SyncServer::new(snapshot(0..1000), SyncLimits::default()).unwrap()
}

fn bound(t: u64) -> Option<pb::SyncBound> {
    Some(pb::SyncBound { timestamp: t, id_prefix: Vec::new() })
}

fn request(queries: Vec<pb::RangeQuery>) -> Vec<u8> {
    pb::SyncRequest { queries, want_head: false }.encode_to_vec()
}

fn query(lower: Option<pb::SyncBound>, upper: Option<pb::SyncBound>, q: pb::range_query::Query) -> pb::RangeQuery {
    pb::RangeQuery { lower, upper, query: Some(q) }
}

fn pull() -> pb::range_query::Query {
    pb::range_query::Query::Pull(pb::RangePull {})
}

fn response(replies: Vec<pb::range_reply::Reply>) -> Vec<u8> {
    pb::SyncResponse { replies: replies.into_iter().map(|r| pb::RangeReply { reply: Some(r) }).collect(), head: None }
        .encode_to_vec()
}

fn split(buckets: Vec<pb::RangeBucket>) -> pb::range_reply::Reply {
    pb::range_reply::Reply::Split(pb::RangeSplit { buckets })
}

fn items(envelopes: Vec<Vec<u8>>, lacking: Vec<u8>, continuation: Option<pb::SyncBound>) -> pb::range_reply::Reply {
    pb::range_reply::Reply::Items(pb::RangeItems { envelopes, lacking, continuation })
}

fn equal() -> pb::range_reply::Reply {
    pb::range_reply::Reply::Equal(pb::RangeEqual {})
}

fn bucket(upper: Option<pb::SyncBound>, count: u64) -> pb::RangeBucket {
    pb::RangeBucket { upper, fingerprint: if count == 0 { Vec::new() } else { vec![0xee; 16] }, count }
}

/// A client whose one query in flight is a fingerprint (300 items), ids
/// (10 items) or a pull (no items) over the whole key space.
fn client(items: u64) -> SyncClient {
    let mut c = SyncClient::new(&snapshot(0..items), SyncLimits::default()).unwrap();
    c.initiate().unwrap();
    c
}

fn peer_fault(result: Result<impl std::fmt::Debug, SyncError>) -> SyncError {
    let e = result.expect_err("the frame must be refused");
    assert!(e.is_peer_fault(), "{e} must blame the peer");
    e
}

#[test]
fn oversized_requests_and_responses_are_refused_before_decoding() {
    let big = vec![0u8; MAX_SYNC_REQUEST_BYTES + 1];
    let e = peer_fault(server().handle_request(&big, |_| None));
    assert!(matches!(e, SyncError::FrameTooLarge { what: "request", .. }), "{e}");

    let mut c = client(10);
    let e = peer_fault(c.handle_response(&vec![0u8; MAX_SYNC_RESPONSE_BYTES + 1]));
    assert!(matches!(e, SyncError::FrameTooLarge { what: "response", .. }), "{e}");
    // The session is over after a bad frame.
    assert!(matches!(c.handle_response(&[]), Err(SyncError::OutOfTurn(_))));
}

#[test]
fn requests_without_queries_or_garbage_are_malformed() {
    let e = peer_fault(server().handle_request(&[], |_| None));
    assert!(matches!(e, SyncError::Malformed { .. }), "{e}");
    let e = peer_fault(server().handle_request(&[0xff, 0xff, 0xff], |_| None));
    assert!(matches!(e, SyncError::Malformed { .. }), "{e}");
    let no_variant = request(vec![pb::RangeQuery { lower: None, upper: None, query: None }]);
    assert!(matches!(peer_fault(server().handle_request(&no_variant, |_| None)), SyncError::Malformed { .. }));
}

#[test]
fn queries_are_bounded_and_well_formed() {
    let s = server();
    let too_many = request((0..=MAX_QUERIES_PER_REQUEST).map(|_| query(None, None, pull())).collect());
    assert_eq!(
        peer_fault(s.handle_request(&too_many, |_| None)),
        SyncError::TooManyQueries { count: MAX_QUERIES_PER_REQUEST + 1, limit: MAX_QUERIES_PER_REQUEST }
    );
    let long_prefix = pb::SyncBound { timestamp: 5, id_prefix: vec![1; 33] };
    let e = peer_fault(s.handle_request(&request(vec![query(Some(long_prefix), None, pull())]), |_| None));
    assert_eq!(e, SyncError::BadBound { len: 33 });
    // Lower bound not below upper bound, in the second query.
    let frame = request(vec![query(None, None, pull()), query(bound(7), bound(7), pull())]);
    assert_eq!(peer_fault(s.handle_request(&frame, |_| None)), SyncError::EmptyRange { index: 1 });
    let frame = request(vec![query(bound(8), bound(7), pull())]);
    assert_eq!(peer_fault(s.handle_request(&frame, |_| None)), SyncError::EmptyRange { index: 0 });
    let fp = |n: usize| request(vec![query(None, None, pb::range_query::Query::Fingerprint(vec![0; n]))]);
    assert_eq!(peer_fault(s.handle_request(&fp(15), |_| None)), SyncError::BadFingerprint { len: 15 });
    let ids = |raw: Vec<u8>| request(vec![query(None, None, pb::range_query::Query::Ids(raw))]);
    assert_eq!(peer_fault(s.handle_request(&ids(vec![]), |_| None)), SyncError::BadIdList { len: 0 });
    assert_eq!(peer_fault(s.handle_request(&ids(vec![1; 33]), |_| None)), SyncError::BadIdList { len: 33 });
    let many: Vec<u8> = (0..=MAX_IDS_PER_QUERY as u8).flat_map(|i| [i; 32]).collect();
    assert_eq!(
        peer_fault(s.handle_request(&ids(many), |_| None)),
        SyncError::TooManyIds { count: MAX_IDS_PER_QUERY + 1, limit: MAX_IDS_PER_QUERY }
    );
    let twice = [[1u8; 32], [2; 32], [1; 32]].concat();
    assert_eq!(peer_fault(s.handle_request(&ids(twice), |_| None)), SyncError::DuplicateId(ObjectId([1; 32])));
    // The largest well-formed request fits the frame bound.
    let full: Vec<pb::RangeQuery> = (0..MAX_QUERIES_PER_REQUEST as u64)
        .map(|q| {
            let wide = |t: u64| Some(pb::SyncBound { timestamp: u64::MAX - t, id_prefix: vec![0xff; 32] });
            let ids: Vec<u8> = (0..MAX_IDS_PER_QUERY as u8).flat_map(|i| [i; 32]).collect();
            query(wide(2 * q + 1), wide(2 * q), pb::range_query::Query::Ids(ids))
        })
        .collect();
    let frame = request(full);
    assert!(frame.len() <= MAX_SYNC_REQUEST_BYTES, "{} > {MAX_SYNC_REQUEST_BYTES}", frame.len());
    s.handle_request(&frame, |_| None).unwrap();
}

#[test]
fn replies_must_fit_their_queries() {
    let e = peer_fault(client(300).handle_response(&response(vec![items(vec![], vec![], None)])));
    assert_eq!(e, SyncError::WrongReply { query: "fingerprint", reply: "items" });
    let e = peer_fault(client(0).handle_response(&response(vec![equal()])));
    assert_eq!(e, SyncError::WrongReply { query: "pull", reply: "equal" });
    let e = peer_fault(client(10).handle_response(&response(vec![split(vec![bucket(None, 0)])])));
    assert_eq!(e, SyncError::WrongReply { query: "ids", reply: "split" });
    let e = peer_fault(client(300).handle_response(&response(vec![])));
    assert_eq!(e, SyncError::ReplyCount { replies: 0, queries: 1 });
    let e = peer_fault(client(300).handle_response(&response(vec![equal(), equal()])));
    assert_eq!(e, SyncError::ReplyCount { replies: 2, queries: 1 });
    let no_variant = pb::SyncResponse { replies: vec![pb::RangeReply { reply: None }], head: None }.encode_to_vec();
    assert!(matches!(peer_fault(client(300).handle_response(&no_variant)), SyncError::Malformed { .. }));
}

#[test]
fn splits_must_cover_the_range_in_order() {
    let bad = |buckets: Vec<pb::RangeBucket>| peer_fault(client(300).handle_response(&response(vec![split(buckets)])));
    assert!(matches!(bad(vec![]), SyncError::BadSplit(_)));
    let many: Vec<_> = (0..=BUCKETS as u64).map(|k| bucket(bound(2000 + k), 1)).chain([bucket(None, 1)]).collect();
    assert!(matches!(bad(many), SyncError::BadSplit(_)));
    assert!(matches!(
        bad(vec![bucket(bound(1200), 1), bucket(bound(1100), 1), bucket(None, 1)]),
        SyncError::BadSplit(_)
    ));
    assert!(matches!(
        bad(vec![bucket(bound(1200), 1), bucket(bound(1200), 1), bucket(None, 1)]),
        SyncError::BadSplit(_)
    ));
    assert!(matches!(bad(vec![bucket(bound(0), 1), bucket(None, 1)]), SyncError::BadSplit(_)), "at the lower bound");
    assert!(matches!(bad(vec![bucket(bound(1200), 1)]), SyncError::BadSplit(_)), "last bucket with a bound");
    assert!(matches!(bad(vec![bucket(None, 1), bucket(None, 1)]), SyncError::BadSplit(_)));
    let mut short = bucket(None, 3);
    short.fingerprint.pop();
    assert_eq!(bad(vec![short]), SyncError::BadFingerprint { len: 15 });
    let mut empty_with_fp = bucket(None, 0);
    empty_with_fp.fingerprint = vec![1; 16];
    assert!(matches!(bad(vec![empty_with_fp]), SyncError::BadSplit(_)));

    // A bucket bound past the query's own upper bound: reach a query with
    // an upper bound first.
    let mut c = client(300);
    let first = c.handle_response(&response(vec![split(vec![bucket(bound(1100), 100), bucket(None, 100)])])).unwrap();
    let ClientStep::Request(next) = first.next else { panic!("two ranges to settle") };
    let queries = pb::SyncRequest::decode(next.as_slice()).unwrap().queries;
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[0].upper, bound(1100));
    let e = peer_fault(c.handle_response(&response(vec![split(vec![bucket(bound(1150), 1), bucket(None, 1)])])));
    assert!(matches!(e, SyncError::BadSplit(_)), "{e}");
}

#[test]
fn items_replies_are_checked() {
    let a = envelope(1, 50);
    let b = envelope(2, 50);
    // Continuation outside the range, at its lower end, or with no object.
    let e = peer_fault(client(0).handle_response(&response(vec![items(vec![a.bytes().to_vec()], vec![], bound(0))])));
    assert!(matches!(e, SyncError::BadContinuation(_)), "{e}");
    let e = peer_fault(client(0).handle_response(&response(vec![items(vec![], vec![], bound(5))])));
    assert!(matches!(e, SyncError::BadContinuation(_)), "{e}");
    // A bitmap on a pull; the wrong length or a stray bit on ids.
    let e = peer_fault(client(0).handle_response(&response(vec![items(vec![], vec![0], None)])));
    assert_eq!(e, SyncError::BadLacking { len: 1, ids: 0 });
    let e = peer_fault(client(10).handle_response(&response(vec![items(vec![], vec![0], None)])));
    assert_eq!(e, SyncError::BadLacking { len: 1, ids: 10 });
    let e = peer_fault(client(10).handle_response(&response(vec![items(vec![], vec![0, 0b100], None)])));
    assert_eq!(e, SyncError::BadLacking { len: 2, ids: 10 });
    // The same object twice, across replies or in one.
    let e = peer_fault(client(0).handle_response(&response(vec![items(
        vec![a.bytes().to_vec(), a.bytes().to_vec()],
        vec![],
        None,
    )])));
    assert_eq!(e, SyncError::DuplicateObject(a.id()));
    let e = peer_fault(client(0).handle_response(&response(vec![items(vec![vec![0xff; 10]], vec![], None)])));
    assert!(matches!(e, SyncError::BadEnvelope(_)), "{e}");

    // An object the ids query said we hold.
    let mut held = Side::default();
    held.insert(5, &a);
    let mut c = SyncClient::new(&held.snapshot(), SyncLimits::default()).unwrap();
    c.initiate().unwrap();
    let e = peer_fault(c.handle_response(&response(vec![items(vec![a.bytes().to_vec()], vec![0], None)])));
    assert_eq!(e, SyncError::Unrequested(a.id()));

    // A well-formed cut reply: the objects come back, the rest is asked for.
    let mut c = client(0);
    let progress = c
        .handle_response(&response(vec![items(vec![a.bytes().to_vec(), b.bytes().to_vec()], vec![], bound(9))]))
        .unwrap();
    assert_eq!(progress.envelopes.iter().map(|e| e.id()).collect::<Vec<_>>(), vec![a.id(), b.id()]);
    let ClientStep::Request(next) = progress.next else { panic!("the rest of the range is due") };
    let q = &pb::SyncRequest::decode(next.as_slice()).unwrap().queries[0];
    assert_eq!((q.lower.clone(), q.upper.clone()), (bound(9), None));
    // And an object sent again in a later response is refused.
    let e = peer_fault(c.handle_response(&response(vec![items(vec![a.bytes().to_vec()], vec![], None)])));
    assert_eq!(e, SyncError::DuplicateObject(a.id()));
}

#[test]
fn misuse_is_not_blamed_on_the_peer() {
    let mut c = SyncClient::new(&snapshot(0..10), SyncLimits::default()).unwrap();
    let e = c.handle_response(&[]).unwrap_err();
    assert!(!e.is_peer_fault());
    c.initiate().unwrap();
    assert!(!c.initiate().unwrap_err().is_peer_fault());
    for limits in [
        SyncLimits { max_queries_per_request: 0, ..SyncLimits::default() },
        SyncLimits { max_queries_per_request: MAX_QUERIES_PER_REQUEST + 1, ..SyncLimits::default() },
        SyncLimits { max_ids_per_query: 0, ..SyncLimits::default() },
        SyncLimits { max_ids_per_query: MAX_IDS_PER_QUERY + 1, ..SyncLimits::default() },
        SyncLimits { response_bytes: 0, ..SyncLimits::default() },
        SyncLimits { max_round_trips: 0, ..SyncLimits::default() },
    ] {
        let e = SyncClient::new(&snapshot(0..1), limits).unwrap_err();
        assert!(matches!(e, SyncError::BadLimit { .. }), "{e}");
        assert!(!e.is_peer_fault());
        assert!(SyncServer::new(snapshot(0..1), limits).is_err());
    }
}

#[test]
fn a_peer_that_never_converges_is_cut_off() {
    // A responder whose set differs everywhere against a one-round-trip
    // budget.
    let limits = SyncLimits { max_round_trips: 1, ..SyncLimits::default() };
    let server = SyncServer::new(snapshot(0..50_000), limits).unwrap();
    let mut c = SyncClient::new(&snapshot(50_000..50_300), limits).unwrap();
    let request = c.initiate().unwrap();
    let answer = server.handle_request(&request, |_| None).unwrap();
    assert_eq!(peer_fault(c.handle_response(&answer)), SyncError::TooManyRoundTrips { limit: 1 });

    // A responder that creeps: one fresh object per response, cutting just
    // past where it was asked to start. Every object is new, yet the
    // session ends at the bound.
    let limits = SyncLimits { max_round_trips: 50, ..SyncLimits::default() };
    let mut c = SyncClient::new(&snapshot(0..0), limits).unwrap();
    let mut request = c.initiate().unwrap();
    for n in 1.. {
        let q = &pb::SyncRequest::decode(request.as_slice()).unwrap().queries[0];
        let lower = q.lower.clone().map_or(0, |b| b.timestamp);
        let frame = response(vec![items(vec![envelope(n, 20).into_bytes()], vec![], bound(lower + 1))]);
        match c.handle_response(&frame) {
            Ok(progress) => match progress.next {
                ClientStep::Request(next) => request = next,
                ClientStep::Done => panic!("a cut reply always leaves the rest to settle"),
            },
            Err(e) => {
                assert_eq!(e, SyncError::TooManyRoundTrips { limit: 50 });
                assert_eq!(n, 50);
                break;
            }
        }
    }
}

fn arb_bound() -> impl Strategy<Value = Option<pb::SyncBound>> {
    proptest::option::of(
        (prop_oneof![0u64..3000, any::<u64>()], proptest::collection::vec(any::<u8>(), 0..34))
            .prop_map(|(timestamp, id_prefix)| pb::SyncBound { timestamp, id_prefix }),
    )
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn arb_query() -> impl Strategy<Value = pb::RangeQuery> {
    let q = prop_oneof![
        Just(None),
        prop_oneof![Just(16usize), 0usize..20]
            .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
            .prop_map(|fp| Some(pb::range_query::Query::Fingerprint(fp))),
        (0usize..40, any::<bool>()).prop_map(|(n, own)| {
            // Ids the server holds, or random ones.
            let ids: Vec<u8> = (0..n as u64).flat_map(|i| if own { item(i * 7).1 .0 } else { [i as u8; 32] }).collect();
            Some(pb::range_query::Query::Ids(ids))
        }),
        Just(Some(pull())),
    ];
    (arb_bound(), arb_bound(), q).prop_map(|(lower, upper, query)| pb::RangeQuery { lower, upper, query })
}

fn arb_reply() -> impl Strategy<Value = pb::RangeReply> {
    let envelope_bytes = prop_oneof![(0u64..20).prop_map(|i| envelope(i, 30).into_bytes()), arb_bytes(60)];
    let reply = prop_oneof![
        Just(None),
        Just(Some(equal())),
        proptest::collection::vec(
            (arb_bound(), prop_oneof![Just(16usize), 0usize..20], prop_oneof![0u64..4, any::<u64>()]),
            0..20
        )
        .prop_map(|bs| Some(split(
            bs.into_iter()
                .map(|(upper, fp, count)| pb::RangeBucket { upper, fingerprint: vec![0x42; fp], count })
                .collect()
        ))),
        (proptest::collection::vec(envelope_bytes, 0..4), arb_bytes(6), arb_bound())
            .prop_map(|(envelopes, lacking, continuation)| Some(items(envelopes, lacking, continuation))),
    ];
    reply.prop_map(|reply| pb::RangeReply { reply })
}

/// Clients in several states: one query of each kind in flight, and many
/// queries of mixed kinds in flight after a first real round.
fn clients() -> Vec<SyncClient> {
    let mut out = vec![client(0), client(10), client(300)];
    let mut c = SyncClient::new(&snapshot(0..3000), SyncLimits::default()).unwrap();
    let request = c.initiate().unwrap();
    let other =
        SyncServer::new(SyncSnapshot::new((0..3000).filter(|i| i % 97 != 0).map(item)), SyncLimits::default()).unwrap();
    let response = other.handle_request(&request, |_| None).unwrap();
    assert!(matches!(c.handle_response(&response).unwrap().next, ClientStep::Request(_)));
    out.push(c);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_request_bytes_never_panic(bytes in arb_bytes(2048)) {
        match server().handle_request(&bytes, |_| None) {
            Ok(frame) => prop_assert!(frame.len() <= MAX_SYNC_RESPONSE_BYTES),
            Err(e) => prop_assert!(e.is_peer_fault(), "{}", e),
        }
    }

    #[test]
    fn arbitrary_response_bytes_never_panic(bytes in arb_bytes(2048)) {
        for mut c in clients() {
            match c.handle_response(&bytes) {
                Ok(progress) => {
                    if let ClientStep::Request(next) = progress.next {
                        prop_assert!(next.len() <= MAX_SYNC_REQUEST_BYTES);
                    }
                }
                Err(e) => prop_assert!(e.is_peer_fault(), "{}", e),
            }
        }
    }

    #[test]
    fn arbitrary_requests_never_panic(queries in proptest::collection::vec(arb_query(), 0..6)) {
        let frame = request(queries);
        let lookup = |id: &ObjectId| Some(envelope(u64::from(id.0[7]), 30).into_bytes());
        match server().handle_request(&frame, lookup) {
            Ok(frame) => {
                prop_assert!(frame.len() <= MAX_SYNC_RESPONSE_BYTES);
                prop_assert!(pb::SyncResponse::decode(frame.as_slice()).is_ok());
            }
            Err(e) => prop_assert!(e.is_peer_fault(), "{}", e),
        }
    }

    #[test]
    fn arbitrary_responses_never_panic(replies in proptest::collection::vec(arb_reply(), 0..6)) {
        let frame = pb::SyncResponse { replies, head: None }.encode_to_vec();
        for mut c in clients() {
            match c.handle_response(&frame) {
                Ok(progress) => {
                    if let ClientStep::Request(next) = progress.next {
                        prop_assert!(next.len() <= MAX_SYNC_REQUEST_BYTES);
                    }
                }
                Err(e) => prop_assert!(e.is_peer_fault(), "{}", e),
            }
        }
    }
}
