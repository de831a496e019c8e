//! Objects of the reserved kinds (PROTOCOL.md 3.4) cross the network like
//! any other: gossip forwards them along a chain of nodes, catch-up brings
//! them to a late peer, and a second sync finds nothing missing, so a node
//! that does not define a kind does not fetch its objects again at every
//! round.

use std::sync::Arc;

use chorus_core::testkit::Fixture;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, PublishOutcome, SyncReport};

/// Kind 11 (`ballot`), which this version keeps as an opaque object.
const BALLOT: i32 = 11;

async fn sync_report(node: &mut Node) -> SyncReport {
    next_event(&mut node.events, |e| match e {
        NetworkEvent::SyncFinished(r) if r.error.is_none() => Some(r.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_objects_are_gossiped_synced_and_not_fetched_again() {
    let f = Fixture::new(3);
    // A chain, so the far end needs the middle node to forward.
    let nodes = start_chain(&f, 3).await;

    // Gossip: published at one end, stored at the other.
    let gossiped = f.opaque(BALLOT, &f.keys[0], 1, b"a ballot of a later version");
    store_all(&nodes[0].store, std::slice::from_ref(&gossiped));
    let outcome = nodes[0].handle.publish(gossiped.bytes().to_vec()).await.unwrap();
    assert_eq!(outcome, PublishOutcome::Sent { id: gossiped.id() });
    wait_for("all three nodes store the opaque object", || async { all_hold(&nodes, &gossiped.id()) }).await;

    // Catch-up: a late node gets an opaque object it never saw gossiped.
    let synced = f.opaque(12, &f.keys[1], 2, b"a roster head of a later version");
    for n in &nodes {
        store_all(&n.store, std::slice::from_ref(&synced));
    }
    let late_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut late = start(memory_config(vec![nodes[2].addr.clone()]), identity(&f, 3, 2), late_store).await;
    let catch_up = next_event(&mut late.events, |e| match e {
        NetworkEvent::SyncFinished(r) if r.error.is_none() && r.missing > 0 => Some(r.clone()),
        _ => None,
    })
    .await;
    assert!(catch_up.stored >= 1, "{catch_up:?}");
    wait_for("the late node holds both opaque objects", || async {
        late.store.contains(&gossiped.id()) && late.store.contains(&synced.id())
    })
    .await;

    // Nothing is fetched again: the next session finds the sets equal.
    late.handle.sync_now().await.unwrap();
    let again = sync_report(&mut late).await;
    assert_eq!(again.missing, 0, "{again:?}");
    assert_eq!(again.object_bytes, 0, "{again:?}");

    late.handle.shutdown().await.unwrap();
    for n in &nodes {
        n.handle.shutdown().await.unwrap();
    }
}
