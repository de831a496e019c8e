//! The event loop: one task owns the swarm and every piece of per-peer
//! state; blocking work (store reads and writes, snapshots, signature checks)
//! runs on tokio's blocking pool and reports back over a bounded channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{Admission, PublicKey, Verdict};
use chorus_proto::v1 as pb;
use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, kad, mdns, Multiaddr, PeerId, Swarm};
use prost::Message;
use tokio::sync::{mpsc, Semaphore};

use crate::attestation::{NodeAttestation, NodeIdentity};
use crate::behaviour::{
    build_swarm, topic_for, Behaviour, BehaviourEvent, GRAYLIST_THRESHOLD, MAX_HELLO_BYTES, STRANGER_SCORE,
};
use crate::config::NetConfig;
use crate::error::NetError;
use crate::network::{
    Command, NetStatus, NetworkEvent, NetworkEvents, NetworkHandle, PeerInfo, PublishOutcome, SyncReport, Via,
};
use crate::ratelimit::TokenBucket;
use crate::store::{now_ms, ObjectStore};
use crate::sync::{ClientStep, Progress, SyncClient, SyncLimits, SyncServer, SyncSnapshot};

/// Objects per store call when draining the gossip queue.
const INGEST_BATCH: usize = 256;
/// A snapshot older than this is rebuilt even if nothing was stored through
/// the network, so objects the node stored itself are offered too.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);
/// Listen addresses kept per peer (from identify), for Kademlia.
const MAX_ADDRS_PER_PEER: usize = 8;

/// The network layer of one node.
pub struct Network;

impl Network {
    /// Validates `config`, checks this node's own attestation against the
    /// store's coalition, builds the swarm with the node key, starts
    /// listening and dialling the bootstrap peers, and spawns the event loop
    /// on the current tokio runtime (so it must be called inside one).
    /// Objects from peers are written only through `store`.
    pub fn spawn<S: ObjectStore>(
        config: NetConfig,
        identity: NodeIdentity,
        store: Arc<S>,
    ) -> Result<(NetworkHandle, NetworkEvents), NetError> {
        config.validate()?;
        let coalition = store.coalition().clone();
        // Our own trust need not be a member of the roster our store knows
        // yet: a newly admitted trust's node learns its admission from the
        // peers that hold it (and accept its hello). Everything else about
        // the attestation is checked.
        identity.attestation().verify_with(
            &coalition,
            |t| Some(store.keys_of(t).unwrap_or_else(|| vec![*t])),
            None,
            now_ms(),
        )?;
        let keypair = identity.libp2p_keypair()?;
        let peer_id = keypair.public().to_peer_id();
        let topic = topic_for(&coalition.id());
        let written = Arc::new(AtomicU64::new(0));
        let mut swarm = build_swarm(keypair, &config, &topic, written.clone())?;
        for addr in &config.listen_addrs {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Listen { addr: addr.clone(), reason: e.to_string() })?;
        }
        let hello = pb::Hello { attestation: Some(identity.attestation().to_proto()) }.encode_to_vec();
        let (commands, command_rx) = mpsc::channel(config.limits.command_queue);
        let (events_tx, events) = mpsc::channel(config.limits.event_queue);
        let (gossip_tx, gossip_rx) = mpsc::channel(config.limits.ingest_queue);
        let (internal_tx, internal_rx) = mpsc::channel(config.limits.ingest_queue.max(1024));
        let serve_permits = Arc::new(Semaphore::new(config.limits.max_concurrent_serves));
        let store: Arc<dyn ObjectStore> = store;
        let snapshots = Arc::new(SnapshotCache::default());
        tokio::spawn(ingest_worker(store.clone(), gossip_rx, internal_tx.clone()));
        let mut event_loop = EventLoop {
            swarm,
            store,
            config,
            coalition,
            topic,
            hello,
            peer_id,
            commands: command_rx,
            events: events_tx,
            gossip_tx,
            internal_tx,
            internal_rx,
            serve_permits,
            snapshots,
            peers: HashMap::new(),
            banned: HashMap::new(),
            sessions: HashMap::new(),
            requests: HashMap::new(),
            hello_requests: HashMap::new(),
            status: NetStatus { peer_id: Some(peer_id), ..NetStatus::default() },
            written,
            next_sync_peer: 0,
            last_bootstrap_dial: None,
            last_kad_bootstrap: None,
            recheck_node_keys: false,
        };
        event_loop.dial_bootstrap();
        tokio::spawn(event_loop.run());
        Ok((NetworkHandle { commands, peer_id }, events))
    }
}

