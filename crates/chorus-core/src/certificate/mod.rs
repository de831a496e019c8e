//! Certificates: self-contained proof that a coalition adopted a proposal
//! (a position, or a governance decision: an admission, a removal, a key
//! replacement or a charter amendment), verifiable offline with nothing but
//! the bytes and (optionally) the expected coalition id.
//!
//! There is one verification algorithm for every certificate (PROTOCOL.md
//! 9.2): the form of everything carried is checked first, then every
//! signature, then the carried objects are ingested into a ledger of their
//! own exactly as a node ingests them, and that ledger must adopt the
//! proposal under the rule its action calls for, with the endorsements the
//! certificate carries. So the verdict is the ledger's, and an object the
//! proof does not need never changes it. The first failing check in the
//! document's order is the one reported; signatures are checked one by one
//! under the strict rule, spread over threads, with the same report as a
//! sequential verifier's.

use chorus_proto::v1 as pb;
use prost::Message;

use crate::breadth::Breakdown;
use crate::coalition::Coalition;
use crate::decision::{Decision, RuleKind};
use crate::envelope::{decode_canonical, Envelope};
use crate::error::{CertificateError, Rejection, VoidReason};
use crate::id::{CoalitionId, ObjectId};
use crate::ingest::{Ingest, Replay, NO_CLOCK};
use crate::keys::{verify_many, PublicKey, SignatureCheck};
use crate::kind::Kind;
use crate::ledger::{Ledger, ParsedObject, SignatureChecked};
use crate::limits::MAX_CERTIFICATE_BYTES;
use crate::objects::{Endorsement, Proposal, Stance};
use crate::Object;
use std::collections::{BTreeMap, BTreeSet};

/// The certificate format version this crate writes and reads.
pub const CERTIFICATE_VERSION: u32 = 1;

/// A member that endorsed, as proven by a certificate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endorser {
    /// Trust id.
    pub trust: PublicKey,
    /// Display name from the roster of the proposal's version.
    pub name: String,
    /// Endorsement object id.
    pub endorsement: ObjectId,
    /// When it was signed.
    pub created_at_ms: u64,
    /// Its comment, if any.
    pub comment: Option<String>,
}

/// The charter rule a proposal was adopted under, as in force at the roster
/// version it pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AppliedRule {
    /// Which of the charter's rules: positions, membership or amendments.
    pub kind: RuleKind,
    /// "More than numerator/denominator of the members".
    pub numerator: u32,
    /// At least 1.
    pub denominator: u32,
}

/// What a valid certificate proves: this coalition adopted this proposal
/// under this rule, endorsed by these members. Made only by verification
/// ([`verify`] and its variants): its fields are readable, and being
/// non-exhaustive it cannot be built outside this crate.
///
/// ```compile_fail
/// # fn forge(v: chorus_core::VerifiedAdoption) -> chorus_core::VerifiedAdoption {
/// chorus_core::VerifiedAdoption { members: 1_000, ..v }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct VerifiedAdoption {
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
    /// What adopting it decided: a position, or the governance action it
    /// carries.
    pub decision: Decision,
    /// The rule it was adopted under.
    pub rule: AppliedRule,
    /// The roster version it was voted under (the coalition id for the
    /// genesis roster).
    pub roster_version: ObjectId,
    /// Members of that roster version.
    pub members: usize,
    /// Endorsements the rule requires.
    pub required: usize,
    /// The endorsing members, sorted by trust id.
    pub endorsers: Vec<Endorser>,
    /// The endorsements above broken down by attribute under the roster
    /// version, every other member silent (a stance on the proposal carried
    /// in the proof chain is not counted), with the breadth rules of the
    /// rule, all met by these endorsers.
    pub breakdown: Breakdown,
}

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
    let mut ends: Vec<(Vec<u8>, pb::Envelope)> = endorsements
        .iter()
        .map(|e| {
            // Only the field is needed to sort: a full parse would
            // decompress every trust key.
            let trust = pb::Endorsement::decode(e.body()).map(|b| b.trust).unwrap_or_default();
            (trust, e.to_proto())
        })
        .collect();
    ends.sort_by(|a, b| a.0.cmp(&b.0));
    let mut links: Vec<&Envelope> = chain.iter().collect();
    links.sort_by_key(|l| l.id());
    links.dedup_by_key(|l| l.id());
    pb::Certificate {
        version: CERTIFICATE_VERSION,
        genesis: Some(genesis.to_proto()),
        proposal: Some(proposal.to_proto()),
        endorsements: ends.into_iter().map(|(_, e)| e).collect(),
        chain: links.into_iter().map(Envelope::to_proto).collect(),
    }
    .encode_to_vec()
}

/// Verifies a certificate with every core of the machine.
pub fn verify(bytes: &[u8], expected: Option<CoalitionId>) -> Result<VerifiedAdoption, CertificateError> {
    verify_with_threads(bytes, expected, crate::keys::default_threads())
}

