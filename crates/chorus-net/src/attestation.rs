//! Node attestations: how a peer proves it is a node of a member trust.
//!
//! A member trust signs, with its trust key, a [`NodeAttestation`] naming the
//! coalition, itself, and the node's ed25519 public key (which is also the
//! node's libp2p identity). The signature covers
//! `"chorus/v1/node-attestation\n" || body`, so it can never be mistaken for
//! a signed object. Right after a connection is established, both sides
//! exchange attestations on the `/chorus/hello/1` protocol; a peer whose
//! attestation verifies (strict ed25519, trust in the coalition roster, node
//! key equal to the key the connection authenticated with through Noise/TLS)
//! is a *member node*; anyone else is a *stranger*.
//!
//! This is a network-layer credential, not a stored object: a later protocol
//! version makes node certificates signed objects (kind 9, reserved).
//!
//! The hello exchange, the attestation's signing input and the order of
//! its checks are specified in `docs/PROTOCOL.md` 14.3.

use chorus_core::{Coalition, CoalitionId, Keypair, PublicKey};
use chorus_proto::v1 as pb;
use libp2p::PeerId;
use prost::Message;

use crate::error::AttestationError;

/// Domain separation prefix of the attestation signature.
pub const ATTESTATION_PREFIX: &[u8] = b"chorus/v1/node-attestation\n";

/// Largest encoded attestation accepted, in bytes (a real one is ~180).
pub const MAX_ATTESTATION_BYTES: usize = 1024;

/// A signed statement by a member trust that a node key speaks for it. The
/// bytes are kept exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAttestation {
    body: Vec<u8>,
    signature: [u8; 64],
    fields: pb::NodeAttestationBody,
}

/// An attestation that verified against a coalition for one peer. Only
/// verification makes one: its fields are private, so holding one proves
/// the check was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    trust: PublicKey,
    node_key: PublicKey,
    issued_at_ms: u64,
    expires_at_ms: Option<u64>,
}

impl VerifiedAttestation {
    /// The member trust the node speaks for.
    pub fn trust(&self) -> PublicKey {
        self.trust
    }

    /// The node's key.
    pub fn node_key(&self) -> PublicKey {
        self.node_key
    }

    /// When the trust signed it (ms since the epoch).
    pub fn issued_at_ms(&self) -> u64 {
        self.issued_at_ms
    }

    /// When it expires (ms since the epoch), if ever.
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.expires_at_ms
    }
}

fn signing_input(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(ATTESTATION_PREFIX.len() + body.len());
    v.extend_from_slice(ATTESTATION_PREFIX);
    v.extend_from_slice(body);
    v
}

/// The libp2p peer id of a node key. `None` only if libp2p refuses a key
/// that chorus-core accepted, which a valid ed25519 point never is.
pub fn peer_id_of(node_key: &PublicKey) -> Option<PeerId> {
    libp2p::identity::ed25519::PublicKey::try_from_bytes(node_key.as_bytes())
        .ok()
        .map(|k| libp2p::identity::PublicKey::from(k).to_peer_id())
}

