//! The event loop: one task owns the swarm and translates between it and
//! the peer [`Service`]. Swarm events, commands and the results of blocking
//! work become the service's [`Input`]s; its [`Output`]s become swarm calls,
//! events and blocking work. Every peer-policy decision is the service's;
//! this file only moves data and runs sync sessions and store work.
//! Blocking work (store reads and writes, snapshots) runs on tokio's
//! blocking pool and reports back over a bounded channel. The clock is read
//! in one place, `Clock::now`, and passed to the service.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_core::{Admission, ObserverAccess};
use chorus_proto::v1 as pb;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, kad, mdns, ping, PeerId, Swarm};
use prost::Message;
use tokio::sync::{mpsc, Semaphore};

use crate::attestation::NodeIdentity;
use crate::behaviour::{
    build_swarm, topic_for, Behaviour, BehaviourEvent, GRAYLIST_THRESHOLD, OBSERVER_SCORE, STRANGER_SCORE,
};
use crate::config::NetConfig;
use crate::error::{NetError, SyncFailure};
use crate::network::{Command, NetworkEvent, NetworkEvents, NetworkHandle, PeerInfo, PublishOutcome, Via};
use crate::service::{Acceptance, Gossiped, Input, Millis, Output, PeerClass, Service};
use crate::store::{now_ms, ObjectStore};
use crate::sync::{ClientStep, Progress, SyncClient, SyncError, SyncLimits, SyncServer, SyncSnapshot};
use blocking::{ingest_worker, Internal, Origin, SnapshotCache};
use liveness::Liveness;
use sessions::Sessions;

mod blocking;
mod heads;
mod hello;
mod liveness;
mod sessions;

/// Longest time between two [`Input::Tick`]s.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

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
        let clock = Clock::start();
        let coalition = store.coalition().clone();
        // Our own trust need not be a member of the roster our store knows
        // yet: a newly admitted trust's node learns its admission from the
        // peers that hold it (and accept its hello). Everything else about
        // the attestation is checked. An observer has none to check.
        if let Some(attestation) = identity.attestation() {
            attestation.verify_with(
                &coalition,
                |t| Some(store.keys_of(t).unwrap_or_else(|| vec![*t])),
                None,
                clock.wall_ms(clock.now()),
            )?;
        }
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
        let hello = match identity.attestation() {
            Some(attestation) => pb::Hello { attestation: Some(attestation.to_proto()), observe: Vec::new() },
            None => pb::Hello { attestation: None, observe: coalition.id().as_bytes().to_vec() },
        }
        .encode_to_vec();
        let (commands, command_rx) = mpsc::channel(config.limits.command_queue);
        let (events_tx, events) = mpsc::channel(config.limits.event_queue);
        let (gossip_tx, gossip_rx) = mpsc::channel(config.limits.ingest_queue);
        let (internal_tx, internal_rx) = mpsc::channel(config.limits.ingest_queue.max(1024));
        let serve_permits = Arc::new(Semaphore::new(config.limits.max_concurrent_serves));
        let observer_permits = Arc::new(Semaphore::new(config.limits.max_concurrent_observer_serves));
        let observing = identity.is_observer();
        let store: Arc<dyn ObjectStore> = store;
        tokio::spawn(ingest_worker(store.clone(), gossip_rx, internal_tx.clone()));
        let service = Service::new(peer_id, &config, clock.now()).observing(identity.is_observer());
        let mut event_loop = EventLoop {
            swarm,
            store,
            tick_every: HOUSEKEEPING.min(config.sync_interval),
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
            observer_permits,
            observing,
            observer_access: None,
            snapshots: Arc::new(SnapshotCache::default()),
            service,
            clock,
            sessions: Sessions::default(),
            requests: HashMap::new(),
            hello_requests: HashMap::new(),
            hello_answers: HashMap::new(),
            liveness: Liveness::new(config.ping_interval + config.ping_timeout),
            sync_answers: HashMap::new(),
            published: 0,
            events_dropped: 0,
            written,
            node_key: identity.key().clone(),
            split_views: Default::default(),
        };
        // The first tick dials the bootstrap peers.
        event_loop.step(Input::Tick);
        tokio::spawn(event_loop.run());
        Ok((NetworkHandle { commands, peer_id }, events))
    }
}

/// The one reader of the clock: monotonic milliseconds since the loop
/// started, and the wall time (for attestation expiry) derived from it.
struct Clock {
    origin: Instant,
    origin_wall_ms: u64,
}

