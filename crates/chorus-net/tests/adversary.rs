//! Bad peers: a member node that gossips invalid objects is rejected, never
//! stored or forwarded, penalised and then disconnected; one that serves
//! invalid objects by sync meets the same ingest; a node of another
//! coalition is refused at the hello.

use std::sync::Arc;
use std::time::Duration;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Admission, Coalition, Envelope, Keypair, Kind, ObjectId, Proposal};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, ObjectStore, StoreFailure};

/// A compromised node's store: claims to store anything, so its node
/// publishes whatever it is given.
struct LyingStore(MemoryStore);

impl ObjectStore for LyingStore {
    fn coalition(&self) -> &Coalition {
        self.0.coalition()
    }
    fn ingest(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure> {
        Ok(batch.iter().map(|_| Admission::Duplicate { id: ObjectId([0; 32]) }).collect())
    }
    fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure> {
        self.0.get(id)
    }
    fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure> {
        self.0.sync_items()
    }
    fn node_key_revoked(&self, trust: &chorus_core::PublicKey, node_key: &chorus_core::PublicKey) -> bool {
        self.0.node_key_revoked(trust, node_key)
    }
    fn served_set(&self) -> Result<chorus_net::ServedSet, StoreFailure> {
        self.0.served_set()
    }
    fn is_adopted(&self, id: &ObjectId) -> bool {
        self.0.is_adopted(id)
    }
}

/// A proposal of coalition `f` signed by a key that is not a member.
fn from_non_member(f: &Fixture, n: u64) -> Envelope {
    let outsider = Keypair::from_seed(&[0xee; 32]);
    let p = Proposal {
        coalition: f.id(),
        roster: f.id(),
        author: outsider.public(),
        created_at_ms: T0 + n,
        closes_at_ms: None,
        title: format!("Forged {n}"),
        body: "Not from a member.".into(),
        link: None,
        action: None,
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    Envelope::sign(Kind::Proposal, p.to_body(), &[&outsider])
}

/// A member's proposal with its signature broken.
fn bad_signature(f: &Fixture, n: u64) -> Envelope {
    let good = f.proposal(0, &format!("Tampered {n}"), n, None);
    let mut sig = good.signatures()[0].clone();
    sig.signature[10] ^= 0x40;
    Envelope::assemble(Kind::Proposal, good.body().to_vec(), vec![sig])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_rejected_not_forwarded_and_the_sender_is_banned() {
    let f = Fixture::new(3);
    let mut config = memory_config(vec![]);
    config.limits.max_rejects = 4;
    config.sync_interval = Duration::from_secs(3600);
    // Honest node H, a bystander W behind it, and the compromised node M.
    let h_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut h = start(config.clone(), identity(&f, 0, 0), h_store.clone()).await;
    let w_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut wc = config.clone();
    wc.bootstrap = vec![h.addr.clone()];
    let w = start(wc, identity(&f, 1, 1), w_store.clone()).await;
    let m_store = Arc::new(LyingStore(MemoryStore::new(f.coalition.clone())));
    let (m, _m_events) = chorus_net::Network::spawn(
        {
            let mut c = config.clone();
            c.bootstrap = vec![h.addr.clone()];
            c
        },
        identity(&f, 2, 2),
        m_store,
    )
    .unwrap();
    let m_peer = m.peer_id();
    wait_for("M and W are verified members at H, H at both, and all meshed", || {
        let (h, w, m) = (h.handle.clone(), w.handle.clone(), m.clone());
        async move {
            let peers = h.peers().await.unwrap_or_default();
            let meshed = |s: Result<chorus_net::NetStatus, _>| s.map(|s| s.verified >= 1 && s.mesh_peers >= 1);
            peers.iter().filter(|p| p.trust.is_some()).count() == 2
                && h.status().await.map(|s| s.mesh_peers >= 2).unwrap_or(false)
                && meshed(w.status().await).unwrap_or(false)
                && meshed(m.status().await).unwrap_or(false)
        }
    })
    .await;

    // Objects signed by a key no held object makes a member's are ignored,
    // not rejected (PROTOCOL.md 12.8: the admission may not have arrived
    // yet), so only forgeries count towards the ban; the non-member's are
    // sent too and must be neither stored nor forwarded.
    let bad: Vec<Envelope> =
        (0..8).map(|n| if n % 2 == 0 || n >= 6 { bad_signature(&f, n) } else { from_non_member(&f, n) }).collect();
    // The first invalid object: rejected, and M's score goes negative.
    m.publish(bad[0].bytes().to_vec()).await.unwrap();
    let reason = next_event(&mut h.events, |e| match e {
        NetworkEvent::ObjectRefused { from, reason, .. } if *from == m_peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.to_string().contains("does not verify"), "{reason}");
    wait_for("M's gossip score at H is negative", || {
        let h = h.handle.clone();
        async move {
            let peers = h.peers().await.unwrap_or_default();
            peers.iter().any(|p| p.peer == m_peer && p.score.is_some_and(|s| s < 0.0))
        }
    })
    .await;
    // More: M is banned after max_rejects.
    for e in &bad[1..] {
        let _ = m.publish(e.bytes().to_vec()).await;
    }
    let banned = next_event(&mut h.events, |e| match e {
        NetworkEvent::PeerBanned { peer, reason } if *peer == m_peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(banned.contains("invalid objects") || banned.contains("graylist"), "{banned}");
    wait_for("M is disconnected from H", || {
        let h = h.handle.clone();
        async move { h.peers().await.map(|p| p.iter().all(|p| p.peer != m_peer)).unwrap_or(false) }
    })
    .await;
    // Nothing invalid was stored at H, nor forwarded to W.
    for e in &bad {
        assert!(!h_store.contains(&e.id()));
        assert!(!w_store.contains(&e.id()));
    }
    assert_eq!(h_store.len(), 1);
    assert_eq!(w_store.len(), 1);
    // H still works for honest traffic.
    let good = f.proposal(1, "Honest", 99, None);
    store_all(&h_store, std::slice::from_ref(&good));
    h.handle.publish(good.bytes().to_vec()).await.unwrap();
    wait_for("W receives honest objects", || async { w_store.contains(&good.id()) }).await;
    for handle in [&h.handle, &w.handle, &m] {
        let _ = handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_served_by_sync_are_refused_and_the_server_is_banned() {
    let f = Fixture::new(3);
    let mut config = memory_config(vec![]);
    config.limits.max_rejects = 4;
    config.sync_interval = Duration::from_secs(3600); // only the sync on connect
                                                      // M's store holds invalid objects (put there without validation) next
                                                      // to an honest one; sync offers them all.
    let m_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    // Forged signatures are punished; an object from an unknown signer is
    // only ignored (it may await a delegation or rotation), never stored.
    let bad: Vec<Envelope> =
        (0..6).map(|n| if n < 5 { bad_signature(&f, n) } else { from_non_member(&f, n) }).collect();
    let good = f.proposal(1, "Honest among forgeries", 50, None);
    m_store.insert_trusted(
        bad.iter().chain([&good]).enumerate().map(|(n, e)| (T0 + n as u64, e.id(), e.bytes().to_vec())),
    );
    let m = start(config.clone(), identity(&f, 2, 2), m_store).await;
    let m_peer = m.handle.peer_id();
    let h_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    config.bootstrap = vec![m.addr.clone()];
    let mut h = start(config, identity(&f, 0, 0), h_store.clone()).await;
    let banned = next_event(&mut h.events, |e| match e {
        NetworkEvent::PeerBanned { peer, reason } if *peer == m_peer => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(banned.contains("invalid objects"), "{banned}");
    // Pulled objects went through the store's rules: the honest one is
    // stored, no forgery is.
    wait_for("H stores the honest object", || async { h_store.contains(&good.id()) }).await;
    for e in &bad {
        assert!(!h_store.contains(&e.id()));
    }
    h.handle.shutdown().await.unwrap();
    m.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_coalition_is_refused_at_hello() {
    let f = Fixture::new(2);
    let other = Fixture::with_rule(3, Default::default());
    let h_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut h = start(memory_config(vec![]), identity(&f, 0, 0), h_store).await;
    // Valid in its own coalition, a stranger in ours.
    let s_store = Arc::new(MemoryStore::new(other.coalition.clone()));
    let s = start(memory_config(vec![h.addr.clone()]), identity(&other, 7, 0), s_store).await;
    // Whichever side reads the other's hello first refuses it and drops the
    // connection; either way the stranger is never verified.
    let s_peer = s.handle.peer_id();
    let outcome = next_event(&mut h.events, |e| match e {
        NetworkEvent::PeerVerified { peer, .. } if *peer == s_peer => Some(Err("verified a stranger".to_string())),
        NetworkEvent::PeerBanned { peer, reason } if *peer == s_peer => Some(Ok(reason.clone())),
        NetworkEvent::PeerDisconnected { peer } if *peer == s_peer => Some(Ok("disconnected".into())),
        _ => None,
    })
    .await;
    let reason = outcome.unwrap();
    assert!(reason == "disconnected" || reason.contains("attestation refused"), "{reason}");
    let status = h.handle.status().await.unwrap();
    assert_eq!(status.verified, 0);
    h.handle.shutdown().await.unwrap();
    s.handle.shutdown().await.unwrap();
}
