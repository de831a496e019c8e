//! What the virtual-time scenarios share: fixture peers with verified
//! attestations, memory addresses, and a service on a clock stepped by hand.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::Keypair;
use libp2p::{Multiaddr, PeerId};

use super::super::*;
use crate::attestation::{peer_id_of, NodeAttestation};

/// A node of the fixture: its peer id and its attestation, verified.
pub(super) struct TestPeer {
    pub(super) id: PeerId,
    pub(super) attestation: VerifiedAttestation,
}

/// Test node `i`, attested by trust `i` modulo the fixture's members.
pub(super) fn test_peer(f: &Fixture, i: u8) -> TestPeer {
    let key = Keypair::from_seed(&[i; 32]);
    let id = peer_id_of(&key.public()).expect("ed25519 key");
    let trust = usize::from(i) % f.keys.len();
    let attestation = NodeAttestation::issue(&f.keys[trust], f.id(), key.public(), T0, None)
        .verify_with(&f.coalition, |t| Some(vec![*t]), Some(&id), T0)
        .expect("fixture attestation verifies");
    TestPeer { id, attestation }
}

/// A memory-transport address.
pub(super) fn addr(port: u64) -> Multiaddr {
    format!("/memory/{port}").parse().expect("memory address")
}

/// A service and the virtual clock it runs on.
pub(super) struct Bench {
    pub(super) service: Service,
    pub(super) now: Millis,
}

impl Bench {
    pub(super) fn new(config: NetConfig) -> Self {
        let local = PeerId::random();
        Bench { service: Service::new(local, &config, Millis::ZERO), now: Millis::ZERO }
    }

    /// Moves the clock to `ms`; time only runs forward.
    pub(super) fn at(&mut self, ms: u64) -> &mut Self {
        assert!(Millis(ms) >= self.now, "time runs forward");
        self.now = Millis(ms);
        self
    }

    pub(super) fn input(&mut self, input: Input) -> Vec<Output> {
        self.service.handle(input, self.now)
    }

    pub(super) fn tick(&mut self) -> Vec<Output> {
        self.input(Input::Tick)
    }
}

/// The peers a batch of outputs starts sync sessions with.
pub(super) fn syncs_started(outputs: &[Output]) -> Vec<PeerId> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::StartSync(p) => Some(*p),
            _ => None,
        })
        .collect()
}
