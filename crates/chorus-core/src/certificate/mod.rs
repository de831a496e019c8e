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
//!
//! A certificate may also carry the dissent (every member's counted
//! objection or abstention) and a member's seal over every stance carried
//! (PROTOCOL.md 9.2 steps 13a, 13b, 19a, 22); one made before dissent was
//! recorded carries neither, verifies exactly as before, and its report
//! says that dissent is not recorded ([`VerifiedAdoption::seal`] is
//! `None`).
//!
//! Modules: `form` (steps 11-16), `seal` (the seal's form, completeness
//! and signature), `assemble` (writing one).

use chorus_proto::v1 as pb;

use crate::breadth::Breakdown;
use crate::coalition::Coalition;
use crate::decision::{Decision, RuleKind};
use crate::deliberation::{Timing, VotingWindow};
use crate::envelope::{decode_canonical, Envelope};
use crate::error::{CertificateError, Rejection, Stances, Untimely, VoidReason};
use crate::id::{CoalitionId, ObjectId};
use crate::keys::{verify_many, PublicKey, SignatureCheck};
use crate::ledger::{Ledger, ParsedObject};
use crate::limits::MAX_CERTIFICATE_BYTES;
use crate::objects::{Endorsement, Proposal, Stance};
use std::collections::{BTreeMap, BTreeSet};

mod assemble;
mod form;
mod seal;
mod sealer;

pub use assemble::{assemble, assemble_full, assemble_with_chain};
pub use seal::{seal_body, signing_input as seal_signing_input, Seal, MAX_SEAL_STANCES, SEAL_SIGNING_PREFIX};
pub use sealer::{SealChoice, Sealer};

use form::{
    check_chain, check_dissent, check_endorsements, check_links, check_proposal, check_seal, check_signatures, ingest,
    Part,
};
use seal::SealBody;

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
/// under this rule, endorsed by these members; and what it carries besides:
/// the members that objected or abstained (each a counted, on-time stance
/// that is its trust's effective stance under what is carried), the
/// members with no stance carried, and who sealed it. Only a seal says
/// that the dissent carried is all its sealer's node held
/// ([`VerifiedAdoption::dissent_note`]). Made only by verification
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
    /// Members whose counted stance, carried in `dissent`, is object,
    /// sorted by trust id. Empty when the certificate carries no dissent.
    pub objectors: Vec<Dissenter>,
    /// Members whose counted stance, carried in `dissent`, is abstain,
    /// sorted by trust id.
    pub abstainers: Vec<Dissenter>,
    /// Members with no stance carried: members of the roster version whose
    /// trust is in neither `endorsements` nor `dissent` (trust id, name),
    /// sorted by trust id. Only with a [`VerifiedAdoption::seal`] may a
    /// presentation say they "did not respond": without one a stance may
    /// have been left out, so it says "no stance carried".
    pub silent: Vec<(PublicKey, String)>,
    /// Who sealed the certificate; `None` when it carries no seal (every
    /// certificate made before dissent was recorded): then nothing says
    /// whether members objected ([`VerifiedAdoption::dissent_note`]).
    pub seal: Option<SealInfo>,
    /// The proposal's voting window as the carried objects give it.
    pub window: VotingWindow,
}

/// A member that objected or abstained, as a certificate carries it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Dissenter {
    /// Trust id.
    pub trust: PublicKey,
    /// Display name from the roster of the proposal's version.
    pub name: String,
    /// Id of the endorsement object (stance object or abstain) carried.
    pub stance_id: ObjectId,
    /// When it was signed.
    pub created_at_ms: u64,
    /// Its comment (the reason, if the member gave one).
    pub comment: Option<String>,
}

/// The seal of a verified certificate: a member's signed statement that the
/// certificate carries every on-time stance its node held on the proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SealInfo {
    /// The sealing member trust.
    pub trust: PublicKey,
    /// Its display name from the roster of the proposal's version.
    pub name: String,
    /// The key that signed the seal: a key of the trust, or the delegate of
    /// `delegation`.
    pub signer: PublicKey,
    /// The node-scope delegation the signer sealed under, if any.
    pub delegation: Option<ObjectId>,
    /// Number of stances the seal lists (every endorsement and dissent
    /// entry carried).
    pub stances: usize,
}

