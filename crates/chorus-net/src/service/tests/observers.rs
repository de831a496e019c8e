//! Observers (PROTOCOL.md 14.9) on virtual time: admitted by the charter's
//! setting, kept apart from members and strangers, their gossip ignored,
//! their sync on a budget of their own.

use std::time::Duration;

use chorus_core::ObserverAccess;
use libp2p::gossipsub::MessageId;
use libp2p::PeerId;

use super::super::*;
use super::support::*;

fn config() -> NetConfig {
    let mut c = NetConfig::memory();
    c.sync_interval = Duration::from_secs(30);
    c
}

impl Bench {
    /// Connects `peer` and passes its observer hello request.
    fn observe(&mut self, peer: PeerId, access: ObserverAccess) -> Vec<Output> {
        self.input(Input::Connected { peer, address: addr(2) });
        self.input(Input::ObserverHello { peer, exchange: HelloExchange::Request, access })
    }
}

fn answered(outputs: &[Output], peer: PeerId) -> bool {
    outputs.iter().any(|o| matches!(o, Output::AnswerHello(p) if *p == peer))
}

fn disconnected(outputs: &[Output], peer: PeerId) -> bool {
    outputs.iter().any(|o| matches!(o, Output::Disconnect(p) if *p == peer))
}

fn banned(outputs: &[Output]) -> bool {
    outputs.iter().any(|o| matches!(o, Output::Ban { .. }))
}

fn class(outputs: &[Output], peer: PeerId) -> Option<PeerClass> {
    outputs.iter().rev().find_map(|o| match o {
        Output::Classify { peer: p, class } if *p == peer => Some(*class),
        _ => None,
    })
}

#[test]
fn an_observer_is_answered_kept_and_never_a_member() {
    let mut b = Bench::new(config());
    let o = PeerId::random();
    let out = b.observe(o, ObserverAccess::Positions);
    assert!(answered(&out, o), "a member's node answers an admitted observer with its attestation");
    assert_eq!(class(&out, o), Some(PeerClass::Observer { receives: false }), "no gossip under Positions");
    // Past the stranger timeout, and long after: still connected.
    for t in [10_001, 11_000, 60_000, 600_000] {
        assert!(!disconnected(&b.at(t).tick(), o), "an observer is not disconnected at {t} ms");
    }
    let status = b.service.status();
    assert_eq!((status.verified, status.observers, status.connected), (0, 1, 1));
    let peer = b.service.peer(&o).expect("connected");
    assert!(peer.is_observer() && !peer.is_member() && peer.trust().is_none());
    // Never synced from: sync is pull-only, and observers serve nothing.
    let out = b.input(Input::SyncNow);
    assert!(syncs_started(&out).is_empty(), "{out:?}");

    let e = PeerId::random();
    let out = b.observe(e, ObserverAccess::Everything);
    assert_eq!(class(&out, e), Some(PeerClass::Observer { receives: true }), "gossip is sent under Everything");
}

#[test]
fn a_coalition_without_observers_leaves_the_hello_unanswered_and_bans_no_one() {
    let mut b = Bench::new(config());
    let o = PeerId::random();
    let out = b.observe(o, ObserverAccess::None);
    assert!(!answered(&out, o));
    assert!(disconnected(&out, o));
    assert!(!banned(&out));
    assert!(b.service.banned_until(&o).is_none());
}

#[test]
fn an_observer_node_admits_no_observers() {
    let mut b = Bench::new(config());
    b.service = Service::new(PeerId::random(), &config(), Millis::ZERO).observing(true);
    let o = PeerId::random();
    let out = b.observe(o, ObserverAccess::Everything);
    assert!(!answered(&out, o) && disconnected(&out, o) && !banned(&out));
}

