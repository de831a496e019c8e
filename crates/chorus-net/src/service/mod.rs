//! The peer service: every peer-policy decision of a node, sans IO.
//!
//! [`Service::handle`] takes one [`Input`] (a swarm event translated by the
//! event loop, a command, the result of store work) and the current
//! [`Millis`], and returns the [`Output`]s the caller must carry out, in
//! order. The service never reads a clock, never touches a socket or the
//! store, and never blocks, so every rule here runs in tests on virtual
//! time (see `service/tests/` and `tests/service_sim.rs`).
//!
//! It owns:
//! - peer status ([`PeerStatus`]): strangers, members, and the place where
//!   observers go;
//! - per-peer token buckets for gossip and sync requests;
//! - strikes, rejects and bans with their expiry, decided only through the
//!   penalty table [`judge`];
//! - hello outcomes: a refused hello bans, a verified one makes a member, a
//!   stranger that does not prove membership in time is disconnected;
//! - sync scheduling: one session this node initiates at a time, so a node
//!   catching up from several peers downloads each object once; the peers
//!   waiting for their turn (on connect, a periodic round with the next
//!   member in turn, [`Input::SyncNow`]) queue first come first served; a
//!   time bound on a session, and back-off from a peer whose sessions
//!   failed (see `schedule.rs`);
//! - dial decisions: below the target number of members, known members'
//!   addresses and the bootstrap list redialled with capped, jittered
//!   back-off (see `dial.rs`); discovered peers below the target; DHT walks
//!   every 30 s below the target and every 5 min at it;
//! - our hello sent again (twice at most) when it got no answer.
//!
//! What it does not own: verifying a hello (the caller checks the
//! attestation against the store and passes the outcome), running a sync
//! session (the caller drives the sync client and reports how it ended),
//! and gossip's own scoring (the caller reports scores below the graylist).

mod dial;
mod observing;
mod peers;
mod penalty;
mod ratelimit;
mod schedule;
#[cfg(test)]
mod tests;
mod time;

use std::collections::BTreeMap;

use chorus_core::{Admission, ObserverAccess, PublicKey, Verdict};
use libp2p::gossipsub::MessageId;
use libp2p::{Multiaddr, PeerId};

pub use dial::{
    peer_of, redial_backoff, FIND_PEERS_INTERVAL, FIND_PEERS_REFRESH, FIND_PEERS_RETRY, FORGET_AFTER,
    MAX_DIALS_PER_TICK, MAX_KNOWN_PEERS, REDIAL_BASE, REDIAL_CAP, REDIAL_JITTER_PERCENT,
};
pub use observing::{
    refusal_backoff, MAX_PROVISIONAL_PEERS, MAX_REFUSED_OBSERVERS, OBSERVER_REFUSAL_MEMORY, REFUSAL_BACKOFF_BASE,
    REFUSAL_BACKOFF_CAP,
};
pub use peers::{Peer, PeerClass, PeerStatus};
pub use penalty::{judge, Acceptance, Conduct, Judgement, Penalty};
pub use schedule::{sync_backoff, SYNC_BACKOFF_BASE, SYNC_BACKOFF_MAX};
pub use time::Millis;

use crate::attestation::VerifiedAttestation;
use crate::config::{NetConfig, NetLimits};
use crate::error::{HelloRefusal, SyncFailure};
use crate::network::{NetStatus, NetworkEvent, SyncReport, Via};
use crate::sync::SyncError;
use dial::{Dial, Dialer};
use schedule::SyncSchedule;

/// Listen addresses kept per peer (from identify), for the DHT and for
/// redialling.
pub const MAX_ADDRS_PER_PEER: usize = 8;
/// Times our hello is sent again to a peer after it got no answer.
pub const MAX_HELLO_RETRIES: u32 = 2;

/// Which side of the hello exchange a peer's attestation arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloExchange {
    /// The peer sent its hello first; we answer with ours if we accept it.
    Request,
    /// The peer's answer to our hello: it accepted us.
    Response,
}

/// A gossip message whose object the store judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossiped {
    /// Gossip's id for it: SHA-256 of its bytes.
    pub id: MessageId,
    /// For an object the store already held: whether these bytes are those
    /// of the copy held. Another valid copy of a held object (another valid
    /// signature, or a genesis envelope with other signatures, which
    /// admission does not read) is not forwarded, so nobody can flood the
    /// topic with ever new copies of one object. Unused for other outcomes.
    pub held_bytes: bool,
}

