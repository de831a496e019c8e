//! Why an object is refused, and what that says about whoever sent it.

use crate::breadth::BreadthShortfall;
use crate::decision::RuleKind;
use crate::id::ObjectId;
use crate::keys::KeyError;
use crate::kind::Kind;
use crate::objects::BreadthRule;

/// What a refusal means for the peer that sent the object. chorus-core
/// decides this once, here; the network layer only translates it into
/// gossip validation results and peer scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The object is invalid for every node at every time: drop it and
    /// penalise whoever sent it.
    Reject,
    /// The object may be fine elsewhere or later (an unknown roster version, a
    /// time ahead of our clock, a kind from a newer protocol): drop it without
    /// penalty. It is not stored, and sync may offer it again.
    Ignore,
}

/// Why a signed object was refused. Each message names the object part that
/// was wrong; nothing is stored or forwarded for a refused object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Over a size bound.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not decodable protobuf of the expected message.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// The decoder's explanation.
        detail: String,
    },
    /// Decodable, but not the canonical encoding of its value.
    #[error("{what} is not canonically encoded (unknown fields, default values written out, fields out of order, repeated or non-minimal varints)")]
    NonCanonical {
        /// Which message.
        what: &'static str,
    },
    /// A kind number outside 1 to 31, which a later version may use (a
    /// reserved kind, 4, 8, 9, 11, 12 or 15 to 31, is admitted as an opaque
    /// object), or a reserved kind inside a certificate (PROTOCOL.md 3.3
    /// E4).
    #[error("object kind {0} is not part of protocol v1")]
    UnknownKind(i32),
    /// Wrong number of signatures for the kind.
    #[error("a {kind} carries {expected} signature(s), this one carries {found}")]
    SignatureCount {
        /// The object's kind.
        kind: Kind,
        /// How many it must carry.
        expected: usize,
        /// How many it carries.
        found: usize,
    },
    /// Signatures not sorted by signer key, or a signer listed twice.
    #[error("signatures must be sorted by signer key with no signer twice (at signature {index})")]
    SignaturesNotSorted {
        /// Index of the first out-of-place signature.
        index: usize,
    },
    /// A field that must be a 64-byte signature is not.
    #[error("signature {index} is {len} bytes; an ed25519 signature is 64 bytes")]
    SignatureLength {
        /// Index in the envelope.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A key field does not hold an acceptable public key.
    #[error("{field}: {error}")]
    BadKey {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        error: KeyError,
    },
    /// A signature does not verify under the protocol's strict rule.
    #[error("signature by {signer} does not verify")]
    BadSignature {
        /// Hex of the claimed signer.
        signer: String,
    },
    /// A field breaks a rule of PROTOCOL.md.
    #[error("{field}: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// The rule it breaks.
        reason: String,
    },
    /// Names another coalition.
    #[error("object belongs to coalition {found}, not {expected}")]
    WrongCoalition {
        /// Our coalition.
        expected: ObjectId,
        /// The one named.
        found: ObjectId,
    },
    /// The signer is not a member trust under the relevant roster: the first
    /// edition's rule (PROTOCOL.md 6), which knew only the genesis roster.
    /// No longer returned: under the ledger's rules (12.8) a key not known
    /// to act for the trust named is [`Rejection::UnknownSigner`]. The name
    /// stays reserved.
    #[error("{key} is not a member trust of this coalition")]
    NotAMember {
        /// Hex of the key.
        key: String,
    },
    /// The envelope is signed by someone other than the body names.
    #[error("signed by {signer}, but the {field} named in the body is {named}")]
    SignerMismatch {
        /// The body field naming the signer.
        field: &'static str,
        /// Hex of the actual signer.
        signer: String,
        /// Hex of the key named.
        named: String,
    },
    /// Voted under a roster version this node does not know.
    #[error("roster version {0} is unknown (its heads or their pins are not all held)")]
    UnknownRoster(ObjectId),
    /// Signed by a key not (yet) known to act for the trust the body names
    /// (for an object of a reserved kind, which names none: not yet a key
    /// of any trust of the coalition, PROTOCOL.md 3.4); the objects that
    /// make it known (an admission, a rotation, a delegation) may arrive
    /// later.
    #[error("{key} is not a known key of {}", trust_named(.trust))]
    UnknownSigner {
        /// Hex of the signer.
        key: String,
        /// Hex of the trust id named; empty for an object of a reserved
        /// kind.
        trust: String,
    },
    /// Dated beyond the allowed clock skew; admitted once the clock catches up.
    #[error("created at {created_at_ms} ms, more than the allowed skew ahead of this node's clock ({now_ms} ms)")]
    FromTheFuture {
        /// The object's time.
        created_at_ms: u64,
        /// This node's time at validation.
        now_ms: u64,
    },
    /// A genesis other than this coalition's.
    #[error("a genesis can only be configured, not received (got {0})")]
    ForeignGenesis(ObjectId),
    /// A comment, open-voting or withdrawal object whose signature
    /// verified, refused by its kind's own rules (PROTOCOL.md 12.8 V5a and
    /// V6): `reason` is the rule's own error, shown and named as it is,
    /// with verdict Ignore, since a node built before the kind was defined
    /// admits and forwards such an object in good faith (3.4).
    #[error("{reason}")]
    KindRules {
        /// The object's kind.
        kind: Kind,
        /// The rule's own error.
        reason: Box<Rejection>,
    },
}