#[test]
fn observers_have_their_own_cap_and_take_no_strangers_or_members_place() {
    let mut c = config();
    c.limits.max_observers = 2;
    c.limits.max_strangers = 1;
    let mut b = Bench::new(c);
    let (o1, o2, o3) = (PeerId::random(), PeerId::random(), PeerId::random());
    assert!(answered(&b.observe(o1, ObserverAccess::Positions), o1));
    assert!(answered(&b.observe(o2, ObserverAccess::Positions), o2));
    // Two observers connected, yet a stranger still finds its place.
    let s = PeerId::random();
    let out = b.input(Input::Connected { peer: s, address: addr(3) });
    assert!(!disconnected(&out, s), "observers took a stranger's place");
    // The third observer finds none; it is not banned.
    let out = b.observe(o3, ObserverAccess::Positions);
    assert!(!answered(&out, o3) && disconnected(&out, o3) && !banned(&out));
    // Observers are not member peers: the node still redials toward its target.
    assert_eq!(b.service.status().verified, 0);
}

/// gossipsub drops an admitted observer's messages itself (the shell puts
/// it on the blacklist when classified); one already on its way when it was
/// admitted is ignored, never stored, and costs nothing however many come.
#[test]
fn an_observers_gossip_is_ignored_without_penalty() {
    let mut b = Bench::new(config());
    let o = PeerId::random();
    let out = b.observe(o, ObserverAccess::Everything);
    assert_eq!(class(&out, o), Some(PeerClass::Observer { receives: true }));
    for n in 1..=200u8 {
        let out =
            b.input(Input::Gossip { peer: o, message: MessageId::from(vec![n]), data: vec![n], queue_has_room: true });
        assert!(!out.iter().any(|x| matches!(x, Output::Validate { .. })), "an observer's gossip is never stored");
        assert!(out.iter().any(|x| matches!(x, Output::ReportGossip { acceptance: Acceptance::Ignore, .. })));
        assert!(!disconnected(&out, o) && !banned(&out));
    }
    assert_eq!(b.service.peer(&o).map(|p| (p.strikes(), p.rejects())), Some((0, 0)));
}

#[test]
fn observers_sync_on_their_own_budget_and_never_on_members() {
    let mut c = config();
    c.limits.observer_sync_requests_per_sec = 1;
    c.limits.observer_sync_burst = 2;
    c.limits.sync_burst = 5;
    let f = chorus_core::testkit::Fixture::new(3);
    let m = test_peer(&f, 1);
    let mut b = Bench::new(c);
    b.input(Input::Connected { peer: m.id, address: addr(1) });
    b.input(Input::Hello { peer: m.id, exchange: HelloExchange::Request, outcome: Ok(m.attestation) });
    let o = PeerId::random();
    b.observe(o, ObserverAccess::Positions);
    let served = |out: &[Output], p: PeerId| out.iter().any(|x| matches!(x, Output::ServeSync(q) if *q == p));
    for _ in 0..2 {
        assert!(served(&b.input(Input::SyncRequested { peer: o, can_serve: true }), o));
    }
    // The observer's burst is spent: refused (a strike), at the same moment
    // as the member's requests are all served from the member's budget.
    assert!(!served(&b.input(Input::SyncRequested { peer: o, can_serve: true }), o));
    assert_eq!(b.service.peer(&o).map(|p| p.strikes()), Some(1));
    for _ in 0..5 {
        assert!(served(&b.input(Input::SyncRequested { peer: m.id, can_serve: true }), m.id));
    }
    // One second later the observer has one more request.
    b.at(1_000);
    assert!(served(&b.input(Input::SyncRequested { peer: o, can_serve: true }), o));
    assert!(!served(&b.input(Input::SyncRequested { peer: o, can_serve: true }), o));
}

#[test]
fn a_charter_amendment_reclassifies_or_disconnects_observers() {
    let mut b = Bench::new(config());
    let o = PeerId::random();
    b.observe(o, ObserverAccess::Positions);
    let out = b.input(Input::ObserverAccessChanged { access: ObserverAccess::Everything });
    assert_eq!(class(&out, o), Some(PeerClass::Observer { receives: true }));
    assert!(matches!(
        b.service.peer(&o).map(|p| p.status()),
        Some(PeerStatus::Observer { access: ObserverAccess::Everything })
    ));
    let out = b.input(Input::ObserverAccessChanged { access: ObserverAccess::None });
    assert!(disconnected(&out, o) && !banned(&out));
}