/// Something that happened, for the service to decide on.
#[derive(Debug)]
pub enum Input {
    /// Time passed: expire bans, disconnect late strangers, run sync
    /// rounds, redial. The caller sends one at least every second.
    Tick,
    /// The first connection to a peer opened.
    Connected {
        /// The peer.
        peer: PeerId,
        /// The remote address of that connection.
        address: Multiaddr,
    },
    /// The last connection to a peer closed.
    Disconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer's hello, checked by the caller against the store.
    Hello {
        /// The peer.
        peer: PeerId,
        /// Request or response.
        exchange: HelloExchange,
        /// The verified attestation, or why it was refused.
        outcome: Result<VerifiedAttestation, HelloRefusal>,
    },
    /// On an observer node only: a member node's hello that passed every
    /// check of PROTOCOL.md 14.3 but membership (check 6), its signature
    /// checked under the trust id itself. The peer becomes a provisional
    /// sync source (at most [`MAX_PROVISIONAL_PEERS`]); a member node
    /// refuses it as `NotAMember`.
    ProvisionalHello {
        /// The peer.
        peer: PeerId,
        /// Request or response.
        exchange: HelloExchange,
        /// The attestation, verified but for membership.
        attestation: VerifiedAttestation,
    },
    /// The answer to [`Output::CheckMembership`]: the roster now names this
    /// provisional peer's trust.
    TrustKnown {
        /// The peer.
        peer: PeerId,
    },
    /// A peer's observer hello (`Hello.observe` = our coalition, no
    /// attestation; PROTOCOL.md 14.9), with the charter's setting now. A
    /// malformed one comes as [`Input::Hello`] with its refusal.
    ObserverHello {
        /// The peer.
        peer: PeerId,
        /// Request or response.
        exchange: HelloExchange,
        /// The observer setting of the charter in force
        /// (`ObjectStore::observer_access`).
        access: ObserverAccess,
    },
    /// The charter's observer setting in force changed (the caller reads
    /// `ObjectStore::observer_access` once a second and reports a change):
    /// connected observers are classified again, or disconnected under
    /// `None`.
    ObserverAccessChanged {
        /// The new setting.
        access: ObserverAccess,
    },
    /// Our hello to a peer got no answer (timeout, unsupported protocol,
    /// closed stream). It is sent again, [`MAX_HELLO_RETRIES`] times at
    /// most, while the peer has not accepted us (for a stranger, only
    /// within the attestation timeout); meanwhile the peer stays a
    /// stranger until its own hello arrives or its time runs out.
    HelloFailed {
        /// The peer.
        peer: PeerId,
        /// What the transport said.
        error: String,
    },
    /// The listen addresses a peer announced (identify).
    ListenAddrs {
        /// The peer.
        peer: PeerId,
        /// Its addresses.
        addrs: Vec<Multiaddr>,
    },
    /// Discovery (DHT, mDNS) found a peer.
    Discovered {
        /// The peer.
        peer: PeerId,
        /// One of its addresses.
        address: Multiaddr,
    },
    /// A gossip message arrived and waits for validation.
    Gossip {
        /// The peer that forwarded it.
        peer: PeerId,
        /// Gossip's id for it.
        message: MessageId,
        /// Its bytes.
        data: Vec<u8>,
        /// Whether the ingest queue has room for it now.
        queue_has_room: bool,
    },
    /// The store's answer for one object from a peer.
    Ingested {
        /// The peer it came from.
        peer: PeerId,
        /// How.
        via: Via,
        /// For an object that came by gossip: its message.
        message: Option<Gossiped>,
        /// The admission, or the store's failure.
        result: Result<Admission, String>,
    },
    /// A peer asked us for a sync response.
    SyncRequested {
        /// The peer.
        peer: PeerId,
        /// Whether a serving slot is free now.
        can_serve: bool,
    },
    /// A sync request we agreed to serve was answered, or failed.
    SyncServed {
        /// The peer.
        peer: PeerId,
        /// Why it could not be answered, if it could not.
        result: Result<(), SyncError>,
    },
    /// A sync request the codec could not read.
    SyncRequestUnreadable {
        /// The peer.
        peer: PeerId,
        /// What the codec said.
        error: String,
    },
    /// A sync session started by [`Output::StartSync`] ended.
    SyncEnded {
        /// The peer.
        peer: PeerId,
        /// Its figures (the error field is filled in by the service).
        report: SyncReport,
        /// Why it ended early, if it did.
        failure: Option<SyncFailure>,
    },
    /// Someone asked for a sync with every member peer now.
    SyncNow,
    /// This node stored and published an object of its own.
    Published,
    /// A peer's gossip score is below gossip's graylist threshold.
    Graylisted {
        /// The peer.
        peer: PeerId,
        /// Its score.
        score: f64,
    },
    /// The answer to [`Output::CheckRevocations`]: this peer's node key is
    /// revoked.
    NodeKeyRevoked {
        /// The peer.
        peer: PeerId,
        /// Its trust.
        trust: PublicKey,
        /// Its node key.
        node_key: PublicKey,
    },
    /// A [`Output::FindPeers`] walk could not start.
    FindPeersFailed,
    /// A dial failed (refused, unreachable, timed out). The service also
    /// assumes a dial it started is over after `NetConfig::dial_timeout`,
    /// so a caller that cannot report this only delays the next attempt.
    DialFailed {
        /// The peer dialled, if the dial named one.
        peer: Option<PeerId>,
        /// The addresses that failed, if known.
        addresses: Vec<Multiaddr>,
    },
}

