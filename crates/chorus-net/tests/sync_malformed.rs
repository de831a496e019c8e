//! Bad sync frames give typed errors, blame the peer and never panic.

use chorus_core::testkit::Fixture;
use chorus_core::Stance;
use chorus_net::sync::{
    ClientStep, Fetcher, SyncClient, SyncError, SyncLimits, SyncServer, SyncSnapshot, MAX_FETCH_IDS,
    MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES,
};
use chorus_proto::v1 as pb;
use proptest::prelude::*;
use prost::Message;

fn snapshot(n: u64) -> SyncSnapshot {
    SyncSnapshot::new((0..n).map(|i| {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&i.to_be_bytes());
        (1000 + i, chorus_core::ObjectId(id))
    }))
    .unwrap()
}

fn server() -> SyncServer {
    SyncServer::new(snapshot(1000), SyncLimits::default()).unwrap()
}

fn fetch_frame(ids: Vec<Vec<u8>>) -> Vec<u8> {
    pb::SyncRequest { request: Some(pb::sync_request::Request::Fetch(pb::FetchRequest { ids })) }.encode_to_vec()
}

fn fetch_response(envelopes: Vec<Vec<u8>>, answered: u32) -> Vec<u8> {
    pb::SyncResponse { response: Some(pb::sync_response::Response::Fetch(pb::FetchResponse { envelopes, answered })) }
        .encode_to_vec()
}

#[test]
fn oversized_requests_and_responses_are_refused_before_decoding() {
    let big = vec![0u8; MAX_SYNC_REQUEST_BYTES + 1];
    let e = server().handle_request(&big, |_| None).unwrap_err();
    assert!(matches!(e, SyncError::FrameTooLarge { what: "request", .. }), "{e}");
    assert!(e.is_peer_fault());

    let mut client = SyncClient::new(&snapshot(10), SyncLimits::default()).unwrap();
    client.initiate().unwrap();
    let e = client.handle_response(&vec![0u8; MAX_SYNC_RESPONSE_BYTES + 1]).unwrap_err();
    assert!(matches!(e, SyncError::FrameTooLarge { what: "response", .. }), "{e}");
    // The session is over after a bad frame.
    assert!(matches!(client.handle_response(&[]), Err(SyncError::OutOfTurn(_))));
}

#[test]
fn requests_with_no_variant_or_garbage_are_malformed() {
    let e = server().handle_request(&[], |_| None).unwrap_err();
    assert!(matches!(e, SyncError::Malformed { .. }), "{e}");
    let e = server().handle_request(&[0xff, 0xff, 0xff], |_| None).unwrap_err();
    assert!(matches!(e, SyncError::Malformed { .. }), "{e}");
    let bad_negentropy =
        pb::SyncRequest { request: Some(pb::sync_request::Request::Reconcile(vec![0x61, 0x05, 0x07])) }.encode_to_vec();
    let e = server().handle_request(&bad_negentropy, |_| None).unwrap_err();
    assert!(matches!(e, SyncError::Reconcile(_)), "{e}");
    assert!(e.is_peer_fault());
}

#[test]
fn fetch_requests_are_bounded_and_well_formed() {
    let ids: Vec<Vec<u8>> =
        (0..=MAX_FETCH_IDS as u32).map(|i| [i.to_be_bytes().to_vec(), vec![0; 28]].concat()).collect();
    let e = server().handle_request(&fetch_frame(ids), |_| None).unwrap_err();
    assert_eq!(e, SyncError::TooManyIds { count: MAX_FETCH_IDS + 1, limit: MAX_FETCH_IDS });
    let e = server().handle_request(&fetch_frame(vec![vec![1; 32], vec![2; 31]]), |_| None).unwrap_err();
    assert_eq!(e, SyncError::BadId { index: 1, len: 31 });
    let e = server().handle_request(&fetch_frame(vec![vec![1; 32], vec![1; 32]]), |_| None).unwrap_err();
    assert!(matches!(e, SyncError::DuplicateId(_)), "{e}");
}

#[test]
fn responses_of_the_wrong_variant_are_refused() {
    let mut client = SyncClient::new(&snapshot(10), SyncLimits::default()).unwrap();
    client.initiate().unwrap();
    let e = client.handle_response(&fetch_response(vec![], 1)).unwrap_err();
    assert_eq!(e, SyncError::WrongVariant { expected: "reconcile", found: "fetch" });

    let fixture = Fixture::new(1);
    let p = fixture.proposal(0, "P", 0, None);
    let mut fetcher = Fetcher::new([p.id()], SyncLimits::default()).unwrap();
    fetcher.next_request().unwrap();
    let reconcile =
        pb::SyncResponse { response: Some(pb::sync_response::Response::Reconcile(vec![0x61])) }.encode_to_vec();
    let e = fetcher.handle_response(&reconcile).unwrap_err();
    assert_eq!(e, SyncError::WrongVariant { expected: "fetch", found: "reconcile" });
}