impl NodeAttestation {
    /// Signs an attestation with the trust's key for `node_key` in
    /// `coalition`. `expires_at_ms` of `None` means it does not expire.
    pub fn issue(
        trust: &Keypair,
        coalition: CoalitionId,
        node_key: PublicKey,
        issued_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> Self {
        Self::issue_for(trust, trust.public(), coalition, node_key, issued_at_ms, expires_at_ms)
    }

    /// As [`NodeAttestation::issue`], for trust `trust_id` signed with
    /// `signer`, a key of that trust other than its id (after a key
    /// rotation or replacement). Verifies only where the signer is a known
    /// key of the trust ([`NodeAttestation::verify_with`]).
    pub fn issue_for(
        signer: &Keypair,
        trust_id: PublicKey,
        coalition: CoalitionId,
        node_key: PublicKey,
        issued_at_ms: u64,
        expires_at_ms: Option<u64>,
    ) -> Self {
        let trust = signer;
        let fields = pb::NodeAttestationBody {
            coalition: coalition.as_bytes().to_vec(),
            trust_key: trust_id.as_bytes().to_vec(),
            node_key: node_key.as_bytes().to_vec(),
            issued_at_ms,
            expires_at_ms: expires_at_ms.unwrap_or(0),
        };
        let body = fields.encode_to_vec();
        let signature = trust.sign(&signing_input(&body));
        NodeAttestation { body, signature, fields }
    }

    /// Decodes an attestation, insisting on canonical encodings and a size
    /// bound. Nothing is verified yet; see [`NodeAttestation::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, AttestationError> {
        if bytes.len() > MAX_ATTESTATION_BYTES {
            return Err(AttestationError::TooLarge { size: bytes.len(), limit: MAX_ATTESTATION_BYTES });
        }
        let msg = pb::NodeAttestation::decode(bytes).map_err(|e| AttestationError::Malformed(e.to_string()))?;
        if msg.encode_to_vec() != bytes {
            return Err(AttestationError::Malformed("not canonically encoded".into()));
        }
        Self::from_proto(msg)
    }

    pub(crate) fn from_proto(msg: pb::NodeAttestation) -> Result<Self, AttestationError> {
        let signature: [u8; 64] =
            msg.signature.as_slice().try_into().map_err(|_| {
                AttestationError::Malformed(format!("signature is {} bytes, not 64", msg.signature.len()))
            })?;
        let fields = pb::NodeAttestationBody::decode(msg.body.as_slice())
            .map_err(|e| AttestationError::Malformed(format!("body: {e}")))?;
        if fields.encode_to_vec() != msg.body {
            return Err(AttestationError::Malformed("body is not canonically encoded".into()));
        }
        Ok(NodeAttestation { body: msg.body, signature, fields })
    }

    pub(crate) fn to_proto(&self) -> pb::NodeAttestation {
        pb::NodeAttestation { body: self.body.clone(), signature: self.signature.to_vec() }
    }

    /// The canonical encoding, as exchanged and as [`NodeAttestation::decode`]
    /// reads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_proto().encode_to_vec()
    }

    /// The node key as claimed (not verified).
    pub fn claimed_node_key(&self) -> Result<PublicKey, AttestationError> {
        PublicKey::from_bytes(&self.fields.node_key)
            .map_err(|error| AttestationError::BadKey { field: "node key", error })
    }

    /// Verifies the attestation for `coalition` at time `now_ms`: canonical
    /// body, our coalition, a member trust, a strictly valid signature, not
    /// expired. `peer`, when given, must be the peer id of the attested node
    /// key (the identity the connection authenticated).
    pub fn verify(
        &self,
        coalition: &Coalition,
        peer: Option<&PeerId>,
        now_ms: u64,
    ) -> Result<VerifiedAttestation, AttestationError> {
        self.verify_with(coalition, |t| coalition.current_roster().contains(t).then(|| vec![*t]), peer, now_ms)
    }

    /// As [`NodeAttestation::verify`], with membership and keys decided by
    /// `keys_of`: `None` when the trust is not a member, else the keys that
    /// may sign for it (the network passes the head roster of the store's
    /// ledger and the trust's known keys, so a trust admitted by a
    /// governance proposal may join and a trust that rotated its key signs
    /// with the new one). The signature must verify under one of them.
    pub fn verify_with(
        &self,
        coalition: &Coalition,
        keys_of: impl Fn(&PublicKey) -> Option<Vec<PublicKey>>,
        peer: Option<&PeerId>,
        now_ms: u64,
    ) -> Result<VerifiedAttestation, AttestationError> {
        let f = &self.fields;
        if f.coalition.as_slice() != coalition.id().as_bytes() {
            return Err(AttestationError::WrongCoalition {
                expected: coalition.id().to_hex(),
                found: hex::encode(&f.coalition),
            });
        }
        let trust = PublicKey::from_bytes(&f.trust_key)
            .map_err(|error| AttestationError::BadKey { field: "trust key", error })?;
        let Some(keys) = keys_of(&trust) else {
            return Err(AttestationError::NotAMember(trust.to_hex()));
        };
        let node_key = self.claimed_node_key()?;
        let input = signing_input(&self.body);
        if !keys.iter().any(|k| k.verify(&input, &self.signature)) {
            return Err(AttestationError::BadSignature(trust.to_hex()));
        }
        let expires_at_ms = (f.expires_at_ms != 0).then_some(f.expires_at_ms);
        if let Some(exp) = expires_at_ms {
            if exp < f.issued_at_ms {
                return Err(AttestationError::Inverted { issued_at_ms: f.issued_at_ms, expires_at_ms: exp });
            }
            if now_ms > exp {
                return Err(AttestationError::Expired { expires_at_ms: exp, now_ms });
            }
        }
        if let Some(peer) = peer {
            if peer_id_of(&node_key).as_ref() != Some(peer) {
                return Err(AttestationError::WrongNode { attested: node_key.to_hex(), actual: peer.to_string() });
            }
        }
        Ok(VerifiedAttestation { trust, node_key, issued_at_ms: f.issued_at_ms, expires_at_ms })
    }
}

