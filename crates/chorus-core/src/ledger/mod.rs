//! The ledger: what the coalition has said, as a pure function of the set of
//! verified objects.
//!
//! Rules (PROTOCOL.md, "Ledger"):
//! - An object is applied at most once (by id); applying is commutative, so
//!   the state depends only on the set applied, never on order or repeats.
//! - One trust, one voice per proposal. A trust's records on a proposal are
//!   its endorsement objects for it. Those dated within the proposal's
//!   voting window ([`VotingWindow`]: from its opening, at the start, at a
//!   fixed time or by the author's open-voting, to the earlier of its
//!   closing time and the author's withdrawal, both inclusive) are *on
//!   time*; earlier ones are *early*, later ones *late*, both kept and
//!   shown but not counted. Its effective stance is the strongest on-time
//!   stance it signed, with endorse > object > abstain: a trust cannot
//!   take a stance back, so a later objection never withdraws an
//!   endorsement, and adoption grows as stances and openings arrive, shrinking only through an
//!   object signed by those whose authority the counted stances rest on
//!   (the author's withdrawal; the trust's revocation or rotation).
//! - Comments (kind 10) never change a tally; a comment is *counted*
//!   (shown as the member's) when it is authorised as a stance record would
//!   be. Comments, open-votings and withdrawals may arrive before their
//!   proposal; they are held, and take their place when it arrives.
//! - A trust that signed two different stances on one proposal has
//!   *equivocated*; this is flagged on the proposal for everyone to see, and
//!   the effective stance follows the rule above.
//! - A proposal is adopted (becomes a position) when its effective endorsers
//!   reach the charter's threshold for its roster version.
//! - Endorsements may arrive before their proposal; they are held and counted
//!   when it arrives.
//! - Governance (PROTOCOL.md section 12): a proposal is tallied under the
//!   roster and charter of the version its heads name, once every head is an
//!   adopted governance proposal; only *authorised* records count (signed by
//!   a key of the trust's chain that is current or keeps them, or by a
//!   delegate whose delegation is authorised, in period and not revoked
//!   without keeping them). Governance is derived again from the held
//!   objects whenever an object that can change it arrives (a governance
//!   proposal, a delegation, a revocation, a rotation, or a stance that
//!   changes a governance proposal's adoption); other stances update their
//!   proposal's tally incrementally. A trust cannot take a stance back,
//!   but a stance stops counting through an object signed by someone its
//!   authority rests on: its trust's revocation or rotation that does not
//!   keep it, or the author's withdrawal (stances signed after it; a
//!   rotation of the author's key that does not keep an open-voting can
//!   also move the opening later). So adoption grows with the stances, and
//!   shrinks only when such an object arrives (PROTOCOL.md 8, "One story").
//!
//! Modules by responsibility: `check` (an envelope's form and signature,
//! then whether the held objects authorise it), `apply` (folding a verified
//! object in), `query` (what the held objects say), `deliberation` (voting
//! windows, comments, notices, revisions), `proof` (what a certificate
//! carries). Which objects to apply, and when, is decided by
//! [`crate::Ingest`].

mod apply;
mod breadth;
mod check;
mod deliberation;
mod proof;
mod query;

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::breadth::{BreadthCount, BreadthShortfall};
use crate::coalition::Coalition;
use crate::deliberation::VotingWindow;
pub use crate::governance::StanceRecord;
use crate::governance::{Derived, Held};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::{Proposal, Stance};
pub(crate) use check::ParsedObject;
pub use check::SignatureChecked;

/// What applying an object did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The object was new. `adopted` names a proposal that became a position
    /// because of it.
    New {
        /// Proposal newly adopted, if any.
        adopted: Option<ObjectId>,
    },
    /// Already applied; nothing changed.
    Duplicate,
    /// Belongs to another coalition; nothing changed.
    Foreign,
}

/// Counts for one proposal.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Members of the roster the proposal is voted under.
    pub members: usize,
    /// Endorsements needed for adoption.
    pub required: usize,
    /// Trusts whose effective stance is endorse.
    pub endorse: usize,
    /// Trusts whose effective stance is object.
    pub object: usize,
    /// Trusts whose effective stance is abstain.
    pub abstain: usize,
    /// Trusts that signed more than one stance.
    pub equivocations: usize,
    /// Endorsement objects dated after the vote ended (closing time or
    /// withdrawal; not counted).
    pub late: usize,
    /// Endorsement objects dated before voting opened (not counted).
    pub early: usize,
    /// The breadth rules of the charter rule the proposal is adopted
    /// under, each with the values its endorsers show; empty when the rule
    /// has none (and then left out of JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breadth: Vec<BreadthCount>,
}

impl Tally {
    /// True when the endorsements reach the threshold and meet every
    /// breadth rule.
    pub fn adopted(&self) -> bool {
        self.endorse >= self.required && self.breadth_met()
    }