impl Clock {
    fn start() -> Self {
        Clock { origin: Instant::now(), origin_wall_ms: now_ms() }
    }

    fn now(&self) -> Millis {
        Millis(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// Milliseconds since the Unix epoch at `now`.
    fn wall_ms(&self, now: Millis) -> u64 {
        self.origin_wall_ms.saturating_add(now.0)
    }
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    store: Arc<dyn ObjectStore>,
    tick_every: Duration,
    coalition: chorus_core::Coalition,
    topic: gossipsub::IdentTopic,
    hello: Vec<u8>,
    peer_id: PeerId,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    gossip_tx: mpsc::Sender<blocking::GossipJob>,
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: mpsc::Receiver<Internal>,
    serve_permits: Arc<Semaphore>,
    /// Serving slots of observers, apart from members' (PROTOCOL.md 14.9).
    observer_permits: Arc<Semaphore>,
    /// This node is an observer: it forwards no gossip (PROTOCOL.md 14.9).
    observing: bool,
    /// The charter's observer setting at the last housekeeping tick.
    observer_access: Option<ObserverAccess>,
    snapshots: Arc<SnapshotCache>,
    service: Service,
    clock: Clock,
    sessions: Sessions,
    requests: HashMap<OutboundRequestId, PeerId>,
    hello_requests: HashMap<OutboundRequestId, PeerId>,
    /// A hello request's channel while the service decides on it.
    hello_answers: HashMap<PeerId, ResponseChannel<Vec<u8>>>,
    /// Which connections still answer pings.
    liveness: Liveness,
    /// A sync request's channel and frame while the service decides on it.
    sync_answers: HashMap<PeerId, (ResponseChannel<Vec<u8>>, Vec<u8>)>,
    published: u64,
    events_dropped: u64,
    written: Arc<AtomicU64>,
    /// Signs the heads this node serves (PROTOCOL.md 13).
    node_key: chorus_core::Keypair,
    split_views: crate::splitview::SplitViews,
}

impl EventLoop {
    async fn run(mut self) {
        let mut housekeeping = tokio::time::interval(self.tick_every);
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
            }
        }
        tracing::debug!(peer = %self.peer_id, "network stopped");
    }