/// "trust T", or for an object that names no trust, any trust.
fn trust_named(trust: &str) -> String {
    if trust.is_empty() {
        "any trust of this coalition".into()
    } else {
        format!("trust {trust}")
    }
}

impl Rejection {
    /// The error's name in PROTOCOL.md (`NonCanonical`, `BadSignature`, ...),
    /// stable across versions and wordings.
    pub fn name(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "TooLarge",
            Rejection::Malformed { .. } => "Malformed",
            Rejection::NonCanonical { .. } => "NonCanonical",
            Rejection::UnknownKind(_) => "UnknownKind",
            Rejection::SignatureCount { .. } => "SignatureCount",
            Rejection::SignaturesNotSorted { .. } => "SignaturesNotSorted",
            Rejection::SignatureLength { .. } => "SignatureLength",
            Rejection::BadKey { .. } => "BadKey",
            Rejection::BadSignature { .. } => "BadSignature",
            Rejection::InvalidField { .. } => "InvalidField",
            Rejection::WrongCoalition { .. } => "WrongCoalition",
            Rejection::NotAMember { .. } => "NotAMember",
            Rejection::SignerMismatch { .. } => "SignerMismatch",
            Rejection::UnknownRoster(_) => "UnknownRoster",
            Rejection::UnknownSigner { .. } => "UnknownSigner",
            Rejection::FromTheFuture { .. } => "FromTheFuture",
            Rejection::ForeignGenesis(_) => "ForeignGenesis",
            Rejection::KindRules { reason, .. } => reason.name(),
        }
    }

    /// What this refusal says about the sender.
    pub fn verdict(&self) -> Verdict {
        match self {
            Rejection::UnknownKind(_)
            | Rejection::UnknownRoster(_)
            | Rejection::UnknownSigner { .. }
            | Rejection::FromTheFuture { .. }
            | Rejection::KindRules { .. } => Verdict::Ignore,
            _ => Verdict::Reject,
        }
    }

    /// True when the object may pass once other objects are held: its
    /// signer is not yet a known key of the trust it names
    /// ([`Rejection::UnknownSigner`]) or its roster version is not yet known
    /// ([`Rejection::UnknownRoster`]). Such objects are worth keeping for a
    /// retry (see [`crate::Waiting`] and [`crate::Ingest`]).
    pub fn awaits_objects(&self) -> bool {
        match self {
            Rejection::KindRules { reason, .. } => reason.awaits_objects(),
            _ => matches!(self, Rejection::UnknownRoster(_) | Rejection::UnknownSigner { .. }),
        }
    }
}