/// What one connected peer has shown so far.
struct PeerState {
    trust: Option<PublicKey>,
    /// The node key its attestation names, once verified.
    node_key: Option<PublicKey>,
    /// True once the peer answered our hello, i.e. it accepted us.
    accepted_us: bool,
    connected_at: Instant,
    address: Option<Multiaddr>,
    listen_addrs: Vec<Multiaddr>,
    gossip: TokenBucket,
    sync: TokenBucket,
    rejects: u32,
    strikes: u32,
    stranger_messages: u32,
}

/// One catch-up this node runs against a peer.
struct Session {
    client: Option<SyncClient>,
    /// What to do once the objects of the last response are ingested: the
    /// next request waits for the store, so at most one response's objects
    /// are held in memory per session and a slow store slows the peer down.
    after_ingest: Option<ClientStep>,
    report: SyncReport,
    started: Instant,
}

/// Where an object being ingested came from.
enum Origin {
    Gossip { message_id: gossipsub::MessageId, source: PeerId },
    Sync { peer: PeerId },
}

/// Results of blocking work, back to the loop.
enum Internal {
    Ingested { origin: Origin, result: Result<Vec<Admission>, String> },
    SnapshotReady { peer: PeerId, result: Result<SyncSnapshot, String> },
    Served { peer: PeerId, channel: ResponseChannel<Vec<u8>>, result: Result<Vec<u8>, crate::sync::SyncError> },
}

/// The newest snapshot of the store's item set, shared by sync sessions.
#[derive(Default)]
struct SnapshotCache {
    generation: AtomicU64,
    cached: Mutex<Option<(u64, Instant, SyncSnapshot)>>,
}

impl SnapshotCache {
    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Blocking: may read every item of the store.
    fn get(&self, store: &dyn ObjectStore) -> Result<SyncSnapshot, String> {
        let generation = self.generation.load(Ordering::Relaxed);
        let mut guard = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, at, snap)) = guard.as_ref() {
            if *g == generation && at.elapsed() < SNAPSHOT_MAX_AGE {
                return Ok(snap.clone());
            }
        }
        let items = store.sync_items().map_err(|e| e.to_string())?;
        let snap = SyncSnapshot::new(items);
        *guard = Some((generation, Instant::now(), snap.clone()));
        Ok(snap)
    }
}

