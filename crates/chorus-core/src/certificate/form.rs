//! Steps 11-16 of PROTOCOL.md 9.2: the form of every carried object, the
//! objects they name, every signature, and the ledger the carried objects
//! make. Nothing here decides adoption; that is [`super::conclude`].

use chorus_proto::v1 as pb;

use super::seal::{self, Seal, SealBody};
use crate::coalition::Coalition;
use crate::envelope::Envelope;
use crate::error::{CertificateError, Rejection};
use crate::id::ObjectId;
use crate::ingest::{Ingest, Replay, NO_CLOCK};
use crate::keys::{verify_many, PublicKey, SignatureCheck};
use crate::kind::Kind;
use crate::ledger::{Ledger, ParsedObject, SignatureChecked};
use crate::objects::{Endorsement, Proposal, Stance};
use crate::Object;
use std::collections::BTreeSet;

/// Where a carried object sits in the certificate, for error reports.
#[derive(Clone, Copy, Debug)]
pub(super) enum Part {
    Chain(usize),
    Proposal,
    Endorsement(usize),
    Dissent(usize),
}

impl Part {
    /// The certificate error for a rejection of this part.
    pub(super) fn fail(self, reason: Rejection) -> CertificateError {
        match (self, reason) {
            (Part::Chain(index), reason) => CertificateError::Chain { index, reason },
            (Part::Proposal, reason) => CertificateError::Proposal(reason),
            (Part::Endorsement(index), Rejection::BadSignature { signer }) => {
                CertificateError::BadSignature { index, trust: signer }
            }
            (Part::Endorsement(index), reason) => CertificateError::Endorsement { index, reason },
            (Part::Dissent(index), reason) => CertificateError::Dissent { index, reason },
        }
    }
}

/// Step 11: each chain entry's envelope rules, that it is no genesis, its
/// place in id order, its body rules and its coalition. For a comment,
/// open-voting or withdrawal object only its header's (3.4 H1–H3 and
/// coalition): its kind's own body rules (V5a) are judged at step 16,
/// after every signature.
pub(super) fn check_chain(
    coalition: &Coalition,
    chain: Vec<pb::Envelope>,
) -> Result<Vec<ParsedObject>, CertificateError> {
    let mut links: Vec<ParsedObject> = Vec::with_capacity(chain.len());
    for (index, env) in chain.into_iter().enumerate() {
        let fail = |reason| CertificateError::Chain { index, reason };
        let env = Envelope::from_nested(env).map_err(fail)?;
        if env.kind() == Kind::Genesis {
            return Err(fail(Rejection::InvalidField { field: "kind", reason: "a chain carries no genesis".into() }));
        }
        if links.last().is_some_and(|prev| prev.envelope.id() >= env.id()) {
            return Err(CertificateError::ChainNotSorted { index });
        }
        links.push(ParsedObject::parse(coalition, env).map_err(fail)?);
    }
    Ok(links)
}

/// Step 12: the proposal's envelope rules, kind, body rules and coalition.
pub(super) fn check_proposal(
    coalition: &Coalition,
    proposal: Option<pb::Envelope>,
) -> Result<(ParsedObject, Proposal), CertificateError> {
    let proposal = proposal.ok_or(CertificateError::Missing("proposal"))?;
    let env = Envelope::from_nested(proposal).map_err(CertificateError::Proposal)?;
    if env.kind() != Kind::Proposal {
        return Err(CertificateError::Proposal(Rejection::InvalidField {
            field: "kind",
            reason: format!("expected a proposal, got a {}", env.kind()),
        }));
    }
    let parsed = ParsedObject::parse(coalition, env).map_err(CertificateError::Proposal)?;
    let Object::Proposal(p) = &parsed.object else { unreachable!("kind checked above") };
    let p = p.clone();
    Ok((parsed, p))
}

/// The envelope rules, kind, body rules and coalition of one stance
/// carried in `endorsements` or `dissent` (steps 13.1 and 13a).
fn parse_stance(coalition: &Coalition, env: pb::Envelope) -> Result<(ParsedObject, Endorsement), Rejection> {
    let env = Envelope::from_nested(env)?;
    if env.kind() != Kind::Endorsement {
        return Err(Rejection::InvalidField {
            field: "kind",
            reason: format!("expected an endorsement, got a {}", env.kind()),
        });
    }
    let parsed = ParsedObject::parse(coalition, env)?;
    let Object::Endorsement(e) = &parsed.object else { unreachable!("kind checked above") };
    let e = e.clone();
    Ok((parsed, e))
}