/// Why a certificate does not prove a position. Indexes count endorsements
/// (or, in the `Dissent…` variants, dissent entries) in the order the
/// certificate carries them, from 0. A variant for a dissent entry has the
/// same PROTOCOL.md name as its endorsement counterpart
/// ([`CertificateError::name`]); only its message says "dissent i". Checks run in the order
/// PROTOCOL.md gives, and the first failure is the one reported, so every
/// conforming verifier names the same reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Empty input.
    #[error("certificate is empty")]
    Empty,
    /// Over the size bound.
    #[error("certificate is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not a decodable certificate.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// Decodable but not canonically encoded.
    #[error("certificate is not canonically encoded")]
    NonCanonical,
    /// A format version this verifier does not know.
    #[error("certificate format version {0} is not supported (this verifier knows version 1)")]
    UnsupportedVersion(u32),
    /// A required part is absent.
    #[error("certificate has no {0}")]
    Missing(&'static str),
    /// The genesis is invalid.
    #[error("genesis is invalid: {0}")]
    Genesis(Rejection),
    /// The certificate is for another coalition.
    #[error("certificate is for coalition {found}, not the expected {expected}")]
    WrongCoalition {
        /// The coalition id asked for.
        expected: ObjectId,
        /// The one the certificate carries.
        found: ObjectId,
    },
    /// The proposal is invalid.
    #[error("proposal is invalid: {0}")]
    Proposal(Rejection),
    /// An endorsement is invalid as a signed object.
    #[error("endorsement {index} is invalid: {reason}")]
    Endorsement {
        /// Its position in the certificate.
        index: usize,
        /// What is wrong.
        reason: Rejection,
    },
    /// An endorsement's signature does not verify.
    #[error("endorsement {index} has a bad signature (signer {trust})")]
    BadSignature {
        /// Its position.
        index: usize,
        /// Hex of the signer.
        trust: String,
    },
    /// An endorsement is for another proposal.
    #[error("endorsement {index} is for proposal {found}, not {expected}")]
    WrongProposal {
        /// Its position.
        index: usize,
        /// The certificate's proposal.
        expected: ObjectId,
        /// The one it names.
        found: ObjectId,
    },
    /// An endorsement's stance is not endorse.
    #[error("endorsement {index} has stance {stance}; a certificate carries only endorsements")]
    NotAnEndorsement {
        /// Its position.
        index: usize,
        /// The stance found.
        stance: &'static str,
    },
    /// An endorsement is dated after the proposal closed.
    #[error("endorsement {index} was signed at {created_at_ms} ms, after the proposal closed at {closes_at_ms} ms")]
    AfterClosing {
        /// Its position.
        index: usize,
        /// Its time.
        created_at_ms: u64,
        /// The closing time.
        closes_at_ms: u64,
    },
    /// The same trust appears twice.
    #[error("endorsement {index} counts trust {trust} a second time")]
    DuplicateTrust {
        /// Position of the second appearance.
        index: usize,
        /// Hex of the trust.
        trust: String,
    },
    /// Endorsements are not sorted by trust key.
    #[error("endorsement {index} is out of order (endorsements must be sorted by trust key)")]
    NotSorted {
        /// Its position.
        index: usize,
    },
    /// A proof-chain object is invalid as a signed object.
    #[error("chain object {index} is invalid: {reason}")]
    Chain {
        /// Its position in the chain.
        index: usize,
        /// What is wrong.
        reason: Rejection,
    },
    /// The proof chain is not sorted by id, or carries an object twice.
    #[error("chain object {index} is out of order (the chain must be sorted by id with no object twice)")]
    ChainNotSorted {
        /// Its position in the chain.
        index: usize,
    },
    /// An object the proof needs is not carried.
    #[error("the proof chain is missing {0}")]
    MissingLink(String),
    /// A governance proposal of the chain is not adopted by what is carried.
    #[error("governance proposal {0} is not adopted by the endorsements the certificate carries")]
    ChainNotAdopted(ObjectId),
    /// The proposal does not count under its roster version (PROTOCOL.md
    /// 12.4): it can never be adopted, whatever endorses it.
    #[error("proposal {proposal} is void under its roster version: {reason}")]
    ProposalVoid {
        /// The proposal.
        proposal: ObjectId,
        /// Why it is void.
        reason: VoidReason,
    },
    /// An endorsement is not authorised for its trust under the proposal's
    /// roster version (not a member, key rotated away, delegation revoked or
    /// out of its period).
    #[error("endorsement {index} is not authorised for trust {trust} under the proposal's roster version")]
    Unauthorised {
        /// Its position.
        index: usize,
        /// Hex of the trust id.
        trust: String,
    },
    /// Too few endorsements for the adoption rule.
    #[error("{have} endorsements, but the {} rule needs {need} of {members} members", rule.name())]
    BelowThreshold {
        /// The charter rule that applies to the proposal.
        rule: RuleKind,
        /// Valid endorsements carried.
        have: usize,
        /// Required by the charter.
        need: usize,
        /// Roster size.
        members: usize,
    },
    /// Enough endorsements, but their members do not meet a breadth rule
    /// of the adoption rule (the first unmet one, in charter order).
    #[error("breadth: {shortfall} (breadth rule of the {} rule: {breadth})", rule.name())]
    Breadth {
        /// The charter rule that applies to the proposal.
        rule: RuleKind,
        /// The breadth rule not met.
        breadth: BreadthRule,
        /// How it falls short.
        shortfall: BreadthShortfall,
    },
    /// A dissent entry is invalid as a signed object (step 13a, 15 or 16).
    #[error("dissent {index} is invalid: {reason}")]
    Dissent {
        /// Its position in `dissent`.
        index: usize,
        /// What is wrong.
        reason: Rejection,
    },
    /// A dissent entry is for another proposal. Named `WrongProposal`.
    #[error("dissent {index} is for proposal {found}, not {expected}")]
    DissentWrongProposal {
        /// Its position in `dissent`.
        index: usize,
        /// The certificate's proposal.
        expected: ObjectId,
        /// The one it names.
        found: ObjectId,
    },
    /// A dissent entry's stance is endorse.
    #[error("dissent {index} has stance {stance}; an endorsement goes in `endorsements`")]
    NotDissent {
        /// Its position in `dissent`.
        index: usize,
        /// The stance found.
        stance: &'static str,
    },
    /// A dissent entry is dated after the proposal closed. Named
    /// `AfterClosing`.
    #[error("dissent {index} was signed at {created_at_ms} ms, after the proposal closed at {closes_at_ms} ms")]
    DissentAfterClosing {
        /// Its position in `dissent`.
        index: usize,
        /// Its time.
        created_at_ms: u64,
        /// The closing time.
        closes_at_ms: u64,
    },
    /// A dissent entry's trust appears twice in `dissent`, or also in
    /// `endorsements`. Named `DuplicateTrust`.
    #[error("dissent {index} counts trust {trust}{}", if *.endorses { ", which also endorses" } else { " a second time" })]
    DissentDuplicateTrust {
        /// Its position in `dissent`.
        index: usize,
        /// Hex of the trust.
        trust: String,
        /// True when the trust is one of the endorsements' trusts.
        endorses: bool,
    },
    /// Dissent entries are not sorted by trust key. Named `NotSorted`.
    #[error("dissent {index} is out of order (dissent must be sorted by trust key)")]
    DissentNotSorted {
        /// Its position in `dissent`.
        index: usize,
    },
    /// The seal is invalid: its form (step 13b) or its signature (step 15).
    #[error("seal is invalid: {0}")]
    Seal(Rejection),
    /// The stances the seal lists are not the stances carried (step 13b).
    #[error("{0}")]
    SealMismatch(SealGap),
    /// A carried stance counts for its trust but is not on time under the
    /// voting window the carried objects give the proposal (step 19, 19a).
    #[error("{stances} {index} was signed at {created_at_ms} ms, {untimely}")]
    NotOnTime {
        /// `endorsements` or `dissent`.
        stances: Stances,
        /// Its position there.
        index: usize,
        /// Its time.
        created_at_ms: u64,
        /// How it misses the window.
        untimely: Untimely,
    },
    /// A dissent entry is not authorised for its trust under the proposal's
    /// roster version. Named `Unauthorised`.
    #[error("dissent {index} is not authorised for trust {trust} under the proposal's roster version")]
    DissentUnauthorised {
        /// Its position in `dissent`.
        index: usize,
        /// Hex of the trust id.
        trust: String,
    },
    /// A dissent entry's stance is not its trust's effective stance under
    /// what the certificate carries (step 19a).
    #[error("dissent {index} records trust {trust} as {recorded}, but its effective stance is {effective}")]
    DissentInconsistent {
        /// Its position in `dissent`.
        index: usize,
        /// Hex of the trust id.
        trust: String,
        /// The entry's stance.
        recorded: &'static str,
        /// The trust's effective stance.
        effective: &'static str,
    },
    /// The seal's signer may not seal for the trust it names (step 22).
    #[error("the seal is signed by {signer}, which is not a key of member trust {trust} nor the delegate of a node-scope delegation of it")]
    SealUnauthorised {
        /// Hex of the signer.
        signer: String,
        /// Hex of the sealing trust.
        trust: String,
    },
    /// The certificate is valid but carries no seal, and a seal was asked
    /// for ([`crate::VerifiedAdoption::require_seal`]).
    #[error("the certificate carries no seal, so it does not record dissent; export it again from a member's node")]
    Unsealed,
}