#[test]
fn fetch_responses_carry_only_what_was_asked_for() {
    let fixture = Fixture::new(1);
    let p = fixture.proposal(0, "P", 0, None);
    let a = fixture.endorsement(0, p.id(), Stance::Endorse, 1);
    let b = fixture.endorsement(0, p.id(), Stance::Endorse, 2);
    let stranger = fixture.endorsement(0, p.id(), Stance::Endorse, 3);

    let start = || {
        let mut f = Fetcher::new([a.id(), b.id()], SyncLimits::default()).unwrap();
        f.next_request().unwrap();
        f
    };
    let e = start().handle_response(&fetch_response(vec![stranger.bytes().to_vec()], 2)).unwrap_err();
    assert_eq!(e, SyncError::Unrequested(stranger.id()));
    // Out of request order, or the same object twice.
    let e = start().handle_response(&fetch_response(vec![b.bytes().to_vec(), a.bytes().to_vec()], 2)).unwrap_err();
    assert_eq!(e, SyncError::Unrequested(a.id()));
    let e = start().handle_response(&fetch_response(vec![a.bytes().to_vec(), a.bytes().to_vec()], 2)).unwrap_err();
    assert_eq!(e, SyncError::Unrequested(a.id()));
    // An envelope beyond the settled prefix.
    let e = start().handle_response(&fetch_response(vec![b.bytes().to_vec()], 1)).unwrap_err();
    assert_eq!(e, SyncError::Unrequested(b.id()));
    let e = start().handle_response(&fetch_response(vec![], 0)).unwrap_err();
    assert_eq!(e, SyncError::NoProgress { requested: 2 });
    let e = start().handle_response(&fetch_response(vec![], 3)).unwrap_err();
    assert_eq!(e, SyncError::AnsweredTooMany { answered: 3, requested: 2 });
    let e = start().handle_response(&fetch_response(vec![vec![0xff; 10]], 2)).unwrap_err();
    assert!(matches!(e, SyncError::BadEnvelope(_)), "{e}");
    assert!(e.is_peer_fault());

    // A partial answer re-queues the rest.
    let mut f = start();
    let got = f.handle_response(&fetch_response(vec![a.bytes().to_vec()], 1)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(f.remaining(), 1);
    assert!(f.next_request().is_some());
}

#[test]
fn misuse_is_not_blamed_on_the_peer() {
    let mut client = SyncClient::new(&snapshot(10), SyncLimits::default()).unwrap();
    let e = client.handle_response(&[]).unwrap_err();
    assert!(!e.is_peer_fault());
    client.initiate().unwrap();
    assert!(!client.initiate().unwrap_err().is_peer_fault());
    let e = SyncClient::new(&snapshot(1), SyncLimits { frame_size_limit: 100, ..SyncLimits::default() }).unwrap_err();
    assert!(matches!(e, SyncError::BadLimit { name: "frame_size_limit", .. }));
    assert!(!e.is_peer_fault());
}

#[test]
fn a_peer_that_never_converges_is_cut_off() {
    // A server whose set differs everywhere keeps asking for more, with
    // 4 KiB frames, against a one-round-trip budget.
    let limits = SyncLimits { frame_size_limit: 4096, max_round_trips: 1, ..SyncLimits::default() };
    let server = SyncServer::new(snapshot(50_000), limits).unwrap();
    let mut client = SyncClient::new(&snapshot(0), limits).unwrap();
    let request = client.initiate().unwrap();
    let response = server.handle_request(&request, |_| None).unwrap();
    let e = client.handle_response(&response).unwrap_err();
    assert_eq!(e, SyncError::TooManyRoundTrips { limit: 1 });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_request_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = server().handle_request(&bytes, |_| None);
    }

    #[test]
    fn arbitrary_reconcile_messages_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Some(first) = bytes.first_mut() {
            *first = 0x61; // get past the version byte into the range parser
        }
        let frame = pb::SyncRequest { request: Some(pb::sync_request::Request::Reconcile(bytes.clone())) }.encode_to_vec();
        let _ = server().handle_request(&frame, |_| None);

        let mut client = SyncClient::new(&snapshot(300), SyncLimits::default()).unwrap();
        client.initiate().unwrap();
        let frame = pb::SyncResponse { response: Some(pb::sync_response::Response::Reconcile(bytes)) }.encode_to_vec();
        if let Ok(ClientStep::Request(next)) = client.handle_response(&frame) {
            prop_assert!(next.len() <= MAX_SYNC_REQUEST_BYTES);
        }
    }

    #[test]
    fn arbitrary_response_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut client = SyncClient::new(&snapshot(300), SyncLimits::default()).unwrap();
        client.initiate().unwrap();
        let _ = client.handle_response(&bytes);
        let mut fetcher = Fetcher::new([chorus_core::ObjectId([7; 32])], SyncLimits::default()).unwrap();
        fetcher.next_request().unwrap();
        let _ = fetcher.handle_response(&bytes);
    }
}
