//! # chorus-core: the rules of the Chorus protocol, with no I/O
//!
//! Everything that decides what a coalition has said lives here as pure
//! functions and state machines: decoding and validating signed objects, the
//! roster, the ledger of proposals and stances, and certificates. There is no
//! tokio, no disk and no network in this crate's dependency tree; the node
//! wraps these rules in thin shells, and every rule runs in a plain test.
//!
//! ## Model
//! - A signed object is an [`Envelope`]: a kind, the exact canonical body
//!   bytes, and ed25519 signatures. Its [`ObjectId`] is SHA-256 of
//!   `"chorus/v1/<kind>\n" || body`; every kind but the genesis signs those
//!   same bytes, and founders sign `"chorus/v1/genesis-id\n" || id`
//!   (PROTOCOL.md 4). Nothing is re-encoded before a signature is checked.
//! - A [`Coalition`] is known from its verified genesis; its id is the
//!   genesis id. [`Ledger::validate`] applies every ingest rule with the
//!   knowledge of the objects held (PROTOCOL.md 12.8) and yields a
//!   [`VerifiedObject`]; a refusal is a [`Rejection`] carrying a [`Verdict`]
//!   for the network layer. There is no other validation path.
//! - [`Ingest`] is the one place the admission rules live: which objects a
//!   node stores and applies, in which rounds, and what it answers for each
//!   (an [`Admission`]). A store's group commit and rebuild, the in-memory
//!   store and certificate verification all drive it.
//! - The [`Ledger`] folds verified objects into proposals, stances, tallies
//!   and positions. Its state is a function of the *set* applied.
//! - Members declare [`MemberAttributes`] (region, phase, trust type,
//!   schools, pupils, labels) from the charter's [`AttributeSets`]; a charter
//!   rule may carry [`BreadthRule`]s ("endorsers from at least 6 distinct
//!   regions"), part of adoption, and [`breakdown`] gives a proposal's tally
//!   by attribute ([`Ledger::breakdown`]).
//! - [`certificate::verify`] checks a certificate offline.
//! - Deliberation: a proposal may be a draft, open for [`Comment`]s and
//!   amendments, whose voting opens at a fixed time or by the author's
//!   [`OpenVoting`]; the author may end the vote with a [`Withdrawal`].
//!   The ledger derives each proposal's [`VotingWindow`]; stances outside
//!   it are kept and shown, not counted ([`Ledger::voting_window`],
//!   [`Ledger::comments`], [`Ledger::notices`], [`Ledger::revisions`]).
//! - Objects of the reserved kinds (4, 8, 9, 11, 12, 15 to 31: ballots,
//!   roster heads of a later version) are admitted as opaque objects
//!   ([`Object::Opaque`], PROTOCOL.md 3.4): their name and common header
//!   ([`OpaqueHeader`]) are fixed, so a node checks the coalition, the time
//!   and the signature, and stores, forwards and syncs them before it
//!   knows the kind. They change nothing the ledger derives, and no
//!   certificate carries one.
//! - Governance (PROTOCOL.md section 12): proposals with an [`Action`]
//!   (admit, remove, replace a key, amend the charter, amend a member's
//!   attributes) pin a roster version
//!   by its heads; [`Delegation`], [`Revocation`] and [`KeyRotation`] objects
//!   say which keys speak for a trust. The ledger derives adopted governance,
//!   the roster and charter of every version and which stances count as a
//!   pure function of the set of objects, and a certificate under a later
//!   version carries its proof chain ([`Ledger::certificate_chain`]).
//!   Every certificate is verified by one algorithm (PROTOCOL.md 9.2): its
//!   objects are ingested into a ledger of their own.
//!
//! ## Guarantees
//! - Signature verdicts follow one rule ([`keys`]): strict ed25519, the same
//!   verdicts as libsodium. Batch verification is never used.
//! - Every input has a size bound ([`limits`]) checked before decoding, and
//!   no input makes this crate panic.
//! - The ledger never reads a clock; only ingest takes `now` to defer objects
//!   dated too far ahead, which are admitted later and so do not make nodes
//!   diverge.
//!
//! The normative description is `docs/PROTOCOL.md`.

#![deny(missing_docs)]

mod breadth;
pub mod certificate;
mod coalition;
mod decision;
mod deliberation;
mod envelope;
mod error;
mod governance;
mod id;
pub mod ingest;
pub mod keys;
mod kind;
mod ledger;
pub mod limits;
mod objects;
mod parallel;
#[cfg(any(test, feature = "test"))]
pub mod testkit;

pub use breadth::{
    breadth_rule_sentence, breakdown, endorsed_sentence, thousands, BreadthCount, BreadthShortfall, BreadthStatus,
    Breakdown, ValueTally,
};
pub use certificate::{AppliedRule, Dissenter, Endorser, Seal, SealInfo, VerifiedAdoption};
pub use coalition::{Coalition, Object, Roster, VerifiedObject};
pub use decision::{Decision, RuleKind};
pub use deliberation::{CommentNotCounted, CommentRecord, NoticeKind, NoticeRecord, Timing, VotingWindow};
pub use envelope::{Envelope, RawSignature};
pub use error::{CertificateError, Rejection, SealGap, Stances, Untimely, Verdict, VoidReason};
pub use id::{CoalitionId, ObjectId, ParseIdError};
pub use ingest::{Admission, Admitted, Batch, Ingest, Replay, Replayed, Waiting};
pub use keys::{KeyError, Keypair, PublicKey};
pub use kind::{Kind, OpaqueKind};
pub use ledger::{Applied, Ledger, ProposalState, SignatureChecked, StanceRecord, Status, Tally, TrustStance};
pub use objects::{
    version_id, Action, AdoptionRule, Amendment, Attribute, AttributeSets, BreadthRule, BreadthRules, Charter, Comment,
    Delegation, Endorsement, Genesis, KeyRotation, Member, MemberAttributes, ObserverAccess, OpaqueHeader, OpenVoting,
    Proposal, ProposalLink, Relation, Revocation, Stance, Withdrawal, SCOPE_NODE, SCOPE_STANCES,
};
