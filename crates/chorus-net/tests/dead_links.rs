//! Dead connections on the memory transport: a connection that stops
//! carrying anything (a network cut) is closed once no ping was answered
//! for `ping_interval + ping_timeout`, and the nodes redial each other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetConfig, NetworkEvent};

fn config(bootstrap: Vec<chorus_net::Multiaddr>) -> NetConfig {
    let mut c = memory_config(bootstrap);
    // Short enough that the test is quick, long enough that a loaded
    // machine does not close a healthy connection.
    c.ping_interval = Duration::from_millis(500);
    c.ping_timeout = Duration::from_millis(1500);
    c.limits.target_peers = 1;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_pings_fail_is_closed_and_the_peer_redialled() {
    let f = Fixture::new(2);
    let a = start(config(vec![]), identity(&f, 40, 0), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    let mut b =
        start(config(vec![a.addr.clone()]), identity(&f, 41, 1), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    let a_id = a.handle.peer_id();
    next_event(&mut b.events, |e| matches!(e, NetworkEvent::PeerVerified { peer, .. } if *peer == a_id).then_some(()))
        .await;

    let cut = Instant::now();
    cut_memory_connections(&a_id);
    next_event(&mut b.events, |e| matches!(e, NetworkEvent::PeerDisconnected { peer } if *peer == a_id).then_some(()))
        .await;
    let noticed = cut.elapsed();
    // The link works again for new connections: b redials a (its
    // bootstrap peer and a known member) and both verify again. How soon
    // is printed, not asserted: the rule's timing is checked on virtual
    // time in event_loop/liveness.rs, and speed belongs to benchmarks.
    next_event(&mut b.events, |e| matches!(e, NetworkEvent::PeerVerified { peer, .. } if *peer == a_id).then_some(()))
        .await;
    let back = cut.elapsed();
    let h = b.handle.clone();
    wait_for("b counts a as its one member peer, at its target", || {
        let h = h.clone();
        async move { h.status().await.is_ok_and(|s| (s.verified, s.target_peers) == (1, 1)) }
    })
    .await;
    println!("dead connection closed {noticed:?} after the cut, peer verified again {back:?} after it");
    a.handle.shutdown().await.unwrap();
    b.handle.shutdown().await.unwrap();
}