/// A node's identity on the network: its own ed25519 key (also its libp2p
/// key) and either the attestation of the trust it serves (a member's node)
/// or none (an observer, PROTOCOL.md 14.9, which proves only its key).
#[derive(Clone, Debug)]
pub struct NodeIdentity {
    key: Keypair,
    attestation: Option<NodeAttestation>,
}

impl NodeIdentity {
    /// Pairs a node key with its attestation; the attestation must name this
    /// key.
    pub fn new(key: Keypair, attestation: NodeAttestation) -> Result<Self, AttestationError> {
        let claimed = attestation.claimed_node_key()?;
        if claimed != key.public() {
            return Err(AttestationError::WrongNode { attested: claimed.to_hex(), actual: key.public().to_hex() });
        }
        Ok(NodeIdentity { key, attestation: Some(attestation) })
    }

    /// An observer's identity: a node key and no attestation. Its hello
    /// asks to follow the coalition (`Hello.observe`); it never publishes,
    /// and member nodes that admit observers serve it what the charter
    /// allows (PROTOCOL.md 14.9).
    pub fn observer(key: Keypair) -> Self {
        NodeIdentity { key, attestation: None }
    }

    /// The node key.
    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// The attestation; `None` for an observer.
    pub fn attestation(&self) -> Option<&NodeAttestation> {
        self.attestation.as_ref()
    }

    /// True for an observer's identity.
    pub fn is_observer(&self) -> bool {
        self.attestation.is_none()
    }