/// Verifies a certificate using up to `threads` threads for signatures. The
/// verdict does not depend on `threads`.
pub fn verify_with_threads(
    bytes: &[u8],
    expected: Option<CoalitionId>,
    threads: usize,
) -> Result<VerifiedAdoption, CertificateError> {
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
) -> Result<VerifiedAdoption, CertificateError> {
    verify_inner(bytes, Some(coalition.id()), Some(coalition), threads)
}

/// Where a carried object sits in the certificate, for error reports.
#[derive(Clone, Copy, Debug)]
enum Part {
    Chain(usize),
    Proposal,
    Endorsement(usize),
}

impl Part {
    /// The certificate error for a rejection of this part.
    fn fail(self, reason: Rejection) -> CertificateError {
        match (self, reason) {
            (Part::Chain(index), reason) => CertificateError::Chain { index, reason },
            (Part::Proposal, reason) => CertificateError::Proposal(reason),
            (Part::Endorsement(index), Rejection::BadSignature { signer }) => {
                CertificateError::BadSignature { index, trust: signer }
            }
            (Part::Endorsement(index), reason) => CertificateError::Endorsement { index, reason },
        }
    }
}

fn verify_inner(
    bytes: &[u8],
    expected: Option<CoalitionId>,
    known: Option<&Coalition>,
    threads: usize,
) -> Result<VerifiedAdoption, CertificateError> {
    // Steps 1-5: size and decoding.
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

    // Steps 6-10: the genesis, the coalition asked for, the founders'
    // signatures.
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
    if let Some(input) = genesis_input {
        let checks: Vec<SignatureCheck<'_>> = coalition.genesis_checks(input).collect();
        if let Some(i) = verify_many(&checks, threads) {
            return Err(CertificateError::Genesis(Rejection::BadSignature { signer: checks[i].key.to_hex() }));
        }
    }

    // Steps 11-14: the form of everything carried, and the links it names.
    let chain = check_chain(coalition, cert.chain)?;
    let (proposal, p) = check_proposal(coalition, cert.proposal)?;
    let endorsements = check_endorsements(coalition, &proposal.envelope.id(), &p, cert.endorsements)?;
    check_links(&chain, &p, &endorsements)?;

    // Step 15: every signature, then step 16: ingest.
    let chain_ids: Vec<ObjectId> = chain.iter().map(|l| l.envelope.id()).collect();
    let carried: Vec<Endorser> = endorsements
        .iter()
        .map(|(env, e)| Endorser {
            trust: e.trust,
            name: String::new(),
            endorsement: env.envelope.id(),
            created_at_ms: e.created_at_ms,
            comment: e.comment.clone(),
        })
        .collect();
    let proposal_id = proposal.envelope.id();
    let mut items: Vec<(Part, ParsedObject)> =
        chain.into_iter().enumerate().map(|(i, c)| (Part::Chain(i), c)).collect();
    items.push((Part::Proposal, proposal));
    items.extend(endorsements.into_iter().enumerate().map(|(i, (e, _))| (Part::Endorsement(i), e)));
    let checked = check_signatures(coalition, items, threads)?;
    let ledger = ingest(coalition, checked)?;

    // Steps 17-21: what the carried objects adopt.
    conclude(&ledger, &chain_ids, proposal_id, p, carried)
}

