//! Heads: what a responder announces of the snapshot it serves a session
//! from, signed with its node key (normative: `docs/PROTOCOL.md` 13).

use chorus_core::limits::MAX_ROSTER_HEADS;
use chorus_core::{CoalitionId, Keypair, ObjectId, PublicKey};
use chorus_proto::v1 as pb;
use prost::Message;

use super::keyspace::FINGERPRINT_BYTES;

/// Domain separation prefix of a head signature: a head can never be
/// mistaken for a signed object or an attestation.
pub const HEAD_PREFIX: &[u8] = b"chorus/v1/head\n";

/// Largest encoded `SignedHead`, in bytes: a `Head` with
/// [`MAX_ROSTER_HEADS`] heads is about 2.4 KB.
pub const MAX_SIGNED_HEAD_BYTES: usize = 4096;

/// What is wrong with a head. Every variant is the responder's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Over [`MAX_SIGNED_HEAD_BYTES`].
    #[error("signed head is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Undecodable, not canonically encoded, or a field of the wrong size.
    #[error("malformed head: {0}")]
    Malformed(String),
    /// The signature does not verify under the peer's node key.
    #[error("the head's signature does not verify under the peer's node key")]
    BadSignature,
    /// `roster_version` is not the version id of `roster_heads`.
    #[error("the head's roster version {version} is not the id of its roster heads")]
    VersionMismatch {
        /// The version claimed.
        version: ObjectId,
    },
}

/// A node's announcement of the snapshot it serves from (PROTOCOL.md 13.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The coalition.
    pub coalition: CoalitionId,
    /// Id of the node's newest roster version.
    pub roster_version: ObjectId,
    /// That version's heads, sorted; empty when it has none or more than
    /// [`MAX_ROSTER_HEADS`].
    pub roster_heads: Vec<ObjectId>,
    /// Items of the snapshot.
    pub object_count: u64,
    /// Sync fingerprint of the whole snapshot.
    pub set_fingerprint: [u8; FINGERPRINT_BYTES],
    /// When it was signed (ms since the epoch); informative.
    pub issued_at_ms: u64,
}

impl Head {
    fn to_proto(&self) -> pb::Head {
        pb::Head {
            coalition: self.coalition.as_bytes().to_vec(),
            roster_version: self.roster_version.as_bytes().to_vec(),
            roster_heads: self.roster_heads.iter().map(|h| h.as_bytes().to_vec()).collect(),
            object_count: self.object_count,
            set_fingerprint: self.set_fingerprint.to_vec(),
            issued_at_ms: self.issued_at_ms,
        }
    }

    fn from_proto(m: pb::Head) -> Result<Self, HeadError> {
        let id = |what: &str, b: &[u8]| {
            ObjectId::from_slice(b).ok_or_else(|| HeadError::Malformed(format!("{what} is {} bytes, not 32", b.len())))
        };
        if m.roster_heads.len() > MAX_ROSTER_HEADS {
            return Err(HeadError::Malformed(format!(
                "{} roster heads, over the limit of {MAX_ROSTER_HEADS}",
                m.roster_heads.len()
            )));
        }
        let roster_heads = m.roster_heads.iter().map(|h| id("a roster head", h)).collect::<Result<Vec<_>, _>>()?;
        if roster_heads.windows(2).any(|w| w[0] >= w[1]) {
            return Err(HeadError::Malformed("roster heads are not sorted and distinct".into()));
        }
        let set_fingerprint = m.set_fingerprint.as_slice().try_into().map_err(|_| {
            HeadError::Malformed(format!(
                "set fingerprint is {} bytes, not {FINGERPRINT_BYTES}",
                m.set_fingerprint.len()
            ))
        })?;
        Ok(Head {
            coalition: id("coalition", &m.coalition)?,
            roster_version: id("roster version", &m.roster_version)?,
            roster_heads,
            object_count: m.object_count,
            set_fingerprint,
            issued_at_ms: m.issued_at_ms,
        })
    }
}

/// A [`Head`] with its exact signed bytes and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    body: Vec<u8>,
    signature: [u8; 64],
    head: Head,
}

fn signing_input(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEAD_PREFIX.len() + body.len());
    v.extend_from_slice(HEAD_PREFIX);
    v.extend_from_slice(body);
    v
}

impl SignedHead {
    /// Signs `head` with the node key.
    pub fn sign(head: Head, node_key: &Keypair) -> Self {
        let body = head.to_proto().encode_to_vec();
        let signature = node_key.sign(&signing_input(&body));
        SignedHead { body, signature, head }
    }

