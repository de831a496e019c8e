//! Helpers for multi-node tests of this and other crates (the `test`
//! feature): nodes of one fixture coalition on the memory transport (or
//! loopback TCP) over [`MemoryStore`]s, and waiting for conditions.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::{
    MemoryStore, Multiaddr, NetConfig, Network, NetworkEvent, NetworkEvents, NetworkHandle, NodeAttestation,
    NodeIdentity, ObjectStore, PeerId,
};
use chorus_core::testkit::{Fixture, T0};
use chorus_core::{CoalitionId, Envelope, Keypair, ObjectId};

/// Liveness guard for conditions that must eventually hold; not a speed
/// assertion (speed is measured by the simulation bench).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The node key of test node `i`.
pub fn node_key(i: u32) -> Keypair {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    Keypair::from_seed(&seed)
}

/// The identity of node `i`, attested by member trust `trust`.
pub fn identity(f: &Fixture, i: u32, trust: usize) -> NodeIdentity {
    let key = node_key(i);
    let att = NodeAttestation::issue(&f.keys[trust], f.id(), key.public(), T0, None);
    NodeIdentity::new(key, att).expect("attestation names the key")
}

/// A memory-transport config with fast timers for tests.
pub fn memory_config(bootstrap: Vec<Multiaddr>) -> NetConfig {
    let mut c = NetConfig::memory();
    c.bootstrap = bootstrap;
    c.sync_interval = Duration::from_millis(700);
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_initial_delay = Duration::from_millis(50);
    c
}

/// A running test node.
pub struct Node {
    /// Commands to the node's network.
    pub handle: NetworkHandle,
    /// The node's network events.
    pub events: NetworkEvents,
    /// The node's objects.
    pub store: Arc<MemoryStore>,
    /// The node's first listen address, with `/p2p/`.
    pub addr: Multiaddr,
}

/// Starts a node and waits for its first listen address (with `/p2p/`).
pub async fn start(config: NetConfig, identity: NodeIdentity, store: Arc<MemoryStore>) -> Node {
    let (handle, mut events) = Network::spawn(config, identity, store.clone()).expect("network starts");
    let address = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Some(NetworkEvent::Listening { address }) => break address,
                Some(_) => continue,
                None => panic!("network stopped before listening"),
            }
        }
    })
    .await
    .expect("listening in time");
    let addr = address.with_p2p(handle.peer_id()).expect("no /p2p/ suffix yet");
    Node { handle, events, store, addr }
}

/// Starts `n` nodes of `f` in a chain (node `i` bootstraps only from node
/// `i - 1`, so delivery to the far end needs forwarding; Kademlia may add
/// more links), node `i` attested by trust `i`, and waits until every node
/// has a verified peer in its gossip mesh.
pub async fn start_chain(f: &Fixture, n: u32) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..n {
        let bootstrap = nodes.last().map(|n: &Node| vec![n.addr.clone()]).unwrap_or_default();
        let store = Arc::new(MemoryStore::new(f.coalition.clone()));
        nodes.push(start(memory_config(bootstrap), identity(f, i, i as usize), store).await);
    }
    for node in &nodes {
        let h = node.handle.clone();
        wait_for("every node has a verified peer in its mesh", || {
            let h = h.clone();
            async move { h.status().await.map(|s| s.verified >= 1 && s.mesh_peers >= 1).unwrap_or(false) }
        })
        .await;
    }
    nodes
}

/// Polls `cond` every 50 ms until it is true; panics after [`PATIENCE`].
pub async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let ok = tokio::time::timeout(PATIENCE, async {
        loop {
            if cond().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "gave up waiting for: {what}");
}

/// Waits for an event matching `pick`, skipping others.
pub async fn next_event<T>(events: &mut NetworkEvents, mut pick: impl FnMut(&NetworkEvent) -> Option<T>) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let ev = events.recv().await.expect("network still running");
            if let Some(t) = pick(&ev) {
                return t;
            }
        }
    })
    .await
    .expect("event in time")
}