    /// This node's libp2p key pair, derived from the node key's seed.
    pub fn libp2p_keypair(&self) -> Result<libp2p::identity::Keypair, crate::NetError> {
        libp2p::identity::Keypair::ed25519_from_bytes(self.key.seed())
            .map_err(|e| crate::NetError::Identity(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::{Fixture, T0};

    #[test]
    fn membership_and_keys_come_from_the_caller() {
        let f = Fixture::new(3);
        let node = Keypair::from_seed(&[42; 32]);
        // A trust admitted after the genesis, signing with its id.
        let x = Keypair::from_seed(&[50; 32]);
        let att = NodeAttestation::issue(&x, f.id(), node.public(), T0, None);
        assert!(matches!(att.verify(&f.coalition, None, T0), Err(AttestationError::NotAMember(_))));
        let admitted = |t: &PublicKey| (*t == x.public()).then(|| vec![x.public()]);
        assert_eq!(att.verify_with(&f.coalition, admitted, None, T0).unwrap().trust, x.public());
        // A founder that rotated its key signs for its id with the new key.
        let new = Keypair::from_seed(&[51; 32]);
        let founder = f.keys[0].public();
        let rotated = NodeAttestation::issue_for(&new, founder, f.id(), node.public(), T0, None);
        assert!(matches!(rotated.verify(&f.coalition, None, T0), Err(AttestationError::BadSignature(_))));
        let keys = |t: &PublicKey| (*t == founder).then(|| vec![founder, new.public()]);
        assert_eq!(rotated.verify_with(&f.coalition, keys, None, T0).unwrap().trust, founder);
        // A key the caller does not list for the trust.
        let only_id = |t: &PublicKey| (*t == founder).then(|| vec![founder]);
        let refused = rotated.verify_with(&f.coalition, only_id, None, T0);
        assert!(matches!(refused, Err(AttestationError::BadSignature(_))));
    }

    #[test]
    fn issue_verify_and_refusals() {
        let f = Fixture::new(3);
        let node = Keypair::from_seed(&[42; 32]);
        let att = NodeAttestation::issue(&f.keys[1], f.id(), node.public(), T0, None);
        let decoded = NodeAttestation::decode(&att.to_bytes()).unwrap();
        assert_eq!(decoded, att);
        let peer = peer_id_of(&node.public()).unwrap();
        let v = att.verify(&f.coalition, Some(&peer), T0).unwrap();
        assert_eq!(v.trust, f.keys[1].public());

        // Another peer presenting this attestation.
        let other = peer_id_of(&Keypair::from_seed(&[43; 32]).public()).unwrap();
        assert!(matches!(att.verify(&f.coalition, Some(&other), T0), Err(AttestationError::WrongNode { .. })));

        // A non-member trust.
        let stranger = Keypair::from_seed(&[9; 32]);
        let bad = NodeAttestation::issue(&stranger, f.id(), node.public(), T0, None);
        assert!(matches!(bad.verify(&f.coalition, None, T0), Err(AttestationError::NotAMember(_))));

        // Another coalition.
        let g = Fixture::new(2);
        let foreign = NodeAttestation::issue(&f.keys[0], g.id(), node.public(), T0, None);
        assert!(matches!(foreign.verify(&f.coalition, None, T0), Err(AttestationError::WrongCoalition { .. })));

        // Tampered signature.
        let mut msg = att.to_proto();
        msg.signature[0] ^= 1;
        let tampered = NodeAttestation::decode(&msg.encode_to_vec()).unwrap();
        assert!(matches!(tampered.verify(&f.coalition, None, T0), Err(AttestationError::BadSignature(_))));

        // Expired.
        let short = NodeAttestation::issue(&f.keys[0], f.id(), node.public(), T0, Some(T0 + 10));
        assert!(short.verify(&f.coalition, None, T0 + 10).is_ok());
        assert!(matches!(short.verify(&f.coalition, None, T0 + 11), Err(AttestationError::Expired { .. })));

        // Garbage and oversize input.
        assert!(NodeAttestation::decode(&[0xff; 10]).is_err());
        assert!(matches!(NodeAttestation::decode(&[0; 2000]), Err(AttestationError::TooLarge { .. })));
    }

    #[test]
    fn identity_requires_matching_key() {
        let f = Fixture::new(1);
        let node = Keypair::from_seed(&[1; 32]);
        let att = NodeAttestation::issue(&f.keys[0], f.id(), node.public(), T0, None);
        assert!(NodeIdentity::new(node.clone(), att.clone()).is_ok());
        assert!(NodeIdentity::new(Keypair::from_seed(&[2; 32]), att).is_err());
        // libp2p derives the same peer id from the seed.
        let lk = libp2p::identity::Keypair::ed25519_from_bytes(node.seed()).unwrap();
        assert_eq!(Some(lk.public().to_peer_id()), peer_id_of(&node.public()));
    }
}
