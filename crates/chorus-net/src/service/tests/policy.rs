//! Peer-policy scenarios on virtual time: each test steps `now` by hand; no
//! clock, no sleep, no runtime, no swarm.

use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_core::{Admission, ObjectId, Rejection};
use libp2p::gossipsub::MessageId;
use libp2p::PeerId;

use super::super::*;
use super::support::*;
use crate::error::AttestationError;

fn config() -> NetConfig {
    let mut c = NetConfig::memory();
    c.sync_interval = Duration::from_secs(30);
    c
}

impl Bench {
    fn connect(&mut self, peer: PeerId) -> Vec<Output> {
        self.input(Input::Connected { peer, address: addr(1) })
    }

    /// Connects `p` and completes the hello both ways; returns the outputs
    /// of its response (which start a sync).
    fn member(&mut self, p: &TestPeer) -> Vec<Output> {
        self.connect(p.id);
        let request =
            self.input(Input::Hello { peer: p.id, exchange: HelloExchange::Request, outcome: Ok(p.attestation) });
        assert!(request.iter().any(|o| matches!(o, Output::AnswerHello(q) if *q == p.id)));
        self.input(Input::Hello { peer: p.id, exchange: HelloExchange::Response, outcome: Ok(p.attestation) })
    }

    fn gossip(&mut self, peer: PeerId, n: u8) -> Vec<Output> {
        self.input(Input::Gossip { peer, message: MessageId::from(vec![n]), data: vec![n], queue_has_room: true })
    }
}

fn disconnects(outputs: &[Output], peer: PeerId) -> bool {
    outputs.iter().any(|o| matches!(o, Output::Disconnect(p) if *p == peer))
}

fn bans(outputs: &[Output], peer: PeerId) -> Option<Millis> {
    outputs.iter().find_map(|o| match o {
        Output::Ban { peer: p, until } if *p == peer => Some(*until),
        _ => None,
    })
}

fn ban_reason(outputs: &[Output]) -> Option<String> {
    outputs.iter().find_map(|o| match o {
        Output::Emit(NetworkEvent::PeerBanned { reason, .. }) => Some(reason.clone()),
        _ => None,
    })
}

fn acceptance(outputs: &[Output]) -> Option<Acceptance> {
    outputs.iter().find_map(|o| match o {
        Output::ReportGossip { acceptance, .. } => Some(*acceptance),
        _ => None,
    })
}

fn ended(peer: PeerId, failure: Option<SyncFailure>) -> Input {
    Input::SyncEnded { peer, report: SyncReport::default(), failure }
}

#[test]
fn a_stranger_that_never_says_hello_is_disconnected_after_the_timeout() {
    let mut b = Bench::new(config());
    let stranger = PeerId::random();
    let out = b.connect(stranger);
    assert!(out.iter().any(|o| matches!(o, Output::SendHello(p) if *p == stranger)));
    assert!(out.iter().any(|o| matches!(o, Output::Classify { class: PeerClass::Stranger, .. })));
    // Our hello times out: it stays a stranger, not yet disconnected.
    b.at(5_000).input(Input::HelloFailed { peer: stranger, error: "timeout".into() });
    assert!(!disconnects(&b.tick(), stranger));
    assert!(!disconnects(&b.at(10_000).tick(), stranger), "the timeout is not yet over");
    assert!(disconnects(&b.at(10_001).tick(), stranger));
    assert_eq!(b.service.banned_until(&stranger), None, "a silent stranger is not banned");
    b.input(Input::Disconnected { peer: stranger });
    assert_eq!(b.service.status().connected, 0);
}

#[test]
fn strangers_beyond_the_bound_are_disconnected_at_once() {
    let mut c = config();
    c.limits.max_strangers = 2;
    let mut b = Bench::new(c);
    let peers: Vec<PeerId> = (0..3).map(|_| PeerId::random()).collect();
    assert!(!disconnects(&b.connect(peers[0]), peers[0]));
    assert!(!disconnects(&b.connect(peers[1]), peers[1]));
    let third = b.connect(peers[2]);
    assert!(disconnects(&third, peers[2]));
    assert!(!third.iter().any(|o| matches!(o, Output::SendHello(_))));
}

