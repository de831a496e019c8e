//! The ledger: what the coalition has said, as a pure function of the set of
//! verified objects.
//!
//! Rules (PROTOCOL.md, "Ledger"):
//! - An object is applied at most once (by id); applying is commutative, so
//!   the state depends only on the set applied, never on order or repeats.
//! - One trust, one voice per proposal. A trust's records on a proposal are
//!   its endorsement objects for it. Those dated at or before the proposal's
//!   closing time are *on time*. Its effective stance is the strongest on-time
//!   stance it signed, with endorse > object > abstain: endorsements are
//!   irrevocable, so a later objection never withdraws one, and adoption only
//!   ever grows as objects arrive.
//! - A trust that signed two different stances on one proposal has
//!   *equivocated*; this is flagged on the proposal for everyone to see, and
//!   the effective stance follows the rule above.
//! - A proposal is adopted (becomes a position) when its effective endorsers
//!   reach the charter's threshold for its roster version.
//! - Endorsements may arrive before their proposal; they are held and counted
//!   when it arrives.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::coalition::{Coalition, Object, VerifiedObject};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::{Proposal, Stance};

/// One endorsement object as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StanceRecord {
    /// The endorsement object's id.
    pub id: ObjectId,
    /// Its stance.
    pub stance: Stance,
    /// Its signing time.
    pub created_at_ms: u64,
    /// Its comment.
    pub comment: Option<String>,
}

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
    /// Endorsement objects dated after the closing time (not counted).
    pub late: usize,
}

impl Tally {
    /// True when the endorsements reach the threshold.
    pub fn adopted(&self) -> bool {
        self.endorse >= self.required
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
}

/// The ledger state machine. See the module docs for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    coalition: Coalition,
    applied: BTreeSet<ObjectId>,
    proposals: BTreeMap<ObjectId, Proposal>,
    // Keyed by proposal id, whether or not the proposal is known yet.
    records: BTreeMap<ObjectId, BTreeMap<PublicKey, BTreeSet<StanceRecord>>>,
    // Tallies of known proposals, kept up to date on every apply so that an
    // endorsement costs O(log n), not a recount of every stance. Derived
    // from the fields above and always equal to a full recount.
    tallies: BTreeMap<ObjectId, Tally>,
}

/// What one trust's records contribute to a tally.
#[derive(Clone, Copy, Default)]
struct Contribution {
    stance: Option<Stance>,
    equivocated: bool,
    late: usize,
}

impl Tally {
    fn add(&mut self, c: Contribution, sign: isize) {
        let bump = |n: &mut usize, by: usize| *n = n.wrapping_add_signed(sign * by as isize);
        bump(&mut self.late, c.late);
        bump(&mut self.equivocations, usize::from(c.equivocated));
        match c.stance {
            Some(Stance::Endorse) => bump(&mut self.endorse, 1),
            Some(Stance::Object) => bump(&mut self.object, 1),
            Some(Stance::Abstain) => bump(&mut self.abstain, 1),
            None => {}
        }
    }
}

