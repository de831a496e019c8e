//! Writing a certificate from exact envelope bytes. Nothing is verified
//! here: the parts come from a ledger's choice
//! ([`crate::Ledger::certificate_endorsements`],
//! [`crate::Ledger::certificate_dissent`],
//! [`crate::Ledger::certificate_chain`]), and the result can be verified.

use chorus_proto::v1 as pb;
use prost::Message;

use super::seal::Seal;
use super::CERTIFICATE_VERSION;
use crate::envelope::Envelope;

/// Assembles a certificate from exact envelope bytes. Endorsements are sorted
/// by trust id; nothing is verified here (verify the result, or build it
/// from [`crate::Ledger::certificate_endorsements`]).
pub fn assemble(genesis: &Envelope, proposal: &Envelope, endorsements: &[Envelope]) -> Vec<u8> {
    assemble_with_chain(genesis, proposal, endorsements, &[])
}

/// As [`assemble`], with a proof chain (PROTOCOL.md 12.9), which is sorted
/// by id and deduplicated here.
pub fn assemble_with_chain(
    genesis: &Envelope,
    proposal: &Envelope,
    endorsements: &[Envelope],
    chain: &[Envelope],
) -> Vec<u8> {
    assemble_full(genesis, proposal, endorsements, &[], chain, None)
}

/// As [`assemble_with_chain`], with the dissent entries (sorted by trust id
/// here, like the endorsements) and an optional seal made over the ids of
/// exactly these endorsements and dissent entries
/// ([`super::seal_body`], [`Seal::sign`]). With no dissent and no seal the
/// bytes are those of [`assemble_with_chain`], a certificate as made before
/// dissent was recorded. The same parts give the same bytes, whatever
/// their order.
pub fn assemble_full(
    genesis: &Envelope,
    proposal: &Envelope,
    endorsements: &[Envelope],
    dissent: &[Envelope],
    chain: &[Envelope],
    seal: Option<Seal>,
) -> Vec<u8> {
    let mut links: Vec<&Envelope> = chain.iter().collect();
    links.sort_by_key(|l| l.id());
    links.dedup_by_key(|l| l.id());
    pb::Certificate {
        version: CERTIFICATE_VERSION,
        genesis: Some(genesis.to_proto()),
        proposal: Some(proposal.to_proto()),
        endorsements: by_trust(endorsements),
        chain: links.into_iter().map(Envelope::to_proto).collect(),
        dissent: by_trust(dissent),
        seal: seal.as_ref().map(Seal::to_proto),
    }
    .encode_to_vec()
}

/// Stances sorted by trust id (a stable sort: equal trusts, which no valid
/// certificate has, keep their order).
fn by_trust(stances: &[Envelope]) -> Vec<pb::Envelope> {
    let mut sorted: Vec<(Vec<u8>, &Envelope)> = stances
        .iter()
        .map(|e| {
            // Only the field is needed to sort: a full parse would
            // decompress every trust key.
            let trust = pb::Endorsement::decode(e.body()).map(|b| b.trust).unwrap_or_default();
            (trust, e)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().map(|(_, e)| e.to_proto()).collect()
}