/// Something the caller must do, in the order given.
#[derive(Debug)]
pub enum Output {
    /// Send our hello to the peer.
    SendHello(PeerId),
    /// Answer the peer's hello request with ours (it was accepted). A hello
    /// request not answered this way is dropped unanswered.
    AnswerHello(PeerId),
    /// Treat the peer's gossip as this class says.
    Classify {
        /// The peer.
        peer: PeerId,
        /// How to treat it.
        class: PeerClass,
    },
    /// Close every connection to the peer.
    Disconnect(PeerId),
    /// Refuse connections from the peer until `until` (when an
    /// [`Output::Unban`] follows), close its connections, and forget its
    /// routes.
    Ban {
        /// The peer.
        peer: PeerId,
        /// When the ban ends.
        until: Millis,
    },
    /// Accept connections from the peer again.
    Unban(PeerId),
    /// Tell gossip whether to forward a message and how to score its sender.
    ReportGossip {
        /// The message.
        message: MessageId,
        /// The peer that forwarded it.
        peer: PeerId,
        /// The verdict.
        acceptance: Acceptance,
        /// Whether gossip may credit the peer with delivering an accepted
        /// message first (a score reward). False for a peer that has not
        /// proved membership, whose score must stay below the publish and
        /// gossip thresholds however many valid objects it delivers.
        credit: bool,
    },
    /// Hand a gossiped object to the store; its [`Input::Ingested`] follows.
    Validate {
        /// The peer that forwarded it.
        peer: PeerId,
        /// The message.
        message: MessageId,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// Start a sync session with the peer; its [`Input::SyncEnded`] follows.
    StartSync(PeerId),
    /// End the session with the peer now (it disconnected, or ran past
    /// `NetLimits::sync_session_timeout`); its [`Input::SyncEnded`] follows,
    /// with any failure (the service records a time-out as
    /// [`SyncFailure::TimedOut`]).
    AbortSync(PeerId),
    /// Answer the peer's sync request; its [`Input::SyncServed`] follows. A
    /// sync request not answered this way is dropped unanswered.
    ServeSync(PeerId),
    /// Dial an address (a bootstrap peer).
    Dial(Multiaddr),
    /// Dial a discovered peer.
    DialPeer {
        /// The peer.
        peer: PeerId,
        /// The address found.
        address: Multiaddr,
    },
    /// Dial a known peer (a member seen before, or a bootstrap peer) at all
    /// its known addresses at once, the first to connect winning; nothing
    /// if it is connected or being dialled already. A failure comes back as
    /// [`Input::DialFailed`].
    Redial {
        /// The peer.
        peer: PeerId,
        /// Its addresses.
        addresses: Vec<Multiaddr>,
    },
    /// Add addresses of a member peer to the DHT's routing table.
    AddRoutes {
        /// The peer.
        peer: PeerId,
        /// Its addresses.
        addrs: Vec<Multiaddr>,
    },
    /// Walk the DHT for peers near us.
    FindPeers,
    /// Check these members' node keys against revocations; answer each
    /// revoked one with [`Input::NodeKeyRevoked`].
    CheckRevocations(Vec<(PeerId, PublicKey, PublicKey)>),
    /// Check whether the newest roster names these provisional peers'
    /// trusts; answer each named one with [`Input::TrustKnown`].
    CheckMembership(Vec<(PeerId, PublicKey)>),
    /// Tell the application.
    Emit(NetworkEvent),
}

/// The peer policy of one node.
#[derive(Debug)]
pub struct Service {
    local: PeerId,
    limits: NetLimits,
    peers: BTreeMap<PeerId, Peer>,
    bans: BTreeMap<PeerId, Millis>,
    schedule: SyncSchedule,
    dialer: Dialer,
    counters: NetStatus,
    /// Objects were stored since members' node keys were last checked
    /// against revocations.
    recheck_node_keys: bool,
    /// This node is an observer (PROTOCOL.md 14.9): it admits no observers.
    observing: bool,
    /// Peers refused as observers, and until when a new connection of
    /// theirs is closed at once (`observing.rs`).
    refused_observers: BTreeMap<PeerId, Millis>,
    out: Vec<Output>,
}

impl Service {
    /// The service of node `local` with `config`, at `now`. `config` is
    /// assumed valid ([`NetConfig::validate`]).
    pub fn new(local: PeerId, config: &NetConfig, now: Millis) -> Self {
        Service {
            local,
            limits: config.limits.clone(),
            peers: BTreeMap::new(),
            bans: BTreeMap::new(),
            schedule: SyncSchedule::new(config.sync_interval, config.limits.sync_session_timeout, now),
            dialer: Dialer::new(&local, config.bootstrap.clone(), config.limits.target_peers, config.dial_timeout),
            counters: NetStatus { peer_id: Some(local), ..NetStatus::default() },
            recheck_node_keys: false,
            observing: false,
            refused_observers: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// Marks this node as an observer (PROTOCOL.md 14.9): it sends the
    /// observer hello (the caller's part) and admits no observers itself.
    pub fn observing(mut self, observing: bool) -> Self {
        self.observing = observing;
        self
    }

    /// Decides on `input` at `now`; returns what the caller must do.
    pub fn handle(&mut self, input: Input, now: Millis) -> Vec<Output> {
        match input {
            Input::Tick => self.tick(now),
            Input::Connected { peer, address } => self.connected(peer, address, now),
            Input::Disconnected { peer } => self.disconnected(peer, now),
            Input::Hello { peer, exchange, outcome } => self.hello(peer, exchange, outcome, now),
            Input::ProvisionalHello { peer, exchange, attestation } => {
                self.provisional_hello(peer, exchange, attestation, now)
            }
            Input::TrustKnown { peer } => self.trust_known(peer, now),
            Input::ObserverHello { peer, exchange, access } => self.observer_hello(peer, exchange, access, now),
            Input::ObserverAccessChanged { access } => self.observer_access_changed(access),
            Input::HelloFailed { peer, error } => self.hello_failed(peer, error, now),
            Input::ListenAddrs { peer, addrs } => self.listen_addrs(peer, addrs, now),
            Input::Discovered { peer, address } => self.discovered(peer, address, now),
            Input::Gossip { peer, message, data, queue_has_room } => {
                self.gossip(peer, message, data, queue_has_room, now)
            }
            Input::Ingested { peer, via, message, result } => self.ingested(peer, via, message, result, now),
            Input::SyncRequested { peer, can_serve } => self.sync_requested(peer, can_serve, now),
            Input::SyncServed { peer, result } => match result {
                Ok(()) => self.counters.sync_requests_served += 1,
                Err(e) => {
                    self.counters.sync_requests_refused += 1;
                    if !e.is_peer_fault() {
                        tracing::warn!(%peer, error = %e, "could not answer a sync request");
                    }
                    self.punish(peer, Conduct::BadSyncRequest(&e), None, now);
                }
            },
            Input::SyncRequestUnreadable { peer, error } => {
                self.punish(peer, Conduct::UnreadableSyncRequest(&error), None, now)
            }
            Input::SyncEnded { peer, report, failure } => self.sync_ended(peer, report, failure, now),
            Input::SyncNow => {
                for peer in self.sync_candidates(None) {
                    self.schedule.request(peer);
                }
                self.start_next_sync(now);
            }
            Input::Published => self.recheck_node_keys = true,
            Input::Graylisted { peer, score } => self.punish(peer, Conduct::Graylisted { score }, None, now),
            Input::NodeKeyRevoked { peer, trust, node_key } => {
                self.punish(peer, Conduct::NodeKeyRevoked { trust: &trust, node_key: &node_key }, None, now)
            }
            Input::FindPeersFailed => self.dialer.find_peers_failed(now),
            Input::DialFailed { peer, addresses } => self.dialer.dial_failed(peer, &addresses),
        }
        std::mem::take(&mut self.out)
    }

    /// The connected peers.
    pub fn peers(&self) -> impl Iterator<Item = (&PeerId, &Peer)> {
        self.peers.iter()
    }

    /// One connected peer.
    pub fn peer(&self, peer: &PeerId) -> Option<&Peer> {
        self.peers.get(peer)
    }

    /// When the peer's ban ends, if it is banned.
    pub fn banned_until(&self, peer: &PeerId) -> Option<Millis> {
        self.bans.get(peer).copied()
    }

    /// True while a sync session with the peer runs.
    pub fn is_syncing(&self, peer: &PeerId) -> bool {
        self.schedule.is_running(peer)
    }

    /// Sync sessions running: at most one.
    pub fn syncing(&self) -> usize {
        self.schedule.running()
    }

    /// Peers with a sync session running or waiting for its turn.
    pub fn sync_pending(&self) -> usize {
        self.schedule.pending()
    }

    /// Counters, and connected and verified peers. Listen addresses, the
    /// mesh, publishes, dropped events and transport bytes are the caller's
    /// to fill in.
    pub fn status(&self) -> NetStatus {
        NetStatus {
            connected: self.peers.len(),
            verified: self.members(),
            observers: self.peers.values().filter(|p| p.is_observer()).count(),
            target_peers: self.dialer.target_peers,
            ..self.counters.clone()
        }
    }

    /// Member peers, provisional ones not counted.
    fn members(&self) -> usize {
        self.peers.values().filter(|p| p.is_member() && !p.provisional).count()
    }

    fn emit(&mut self, event: NetworkEvent) {
        self.out.push(Output::Emit(event));
    }

    // ------------------------------------------------------------ time

    fn tick(&mut self, now: Millis) {
        let expired: Vec<PeerId> = self.bans.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in expired {
            self.bans.remove(&peer);
            self.out.push(Output::Unban(peer));
        }
        let timeout = self.limits.attestation_timeout;
        let late: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.is_stranger() && now.since(p.connected_at) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for peer in late {
            tracing::debug!(%peer, "no attestation in time; disconnecting");
            self.out.push(Output::Disconnect(peer));
        }
        self.expire_refused_observers(now);
        if std::mem::take(&mut self.recheck_node_keys) {
            let provisional = self.provisional_trusts();
            if !provisional.is_empty() {
                self.out.push(Output::CheckMembership(provisional));
            }
            let members: Vec<(PeerId, PublicKey, PublicKey)> = self
                .peers
                .iter()
                .filter_map(|(id, p)| match p.status {
                    PeerStatus::Member { trust, node_key } => Some((*id, trust, node_key)),
                    PeerStatus::Stranger | PeerStatus::Observer { .. } => None,
                })
                .collect();
            if !members.is_empty() {
                self.out.push(Output::CheckRevocations(members));
            }
        }
        self.sync_tick(now);
        self.redial(now);
    }

    // ------------------------------------------------------------ connections

    fn connected(&mut self, peer: PeerId, address: Multiaddr, now: Millis) {
        self.dialer.connected(peer, &address);
        self.peers.entry(peer).or_insert_with(|| Peer::new(Some(address), &self.limits, now));
        self.emit(NetworkEvent::PeerConnected { peer });
        if self.bans.contains_key(&peer) {
            // The shell's block list refuses banned peers before this; a
            // caller without one still gets the ban enforced.
            self.out.push(Output::Disconnect(peer));
            return;
        }
        if self.recently_refused_observer(&peer, now) {
            // Refused as an observer a moment ago: spare us its hello.
            tracing::debug!(%peer, "refused as an observer within the last minute; disconnecting");
            self.out.push(Output::Disconnect(peer));
            return;
        }
        let strangers = self.peers.values().filter(|p| p.is_stranger()).count();
        if strangers > self.limits.max_strangers as usize {
            tracing::debug!(%peer, strangers, "too many unverified peers; disconnecting");
            self.out.push(Output::Disconnect(peer));
            return;
        }
        self.out.push(Output::Classify { peer, class: PeerClass::Stranger });
        self.out.push(Output::SendHello(peer));
    }

    fn disconnected(&mut self, peer: PeerId, now: Millis) {
        if self.observing && self.peers.get(&peer).is_some_and(|p| !p.accepted_us) {
            // A member's node refuses an observer by closing the connection
            // without answering its hello (PROTOCOL.md 14.9).
            tracing::warn!(%peer, "the peer closed the connection without answering our observer hello: the coalition does not admit observers, or the peer has no observer place free");
            self.observer_hello_refused(peer, now);
        }
        if self.peers.remove(&peer).is_some() {
            self.emit(NetworkEvent::PeerDisconnected { peer });
        }
        if self.schedule.is_running(&peer) {
            self.out.push(Output::AbortSync(peer));
        }
    }

    fn hello(
        &mut self,
        peer: PeerId,
        exchange: HelloExchange,
        outcome: Result<VerifiedAttestation, HelloRefusal>,
        now: Millis,
    ) {
        let verified = match outcome {
            Ok(v) => v,
            Err(refusal) => return self.punish(peer, Conduct::HelloRefused(&refusal), None, now),
        };
        let Some(state) = self.peers.get_mut(&peer) else { return };
        if !state.is_member() {
            state.status = PeerStatus::Member { trust: verified.trust(), node_key: verified.node_key() };
            let addrs = state.listen_addrs.clone();
            tracing::debug!(%peer, trust = %verified.trust(), "peer verified");
            self.out.push(Output::Classify { peer, class: PeerClass::Member });
            self.dialer.remember(peer, &addrs, now);
            self.dialer.verified(peer, now);
            if !addrs.is_empty() {
                self.out.push(Output::AddRoutes { peer, addrs });
            }
            self.find_peers(now, FIND_PEERS_INTERVAL);
            self.emit(NetworkEvent::PeerVerified { peer, trust: verified.trust() });
        } else if state.provisional {
            // A provisional peer's trust is a member now.
            self.trust_known(peer, now);
        }
        self.hello_exchange(peer, exchange, now);
    }

    /// What follows a member node's accepted hello: answering a request, or
    /// syncing from a peer that answered ours.
    fn hello_exchange(&mut self, peer: PeerId, exchange: HelloExchange, now: Millis) {
        match exchange {
            HelloExchange::Request => self.out.push(Output::AnswerHello(peer)),
            HelloExchange::Response => {
                if let Some(state) = self.peers.get_mut(&peer) {
                    state.accepted_us = true;
                }
                self.dialer.accepted(peer);
                self.request_sync(peer, now);
            }
        }
    }

    /// An observer's hello: admitted (answered, kept connected, classified)
    /// when the charter admits observers, this node is not one, and an
    /// observer place is free; else left unanswered and the peer
    /// disconnected, without a ban.
    fn observer_hello(&mut self, peer: PeerId, exchange: HelloExchange, access: ObserverAccess, now: Millis) {
        let observers = self.peers.values().filter(|p| p.is_observer()).count();
        let max = self.limits.max_observers as usize;
        let Some(state) = self.peers.get_mut(&peer) else { return };
        if state.is_member() {
            // A member's node never sets `observe`; it keeps what it proved.
            return;
        }
        let admitted = !self.observing && access != ObserverAccess::None && (state.is_observer() || observers < max);
        if !admitted {
            tracing::info!(%peer, ?access, observers, observing = self.observing, "observer not admitted; disconnecting");
            self.apply(peer, judge(&Conduct::ObserverNotAdmitted).penalty, &Conduct::ObserverNotAdmitted, now);
            self.remember_refused_observer(peer, now);
            return self.out.push(Output::Disconnect(peer));
        }
        if !state.is_observer() {
            state.status = PeerStatus::Observer { access };
            // Observers have their own, lower sync budget.
            state.sync_requests = ratelimit::TokenBucket::new(
                self.limits.observer_sync_requests_per_sec,
                self.limits.observer_sync_burst,
                now,
            );
            tracing::debug!(%peer, ?access, "observer admitted");
            self.out.push(Output::Classify { peer, class: PeerClass::observer(access) });
        }
        if exchange == HelloExchange::Request {
            self.out.push(Output::AnswerHello(peer));
        }
    }

    fn observer_access_changed(&mut self, access: ObserverAccess) {
        if access != ObserverAccess::None {
            // Refusals for want of a setting no longer in force.
            self.refused_observers.clear();
        }
        let observers: Vec<PeerId> = self.peers.iter().filter(|(_, p)| p.is_observer()).map(|(id, _)| *id).collect();
        for peer in observers {
            if access == ObserverAccess::None {
                tracing::info!(%peer, "the charter no longer admits observers; disconnecting");
                self.out.push(Output::Disconnect(peer));
                continue;
            }
            if let Some(state) = self.peers.get_mut(&peer) {
                state.status = PeerStatus::Observer { access };
            }
            self.out.push(Output::Classify { peer, class: PeerClass::observer(access) });
        }
    }

    fn listen_addrs(&mut self, peer: PeerId, mut addrs: Vec<Multiaddr>, now: Millis) {
        addrs.truncate(MAX_ADDRS_PER_PEER);
        let Some(state) = self.peers.get_mut(&peer) else { return };
        state.listen_addrs = addrs.clone();
        if state.is_member() && !state.provisional && !addrs.is_empty() {
            self.dialer.remember(peer, &addrs, now);
            self.out.push(Output::AddRoutes { peer, addrs });
        }
    }

    // ------------------------------------------------------------ dialling

    fn discovered(&mut self, peer: PeerId, address: Multiaddr, now: Millis) {
        if peer == self.local
            || self.peers.contains_key(&peer)
            || self.bans.get(&peer).is_some_and(|until| *until > now)
            || self.dialer.is_dialling(&peer, now)
            || self.peers.len() >= self.dialer.target_peers
        {
            return;
        }
        self.out.push(Output::DialPeer { peer, address });
    }

    /// Below the target number of members: dials the known targets that
    /// are due, and walks the DHT every [`FIND_PEERS_INTERVAL`]; at the
    /// target, walks it every [`FIND_PEERS_REFRESH`].
    fn redial(&mut self, now: Millis) {
        if self.members() >= self.dialer.target_peers {
            self.find_peers(now, FIND_PEERS_REFRESH);
            return;
        }
        let (local, peers, bans) = (self.local, &self.peers, &self.bans);
        let skip = |p: &PeerId| *p == local || peers.contains_key(p) || bans.contains_key(p);
        for dial in self.dialer.due(now, skip, MAX_DIALS_PER_TICK) {
            match dial {
                Dial::Peer { peer, addresses, seed } => {
                    if !seed.is_empty() {
                        // A bootstrap peer also seeds the DHT.
                        self.out.push(Output::AddRoutes { peer, addrs: seed });
                    }
                    self.out.push(Output::Redial { peer, addresses });
                }
                Dial::Address(addr) => self.out.push(Output::Dial(addr)),
            }
        }
        self.find_peers(now, FIND_PEERS_INTERVAL);
    }

    fn find_peers(&mut self, now: Millis, interval: std::time::Duration) {
        if self.dialer.find_peers_due(now, interval) {
            self.out.push(Output::FindPeers);
        }
    }

    /// Sends our hello again after it got no answer, if the peer has not
    /// accepted us, retries are left, and a stranger's time is not up.
    fn hello_failed(&mut self, peer: PeerId, error: String, now: Millis) {
        let timeout = self.limits.attestation_timeout;
        let Some(state) = self.peers.get_mut(&peer) else { return };
        let time_left = state.is_member() || now.since(state.connected_at) < timeout;
        if state.accepted_us || state.hello_retries >= MAX_HELLO_RETRIES || !time_left {
            if self.observing && !state.accepted_us {
                // A member's node refuses an observer by leaving its hello
                // unanswered (PROTOCOL.md 14.9).
                tracing::warn!(%peer, %error, "no answer to our observer hello: the coalition does not admit observers, or this node has no observer place free");
            } else {
                tracing::debug!(%peer, %error, "hello failed");
            }
            return;
        }
        state.hello_retries += 1;
        tracing::debug!(%peer, %error, retry = state.hello_retries, "hello failed; sending it again");
        self.out.push(Output::SendHello(peer));
    }

    // ------------------------------------------------------------ gossip and objects

    /// Every copy is judged by its content, whoever forwarded it: a
    /// stranger's valid copy is stored and forwarded like a member's, so a
    /// copy from a peer whose gossip would otherwise be ignored cannot make
    /// gossip's duplicate cache drop the same bytes from a member. Only our
    /// own limits (an unknown peer, a rate overrun, a full queue) drop a copy
    /// unread. A stranger's messages past its budget still cost a strike
    /// each; their content is judged all the same (the strikes ban it soon).
    fn gossip(&mut self, peer: PeerId, message: MessageId, data: Vec<u8>, queue_has_room: bool, now: Millis) {
        self.counters.gossip_received += 1;
        let budget = self.limits.stranger_gossip_budget;
        let Some(state) = self.peers.get_mut(&peer) else {
            self.counters.gossip_dropped += 1;
            return self.punish(peer, Conduct::GossipFromUnknown, Some(message), now);
        };
        if state.is_observer() {
            // An observer may not publish: its messages are never validated
            // or stored, and cost nothing. Once it is classified gossipsub
            // drops them unread, so only one already on its way gets here.
            self.counters.gossip_dropped += 1;
            return self.punish(peer, Conduct::ObserverGossip, Some(message), now);
        }
        let conduct = if !state.gossip.take(now) {
            Conduct::GossipRateExceeded
        } else if !queue_has_room {
            // The store is behind: drop rather than queue without bound.
            Conduct::IngestQueueFull
        } else {
            let stranger = match state.status {
                PeerStatus::Stranger => {
                    state.stranger_messages += 1;
                    Some(Conduct::StrangerGossip { over_budget: state.stranger_messages > budget })
                }
                PeerStatus::Member { .. } | PeerStatus::Observer { .. } => None,
            };
            self.out.push(Output::Validate { peer, message, data });
            if let Some(conduct) = stranger {
                // About the peer, not the message: no gossip verdict here.
                self.apply(peer, judge(&conduct).penalty, &conduct, now);
            }
            return;
        };
        self.counters.gossip_dropped += 1;
        self.punish(peer, conduct, Some(message), now);
    }

    fn ingested(
        &mut self,
        peer: PeerId,
        via: Via,
        message: Option<Gossiped>,
        result: Result<Admission, String>,
        now: Millis,
    ) {
        let admission = match result {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%peer, ?via, error = %e, "store failed on an object from a peer; it is not forwarded");
                return self.punish(peer, Conduct::StoreFailed(&e), message.map(|m| m.id), now);
            }
        };
        let event = match &admission {
            Admission::Stored { id, adopted } => {
                self.counters.objects_stored += 1;
                self.recheck_node_keys = true;
                Some(NetworkEvent::ObjectStored { id: *id, adopted: *adopted, from: peer, via })
            }
            Admission::Duplicate { .. } => None,
            Admission::Refused(reason) => {
                if reason.verdict() == Verdict::Reject {
                    self.counters.objects_rejected += 1;
                }
                Some(NetworkEvent::ObjectRefused { from: peer, via, reason: reason.clone() })
            }
        };
        let member = self.peers.get(&peer).is_some_and(|p| p.is_member());
        let conduct = match (&admission, &message) {
            (Admission::Duplicate { id }, Some(m)) if !m.held_bytes => Conduct::OtherCopy(id),
            (Admission::Refused(rejection), Some(_)) if !member => Conduct::RefusedFromStranger(rejection),
            _ => Conduct::Admission(&admission),
        };
        // Gossip's verdict first (it forwards a valid object at once), then
        // the application's event, then any ban it caused.
        let judgement = judge(&conduct);
        if let Some(message) = message {
            // A stranger's first deliveries would lift its gossip score over
            // the publish and gossip thresholds: only members earn them.
            let credit = member;
            self.out.push(Output::ReportGossip { message: message.id, peer, acceptance: judgement.acceptance, credit });
        }
        if let Some(event) = event {
            self.emit(event);
        }
        self.apply(peer, judgement.penalty, &conduct, now);
    }