    /// Hands `input` to the service and carries out its outputs, and the
    /// outputs of any input those produce, in order.
    fn step(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let now = self.clock.now();
            for output in self.service.handle(input, now) {
                self.execute(output, now, &mut queue);
            }
        }
    }

    fn execute(&mut self, output: Output, now: Millis, queue: &mut VecDeque<Input>) {
        match output {
            Output::SendHello(peer) => {
                let id = self.swarm.behaviour_mut().hello.send_request(&peer, self.hello.clone());
                self.hello_requests.insert(id, peer);
            }
            Output::AnswerHello(peer) => {
                if let Some(channel) = self.hello_answers.remove(&peer) {
                    let _ = self.swarm.behaviour_mut().hello.send_response(channel, self.hello.clone());
                }
            }
            Output::Classify { peer, class } => {
                let score = match class {
                    PeerClass::Stranger => STRANGER_SCORE,
                    PeerClass::Member => 0.0,
                    PeerClass::Observer { receives: true } => OBSERVER_SCORE,
                    PeerClass::Observer { receives: false } => STRANGER_SCORE,
                };
                let gossip = &mut self.swarm.behaviour_mut().gossipsub;
                gossip.set_application_score(&peer, score);
                // gossipsub drops a blacklisted peer's messages before its
                // duplicate cache records their ids, with no score penalty;
                // ignoring an observer's copy after that would make a
                // member's identical copy a duplicate for the cache's
                // lifetime (PROTOCOL.md 14.4). Sending to it is unaffected.
                if matches!(class, PeerClass::Observer { .. }) {
                    gossip.blacklist_peer(&peer);
                } else {
                    gossip.remove_blacklisted_peer(&peer);
                }
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    kad.set_member(peer, class == PeerClass::Member);
                }
            }
            Output::Disconnect(peer) => {
                let _ = self.swarm.disconnect_peer_id(peer);
            }
            Output::Ban { peer, .. } => {
                self.swarm.behaviour_mut().blocklist.block_peer(peer);
                let _ = self.swarm.disconnect_peer_id(peer);
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    kad.remove_peer(&peer);
                    kad.set_member(peer, false);
                }
            }
            Output::Unban(peer) => {
                self.swarm.behaviour_mut().blocklist.unblock_peer(peer);
            }
            Output::ReportGossip { message, peer, acceptance, credit } => {
                let local = self.peer_id;
                let gossip = &mut self.swarm.behaviour_mut().gossipsub;
                let acceptance = match acceptance {
                    Acceptance::Accept => gossipsub::MessageAcceptance::Accept,
                    Acceptance::Ignore => gossipsub::MessageAcceptance::Ignore,
                    Acceptance::Reject => gossipsub::MessageAcceptance::Reject,
                };
                // An observer forwards nothing: members would count its copies
                // as its own publishing (PROTOCOL.md 14.9).
                let acceptance = if self.observing && acceptance == gossipsub::MessageAcceptance::Accept {
                    gossipsub::MessageAcceptance::Ignore
                } else {
                    acceptance
                };
                let rejected = acceptance == gossipsub::MessageAcceptance::Reject;
                // gossipsub credits the source it is told with an accepted
                // message's first delivery. Naming ourselves instead (no
                // score of our own, never a recipient) forwards it uncredited;
                // a rejected or ignored message always names the sender.
                let source = if credit || acceptance != gossipsub::MessageAcceptance::Accept { peer } else { local };
                gossip.report_message_validation_result(&message, &source, acceptance);
                // gossipsub ignores a graylisted peer's messages, so the
                // service's count of its invalid objects could stall: tell it.
                let score = if rejected { gossip.peer_score(&peer) } else { None };
                if let Some(score) = score.filter(|s| *s < GRAYLIST_THRESHOLD) {
                    queue.push_back(Input::Graylisted { peer, score });
                }
            }
            Output::Validate { peer, message, data } => {
                // A copy from a peer that proved nothing is admitted only if
                // admissible now: it never enters the waiting pool.
                let member = self.service.peer(&peer).is_some_and(|p| p.is_member());
                let job = blocking::GossipJob { message, source: peer, data, keep_waiting: member };
                if let Err(e) = self.gossip_tx.try_send(job) {
                    // Unreachable: the service was told the queue had room
                    // and nothing else sends on it.
                    let blocking::GossipJob { message, source: peer, .. } = e.into_inner();
                    let result = Err("ingest queue full".to_string());
                    let message = Some(Gossiped { id: message, held_bytes: false });
                    queue.push_back(Input::Ingested { peer, via: Via::Gossip, message, result });
                }
            }
            Output::StartSync(peer) => self.start_sync(peer, now),
            Output::AbortSync(peer) => {
                if let Some(input) = self.finish_session(peer, Some(SyncFailure::Disconnected)) {
                    queue.push_back(input);
                }
            }
            Output::ServeSync(peer) => {
                if let Some((channel, request)) = self.sync_answers.remove(&peer) {
                    self.serve(peer, request, channel, now);
                }
            }
            Output::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::debug!(%addr, error = %e, "bootstrap dial failed");
                    queue.push_back(Input::DialFailed { peer: None, addresses: vec![addr] });
                }
            }
            Output::DialPeer { peer, address } => {
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer).addresses(vec![address]).build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(%peer, error = %e, "discovery dial failed");
                }
            }
            Output::Redial { peer, addresses } => {
                let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer).addresses(addresses.clone()).build();
                if let Err(e) = self.swarm.dial(opts) {
                    tracing::debug!(%peer, error = %e, "redial failed");
                    queue.push_back(Input::DialFailed { peer: Some(peer), addresses });
                }
            }
            Output::AddRoutes { peer, addrs } => {
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    for a in addrs {
                        kad.add_address(&peer, a);
                    }
                }
            }
            Output::FindPeers => {
                let started = self.swarm.behaviour_mut().kad.as_mut().is_some_and(|kad| kad.bootstrap().is_ok());
                if !started {
                    queue.push_back(Input::FindPeersFailed);
                }
            }
            Output::CheckRevocations(members) => {
                for (peer, trust, node_key) in members {
                    if self.store.node_key_revoked(&trust, &node_key) {
                        queue.push_back(Input::NodeKeyRevoked { peer, trust, node_key });
                    }
                }
            }
            Output::CheckMembership(provisional) => {
                for (peer, trust) in provisional {
                    if self.store.keys_of(&trust).is_some() {
                        queue.push_back(Input::TrustKnown { peer });
                    }
                }
            }
            Output::Emit(event) => {
                if self.events.try_send(event).is_err() {
                    self.events_dropped += 1;
                }
            }
        }
    }

    fn housekeeping(&mut self) {
        self.close_dead_connections();
        // Non-members learn member addresses from the DHT only when the
        // charter in force lets observers see everything (PROTOCOL.md 14.6).
        let access = self.store.observer_access();
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            kad.set_open(access == ObserverAccess::Everything);
        }
        if self.observer_access.replace(access).is_some_and(|before| before != access) {
            self.step(Input::ObserverAccessChanged { access });
        }
        self.step(Input::Tick);
        let gossip = &self.swarm.behaviour().gossipsub;
        let graylisted: Vec<(PeerId, f64)> = self
            .service
            .peers()
            .filter_map(|(p, _)| gossip.peer_score(p).filter(|s| *s < GRAYLIST_THRESHOLD).map(|s| (*p, s)))
            .collect();
        for (peer, score) in graylisted {
            self.step(Input::Graylisted { peer, score });
        }
    }

    /// Closes every connection that answered no ping for
    /// `ping_interval + ping_timeout` (see `liveness.rs`).
    fn close_dead_connections(&mut self) {
        for connection in self.liveness.take_dead(self.clock.now()) {
            tracing::debug!(%connection, "no ping answered; closing the connection");
            self.swarm.close_connection(connection);
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
                    .service
                    .peers()
                    .map(|(peer, p)| PeerInfo {
                        peer: *peer,
                        // A provisional peer has proved no membership yet.
                        trust: p.trust().filter(|_| !p.is_provisional()),
                        observer: p.is_observer(),
                        score: gossip.peer_score(peer),
                        address: p.address().cloned(),
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
                // Sessions run one at a time: count those started or queued.
                let before = self.service.sync_pending();
                self.step(Input::SyncNow);
                let _ = reply.send(self.service.sync_pending().saturating_sub(before));
            }
            Command::Status { reply } => {
                let mut status = self.service.status();
                status.listen_addrs = self.swarm.listeners().cloned().collect();
                status.mesh_peers = self.swarm.behaviour().gossipsub.mesh_peers(&self.topic.hash()).count();
                status.transport_bytes_sent = self.written.load(Ordering::Relaxed);
                status.published = self.published;
                status.events_dropped = self.events_dropped;
                status.split_views = self.split_views.reported();
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
        self.step(Input::Published);
        match self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), envelope) {
            Ok(_) => {
                self.published += 1;
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
                self.execute_emit(NetworkEvent::Listening { address });
            }
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, num_established, .. } => {
                self.liveness.opened(connection_id, self.clock.now());
                if num_established.get() == 1 {
                    let address = endpoint.get_remote_address().clone();
                    self.step(Input::Connected { peer: peer_id, address });
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, .. } => {
                self.liveness.closed(connection_id);
                if num_established == 0 {
                    // gossipsub ignores a whole connection from a blacklisted
                    // peer: an observer that comes back is a stranger until
                    // its next hello, so it leaves the blacklist now.
                    self.swarm.behaviour_mut().gossipsub.remove_blacklisted_peer(&peer_id);
                    self.step(Input::Disconnected { peer: peer_id })
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, %error, "dial failed");
                let addresses = match &error {
                    libp2p::swarm::DialError::Transport(tried) => tried.iter().map(|(a, _)| a.clone()).collect(),
                    _ => Vec::new(),
                };
                self.step(Input::DialFailed { peer: peer_id, addresses });
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn execute_emit(&mut self, event: NetworkEvent) {
        let mut none = VecDeque::new();
        self.execute(Output::Emit(event), self.clock.now(), &mut none);
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                let queue_has_room = self.gossip_tx.capacity() > 0;
                self.step(Input::Gossip {
                    peer: propagation_source,
                    message: message_id,
                    data: message.data,
                    queue_has_room,
                });
            }
            BehaviourEvent::Hello(event) => self.on_hello(event),
            BehaviourEvent::Sync(event) => self.on_sync(event),
            // libp2p's ping only reports a failure (the second in a row);
            // closing the connection is ours, so a dead link is noticed in
            // bounded time rather than after TCP's retransmission back-off.
            BehaviourEvent::Ping(ping::Event { connection, result: Ok(_), .. }) => {
                self.liveness.answered(connection, self.clock.now());
            }
            BehaviourEvent::Ping(ping::Event { peer, connection, result: Err(error) }) => {
                tracing::debug!(%peer, %error, "ping failed; closing the connection");
                self.liveness.closed(connection);
                self.swarm.close_connection(connection);
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.step(Input::ListenAddrs { peer: peer_id, addrs: info.listen_addrs });
            }
            BehaviourEvent::Kad(kad::Event::RoutablePeer { peer, address })
            | BehaviourEvent::Kad(kad::Event::PendingRoutablePeer { peer, address }) => {
                self.step(Input::Discovered { peer, address })
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::GetClosestPeers(Ok(ok)),
                ..
            }) => {
                for info in ok.peers {
                    if let Some(address) = info.addrs.into_iter().next() {
                        self.step(Input::Discovered { peer: info.peer_id, address });
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    self.step(Input::Discovered { peer, address });
                }
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- internal results

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Ingested { origin: Origin::Gossip { message_id, source, held_bytes }, result } => {
                let result = match result {
                    Ok(mut admissions) if admissions.len() == 1 => Ok(admissions.remove(0)),
                    Ok(admissions) => Err(format!("store answered {} admissions for 1 object", admissions.len())),
                    Err(e) => Err(e),
                };
                if matches!(result, Ok(Admission::Stored { .. })) {
                    self.snapshots.invalidate();
                }
                let message = Some(Gossiped { id: message_id, held_bytes });
                self.step(Input::Ingested { peer: source, via: Via::Gossip, message, result });
            }
            Internal::Ingested { origin: Origin::Sync { peer, session }, result } => {
                let admissions = match result {
                    Ok(a) => a,
                    Err(e) => {
                        // A late failure of an ended session ends no newer one.
                        if !self.sessions.is_current(&peer, session) {
                            return;
                        }
                        if let Some(input) = self.finish_session(peer, Some(SyncFailure::Store(e))) {
                            self.step(input);
                        }
                        return;
                    }
                };
                let stored = admissions.iter().filter(|a| matches!(a, Admission::Stored { .. })).count();
                let refused = admissions.iter().filter(|a| matches!(a, Admission::Refused(_))).count();
                if stored > 0 {
                    self.snapshots.invalidate();
                }
                for admission in admissions {
                    self.step(Input::Ingested { peer, via: Via::Sync, message: None, result: Ok(admission) });
                }
                // The objects are stored whichever session fetched them; only
                // the session that asked for them is credited and resumed.
                let next = self.sessions.current(&peer, session).and_then(|session| {
                    session.report.stored += stored;
                    session.report.refused += refused;
                    session.after_ingest.take()
                });
                if let Some(step) = next {
                    self.advance(peer, step);
                }
            }
            Internal::SnapshotReady { peer, session, result } => self.on_snapshot(peer, session, result),
            Internal::SessionJudged { peer, outcome } => self.observe_split_view(peer, outcome),
            Internal::Served { peer, channel, result } => {
                let result = match result {
                    Ok(frame) => {
                        let _ = self.swarm.behaviour_mut().sync.send_response(channel, frame);
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                self.step(Input::SyncServed { peer, result });
            }
        }
    }

    // ---------------------------------------------------------------- sync: serving

    fn on_sync(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let permits = if self.is_observer(&peer) { &self.observer_permits } else { &self.serve_permits };
                    let can_serve = permits.available_permits() > 0;
                    self.sync_answers.insert(peer, (channel, request));
                    self.step(Input::SyncRequested { peer, can_serve });
                    // Not served: refused.
                    self.sync_answers.remove(&peer);
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(peer) = self.requests.remove(&request_id) {
                        self.on_sync_response(peer, response);
                    }
                }
            },
            request_response::Event::OutboundFailure { request_id, peer, error, .. }
                if self.requests.remove(&request_id).is_some() =>
            {
                if let Some(input) = self.finish_session(peer, Some(SyncFailure::Request(error.to_string()))) {
                    self.step(input);
                }
            }
            // Only our codec's bound or a broken frame produce Io errors.
            request_response::Event::InboundFailure {
                peer, error: request_response::InboundFailure::Io(e), ..
            } => {
                self.step(Input::SyncRequestUnreadable { peer, error: e.to_string() });
            }
            _ => {}
        }
    }

    fn is_observer(&self, peer: &PeerId) -> bool {
        self.service.peer(peer).is_some_and(|p| p.is_observer())
    }

    fn serve(&mut self, peer: PeerId, request: Vec<u8>, channel: ResponseChannel<Vec<u8>>, now: Millis) {
        let observer = self.service.peer(&peer).and_then(|p| match p.status() {
            crate::service::PeerStatus::Observer { access } => Some(access),
            _ => None,
        });
        let permits = if observer.is_some() { &self.observer_permits } else { &self.serve_permits };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Unreachable: the service was told a permit was free and only
            // this task takes them.
            return;
        };
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        let done = self.internal_tx.clone();
        let (coalition, node_key) = (self.coalition.id(), self.node_key.clone());
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                // An observer is served what the charter in force lets it see
                // (PROTOCOL.md 14.9), checked again at each request.
                let access = observer.map(|_| store.observer_access());
                let (snapshot, roster) = match access {
                    None | Some(ObserverAccess::Everything) => {
                        snapshots.get_with_roster(store.as_ref(), now).map_err(SyncError::Local)?
                    }
                    Some(ObserverAccess::Positions) => {
                        let set = store.observer_served_set().map_err(|e| SyncError::Local(e.to_string()))?;
                        (SyncSnapshot::new(set.items), (set.roster_heads, set.roster_version))
                    }
                    Some(ObserverAccess::None) => {
                        return Err(SyncError::Local("the charter admits no observers now".into()));
                    }
                };
                let server = SyncServer::new(snapshot, SyncLimits::default())?;
                // Signed only when asked for and sent (PROTOCOL.md 13.1).
                server.handle_request_with_head(
                    &request,
                    |id| store.get(id).ok().flatten(),
                    |snapshot| heads::sign_head(coalition, snapshot, roster, now_ms(), &node_key),
                )
            })
            .await
            .unwrap_or_else(|e| Err(SyncError::Local(e.to_string())));
            let _ = done.send(Internal::Served { peer, channel, result }).await;
        });
    }

    // ---------------------------------------------------------------- sync: initiating

    fn start_sync(&mut self, peer: PeerId, now: Millis) {
        let session = self.sessions.start(peer, now);
        let store = self.store.clone();
        let snapshots = self.snapshots.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || snapshots.get(store.as_ref(), now))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = done.send(Internal::SnapshotReady { peer, session, result }).await;
        });
    }

    fn on_snapshot(&mut self, peer: PeerId, session: u64, result: Result<SyncSnapshot, String>) {
        if !self.sessions.is_current(&peer, session) {
            return;
        }
        let started = result.and_then(|snapshot| {
            let mut client = SyncClient::new(&snapshot, SyncLimits::default()).map_err(|e| e.to_string())?;
            // The key it proved at its hello (PROTOCOL.md 13.1).
            if let Some(key) = self.service.peer(&peer).and_then(|p| p.node_key()) {
                client.ask_head(key);
            }
            let frame = client.initiate().map_err(|e| e.to_string())?;
            Ok((client, frame))
        });
        match started {
            Ok((client, frame)) => {
                if let Some(session) = self.sessions.current(&peer, session) {
                    session.client = Some(client);
                }
                self.send_sync(peer, frame);
            }
            Err(e) => {
                if let Some(input) = self.finish_session(peer, Some(SyncFailure::Start(e))) {
                    self.step(input);
                }
            }
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
                let number = session.number;
                let batch: Vec<Vec<u8>> = envelopes.into_iter().map(|e| e.into_bytes()).collect();
                self.ingest_sync(peer, number, batch);
            }
            Err(e) => {
                if let Some(input) = self.finish_session(peer, Some(SyncFailure::Response(e))) {
                    self.step(input);
                }
            }
        }
    }

    /// Sends a session's next request, or finishes it.
    fn advance(&mut self, peer: PeerId, step: ClientStep) {
        match step {
            ClientStep::Request(frame) => self.send_sync(peer, frame),
            ClientStep::Done => {
                if let Some(input) = self.finish_session(peer, None) {
                    self.step(input);
                }
            }
        }
    }

    fn ingest_sync(&mut self, peer: PeerId, session: u64, batch: Vec<Vec<u8>>) {
        let store = self.store.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || store.ingest(batch).map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = done.send(Internal::Ingested { origin: Origin::Sync { peer, session }, result }).await;
        });
    }

    /// Ends the shell's side of a session: the input that tells the service.
    fn finish_session(&mut self, peer: PeerId, failure: Option<SyncFailure>) -> Option<Input> {
        let mut session = self.sessions.remove(&peer)?;
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
        report.elapsed = self.clock.now().since(session.started);
        self.judge_split_view(peer, session.client.as_ref(), &report, failure.is_some());
        Some(Input::SyncEnded { peer, report, failure })
    }
}
