//! Envelopes: exact body bytes plus signatures, decoded without re-encoding
//! anything that is signed.

use chorus_proto::v1 as pb;
use prost::Message;

use crate::error::Rejection;
use crate::id::ObjectId;
use crate::keys::Keypair;
use crate::kind::{Kind, OpaqueKind};
use crate::limits::{MAX_ENVELOPE_BYTES, MAX_GENESIS_ENVELOPE_BYTES, MAX_MEMBERS};

/// One signature as carried: the claimed signer's key bytes (not yet checked)
/// and the 64 signature bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSignature {
    /// Claimed signer, 32 bytes.
    pub signer: [u8; 32],
    /// Signature `R || s`.
    pub signature: [u8; 64],
}

/// A decoded envelope whose shape is valid: a v1 kind (defined or reserved,
/// PROTOCOL.md 3.1), canonical encoding,
/// within size bounds, signatures of the right length sorted by signer. The
/// signatures are *not* verified yet; [`crate::Ledger::validate`] does that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    kind: Kind,
    id: ObjectId,
    body: Vec<u8>,
    signatures: Vec<RawSignature>,
    bytes: Vec<u8>,
}

/// Decodes `bytes` as a protobuf message and insists they are its canonical
/// encoding, so one value has exactly one byte string (and one id).
pub(crate) fn decode_canonical<M: Message + Default>(bytes: &[u8], what: &'static str) -> Result<M, Rejection> {
    let msg = M::decode(bytes).map_err(|e| Rejection::Malformed { what, detail: e.to_string() })?;
    if msg.encoded_len() != bytes.len() || msg.encode_to_vec() != bytes {
        return Err(Rejection::NonCanonical { what });
    }
    Ok(msg)
}