    // ------------------------------------------------------------ sync

    fn sync_requested(&mut self, peer: PeerId, can_serve: bool, now: Millis) {
        let conduct = match self.peers.get_mut(&peer) {
            Some(state) if state.is_member() || state.is_observer() => {
                if !state.sync_requests.take(now) {
                    Conduct::SyncRateExceeded
                } else if !can_serve {
                    Conduct::ServeBusy
                } else {
                    return self.out.push(Output::ServeSync(peer));
                }
            }
            _ => Conduct::SyncFromStranger,
        };
        self.counters.sync_requests_refused += 1;
        self.punish(peer, conduct, None, now);
    }

    // ------------------------------------------------------------ discipline

    /// Judges `conduct` with the table, reports a gossiped message's
    /// acceptance first (so gossip's score reflects it), then applies the
    /// penalty. With [`Service::ingested`], the only callers of [`judge`]:
    /// no penalty comes from anywhere else.
    fn punish(&mut self, peer: PeerId, conduct: Conduct<'_>, message: Option<MessageId>, now: Millis) {
        let judgement = judge(&conduct);
        if let Some(message) = message {
            self.out.push(Output::ReportGossip { message, peer, acceptance: judgement.acceptance, credit: false });
        }
        self.apply(peer, judgement.penalty, &conduct, now);
    }