/// Step 11: each chain entry's envelope rules, that it is no genesis, its
/// place in id order, its body rules and its coalition.
fn check_chain(coalition: &Coalition, chain: Vec<pb::Envelope>) -> Result<Vec<ParsedObject>, CertificateError> {
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
fn check_proposal(
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

/// Step 13: each endorsement's envelope rules, kind, body rules and
/// coalition, then what a certificate asks of it: this proposal, stance
/// endorse, on time, one per trust in trust order.
fn check_endorsements(
    coalition: &Coalition,
    proposal_id: &ObjectId,
    p: &Proposal,
    endorsements: Vec<pb::Envelope>,
) -> Result<Vec<(ParsedObject, Endorsement)>, CertificateError> {
    let mut carried: Vec<(ParsedObject, Endorsement)> = Vec::with_capacity(endorsements.len());
    for (index, env) in endorsements.into_iter().enumerate() {
        let invalid = |reason| CertificateError::Endorsement { index, reason };
        let env = Envelope::from_nested(env).map_err(invalid)?;
        if env.kind() != Kind::Endorsement {
            return Err(invalid(Rejection::InvalidField {
                field: "kind",
                reason: format!("expected an endorsement, got a {}", env.kind()),
            }));
        }
        let parsed = ParsedObject::parse(coalition, env).map_err(invalid)?;
        let Object::Endorsement(e) = &parsed.object else { unreachable!("kind checked above") };
        let e = e.clone();
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

/// Step 14: every object named by id is carried: the proposal's roster
/// heads, then, in chain order, each chain proposal's heads and each chain
/// endorsement's delegation, then each endorsement's delegation.
fn check_links(
    chain: &[ParsedObject],
    p: &Proposal,
    endorsements: &[(ParsedObject, Endorsement)],
) -> Result<(), CertificateError> {
    let ids: BTreeSet<ObjectId> = chain.iter().map(|l| l.envelope.id()).collect();
    let missing_head = |heads: &[ObjectId]| {
        heads
            .iter()
            .find(|h| !ids.contains(h))
            .map(|h| CertificateError::MissingLink(format!("governance proposal {h}")))
    };
    let missing_delegation = |e: &Endorsement| {
        e.delegation.filter(|d| !ids.contains(d)).map(|d| CertificateError::MissingLink(format!("delegation {d}")))
    };
    if let Some(e) = missing_head(&p.roster_heads) {
        return Err(e);
    }
    for link in chain {
        let missing = match &link.object {
            Object::Proposal(g) => missing_head(&g.roster_heads),
            Object::Endorsement(e) => missing_delegation(e),
            _ => None,
        };
        if let Some(e) = missing {
            return Err(e);
        }
    }
    match endorsements.iter().find_map(|(_, e)| missing_delegation(e)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Step 15: for every carried object in order, its signer under the key
/// rule and its signature; the first failure in that order is reported.
fn check_signatures(
    coalition: &Coalition,
    items: Vec<(Part, ParsedObject)>,
    threads: usize,
) -> Result<Vec<(Part, SignatureChecked)>, CertificateError> {
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
    Ok(items.into_iter().zip(signers).map(|((part, item), signer)| (part, item.into_checked(signer))).collect())
}

/// Step 16: a ledger that starts with the genesis ingests the carried
/// objects as a node would (PROTOCOL.md 12.8, without a clock), in passes
/// over those not yet admitted, in order, until a pass admits nothing
/// ([`Ingest::replay`]). The first refusal that is not a wait fails the
/// certificate; else the first object still waiting names what is missing.
fn ingest(coalition: &Coalition, items: Vec<(Part, SignatureChecked)>) -> Result<Ledger, CertificateError> {
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

/// Steps 17-21: every governance proposal carried is adopted, the proposal
/// counts, every endorsement carried is authorised, and they reach the
/// rule the proposal's action calls for: its fraction, then each of its
/// breadth rules, both counted over those endorsements alone.
fn conclude(
    ledger: &Ledger,
    chain: &[ObjectId],
    proposal_id: ObjectId,
    p: Proposal,
    carried: Vec<Endorser>,
) -> Result<VerifiedAdoption, CertificateError> {
    let coalition = ledger.coalition();
    // The one named is the first, in chain (id) order, whose own heads are
    // all adopted: the one that fails on its own endorsements, not one that
    // merely waits for it.
    let not_adopted: Vec<&ObjectId> =
        chain.iter().filter(|id| ledger.is_governance(id) && !ledger.is_adopted(id)).collect();
    if let Some(first) = not_adopted.first() {
        let root = not_adopted
            .iter()
            .find(|id| ledger.proposal(id).is_some_and(|g| g.roster_heads.iter().all(|h| ledger.is_adopted(h))));
        return Err(CertificateError::ChainNotAdopted(**root.unwrap_or(first)));
    }
    let void = |reason| CertificateError::ProposalVoid { proposal: proposal_id, reason };
    let tally = match ledger.tally(&proposal_id) {
        Some(t) => t,
        None => return Err(void(ledger.void_reason(&proposal_id).unwrap_or(VoidReason::Unresolved))),
    };
    let (roster, charter) = ledger.version_of(&proposal_id).ok_or_else(|| void(VoidReason::Unresolved))?;
    let kind = RuleKind::of(p.action.as_ref());
    let rule = charter.rule(kind);
    let mut endorsers = carried;
    for (index, e) in endorsers.iter_mut().enumerate() {
        if !ledger.counts(&proposal_id, &e.trust, &e.endorsement) {
            return Err(CertificateError::Unauthorised { index, trust: e.trust.to_hex() });
        }
        e.name = roster.get(e.trust.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    }
    if endorsers.len() < tally.required {
        return Err(CertificateError::BelowThreshold {
            rule: kind,
            have: endorsers.len(),
            need: tally.required,
            members: tally.members,
        });
    }
    // Breadth, like the fraction, is of the endorsements the certificate
    // carries as such (step 21): a stance on this proposal carried in the
    // chain counts in neither, nor in the breakdown, where every member
    // that did not endorse here is silent.
    let stances: BTreeMap<PublicKey, Stance> = endorsers.iter().map(|e| (e.trust, Stance::Endorse)).collect();
    let breakdown = crate::breadth::breakdown(roster, charter, kind, &stances);
    if let Some((b, shortfall)) = breakdown.breadth.iter().find_map(|b| Some((b, b.shortfall()?))) {
        return Err(CertificateError::Breadth { rule: kind, breadth: b.rule.clone(), shortfall });
    }
    let author_name = roster.get(p.author.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    Ok(VerifiedAdoption {
        coalition: coalition.id(),
        coalition_name: coalition.name().to_owned(),
        proposal_id,
        decision: Decision::of(p.action.as_ref()),
        rule: AppliedRule { kind, numerator: rule.numerator, denominator: rule.denominator },
        roster_version: p.roster,
        author_name,
        members: tally.members,
        required: tally.required,
        endorsers,
        breakdown,
        proposal: p,
    })
}
