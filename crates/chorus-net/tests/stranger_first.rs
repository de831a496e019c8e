//! A peer that is not a member cannot stall an object by gossiping a copy
//! first. Three member nodes in one mesh and a stranger connected to all of
//! them: whether the stranger's early copy is the valid object (it got it
//! out of band) or a copy with a broken signature, the member's copy
//! reaches every member at gossip speed, far below gossipsub's 300 s
//! duplicate-cache time. Periodic sync is off, so only gossip can deliver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_core::{Admission, Envelope, Kind};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, ObjectStore, PeerId, PublishOutcome};

/// Far below the 300 s a duplicate-cache entry lives: a stalled object
/// would only come by sync, which this test turns off.
const GOSSIP_SPEED: Duration = Duration::from_secs(10);

/// A member's proposal with its signature broken: same object id, other bytes.
fn broken_copy(good: &Envelope) -> Envelope {
    let mut sig = good.signatures()[0].clone();
    sig.signature[7] ^= 0x01;
    Envelope::assemble(Kind::Proposal, good.body().to_vec(), vec![sig])
}

/// Waits up to `limit` for node events naming the stranger's copy; true
/// when one came (the copy reached the node before the member's).
async fn heard_from(node: &mut Node, stranger: PeerId, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        loop {
            match node.events.recv().await {
                Some(NetworkEvent::ObjectStored { from, .. } | NetworkEvent::ObjectRefused { from, .. })
                    if from == stranger =>
                {
                    return
                }
                Some(_) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    })
    .await
    .is_ok()
}

