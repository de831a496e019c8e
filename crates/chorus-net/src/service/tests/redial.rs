//! Self-healing connectivity on virtual time: redial with back-off below
//! the target, periodic discovery, hello retries.

use std::time::Duration;

use chorus_core::testkit::Fixture;
use libp2p::{Multiaddr, PeerId};

use super::super::*;
use super::support::*;

fn config(target: usize) -> NetConfig {
    let mut c = NetConfig::memory();
    c.limits.target_peers = target;
    c
}

impl Bench {
    /// Connects `p`, announces `listen` as its listen address, and
    /// completes the hello both ways.
    fn member_at(&mut self, p: &TestPeer, listen: u64) {
        self.input(Input::Connected { peer: p.id, address: addr(1) });
        self.input(Input::ListenAddrs { peer: p.id, addrs: vec![addr(listen)] });
        self.input(Input::Hello { peer: p.id, exchange: HelloExchange::Request, outcome: Ok(p.attestation) });
        self.input(Input::Hello { peer: p.id, exchange: HelloExchange::Response, outcome: Ok(p.attestation) });
        assert!(self.service.peer(&p.id).is_some_and(|s| s.is_member()));
    }

    fn disconnect(&mut self, p: &TestPeer) {
        self.input(Input::Disconnected { peer: p.id });
    }
}

/// The peers a batch of outputs redials.
fn redials(out: &[Output]) -> Vec<PeerId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Redial { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect()
}

fn dials(out: &[Output]) -> Vec<Multiaddr> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dial(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn finds(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::FindPeers))
}

fn sends_hello(out: &[Output], peer: PeerId) -> bool {
    out.iter().any(|o| matches!(o, Output::SendHello(p) if *p == peer))
}

/// Ticks every 100 ms from `from` to `to`; a dial fails `fail_after` ms
/// after it starts (`None`: never reported). Returns when `peer` was
/// redialled.
fn redial_times(b: &mut Bench, peer: PeerId, from: u64, to: u64, fail_after: Option<u64>) -> Vec<u64> {
    let mut times = Vec::new();
    let mut failing: Vec<u64> = Vec::new();
    let mut t = from;
    while t <= to {
        b.at(t);
        if failing.first().is_some_and(|f| *f <= t) {
            failing.remove(0);
            b.input(Input::DialFailed { peer: Some(peer), addresses: Vec::new() });
        }
        if redials(&b.tick()).contains(&peer) {
            times.push(t);
            if let Some(after) = fail_after {
                failing.push(t + after);
            }
        }
        t += 100;
    }
    times
}

fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

const CAP_MS: u64 = 6_000 * (100 + REDIAL_JITTER_PERCENT) / 100;

#[test]
fn backoff_constants_keep_the_next_attempt_a_few_seconds_away() {
    assert_eq!(REDIAL_BASE, Duration::from_secs(1));
    assert!(REDIAL_CAP * (100 + REDIAL_JITTER_PERCENT as u32) / 100 <= Duration::from_secs(8));
}

#[test]
fn a_member_that_disconnects_is_redialled_with_growing_capped_jittered_backoff_until_back() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config(4));
    b.member_at(&p, 20);
    // Connected: not redialled.
    assert!(redials(&b.at(1_000).tick()).is_empty());
    b.at(2_000).disconnect(&p);
    let times = redial_times(&mut b, p.id, 2_000, 120_000, Some(50));
    assert_eq!(times[0], 2_000, "the first redial is at once");
    let gaps = gaps(&times);
    // 1 s, 2 s, 4 s, then the 6 s cap, each ±25 % (and a 100 ms tick).
    for (i, (lo, hi)) in [(750, 1_350), (1_500, 2_600), (3_000, 5_100)].into_iter().enumerate() {
        assert!(gaps[i] >= lo && gaps[i] <= hi, "gap {i} is {} ms: {gaps:?}", gaps[i]);
    }
    for g in &gaps[3..] {
        assert!(*g >= 4_500 && *g <= CAP_MS + 100, "a capped gap of {g} ms: {gaps:?}");
    }
    let mut distinct = gaps[3..].to_vec();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 3, "jitter spreads the attempts: {gaps:?}");
    // The dial gets through: the peer is back and its back-off starts over.
    b.at(120_100);
    b.member_at(&p, 20);
    assert!(redial_times(&mut b, p.id, 120_200, 130_000, Some(50)).is_empty());
    b.at(130_100).disconnect(&p);
    let again = redial_times(&mut b, p.id, 130_100, 134_000, Some(50));
    assert_eq!(again[0], 130_100);
    assert!(again[1] - again[0] <= 1_350, "back-off was reset: {again:?}");
}