/// Cuts every memory-transport connection node `peer` has now, the way a
/// network cut does: nothing it sends arrives and it receives nothing, and
/// no connection closes by itself. Connections opened afterwards work.
pub fn cut_memory_connections(peer: &PeerId) {
    crate::behaviour::memory_cuts(peer).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// `n` valid proposals by members of `f`, dated from `T0 + offset`.
pub fn proposals(f: &Fixture, tag: &str, n: usize, offset: u64) -> Vec<Envelope> {
    (0..n).map(|i| f.proposal(i % f.keys.len(), &format!("{tag} {i}"), offset + i as u64, None)).collect()
}

/// Stores `objects` in `store` through validation; all must be new.
pub fn store_all(store: &MemoryStore, objects: &[Envelope]) {
    let out = store.ingest(objects.iter().map(|e| e.bytes().to_vec()).collect()).expect("memory store");
    assert!(out.iter().all(|a| matches!(a, chorus_core::Admission::Stored { .. })), "fixture objects are valid");
}

/// True when every store holds `id`.
pub fn all_hold(nodes: &[Node], id: &ObjectId) -> bool {
    nodes.iter().all(|n| n.store.contains(id))
}

/// What a test asks of a [`Stranger`].
enum StrangerCommand {
    Publish { data: Vec<u8>, reply: oneshot::Sender<Result<(), String>> },
    SubscribedPeers { reply: oneshot::Sender<usize> },
}

/// A peer that runs a node's swarm (same transport and gossipsub settings,
/// memory transport) on a coalition's topic but never says hello and
/// answers none: a stranger to every node it reaches. It publishes whatever
/// bytes it is given and validates nothing it receives.
pub struct Stranger {
    commands: mpsc::Sender<StrangerCommand>,
    peer_id: PeerId,
}

impl Stranger {
    /// Starts a stranger with a key derived from `seed` on the topic of
    /// `coalition`, dialling `peers`. Must be called inside a tokio runtime.
    pub fn spawn(coalition: &CoalitionId, seed: u8, peers: &[Multiaddr]) -> Stranger {
        let key = libp2p::identity::Keypair::ed25519_from_bytes([seed; 32]).expect("32-byte seed");
        let peer_id = key.public().to_peer_id();
        let mut config = NetConfig::memory();
        config.kademlia = false;
        let topic = crate::behaviour::topic_for(coalition);
        let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut swarm = crate::behaviour::build_swarm(key, &config, &topic, written).expect("stranger swarm");
        for addr in peers {
            swarm.dial(addr.clone()).expect("stranger dials");
        }
        let (commands, mut rx) = mpsc::channel::<StrangerCommand>(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    // Hello requests are dropped unanswered; nothing else matters.
                    _event = swarm.select_next_some() => {}
                    command = rx.recv() => match command {
                        Some(StrangerCommand::Publish { data, reply }) => {
                            let result = swarm
                                .behaviour_mut()
                                .gossipsub
                                .publish(topic.clone(), data)
                                .map(|_| ())
                                .map_err(|e| e.to_string());
                            let _ = reply.send(result);
                        }
                        Some(StrangerCommand::SubscribedPeers { reply }) => {
                            let hash = topic.hash();
                            let n = swarm.behaviour().gossipsub.all_peers().filter(|(_, t)| t.contains(&&hash)).count();
                            let _ = reply.send(n);
                        }
                        None => break,
                    },
                }
            }
        });
        Stranger { commands, peer_id }
    }

    /// The stranger's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Publishes `data` on the topic as it is (flood publish to every
    /// subscribed peer it is connected to).
    pub async fn publish(&self, data: Vec<u8>) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(StrangerCommand::Publish { data, reply }).await.map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
    }

    /// How many connected peers it knows subscribed to the topic.
    pub async fn subscribed_peers(&self) -> usize {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(StrangerCommand::SubscribedPeers { reply }).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}