/// Step 13: each endorsement's envelope rules, kind, body rules and
/// coalition, then what a certificate asks of it: this proposal, stance
/// endorse, on time, one per trust in trust order.
pub(super) fn check_endorsements(
    coalition: &Coalition,
    proposal_id: &ObjectId,
    p: &Proposal,
    endorsements: Vec<pb::Envelope>,
) -> Result<Vec<(ParsedObject, Endorsement)>, CertificateError> {
    let mut carried: Vec<(ParsedObject, Endorsement)> = Vec::with_capacity(endorsements.len());
    for (index, env) in endorsements.into_iter().enumerate() {
        let (parsed, e) =
            parse_stance(coalition, env).map_err(|reason| CertificateError::Endorsement { index, reason })?;
        if e.proposal != *proposal_id {
            return Err(CertificateError::WrongProposal { index, expected: *proposal_id, found: e.proposal });
        }
        if e.stance != Stance::Endorse {
            return Err(CertificateError::NotAnEndorsement { index, stance: e.stance.name() });
        }
        if let Some(closes_at_ms) = p.closes_at_ms {
            if e.created_at_ms > closes_at_ms {
                return Err(CertificateError::AfterClosing { index, created_at_ms: e.created_at_ms, closes_at_ms });
            }
        }
        if let Some((_, prev)) = carried.last() {
            match prev.trust.cmp(&e.trust) {
                std::cmp::Ordering::Equal => {
                    return Err(CertificateError::DuplicateTrust { index, trust: e.trust.to_hex() })
                }
                std::cmp::Ordering::Greater => return Err(CertificateError::NotSorted { index }),
                std::cmp::Ordering::Less => {}
            }
        }
        carried.push((parsed, e));
    }
    Ok(carried)
}

/// Step 13a: each dissent entry's envelope rules, kind, body rules and
/// coalition, then this proposal, stance object or abstain, not after the
/// closing time, one per trust in trust order, and no trust that also
/// endorses.
pub(super) fn check_dissent(
    coalition: &Coalition,
    proposal_id: &ObjectId,
    p: &Proposal,
    endorsers: &BTreeSet<PublicKey>,
    dissent: Vec<pb::Envelope>,
) -> Result<Vec<(ParsedObject, Endorsement)>, CertificateError> {
    let mut carried: Vec<(ParsedObject, Endorsement)> = Vec::with_capacity(dissent.len());
    for (index, env) in dissent.into_iter().enumerate() {
        let (parsed, e) = parse_stance(coalition, env).map_err(|reason| CertificateError::Dissent { index, reason })?;
        if e.proposal != *proposal_id {
            return Err(CertificateError::DissentWrongProposal { index, expected: *proposal_id, found: e.proposal });
        }
        if e.stance == Stance::Endorse {
            return Err(CertificateError::NotDissent { index, stance: e.stance.name() });
        }
        if let Some(closes_at_ms) = p.closes_at_ms {
            if e.created_at_ms > closes_at_ms {
                return Err(CertificateError::DissentAfterClosing {
                    index,
                    created_at_ms: e.created_at_ms,
                    closes_at_ms,
                });
            }
        }
        if let Some((_, prev)) = carried.last() {
            match prev.trust.cmp(&e.trust) {
                std::cmp::Ordering::Equal => {
                    return Err(CertificateError::DissentDuplicateTrust {
                        index,
                        trust: e.trust.to_hex(),
                        endorses: false,
                    })
                }
                std::cmp::Ordering::Greater => return Err(CertificateError::DissentNotSorted { index }),
                std::cmp::Ordering::Less => {}
            }
        }
        if endorsers.contains(&e.trust) {
            return Err(CertificateError::DissentDuplicateTrust { index, trust: e.trust.to_hex(), endorses: true });
        }
        carried.push((parsed, e));
    }
    Ok(carried)
}

/// Step 13b: the seal's form, then its completeness against the ids of
/// the stances carried (`carried`: endorsements, then dissent).
pub(super) fn check_seal(
    coalition: &Coalition,
    proposal_id: &ObjectId,
    seal: Option<pb::Seal>,
    carried: &[ObjectId],
) -> Result<Option<(Seal, SealBody)>, CertificateError> {
    let Some(sealed) = seal else { return Ok(None) };
    let (sealed, body) = seal::check_form(coalition, proposal_id, sealed).map_err(CertificateError::Seal)?;
    seal::check_complete(&body, carried)?;
    Ok(Some((sealed, body)))
}