#[test]
fn a_verified_hello_makes_a_member_and_a_sync_starts() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config());
    b.connect(p.id);
    let out = b.input(Input::Hello { peer: p.id, exchange: HelloExchange::Request, outcome: Ok(p.attestation) });
    assert!(out.iter().any(|o| matches!(o, Output::Classify { class: PeerClass::Member, .. })));
    assert!(out.iter().any(|o| matches!(o, Output::Emit(NetworkEvent::PeerVerified { .. }))));
    assert!(syncs_started(&out).is_empty(), "no sync before the peer accepted us");
    let out = b.input(Input::Hello { peer: p.id, exchange: HelloExchange::Response, outcome: Ok(p.attestation) });
    assert_eq!(syncs_started(&out), vec![p.id]);
    // A member is never disconnected for lateness.
    assert!(!disconnects(&b.at(60_000).tick(), p.id));
    assert_eq!(b.service.status().verified, 1);
}

#[test]
fn a_refused_hello_bans_until_the_ban_expires() {
    let mut c = config();
    c.limits.ban_duration = Duration::from_secs(60);
    let mut b = Bench::new(c);
    let peer = PeerId::random();
    b.at(1_000).connect(peer);
    let refusal = HelloRefusal::Attestation(AttestationError::NotAMember("k".into()));
    let out = b.input(Input::Hello { peer, exchange: HelloExchange::Request, outcome: Err(refusal) });
    assert_eq!(bans(&out, peer), Some(Millis(61_000)));
    assert!(ban_reason(&out).unwrap().contains("attestation refused"));
    assert!(!out.iter().any(|o| matches!(o, Output::AnswerHello(_))));
    b.input(Input::Disconnected { peer });
    // Banned: discovery does not dial it, a reconnection is cut.
    let found = Input::Discovered { peer, address: addr(2) };
    assert!(b.at(30_000).input(found).is_empty());
    assert!(disconnects(&b.connect(peer), peer));
    b.input(Input::Disconnected { peer });
    assert!(!b.at(60_999).tick().iter().any(|o| matches!(o, Output::Unban(_))));
    assert!(b.at(61_000).tick().iter().any(|o| matches!(o, Output::Unban(p) if *p == peer)));
    assert_eq!(b.service.banned_until(&peer), None);
    let found = Input::Discovered { peer, address: addr(2) };
    assert!(b.input(found).iter().any(|o| matches!(o, Output::DialPeer { .. })));
    assert_eq!(b.service.status().peers_banned, 1);
}

#[test]
fn strikes_add_up_to_a_ban() {
    let mut c = config();
    c.limits.max_strikes = 3;
    c.limits.stranger_gossip_budget = 2;
    let mut b = Bench::new(c);
    let peer = PeerId::random();
    b.connect(peer);
    let validated = |out: &[Output]| out.iter().any(|o| matches!(o, Output::Validate { .. }));
    // Within the budget: judged by content (validated), no verdict yet, no strike.
    for n in 0..2 {
        let out = b.gossip(peer, n);
        assert!(validated(&out));
        assert_eq!(acceptance(&out), None);
        assert_eq!(b.service.peer(&peer).unwrap().strikes(), 0);
    }
    // Past it: still validated (its content decides its fate), and a strike.
    assert!(validated(&b.gossip(peer, 2)));
    b.gossip(peer, 3);
    assert_eq!(b.service.peer(&peer).unwrap().strikes(), 2);
    let out = b.gossip(peer, 4);
    assert!(bans(&out, peer).is_some());
    assert!(ban_reason(&out).unwrap().contains("3 protocol violations"));
}

/// The `ReportGossip` of `out`: acceptance and whether the sender is credited.
fn report(out: &[Output]) -> Option<(Acceptance, bool)> {
    out.iter().find_map(|o| match o {
        Output::ReportGossip { acceptance, credit, .. } => Some((*acceptance, *credit)),
        _ => None,
    })
}

