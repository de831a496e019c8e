//! Certificates: self-contained proof that a proposal was adopted, verifiable
//! offline with nothing but the bytes and (optionally) the expected coalition
//! id.
//!
//! Verification runs the checks of PROTOCOL.md ("Certificate verification")
//! and reports the first that fails in that order. Signatures are checked one
//! by one under the strict rule, spread over threads; the reported failure is
//! the same as a sequential verifier's.

use chorus_proto::v1 as pb;
use prost::Message;

use crate::coalition::Coalition;
use crate::envelope::{decode_canonical, Envelope};
use crate::error::{CertificateError, Rejection};
use crate::id::{CoalitionId, ObjectId};
use crate::keys::{verify_many, PublicKey, SignatureCheck};
use crate::kind::Kind;
use crate::limits::MAX_CERTIFICATE_BYTES;
use std::collections::BTreeSet;

use crate::ledger::Ledger;
use crate::objects::{Endorsement, Proposal, Stance};

/// Certificates are judged without a clock: the same verdict at any time.
const NO_CLOCK: u64 = u64::MAX;

/// The certificate format version this crate writes and reads.
pub const CERTIFICATE_VERSION: u32 = 1;

/// A member that endorsed, as proven by a certificate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endorser {
    /// Trust key.
    pub trust: PublicKey,
    /// Display name from the roster.
    pub name: String,
    /// Endorsement object id.
    pub endorsement: ObjectId,
    /// When it was signed.
    pub created_at_ms: u64,
    /// Its comment, if any.
    pub comment: Option<String>,
}

/// What a valid certificate proves: this coalition adopted this proposal,
/// endorsed by these members.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VerifiedPosition {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Coalition name.
    pub coalition_name: String,
    /// Proposal id.
    pub proposal_id: ObjectId,
    /// The proposal.
    pub proposal: Proposal,
    /// Display name of the proposing trust.
    pub author_name: String,
    /// Members of the roster voted under.
    pub members: usize,
    /// Endorsements the charter requires.
    pub required: usize,
    /// The endorsing members, sorted by trust key.
    pub endorsers: Vec<Endorser>,
}

/// Assembles a certificate from exact envelope bytes. Endorsements are sorted
/// by trust key; nothing is verified here (verify the result, or build it
/// from [`crate::Ledger::certificate_endorsements`]).
pub fn assemble(genesis: &Envelope, proposal: &Envelope, endorsements: &[Envelope]) -> Vec<u8> {
    let mut ends: Vec<(Vec<u8>, pb::Envelope)> = endorsements
        .iter()
        .map(|e| {
            let trust = Endorsement::from_body(e.body()).map(|b| b.trust.as_bytes().to_vec()).unwrap_or_default();
            (trust, e.to_proto())
        })
        .collect();
    ends.sort_by(|a, b| a.0.cmp(&b.0));
    pb::Certificate {
        version: CERTIFICATE_VERSION,
        genesis: Some(genesis.to_proto()),
        proposal: Some(proposal.to_proto()),
        endorsements: ends.into_iter().map(|(_, e)| e).collect(),
        chain: vec![],
    }
    .encode_to_vec()
}

/// As [`assemble`], with a proof chain (PROTOCOL.md 12.9), which is sorted
/// by id and deduplicated here.
pub fn assemble_with_chain(
    genesis: &Envelope,
    proposal: &Envelope,
    endorsements: &[Envelope],
    chain: &[Envelope],
) -> Vec<u8> {
    let mut cert = pb::Certificate::decode(assemble(genesis, proposal, endorsements).as_slice())
        .expect("assemble writes a certificate");
    let mut links: Vec<&Envelope> = chain.iter().collect();
    links.sort_by_key(|l| l.id());
    links.dedup_by_key(|l| l.id());
    cert.chain = links.into_iter().map(Envelope::to_proto).collect();
    cert.encode_to_vec()
}

/// Verifies a certificate with every core of the machine.
pub fn verify(bytes: &[u8], expected: Option<CoalitionId>) -> Result<VerifiedPosition, CertificateError> {
    verify_with_threads(bytes, expected, crate::keys::default_threads())
}

/// Verifies a certificate using up to `threads` threads for signatures. The
/// verdict does not depend on `threads`.
pub fn verify_with_threads(
    bytes: &[u8],
    expected: Option<CoalitionId>,
    threads: usize,
) -> Result<VerifiedPosition, CertificateError> {
    verify_inner(bytes, expected, None, threads)
}