/// Step 14: every object named by id is carried: the proposal's roster
/// heads, then, in chain order, each chain proposal's heads and each chain
/// endorsement's delegation, then each endorsement's delegation, each
/// dissent entry's, and the seal's.
pub(super) fn check_links(
    chain: &[ParsedObject],
    p: &Proposal,
    stances: &[&Endorsement],
    seal: Option<&SealBody>,
) -> Result<(), CertificateError> {
    let ids: BTreeSet<ObjectId> = chain.iter().map(|l| l.envelope.id()).collect();
    let missing_head = |heads: &[ObjectId]| {
        heads
            .iter()
            .find(|h| !ids.contains(h))
            .map(|h| CertificateError::MissingLink(format!("governance proposal {h}")))
    };
    let missing_delegation = |d: Option<ObjectId>| {
        d.filter(|d| !ids.contains(d)).map(|d| CertificateError::MissingLink(format!("delegation {d}")))
    };
    if let Some(e) = missing_head(&p.roster_heads) {
        return Err(e);
    }
    for link in chain {
        let missing = match &link.object {
            Object::Proposal(g) => missing_head(&g.roster_heads),
            Object::Endorsement(e) => missing_delegation(e.delegation),
            _ => None,
        };
        if let Some(e) = missing {
            return Err(e);
        }
    }
    let named = stances.iter().map(|e| e.delegation).chain(std::iter::once(seal.and_then(|s| s.delegation)));
    match named.into_iter().find_map(missing_delegation) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The carried objects with their checked signers, and the seal's signer.
pub(super) type Signed = (Vec<(Part, SignatureChecked)>, Option<PublicKey>);

/// Step 15: for every carried object in order, its signer under the key
/// rule and its signature; the first failure in that order is reported.
/// Then the seal's signer and signature, which come after every carried
/// object; returns the seal's signer.
pub(super) fn check_signatures(
    coalition: &Coalition,
    items: Vec<(Part, ParsedObject)>,
    seal: Option<&Seal>,
    threads: usize,
) -> Result<Signed, CertificateError> {
    let mut signers: Vec<PublicKey> = Vec::with_capacity(items.len());
    let mut bad_key = None;
    for (part, item) in &items {
        match item.signer(coalition) {
            Ok(k) => signers.push(k),
            Err(reason) => {
                bad_key = Some(part.fail(reason));
                break;
            }
        }
    }
    let inputs: Vec<Vec<u8>> = items[..signers.len()].iter().map(|(_, i)| i.envelope.signing_input()).collect();
    let checks: Vec<SignatureCheck<'_>> = items
        .iter()
        .zip(&signers)
        .zip(&inputs)
        .map(|(((_, item), key), message)| SignatureCheck {
            key,
            message,
            signature: &item.envelope.signatures()[0].signature,
        })
        .collect();
    if let Some(i) = verify_many(&checks, threads) {
        return Err(items[i].0.fail(Rejection::BadSignature { signer: signers[i].to_hex() }));
    }
    drop(checks);
    if let Some(e) = bad_key {
        return Err(e);
    }
    let sealer = seal.map(|s| seal::check_signature(coalition, s).map_err(CertificateError::Seal)).transpose()?;
    let checked = items.into_iter().zip(signers).map(|((part, item), signer)| (part, item.into_checked(signer)));
    Ok((checked.collect(), sealer))
}

/// Step 16: a ledger that starts with the genesis ingests the carried
/// objects as a node would (PROTOCOL.md 12.8, without a clock), in passes
/// over those not yet admitted, in order, until a pass admits nothing
/// ([`Ingest::replay`]). The first refusal that is not a wait fails the
/// certificate; else the first object still waiting names what is missing.
pub(super) fn ingest(coalition: &Coalition, items: Vec<(Part, SignatureChecked)>) -> Result<Ledger, CertificateError> {
    let mut ingest = Ingest::new(coalition.clone(), 0);
    let mut replay = Replay::new(NO_CLOCK);
    let replayed = ingest.replay(&mut replay, items.into_iter().map(|(part, checked)| (part, Ok(checked))));
    if let Some((part, reason)) = replayed.refused.into_iter().next() {
        return Err(part.fail(reason));
    }
    match replay.finish().into_iter().next() {
        None => Ok(ingest.into_ledger()),
        Some((_, reason)) => Err(CertificateError::MissingLink(match reason {
            Rejection::UnknownSigner { key, trust } => format!(
                "what makes {key} a key of trust {trust} (an admission, key replacement, rotation or delegation)"
            ),
            Rejection::UnknownRoster(v) => format!("a governance proposal of roster version {v}"),
            other => other.to_string(),
        })),
    }
}