    /// Checks a head received from the node whose key is `node_key`: size
    /// bound, canonical encoding of the exact bytes signed, field sizes,
    /// heads sorted, strict ed25519 over `HEAD_PREFIX || head` and the
    /// roster version against its heads. Nothing is re-encoded before the
    /// signature is checked.
    pub fn verify(wire: &pb::SignedHead, node_key: &PublicKey) -> Result<Self, HeadError> {
        let size = wire.encoded_len();
        if size > MAX_SIGNED_HEAD_BYTES {
            return Err(HeadError::TooLarge { size, limit: MAX_SIGNED_HEAD_BYTES });
        }
        let signature: [u8; 64] = wire
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| HeadError::Malformed(format!("signature is {} bytes, not 64", wire.signature.len())))?;
        if !node_key.verify(&signing_input(&wire.head), &signature) {
            return Err(HeadError::BadSignature);
        }
        let m = pb::Head::decode(wire.head.as_slice()).map_err(|e| HeadError::Malformed(e.to_string()))?;
        if m.encode_to_vec() != wire.head {
            return Err(HeadError::Malformed("not canonically encoded".into()));
        }
        let head = Head::from_proto(m)?;
        let listed = !head.roster_heads.is_empty() || head.roster_version == head.coalition;
        if listed && chorus_core::version_id(&head.coalition, &head.roster_heads) != head.roster_version {
            return Err(HeadError::VersionMismatch { version: head.roster_version });
        }
        Ok(SignedHead { body: wire.head.clone(), signature, head })
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The wire form: the exact signed bytes and the signature.
    pub fn to_proto(&self) -> pb::SignedHead {
        pb::SignedHead { head: self.body.clone(), signature: self.signature.to_vec() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(roster_heads: Vec<ObjectId>) -> Head {
        let coalition = ObjectId([7; 32]);
        Head {
            coalition,
            roster_version: chorus_core::version_id(&coalition, &roster_heads),
            roster_heads,
            object_count: 210,
            set_fingerprint: [3; FINGERPRINT_BYTES],
            issued_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn no_kind_is_named_like_a_prefix_that_is_not_a_kind() {
        // PROTOCOL.md 4: these names are reserved for other signed or
        // hashed data, never for a kind.
        assert_eq!(HEAD_PREFIX, b"chorus/v1/head\n");
        assert_eq!(crate::attestation::ATTESTATION_PREFIX, b"chorus/v1/node-attestation\n");
        for name in ["genesis-id", "roster", "head", "node-attestation", "sync-fingerprint"] {
            assert_eq!(chorus_core::Kind::from_name(name), None, "{name}");
            let prefix = format!("chorus/v1/{name}\n");
            let kinds =
                chorus_core::Kind::ALL.into_iter().chain(chorus_core::OpaqueKind::all().map(chorus_core::Kind::Opaque));
            assert!(kinds.into_iter().all(|k| k.signing_prefix() != prefix.as_bytes()), "{name}");
        }
    }

    #[test]
    fn a_signed_head_verifies_under_its_node_key_only() {
        let node = Keypair::from_seed(&[1; 32]);
        let other = Keypair::from_seed(&[2; 32]);
        let h = head(vec![ObjectId([1; 32]), ObjectId([2; 32])]);
        let wire = SignedHead::sign(h.clone(), &node).to_proto();
        assert_eq!(SignedHead::verify(&wire, &node.public()).unwrap().head(), &h);
        assert_eq!(SignedHead::verify(&wire, &other.public()), Err(HeadError::BadSignature));
        let mut tampered = wire.clone();
        let last = tampered.head.len() - 1;
        tampered.head[last] ^= 1;
        assert_eq!(SignedHead::verify(&tampered, &node.public()), Err(HeadError::BadSignature));
        let mut short = wire;
        short.signature.pop();
        assert!(matches!(SignedHead::verify(&short, &node.public()), Err(HeadError::Malformed(_))));
    }

    #[test]
    fn a_head_must_be_canonical_bounded_and_consistent() {
        let node = Keypair::from_seed(&[1; 32]);
        let sign_raw =
            |body: Vec<u8>| pb::SignedHead { signature: node.sign(&signing_input(&body)).to_vec(), head: body };
        // A field repeated (last one wins in protobuf): not canonical.
        let mut body = head(vec![]).to_proto().encode_to_vec();
        body.extend_from_slice(&pb::Head { object_count: 5, ..Default::default() }.encode_to_vec());
        assert!(matches!(SignedHead::verify(&sign_raw(body), &node.public()), Err(HeadError::Malformed(_))));
        // A version that is not the id of the heads.
        let mut h = head(vec![ObjectId([1; 32])]);
        h.roster_version = ObjectId([9; 32]);
        let wire = sign_raw(h.to_proto().encode_to_vec());
        assert_eq!(
            SignedHead::verify(&wire, &node.public()),
            Err(HeadError::VersionMismatch { version: ObjectId([9; 32]) })
        );
        // Heads out of order, and too many.
        let h = head(vec![ObjectId([2; 32]), ObjectId([1; 32])]);
        let wire = sign_raw(h.to_proto().encode_to_vec());
        assert!(matches!(SignedHead::verify(&wire, &node.public()), Err(HeadError::Malformed(_))));
        let many: Vec<ObjectId> = (0..=MAX_ROSTER_HEADS as u8).map(|i| ObjectId([i; 32])).collect();
        let wire = sign_raw(head(many).to_proto().encode_to_vec());
        assert!(matches!(SignedHead::verify(&wire, &node.public()), Err(HeadError::Malformed(_))));
        // Without roster heads (no governance adopted) a head costs a
        // session under 200 bytes.
        assert!(SignedHead::sign(head(vec![]), &node).to_proto().encoded_len() < 200);
        // The largest head allowed fits the bound.
        let most: Vec<ObjectId> = (0..MAX_ROSTER_HEADS as u8).map(|i| ObjectId([i; 32])).collect();
        let wire = SignedHead::sign(head(most), &node).to_proto();
        assert!(wire.encoded_len() <= MAX_SIGNED_HEAD_BYTES);
        assert!(SignedHead::verify(&wire, &node.public()).is_ok());
    }
}