/// Verifies a certificate expected to be of `coalition`, a coalition the
/// caller already holds verified (a node's own, or one an auditor checks many
/// certificates of). The verdict is exactly that of
/// `verify_with_threads(bytes, Some(coalition.id()), threads)`; only the time
/// differs: when the certificate carries byte for byte the genesis
/// `coalition` was verified from, its founders' countersignatures, checked
/// then over those same bytes, are not checked again. With thousands of
/// founders that is most of the work, because every countersignature covers
/// the whole genesis body.
pub fn verify_for_coalition(
    bytes: &[u8],
    coalition: &Coalition,
    threads: usize,
) -> Result<VerifiedPosition, CertificateError> {
    verify_inner(bytes, Some(coalition.id()), Some(coalition), threads)
}

fn verify_inner(
    bytes: &[u8],
    expected: Option<CoalitionId>,
    known: Option<&Coalition>,
    threads: usize,
) -> Result<VerifiedPosition, CertificateError> {
    // 1. Size and decoding.
    if bytes.is_empty() {
        return Err(CertificateError::Empty);
    }
    if bytes.len() > MAX_CERTIFICATE_BYTES {
        return Err(CertificateError::TooLarge { size: bytes.len(), limit: MAX_CERTIFICATE_BYTES });
    }
    let cert: pb::Certificate = decode_canonical(bytes, "certificate").map_err(|e| match e {
        Rejection::NonCanonical { .. } => CertificateError::NonCanonical,
        Rejection::Malformed { detail, .. } => CertificateError::Malformed(detail),
        other => CertificateError::Malformed(other.to_string()),
    })?;
    if cert.version != CERTIFICATE_VERSION {
        return Err(CertificateError::UnsupportedVersion(cert.version));
    }

    // 2. Genesis structure, then 3. the coalition asked for.
    let genesis = cert.genesis.ok_or(CertificateError::Missing("genesis"))?;
    let genesis = Envelope::from_nested(genesis).map_err(CertificateError::Genesis)?;
    let prechecked;
    let (coalition, genesis_input) = match known {
        // The same bytes as a genesis verified in full before: the same
        // structure and the same signature verdicts, so nothing to redo.
        Some(known) if known.genesis_envelope().bytes() == genesis.bytes() => (known, None),
        _ => {
            prechecked = Coalition::precheck_genesis(genesis, threads).map_err(CertificateError::Genesis)?;
            (&prechecked.0, Some(&prechecked.1))
        }
    };
    if let Some(expected) = expected {
        if coalition.id() != expected {
            return Err(CertificateError::WrongCoalition { expected, found: coalition.id() });
        }
    }
    let mut checks: Vec<SignatureCheck<'_>> =
        genesis_input.map(|input| coalition.genesis_checks(input).collect()).unwrap_or_default();
    let genesis_sigs = checks.len();

    // A proof chain, or a proposal under a later roster version: section 12.9.
    let has_heads = cert
        .proposal
        .as_ref()
        .and_then(|p| Proposal::from_body(&p.body).ok())
        .is_some_and(|p| !p.roster_heads.is_empty());
    // Only the field is looked at here: a full parse would decompress every
    // trust key, which costs as much as a tenth of the signature checks.
    let delegated = cert
        .endorsements
        .iter()
        .any(|e| pb::Endorsement::decode(e.body.as_slice()).is_ok_and(|b| !b.delegation.is_empty()));
    if !cert.chain.is_empty() || has_heads || delegated {
        if let Some(i) = verify_many(&checks, threads) {
            return Err(CertificateError::Genesis(Rejection::BadSignature { signer: checks[i].key.to_hex() }));
        }
        return verify_governance(coalition, cert.proposal, cert.endorsements, cert.chain);
    }

    // 5. Proposal structure (its signature joins the batch).
    let proposal = cert.proposal.ok_or(CertificateError::Missing("proposal"));
    let proposal = proposal.and_then(|p| {
        let env = Envelope::from_nested(p).map_err(CertificateError::Proposal)?;
        if env.kind() != Kind::Proposal {
            return Err(CertificateError::Proposal(Rejection::InvalidField {
                field: "kind",
                reason: format!("expected a proposal, got a {}", env.kind()),
            }));
        }
        // No clock: a certificate is judged the same at any time.
        let pre = coalition.precheck(&env, NO_CLOCK).map_err(CertificateError::Proposal)?;
        let pre = pre.expect("a proposal envelope is never the genesis");
        // Without a clock only an unknown roster can be deferred; a
        // certificate must prove everything now, so it is a failure here.
        if let Some(deferred) = pre.deferred {
            return Err(CertificateError::Proposal(deferred));
        }
        let crate::coalition::Object::Proposal(p) = pre.object else { unreachable!("kind checked above") };
        Ok((env.id(), p, pre.signer, pre.input, pre.signature))
    });
    let proposal = match proposal {
        Ok(p) => p,
        Err(e) => {
            // A bad founder signature comes first in check order.
            if let Some(i) = verify_many(&checks, threads) {
                return Err(CertificateError::Genesis(Rejection::BadSignature { signer: checks[i].key.to_hex() }));
            }
            return Err(e);
        }
    };
    let (proposal_id, proposal, author, proposal_input, proposal_sig) = proposal;
    checks.push(SignatureCheck { key: &author, message: &proposal_input, signature: &proposal_sig });

    // 6. Endorsements, in order: structure here, signatures in the batch.
    let roster = coalition.roster(&proposal.roster).expect("precheck accepted this roster");
    let mut endorsers: Vec<Endorser> = Vec::with_capacity(cert.endorsements.len());
    let mut inputs: Vec<(Vec<u8>, [u8; 64])> = Vec::with_capacity(cert.endorsements.len());
    let mut first_structural: Option<CertificateError> = None;
    for (index, env) in cert.endorsements.into_iter().enumerate() {
        match check_endorsement(coalition, &proposal_id, &proposal, endorsers.last(), index, env) {
            Ok((endorser, input, sig)) => {
                endorsers.push(endorser);
                inputs.push((input, sig));
            }
            Err(e) => {
                first_structural = Some(e);
                break;
            }
        }
    }
    let keys: Vec<&PublicKey> =
        endorsers.iter().map(|e| &roster.get(e.trust.as_bytes()).expect("membership checked").key).collect();
    checks.extend(inputs.iter().zip(&keys).map(|((input, sig), key)| SignatureCheck {
        key,
        message: input,
        signature: sig,
    }));
    if let Some(i) = verify_many(&checks, threads) {
        let key = checks[i].key.to_hex();
        return Err(if i < genesis_sigs {
            CertificateError::Genesis(Rejection::BadSignature { signer: key })
        } else if i == genesis_sigs {
            CertificateError::Proposal(Rejection::BadSignature { signer: key })
        } else {
            CertificateError::BadSignature { index: i - genesis_sigs - 1, trust: key }
        });
    }
    if let Some(e) = first_structural {
        return Err(e);
    }

    // 7. Threshold.
    let members = roster.len();
    let required = coalition.charter().positions.required(members);
    if endorsers.len() < required {
        return Err(CertificateError::BelowThreshold { have: endorsers.len(), need: required, members });
    }
    let author_name = roster.get(proposal.author.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    Ok(VerifiedPosition {
        coalition: coalition.id(),
        coalition_name: coalition.name().to_owned(),
        proposal_id,
        proposal,
        author_name,
        members,
        required,
        endorsers,
    })
}

/// Verification of a certificate with a proof chain (PROTOCOL.md 12.9),
/// after the genesis has been verified: every carried object is ingested
/// into a ledger of its own, and that ledger must adopt the proposal with
/// the endorsements carried.
fn verify_governance(
    coalition: &Coalition,
    proposal: Option<pb::Envelope>,
    endorsements: Vec<pb::Envelope>,
    chain: Vec<pb::Envelope>,
) -> Result<VerifiedPosition, CertificateError> {
    // 1. Chain shape and order.
    let mut links: Vec<Envelope> = Vec::with_capacity(chain.len());
    for (index, env) in chain.into_iter().enumerate() {
        let env = Envelope::from_nested(env).map_err(|reason| CertificateError::Chain { index, reason })?;
        if env.kind() == Kind::Genesis {
            return Err(CertificateError::Chain {
                index,
                reason: Rejection::InvalidField { field: "kind", reason: "a chain carries no genesis".into() },
            });
        }
        if links.last().is_some_and(|prev| prev.id() >= env.id()) {
            return Err(CertificateError::ChainNotSorted { index });
        }
        links.push(env);
    }
    // 2. The proposal.
    let proposal = proposal.ok_or(CertificateError::Missing("proposal"))?;
    let proposal = Envelope::from_nested(proposal).map_err(CertificateError::Proposal)?;
    if proposal.kind() != Kind::Proposal {
        return Err(CertificateError::Proposal(Rejection::InvalidField {
            field: "kind",
            reason: format!("expected a proposal, got a {}", proposal.kind()),
        }));
    }
    let p = Proposal::from_body(proposal.body()).map_err(CertificateError::Proposal)?;
    coalition.check_coalition(p.coalition).map_err(CertificateError::Proposal)?;
    let proposal_id = proposal.id();
    // 3. The endorsements, in order.
    let mut carried: Vec<(Envelope, Endorsement)> = Vec::with_capacity(endorsements.len());
    for (index, env) in endorsements.into_iter().enumerate() {
        let invalid = |reason| CertificateError::Endorsement { index, reason };
        let env = Envelope::from_nested(env).map_err(invalid)?;
        if env.kind() != Kind::Endorsement {
            return Err(invalid(Rejection::InvalidField {
                field: "kind",
                reason: format!("expected an endorsement, got a {}", env.kind()),
            }));
        }
        let e = Endorsement::from_body(env.body()).map_err(invalid)?;
        coalition.check_coalition(e.coalition).map_err(invalid)?;
        if e.proposal != proposal_id {
            return Err(CertificateError::WrongProposal { index, expected: proposal_id, found: e.proposal });
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
        carried.push((env, e));
    }
    // 4. Links named by id must be carried.
    let ids: BTreeSet<ObjectId> = links.iter().map(|l| l.id()).collect();
    let mut named: Vec<(Vec<ObjectId>, Option<ObjectId>)> = vec![(p.roster_heads.clone(), None)];
    for l in &links {
        match l.kind() {
            Kind::Proposal => {
                if let Ok(g) = Proposal::from_body(l.body()) {
                    named.push((g.roster_heads, None));
                }
            }
            Kind::Endorsement => {
                if let Ok(e) = Endorsement::from_body(l.body()) {
                    named.push((vec![], e.delegation));
                }
            }
            _ => {}
        }
    }
    named.extend(carried.iter().map(|(_, e)| (vec![], e.delegation)));
    for (heads, delegation) in &named {
        if let Some(h) = heads.iter().find(|h| !ids.contains(h)) {
            return Err(CertificateError::MissingLink(format!("governance proposal {h}")));
        }
        if let Some(d) = delegation.filter(|d| !ids.contains(d)) {
            return Err(CertificateError::MissingLink(format!("delegation {d}")));
        }
    }
    // 5. Ingest everything, as a node would, until nothing more is admitted.
    #[derive(Clone, Copy)]
    enum Part {
        Chain(usize),
        Proposal,
        Endorsement(usize),
    }
    let mut items: Vec<(Part, &Envelope)> = links.iter().enumerate().map(|(i, l)| (Part::Chain(i), l)).collect();
    items.push((Part::Proposal, &proposal));
    items.extend(carried.iter().enumerate().map(|(i, (e, _))| (Part::Endorsement(i), e)));
    let fail = |part: Part, reason: Rejection| match (part, reason) {
        (Part::Chain(index), reason) => CertificateError::Chain { index, reason },
        (Part::Proposal, reason) => CertificateError::Proposal(reason),
        (Part::Endorsement(index), Rejection::BadSignature { signer }) => {
            CertificateError::BadSignature { index, trust: signer }
        }
        (Part::Endorsement(index), reason) => CertificateError::Endorsement { index, reason },
    };
    let mut ledger = Ledger::new(coalition.clone());
    loop {
        let mut progress = false;
        let mut pending = Vec::new();
        for (part, env) in items {
            match ledger.validate(env.bytes(), NO_CLOCK) {
                Ok(v) => {
                    ledger.apply(&v);
                    progress = true;
                }
                Err(r) if r.verdict() == crate::Verdict::Ignore => pending.push((part, env, r)),
                Err(r) => return Err(fail(part, r)),
            }
        }
        if pending.is_empty() {
            break;
        }
        if !progress {
            let (_, _, reason) = &pending[0];
            return Err(CertificateError::MissingLink(match reason {
                Rejection::UnknownSigner { key, trust } => format!(
                    "what makes {key} a key of trust {trust} (an admission, key replacement, rotation or delegation)"
                ),
                Rejection::UnknownRoster(v) => format!("a governance proposal of roster version {v}"),
                other => other.to_string(),
            }));
        }
        items = pending.into_iter().map(|(part, env, _)| (part, env)).collect();
    }
    // 6. Every governance proposal carried is adopted by what is carried.
    // The one named is the first, in chain order, whose own heads are all
    // adopted: the one that fails on its own endorsements, not one that
    // merely waits for it.
    let not_adopted: Vec<ObjectId> =
        links.iter().map(|l| l.id()).filter(|id| ledger.is_governance(id) && !ledger.is_adopted(id)).collect();
    if let Some(first) = not_adopted.first() {
        let root = not_adopted
            .iter()
            .find(|id| ledger.proposal(id).is_some_and(|p| p.roster_heads.iter().all(|h| ledger.is_adopted(h))));
        return Err(CertificateError::ChainNotAdopted(*root.unwrap_or(first)));
    }
    // 7. The proposal counts, 8. so does every endorsement, 9. enough of them.
    let tally = ledger.tally(&proposal_id).ok_or(CertificateError::ProposalVoid(proposal_id))?;
    let (roster, _) = ledger.version_of(&proposal_id).ok_or(CertificateError::ProposalVoid(proposal_id))?;
    let mut endorsers = Vec::with_capacity(carried.len());
    for (index, (env, e)) in carried.iter().enumerate() {
        if !ledger.counts(&proposal_id, &e.trust, &env.id()) {
            return Err(CertificateError::Unauthorised { index, trust: e.trust.to_hex() });
        }
        endorsers.push(Endorser {
            trust: e.trust,
            name: roster.get(e.trust.as_bytes()).map(|m| m.name.clone()).unwrap_or_default(),
            endorsement: env.id(),
            created_at_ms: e.created_at_ms,
            comment: e.comment.clone(),
        });
    }
    if endorsers.len() < tally.required {
        return Err(CertificateError::BelowThreshold {
            have: endorsers.len(),
            need: tally.required,
            members: tally.members,
        });
    }
    let author_name = roster.get(p.author.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    Ok(VerifiedPosition {
        coalition: coalition.id(),
        coalition_name: coalition.name().to_owned(),
        proposal_id,
        proposal: p,
        author_name,
        members: tally.members,
        required: tally.required,
        endorsers,
    })
}

/// Every check on one endorsement except its signature.
fn check_endorsement(
    coalition: &Coalition,
    proposal_id: &ObjectId,
    proposal: &Proposal,
    previous: Option<&Endorser>,
    index: usize,
    env: pb::Envelope,
) -> Result<(Endorser, Vec<u8>, [u8; 64]), CertificateError> {
    let invalid = |reason| CertificateError::Endorsement { index, reason };
    let env = Envelope::from_nested(env).map_err(invalid)?;
    if env.kind() != Kind::Endorsement {
        return Err(invalid(Rejection::InvalidField {
            field: "kind",
            reason: format!("expected an endorsement, got a {}", env.kind()),
        }));
    }
    let pre =
        coalition.precheck(&env, NO_CLOCK).map_err(invalid)?.expect("an endorsement envelope is never the genesis");
    if let Some(deferred) = pre.deferred {
        return Err(invalid(deferred));
    }
    let crate::coalition::Object::Endorsement(e) = pre.object else { unreachable!("kind checked above") };
    if e.proposal != *proposal_id {
        return Err(CertificateError::WrongProposal { index, expected: *proposal_id, found: e.proposal });
    }
    if e.stance != Stance::Endorse {
        return Err(CertificateError::NotAnEndorsement { index, stance: e.stance.name() });
    }
    if let Some(closes_at_ms) = proposal.closes_at_ms {
        if e.created_at_ms > closes_at_ms {
            return Err(CertificateError::AfterClosing { index, created_at_ms: e.created_at_ms, closes_at_ms });
        }
    }
    if let Some(prev) = previous {
        match prev.trust.cmp(&e.trust) {
            std::cmp::Ordering::Equal => {
                return Err(CertificateError::DuplicateTrust { index, trust: e.trust.to_hex() })
            }
            std::cmp::Ordering::Greater => return Err(CertificateError::NotSorted { index }),
            std::cmp::Ordering::Less => {}
        }
    }
    let name = coalition.current_roster().get(e.trust.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    Ok((
        Endorser { trust: e.trust, name, endorsement: env.id(), created_at_ms: e.created_at_ms, comment: e.comment },
        pre.input,
        pre.signature,
    ))
}