#[test]
fn a_member_is_redialled_at_all_its_known_addresses() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config(4));
    b.input(Input::Connected { peer: p.id, address: addr(1) });
    b.input(Input::Hello { peer: p.id, exchange: HelloExchange::Request, outcome: Ok(p.attestation) });
    b.input(Input::ListenAddrs { peer: p.id, addrs: vec![addr(20), addr(21)] });
    b.disconnect(&p);
    let out = b.at(100).tick();
    let addresses = out.iter().find_map(|o| match o {
        Output::Redial { peer, addresses } if *peer == p.id => Some(addresses.clone()),
        _ => None,
    });
    assert_eq!(addresses, Some(vec![addr(20), addr(21)]));
}

#[test]
fn redial_stops_at_the_target() {
    let f = Fixture::new(3);
    let (p, q, r) = (test_peer(&f, 1), test_peer(&f, 2), test_peer(&f, 3));
    let mut b = Bench::new(config(2));
    b.member_at(&r, 30);
    b.disconnect(&r);
    b.member_at(&p, 10);
    b.member_at(&q, 20);
    // At the target: the known member r is left alone.
    assert!(redial_times(&mut b, r.id, 100, 60_000, Some(50)).is_empty());
    // Below it again: r and q are dialled, p (connected) is not.
    b.at(60_100).disconnect(&q);
    let out = b.tick();
    let mut dialled = redials(&out);
    dialled.sort();
    let mut expected = vec![q.id, r.id];
    expected.sort();
    assert_eq!(dialled, expected);
    // r is back: at the target, q is not dialled any more.
    b.at(60_200);
    b.member_at(&r, 30);
    assert!(redial_times(&mut b, q.id, 60_300, 90_000, Some(50)).is_empty());
}

#[test]
fn after_a_long_cut_the_next_redial_is_at_most_a_few_seconds_away() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config(4));
    b.member_at(&p, 20);
    b.at(1_000).disconnect(&p);
    // Thirty minutes of dials that time out (a cut: no answer at all).
    let during = redial_times(&mut b, p.id, 1_000, 30 * 60 * 1000, Some(10_000));
    assert!(during.len() > 100);
    // Whenever the cut heals, the next attempt is at most the dial time-out
    // (the dial in flight) and a tick away, and once dials fail at once
    // (refused, or the address answers) at most the capped back-off.
    assert!(gaps(&during).iter().all(|g| *g <= 11_100), "{:?}", gaps(&during));
    let healed = redial_times(&mut b, p.id, 30 * 60 * 1000 + 100, 32 * 60 * 1000, Some(50));
    assert!(healed[0] - 30 * 60 * 1000 <= 11_100);
    assert!(gaps(&healed).iter().all(|g| *g <= CAP_MS + 100), "{:?}", gaps(&healed));
}

#[test]
fn a_dial_in_flight_is_not_repeated_until_it_ends_or_times_out() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut b = Bench::new(config(4));
    b.member_at(&p, 20);
    b.at(1_000).disconnect(&p);
    // No failure is ever reported: the dial is assumed over after the dial
    // time-out (10 s) and a second.
    let times = redial_times(&mut b, p.id, 1_000, 30_000, None);
    assert_eq!(times[..2], [1_000, 12_000]);
    // Discovery does not dial a peer being redialled either.
    let found = b.input(Input::Discovered { peer: p.id, address: addr(20) });
    assert!(!found.iter().any(|o| matches!(o, Output::DialPeer { .. })));
}

#[test]
fn a_member_failing_for_an_hour_is_forgotten_but_bootstrap_peers_never_are() {
    let f = Fixture::new(3);
    let (p, boot) = (test_peer(&f, 1), test_peer(&f, 2));
    let mut c = config(4);
    c.bootstrap = vec![format!("/memory/7/p2p/{}", boot.id).parse().unwrap()];
    let mut b = Bench::new(c);
    b.member_at(&p, 20);
    b.at(1_000).disconnect(&p);
    assert_eq!(b.service.dialer.known(), 2);
    let mut t = 1_000;
    while t <= 3_700_000 {
        b.at(t);
        b.input(Input::DialFailed { peer: Some(p.id), addresses: Vec::new() });
        b.input(Input::DialFailed { peer: Some(boot.id), addresses: Vec::new() });
        b.tick();
        t += 1_000;
    }
    assert_eq!(b.service.dialer.known(), 1, "p forgotten, the bootstrap peer kept");
    assert!(b.service.dialer.next_attempt(&p.id).is_none());
    assert!(redials(&b.at(3_800_000).tick()).contains(&boot.id));
}