impl Envelope {
    /// Decodes and shape-checks an envelope of any v1 kind, reserved kinds
    /// (4, 8 to 31) included; any other kind number is `UnknownKind`.
    /// Genesis envelopes may be up to [`MAX_GENESIS_ENVELOPE_BYTES`];
    /// others [`MAX_ENVELOPE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, Rejection> {
        if bytes.len() > MAX_GENESIS_ENVELOPE_BYTES {
            return Err(Rejection::TooLarge { what: "envelope", size: bytes.len(), limit: MAX_GENESIS_ENVELOPE_BYTES });
        }
        let msg: pb::Envelope = decode_canonical(bytes, "envelope")?;
        Self::from_proto(msg, bytes.to_vec())
    }

    /// Shape-checks an envelope that arrived nested in a certificate, whose
    /// canonical encoding was already checked; `msg.encode_to_vec()` is then
    /// exactly the bytes it arrived as. A certificate carries no object of a
    /// reserved kind: such a kind is `UnknownKind` here, as it was before
    /// reserved kinds were admitted on their own (PROTOCOL.md 3.4, 9.2).
    pub(crate) fn from_nested(msg: pb::Envelope) -> Result<Self, Rejection> {
        let bytes = msg.encode_to_vec();
        if bytes.len() > MAX_GENESIS_ENVELOPE_BYTES {
            return Err(Rejection::TooLarge { what: "envelope", size: bytes.len(), limit: MAX_GENESIS_ENVELOPE_BYTES });
        }
        if OpaqueKind::new(msg.kind).is_some() {
            return Err(Rejection::UnknownKind(msg.kind));
        }
        Self::from_proto(msg, bytes)
    }

    fn from_proto(msg: pb::Envelope, bytes: Vec<u8>) -> Result<Self, Rejection> {
        let kind = Kind::from_wire(msg.kind).ok_or(Rejection::UnknownKind(msg.kind))?;
        let limit = if kind == Kind::Genesis { MAX_GENESIS_ENVELOPE_BYTES } else { MAX_ENVELOPE_BYTES };
        if bytes.len() > limit {
            return Err(Rejection::TooLarge { what: "envelope", size: bytes.len(), limit });
        }
        let (min, max) = if kind == Kind::Genesis { (1, MAX_MEMBERS) } else { (1, 1) };
        if msg.signatures.len() < min || msg.signatures.len() > max {
            return Err(Rejection::SignatureCount {
                kind,
                // The nearest bound, so the message says what would be acceptable.
                expected: if msg.signatures.len() < min { min } else { max },
                found: msg.signatures.len(),
            });
        }
        let mut signatures = Vec::with_capacity(msg.signatures.len());
        for (index, s) in msg.signatures.into_iter().enumerate() {
            let signer: [u8; 32] = s.signer.as_slice().try_into().map_err(|_| Rejection::BadKey {
                field: "envelope signer",
                error: crate::keys::KeyError::Length(s.signer.len()),
            })?;
            let signature: [u8; 64] = s
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| Rejection::SignatureLength { index, len: s.signature.len() })?;
            if let Some(prev) = signatures.last().map(|p: &RawSignature| p.signer) {
                if prev >= signer {
                    return Err(Rejection::SignaturesNotSorted { index });
                }
            }
            signatures.push(RawSignature { signer, signature });
        }
        let id = ObjectId::compute(kind, &msg.body);
        Ok(Envelope { kind, id, body: msg.body, signatures, bytes })
    }

    /// Builds and signs an envelope. Signers are sorted by key as the format
    /// requires; `body` must already be a canonical encoding.
    pub fn sign(kind: Kind, body: Vec<u8>, signers: &[&Keypair]) -> Self {
        let input = kind.signing_input(&body);
        let sigs: Vec<RawSignature> = signers
            .iter()
            .map(|k| RawSignature { signer: *k.public().as_bytes(), signature: k.sign(&input) })
            .collect();
        Self::assemble(kind, body, sigs)
    }

    /// Builds an envelope from a body and signatures made elsewhere (e.g.
    /// genesis countersignatures collected from several founders). Signatures
    /// are sorted and deduplicated by signer; nothing is verified.
    pub fn assemble(kind: Kind, body: Vec<u8>, mut signatures: Vec<RawSignature>) -> Self {
        signatures.sort_by_key(|s| s.signer);
        signatures.dedup_by(|a, b| a.signer == b.signer);
        let msg = pb::Envelope {
            kind: kind.wire(),
            body: body.clone(),
            signatures: signatures
                .iter()
                .map(|s| pb::Signature { signer: s.signer.to_vec(), signature: s.signature.to_vec() })
                .collect(),
        };
        let bytes = msg.encode_to_vec();
        let id = ObjectId::compute(kind, &body);
        Envelope { kind, id, body, signatures, bytes }
    }

    /// The kind of the body.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The object id: SHA-256 of `"chorus/v1/<kind>\n" || body`, which is
    /// the signing input for every kind but the genesis (PROTOCOL.md 4).
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// The exact body bytes the signatures cover.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The signatures, sorted by signer.
    pub fn signatures(&self) -> &[RawSignature] {
        &self.signatures
    }

    /// The exact envelope bytes, as received or as built.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the envelope, returning its exact bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The bytes every signature covers.
    pub fn signing_input(&self) -> Vec<u8> {
        self.kind.signing_input(&self.body)
    }

    /// The protobuf form, for nesting in a certificate.
    pub(crate) fn to_proto(&self) -> pb::Envelope {
        pb::Envelope {
            kind: self.kind.wire(),
            body: self.body.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| pb::Signature { signer: s.signer.to_vec(), signature: s.signature.to_vec() })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_padding_are_not_canonical() {
        let k = Keypair::from_seed(&[1; 32]);
        let env = Envelope::sign(Kind::Proposal, vec![1, 2, 3], &[&k]);
        assert_eq!(Envelope::decode(env.bytes()).unwrap(), env);
        let mut extra = env.bytes().to_vec();
        extra.extend_from_slice(&[0x78, 0x01]); // field 15, varint 1
        assert_eq!(Envelope::decode(&extra), Err(Rejection::NonCanonical { what: "envelope" }));
        // kind written twice (last wins in protobuf, but not canonical)
        let mut twice = vec![0x08, 0x02];
        twice.extend_from_slice(env.bytes());
        assert_eq!(Envelope::decode(&twice), Err(Rejection::NonCanonical { what: "envelope" }));
    }

    #[test]
    fn kinds_outside_v1_are_ignored_not_punished() {
        let k = Keypair::from_seed(&[1; 32]);
        let env = Envelope::sign(Kind::Proposal, vec![], &[&k]);
        for n in [0, -1, 32, 99, i32::MAX] {
            let mut msg = env.to_proto();
            msg.kind = n;
            let e = Envelope::decode(&msg.encode_to_vec()).unwrap_err();
            assert_eq!(e, Rejection::UnknownKind(n));
            assert_eq!(e.verdict(), crate::Verdict::Ignore);
        }
    }

    #[test]
    fn reserved_kinds_decode_alone_but_not_in_a_certificate() {
        let k = Keypair::from_seed(&[1; 32]);
        for n in [4, 8, 11, 31] {
            let kind = Kind::from_wire(n).unwrap();
            let env = Envelope::sign(kind, vec![1, 2, 3], &[&k]);
            let decoded = Envelope::decode(env.bytes()).unwrap();
            assert_eq!(decoded.kind(), kind);
            assert_eq!(decoded.id(), ObjectId::compute(kind, &[1, 2, 3]));
            assert_eq!(Envelope::from_nested(env.to_proto()), Err(Rejection::UnknownKind(n)));
        }
    }

    #[test]
    fn signature_shape_is_checked() {
        let k = Keypair::from_seed(&[1; 32]);
        let env = Envelope::sign(Kind::Endorsement, vec![9], &[&k]);
        let mut msg = env.to_proto();
        msg.signatures[0].signature.pop();
        assert!(matches!(
            Envelope::decode(&msg.encode_to_vec()),
            Err(Rejection::SignatureLength { index: 0, len: 63 })
        ));
        let mut msg = env.to_proto();
        msg.signatures.push(msg.signatures[0].clone());
        assert!(matches!(Envelope::decode(&msg.encode_to_vec()), Err(Rejection::SignatureCount { found: 2, .. })));
        let mut msg = env.to_proto();
        msg.signatures.clear();
        assert!(matches!(Envelope::decode(&msg.encode_to_vec()), Err(Rejection::SignatureCount { found: 0, .. })));
    }

    #[test]
    fn oversized_envelopes_are_refused_before_decoding() {
        let big = vec![0u8; MAX_GENESIS_ENVELOPE_BYTES + 1];
        assert!(matches!(Envelope::decode(&big), Err(Rejection::TooLarge { .. })));
        let k = Keypair::from_seed(&[1; 32]);
        let env = Envelope::sign(Kind::Proposal, vec![b'x'; MAX_ENVELOPE_BYTES], &[&k]);
        assert!(matches!(Envelope::decode(env.bytes()), Err(Rejection::TooLarge { limit: MAX_ENVELOPE_BYTES, .. })));
    }
}