/// Drains the gossip queue into batched store calls.
async fn ingest_worker(
    store: Arc<dyn ObjectStore>,
    mut jobs: mpsc::Receiver<(gossipsub::MessageId, PeerId, Vec<u8>)>,
    done: mpsc::Sender<Internal>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < INGEST_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (origins, envelopes): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|(id, source, data)| ((id, source), data)).unzip();
        let n = envelopes.len();
        let store = store.clone();
        let result = tokio::task::spawn_blocking(move || store.ingest(envelopes).map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(format!("store task failed: {e}")));
        let results: Vec<Result<Vec<Admission>, String>> = match result {
            Ok(admissions) if admissions.len() == n => admissions.into_iter().map(|a| Ok(vec![a])).collect(),
            Ok(admissions) => {
                vec![Err(format!("store answered {} admissions for {n} objects", admissions.len())); n]
            }
            Err(e) => vec![Err(e); n],
        };
        for ((message_id, source), result) in origins.into_iter().zip(results) {
            if done.send(Internal::Ingested { origin: Origin::Gossip { message_id, source }, result }).await.is_err() {
                return;
            }
        }
    }
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    store: Arc<dyn ObjectStore>,
    config: NetConfig,
    coalition: chorus_core::Coalition,
    topic: gossipsub::IdentTopic,
    hello: Vec<u8>,
    peer_id: PeerId,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    gossip_tx: mpsc::Sender<(gossipsub::MessageId, PeerId, Vec<u8>)>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    serve_permits: Arc<Semaphore>,
    snapshots: Arc<SnapshotCache>,
    peers: HashMap<PeerId, PeerState>,
    banned: HashMap<PeerId, Instant>,
    sessions: HashMap<PeerId, Session>,
    requests: HashMap<OutboundRequestId, PeerId>,
    hello_requests: HashMap<OutboundRequestId, PeerId>,
    status: NetStatus,
    written: Arc<AtomicU64>,
    next_sync_peer: usize,
    last_bootstrap_dial: Option<Instant>,
    last_kad_bootstrap: Option<Instant>,
    /// Objects were stored since verified peers' node keys were last
    /// checked against revocations.
    recheck_node_keys: bool,
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl EventLoop {
    async fn run(mut self) {
        let mut housekeeping = tokio::time::interval(Duration::from_secs(1));
        let mut sync_timer = tokio::time::interval(self.config.sync_interval);
        sync_timer.tick().await; // the first tick is immediate; sync on connect covers it
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => {
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.on_command(command),
                    // Every handle is gone: nobody can command or stop us.
                    None => break,
                },
                Some(internal) = self.internal_rx.recv() => self.on_internal(internal),
                _ = housekeeping.tick() => self.housekeeping(),
                _ = sync_timer.tick() => self.periodic_sync(),
            }
        }
        tracing::debug!(peer = %self.peer_id, "network stopped");
    }

    fn emit(&mut self, event: NetworkEvent) {
        if self.events.try_send(event).is_err() {
            self.status.events_dropped += 1;
        }
    }

    // ---------------------------------------------------------------- commands

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { envelope, reply } => {
                let _ = reply.send(self.publish(envelope));
            }
            Command::Peers { reply } => {
                let gossip = &self.swarm.behaviour().gossipsub;
                let peers = self
                    .peers
                    .iter()
                    .map(|(peer, s)| PeerInfo {
                        peer: *peer,
                        trust: s.trust,
                        score: gossip.peer_score(peer),
                        address: s.address.clone(),
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            Command::Dial { addr, reply } => {
                let result = self
                    .swarm
                    .dial(addr.clone())
                    .map_err(|e| NetError::Dial { addr: addr.to_string(), reason: e.to_string() });
                let _ = reply.send(result);
            }
            Command::SyncNow { reply } => {
                let verified: Vec<PeerId> = self.sync_candidates();
                let started = verified.into_iter().filter(|p| self.start_sync(*p)).count();
                let _ = reply.send(started);
            }
            Command::Status { reply } => {
                let mut status = self.status.clone();
                status.listen_addrs = self.swarm.listeners().cloned().collect();
                status.connected = self.peers.len();
                status.verified = self.peers.values().filter(|p| p.trust.is_some()).count();
                status.mesh_peers = self.swarm.behaviour().gossipsub.mesh_peers(&self.topic.hash()).count();
                status.transport_bytes_sent = self.written.load(Ordering::Relaxed);
                let _ = reply.send(status);
            }
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, envelope: Vec<u8>) -> Result<PublishOutcome, NetError> {
        let id = chorus_core::Envelope::decode(&envelope).map_err(NetError::NotAnObject)?.id();
        // The caller stored it: sync must offer it from now on.
        self.snapshots.invalidate();
        self.recheck_node_keys = true;
        match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), envelope) {
            Ok(_) => {
                self.status.published += 1;
                Ok(PublishOutcome::Sent { id })
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => Ok(PublishOutcome::Deferred { id }),
            Err(gossipsub::PublishError::Duplicate) => Ok(PublishOutcome::AlreadyKnown { id }),
            Err(gossipsub::PublishError::AllQueuesFull(_)) => Ok(PublishOutcome::Deferred { id }),
            Err(e) => Err(NetError::Publish(e.to_string())),
        }
    }

    // ---------------------------------------------------------------- swarm events

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                self.emit(NetworkEvent::Listening { address });
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, num_established, .. }
                if num_established.get() == 1 =>
            {
                self.on_peer_connected(peer_id, endpoint.get_remote_address().clone());
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => self.on_peer_gone(peer_id),
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_peer_connected(&mut self, peer: PeerId, address: Multiaddr) {
        let l = &self.config.limits;
        let state = PeerState {
            trust: None,
            node_key: None,
            accepted_us: false,
            connected_at: Instant::now(),
            address: Some(address),
            listen_addrs: Vec::new(),
            gossip: TokenBucket::new(l.gossip_per_sec, l.gossip_burst),
            sync: TokenBucket::new(l.sync_requests_per_sec, l.sync_burst),
            rejects: 0,
            strikes: 0,
            stranger_messages: 0,
        };
        self.peers.insert(peer, state);
        self.emit(NetworkEvent::PeerConnected { peer });
        let strangers = self.peers.values().filter(|p| p.trust.is_none()).count();
        if strangers > self.config.limits.max_strangers as usize {
            tracing::debug!(%peer, strangers, "too many unverified peers; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        self.swarm.behaviour_mut().gossipsub.set_application_score(&peer, STRANGER_SCORE);
        let id = self.swarm.behaviour_mut().hello.send_request(&peer, self.hello.clone());
        self.hello_requests.insert(id, peer);
    }

    fn on_peer_gone(&mut self, peer: PeerId) {
        if self.peers.remove(&peer).is_some() {
            self.emit(NetworkEvent::PeerDisconnected { peer });
        }
        if self.sessions.contains_key(&peer) {
            self.finish_session(peer, Some("peer disconnected".into()));
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                self.on_gossip(propagation_source, message_id, message.data)
            }
            BehaviourEvent::Hello(event) => self.on_hello(event),
            BehaviourEvent::Sync(event) => self.on_sync(event),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let addrs: Vec<Multiaddr> = info.listen_addrs.into_iter().take(MAX_ADDRS_PER_PEER).collect();
                let verified = match self.peers.get_mut(&peer_id) {
                    Some(state) => {
                        state.listen_addrs = addrs.clone();
                        state.trust.is_some()
                    }
                    None => false,
                };
                if verified {
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        for a in addrs {
                            kad.add_address(&peer_id, a);
                        }
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutablePeer { peer, address })
            | BehaviourEvent::Kad(kad::Event::PendingRoutablePeer { peer, address }) => self.maybe_dial(peer, address),
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(ok)),
                ..
            }) => {
                for info in ok.peers {
                    if let Some(a) = info.addrs.into_iter().next() {
                        self.maybe_dial(info.peer_id, a);
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    self.maybe_dial(peer, address);
                }
            }
            _ => {}
        }
    }

    fn maybe_dial(&mut self, peer: PeerId, address: Multiaddr) {
        if peer == self.peer_id
            || self.peers.contains_key(&peer)
            || self.banned.contains_key(&peer)
            || self.peers.len() >= self.config.limits.target_peers
        {
            return;
        }
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer).addresses(vec![address]).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "discovery dial failed");
        }
    }

    // ---------------------------------------------------------------- gossip

    fn on_gossip(&mut self, source: PeerId, message_id: gossipsub::MessageId, data: Vec<u8>) {
        self.status.gossip_received += 1;
        let budget = self.config.limits.stranger_gossip_budget;
        let verdict = match self.peers.get_mut(&source) {
            None => Some(false),
            Some(state) if state.trust.is_none() => {
                // Possibly a member whose hello has not arrived yet: ignore
                // without gossip penalty; sync brings anything we miss.
                state.stranger_messages += 1;
                Some(state.stranger_messages > budget)
            }
            Some(state) => (!state.gossip.take()).then_some(false),
        };
        if let Some(strike) = verdict {
            self.status.gossip_dropped += 1;
            self.report(&message_id, &source, gossipsub::MessageAcceptance::Ignore);
            if strike {
                self.strike(source, "gossip from a peer that has not proved membership");
            }
            return;
        }
        if self.gossip_tx.try_send((message_id.clone(), source, data)).is_err() {
            // The store is behind: drop rather than queue without bound.
            self.status.gossip_dropped += 1;
            self.report(&message_id, &source, gossipsub::MessageAcceptance::Ignore);
        }
    }

    fn report(&mut self, id: &gossipsub::MessageId, source: &PeerId, acceptance: gossipsub::MessageAcceptance) {
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(id, source, acceptance);
    }

    /// Applies one admission from `peer`; returns true if it was newly stored.
    fn admit(&mut self, peer: PeerId, via: Via, admission: Admission) -> bool {
        match admission {
            Admission::Stored { id, adopted } => {
                self.status.objects_stored += 1;
                self.snapshots.invalidate();
                self.recheck_node_keys = true;
                self.emit(NetworkEvent::ObjectStored { id, adopted, from: peer, via });
                true
            }
            Admission::Duplicate { .. } => false,
            Admission::Refused(reason) => {
                let reject = reason.verdict() == Verdict::Reject;
                self.emit(NetworkEvent::ObjectRefused { from: peer, via, reason: reason.clone() });
                if reject {
                    self.status.objects_rejected += 1;
                    let max = self.config.limits.max_rejects;
                    let score = self.swarm.behaviour().gossipsub.peer_score(&peer);
                    if let Some(state) = self.peers.get_mut(&peer) {
                        state.rejects += 1;
                        let n = state.rejects;
                        // gossipsub ignores a graylisted peer's messages, so
                        // the count could stall below the limit: ban then too.
                        if n >= max || score.is_some_and(|s| s < GRAYLIST_THRESHOLD) {
                            self.ban(peer, format!("sent {n} invalid objects (last: {reason})"));
                        }
                    }
                }
                false
            }
        }
    }

    // ---------------------------------------------------------------- internal results

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Ingested { origin: Origin::Gossip { message_id, source }, result } => {
                let acceptance = match result {
                    Ok(mut admissions) if admissions.len() == 1 => {
                        let admission = admissions.remove(0);
                        let acceptance = match &admission {
                            Admission::Stored { .. } => gossipsub::MessageAcceptance::Accept,
                            Admission::Duplicate { .. } => gossipsub::MessageAcceptance::Ignore,
                            Admission::Refused(r) if r.verdict() == Verdict::Reject => {
                                gossipsub::MessageAcceptance::Reject
                            }
                            Admission::Refused(_) => gossipsub::MessageAcceptance::Ignore,
                        };
                        // Report first, so the peer's score reflects this object.
                        self.report(&message_id, &source, acceptance);
                        self.admit(source, Via::Gossip, admission);
                        return;
                    }
                    Ok(_) => gossipsub::MessageAcceptance::Ignore,
                    Err(e) => {
                        tracing::warn!(error = %e, "store failed on a gossiped object; it is not forwarded");
                        gossipsub::MessageAcceptance::Ignore
                    }
                };
                self.report(&message_id, &source, acceptance);
            }
            Internal::Ingested { origin: Origin::Sync { peer }, result } => {
                let admissions = match result {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "store failed during catch-up");
                        self.finish_session(peer, Some(format!("store failed: {e}")));
                        return;
                    }
                };
                let mut stored = 0;
                let mut refused = 0;
                for a in admissions {
                    if matches!(a, Admission::Refused(_)) {
                        refused += 1;
                    }
                    if self.admit(peer, Via::Sync, a) {
                        stored += 1;
                    }
                }
                let next = self.sessions.get_mut(&peer).and_then(|session| {
                    session.report.stored += stored;
                    session.report.refused += refused;
                    session.after_ingest.take()
                });
                if let Some(step) = next {
                    self.advance(peer, step);
                }
            }
            Internal::SnapshotReady { peer, result } => self.on_snapshot(peer, result),
            Internal::Served { peer, channel, result } => match result {
                Ok(frame) => {
                    self.status.sync_requests_served += 1;
                    let _ = self.swarm.behaviour_mut().sync.send_response(channel, frame);
                }
                Err(e) => {
                    self.status.sync_requests_refused += 1;
                    drop(channel);
                    if e.is_peer_fault() {
                        self.strike(peer, &format!("bad sync request: {e}"));
                    } else {
                        tracing::warn!(%peer, error = %e, "could not answer a sync request");
                    }
                }
            },
        }
    }

    // ---------------------------------------------------------------- hello

    fn on_hello(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    if self.accept_hello(peer, &request) {
                        let _ = self.swarm.behaviour_mut().hello.send_response(channel, self.hello.clone());
                    }
                }
                request_response::Message::Response { request_id, response } => {
                    self.hello_requests.remove(&request_id);
                    if self.accept_hello(peer, &response) {
                        if let Some(state) = self.peers.get_mut(&peer) {
                            state.accepted_us = true;
                        }
                        self.start_sync(peer);
                    }
                }
            },
            request_response::Event::OutboundFailure { request_id, peer, error, .. } => {
                self.hello_requests.remove(&request_id);
                tracing::debug!(%peer, %error, "hello failed");
            }
            _ => {}
        }
    }

    /// Verifies a peer's hello; bans it if the attestation is refused.
    fn accept_hello(&mut self, peer: PeerId, frame: &[u8]) -> bool {
        let verdict = if frame.len() > MAX_HELLO_BYTES {
            Err("hello frame too large".to_string())
        } else {
            pb::Hello::decode(frame)
                .map_err(|e| format!("malformed hello: {e}"))
                .and_then(|h| h.attestation.ok_or_else(|| "hello carries no attestation".to_string()))
                .and_then(|a| NodeAttestation::from_proto(a).map_err(|e| e.to_string()))
                .and_then(|a| {
                    // Members of the newest roster version this node knows.
                    let store = &self.store;
                    a.verify_with(&self.coalition, |t| store.keys_of(t), Some(&peer), now_ms())
                        .map_err(|e| e.to_string())
                })
                .and_then(|v| {
                    // A node key its trust delegated and revoked is refused.
                    if self.store.node_key_revoked(&v.trust(), &v.node_key()) {
                        Err(format!("node key {} of trust {} is revoked", v.node_key(), v.trust()))
                    } else {
                        Ok(v)
                    }
                })
        };
        match verdict {
            Ok(v) => {
                let Some(state) = self.peers.get_mut(&peer) else { return false };
                if state.trust.is_none() {
                    state.trust = Some(v.trust());
                    state.node_key = Some(v.node_key());
                    let addrs = state.listen_addrs.clone();
                    self.swarm.behaviour_mut().gossipsub.set_application_score(&peer, 0.0);
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        for a in addrs {
                            kad.add_address(&peer, a);
                        }
                    }
                    tracing::debug!(%peer, trust = %v.trust(), "peer verified");
                    self.kad_bootstrap();
                    self.emit(NetworkEvent::PeerVerified { peer, trust: v.trust() });
                }
                true
            }
            Err(reason) => {
                self.ban(peer, format!("attestation refused: {reason}"));
                false
            }
        }
    }

    // ---------------------------------------------------------------- sync: serving

    fn on_sync(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => self.serve(peer, request, channel),
                request_response::Message::Response { request_id, response } => {
                    if let Some(peer) = self.requests.remove(&request_id) {
                        self.on_sync_response(peer, response);
                    }
                }
            },
            request_response::Event::OutboundFailure { request_id, peer, error, .. }
                if self.requests.remove(&request_id).is_some() =>
            {
                self.finish_session(peer, Some(format!("sync request failed: {error}")));
            }
            // Only our codec's bound or a broken frame produce Io errors.
            request_response::Event::InboundFailure {
                peer, error: request_response::InboundFailure::Io(e), ..
            } => {
                self.strike(peer, &format!("unreadable sync request: {e}"));
            }
            _ => {}
        }
    }

    fn serve(&mut self, peer: PeerId, request: Vec<u8>, channel: ResponseChannel<Vec<u8>>) {
        let allowed = match self.peers.get_mut(&peer) {
            Some(state) if state.trust.is_some() => {
                if state.sync.take() {
                    Ok(())
                } else {
                    Err("sync request rate exceeded")
                }
            }
            _ => Err("sync requested by a peer that has not proved membership"),
        };
        if let Err(reason) = allowed {
            self.status.sync_requests_refused += 1;
            self.strike(peer, reason);
            return;
        }
        let Ok(permit) = self.serve_permits.clone().try_acquire_owned() else {
            // Busy: refuse without blame; the peer retries later.
            self.status.sync_requests_refused += 1;
            return;
        };
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let snapshot = snapshots.get(store.as_ref()).map_err(crate::sync::SyncError::Local)?;
                let server = SyncServer::new(snapshot, SyncLimits::default())?;
                server.handle_request(&request, |id| store.get(id).ok().flatten())
            })
            .await
            .unwrap_or_else(|e| Err(crate::sync::SyncError::Local(e.to_string())));
            let _ = done.send(Internal::Served { peer, channel, result }).await;
        });
    }

    // ---------------------------------------------------------------- sync: initiating

    fn sync_candidates(&self) -> Vec<PeerId> {
        let mut v: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(p, s)| s.trust.is_some() && s.accepted_us && !self.sessions.contains_key(p))
            .map(|(p, _)| *p)
            .collect();
        v.sort();
        v
    }

    fn periodic_sync(&mut self) {
        let candidates = self.sync_candidates();
        if candidates.is_empty() {
            return;
        }
        // Round robin over member peers, one per interval.
        self.next_sync_peer = self.next_sync_peer.wrapping_add(1);
        let peer = candidates[self.next_sync_peer % candidates.len()];
        self.start_sync(peer);
    }

    fn start_sync(&mut self, peer: PeerId) -> bool {
        if self.sessions.contains_key(&peer) || self.sessions.len() >= self.config.limits.max_concurrent_syncs {
            return false;
        }
        self.sessions.insert(
            peer,
            Session {
                client: None,
                after_ingest: None,
                report: SyncReport { peer: Some(peer), ..SyncReport::default() },
                started: Instant::now(),
            },
        );
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || snapshots.get(store.as_ref()))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = done.send(Internal::SnapshotReady { peer, result }).await;
        });
        true
    }

    fn on_snapshot(&mut self, peer: PeerId, result: Result<SyncSnapshot, String>) {
        if !self.sessions.contains_key(&peer) {
            return;
        }
        let started = result.and_then(|snapshot| {
            let mut client = SyncClient::new(&snapshot, SyncLimits::default()).map_err(|e| e.to_string())?;
            let frame = client.initiate().map_err(|e| e.to_string())?;
            Ok((client, frame))
        });
        match started {
            Ok((client, frame)) => {
                if let Some(session) = self.sessions.get_mut(&peer) {
                    session.client = Some(client);
                }
                self.send_sync(peer, frame);
            }
            Err(e) => self.finish_session(peer, Some(e)),
        }
    }

    fn send_sync(&mut self, peer: PeerId, frame: Vec<u8>) {
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, frame);
        self.requests.insert(id, peer);
    }

    fn on_sync_response(&mut self, peer: PeerId, frame: Vec<u8>) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let Some(client) = session.client.as_mut() else { return };
        match client.handle_response(&frame) {
            Ok(Progress { envelopes, next }) if envelopes.is_empty() => self.advance(peer, next),
            Ok(Progress { envelopes, next }) => {
                // Objects from sync go through the store's ingest exactly
                // like gossip; the session resumes once they are stored.
                session.report.received += envelopes.len();
                session.after_ingest = Some(next);
                let batch: Vec<Vec<u8>> = envelopes.into_iter().map(|e| e.into_bytes()).collect();
                self.ingest_sync(peer, batch);
            }
            Err(e) => {
                let fault = e.is_peer_fault();
                self.finish_session(peer, Some(e.to_string()));
                if fault {
                    self.strike(peer, &format!("bad sync response: {e}"));
                }
            }
        }
    }

    /// Sends a session's next request, or finishes it.
    fn advance(&mut self, peer: PeerId, step: ClientStep) {
        match step {
            ClientStep::Request(frame) => self.send_sync(peer, frame),
            ClientStep::Done => self.finish_session(peer, None),
        }
    }

    fn ingest_sync(&mut self, peer: PeerId, batch: Vec<Vec<u8>>) {
        let store = self.store.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || store.ingest(batch).map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = done.send(Internal::Ingested { origin: Origin::Sync { peer }, result }).await;
        });
    }

    fn finish_session(&mut self, peer: PeerId, error: Option<String>) {
        let Some(mut session) = self.sessions.remove(&peer) else { return };
        self.requests.retain(|_, p| *p != peer);
        let mut report = std::mem::take(&mut session.report);
        if let Some(c) = session.client.as_ref() {
            let s = c.stats();
            report.round_trips = s.round_trips;
            report.bytes_sent = s.bytes_sent;
            report.bytes_received = s.bytes_received;
            report.object_bytes = s.envelope_bytes;
            report.missing = s.received + s.ignored;
            report.have = s.have;
        }
        report.elapsed = session.started.elapsed();
        report.error = error;
        if report.error.is_none() {
            self.status.syncs_completed += 1;
        }
        tracing::debug!(%peer, ?report, "sync finished");
        self.emit(NetworkEvent::SyncFinished(report));
    }

    // ---------------------------------------------------------------- discipline

    fn strike(&mut self, peer: PeerId, reason: &str) {
        let max = self.config.limits.max_strikes;
        let Some(state) = self.peers.get_mut(&peer) else { return };
        state.strikes += 1;
        tracing::debug!(%peer, strikes = state.strikes, reason, "strike");
        if state.strikes >= max {
            self.ban(peer, format!("{max} protocol violations (last: {reason})"));
        }
    }

    fn ban(&mut self, peer: PeerId, reason: String) {
        if self.banned.contains_key(&peer) {
            return;
        }
        tracing::warn!(%peer, %reason, "banning peer");
        self.banned.insert(peer, Instant::now() + self.config.limits.ban_duration);
        self.status.peers_banned += 1;
        self.swarm.behaviour_mut().blocklist.block_peer(peer);
        let _ = self.swarm.disconnect_peer_id(peer);
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            kad.remove_peer(&peer);
        }
        self.emit(NetworkEvent::PeerBanned { peer, reason });
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        let expired: Vec<PeerId> = self.banned.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in expired {
            self.banned.remove(&peer);
            self.swarm.behaviour_mut().blocklist.unblock_peer(peer);
        }
        let timeout = self.config.limits.attestation_timeout;
        let late: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, s)| s.trust.is_none() && now.duration_since(s.connected_at) > timeout)
            .map(|(p, _)| *p)
            .collect();
        for peer in late {
            tracing::debug!(%peer, "no attestation in time; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let gossip = &self.swarm.behaviour().gossipsub;
        let graylisted: Vec<(PeerId, f64)> = self
            .peers
            .keys()
            .filter_map(|p| gossip.peer_score(p).filter(|s| *s < GRAYLIST_THRESHOLD).map(|s| (*p, s)))
            .collect();
        for (peer, score) in graylisted {
            self.ban(peer, format!("gossip score {score:.1} fell below the graylist threshold"));
        }
        if std::mem::take(&mut self.recheck_node_keys) {
            // A revocation of a connected node's key ends its connection.
            let revoked: Vec<(PeerId, PublicKey, PublicKey)> = self
                .peers
                .iter()
                .filter_map(|(p, s)| Some((*p, s.trust?, s.node_key?)))
                .filter(|(_, trust, node_key)| self.store.node_key_revoked(trust, node_key))
                .collect();
            for (peer, trust, node_key) in revoked {
                self.ban(peer, format!("node key {node_key} of trust {trust} is revoked"));
            }
        }
        let verified = self.peers.values().filter(|p| p.trust.is_some()).count();
        if verified == 0 {
            self.dial_bootstrap();
        }
    }

    /// Starts a Kademlia walk for peers near us, at most every 30 s: its
    /// dials introduce us to members beyond the bootstrap list.
    fn kad_bootstrap(&mut self) {
        if self.last_kad_bootstrap.is_some_and(|t| t.elapsed() < Duration::from_secs(30)) {
            return;
        }
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            if kad.bootstrap().is_ok() {
                self.last_kad_bootstrap = Some(Instant::now());
            }
        }
    }

    fn dial_bootstrap(&mut self) {
        // Retry at most every 10 s while isolated.
        if self.last_bootstrap_dial.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        self.last_bootstrap_dial = Some(Instant::now());
        let mut kad_seeded = false;
        for addr in self.config.bootstrap.clone() {
            let peer = peer_of(&addr);
            if peer.is_some_and(|p| self.peers.contains_key(&p) || p == self.peer_id) {
                continue;
            }
            if let (Some(p), Some(kad)) = (peer, self.swarm.behaviour_mut().kad.as_mut()) {
                kad.add_address(&p, addr.clone());
                kad_seeded = true;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "bootstrap dial failed");
            }
        }
        if kad_seeded {
            self.kad_bootstrap();
        }
    }
}
