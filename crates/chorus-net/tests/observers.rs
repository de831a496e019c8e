//! Observers over the memory transport (PROTOCOL.md 14.9): a node run with
//! `NodeIdentity::observer` follows a coalition of member nodes as its
//! charter allows, is never a member to them, and stores nothing on them.

use std::sync::Arc;
use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_core::{AdoptionRule, Charter, ObserverAccess, Stance};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, NodeIdentity, ObjectStore, Via};

fn fixture(access: ObserverAccess) -> Fixture {
    let mut charter = Charter::with_positions(AdoptionRule::default());
    charter.observers = access;
    Fixture::with_charter(3, charter, |_| Default::default())
}

/// Two member nodes of `f` in one mesh, with a short hello timeout.
async fn members(f: &Fixture) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..2u32 {
        let mut c = memory_config(nodes.iter().map(|n| n.addr.clone()).collect());
        c.limits.attestation_timeout = Duration::from_secs(2);
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        nodes.push(start(c, identity(f, i, i as usize), store).await);
    }
    for node in &nodes {
        let h = node.handle.clone();
        wait_for("the members verify each other", || {
            let h = h.clone();
            async move { h.status().await.map(|s| s.verified >= 1 && s.mesh_peers >= 1).unwrap_or(false) }
        })
        .await;
    }
    nodes
}

async fn observer(f: &Fixture, bootstrap: &Node) -> Node {
    let c = memory_config(vec![bootstrap.addr.clone()]);
    start(c, NodeIdentity::observer(node_key(90)), Arc::new(MemoryStore::new(f.coalition.clone()))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_everything_an_observer_gets_the_back_catalogue_and_new_gossip_and_is_no_member() {
    let f = fixture(ObserverAccess::Everything);
    let nodes = members(&f).await;
    let old = proposals(&f, "Before the observer", 3, 1);
    for n in &nodes {
        store_all(&n.store, &old);
    }
    let mut obs = observer(&f, &nodes[0]).await;
    let o = obs.handle.peer_id();
    wait_for("the observer holds the back catalogue by sync", || async {
        old.iter().all(|e| obs.store.contains(&e.id()))
    })
    .await;
    let h = nodes[0].handle.clone();
    wait_for("the member lists the observer as an observer", || {
        let h = h.clone();
        async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == o && p.observer && p.trust.is_none()) }
    })
    .await;
    // Past the 2 s hello timeout of strangers: still connected, never a member.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = nodes[0].handle.status().await.expect("status");
    assert_eq!((status.verified, status.observers, status.peers_banned), (1, 1, 0), "{status:?}");
    assert_eq!(status.mesh_peers, 1, "an observer took a place in a member's mesh: {status:?}");

    // Under Everything the DHT tells it the other member's address.
    let h = obs.handle.clone();
    wait_for("the observer finds the second member through the DHT", || {
        let h = h.clone();
        async move { h.status().await.map(|s| s.connected >= 2).unwrap_or(false) }
    })
    .await;

    // A new object from the other member reaches the observer by gossip.
    let new = f.proposal(1, "After the observer", 50, None);
    store_all(&nodes[1].store, std::slice::from_ref(&new));
    nodes[1].handle.publish(new.bytes().to_vec()).await.expect("publish");
    let via = next_event(&mut obs.events, |e| match e {
        NetworkEvent::ObjectStored { id, via, .. } if *id == new.id() => Some(*via),
        _ => None,
    })
    .await;
    assert_eq!(via, Via::Gossip);

    // What the observer publishes is stored on no member node.
    let mine = f.proposal(2, "Published by the observer", 60, None);
    let _ = obs.handle.publish(mine.bytes().to_vec()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(nodes.iter().all(|n| !n.store.contains(&mine.id())), "an observer got an object stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_positions_an_observer_syncs_positions_only_and_gets_no_gossip() {
    let f = fixture(ObserverAccess::Positions);
    let nodes = members(&f).await;
    let adopted = f.proposal(0, "Adopted", 1, None);
    let mut objects = vec![adopted.clone()];
    objects.extend((0..3).map(|i| f.endorsement(i, adopted.id(), Stance::Endorse, 2)));
    let draft = f.proposal(1, "Not adopted", 3, None);
    objects.push(draft.clone());
    for n in &nodes {
        store_all(&n.store, &objects);
        assert!(n.store.is_adopted(&adopted.id()));
    }
    let obs = observer(&f, &nodes[0]).await;
    wait_for("the observer holds the position by sync", || async { obs.store.contains(&adopted.id()) }).await;
    // Gossip is not sent to it, and sync serves it positions only.
    let new = f.proposal(2, "Gossiped", 50, None);
    store_all(&nodes[0].store, std::slice::from_ref(&new));
    nodes[0].handle.publish(new.bytes().to_vec()).await.expect("publish");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!obs.store.contains(&draft.id()), "a draft was served to an observer under Positions");
    assert!(!obs.store.contains(&new.id()), "gossip reached an observer under Positions");
    let status = nodes[0].handle.status().await.expect("status");
    assert_eq!((status.verified, status.observers), (1, 1), "{status:?}");
    // The DHT told it no member address: it knows only its bootstrap peer.
    let status = obs.handle.status().await.expect("status");
    assert_eq!(status.connected, 1, "an observer learned a member's address under Positions: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coalition_without_observers_refuses_them_without_a_ban() {
    let f = fixture(ObserverAccess::None);
    let nodes = members(&f).await;
    store_all(&nodes[0].store, &proposals(&f, "Private", 2, 1));
    let obs = observer(&f, &nodes[0]).await;
    let o = obs.handle.peer_id();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let peers = nodes[0].handle.peers().await.expect("peers");
    assert!(peers.iter().all(|p| p.peer != o || !p.observer), "{peers:?}");
    let status = nodes[0].handle.status().await.expect("status");
    assert_eq!((status.observers, status.peers_banned), (0, 0), "{status:?}");
    assert_eq!(obs.store.len(), 1, "the refused observer holds only the genesis");
}

/// Under Everything an observer connected to one member only still gets,
/// at gossip speed, an object another member published: the member it is
/// connected to announces it (`IHAVE`) though the observer is not in its
/// mesh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_everything_a_member_passes_on_gossip_to_an_observer_outside_its_mesh() {
    let f = fixture(ObserverAccess::Everything);
    let nodes = members(&f).await;
    let mut c = memory_config(vec![nodes[0].addr.clone()]);
    c.kademlia = false;
    let mut obs = start(c, NodeIdentity::observer(node_key(91)), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    let o = obs.handle.peer_id();
    let h = nodes[0].handle.clone();
    wait_for("the member admits the observer", || {
        let h = h.clone();
        async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == o && p.observer) }
    })
    .await;
    let started = std::time::Instant::now();
    let new = f.proposal(1, "Passed on", 50, None);
    store_all(&nodes[1].store, std::slice::from_ref(&new));
    nodes[1].handle.publish(new.bytes().to_vec()).await.expect("publish");
    let via = next_event(&mut obs.events, |e| match e {
        NetworkEvent::ObjectStored { id, via, .. } if *id == new.id() => Some(*via),
        _ => None,
    })
    .await;
    assert_eq!(via, Via::Gossip);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(obs.handle.status().await.expect("status").connected, 1);
}
