//! Seals (PROTOCOL.md 9.2, steps 13b, 15 and 22): a member's signed
//! statement that a certificate carries every on-time stance on the
//! proposal its node held when it exported it. Removing or adding a stance
//! afterwards breaks the seal, and sealing again needs a member's key.
//!
//! A seal carries no time and ed25519 is deterministic, so every node
//! holding the same objects and sealing with the same key exports the same
//! bytes.

use chorus_proto::v1 as pb;
use prost::Message;

use crate::coalition::Coalition;
use crate::envelope::{decode_canonical, RawSignature};
use crate::error::{CertificateError, Rejection, SealGap};
use crate::id::{CoalitionId, ObjectId};
use crate::keys::{KeyError, Keypair, PublicKey};

/// What a seal's signature covers before its body: `"chorus/v1/seal\n"`.
/// No object kind has this name, so a seal's signature can never be read
/// as an object's, nor the other way round.
pub const SEAL_SIGNING_PREFIX: &[u8] = b"chorus/v1/seal\n";

/// Most stance ids a seal lists (PROTOCOL.md 9.2 step 13b).
pub const MAX_SEAL_STANCES: usize = 65_536;

/// A seal as a certificate carries it: the exact canonical bytes of a
/// `SealBody` message (from [`seal_body`]) and one signature over
/// `"chorus/v1/seal\n" || body`. Made by [`Seal::sign`]; nothing about it
/// is verified until the certificate that carries it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    body: Vec<u8>,
    signature: RawSignature,
}

impl Seal {
    /// Signs `body` (from [`seal_body`]) with `key`: the trust's own key,
    /// or the node key a node-scope delegation of the trust names.
    pub fn sign(body: Vec<u8>, key: &Keypair) -> Seal {
        let signature = key.sign(&signing_input(&body));
        Seal { body, signature: RawSignature { signer: *key.public().as_bytes(), signature } }
    }

    /// The exact body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The signer's key bytes, as carried.
    pub fn signer(&self) -> [u8; 32] {
        self.signature.signer
    }

    pub(crate) fn to_proto(&self) -> pb::Seal {
        pb::Seal {
            body: self.body.clone(),
            signature: Some(pb::Signature {
                signer: self.signature.signer.to_vec(),
                signature: self.signature.signature.to_vec(),
            }),
        }
    }
}

/// `"chorus/v1/seal\n" || body`: the bytes a seal's signature covers.
pub fn signing_input(body: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(SEAL_SIGNING_PREFIX.len() + body.len());
    input.extend_from_slice(SEAL_SIGNING_PREFIX);
    input.extend_from_slice(body);
    input
}

/// The canonical encoding of a seal body: `trust` seals the certificate of
/// `proposal` in `coalition` listing `stances` (the ids of every envelope
/// the certificate carries in `endorsements` and `dissent`; sorted and
/// deduplicated here), signed by a key of `trust` (`delegation` `None`) or
/// by the delegate of node-scope delegation `delegation` of `trust`.
pub fn seal_body(
    coalition: &CoalitionId,
    proposal: &ObjectId,
    trust: &PublicKey,
    delegation: Option<&ObjectId>,
    stances: &[ObjectId],
) -> Vec<u8> {
    let mut ids: Vec<ObjectId> = stances.to_vec();
    ids.sort();
    ids.dedup();
    pb::SealBody {
        coalition: coalition.as_bytes().to_vec(),
        proposal: proposal.as_bytes().to_vec(),
        trust: trust.as_bytes().to_vec(),
        delegation: delegation.map(|d| d.as_bytes().to_vec()).unwrap_or_default(),
        stances: ids.iter().map(|i| i.as_bytes().to_vec()).collect(),
    }
    .encode_to_vec()
}

/// A seal body that passed the form rules of step 13b.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealBody {
    pub trust: PublicKey,
    pub delegation: Option<ObjectId>,
    pub stances: Vec<ObjectId>,
}

