//! An observer node's provisional sync sources and the back-off after a
//! refusal, and a member node's memory of the observers it refused
//! (PROTOCOL.md 14.9), on virtual time.

use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_core::ObserverAccess;
use chorus_core::{Admission, ObjectId};
use libp2p::PeerId;

use super::super::*;
use super::support::*;

fn observer_bench(bootstrap: Vec<Multiaddr>) -> Bench {
    let mut c = NetConfig::memory();
    c.sync_interval = Duration::from_secs(30);
    c.bootstrap = bootstrap;
    let mut b = Bench::new(c.clone());
    b.service = Service::new(PeerId::random(), &c, Millis::ZERO).observing(true);
    b
}

fn has(out: &[Output], f: impl Fn(&Output) -> bool) -> bool {
    out.iter().any(f)
}

fn banned(out: &[Output]) -> bool {
    has(out, |o| matches!(o, Output::Ban { .. }))
}

fn verified_event(out: &[Output], peer: PeerId) -> bool {
    has(out, |o| matches!(o, Output::Emit(NetworkEvent::PeerVerified { peer: p, .. }) if *p == peer))
}

#[test]
fn an_observer_syncs_from_a_node_of_a_trust_it_does_not_know_yet_and_verifies_it_later() {
    let f = Fixture::new(3);
    let mut b = observer_bench(Vec::new());
    let m = test_peer(&f, 1);
    b.input(Input::Connected { peer: m.id, address: addr(1) });
    let out =
        b.input(Input::ProvisionalHello { peer: m.id, exchange: HelloExchange::Request, attestation: m.attestation });
    assert!(!banned(&out), "a node of a trust the observer does not know yet is not banned");
    assert!(has(&out, |o| matches!(o, Output::AnswerHello(p) if *p == m.id)), "its hello is answered");
    assert!(!verified_event(&out, m.id), "not a verified member yet");
    let out =
        b.input(Input::ProvisionalHello { peer: m.id, exchange: HelloExchange::Response, attestation: m.attestation });
    assert!(has(&out, |o| matches!(o, Output::StartSync(p) if *p == m.id)), "the observer syncs from it");
    let peer = b.service.peer(&m.id).expect("connected");
    assert!(peer.is_member() && peer.is_provisional());
    assert_eq!(b.service.status().verified, 0, "a provisional peer is not counted as verified");
    // Past the stranger timeout: still connected.
    assert!(!has(&b.at(20_000).tick(), |o| matches!(o, Output::Disconnect(_))));
    // Objects arrive; at the next tick the observer asks whether its roster
    // names the trust now.
    let stored = Admission::Stored { id: ObjectId([2; 32]), adopted: None };
    b.input(Input::Ingested { peer: m.id, via: Via::Sync, message: None, result: Ok(stored.clone()) });
    let out = b.at(21_000).tick();
    let trust = m.attestation.trust();
    assert!(has(&out, |o| matches!(o, Output::CheckMembership(v) if v == &vec![(m.id, trust)])));
    let out = b.input(Input::TrustKnown { peer: m.id });
    assert!(verified_event(&out, m.id), "once the roster names the trust it is a member peer");
    assert!(!b.service.peer(&m.id).expect("connected").is_provisional());
    assert_eq!(b.service.status().verified, 1);
    // Nothing more to check.
    b.input(Input::Ingested { peer: m.id, via: Via::Sync, message: None, result: Ok(stored) });
    assert!(!has(&b.at(22_000).tick(), |o| matches!(o, Output::CheckMembership(_))));
}

#[test]
fn an_observer_keeps_a_few_provisional_peers_and_disconnects_more_without_a_ban() {
    let f = Fixture::new(3);
    let mut b = observer_bench(Vec::new());
    for i in 0..=MAX_PROVISIONAL_PEERS as u8 {
        let m = test_peer(&f, 10 + i);
        b.input(Input::Connected { peer: m.id, address: addr(u64::from(i) + 1) });
        let out = b.input(Input::ProvisionalHello {
            peer: m.id,
            exchange: HelloExchange::Request,
            attestation: m.attestation,
        });
        assert!(!banned(&out));
        let dropped = has(&out, |o| matches!(o, Output::Disconnect(p) if *p == m.id));
        assert_eq!(dropped, usize::from(i) == MAX_PROVISIONAL_PEERS, "peer {i}");
    }
}