#[test]
fn gossip_is_judged_by_content_whoever_forwarded_it() {
    let f = Fixture::new(2);
    let member = test_peer(&f, 1);
    let stranger = PeerId::random();
    let mut b = Bench::new(config());
    b.member(&member);
    b.connect(stranger);
    let gossiped = |n: u8, held_bytes| Some(Gossiped { id: MessageId::from(vec![n]), held_bytes });
    let id = ObjectId([4; 32]);
    // (admission, held bytes, verdict for a member's copy, for a stranger's)
    let cases = [
        (Admission::Stored { id, adopted: None }, true, Acceptance::Accept, Acceptance::Accept),
        // Held already (by sync, or published here): forwarded all the same.
        (Admission::Duplicate { id }, true, Acceptance::Accept, Acceptance::Accept),
        // Another copy of a held object in other bytes: not forwarded.
        (Admission::Duplicate { id }, false, Acceptance::Ignore, Acceptance::Ignore),
        (Admission::Refused(Rejection::UnknownKind(99)), true, Acceptance::Ignore, Acceptance::Ignore),
        // Invalid: rejected from a member; from a stranger only ignored.
        (
            Admission::Refused(Rejection::BadSignature { signer: "k".into() }),
            true,
            Acceptance::Reject,
            Acceptance::Ignore,
        ),
    ];
    for (n, (admission, held_bytes, from_member, from_stranger)) in cases.into_iter().enumerate() {
        for (peer, is_member, expected) in [(member.id, true, from_member), (stranger, false, from_stranger)] {
            let message = gossiped(n as u8, held_bytes);
            let out = b.input(Input::Ingested { peer, via: Via::Gossip, message, result: Ok(admission.clone()) });
            let (acceptance, credit) = report(&out).expect("a verdict");
            assert_eq!(acceptance, expected, "{admission:?} from a member: {is_member}");
            // Only a member earns gossip's first-delivery credit.
            assert_eq!(credit, is_member);
        }
    }
    // An invalid object counts against a member; a stranger's cost is its
    // budget and strikes.
    assert_eq!(b.service.peer(&member.id).unwrap().rejects(), 1);
    assert_eq!(b.service.peer(&stranger).unwrap().rejects(), 0);
    assert_eq!(b.service.peer(&stranger).unwrap().strikes(), 0);
}

#[test]
fn invalid_objects_ban_after_max_rejects_and_ignorable_ones_never_do() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut c = config();
    c.limits.max_rejects = 3;
    let mut b = Bench::new(c);
    b.member(&p);
    let ignorable = Admission::Refused(Rejection::UnknownKind(99));
    assert_eq!(judge(&Conduct::Admission(&ignorable)).penalty, Penalty::Nothing);
    for n in 0..20u8 {
        let message = Some(Gossiped { id: MessageId::from(vec![n]), held_bytes: true });
        let input = Input::Ingested { peer: p.id, via: Via::Gossip, message, result: Ok(ignorable.clone()) };
        assert!(bans(&b.input(input), p.id).is_none());
        let dup = Admission::Duplicate { id: ObjectId([n; 32]) };
        let input = Input::Ingested { peer: p.id, via: Via::Sync, message: None, result: Ok(dup) };
        assert!(bans(&b.input(input), p.id).is_none());
        // Our store failing is never the peer's fault.
        let input = Input::Ingested { peer: p.id, via: Via::Gossip, message: None, result: Err("disk".into()) };
        assert!(bans(&b.input(input), p.id).is_none());
    }
    let forged = Admission::Refused(Rejection::BadSignature { signer: "k".into() });
    for n in 0..3u8 {
        let message = Some(Gossiped { id: MessageId::from(vec![n]), held_bytes: true });
        let out = b.input(Input::Ingested { peer: p.id, via: Via::Gossip, message, result: Ok(forged.clone()) });
        assert_eq!(acceptance(&out), Some(Acceptance::Reject));
        assert_eq!(bans(&out, p.id).is_some(), n == 2);
        if n == 2 {
            assert!(ban_reason(&out).unwrap().contains("sent 3 invalid objects"));
        }
    }
    assert_eq!(b.service.status().objects_rejected, 3);
}

