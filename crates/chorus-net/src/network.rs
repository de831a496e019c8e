//! The running network: a task that owns the libp2p swarm, a cloneable
//! [`NetworkHandle`] to command it, and a bounded stream of
//! [`NetworkEvent`]s.

use std::time::Duration;

use chorus_core::{ObjectId, PublicKey, Rejection};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use crate::error::NetError;
use crate::splitview::SplitView;

/// How an object reached this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Pushed by gossip.
    Gossip,
    /// Pulled by catch-up (reconciliation).
    Sync,
}

/// Something the application may want to know. Events are delivered on a
/// bounded queue; when it is full, events are dropped (and counted in
/// [`NetStatus::events_dropped`]) rather than stalling the network.
#[derive(Clone, Debug)]
pub enum NetworkEvent {
    /// Listening on a new address.
    Listening {
        /// The address, without the `/p2p/` suffix.
        address: Multiaddr,
    },
    /// A connection to a peer opened (it is a stranger until verified).
    PeerConnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer proved it is a node of a member trust.
    PeerVerified {
        /// The peer.
        peer: PeerId,
        /// The trust it speaks for.
        trust: PublicKey,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer was disconnected and banned for misbehaving.
    PeerBanned {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// An object from a peer was validated and stored.
    ObjectStored {
        /// The object.
        id: ObjectId,
        /// A proposal this object made a position, if any.
        adopted: Option<ObjectId>,
        /// The peer it came from.
        from: PeerId,
        /// How.
        via: Via,
    },
    /// An object from a peer was refused; nothing was stored or forwarded.
    ObjectRefused {
        /// The peer it came from.
        from: PeerId,
        /// How.
        via: Via,
        /// Why.
        reason: Rejection,
    },
    /// A catch-up session with a peer ended.
    SyncFinished(SyncReport),
    /// A peer's sessions contradicted its signed head in
    /// `splitview::REPORT_AFTER_SESSIONS` consecutive sessions (or the
    /// evidence changed while reported): it shows this node a different
    /// history from the one it announces (PROTOCOL.md 13). Boxed: rare,
    /// and large beside the other events.
    SplitView(Box<SplitView>),
    /// A clean session with a peer ended its reported split view.
    SplitViewCleared {
        /// The peer.
        peer: PeerId,
    },
}

/// Figures of one finished catch-up session, as the initiator saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The peer reconciled with.
    pub peer: Option<PeerId>,
    /// Request/response exchanges (objects travel in the same exchanges
    /// as the reconciliation).
    pub round_trips: u32,
    /// Bytes sent in requests.
    pub bytes_sent: u64,
    /// Bytes received in responses.
    pub bytes_received: u64,
    /// Bytes of object envelopes among those received.
    pub object_bytes: u64,
    /// Objects the peer sent that we lacked (received, plus any of a newer
    /// protocol's kinds that were dropped).
    pub missing: usize,
    /// Objects we hold that the peer lacked; it pulls them in its own sync.
    pub have: usize,
    /// Objects handed to the store.
    pub received: usize,
    /// Objects newly stored.
    pub stored: usize,
    /// Objects refused.
    pub refused: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Why the session stopped early, if it did.
    pub error: Option<String>,
}

/// Whether a publish reached any peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Handed to gossip for at least one peer.
    Sent {
        /// The object.
        id: ObjectId,
    },
    /// No member peer is subscribed yet; the object (already stored) goes
    /// out by sync when peers appear.
    Deferred {
        /// The object.
        id: ObjectId,
    },
    /// Gossip has already seen this object (published or received before).
    AlreadyKnown {
        /// The object.
        id: ObjectId,
    },
}

/// One connected peer.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerInfo {
    /// Its peer id.
    pub peer: PeerId,
    /// The trust it proved to speak for; `None` for a stranger, an
    /// observer, or (on an observer node) a provisional peer, whose trust
    /// the roster does not name yet (PROTOCOL.md 14.9).
    pub trust: Option<PublicKey>,
    /// True for an admitted observer (PROTOCOL.md 14.9): never a member,
    /// list it as "observer".
    pub observer: bool,
    /// Its gossipsub score, if scored.
    pub score: Option<f64>,
    /// Address of one open connection.
    pub address: Option<Multiaddr>,
}