#[test]
fn bootstrap_peers_are_redialled_below_the_target_even_with_members() {
    let f = Fixture::new(3);
    let (p, q) = (test_peer(&f, 1), test_peer(&f, 2));
    let mut c = config(2);
    let boot: Multiaddr = format!("/memory/7/p2p/{}", p.id).parse().unwrap();
    c.bootstrap = vec![boot.clone(), addr(8)];
    let mut b = Bench::new(c);
    let first = b.tick();
    assert_eq!(redials(&first), vec![p.id]);
    assert_eq!(dials(&first), vec![addr(8)]);
    assert!(first.iter().any(|o| matches!(o, Output::AddRoutes { peer, .. } if *peer == p.id)));
    assert!(finds(&first));
    // Nothing before the back-off (and the dial) is over.
    assert!(dials(&b.at(700).tick()).is_empty());
    b.input(Input::DialFailed { peer: Some(p.id), addresses: Vec::new() });
    b.input(Input::DialFailed { peer: None, addresses: vec![addr(8)] });
    let second = b.at(1_300).tick();
    assert_eq!((redials(&second), dials(&second)), (vec![p.id], vec![addr(8)]));
    // p is a member, one below the target: the other bootstrap address is
    // still dialled.
    b.at(2_000).member_at(&p, 7);
    b.input(Input::DialFailed { peer: None, addresses: vec![addr(8)] });
    let out = b.at(20_000).tick();
    assert_eq!((redials(&out), dials(&out)), (vec![], vec![addr(8)]));
    // At the target: no more dials.
    b.at(20_100).member_at(&q, 9);
    b.input(Input::DialFailed { peer: None, addresses: vec![addr(8)] });
    assert!(dials(&b.at(60_000).tick()).is_empty());
    assert_eq!(b.service.status().target_peers, 2);
    assert_eq!(b.service.status().verified, 2);
}

#[test]
fn an_address_bootstrap_peer_is_not_dialled_while_connected() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let mut c = config(3);
    c.bootstrap = vec![addr(8)];
    let mut b = Bench::new(c);
    assert_eq!(dials(&b.tick()), vec![addr(8)]);
    // The dial connected: the peer behind the address is known now.
    let at: Multiaddr = format!("/memory/8/p2p/{}", p.id).parse().unwrap();
    b.at(100).input(Input::Connected { peer: p.id, address: at });
    assert!((1..60).all(|s| dials(&b.at(s * 1_000).tick()).is_empty()));
    b.disconnect(&p);
    assert_eq!(dials(&b.at(61_000).tick()), vec![addr(8)]);
}

#[test]
fn discovery_walks_every_thirty_seconds_below_the_target_and_every_five_minutes_at_it() {
    let f = Fixture::new(2);
    let p = test_peer(&f, 1);
    let walks = |b: &mut Bench, from: u64, to: u64| -> Vec<u64> {
        (from / 1_000..=to / 1_000).map(|s| s * 1_000).filter(|t| finds(&b.at(*t).tick())).collect()
    };
    let mut below = Bench::new(config(4));
    assert_eq!(walks(&mut below, 0, 95_000), [0, 30_000, 60_000, 90_000]);
    // A walk that could not start is tried again after 5 s.
    below.input(Input::FindPeersFailed);
    assert_eq!(walks(&mut below, 96_000, 101_000), [100_000]);
    let mut at = Bench::new(config(1));
    at.member_at(&p, 20);
    // The verification walked; the next walks come every 5 min.
    assert_eq!(walks(&mut at, 1_000, 700_000), [300_000, 600_000]);
}

#[test]
fn a_failed_hello_is_sent_again_twice_while_the_peer_has_not_accepted_us() {
    let f = Fixture::new(2);
    let (p, q) = (test_peer(&f, 1), test_peer(&f, 2));
    let mut b = Bench::new(config(4));
    let failed = |b: &mut Bench, peer: PeerId| b.input(Input::HelloFailed { peer, error: "timeout".into() });
    assert!(sends_hello(&b.input(Input::Connected { peer: p.id, address: addr(1) }), p.id));
    assert!(sends_hello(&failed(b.at(3_400), p.id), p.id));
    assert!(sends_hello(&failed(b.at(6_800), p.id), p.id));
    assert!(!sends_hello(&failed(b.at(9_000), p.id), p.id), "two retries at most");
    // A stranger whose time is up is not greeted again.
    b.input(Input::Connected { peer: q.id, address: addr(2) });
    assert!(!sends_hello(&failed(b.at(19_500), q.id), q.id));
    // A member (its hello verified) that has not answered ours is, even
    // after the attestation timeout; once it accepted us, never.
    let mut b = Bench::new(config(4));
    b.input(Input::Connected { peer: p.id, address: addr(1) });
    b.input(Input::Hello { peer: p.id, exchange: HelloExchange::Request, outcome: Ok(p.attestation) });
    assert!(sends_hello(&failed(b.at(30_000), p.id), p.id));
    b.input(Input::Hello { peer: p.id, exchange: HelloExchange::Response, outcome: Ok(p.attestation) });
    assert!(!sends_hello(&failed(b.at(31_000), p.id), p.id));
}