#[test]
fn a_member_node_bans_a_node_of_a_trust_it_does_not_know() {
    let f = Fixture::new(3);
    let mut b = Bench::new(NetConfig::memory());
    let m = test_peer(&f, 1);
    b.input(Input::Connected { peer: m.id, address: addr(1) });
    let out =
        b.input(Input::ProvisionalHello { peer: m.id, exchange: HelloExchange::Request, attestation: m.attestation });
    assert!(banned(&out), "a member keeps the rule of 14.3: not a member, banned");
}

/// Connects the bootstrap peer `m` when the observer redials it, and lets
/// it close the connection without answering; returns when it was dialled.
fn refused_round(b: &mut Bench, m: PeerId, from: u64, to: u64) -> Option<u64> {
    let mut t = from;
    while t <= to {
        let out = b.at(t).tick();
        if has(&out, |o| matches!(o, Output::Redial { peer, .. } if *peer == m)) {
            b.input(Input::Connected { peer: m, address: addr(7) });
            b.input(Input::Disconnected { peer: m });
            return Some(t);
        }
        t += 1_000;
    }
    None
}

#[test]
fn an_observer_backs_off_from_a_peer_that_leaves_its_hello_unanswered_and_starts_over_once_accepted() {
    let f = Fixture::new(3);
    let m = test_peer(&f, 1);
    let mut b = observer_bench(vec![format!("/memory/7/p2p/{}", m.id).parse().unwrap()]);
    let mut times = Vec::new();
    let mut t = 0;
    while let Some(at) = refused_round(&mut b, m.id, t, 20_000_000) {
        times.push(at);
        t = at + 1_000;
        if times.len() == 9 {
            break;
        }
    }
    let gaps: Vec<u64> = times.windows(2).map(|w| (w[1] - w[0]) / 1_000).collect();
    // 30 s doubling, to the 30 min cap (ticks of a second: within a second).
    assert_eq!(gaps, vec![30, 60, 120, 240, 480, 960, 1800, 1800], "{times:?}");
    // Accepted once: the refusals start over.
    let now = t + 3_600_000;
    b.at(now).tick();
    b.input(Input::Connected { peer: m.id, address: addr(7) });
    b.input(Input::Hello { peer: m.id, exchange: HelloExchange::Response, outcome: Ok(m.attestation) });
    b.input(Input::Disconnected { peer: m.id });
    let back = refused_round(&mut b, m.id, now, now + 60_000).expect("redialled soon after an accepted hello");
    assert!(back - now <= 10_000, "the ordinary redial back-off, not the refusal's");
    let next = refused_round(&mut b, m.id, back + 1_000, back + 120_000).expect("redialled");
    assert_eq!((next - back) / 1_000, 30, "the first refusal after an acceptance waits 30 s again");
}

#[test]
fn a_member_node_closes_a_refused_observers_connections_for_a_minute_without_a_hello() {
    let mut b = Bench::new(NetConfig::memory());
    let o = PeerId::random();
    b.input(Input::Connected { peer: o, address: addr(2) });
    let out = b.input(Input::ObserverHello { peer: o, exchange: HelloExchange::Request, access: ObserverAccess::None });
    assert!(has(&out, |x| matches!(x, Output::Disconnect(p) if *p == o)) && !banned(&out));
    b.input(Input::Disconnected { peer: o });
    let out = b.at(30_000).input(Input::Connected { peer: o, address: addr(2) });
    assert!(has(&out, |x| matches!(x, Output::Disconnect(p) if *p == o)), "closed at once");
    assert!(!has(&out, |x| matches!(x, Output::SendHello(_))), "no hello spent on it");
    assert!(!banned(&out));
    b.input(Input::Disconnected { peer: o });
    b.at(61_000).tick();
    let out = b.input(Input::Connected { peer: o, address: addr(2) });
    assert!(has(&out, |x| matches!(x, Output::SendHello(p) if *p == o)), "after a minute, a hello again");
    // A charter that admits observers again forgets the refusals at once.
    b.input(Input::ObserverHello { peer: o, exchange: HelloExchange::Request, access: ObserverAccess::None });
    b.input(Input::Disconnected { peer: o });
    b.input(Input::ObserverAccessChanged { access: ObserverAccess::Everything });
    let out = b.at(62_000).input(Input::Connected { peer: o, address: addr(2) });
    assert!(has(&out, |x| matches!(x, Output::SendHello(p) if *p == o)));
}

#[test]
fn refusal_backoff_doubles_from_thirty_seconds_to_thirty_minutes() {
    let secs: Vec<u64> = (1..=8).map(|n| refusal_backoff(n).as_secs()).collect();
    assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1800, 1800]);
    assert_eq!(refusal_backoff(u32::MAX), REFUSAL_BACKOFF_CAP);
}