/// Counters and state of the running network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetStatus {
    /// This node's peer id.
    pub peer_id: Option<PeerId>,
    /// Addresses listened on.
    pub listen_addrs: Vec<Multiaddr>,
    /// Connected peers.
    pub connected: usize,
    /// Connected peers proved to be member nodes.
    pub verified: usize,
    /// Connected observers (PROTOCOL.md 14.9), never among `verified`.
    pub observers: usize,
    /// Member peers the node tries to stay connected to
    /// (`NetLimits::target_peers`); below it, it redials.
    pub target_peers: usize,
    /// Peers in the gossip mesh.
    pub mesh_peers: usize,
    /// Gossip messages received (after gossip's own dedup).
    pub gossip_received: u64,
    /// Objects stored from peers (gossip and sync).
    pub objects_stored: u64,
    /// Objects refused with verdict Reject.
    pub objects_rejected: u64,
    /// Gossip messages dropped by rate limits, full queues or from strangers.
    pub gossip_dropped: u64,
    /// Objects published by this node.
    pub published: u64,
    /// Catch-up sessions completed as initiator.
    pub syncs_completed: u64,
    /// Sync requests served.
    pub sync_requests_served: u64,
    /// Sync requests refused (rate limit, stranger budget, malformed).
    pub sync_requests_refused: u64,
    /// Peers banned.
    pub peers_banned: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Bytes written to connections; counted for the memory transport only
    /// (0 otherwise), for simulations.
    pub transport_bytes_sent: u64,
    /// Peers whose split view is reported now (PROTOCOL.md 13), sorted by
    /// peer.
    pub split_views: Vec<SplitView>,
}

pub use crate::event_loop::Network;

/// Receiver of [`NetworkEvent`]s, bounded by `NetLimits::event_queue`.
pub type NetworkEvents = mpsc::Receiver<NetworkEvent>;

/// A request from a [`NetworkHandle`] to the event loop.
pub(crate) enum Command {
    Publish { envelope: Vec<u8>, reply: oneshot::Sender<Result<PublishOutcome, NetError>> },
    Peers { reply: oneshot::Sender<Vec<PeerInfo>> },
    Dial { addr: Multiaddr, reply: oneshot::Sender<Result<(), NetError>> },
    SyncNow { reply: oneshot::Sender<usize> },
    Status { reply: oneshot::Sender<NetStatus> },
    Shutdown { reply: oneshot::Sender<()> },
}

/// A cloneable handle to the network task. Every method waits for the task's
/// answer; all fail with [`NetError::Stopped`] once the task has ended.
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) peer_id: PeerId,
}

impl NetworkHandle {
    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Sends an object this node has already stored to all member peers by
    /// gossip. With no peer yet, the object is not lost: it stays in the
    /// store and goes out by sync ([`PublishOutcome::Deferred`]).
    pub async fn publish(&self, envelope: Vec<u8>) -> Result<PublishOutcome, NetError> {
        self.ask(|reply| Command::Publish { envelope, reply }).await?
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetError> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Dials an address (optionally ending in `/p2p/<peer id>`). Returns once
    /// the dial has started; the connection shows up as events.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.ask(|reply| Command::Dial { addr, reply }).await?
    }

    /// Queues a catch-up session with every connected member peer not
    /// already syncing or waiting (sessions run one at a time, so that
    /// objects are downloaded once); returns how many were started or
    /// queued.
    pub async fn sync_now(&self) -> Result<usize, NetError> {
        self.ask(|reply| Command::SyncNow { reply }).await
    }

    /// Counters and state.
    pub async fn status(&self) -> Result<NetStatus, NetError> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// Stops the network task, closing every connection. Later calls on any
    /// handle fail with [`NetError::Stopped`].
    pub async fn shutdown(&self) -> Result<(), NetError> {
        self.ask(|reply| Command::Shutdown { reply }).await
    }
}