/// Step 13b, form: the body decodes as a canonical `SealBody`, names this
/// coalition and proposal, a well-formed trust key, an empty or 32-byte
/// delegation and 1..=65536 strictly ascending 32-byte stance ids; the
/// signature has a 32-byte signer and 64 signature bytes.
pub(crate) fn check_form(
    coalition: &Coalition,
    proposal: &ObjectId,
    seal: pb::Seal,
) -> Result<(Seal, SealBody), Rejection> {
    let body: pb::SealBody = decode_canonical(&seal.body, "seal body")?;
    let invalid = |field: &'static str, reason: String| Rejection::InvalidField { field, reason };
    let id = |field: &'static str, bytes: &[u8]| {
        ObjectId::from_slice(bytes).ok_or_else(|| invalid(field, format!("is {} bytes, an id is 32", bytes.len())))
    };
    let found = id("coalition", &body.coalition)?;
    if found != coalition.id() {
        return Err(invalid("coalition", format!("is {found}, not the certificate's coalition {}", coalition.id())));
    }
    let found = id("proposal", &body.proposal)?;
    if found != *proposal {
        return Err(invalid("proposal", format!("is {found}, not the certificate's proposal {proposal}")));
    }
    let trust = coalition.parse_key("trust", &body.trust)?;
    let delegation = if body.delegation.is_empty() { None } else { Some(id("delegation", &body.delegation)?) };
    if body.stances.is_empty() {
        return Err(invalid("stances", "a seal lists at least one stance".into()));
    }
    if body.stances.len() > MAX_SEAL_STANCES {
        return Err(invalid("stances", format!("lists {}, more than {MAX_SEAL_STANCES}", body.stances.len())));
    }
    let mut stances: Vec<ObjectId> = Vec::with_capacity(body.stances.len());
    for (i, s) in body.stances.iter().enumerate() {
        let s = ObjectId::from_slice(s)
            .ok_or_else(|| invalid("stances", format!("entry {i} is {} bytes, an id is 32", s.len())))?;
        if stances.last().is_some_and(|prev| *prev >= s) {
            return Err(invalid("stances", format!("entry {i} is not sorted or an id twice")));
        }
        stances.push(s);
    }
    let signature = seal.signature.ok_or_else(|| invalid("signature", "a seal carries one signature".into()))?;
    let signer: [u8; 32] = signature
        .signer
        .as_slice()
        .try_into()
        .map_err(|_| Rejection::BadKey { field: "seal signer", error: KeyError::Length(signature.signer.len()) })?;
    let bytes: [u8; 64] = signature
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| Rejection::SignatureLength { index: 0, len: signature.signature.len() })?;
    let seal = Seal { body: seal.body, signature: RawSignature { signer, signature: bytes } };
    Ok((seal, SealBody { trust, delegation, stances }))
}

/// Step 13b, completeness: the stance ids the seal lists are exactly the
/// ids of the envelopes carried in `endorsements` and `dissent`
/// (`carried`, in that order). First a listed id that is not carried, in
/// list order; else the first carried id that is not listed.
pub(crate) fn check_complete(body: &SealBody, carried: &[ObjectId]) -> Result<(), CertificateError> {
    let carried_set: std::collections::BTreeSet<&ObjectId> = carried.iter().collect();
    if let Some(removed) = body.stances.iter().find(|s| !carried_set.contains(s)) {
        return Err(CertificateError::SealMismatch(SealGap::Removed(*removed)));
    }
    match carried.iter().find(|c| body.stances.binary_search(c).is_err()) {
        Some(added) => Err(CertificateError::SealMismatch(SealGap::Added(*added))),
        None => Ok(()),
    }
}

/// Step 15 for the seal: its signer passes the key rule, and its signature
/// verifies over `"chorus/v1/seal\n" || body`.
pub(crate) fn check_signature(coalition: &Coalition, seal: &Seal) -> Result<PublicKey, Rejection> {
    let signer = coalition.parse_key("seal signer", &seal.signature.signer)?;
    if !signer.verify(&signing_input(&seal.body), &seal.signature.signature) {
        return Err(Rejection::BadSignature { signer: signer.to_hex() });
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> ObjectId {
        ObjectId([b; 32])
    }

    #[test]
    fn seal_body_sorts_and_deduplicates_and_signing_is_deterministic() {
        let key = Keypair::from_seed(&[7; 32]);
        let a = seal_body(&id(1), &id(2), &key.public(), None, &[id(9), id(3), id(9)]);
        let b = seal_body(&id(1), &id(2), &key.public(), None, &[id(3), id(9)]);
        assert_eq!(a, b);
        let decoded = pb::SealBody::decode(a.as_slice()).expect("decodes");
        assert_eq!(decoded.stances, vec![id(3).as_bytes().to_vec(), id(9).as_bytes().to_vec()]);
        assert!(decoded.delegation.is_empty());
        assert_eq!(Seal::sign(a.clone(), &key), Seal::sign(b, &key));
        let seal = Seal::sign(a, &key);
        assert!(key.public().verify(&signing_input(seal.body()), &seal.signature.signature));
        assert!(signing_input(b"x").starts_with(b"chorus/v1/seal\n"));
    }

    #[test]
    fn completeness_names_a_removed_stance_before_an_added_one() {
        let key = Keypair::from_seed(&[7; 32]);
        let body = SealBody { trust: key.public(), delegation: None, stances: vec![id(1), id(3)] };
        assert_eq!(check_complete(&body, &[id(3), id(1)]), Ok(()));
        assert_eq!(
            check_complete(&body, &[id(3), id(4)]),
            Err(CertificateError::SealMismatch(SealGap::Removed(id(1))))
        );
        assert_eq!(
            check_complete(&body, &[id(1), id(4), id(3)]),
            Err(CertificateError::SealMismatch(SealGap::Added(id(4))))
        );
    }
}
