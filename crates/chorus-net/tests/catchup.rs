//! Catch-up by reconciliation: a late joiner, a partition that heals, and a
//! node that restarts from its store.

use std::collections::BTreeSet;
use std::sync::Arc;

use chorus_core::testkit::Fixture;
use chorus_core::ObjectId;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, ObjectStore, SyncReport};

async fn next_sync(node: &mut Node) -> SyncReport {
    next_event(&mut node.events, |e| match e {
        NetworkEvent::SyncFinished(r) => Some(r.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_catches_up_ten_thousand_objects_then_syncs_for_a_constant() {
    let f = Fixture::new(4);
    let objects = proposals(&f, "Backlog", 10_000, 10);
    let a_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&a_store, &objects);
    let mut config = memory_config(vec![]);
    config.sync_interval = std::time::Duration::from_secs(3600); // only the syncs this test asks for
    let a = start(config.clone(), identity(&f, 0, 0), a_store.clone()).await;

    config.bootstrap = vec![a.addr.clone()];
    let b_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut b = start(config, identity(&f, 1, 1), b_store.clone()).await;
    let first = next_sync(&mut b).await;
    assert_eq!(first.error, None);
    assert_eq!(first.missing, 10_000);
    assert_eq!(first.stored, 10_000);
    assert_eq!(b_store.ids(), a_store.ids());
    assert_eq!(b_store.digest(), a_store.digest());
    let overhead = first.bytes_sent + first.bytes_received - first.object_bytes;
    println!(
        "catch-up of 10,000: {} round trips, {} B sent, {} B received, {} B of objects, {} B overhead",
        first.round_trips, first.bytes_sent, first.bytes_received, first.object_bytes, overhead
    );
    // Ranges b lacks are answered with the objects themselves: no id of a
    // missing object crosses, so what is not object bytes is splits, bounds
    // and a few bytes of framing per object.
    assert!(overhead < 100_000, "overhead {overhead}");

    // Nothing missing: one round trip of a few dozen bytes.
    assert_eq!(b.handle.sync_now().await.unwrap(), 1);
    let second = next_sync(&mut b).await;
    assert_eq!(second.error, None);
    assert_eq!(second.missing, 0);
    assert_eq!(second.round_trips, 1);
    let bytes = second.bytes_sent + second.bytes_received;
    println!("second reconciliation: {} round trips, {bytes} B", second.round_trips);
    assert!(bytes < 100, "a reconciliation with nothing missing moved {bytes} bytes");
    a.handle.shutdown().await.unwrap();
    b.handle.shutdown().await.unwrap();
}

fn set_digest(store: &MemoryStore) -> (BTreeSet<ObjectId>, [u8; 32]) {
    (store.ids(), store.digest())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_and_heal_converge_to_one_set() {
    let f = Fixture::new(6);
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..6u32 {
        // Two halves: 0-1-2 and 3-4-5, each bootstrapping inside its half.
        let bootstrap = if i % 3 == 0 { vec![] } else { vec![nodes[(i - 1) as usize].addr.clone()] };
        let mut config = memory_config(bootstrap);
        config.kademlia = false; // keep the halves apart until we heal them
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        nodes.push(start(config, identity(&f, i, i as usize), store).await);
    }
    // Each half creates objects on its own.
    let left = proposals(&f, "Left", 30, 1_000);
    let right = proposals(&f, "Right", 40, 2_000);
    for (k, p) in left.iter().enumerate() {
        let n = &nodes[k % 3];
        store_all(&n.store, std::slice::from_ref(p));
        n.handle.publish(p.bytes().to_vec()).await.unwrap();
    }
    for (k, p) in right.iter().enumerate() {
        let n = &nodes[3 + k % 3];
        store_all(&n.store, std::slice::from_ref(p));
        n.handle.publish(p.bytes().to_vec()).await.unwrap();
    }
    wait_for("each half converges internally", || async {
        nodes[..3].iter().all(|n| left.iter().all(|p| n.store.contains(&p.id())))
            && nodes[3..].iter().all(|n| right.iter().all(|p| n.store.contains(&p.id())))
    })
    .await;
    assert!(nodes[..3].iter().all(|n| right.iter().all(|p| !n.store.contains(&p.id()))), "halves were apart");

    // Heal: one link between the halves.
    nodes[2].handle.dial(nodes[3].addr.clone()).await.unwrap();
    wait_for("every node holds the identical set", || async {
        let first = set_digest(&nodes[0].store);
        first.0.len() == 1 + 70 && nodes.iter().all(|n| set_digest(&n.store) == first)
    })
    .await;
    for n in &nodes {
        n.handle.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_resumes_from_its_store_and_catches_up() {
    let f = Fixture::new(3);
    let a_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let a = start(memory_config(vec![]), identity(&f, 0, 0), a_store.clone()).await;
    let b_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let b = start(memory_config(vec![a.addr.clone()]), identity(&f, 1, 1), b_store.clone()).await;
    let before = proposals(&f, "Before", 50, 10);
    store_all(&a_store, &before);
    wait_for("b holds what a had", || async { before.iter().all(|p| b_store.contains(&p.id())) }).await;

    // b stops; a keeps working.
    b.handle.shutdown().await.unwrap();
    let during = proposals(&f, "During", 50, 100);
    for p in &during {
        store_all(&a_store, std::slice::from_ref(p));
        a.handle.publish(p.bytes().to_vec()).await.unwrap();
    }
    assert!(during.iter().all(|p| !b_store.contains(&p.id())));

    // b restarts with the same key and the same store: it keeps what it had
    // and fetches only what it missed.
    let held = b_store.sync_items().unwrap().len();
    assert_eq!(held, 1 + 50);
    let mut b = start(memory_config(vec![a.addr.clone()]), identity(&f, 1, 1), b_store.clone()).await;
    let report = next_event(&mut b.events, |e| match e {
        NetworkEvent::SyncFinished(r) if r.missing > 0 => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(report.missing, 50, "only the objects created while it was down");
    wait_for("b catches up", || async { b_store.ids() == a_store.ids() }).await;
    a.handle.shutdown().await.unwrap();
    b.handle.shutdown().await.unwrap();
}
