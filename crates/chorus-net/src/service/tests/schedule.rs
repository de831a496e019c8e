//! Sync scheduling on virtual time: one initiated session at a time, the
//! queue of peers waiting for their turn, the time bound, and that serving
//! others is not held up (see `schedule.rs`).

use std::time::Duration;

use chorus_core::testkit::Fixture;
use libp2p::PeerId;

use super::super::*;
use super::support::*;

const TIMEOUT: Duration = Duration::from_secs(120);

struct Node {
    service: Service,
    now: Millis,
    peers: Vec<PeerId>,
    attestations: Vec<VerifiedAttestation>,
}

impl Node {
    /// A node and `n` member peers, not yet connected.
    fn new(n: u8) -> Self {
        let f = Fixture::new(3);
        let mut c = NetConfig::memory();
        c.sync_interval = Duration::from_secs(30);
        c.limits.sync_session_timeout = TIMEOUT;
        let (peers, attestations) = (1..=n).map(|i| test_peer(&f, i)).map(|p| (p.id, p.attestation)).unzip();
        Node { service: Service::new(PeerId::random(), &c, Millis::ZERO), now: Millis::ZERO, peers, attestations }
    }

    fn at(&mut self, ms: u64) -> &mut Self {
        assert!(Millis(ms) >= self.now, "time runs forward");
        self.now = Millis(ms);
        self
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.service.handle(input, self.now)
    }

    /// Connects peer `i` and completes the hello both ways; the outputs of
    /// its answer to our hello (where an on-connect sync starts).
    fn join(&mut self, i: usize) -> Vec<Output> {
        let (peer, outcome) = (self.peers[i], Ok(self.attestations[i]));
        let address: Multiaddr = "/memory/1".parse().expect("memory address");
        self.input(Input::Connected { peer, address });
        self.input(Input::Hello { peer, exchange: HelloExchange::Request, outcome: outcome.clone() });
        self.input(Input::Hello { peer, exchange: HelloExchange::Response, outcome })
    }

    fn end(&mut self, i: usize, failure: Option<SyncFailure>) -> Vec<Output> {
        let peer = self.peers[i];
        self.input(Input::SyncEnded { peer, report: SyncReport::default(), failure })
    }
}

fn finished(outputs: &[Output]) -> Option<SyncReport> {
    outputs.iter().find_map(|o| match o {
        Output::Emit(NetworkEvent::SyncFinished(r)) => Some(r.clone()),
        _ => None,
    })
}

#[test]
fn peers_answering_our_hello_sync_one_at_a_time_first_come_first_served() {
    let mut n = Node::new(4);
    // Peers answer in the order 2, 0, 3, 1; the first starts at once.
    assert_eq!(syncs_started(&n.join(2)), vec![n.peers[2]]);
    for i in [0, 3, 1] {
        assert!(syncs_started(&n.join(i)).is_empty(), "peer {i} waits its turn");
    }
    assert_eq!((n.service.syncing(), n.service.sync_pending()), (1, 4));
    // Each end starts the next in the order they came, at once.
    let mut t = 0;
    for (ending, next) in [(2, Some(0)), (0, Some(3)), (3, Some(1)), (1, None)] {
        t += 300;
        let out = n.at(t).end(ending, None);
        assert!(finished(&out).is_some_and(|r| r.error.is_none()));
        assert_eq!(syncs_started(&out), next.map(|i| n.peers[i]).into_iter().collect::<Vec<_>>());
    }
    assert_eq!(n.service.sync_pending(), 0);
    assert_eq!(n.service.status().syncs_completed, 4);
}

#[test]
fn a_failed_session_lets_the_next_peer_run_at_once_and_is_not_queued_again() {
    let mut n = Node::new(3);
    for i in 0..3 {
        n.join(i);
    }
    let out = n.at(10_000).end(0, Some(SyncFailure::Request("timeout".into())));
    assert!(finished(&out).is_some_and(|r| r.error.is_some()));
    assert_eq!(syncs_started(&out), vec![n.peers[1]]);
    // A bad response is a strike, and the next peer still runs.
    let out = n.at(10_100).end(1, Some(SyncFailure::Response(SyncError::BadBound { len: 33 })));
    assert_eq!(syncs_started(&out), vec![n.peers[2]]);
    assert_eq!(n.service.peer(&n.peers[1]).unwrap().strikes(), 1);
    assert!(syncs_started(&n.at(10_200).end(2, None)).is_empty(), "failed peers are not queued again");
}

