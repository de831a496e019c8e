//! Heads in sync sessions (PROTOCOL.md 13), sans-IO: an honest responder's
//! sessions account for everything its head announces, however the
//! session runs; one that withholds an object its head counts is caught;
//! a head that does not verify ends the session.

mod sync_common;

use chorus_core::{Keypair, ObjectId};
use chorus_net::sync::{
    ClientStep, Head, HeadError, SignedHead, SyncClient, SyncError, SyncLimits, SyncServer, SyncSnapshot, Withheld,
};
use sync_common::{objects, Side};

const COALITION: ObjectId = ObjectId([0x33; 32]);

fn node() -> Keypair {
    Keypair::from_seed(&[0x42; 32])
}

fn head_of(snapshot: &SyncSnapshot, key: &Keypair) -> SignedHead {
    let head = Head {
        coalition: COALITION,
        roster_version: COALITION,
        roster_heads: Vec::new(),
        object_count: snapshot.len() as u64,
        set_fingerprint: snapshot.set_fingerprint(),
        issued_at_ms: 1,
    };
    SignedHead::sign(head, key)
}

/// Runs a session asking for the head (checked under `node()`'s key) and
/// returns the finished client.
fn session(
    client: &Side,
    responder: &SyncServer,
    limits: SyncLimits,
    lookup: impl Fn(&ObjectId) -> Option<Vec<u8>>,
) -> Result<SyncClient, SyncError> {
    let mut c = SyncClient::new(&client.snapshot(), limits)?;
    c.ask_head(node().public());
    let mut frame = c.initiate()?;
    loop {
        let response = responder.handle_request(&frame, &lookup)?;
        let progress = c.handle_response(&response)?;
        match progress.next {
            ClientStep::Request(next) => frame = next,
            ClientStep::Done => return Ok(c),
        }
    }
}

/// Both sides from `n` objects: the server holds those `in_server` keeps,
/// the client those `in_client` keeps.
fn sides(n: u64, in_server: impl Fn(u64) -> bool, in_client: impl Fn(u64) -> bool) -> (Side, Side) {
    let (mut server, mut client) = (Side::default(), Side::default());
    for (i, (t, e)) in objects(0, n).into_iter().enumerate() {
        if in_server(i as u64) {
            server.insert(t, &e);
        }
        if in_client(i as u64) {
            client.insert(t, &e);
        }
    }
    (server, client)
}

fn small_limits() -> SyncLimits {
    SyncLimits { max_queries_per_request: 3, max_ids_per_query: 4, response_bytes: 700, ..SyncLimits::default() }
}

#[test]
fn an_honest_responder_shows_everything_its_head_announces() {
    /// What the client holds, by object index; the server lacks every
    /// fifth object in the last case only.
    type Holds = fn(u64) -> bool;
    let cases: [(&str, Holds); 5] = [
        ("empty client", |_| false),
        ("newest missing", |i| i < 250),
        ("scattered", |i| !i.is_multiple_of(7)),
        ("identical", |_| true),
        ("client holds more", |i| !i.is_multiple_of(3)),
    ];
    for (name, client_has) in cases {
        let server_has = |i: u64| !(name == "client holds more" && i.is_multiple_of(5));
        let (server, client) = sides(300, server_has, client_has);
        for limits in [SyncLimits::default(), small_limits()] {
            let snapshot = server.snapshot();
            let responder = SyncServer::new(snapshot.clone(), limits).unwrap().with_head(&head_of(&snapshot, &node()));
            let c = session(&client, &responder, limits, |id| server.objects.get(id).cloned()).unwrap();
            assert!(c.is_done(), "{name}");
            if name == "identical" {
                // Equal sets: no head, and nothing could be withheld.
                assert!(c.same_set() && c.head().is_none(), "{name}");
            } else {
                assert!(!c.same_set(), "{name}");
                assert_eq!(c.head().map(|h| h.head().object_count), Some(snapshot.len() as u64), "{name}");
            }
            assert_eq!(c.withheld(), None, "{name}, {limits:?}");
        }
    }
}