/// Which of a certificate's stance lists an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stances {
    /// `endorsements`.
    Endorsement,
    /// `dissent`.
    Dissent,
}

impl std::fmt::Display for Stances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stances::Endorsement => "endorsement",
            Stances::Dissent => "dissent",
        })
    }
}

/// How a stance misses its proposal's voting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Untimely {
    /// Signed before voting opened at this time (ms).
    #[error("before voting opened at {0} ms")]
    BeforeOpening(u64),
    /// Voting never opened under what the certificate carries.
    #[error("before voting opened (the proposal is a draft and nothing carried opens it)")]
    NeverOpened,
    /// Signed after the author withdrew the proposal at this time (ms).
    #[error("after the author withdrew the proposal at {0} ms")]
    AfterWithdrawal(u64),
    /// Signed after the proposal closed at this time (ms).
    #[error("after the proposal closed at {0} ms")]
    AfterClosing(u64),
}

/// Where a seal and the stances a certificate carries differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealGap {
    /// The seal lists this stance, which the certificate does not carry.
    #[error("the seal lists stance {0}, which the certificate does not carry: a stance was removed after the certificate was sealed")]
    Removed(ObjectId),
    /// The certificate carries this stance, which the seal does not list.
    #[error("the certificate carries stance {0}, which its seal does not list: it was added after sealing")]
    Added(ObjectId),
}