#[test]
fn gossip_and_sync_requests_are_rate_limited() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut c = config();
    c.limits.gossip_burst = 3;
    c.limits.gossip_per_sec = 1;
    c.limits.sync_burst = 2;
    c.limits.sync_requests_per_sec = 1;
    let mut b = Bench::new(c);
    b.member(&p);
    let validated = |out: &[Output]| out.iter().any(|o| matches!(o, Output::Validate { .. }));
    for n in 0..3 {
        assert!(validated(&b.gossip(p.id, n)));
    }
    let over = b.gossip(p.id, 3);
    assert!(!validated(&over));
    assert_eq!(acceptance(&over), Some(Acceptance::Ignore));
    assert_eq!(b.service.peer(&p.id).unwrap().strikes(), 0, "a fast member is not punished");
    assert!(validated(&b.at(1_000).gossip(p.id, 4)));
    assert!(!validated(&b.gossip(p.id, 5)));
    // A full ingest queue drops without blame.
    b.at(10_000);
    let out =
        b.input(Input::Gossip { peer: p.id, message: MessageId::from(vec![6]), data: vec![], queue_has_room: false });
    assert_eq!(acceptance(&out), Some(Acceptance::Ignore));
    // Sync requests: the burst, then a refusal with a strike.
    let served = |out: &[Output]| out.iter().any(|o| matches!(o, Output::ServeSync(_)));
    assert!(served(&b.input(Input::SyncRequested { peer: p.id, can_serve: true })));
    assert!(served(&b.input(Input::SyncRequested { peer: p.id, can_serve: true })));
    assert!(!served(&b.input(Input::SyncRequested { peer: p.id, can_serve: true })));
    assert_eq!(b.service.peer(&p.id).unwrap().strikes(), 1);
    // Busy serving slots refuse without a strike.
    b.at(20_000);
    assert!(!served(&b.input(Input::SyncRequested { peer: p.id, can_serve: false })));
    assert_eq!(b.service.peer(&p.id).unwrap().strikes(), 1);
    assert_eq!(b.service.status().sync_requests_refused, 2);
    // A stranger is served nothing and earns a strike.
    let s = PeerId::random();
    b.connect(s);
    assert!(!served(&b.input(Input::SyncRequested { peer: s, can_serve: true })));
    assert_eq!(b.service.peer(&s).unwrap().strikes(), 1);
}

#[test]
fn sync_rounds_take_members_in_turn_one_session_per_peer() {
    let f = Fixture::new(3);
    let peers: Vec<TestPeer> = (1..=3).map(|i| test_peer(&f, i)).collect();
    let mut b = Bench::new(config());
    // A sync on connect: one session at a time, the others wait their turn.
    let started: Vec<PeerId> = peers.iter().flat_map(|p| syncs_started(&b.member(p))).collect();
    assert_eq!(started, vec![peers[0].id]);
    assert_eq!(b.service.syncing(), 1);
    // A second sync with a peer already syncing or waiting is not started.
    assert!(syncs_started(&b.input(Input::SyncNow)).is_empty());
    assert_eq!(b.service.sync_pending(), 3);
    b.at(1_000);
    // Each end starts the next waiting peer.
    for (i, p) in peers.iter().enumerate() {
        let next: Vec<PeerId> = peers.get(i + 1).map(|q| q.id).into_iter().collect();
        assert_eq!(syncs_started(&b.input(ended(p.id, None))), next);
    }
    assert_eq!(b.service.status().syncs_completed, 3);
    // No round before the interval.
    assert!(syncs_started(&b.at(29_999).tick()).is_empty());
    // Each round starts one session, the next member in turn.
    let mut seen = Vec::new();
    for round in 1..=6u64 {
        let out = b.at(30_000 * round).tick();
        let started = syncs_started(&out);
        assert_eq!(started.len(), 1, "round {round}");
        seen.push(started[0]);
        b.at(30_000 * round + 500).input(ended(started[0], None));
    }
    for p in &peers {
        assert_eq!(seen.iter().filter(|s| **s == p.id).count(), 2, "every member twice in six rounds");
    }
    // SyncNow queues every member not syncing and starts the first.
    assert_eq!(syncs_started(&b.input(Input::SyncNow)).len(), 1);
    assert_eq!(b.service.sync_pending(), 3);
}