#[test]
fn a_responder_whose_set_grew_since_its_head_withholds_nothing() {
    // The head describes 280 objects; by the time it answers, the
    // responder serves 300 (sessions span snapshots; the set only grows).
    let (server, client) = sides(300, |_| true, |i| i < 100);
    let older = SyncSnapshot::new(server.items.iter().copied().take(280));
    let responder = SyncServer::new(server.snapshot(), small_limits()).unwrap().with_head(&head_of(&older, &node()));
    let c = session(&client, &responder, small_limits(), |id| server.objects.get(id).cloned()).unwrap();
    assert_eq!(c.withheld(), None);
}

#[test]
fn a_responder_that_withholds_an_object_its_head_counts_is_caught() {
    let (server, client) = sides(210, |_| true, |i| i < 150);
    let snapshot = server.snapshot();
    let hidden = server.items[180].1;
    for limits in [SyncLimits::default(), small_limits()] {
        // Its store "cannot read" the object: the head and the splits count
        // it, no reply delivers it.
        let responder = SyncServer::new(snapshot.clone(), limits).unwrap().with_head(&head_of(&snapshot, &node()));
        let lookup = |id: &ObjectId| if *id == hidden { None } else { server.objects.get(id).cloned() };
        let c = session(&client, &responder, limits, lookup).unwrap();
        assert_eq!(c.withheld(), Some(Withheld { announced: 210, showed: 209, whole_set: true }), "{limits:?}");

        // It serves a set without the object but announces the whole set:
        // its splits, counted from what it serves, are consistent, and the
        // head's count is not.
        let without = SyncSnapshot::new(server.items.iter().copied().filter(|(_, id)| *id != hidden));
        let responder = SyncServer::new(without, limits).unwrap().with_head(&head_of(&snapshot, &node()));
        let c = session(&client, &responder, limits, |id| server.objects.get(id).cloned()).unwrap();
        assert_eq!(c.withheld(), Some(Withheld { announced: 210, showed: 209, whole_set: true }), "{limits:?}");
    }
}

#[test]
fn a_withheld_object_hidden_by_a_grown_set_is_caught_by_its_bucket_count() {
    // The set grew by one since the head and one object is withheld: the
    // totals agree (210 announced, 210 shown), the bucket that held the
    // withheld object does not.
    let (server, client) = sides(211, |_| true, |i| i < 100);
    let older = SyncSnapshot::new(server.items.iter().copied().take(210));
    let hidden = server.items[150].1;
    let limits = small_limits();
    let responder = SyncServer::new(server.snapshot(), limits).unwrap().with_head(&head_of(&older, &node()));
    let lookup = |id: &ObjectId| if *id == hidden { None } else { server.objects.get(id).cloned() };
    let c = session(&client, &responder, limits, lookup).unwrap();
    let w = c.withheld().expect("the bucket's count exposes it");
    assert!(!w.whole_set && w.showed + 1 == w.announced, "{w:?}");
}

#[test]
fn a_responder_without_a_head_is_still_checked_by_its_bucket_counts() {
    // A node of an earlier release ignores `want_head`: no head, so the
    // whole set is not checked, but the buckets it splits into still
    // announce counts, and one short of the withheld object shows.
    let (server, client) = sides(211, |_| true, |i| i < 100);
    let hidden = server.items[150].1;
    let limits = small_limits();
    let responder = SyncServer::new(server.snapshot(), limits).unwrap();
    let lookup = |id: &ObjectId| if *id == hidden { None } else { server.objects.get(id).cloned() };
    let c = session(&client, &responder, limits, lookup).unwrap();
    assert!(c.head().is_none());
    let w = c.withheld().expect("the bucket's count exposes it");
    assert!(!w.whole_set && w.showed + 1 == w.announced, "{w:?}");
    // The same responder showing everything: nothing withheld.
    let c = session(&client, &responder, limits, |id| server.objects.get(id).cloned()).unwrap();
    assert_eq!(c.withheld(), None);
}