    /// True when the endorsers meet every breadth rule (always, without
    /// breadth rules).
    pub fn breadth_met(&self) -> bool {
        self.breadth.iter().all(|b| b.shortfall().is_none())
    }

    /// The first breadth rule the endorsers do not meet, and why.
    pub fn breadth_shortfall(&self) -> Option<BreadthShortfall> {
        self.breadth.iter().find_map(BreadthCount::shortfall)
    }
}

/// Where a proposal stands. Adoption depends only on the objects; open or
/// closed also depends on the reader's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Adopted as a position.
    Adopted,
    /// Still collecting stances.
    Open,
    /// Past its closing time without adoption.
    Closed,
    /// Voting has not opened yet (a draft, or a fixed opening still ahead).
    Draft,
    /// Withdrawn by its author without adoption.
    Withdrawn,
}

/// One trust's stance on a proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrustStance {
    /// The trust.
    pub trust: PublicKey,
    /// Its display name from the roster.
    pub name: String,
    /// Effective stance, if it has any on-time record.
    pub stance: Option<Stance>,
    /// True if it signed more than one distinct stance.
    pub equivocated: bool,
    /// Every record, sorted by id.
    pub records: Vec<StanceRecord>,
}

/// A proposal with everything derived about it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProposalState {
    /// Proposal id.
    pub id: ObjectId,
    /// The proposal.
    pub proposal: Proposal,
    /// Counts.
    pub tally: Tally,
    /// Every trust that has recorded a stance, sorted by trust key.
    pub stances: Vec<TrustStance>,
    /// The voting window; a record's timing is `window.timing(created_at_ms)`.
    pub window: VotingWindow,
}

/// The ledger state machine. See the module docs for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    coalition: Coalition,
    applied: BTreeSet<ObjectId>,
    held: Held,
    // Derived from `held`: governance, roster versions. Recomputed in full
    // whenever an object that can change it arrives.
    derived: Derived,
    // Tallies of proposals that can be tallied (version resolvable, not
    // void), kept up to date on every apply so that an ordinary endorsement
    // costs O(its trust's records), not a recount. Always equal to a full
    // recount.
    tallies: BTreeMap<ObjectId, Tally>,
}

impl Ledger {
    /// An empty ledger for `coalition` (its genesis counts as applied).
    pub fn new(coalition: Coalition) -> Self {
        let mut applied = BTreeSet::new();
        applied.insert(coalition.id());
        let held = Held::default();
        let derived = Derived::derive(&coalition, &held);
        Ledger { coalition, applied, held, derived, tallies: BTreeMap::new() }
    }

    /// The coalition.
    pub fn coalition(&self) -> &Coalition {
        &self.coalition
    }

    /// Number of distinct objects applied, genesis included.
    pub fn object_count(&self) -> usize {
        self.applied.len()
    }

    /// True when the object with this id has been applied.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.applied.contains(id)
    }

    /// SHA-256 over a canonical rendering of the derived state: every
    /// applied id, the adopted governance proposals, and every tallied
    /// proposal's tally, effective stances, voting window and which of its
    /// comments count. Two ledgers with equal digests say the same thing.
    /// A ledger with no object of the deliberation kinds and no proposal
    /// using drafts or fixed openings has the digest it had before they
    /// existed.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.coalition.id().as_bytes());
        for id in &self.applied {
            h.update(id.as_bytes());
        }
        h.update(b"governance");
        for id in &self.derived.adopted {
            h.update(id.as_bytes());
        }
        for id in self.held.proposals.keys() {
            if let Some(state) = self.proposal_state(id) {
                h.update(id.as_bytes());
                let t = &state.tally;
                for n in [t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late] {
                    h.update((n as u64).to_be_bytes());
                }
                // Only proposals under breadth rules add to the digest, so
                // digests of ledgers without any are unchanged.
                for b in &t.breadth {
                    h.update(b"breadth");
                    for (value, n) in &b.endorsers {
                        h.update((value.len() as u64).to_be_bytes());
                        h.update(value.as_bytes());
                        h.update((*n as u64).to_be_bytes());
                    }
                }
                for s in &state.stances {
                    h.update(s.trust.as_bytes());
                    h.update([s.stance.map_or(0, |x| x as u8 + 1), u8::from(s.equivocated)]);
                }
                // Likewise the window and counted comments only when they
                // differ from what every proposal had before.
                let w = &state.window;
                if t.early != 0 || !w.is_classic() {
                    h.update(b"window");
                    h.update((t.early as u64).to_be_bytes());
                    for at in [w.opens_at_ms, w.withdrawn_at_ms] {
                        h.update(at.map_or([0xff; 9], deliberation::tagged));
                    }
                }
                let comments = self.comments(id);
                if !comments.is_empty() {
                    h.update(b"comments");
                    for c in comments {
                        h.update(c.id.as_bytes());
                        h.update([u8::from(c.counted)]);
                    }
                }
            }
        }
        h.finalize().into()
    }
}