#[test]
fn a_failing_peer_is_backed_off_and_a_disconnect_aborts_its_session() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config());
    assert_eq!(syncs_started(&b.member(&p)), vec![p.id]);
    let out = b.at(100).input(ended(p.id, Some(SyncFailure::Request("timeout".into()))));
    let report = out.iter().find_map(|o| match o {
        Output::Emit(NetworkEvent::SyncFinished(r)) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(report.unwrap().error.as_deref(), Some("sync request failed: timeout"));
    assert_eq!(b.service.peer(&p.id).unwrap().strikes(), 0, "a timeout is not a strike");
    // Rounds skip it during its back-off (5 s), then take it again.
    let mut now = 100;
    for failures in 1..=3u32 {
        let backoff = sync_backoff(failures).as_millis() as u64;
        let resume = now + backoff;
        assert!(syncs_started(&b.at(resume - 1).tick()).is_empty(), "failure {failures}");
        // The round is due, so the first tick after the back-off starts it.
        assert_eq!(syncs_started(&b.at(resume.max(30_000 * u64::from(failures))).tick()), vec![p.id]);
        now = b.now.0 + 10;
        b.at(now).input(ended(p.id, Some(SyncFailure::Request("timeout".into()))));
    }
    // A bad response is a strike as well as a failure.
    b.at(now + 200_000).tick();
    assert!(b.service.is_syncing(&p.id));
    let bad = SyncError::BadBound { len: 33 };
    b.input(ended(p.id, Some(SyncFailure::Response(bad))));
    assert_eq!(b.service.peer(&p.id).unwrap().strikes(), 1);
    // A session running when the peer leaves is aborted.
    b.input(Input::SyncNow);
    assert!(b.service.is_syncing(&p.id));
    let out = b.input(Input::Disconnected { peer: p.id });
    assert!(out.iter().any(|o| matches!(o, Output::AbortSync(q) if *q == p.id)));
    b.input(ended(p.id, Some(SyncFailure::Disconnected)));
    assert!(!b.service.is_syncing(&p.id));
}

#[test]
fn discovery_dials_only_new_peers_below_the_target() {
    let mut c = config();
    c.limits.target_peers = 2;
    let mut b = Bench::new(c);
    let local = b.service.local;
    let dial = |b: &mut Bench, peer: PeerId| {
        b.input(Input::Discovered { peer, address: addr(3) }).iter().any(|o| matches!(o, Output::DialPeer { .. }))
    };
    assert!(!dial(&mut b, local));
    let (x, y) = (PeerId::random(), PeerId::random());
    assert!(dial(&mut b, x));
    b.connect(x);
    assert!(!dial(&mut b, x), "already connected");
    b.connect(y);
    assert!(!dial(&mut b, PeerId::random()), "at the target");
}

#[test]
fn stored_objects_recheck_members_node_keys() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config());
    b.member(&p);
    assert!(!b.tick().iter().any(|o| matches!(o, Output::CheckRevocations(_))));
    let stored = Admission::Stored { id: ObjectId([3; 32]), adopted: None };
    b.input(Input::Ingested { peer: p.id, via: Via::Sync, message: None, result: Ok(stored) });
    let out = b.at(1_000).tick();
    let Some(Output::CheckRevocations(members)) = out.iter().find(|o| matches!(o, Output::CheckRevocations(_))) else {
        panic!("no revocation check after a stored object")
    };
    assert_eq!(members[0].0, p.id);
    // Checked once per batch of stored objects, not every tick.
    assert!(!b.at(2_000).tick().iter().any(|o| matches!(o, Output::CheckRevocations(_))));
    let (trust, node_key) = (members[0].1, members[0].2);
    let out = b.input(Input::NodeKeyRevoked { peer: p.id, trust, node_key });
    assert!(bans(&out, p.id).is_some());
    assert!(ban_reason(&out).unwrap().contains("revoked"));
}

#[test]
fn a_graylisted_peer_is_banned_once() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config());
    b.member(&p);
    let out = b.input(Input::Graylisted { peer: p.id, score: -95.0 });
    assert!(ban_reason(&out).unwrap().contains("graylist"));
    assert!(b.input(Input::Graylisted { peer: p.id, score: -99.0 }).is_empty());
    assert_eq!(b.service.status().peers_banned, 1);
}
