//! The event loop's side of the hello (PROTOCOL.md 14.3, 14.9): reading a
//! peer's hello frame and checking it against the store, for the service to
//! decide on.

use chorus_core::PublicKey;
use libp2p::request_response;
use libp2p::PeerId;

use super::EventLoop;
use crate::attestation::{NodeAttestation, VerifiedAttestation};
use crate::error::{AttestationError, HelloRefusal};
use crate::hello::{parse_hello, HelloClaim};
use crate::service::{HelloExchange, Input};

impl EventLoop {
    pub(super) fn on_hello(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let input = self.read_hello(peer, HelloExchange::Request, &request);
                    self.hello_answers.insert(peer, channel);
                    self.step(input);
                    // Not answered: refused, or the peer is gone.
                    self.hello_answers.remove(&peer);
                }
                request_response::Message::Response { request_id, response } => {
                    self.hello_requests.remove(&request_id);
                    let input = self.read_hello(peer, HelloExchange::Response, &response);
                    self.step(input);
                }
            },
            request_response::Event::OutboundFailure { request_id, peer, error, .. } => {
                self.hello_requests.remove(&request_id);
                self.step(Input::HelloFailed { peer, error: error.to_string() });
            }
            _ => {}
        }
    }

    /// Reads a peer's hello ([`parse_hello`]): an observer's (`observe`
    /// set, no attestation: the charter's observer setting now), or a
    /// member node's attestation checked against the store: a member trust
    /// of the newest roster version this node knows, and a node key not
    /// revoked.
    fn read_hello(&self, peer: PeerId, exchange: HelloExchange, frame: &[u8]) -> Input {
        let attestation = match parse_hello(frame, &self.coalition.id()) {
            Ok(HelloClaim::Member(attestation)) => attestation,
            Ok(HelloClaim::Observer) => {
                return Input::ObserverHello { peer, exchange, access: self.store.observer_access() }
            }
            Err(refusal) => return Input::Hello { peer, exchange, outcome: Err(refusal) },
        };
        let store = &self.store;
        match self.verify_hello(peer, &attestation, |t| store.keys_of(t)) {
            // On an observer node, a member node's hello whose trust the
            // roster it holds does not name (it knows only the genesis
            // roster before its first sync): every other check of
            // PROTOCOL.md 14.3, the signature under the trust id itself
            // (the key an admission of the trust names), and if they pass,
            // a provisional sync source (14.9).
            Err(HelloRefusal::Attestation(AttestationError::NotAMember(_))) if self.observing => {
                match self.verify_hello(peer, &attestation, |t| Some(vec![*t])) {
                    Ok(attestation) => Input::ProvisionalHello { peer, exchange, attestation },
                    Err(refusal) => Input::Hello { peer, exchange, outcome: Err(refusal) },
                }
            }
            outcome => Input::Hello { peer, exchange, outcome },
        }
    }

    /// Every check of PROTOCOL.md 14.3 on a decoded attestation, with the
    /// keys a trust may sign under given by `keys_of`.
    fn verify_hello(
        &self,
        peer: PeerId,
        attestation: &NodeAttestation,
        keys_of: impl Fn(&PublicKey) -> Option<Vec<PublicKey>>,
    ) -> Result<VerifiedAttestation, HelloRefusal> {
        let wall_ms = self.clock.wall_ms(self.clock.now());
        let verified = attestation.verify_with(&self.coalition, keys_of, Some(&peer), wall_ms)?;
        // A node key its trust delegated and revoked is refused.
        if self.store.node_key_revoked(&verified.trust(), &verified.node_key()) {
            let (trust, node_key) = (verified.trust().to_string(), verified.node_key().to_string());
            return Err(HelloRefusal::Revoked { trust, node_key });
        }
        Ok(verified)
    }
}
