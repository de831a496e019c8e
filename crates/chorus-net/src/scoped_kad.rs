//! Kademlia that tells member addresses to member nodes only, unless the
//! charter lets observers see everything (PROTOCOL.md 14.6, 14.9).
//!
//! libp2p's Kademlia answers every `FIND_NODE`, `GET_PROVIDERS` and
//! `GET_VALUE` from its routing table, which holds only member nodes here;
//! it has no hook to choose whom to answer. This wrapper passes everything
//! through, except the answer to such a request from a peer that is not a
//! member node (a stranger or an observer) while the node is *closed*: that
//! answer is dropped, so the request goes unanswered and the peer learns no
//! address. The behaviour queues an inbound request's event and its answer
//! one right after the other, in one step, so the answer is the first
//! `NotifyHandler` that follows the request's event.

use std::collections::HashSet;
use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::kad;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

type Inner = kad::Behaviour<kad::store::MemoryStore>;

/// [`kad::Behaviour`] answering non-members only while open.
pub(crate) struct ScopedKad {
    inner: Inner,
    /// Peers proved to be member nodes: always answered.
    members: HashSet<PeerId>,
    /// Answer every peer (the charter's observer setting is Everything).
    open: bool,
    /// Set by an inbound request's event: the next `NotifyHandler` answers it.
    answer_next: bool,
    /// Answers dropped, for tests.
    pub(crate) withheld: u64,
}

impl ScopedKad {
    pub(crate) fn new(inner: Inner) -> Self {
        ScopedKad { inner, members: HashSet::new(), open: false, answer_next: false, withheld: 0 }
    }

    /// Whether non-members are answered (the charter says Everything).
    pub(crate) fn set_open(&mut self, open: bool) {
        self.open = open;
    }

    /// Whether `peer` is a member node now.
    pub(crate) fn set_member(&mut self, peer: PeerId, member: bool) {
        if member {
            self.members.insert(peer);
        } else {
            self.members.remove(&peer);
        }
    }

    fn may_answer(&self, peer: &PeerId) -> bool {
        self.open || self.members.contains(peer)
    }
}

impl Deref for ScopedKad {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl DerefMut for ScopedKad {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl NetworkBehaviour for ScopedKad {
    type ConnectionHandler = <Inner as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = kad::Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner.handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(connection_id, peer, local_addr, remote_addr)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(connection_id, maybe_peer, addresses, effective_role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_outbound_connection(connection_id, peer, addr, role_override, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        self.inner.on_swarm_event(event)
    }

    fn on_connection_handler_event(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner.on_connection_handler_event(peer_id, connection_id, event)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            let event = match self.inner.poll(cx) {
                Poll::Ready(event) => event,
                Poll::Pending => return Poll::Pending,
            };
            match &event {
                ToSwarm::GenerateEvent(kad::Event::InboundRequest { request }) => {
                    self.answer_next = matches!(
                        request,
                        kad::InboundRequest::FindNode { .. }
                            | kad::InboundRequest::GetProvider { .. }
                            | kad::InboundRequest::GetRecord { .. }
                    );
                }
                ToSwarm::NotifyHandler { peer_id, .. } if std::mem::take(&mut self.answer_next) => {
                    let answer = self.may_answer(peer_id);
                    if !answer {
                        tracing::debug!(peer = %peer_id, "DHT request from a non-member left unanswered");
                        self.withheld += 1;
                        continue;
                    }
                }
                _ => {}
            }
            return Poll::Ready(event);
        }
    }
}
