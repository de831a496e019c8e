//! Catch-up without duplicates: a node that missed N objects and connects
//! to several peers holding them downloads them once, not once per peer.
//!
//! `cargo test -p chorus-net --test catchup_once -- --nocapture` prints the
//! bytes received with 1 and with 4 peers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, SyncReport};

/// Objects every node holds before the returning node went away.
const BASE: usize = 50;
/// Objects created while it was away.
const MISSED: usize = 200;

/// What the returning node received.
struct Figures {
    /// Object bytes received over every sync session.
    object_bytes: u64,
    /// Bytes of the objects it lacked.
    missing_bytes: u64,
    /// The objects it lacked.
    missing: usize,
    /// Gossip messages received (none are published here).
    gossip: u64,
    /// Sessions, one per peer.
    reports: Vec<SyncReport>,
    /// From its start until it held every object.
    elapsed: Duration,
    /// From its start until its session with every peer ended.
    all_sessions: Duration,
}

/// `peers` nodes hold `BASE + MISSED` objects, each also `own` objects no
/// other node holds; a returning node holding only `BASE` connects to all
/// of them and catches up.
async fn return_to(peers: usize, own: usize) -> Figures {
    let f = Fixture::new(peers as u32 + 1);
    let base = proposals(&f, "Before", BASE, 10);
    let shared = proposals(&f, "While away", MISSED, 10_000);
    let owns: Vec<_> = (0..peers).map(|i| proposals(&f, &format!("Only on {i}"), own, 10_050 + 7 * i as u64)).collect();
    let missed: Vec<_> = shared.iter().chain(owns.iter().flatten()).cloned().collect();
    let quiet = || {
        let mut c = memory_config(vec![]);
        // Only the syncs on connect: no periodic rounds, no discovery.
        c.sync_interval = Duration::from_secs(3600);
        c.kademlia = false;
        c
    };
    let mut holders = Vec::new();
    for (i, theirs) in owns.iter().enumerate() {
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        store_all(&store, &base);
        store_all(&store, &shared);
        store_all(&store, theirs);
        holders.push(start(quiet(), identity(&f, i as u32, i), store).await);
    }
    let store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&store, &base);
    let mut config = quiet();
    config.bootstrap = holders.iter().map(|n| n.addr.clone()).collect();
    let began = Instant::now();
    let mut returning = start(config, identity(&f, peers as u32, peers), store.clone()).await;

    // One session per peer, each ending once its peer answered our hello.
    let mut reports = Vec::new();
    let mut elapsed = None;
    while reports.len() < peers {
        let report = next_event(&mut returning.events, |e| match e {
            NetworkEvent::SyncFinished(r) => Some(r.clone()),
            _ => None,
        })
        .await;
        assert_eq!(report.error, None, "session with {:?}", report.peer);
        reports.push(report);
        if elapsed.is_none() && missed.iter().all(|e| store.contains(&e.id())) {
            elapsed = Some(began.elapsed());
        }
    }
    let all_sessions = began.elapsed();
    let elapsed = elapsed.expect("every missed object held after the sessions");
    let mut distinct: Vec<_> = reports.iter().map(|r| r.peer).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), peers, "one session with each peer");
    assert_eq!(store.ids().len(), BASE + 1 + missed.len(), "the genesis, the base and every missed object");
    let status = returning.handle.status().await.expect("status");
    for n in holders.into_iter().chain([returning]) {
        n.handle.shutdown().await.unwrap();
    }
    Figures {
        object_bytes: reports.iter().map(|r| r.object_bytes).sum(),
        missing_bytes: missed.iter().map(|e| e.bytes().len() as u64).sum(),
        missing: missed.len(),
        gossip: status.gossip_received,
        reports,
        elapsed,
        all_sessions,
    }
}

fn check(peers: usize, f: &Figures) -> f64 {
    let ratio = f.object_bytes as f64 / f.missing_bytes as f64;
    let sessions: Vec<String> = f
        .reports
        .iter()
        .map(|r| format!("{} objects / {} B / {} round trips", r.received, r.object_bytes, r.round_trips))
        .collect();
    println!(
        "{peers} peer(s): {} B of objects received for {} B missing ({} objects), ratio {ratio:.3}, \
         {} gossip messages, caught up in {} ms, all sessions done in {} ms; sessions in order: {}",
        f.object_bytes,
        f.missing_bytes,
        f.missing,
        f.gossip,
        f.elapsed.as_millis(),
        f.all_sessions.as_millis(),
        sessions.join(", ")
    );
    assert_eq!(f.gossip, 0, "nothing was published: every object came by sync");
    assert!(ratio <= 1.2, "{peers} peer(s): received {ratio:.3} times the missing bytes");
    ratio
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_node_downloads_what_it_missed_once_from_one_peer_or_four() {
    let one = return_to(1, 0).await;
    check(1, &one);
    let four = return_to(4, 0).await;
    check(4, &four);
    // The first session carried everything; the others found equal
    // fingerprints.
    assert!(four.reports[1..].iter().all(|r| r.object_bytes == 0 && r.received == 0));
    println!(
        "4 peers / 1 peer: {:.3} times the bytes, {:.2} times the time",
        four.object_bytes as f64 / one.object_bytes as f64,
        four.elapsed.as_secs_f64() / one.elapsed.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_only_one_peer_holds_arrive_once_too() {
    let f = return_to(4, 10).await;
    check(4, &f);
    // The first session brings the shared objects and its peer's own; each
    // later one only what its peer alone holds.
    assert_eq!(f.reports[0].received, MISSED + 10);
    assert!(f.reports[1..].iter().all(|r| r.received == 10));
}
