//! An observer bootstrapping from the node of a trust admitted after the
//! genesis (PROTOCOL.md 14.9), over the memory transport: it knows only the
//! genesis roster, so it takes that node as a provisional sync source, gets
//! everything from it, and verifies it as a member once it holds the
//! admission.

use std::sync::Arc;
use std::time::Duration;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Action, AdoptionRule, Charter, Keypair, Member, ObserverAccess, Stance};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NodeAttestation, NodeIdentity, ObjectStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_bootstrapping_from_a_node_of_a_later_admitted_trust_syncs_everything() {
    let mut charter = Charter::with_positions(AdoptionRule::default());
    charter.observers = ObserverAccess::Everything;
    let f = Fixture::with_charter(3, charter, |_| Default::default());
    // Trust X is admitted by a governance proposal every founder endorses.
    let x = Keypair::from_seed(&[0x42; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let admit = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
    let mut objects = vec![admit.clone()];
    objects.extend((0..3).map(|m| f.endorsement(m, admit.id(), Stance::Endorse, 2 + m as u64)));
    objects.extend(proposals(&f, "Before the observer", 3, 10));

    let founder_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&founder_store, &objects);
    assert!(founder_store.is_adopted(&admit.id()), "the admission is adopted");
    let founder = start(memory_config(Vec::new()), identity(&f, 0, 0), founder_store).await;

    // X's node holds everything too, and bootstraps from the founder's.
    let x_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&x_store, &objects);
    let key = node_key(7);
    let attestation = NodeAttestation::issue(&x, f.id(), key.public(), T0, None);
    let x_identity = NodeIdentity::new(key, attestation).expect("attestation names the key");
    let x_node = start(memory_config(vec![founder.addr.clone()]), x_identity, x_store).await;

    // The observer is given X's node only.
    let obs_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let obs = start(memory_config(vec![x_node.addr.clone()]), NodeIdentity::observer(node_key(90)), obs_store).await;
    wait_for("the observer holds everything by sync", || async { objects.iter().all(|e| obs.store.contains(&e.id())) })
        .await;
    let h = obs.handle.clone();
    let (x_id, x_trust) = (x_node.handle.peer_id(), x.public());
    wait_for("the observer lists X's node with its trust once it holds the admission", || {
        let h = h.clone();
        async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == x_id && p.trust == Some(x_trust)) }
    })
    .await;
    let status = obs.handle.status().await.expect("status");
    assert!(status.verified >= 1 && status.peers_banned == 0, "{status:?}");
    // X's node still serves it: not banned, not refused.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(x_node.handle.status().await.expect("status").peers_banned, 0);
}