impl VerifiedAdoption {
    /// What the certificate says about dissent, as one line: "dissent known
    /// to NAME's node" when sealed, else "dissent not recorded: this
    /// certificate carries no seal". A seal cannot prove that no stance
    /// exists elsewhere, only what the sealing member's node held.
    pub fn dissent_note(&self) -> String {
        match &self.seal {
            Some(s) => format!("dissent known to {}'s node", s.name),
            None => "dissent not recorded: this certificate carries no seal".into(),
        }
    }

    /// This report if the certificate is sealed, else
    /// [`CertificateError::Unsealed`] (`chorus verify --require-seal`).
    pub fn require_seal(self) -> Result<VerifiedAdoption, CertificateError> {
        match self.seal {
            Some(_) => Ok(self),
            None => Err(CertificateError::Unsealed),
        }
    }
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
    let proposal_id = proposal.envelope.id();
    let endorsements = check_endorsements(coalition, &proposal_id, &p, cert.endorsements)?;
    let endorsing: BTreeSet<PublicKey> = endorsements.iter().map(|(_, e)| e.trust).collect();
    let dissent = check_dissent(coalition, &proposal_id, &p, &endorsing, cert.dissent)?;
    let stance_ids: Vec<ObjectId> = endorsements.iter().chain(&dissent).map(|(o, _)| o.envelope.id()).collect();
    let sealed = check_seal(coalition, &proposal_id, cert.seal, &stance_ids)?;
    let stances: Vec<&Endorsement> = endorsements.iter().chain(&dissent).map(|(_, e)| e).collect();
    check_links(&chain, &p, &stances, sealed.as_ref().map(|(_, b)| b))?;

    // Step 15: every signature, then step 16: ingest.
    let chain_ids: Vec<ObjectId> = chain.iter().map(|l| l.envelope.id()).collect();
    let carried = Carried {
        endorsers: endorsements.iter().map(|(o, e)| stance_of(o, e)).collect(),
        dissent: dissent.iter().map(|(o, e)| (stance_of(o, e), e.stance)).collect(),
    };
    let mut items: Vec<(Part, ParsedObject)> =
        chain.into_iter().enumerate().map(|(i, c)| (Part::Chain(i), c)).collect();
    items.push((Part::Proposal, proposal));
    items.extend(endorsements.into_iter().enumerate().map(|(i, (e, _))| (Part::Endorsement(i), e)));
    items.extend(dissent.into_iter().enumerate().map(|(i, (e, _))| (Part::Dissent(i), e)));
    let (checked, sealer) = check_signatures(coalition, items, sealed.as_ref().map(|(s, _)| s), threads)?;
    let ledger = ingest(coalition, checked)?;

    // Steps 17-22: what the carried objects adopt, and who sealed it.
    let seal = sealed.zip(sealer).map(|((_, body), signer)| (body, signer));
    conclude(&ledger, &chain_ids, proposal_id, p, carried, seal)
}

/// The stances a certificate carries, in its order, before the ledger has
/// judged them (names are filled in from the roster then).
struct Carried {
    endorsers: Vec<Endorser>,
    dissent: Vec<(Endorser, Stance)>,
}

fn stance_of(o: &ParsedObject, e: &Endorsement) -> Endorser {
    Endorser {
        trust: e.trust,
        name: String::new(),
        endorsement: o.envelope.id(),
        created_at_ms: e.created_at_ms,
        comment: e.comment.clone(),
    }
}

/// Steps 19 and 19a for one stance: its timing under the window the
/// carried objects give the proposal.
fn on_time(window: &VotingWindow, stances: Stances, index: usize, created_at_ms: u64) -> Result<(), CertificateError> {
    let untimely = match window.timing(created_at_ms) {
        Timing::OnTime => return Ok(()),
        Timing::Early => match window.opens_at_ms {
            Some(o) => Untimely::BeforeOpening(o),
            None => Untimely::NeverOpened,
        },
        Timing::Late => match (window.withdrawn_at_ms, window.closes_at_ms) {
            (Some(w), c) if c.is_none_or(|c| w <= c) => Untimely::AfterWithdrawal(w),
            (_, Some(c)) => Untimely::AfterClosing(c),
            // Late needs an end; a window without one has no late stance.
            (_, None) => return Ok(()),
        },
    };
    Err(CertificateError::NotOnTime { stances, index, created_at_ms, untimely })
}

