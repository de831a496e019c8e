//! What the service knows about each connected peer.

use chorus_core::{ObserverAccess, PublicKey};
use libp2p::Multiaddr;

use super::ratelimit::TokenBucket;
use super::time::Millis;
use crate::config::NetLimits;

/// What a connected peer has proved. Every rule that depends on who a peer
/// is matches on this, so each kind of peer says what it may do.
// One per connected peer, matched in place, never moved in bulk: boxing
// the keys would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerStatus {
    /// Connected, no hello verified yet. Its gossip is judged by content
    /// like a member's (past `NetLimits::stranger_gossip_budget` messages,
    /// each also costs a strike), it is sent no gossip and served no sync,
    /// and it is disconnected after `NetLimits::attestation_timeout`.
    Stranger,
    /// Proved at its hello to be a node of a member trust.
    Member {
        /// The trust it speaks for.
        trust: PublicKey,
        /// Its node key, checked again against revocations.
        node_key: PublicKey,
    },
    /// Asked at its hello to follow the coalition as an observer
    /// (PROTOCOL.md 14.9) and was admitted under the charter's `access`
    /// (never `ObserverAccess::None`). It proved only its peer key: it is
    /// never counted or listed as a member, its gossip is dropped unread
    /// without penalty (gossipsub's blacklist, before gossip's duplicate
    /// cache sees it), it is sent gossip only under `Everything`, served
    /// the observer-visible set by sync at the observer rate, and not
    /// disconnected by the hello timeout.
    Observer {
        /// The charter's setting when it was admitted.
        access: ObserverAccess,
    },
}

/// How gossip should treat a peer (the shell turns this into gossipsub's
/// application score, and for an observer its blacklist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerClass {
    /// Below gossip's publish and gossip thresholds: nothing is sent to it
    /// and its gossip is not taken, but its subscription is remembered.
    Stranger,
    /// A member node: scored by gossip's own rules only.
    Member,
    /// An observer: like a member for gossip's score when it `receives`
    /// (the charter says `Everything`), so objects are forwarded to it;
    /// like a stranger otherwise. Its own messages are dropped unread,
    /// without penalty, before gossip's duplicate cache records them, so
    /// its copy of an object never makes a member's copy a duplicate.
    Observer {
        /// Whether gossip is sent to it.
        receives: bool,
    },
}

impl PeerClass {
    /// An observer's class under the charter's `access`: sent gossip only
    /// under `Everything`.
    pub fn observer(access: ObserverAccess) -> Self {
        PeerClass::Observer { receives: access == ObserverAccess::Everything }
    }
}

/// One connected peer.
#[derive(Clone, Debug)]
pub struct Peer {
    pub(crate) status: PeerStatus,
    pub(crate) connected_at: Millis,
    pub(crate) address: Option<Multiaddr>,
    pub(crate) listen_addrs: Vec<Multiaddr>,
    /// True once the peer answered our hello, i.e. it accepted us.
    pub(crate) accepted_us: bool,
    /// Times our hello was sent again after it got no answer.
    pub(crate) hello_retries: u32,
    pub(crate) gossip: TokenBucket,
    pub(crate) sync_requests: TokenBucket,
    pub(crate) strikes: u32,
    pub(crate) rejects: u32,
    pub(crate) stranger_messages: u32,
    /// Sync sessions with it that failed in a row.
    pub(crate) sync_failures: u32,
    /// No periodic sync with it before this (back-off after failures).
    pub(crate) sync_not_before: Millis,
    /// On an observer node: a member node whose trust the roster does not
    /// name yet, a sync source until it does (PROTOCOL.md 14.9).
    pub(crate) provisional: bool,
}

impl Peer {
    pub(crate) fn new(address: Option<Multiaddr>, limits: &NetLimits, now: Millis) -> Self {
        Peer {
            status: PeerStatus::Stranger,
            connected_at: now,
            address,
            listen_addrs: Vec::new(),
            accepted_us: false,
            hello_retries: 0,
            gossip: TokenBucket::new(limits.gossip_per_sec, limits.gossip_burst, now),
            sync_requests: TokenBucket::new(limits.sync_requests_per_sec, limits.sync_burst, now),
            strikes: 0,
            rejects: 0,
            stranger_messages: 0,
            sync_failures: 0,
            sync_not_before: now,
            provisional: false,
        }
    }

    /// What it has proved.
    pub fn status(&self) -> PeerStatus {
        self.status
    }

    /// The trust it proved to speak for; `None` for a stranger.
    pub fn trust(&self) -> Option<PublicKey> {
        match self.status {
            PeerStatus::Member { trust, .. } => Some(trust),
            PeerStatus::Stranger | PeerStatus::Observer { .. } => None,
        }
    }

    /// The node key it proved at its hello; `None` for a stranger.
    pub fn node_key(&self) -> Option<PublicKey> {
        match self.status {
            PeerStatus::Member { node_key, .. } => Some(node_key),
            PeerStatus::Stranger | PeerStatus::Observer { .. } => None,
        }
    }

    /// True for a member node.
    pub fn is_member(&self) -> bool {
        matches!(self.status, PeerStatus::Member { .. })
    }

    /// On an observer node: true for a member node whose trust the roster
    /// does not name yet (a provisional sync source, PROTOCOL.md 14.9).
    pub fn is_provisional(&self) -> bool {
        self.provisional
    }

    /// True for an admitted observer.
    pub fn is_observer(&self) -> bool {
        matches!(self.status, PeerStatus::Observer { .. })
    }

    /// True for a peer that has proved nothing yet.
    pub fn is_stranger(&self) -> bool {
        matches!(self.status, PeerStatus::Stranger)
    }

    /// Address of the connection that opened first.
    pub fn address(&self) -> Option<&Multiaddr> {
        self.address.as_ref()
    }

    /// When it connected.
    pub fn connected_at(&self) -> Millis {
        self.connected_at
    }

    /// Strikes so far.
    pub fn strikes(&self) -> u32 {
        self.strikes
    }

    /// Invalid objects so far.
    pub fn rejects(&self) -> u32 {
        self.rejects
    }

    /// True once it answered our hello.
    pub fn accepted_us(&self) -> bool {
        self.accepted_us
    }
}
