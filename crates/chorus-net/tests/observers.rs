//! Observers over the memory transport (PROTOCOL.md 14.9): a node run with
//! `NodeIdentity::observer` follows a coalition of member nodes as its
//! charter allows, is never a member to them, and stores nothing on them.

use std::sync::Arc;
use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_core::{AdoptionRule, Charter, ObserverAccess, Stance};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, NodeIdentity, ObjectStore, PublishOutcome, Via};

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
    // No periodic sync round within the test: the object can only come by
    // gossip (a round every 0.7 s sometimes fetched it first under load).
    c.sync_interval = Duration::from_secs(600);
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

/// A valid proposal by member `author` of `f` whose envelope is larger than
/// gossipsub's IDONTWANT size threshold (1,000 bytes by default).
fn large_proposal(f: &Fixture, author: usize, title: &str) -> chorus_core::Envelope {
    let small = f.proposal(author, title, 70, None);
    let mut p = chorus_core::Proposal::from_body(small.body()).expect("fixture proposal");
    p.body = format!("{title}: {}", "We resolve to agree. ".repeat(200));
    let env = chorus_core::Envelope::sign(chorus_core::Kind::Proposal, p.to_body(), &[&f.keys[author]]);
    assert!(env.bytes().len() > 2_000);
    env
}

/// Under Everything an observer that gossips a valid object first (members
/// drop its copy unread) delays neither the member's own copy nor its
/// forwarding: in a chain M0 - M1 - M2 with the observer on M2 only, the
/// object M0 publishes reaches M2 by gossip (forwarded by M1), though the
/// observer sent M2 the identical bytes just before. Sync is too slow here
/// to bring it in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observers_copy_does_not_stall_a_members_copy() {
    let f = fixture(ObserverAccess::Everything);
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..3u32 {
        let mut c = memory_config(nodes.last().map(|n: &Node| vec![n.addr.clone()]).unwrap_or_default());
        c.kademlia = false;
        c.sync_interval = Duration::from_secs(600);
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        nodes.push(start(c, identity(&f, i, i as usize), store).await);
    }
    for node in &nodes {
        let h = node.handle.clone();
        wait_for("every member has a verified peer in its mesh", || {
            let h = h.clone();
            async move { h.status().await.map(|s| s.verified >= 1 && s.mesh_peers >= 1).unwrap_or(false) }
        })
        .await;
    }
    let mut c = memory_config(vec![nodes[2].addr.clone()]);
    c.kademlia = false;
    let obs = start(c, NodeIdentity::observer(node_key(92)), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    let o = obs.handle.peer_id();
    let h = nodes[2].handle.clone();
    wait_for("the member admits the observer", || {
        let h = h.clone();
        async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == o && p.observer) }
    })
    .await;
    // Let the observer learn the member's subscription before it publishes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let object = large_proposal(&f, 0, "Gossiped first by an observer");
    let sent = obs.handle.publish(object.bytes().to_vec()).await.expect("the observer publishes");
    assert!(matches!(sent, PublishOutcome::Sent { .. }), "the observer's copy was not sent: {sent:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!nodes[2].store.contains(&object.id()), "a member stored an observer's gossip");

    let started = std::time::Instant::now();
    store_all(&nodes[0].store, std::slice::from_ref(&object));
    nodes[0].handle.publish(object.bytes().to_vec()).await.expect("publish");
    let (from, via) = next_event(&mut nodes[2].events, |e| match e {
        NetworkEvent::ObjectStored { id, from, via, .. } if *id == object.id() => Some((*from, *via)),
        _ => None,
    })
    .await;
    assert_eq!((from, via), (nodes[1].handle.peer_id(), Via::Gossip));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(nodes[2].handle.status().await.expect("status").peers_banned, 0);
}

/// An observer that leaves and comes back with the same key is a stranger
/// again until its new hello (a member does not keep ignoring it from the
/// connection on): the member tells it its subscription, admits it again,
/// still stores nothing it publishes, and sends it new objects by gossip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_that_comes_back_is_admitted_and_served_again() {
    let f = fixture(ObserverAccess::Everything);
    let nodes = members(&f).await;
    let admitted = |o| {
        let h = nodes[0].handle.clone();
        move || {
            let h = h.clone();
            async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == o && p.observer) }
        }
    };
    let config = || {
        let mut c = memory_config(vec![nodes[0].addr.clone()]);
        c.kademlia = false;
        c
    };
    let first = start(config(), NodeIdentity::observer(node_key(93)), Arc::new(MemoryStore::new(f.coalition.clone())));
    let first = first.await;
    let o = first.handle.peer_id();
    wait_for("the member admits the observer", admitted(o)).await;
    first.handle.shutdown().await.expect("shutdown");
    let h = nodes[0].handle.clone();
    wait_for("the member sees the observer leave", || {
        let h = h.clone();
        async move { h.peers().await.map(|p| p.iter().all(|p| p.peer != o)).unwrap_or(false) }
    })
    .await;

    let mut obs =
        start(config(), NodeIdentity::observer(node_key(93)), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    assert_eq!(obs.handle.peer_id(), o);
    wait_for("the member admits the observer again", admitted(o)).await;
    let mine = f.proposal(2, "Published by an observer that came back", 80, None);
    let h = obs.handle.clone();
    let bytes = mine.bytes().to_vec();
    wait_for("the observer knows the member's subscription", || {
        let (h, bytes) = (h.clone(), bytes.clone());
        async move { matches!(h.publish(bytes).await, Ok(PublishOutcome::Sent { .. })) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!nodes[0].store.contains(&mine.id()), "a member stored an observer's gossip");

    let new = f.proposal(1, "After the observer came back", 90, None);
    store_all(&nodes[0].store, std::slice::from_ref(&new));
    nodes[0].handle.publish(new.bytes().to_vec()).await.expect("publish");
    let via = next_event(&mut obs.events, |e| match e {
        NetworkEvent::ObjectStored { id, via, .. } if *id == new.id() => Some(*via),
        _ => None,
    })
    .await;
    assert_eq!(via, Via::Gossip);
}