impl Ledger {
    /// An empty ledger for `coalition` (its genesis counts as applied).
    pub fn new(coalition: Coalition) -> Self {
        let mut applied = BTreeSet::new();
        applied.insert(coalition.id());
        Ledger { coalition, applied, proposals: BTreeMap::new(), records: BTreeMap::new(), tallies: BTreeMap::new() }
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

    /// Applies a verified object. Idempotent and commutative.
    pub fn apply(&mut self, obj: &VerifiedObject) -> Applied {
        if obj.coalition() != self.coalition.id() {
            return Applied::Foreign;
        }
        if !self.applied.insert(obj.id()) {
            return Applied::Duplicate;
        }
        match obj.object() {
            Object::Genesis(_) => Applied::New { adopted: None },
            Object::Proposal(p) => {
                self.proposals.insert(obj.id(), p.clone());
                if let Some(t) = self.recount(&obj.id()) {
                    self.tallies.insert(obj.id(), t);
                }
                let adopted = self.is_adopted(&obj.id()).then_some(obj.id());
                Applied::New { adopted }
            }
            Object::Endorsement(e) => {
                let before = self.is_adopted(&e.proposal);
                let proposal = self.proposals.get(&e.proposal);
                let eligible =
                    proposal.and_then(|p| self.coalition.roster(&p.roster)).is_some_and(|r| r.contains(&e.trust));
                let records = self.records.entry(e.proposal).or_default().entry(e.trust).or_default();
                let old = proposal.map(|p| Self::effective(p, records));
                records.insert(StanceRecord {
                    id: obj.id(),
                    stance: e.stance,
                    created_at_ms: e.created_at_ms,
                    comment: e.comment.clone(),
                });
                if let (Some(p), Some(old), true) = (proposal, old, eligible) {
                    let new = Self::effective(p, records);
                    if let Some(t) = self.tallies.get_mut(&e.proposal) {
                        t.add(old, -1);
                        t.add(new, 1);
                    }
                }
                let adopted = (!before && self.is_adopted(&e.proposal)).then_some(e.proposal);
                Applied::New { adopted }
            }
        }
    }

    /// The proposal with this id, if known.
    pub fn proposal(&self, id: &ObjectId) -> Option<&Proposal> {
        self.proposals.get(id)
    }

    /// Every known proposal id, with its proposal, sorted by (created_at, id).
    pub fn proposals(&self) -> Vec<(ObjectId, &Proposal)> {
        let mut v: Vec<_> = self.proposals.iter().map(|(id, p)| (*id, p)).collect();
        v.sort_by_key(|(id, p)| (p.created_at_ms, *id));
        v
    }

    /// Effective stance of one trust from its records on a proposal.
    fn effective(p: &Proposal, records: &BTreeSet<StanceRecord>) -> Contribution {
        let on_time = |r: &&StanceRecord| p.closes_at_ms.is_none_or(|c| r.created_at_ms <= c);
        // Stance's Ord is Endorse < Object < Abstain: the minimum is the strongest.
        let stance = records.iter().filter(on_time).map(|r| r.stance).min();
        let first = records.iter().next().map(|r| r.stance);
        let equivocated = records.iter().any(|r| Some(r.stance) != first);
        let late = records.len() - records.iter().filter(on_time).count();
        Contribution { stance, equivocated, late }
    }

    /// Counts for a known proposal.
    pub fn tally(&self, id: &ObjectId) -> Option<Tally> {
        self.tallies.get(id).cloned()
    }

    /// Counts for a known proposal from scratch: the definition the
    /// incremental tallies must always equal.
    pub fn recount(&self, id: &ObjectId) -> Option<Tally> {
        let p = self.proposals.get(id)?;
        let roster = self.coalition.roster(&p.roster)?;
        let mut t = Tally {
            members: roster.len(),
            required: self.coalition.charter().positions.required(roster.len()),
            ..Tally::default()
        };
        for (trust, records) in self.records.get(id).into_iter().flatten() {
            if !roster.contains(trust) {
                continue;
            }
            t.add(Self::effective(p, records), 1);
        }
        Some(t)
    }

    /// True when the proposal is known and adopted.
    pub fn is_adopted(&self, id: &ObjectId) -> bool {
        self.tallies.get(id).is_some_and(|t| t.adopted())
    }

    /// Status of a known proposal as seen at `now_ms`.
    pub fn status(&self, id: &ObjectId, now_ms: u64) -> Option<Status> {
        let t = self.tally(id)?;
        let p = &self.proposals[id];
        Some(if t.adopted() {
            Status::Adopted
        } else if p.closes_at_ms.is_some_and(|c| now_ms > c) {
            Status::Closed
        } else {
            Status::Open
        })
    }

    /// Everything derived about a known proposal.
    pub fn proposal_state(&self, id: &ObjectId) -> Option<ProposalState> {
        let p = self.proposals.get(id)?;
        let roster = self.coalition.roster(&p.roster)?;
        let stances = self
            .records
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|(trust, records)| {
                let member = roster.get(trust.as_bytes())?;
                let c = Self::effective(p, records);
                Some(TrustStance {
                    trust: *trust,
                    name: member.name.clone(),
                    stance: c.stance,
                    equivocated: c.equivocated,
                    records: records.iter().cloned().collect(),
                })
            })
            .collect();
        Some(ProposalState { id: *id, proposal: p.clone(), tally: self.tally(id)?, stances })
    }

    /// Adopted proposals (positions), sorted by (created_at, id).
    pub fn positions(&self) -> Vec<ObjectId> {
        self.proposals().into_iter().map(|(id, _)| id).filter(|id| self.is_adopted(id)).collect()
    }

    /// For an adopted proposal, the endorsement objects a certificate carries:
    /// for every trust whose effective stance is endorse, its on-time endorse
    /// record with the lowest id, sorted by trust key. Every node holding the
    /// same objects picks the same ones.
    pub fn certificate_endorsements(&self, id: &ObjectId) -> Option<Vec<ObjectId>> {
        if !self.is_adopted(id) {
            return None;
        }
        let p = &self.proposals[id];
        let roster = self.coalition.roster(&p.roster)?;
        let on_time = |r: &&StanceRecord| p.closes_at_ms.is_none_or(|c| r.created_at_ms <= c);
        Some(
            self.records
                .get(id)
                .into_iter()
                .flatten()
                .filter(|(trust, _)| roster.contains(trust))
                .filter_map(|(_, records)| {
                    records.iter().filter(on_time).filter(|r| r.stance == Stance::Endorse).map(|r| r.id).min()
                })
                .collect(),
        )
    }

    /// SHA-256 over a canonical rendering of the derived state: every
    /// applied id, and every proposal's tally and effective stances. Two
    /// ledgers with equal digests say the same thing.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.coalition.id().as_bytes());
        for id in &self.applied {
            h.update(id.as_bytes());
        }
        for id in self.proposals.keys() {
            if let Some(state) = self.proposal_state(id) {
                h.update(id.as_bytes());
                let t = &state.tally;
                for n in [t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late] {
                    h.update((n as u64).to_be_bytes());
                }
                for s in &state.stances {
                    h.update(s.trust.as_bytes());
                    h.update([s.stance.map_or(0, |x| x as u8 + 1), u8::from(s.equivocated)]);
                }
            }
        }
        h.finalize().into()
    }
}

/// What a node did with one object offered to it (by a peer, a sync or a
/// local user). Shared by the store, the network and the node so that each
/// layer reports the same outcome in the same words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Valid and new; durable before this was reported. `adopted` names a
    /// proposal this object made a position.
    Stored {
        /// The object's id.
        id: ObjectId,
        /// Proposal newly adopted because of it, if any.
        adopted: Option<ObjectId>,
    },
    /// Valid, and already held.
    Duplicate {
        /// The object's id.
        id: ObjectId,
    },
    /// Refused; nothing was stored. The rejection's verdict says whether the
    /// sender is at fault.
    Refused(crate::error::Rejection),
}