#[test]
fn a_session_past_its_time_bound_is_ended_and_the_queue_moves_on() {
    let mut n = Node::new(2);
    n.join(0);
    n.join(1);
    let bound = TIMEOUT.as_millis() as u64;
    assert!(!n.at(bound - 1).input(Input::Tick).iter().any(|o| matches!(o, Output::AbortSync(_))));
    let out = n.at(bound).input(Input::Tick);
    assert!(out.iter().any(|o| matches!(o, Output::AbortSync(p) if *p == n.peers[0])));
    // Asked once; the caller's abort path reports it ended.
    assert!(!n.at(bound + 1_000).input(Input::Tick).iter().any(|o| matches!(o, Output::AbortSync(_))));
    let out = n.end(0, Some(SyncFailure::Disconnected));
    let report = finished(&out).expect("a report");
    assert_eq!(report.error, Some(SyncFailure::TimedOut(TIMEOUT).to_string()));
    assert_eq!(syncs_started(&out), vec![n.peers[1]]);
    // Not the slow peer's fault beyond a failure: no strike, a back-off.
    let slow = n.service.peer(&n.peers[0]).unwrap();
    assert_eq!((slow.strikes(), slow.sync_failures), (0, 1));
    // The next session has its own bound, counted from its start.
    assert!(!n.at(2 * bound).input(Input::Tick).iter().any(|o| matches!(o, Output::AbortSync(_))));
    let out = n.at(2 * bound + 1_000).input(Input::Tick);
    assert!(out.iter().any(|o| matches!(o, Output::AbortSync(p) if *p == n.peers[1])));
}

#[test]
fn a_waiting_peer_that_left_is_skipped_and_a_disconnect_of_the_running_one_moves_on() {
    let mut n = Node::new(3);
    for i in 0..3 {
        n.join(i);
    }
    n.input(Input::Disconnected { peer: n.peers[1] });
    let peer = n.peers[0];
    let out = n.at(500).input(Input::Disconnected { peer });
    assert!(out.iter().any(|o| matches!(o, Output::AbortSync(p) if *p == n.peers[0])));
    let out = n.end(0, Some(SyncFailure::Disconnected));
    assert_eq!(syncs_started(&out), vec![n.peers[2]], "peer 1 left while waiting");
    assert_eq!(n.service.sync_pending(), 1);
}

#[test]
fn rounds_and_sync_now_queue_behind_the_running_session() {
    let mut n = Node::new(3);
    n.join(0);
    // A long catch-up with peer 0 runs while 1 and 2 connect and wait.
    n.join(1);
    n.join(2);
    // SyncNow adds nobody twice and starts nothing while a session runs.
    assert!(syncs_started(&n.input(Input::SyncNow)).is_empty());
    assert_eq!(n.service.sync_pending(), 3);
    // The queue drains.
    n.at(1_000).end(0, None);
    n.at(1_100).end(1, None);
    n.at(1_200).end(2, None);
    // The round due at 30 s starts its peer at once on an idle node...
    let first = syncs_started(&n.at(30_000).input(Input::Tick));
    assert_eq!(first.len(), 1);
    // ...SyncNow then queues the two others behind it...
    assert!(syncs_started(&n.input(Input::SyncNow)).is_empty());
    assert_eq!(n.service.sync_pending(), 3);
    // ...and the next round, due while they wait, picks nobody new.
    let i = n.peers.iter().position(|p| *p == first[0]).unwrap();
    assert!(syncs_started(&n.at(60_000).input(Input::Tick)).is_empty());
    assert_eq!(n.service.sync_pending(), 3);
    let out = n.at(60_100).end(i, None);
    assert_eq!(syncs_started(&out).len(), 1);
    assert_ne!(syncs_started(&out)[0], first[0]);
}

#[test]
fn serving_others_is_not_held_up_by_the_running_session() {
    let mut n = Node::new(3);
    for i in 0..3 {
        n.join(i);
    }
    assert_eq!(n.service.syncing(), 1);
    for peer in n.peers.clone() {
        let out = n.input(Input::SyncRequested { peer, can_serve: true });
        assert!(out.iter().any(|o| matches!(o, Output::ServeSync(p) if *p == peer)));
    }
}