/// Why a proposal is void under the roster version it pins (PROTOCOL.md
/// 12.2, 12.4): stored, never tallied, never adopted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VoidReason {
    /// Its roster heads are not all adopted governance proposals.
    #[error("its roster version does not resolve")]
    Unresolved,
    /// Its author (hex of the trust id) is not a member of the version.
    #[error("its author {0} is not a member under that version")]
    AuthorNotMember(String),
    /// Its signer is not a key authorised for its author under the version.
    #[error("it is not signed by a key authorised for its author {0} under that version")]
    SignerNotAuthorised(String),
    /// Its governance action does not apply to the version's roster.
    #[error("its action does not apply: {0}")]
    ActionNotApplicable(String),
}

impl CertificateError {
    /// The error's name in PROTOCOL.md section 9.2: the certificate error,
    /// and for a carried object refused as a signed object, the object's
    /// place and its rejection's name after a slash (`Endorsement/BadKey`).
    pub fn name(&self) -> String {
        match self {
            CertificateError::Empty => "Empty".into(),
            CertificateError::TooLarge { .. } => "TooLarge".into(),
            CertificateError::Malformed(_) => "Malformed".into(),
            CertificateError::NonCanonical => "NonCanonical".into(),
            CertificateError::UnsupportedVersion(_) => "UnsupportedVersion".into(),
            CertificateError::Missing(_) => "Missing".into(),
            CertificateError::Genesis(r) => format!("Genesis/{}", r.name()),
            CertificateError::WrongCoalition { .. } => "WrongCoalition".into(),
            CertificateError::Proposal(r) => format!("Proposal/{}", r.name()),
            CertificateError::Endorsement { reason, .. } => format!("Endorsement/{}", reason.name()),
            CertificateError::BadSignature { .. } => "BadSignature".into(),
            CertificateError::WrongProposal { .. } => "WrongProposal".into(),
            CertificateError::NotAnEndorsement { .. } => "NotAnEndorsement".into(),
            CertificateError::AfterClosing { .. } => "AfterClosing".into(),
            CertificateError::DuplicateTrust { .. } => "DuplicateTrust".into(),
            CertificateError::NotSorted { .. } => "NotSorted".into(),
            CertificateError::BelowThreshold { .. } => "BelowThreshold".into(),
            CertificateError::Breadth { .. } => "Breadth".into(),
            CertificateError::Chain { reason, .. } => format!("Chain/{}", reason.name()),
            CertificateError::ChainNotSorted { .. } => "ChainNotSorted".into(),
            CertificateError::MissingLink(_) => "MissingLink".into(),
            CertificateError::ChainNotAdopted(_) => "ChainNotAdopted".into(),
            CertificateError::ProposalVoid { .. } => "ProposalVoid".into(),
            CertificateError::Unauthorised { .. } => "Unauthorised".into(),
            CertificateError::Dissent { reason, .. } => format!("Dissent/{}", reason.name()),
            CertificateError::DissentWrongProposal { .. } => "WrongProposal".into(),
            CertificateError::NotDissent { .. } => "NotDissent".into(),
            CertificateError::DissentAfterClosing { .. } => "AfterClosing".into(),
            CertificateError::DissentDuplicateTrust { .. } => "DuplicateTrust".into(),
            CertificateError::DissentNotSorted { .. } => "NotSorted".into(),
            CertificateError::Seal(r) => format!("Seal/{}", r.name()),
            CertificateError::SealMismatch(_) => "SealMismatch".into(),
            CertificateError::NotOnTime { .. } => "NotOnTime".into(),
            CertificateError::DissentUnauthorised { .. } => "Unauthorised".into(),
            CertificateError::DissentInconsistent { .. } => "DissentInconsistent".into(),
            CertificateError::SealUnauthorised { .. } => "SealUnauthorised".into(),
            CertificateError::Unsealed => "Unsealed".into(),
        }
    }
}