/// Steps 17-22: every governance proposal carried is adopted, the
/// proposal counts, every endorsement carried is authorised and on time,
/// and they reach the rule the proposal's action calls for: its fraction,
/// then each of its breadth rules, both counted over those endorsements
/// alone. Every dissent entry is authorised, on time and its trust's
/// effective stance, and the seal's signer may seal for its trust.
fn conclude(
    ledger: &Ledger,
    chain: &[ObjectId],
    proposal_id: ObjectId,
    p: Proposal,
    carried: Carried,
    seal: Option<(SealBody, PublicKey)>,
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
    let window = ledger.voting_window(&proposal_id).ok_or_else(|| void(VoidReason::Unresolved))?;
    let name_of = |trust: &PublicKey| roster.get(trust.as_bytes()).map(|m| m.name.clone()).unwrap_or_default();
    let kind = RuleKind::of(p.action.as_ref());
    let rule = charter.rule(kind);
    let Carried { mut endorsers, dissent } = carried;
    for (index, e) in endorsers.iter_mut().enumerate() {
        if !ledger.counts(&proposal_id, &e.trust, &e.endorsement) {
            return Err(CertificateError::Unauthorised { index, trust: e.trust.to_hex() });
        }
        on_time(&window, Stances::Endorsement, index, e.created_at_ms)?;
        e.name = name_of(&e.trust);
    }
    let effective: BTreeMap<PublicKey, Option<Stance>> = ledger
        .proposal_state(&proposal_id)
        .map(|s| s.stances.into_iter().map(|t| (t.trust, t.stance)).collect())
        .unwrap_or_default();
    let (mut objectors, mut abstainers) = (Vec::new(), Vec::new());
    for (index, (d, stance)) in dissent.into_iter().enumerate() {
        if !ledger.counts(&proposal_id, &d.trust, &d.endorsement) {
            return Err(CertificateError::DissentUnauthorised { index, trust: d.trust.to_hex() });
        }
        on_time(&window, Stances::Dissent, index, d.created_at_ms)?;
        let found = effective.get(&d.trust).copied().flatten();
        if found != Some(stance) {
            return Err(CertificateError::DissentInconsistent {
                index,
                trust: d.trust.to_hex(),
                recorded: stance.name(),
                effective: found.map_or("none", Stance::name),
            });
        }
        let dissenter = Dissenter {
            name: name_of(&d.trust),
            trust: d.trust,
            stance_id: d.endorsement,
            created_at_ms: d.created_at_ms,
            comment: d.comment,
        };
        match stance {
            Stance::Object => objectors.push(dissenter),
            _ => abstainers.push(dissenter),
        }
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
    // Step 22: the sealing trust is a member, and the signer one of its
    // keys or the delegate of a node-scope delegation of it.
    let seal = match seal {
        None => None,
        Some((body, signer)) => {
            if !ledger.may_seal(&proposal_id, &body.trust, &signer, body.delegation.as_ref()) {
                return Err(CertificateError::SealUnauthorised { signer: signer.to_hex(), trust: body.trust.to_hex() });
            }
            Some(SealInfo {
                name: name_of(&body.trust),
                trust: body.trust,
                signer,
                delegation: body.delegation,
                stances: body.stances.len(),
            })
        }
    };
    let spoken: BTreeSet<&PublicKey> =
        endorsers.iter().map(|e| &e.trust).chain(objectors.iter().chain(&abstainers).map(|d| &d.trust)).collect();
    let silent = roster.members().filter(|m| !spoken.contains(&m.key)).map(|m| (m.key, m.name.clone())).collect();
    Ok(VerifiedAdoption {
        coalition: coalition.id(),
        coalition_name: coalition.name().to_owned(),
        proposal_id,
        decision: Decision::of(p.action.as_ref()),
        rule: AppliedRule { kind, numerator: rule.numerator, denominator: rule.denominator },
        roster_version: p.roster,
        author_name: name_of(&p.author),
        members: tally.members,
        required: tally.required,
        endorsers,
        breakdown,
        proposal: p,
        objectors,
        abstainers,
        silent,
        seal,
        window,
    })
}
