//! Five in-process nodes on the memory transport: membership, gossip
//! delivery to every node, and publishing with no peers.

use std::sync::Arc;

use chorus_core::testkit::Fixture;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, PublishOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_all_store_an_object_created_at_one() {
    let f = Fixture::new(5);
    // A chain: node i knows only node i-1, so delivery to the far end
    // needs forwarding (and Kademlia may add more links).
    let nodes = start_chain(&f, 5).await;
    let p = f.proposal(2, "Gossiped", 1, None);
    store_all(&nodes[0].store, std::slice::from_ref(&p));
    let outcome = nodes[0].handle.publish(p.bytes().to_vec()).await.unwrap();
    assert_eq!(outcome, PublishOutcome::Sent { id: p.id() });
    wait_for("all five nodes store the object", || async { all_hold(&nodes, &p.id()) }).await;
    let digests: Vec<[u8; 32]> = nodes.iter().map(|n| n.store.digest()).collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    // Publishing the same object again is recognised, not an error.
    let again = nodes[0].handle.publish(p.bytes().to_vec()).await.unwrap();
    assert_eq!(again, PublishOutcome::AlreadyKnown { id: p.id() });
    for n in &nodes {
        n.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_alone_defers_to_sync() {
    let f = Fixture::new(2);
    let a_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let a = start(memory_config(vec![]), identity(&f, 0, 0), a_store).await;
    let p = f.proposal(0, "Lonely", 1, None);
    store_all(&a.store, std::slice::from_ref(&p));
    let outcome = a.handle.publish(p.bytes().to_vec()).await.unwrap();
    assert_eq!(outcome, PublishOutcome::Deferred { id: p.id() });
    // A peer that appears later gets it by catch-up.
    let b_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let b = start(memory_config(vec![a.addr.clone()]), identity(&f, 1, 1), b_store).await;
    wait_for("the late peer holds the deferred object", || async { b.store.contains(&p.id()) }).await;
    // Garbage is refused by publish with a clear error.
    let err = a.handle.publish(b"not an envelope".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("cannot publish"), "{err}");
    a.handle.shutdown().await.unwrap();
    b.handle.shutdown().await.unwrap();
}
