//! Dial decisions: the bootstrap list while the node is isolated, peers
//! found by discovery while below the target, and how often to walk the DHT.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::time::Millis;

/// Bootstrap peers are dialled again at most this often while the node is
/// isolated.
pub const BOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
/// A Kademlia walk for peers near us starts at most this often.
pub const FIND_PEERS_INTERVAL: Duration = Duration::from_secs(30);

/// The peer id an address ends with (`/p2p/<id>`), if any.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

#[derive(Debug)]
pub(crate) struct Dialer {
    pub(crate) bootstrap: Vec<Multiaddr>,
    pub(crate) target_peers: usize,
    last_bootstrap: Option<Millis>,
    last_find_peers: Option<Millis>,
}

impl Dialer {
    pub(crate) fn new(bootstrap: Vec<Multiaddr>, target_peers: usize) -> Self {
        Dialer { bootstrap, target_peers, last_bootstrap: None, last_find_peers: None }
    }

    /// Whether the node should dial its bootstrap list, given how many
    /// member peers it has. Today: only when it has none. Issue 13's
    /// self-healing connectivity replaces this with "below the target
    /// number of members", with back-off and jitter per address.
    pub(crate) fn wants_bootstrap(&self, members: usize) -> bool {
        members == 0
    }

    /// True (and remembered) if a bootstrap round may start at `now`.
    pub(crate) fn bootstrap_due(&mut self, now: Millis) -> bool {
        if self.last_bootstrap.is_some_and(|t| now < t + BOOTSTRAP_RETRY) {
            return false;
        }
        self.last_bootstrap = Some(now);
        true
    }

    /// True (and remembered) if a DHT walk may start at `now`.
    pub(crate) fn find_peers_due(&mut self, now: Millis) -> bool {
        if self.last_find_peers.is_some_and(|t| now < t + FIND_PEERS_INTERVAL) {
            return false;
        }
        self.last_find_peers = Some(now);
        true
    }

    /// The walk could not start (an empty routing table): the next chance
    /// need not wait the interval.
    pub(crate) fn find_peers_failed(&mut self) {
        self.last_find_peers = None;
    }
}
