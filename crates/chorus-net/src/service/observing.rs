//! The service's rules that exist only because of observers (PROTOCOL.md
//! 14.9), apart from admitting one:
//! - on an observer node, a member-node hello from a trust its roster does
//!   not know yet makes a *provisional* sync source, at most
//!   [`MAX_PROVISIONAL_PEERS`] at once, made a member once the roster the
//!   observer syncs names the trust;
//! - on an observer node, a peer that left our observer hello unanswered is
//!   redialled only after [`refusal_backoff`];
//! - on a member node, a peer refused as an observer is disconnected at
//!   once, without a hello, for [`OBSERVER_REFUSAL_MEMORY`].

use std::time::Duration;

use chorus_core::PublicKey;
use libp2p::PeerId;

use super::peers::{PeerClass, PeerStatus};
use super::time::{doubling_backoff, Millis};
use super::{HelloExchange, Output, Service, FIND_PEERS_INTERVAL};
use crate::attestation::VerifiedAttestation;
use crate::error::{AttestationError, HelloRefusal};
use crate::network::NetworkEvent;

/// Provisional sync sources an observer node keeps at once; a further one
/// is disconnected without a ban.
pub const MAX_PROVISIONAL_PEERS: usize = 4;
/// First wait before an observer redials a peer that left its hello
/// unanswered.
pub const REFUSAL_BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Longest such wait.
pub const REFUSAL_BACKOFF_CAP: Duration = Duration::from_secs(30 * 60);
/// How long a member node closes, without a hello, each new connection of
/// a peer it refused as an observer.
pub const OBSERVER_REFUSAL_MEMORY: Duration = Duration::from_secs(60);
/// Peers refused as observers remembered at once; beyond, a refusal is not
/// remembered (the peer only costs a hello more).
pub const MAX_REFUSED_OBSERVERS: usize = 256;

/// The wait before redialling a peer after its `refusals`-th unanswered
/// observer hello in a row (1 = the first): 30 s doubling to 30 min.
pub fn refusal_backoff(refusals: u32) -> Duration {
    doubling_backoff(REFUSAL_BACKOFF_BASE, REFUSAL_BACKOFF_CAP, refusals)
}

impl Service {
    /// A member-node hello, well-formed, for our coalition, signed by the
    /// trust it names, unexpired, for the connection's node, but whose trust
    /// our roster does not know. Only an observer node takes it, as a
    /// provisional sync source (everything it sends is verified by ingest);
    /// a member node refuses it as 14.3 says.
    pub(super) fn provisional_hello(
        &mut self,
        peer: PeerId,
        exchange: HelloExchange,
        attestation: VerifiedAttestation,
        now: Millis,
    ) {
        if !self.observing {
            let refusal = HelloRefusal::Attestation(AttestationError::NotAMember(attestation.trust().to_hex()));
            return self.punish(peer, super::Conduct::HelloRefused(&refusal), None, now);
        }
        let provisional = self.peers.values().filter(|p| p.provisional).count();
        let Some(state) = self.peers.get_mut(&peer) else { return };
        if !state.is_member() {
            if provisional >= MAX_PROVISIONAL_PEERS {
                tracing::info!(%peer, trust = %attestation.trust(), "a node of a trust not known yet, and every provisional place is taken; disconnecting");
                return self.out.push(Output::Disconnect(peer));
            }
            state.status = PeerStatus::Member { trust: attestation.trust(), node_key: attestation.node_key() };
            state.provisional = true;
            tracing::info!(%peer, trust = %attestation.trust(), "a node of a trust not known yet: a provisional sync source until the roster names the trust");
            self.out.push(Output::Classify { peer, class: PeerClass::Member });
            self.dialer.verified(peer, now);
        }
        self.hello_exchange(peer, exchange, now);
    }

    /// The provisional peers and their trusts, to check against the roster
    /// once objects were stored.
    pub(super) fn provisional_trusts(&self) -> Vec<(PeerId, PublicKey)> {
        self.peers.iter().filter(|(_, p)| p.provisional).filter_map(|(id, p)| p.trust().map(|t| (*id, t))).collect()
    }

    /// The roster now names the trust of provisional peer `peer`: it is a
    /// member peer like any other from now on.
    pub(super) fn trust_known(&mut self, peer: PeerId, now: Millis) {
        let Some(state) = self.peers.get_mut(&peer) else { return };
        if !state.provisional {
            return;
        }
        state.provisional = false;
        let Some(trust) = state.trust() else { return };
        let addrs = state.listen_addrs.clone();
        tracing::debug!(%peer, %trust, "the roster now names the trust of a provisional peer: peer verified");
        self.dialer.remember(peer, &addrs, now);
        if !addrs.is_empty() {
            self.out.push(Output::AddRoutes { peer, addrs });
        }
        self.find_peers(now, FIND_PEERS_INTERVAL);
        self.emit(NetworkEvent::PeerVerified { peer, trust });
    }

    /// On an observer node: `peer` closed the connection without answering
    /// our observer hello; it is redialled only after [`refusal_backoff`].
    pub(super) fn observer_hello_refused(&mut self, peer: PeerId, now: Millis) {
        if let Some(wait) = self.dialer.refused(peer, now) {
            tracing::info!(%peer, wait_secs = wait.as_secs(), "not redialling the peer before the wait");
        }
    }

    /// On a member node: remembers that `peer` was refused as an observer.
    pub(super) fn remember_refused_observer(&mut self, peer: PeerId, now: Millis) {
        if self.refused_observers.len() < MAX_REFUSED_OBSERVERS || self.refused_observers.contains_key(&peer) {
            self.refused_observers.insert(peer, now + OBSERVER_REFUSAL_MEMORY);
        }
    }

    /// True if `peer` was refused as an observer within
    /// [`OBSERVER_REFUSAL_MEMORY`].
    pub(super) fn recently_refused_observer(&self, peer: &PeerId, now: Millis) -> bool {
        self.refused_observers.get(peer).is_some_and(|until| now < *until)
    }

    /// Forgets refusals older than [`OBSERVER_REFUSAL_MEMORY`].
    pub(super) fn expire_refused_observers(&mut self, now: Millis) {
        self.refused_observers.retain(|_, until| now < *until);
    }
}
