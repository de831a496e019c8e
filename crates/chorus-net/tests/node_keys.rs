//! Node-key revocation at the network layer (PROTOCOL.md 12.5): a node
//! whose key its trust delegated with the node scope and then revoked is
//! refused at its hello, and a connected one is disconnected once the
//! revocation reaches its peer. In-process nodes on the memory transport.

use std::sync::Arc;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Delegation, Envelope, Kind, SCOPE_NODE};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent};

/// A node-scope delegation of test node `node`'s key by member `trust`.
fn node_delegation(f: &Fixture, trust: usize, node: u32) -> Envelope {
    let d = Delegation {
        coalition: f.id(),
        trust: f.keys[trust].public(),
        delegate: node_key(node).public(),
        name: format!("node {node}"),
        role: String::new(),
        valid_from_ms: T0,
        valid_until_ms: None,
        scope: SCOPE_NODE,
        created_at_ms: T0 + 1,
    };
    Envelope::sign(Kind::Delegation, d.to_body(), &[&f.keys[trust]])
}

fn revoked_reason(ev: &NetworkEvent, peer: &chorus_net::PeerId) -> Option<String> {
    match ev {
        NetworkEvent::PeerBanned { peer: p, reason } if p == peer => Some(reason.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_node_key_is_refused_and_a_connected_one_is_disconnected() {
    let f = Fixture::new(3);
    // Trust 1 delegated node key 1 and revoked it; trust 2 delegated node
    // key 2 and has not revoked it (yet).
    let d1 = node_delegation(&f, 1, 1);
    let r1 = f.revocation(&f.keys[1], f.keys[1].public(), d1.id(), vec![], 2);
    let d2 = node_delegation(&f, 2, 2);
    let a_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&a_store, &[d1, r1, d2.clone()]);
    let mut a = start(memory_config(vec![]), identity(&f, 0, 0), a_store).await;

    // Node 2: delegated, not revoked, accepted.
    let c_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let c = start(memory_config(vec![a.addr.clone()]), identity(&f, 2, 2), c_store).await;
    let c_peer = c.handle.peer_id();
    next_event(&mut a.events, |ev| match ev {
        NetworkEvent::PeerVerified { peer, .. } if *peer == c_peer => Some(()),
        _ => None,
    })
    .await;

    // Node 1: its key is revoked, so its hello is refused.
    let b_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let b = start(memory_config(vec![a.addr.clone()]), identity(&f, 1, 1), b_store).await;
    let b_peer = b.handle.peer_id();
    let reason = next_event(&mut a.events, |ev| revoked_reason(ev, &b_peer)).await;
    assert!(reason.contains("revoked"), "{reason}");

    // Trust 2 revokes node key 2: node 2 is disconnected once node 0 holds it.
    let r2 = f.revocation(&f.keys[2], f.keys[2].public(), d2.id(), vec![], 3);
    store_all(&a.store, std::slice::from_ref(&r2));
    a.handle.publish(r2.bytes().to_vec()).await.unwrap();
    let reason = next_event(&mut a.events, |ev| revoked_reason(ev, &c_peer)).await;
    assert!(reason.contains("revoked"), "{reason}");
    wait_for("node 2 no longer connected to node 0", || {
        let h = a.handle.clone();
        async move { h.peers().await.map(|p| p.iter().all(|p| p.peer != c_peer)).unwrap_or(false) }
    })
    .await;
    for n in [&a, &b, &c] {
        n.handle.shutdown().await.unwrap();
    }
}