#[test]
fn a_head_built_on_demand_is_built_only_when_sent() {
    let (server, client) = sides(50, |_| true, |i| i < 20);
    let snapshot = server.snapshot();
    let responder = SyncServer::new(snapshot.clone(), SyncLimits::default()).unwrap();
    let lookup = |id: &ObjectId| server.objects.get(id).cloned();
    let built = std::cell::Cell::new(0);
    let sign = |s: &SyncSnapshot| {
        built.set(built.get() + 1);
        head_of(s, &node())
    };
    // Not asked for: not built.
    let mut c = SyncClient::new(&client.snapshot(), SyncLimits::default()).unwrap();
    responder.handle_request_with_head(&c.initiate().unwrap(), lookup, sign).unwrap();
    assert_eq!(built.get(), 0);
    // Asked for, equal sets: not built either.
    let mut same = SyncClient::new(&snapshot, SyncLimits::default()).unwrap();
    same.ask_head(node().public());
    responder.handle_request_with_head(&same.initiate().unwrap(), lookup, sign).unwrap();
    assert_eq!(built.get(), 0);
    // Asked for and sent: built once, and it verifies.
    let mut asked = SyncClient::new(&client.snapshot(), SyncLimits::default()).unwrap();
    asked.ask_head(node().public());
    let response = responder.handle_request_with_head(&asked.initiate().unwrap(), lookup, sign).unwrap();
    assert_eq!(built.get(), 1);
    asked.handle_response(&response).unwrap();
    assert_eq!(asked.head().map(|h| h.head().object_count), Some(50));
}

#[test]
fn a_head_that_does_not_verify_ends_the_session() {
    let (server, client) = sides(50, |_| true, |_| false);
    let snapshot = server.snapshot();
    let impostor = Keypair::from_seed(&[0x43; 32]);
    let responder =
        SyncServer::new(snapshot.clone(), SyncLimits::default()).unwrap().with_head(&head_of(&snapshot, &impostor));
    let err = session(&client, &responder, SyncLimits::default(), |id| server.objects.get(id).cloned()).unwrap_err();
    assert_eq!(err, SyncError::BadHead(HeadError::BadSignature));
    assert!(err.is_peer_fault());
}

#[test]
fn a_head_comes_only_when_asked_and_a_missing_one_is_visible() {
    let (server, client) = sides(50, |_| true, |_| false);
    let snapshot = server.snapshot();
    // Asked, but the responder has none to give.
    let bare = SyncServer::new(snapshot.clone(), SyncLimits::default()).unwrap();
    let c = session(&client, &bare, SyncLimits::default(), |id| server.objects.get(id).cloned()).unwrap();
    assert!(c.asked_head() && c.head().is_none() && c.withheld().is_none());
    // Not asked: a responder with a head sends none.
    let headed = bare.with_head(&head_of(&snapshot, &node()));
    let mut c = SyncClient::new(&client.snapshot(), SyncLimits::default()).unwrap();
    let frame = c.initiate().unwrap();
    let response = headed.handle_request(&frame, |id| server.objects.get(id).cloned()).unwrap();
    c.handle_response(&response).unwrap();
    assert!(!c.asked_head() && c.head().is_none());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Where object `k` is held: 0 both, 1 client only, 2 server only.
    fn placement() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![3 => Just(0u8), 1 => Just(1), 2 => Just(2)], 1..600)
    }

    fn limits() -> impl Strategy<Value = SyncLimits> {
        (1usize..8, 1usize..33, 200usize..20_000).prop_map(|(q, ids, bytes)| SyncLimits {
            max_queries_per_request: q,
            max_ids_per_query: ids,
            response_bytes: bytes,
            ..SyncLimits::default()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// An honest responder is never taken for one that withholds; one
        /// that withholds any object the client lacks always is.
        #[test]
        fn withholding_is_caught_exactly(places in placement(), limits in limits(), pick in any::<prop::sample::Index>()) {
            let at = |k: u64| places[k as usize];
            let (server, client) = sides(places.len() as u64, |k| at(k) != 1, |k| at(k) != 2);
            let snapshot = server.snapshot();
            let responder = SyncServer::new(snapshot.clone(), limits).unwrap().with_head(&head_of(&snapshot, &node()));
            let honest = session(&client, &responder, limits, |id| server.objects.get(id).cloned()).unwrap();
            prop_assert_eq!(honest.withheld(), None);

            let lacking: Vec<ObjectId> =
                server.items.iter().map(|(_, id)| *id).filter(|id| !client.objects.contains_key(id)).collect();
            prop_assume!(!lacking.is_empty());
            let hidden = lacking[pick.index(lacking.len())];
            let lookup = |id: &ObjectId| if *id == hidden { None } else { server.objects.get(id).cloned() };
            let caught = session(&client, &responder, limits, lookup).unwrap();
            prop_assert_eq!(
                caught.withheld(),
                Some(Withheld { announced: snapshot.len() as u64, showed: snapshot.len() as u64 - 1, whole_set: true })
            );
        }
    }
}