/// The member `author` stores `object` (it may hold it already, from the
/// stranger) and publishes it; then the time until every member holds the
/// exact bytes of `object`.
async fn member_publishes(nodes: &[Node], author: usize, object: &Envelope) -> Duration {
    let out = nodes[author].store.ingest(vec![object.bytes().to_vec()]).expect("memory store");
    assert!(matches!(out[0], Admission::Stored { .. } | Admission::Duplicate { .. }), "{:?}", out[0]);
    let started = Instant::now();
    let outcome = nodes[author].handle.publish(object.bytes().to_vec()).await.expect("publish");
    assert!(matches!(outcome, PublishOutcome::Sent { .. } | PublishOutcome::AlreadyKnown { .. }), "{outcome:?}");
    let id = object.id();
    let arrived = tokio::time::timeout(GOSSIP_SPEED, async {
        while !all_hold(nodes, &id) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let delay = started.elapsed();
    assert!(arrived.is_ok(), "not every member holds {id} {delay:?} after the member published it");
    for node in nodes {
        let held = node.store.get(&id).expect("memory store").expect("held");
        assert_eq!(held, object.bytes(), "a member holds other bytes than the valid copy");
    }
    delay
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_early_copy_does_not_delay_the_members_copy() {
    let f = Fixture::new(3);
    let mut config = memory_config(vec![]);
    // Only gossip may deliver within the test; the stranger stays connected.
    config.sync_interval = Duration::from_secs(3600);
    config.limits.attestation_timeout = Duration::from_secs(120);
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..3u32 {
        let mut c = config.clone();
        c.bootstrap = nodes.iter().map(|n| n.addr.clone()).collect();
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        nodes.push(start(c, identity(&f, i, i as usize), store).await);
    }
    for node in &nodes {
        let h = node.handle.clone();
        wait_for("every member has the other two verified and in its mesh", || {
            let h = h.clone();
            async move { h.status().await.map(|s| s.verified >= 2 && s.mesh_peers >= 2).unwrap_or(false) }
        })
        .await;
    }
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr.clone()).collect();
    let stranger = Stranger::spawn(&f.id(), 0x77, &addrs);
    let s = stranger.peer_id();
    wait_for("the stranger sees all three members subscribed", || async { stranger.subscribed_peers().await == 3 })
        .await;
    for node in &nodes {
        let h = node.handle.clone();
        wait_for("every member lists the stranger, unverified", || {
            let h = h.clone();
            async move { h.peers().await.unwrap_or_default().iter().any(|p| p.peer == s && p.trust.is_none()) }
        })
        .await;
    }

    // (a) The stranger publishes a valid member-signed object first.
    let valid = f.proposal(0, "Out of band", 1, None);
    stranger.publish(valid.bytes().to_vec()).await.expect("stranger publishes");
    let early = heard_from(&mut nodes[2], s, Duration::from_secs(2)).await;
    let delay = member_publishes(&nodes, 0, &valid).await;
    println!("(a) valid copy from the stranger first (reached the third member first: {early}): every member held it {delay:?} after the member published");
    assert!(delay < GOSSIP_SPEED);

    // Valid objects a stranger delivers first are stored and forwarded but
    // earn it no gossip score: it stays below the publish threshold (−50),
    // so members still send it nothing. Twelve first deliveries would lift
    // an uncredited −60 to −48.
    let more = proposals(&f, "Relayed by a stranger", 12, 10);
    for e in &more {
        stranger.publish(e.bytes().to_vec()).await.expect("stranger publishes");
    }
    wait_for("every member holds what the stranger relayed", || async {
        more.iter().all(|e| all_hold(&nodes, &e.id()))
    })
    .await;
    for node in &nodes {
        let peers = node.handle.peers().await.expect("peers");
        let score = peers.iter().find(|p| p.peer == s).and_then(|p| p.score).expect("stranger scored");
        assert!(score < -50.0, "a stranger's score rose to {score}");
    }

    // (b) The stranger publishes a copy with a broken signature first.
    let valid = f.proposal(1, "Forged first", 2, None);
    let forged = broken_copy(&valid);
    assert_eq!(forged.id(), valid.id(), "the broken copy has the object's id");
    stranger.publish(forged.bytes().to_vec()).await.expect("stranger publishes");
    let early = heard_from(&mut nodes[2], s, Duration::from_secs(2)).await;
    let delay = member_publishes(&nodes, 1, &valid).await;
    println!("(b) broken copy from the stranger first (reached the third member first: {early}): every member held the valid one {delay:?} after the member published");
    assert!(delay < GOSSIP_SPEED);

    for node in &nodes {
        node.handle.shutdown().await.unwrap();
    }
}

/// A stranger's copy of an object that is not admissible yet (its signer
/// is not a member the node knows) is refused and not kept waiting: peers
/// that proved nothing cannot fill the waiting pool. A member's copy of
/// such an object waits as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_copy_that_waits_for_others_is_not_kept() {
    use chorus_core::{Action, Keypair, Member};
    let f = Fixture::new(3);
    let mut config = memory_config(vec![]);
    config.sync_interval = Duration::from_secs(3600);
    config.limits.attestation_timeout = Duration::from_secs(120);
    let a_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let mut a = start(config.clone(), identity(&f, 0, 0), a_store.clone()).await;
    let mut c = config.clone();
    c.bootstrap = vec![a.addr.clone()];
    let b = start(c, identity(&f, 1, 1), Arc::new(MemoryStore::new(f.coalition.clone()))).await;
    let h = a.handle.clone();
    wait_for("the members verify each other and mesh", || {
        let h = h.clone();
        async move { h.status().await.map(|s| s.verified >= 1 && s.mesh_peers >= 1).unwrap_or(false) }
    })
    .await;
    let stranger = Stranger::spawn(&f.id(), 0x78, std::slice::from_ref(&a.addr));
    let s = stranger.peer_id();
    wait_for("the stranger sees the member subscribed", || async { stranger.subscribed_peers().await >= 1 }).await;

    let x = Keypair::from_seed(&[9; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
    let by_x = f.proposal_under(&x, x.public(), "By X", &[g.id()], None, 5);
    stranger.publish(by_x.bytes().to_vec()).await.expect("stranger publishes");
    let refused = next_event(&mut a.events, |e| match e {
        NetworkEvent::ObjectRefused { from, reason, .. } if *from == s => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(refused.awaits_objects(), "{refused}");
    assert_eq!(a_store.waiting(), 0, "a stranger's copy was kept waiting");

    // The member's copy of another such object waits.
    let by_x2 = f.proposal_under(&x, x.public(), "By X, again", &[g.id()], None, 6);
    b.handle.publish(by_x2.bytes().to_vec()).await.expect("member publishes");
    let from_member = b.handle.peer_id();
    next_event(&mut a.events, |e| match e {
        NetworkEvent::ObjectRefused { from, .. } if *from == from_member => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(a_store.waiting(), 1, "a member's copy does not wait");
}