    /// Applies a penalty [`judge`] decided for `conduct`: the only place
    /// strikes, rejects and bans are counted.
    fn apply(&mut self, peer: PeerId, penalty: Penalty, conduct: &Conduct<'_>, now: Millis) {
        match penalty {
            Penalty::Nothing => {}
            Penalty::Ban => self.ban(peer, conduct.to_string(), now),
            Penalty::Strike => {
                let max = self.limits.max_strikes;
                let Some(state) = self.peers.get_mut(&peer) else { return };
                state.strikes += 1;
                let strikes = state.strikes;
                tracing::debug!(%peer, strikes, reason = %conduct, "strike");
                if strikes >= max {
                    self.ban(peer, format!("{max} protocol violations (last: {conduct})"), now);
                }
            }
            Penalty::Reject => {
                let max = self.limits.max_rejects;
                let Some(state) = self.peers.get_mut(&peer) else { return };
                state.rejects += 1;
                let n = state.rejects;
                if n >= max {
                    self.ban(peer, format!("sent {n} invalid objects (last: {conduct})"), now);
                }
            }
        }
    }

    fn ban(&mut self, peer: PeerId, reason: String, now: Millis) {
        if self.bans.contains_key(&peer) {
            return;
        }
        tracing::warn!(%peer, %reason, "banning peer");
        let until = now + self.limits.ban_duration;
        self.bans.insert(peer, until);
        self.counters.peers_banned += 1;
        self.out.push(Output::Ban { peer, until });
        self.emit(NetworkEvent::PeerBanned { peer, reason });
    }
}
