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
//!   irrevocable, so a later objection never withdraws one, and (absent
//!   revocations and rotations) adoption only ever grows as objects arrive.
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
//!   proposal's tally incrementally. A revocation or rotation can withdraw
//!   stances, so adoption is not monotone once keys change.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::coalition::{parse_key_object, Coalition, Object, Roster, VerifiedObject};
use crate::envelope::Envelope;
use crate::error::{Rejection, VoidReason};
pub use crate::governance::StanceRecord;
use std::sync::Arc;

use crate::governance::{authorised_records, contribution, tally, Auth, Chain, Contribution, Derived, Held, Version};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::kind::Kind;
use crate::objects::{Action, Charter, Endorsement, Proposal, Stance};

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

impl Tally {
    pub(crate) fn add(&mut self, c: Contribution, sign: isize) {
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

    /// Applies a verified object. Idempotent and commutative.
    pub fn apply(&mut self, obj: &VerifiedObject) -> Applied {
        if obj.coalition() != self.coalition.id() {
            return Applied::Foreign;
        }
        if !self.applied.insert(obj.id()) {
            return Applied::Duplicate;
        }
        let id = obj.id();
        // Only a genesis has no single signer; ours is already applied.
        let Some(signer) = obj.signer_key() else { return Applied::New { adopted: None } };
        match obj.object() {
            Object::Genesis(_) => Applied::New { adopted: None },
            Object::Proposal(p) => {
                self.held.proposals.insert(id, p.clone());
                self.held.proposal_signer.insert(id, signer);
                if let Some(action) = &p.action {
                    match action {
                        Action::Admit(m) => {
                            self.held.named_keys.entry(m.key).or_default().insert(m.key);
                        }
                        Action::ReplaceKey { trust, new_key } => {
                            self.held.named_keys.entry(*trust).or_default().insert(*new_key);
                        }
                        _ => {}
                    }
                    return Applied::New { adopted: self.rederive(Some(id)) };
                }
                self.retally(&id);
                Applied::New { adopted: self.is_adopted(&id).then_some(id) }
            }
            Object::Endorsement(e) => self.apply_endorsement(id, signer, e),
            Object::Delegation(d) => {
                self.held.delegations.insert(id, (d.clone(), signer));
                Applied::New { adopted: self.rederive(None) }
            }
            Object::Revocation(r) => {
                self.held.revocations.entry(r.delegation).or_default().insert(id, (r.clone(), signer));
                Applied::New { adopted: self.rederive(None) }
            }
            Object::KeyRotation(r) => {
                self.held.rotations.entry((r.trust, signer)).or_default().insert(id, r.clone());
                Applied::New { adopted: self.rederive(None) }
            }
        }
    }

    fn apply_endorsement(&mut self, id: ObjectId, signer: PublicKey, e: &Endorsement) -> Applied {
        self.held.record_auth.insert(id, Auth { signer, delegation: e.delegation });
        let record = StanceRecord { id, stance: e.stance, created_at_ms: e.created_at_ms, comment: e.comment.clone() };
        let governance = self.held.proposals.get(&e.proposal).is_some_and(|p| p.action.is_some());
        let before = self.is_adopted(&e.proposal);
        // The change of this trust's contribution, if the proposal is tallied.
        let version = self.tallied_version(&e.proposal);
        let roster = version.as_ref().map(|v| &v.roster);
        let proposal = self.held.proposals.get(&e.proposal);
        let contribution_of = |held: &Held, roster: &Roster, p: &Proposal| {
            let records = held.records.get(&e.proposal).and_then(|r| r.get(&e.trust));
            let empty = BTreeSet::new();
            contribution(p, &authorised_records(held, roster, &e.trust, records.unwrap_or(&empty)))
        };
        let old = match (roster, proposal) {
            (Some(r), Some(p)) if r.contains(&e.trust) => Some(contribution_of(&self.held, r, p)),
            _ => None,
        };
        self.held.records.entry(e.proposal).or_default().entry(e.trust).or_default().insert(record);
        if let (Some(old), Some(r), Some(p)) = (old, roster, self.held.proposals.get(&e.proposal)) {
            let new = contribution_of(&self.held, r, p);
            if let Some(t) = self.tallies.get_mut(&e.proposal) {
                t.add(old, -1);
                t.add(new, 1);
            }
        }
        let after = self.is_adopted(&e.proposal);
        if governance && before != after {
            // A governance proposal became adopted (or, never by a stance,
            // stopped being): versions change, everything is derived again.
            // Stances that do not change adoption cost what ordinary ones do.
            // The tally above already counts it adopted, so `rederive`
            // does not see it become so: name it here.
            let others = self.rederive(Some(e.proposal));
            let own = (after && self.is_adopted(&e.proposal)).then_some(e.proposal);
            return Applied::New { adopted: own.or(others) };
        }
        Applied::New { adopted: (!before && after).then_some(e.proposal) }
    }

    /// The version of a tallied proposal (shared, not copied: a roster can
    /// hold 10,000 members and this runs for every endorsement).
    fn tallied_version(&self, id: &ObjectId) -> Option<Arc<Version>> {
        self.tallies.get(id)?;
        let p = self.held.proposals.get(id)?;
        Some(self.derived.version(&self.coalition, &p.roster_heads)?.clone())
    }

    /// Recomputes the tally of one proposal from scratch.
    fn retally(&mut self, id: &ObjectId) {
        let Some(p) = self.held.proposals.get(id) else { return };
        let t = self
            .derived
            .resolve(&self.coalition, &self.held, &p.roster_heads)
            .and_then(|version| tally(&self.held, &version, id, p));
        match t {
            Some(t) => self.tallies.insert(*id, t),
            None => self.tallies.remove(id),
        };
    }

    /// Derives governance again and recounts every tally; returns `own` if
    /// it became adopted, else the first proposal that did.
    fn rederive(&mut self, own: Option<ObjectId>) -> Option<ObjectId> {
        let before: BTreeSet<ObjectId> = self.positions_set();
        self.derived = Derived::derive(&self.coalition, &self.held);
        let ids: Vec<ObjectId> = self.held.proposals.keys().copied().collect();
        self.tallies.clear();
        for id in ids {
            self.retally(&id);
        }
        let newly: BTreeSet<ObjectId> = self.positions_set().difference(&before).copied().collect();
        match own {
            Some(o) if newly.contains(&o) => Some(o),
            _ => newly.first().copied(),
        }
    }

    fn positions_set(&self) -> BTreeSet<ObjectId> {
        self.tallies.iter().filter(|(_, t)| t.adopted()).map(|(id, _)| *id).collect()
    }

    /// The proposal with this id, if known.
    pub fn proposal(&self, id: &ObjectId) -> Option<&Proposal> {
        self.held.proposals.get(id)
    }

    /// Every known proposal id, with its proposal, sorted by (created_at, id).
    pub fn proposals(&self) -> Vec<(ObjectId, &Proposal)> {
        let mut v: Vec<_> = self.held.proposals.iter().map(|(id, p)| (*id, p)).collect();
        v.sort_by_key(|(id, p)| (p.created_at_ms, *id));
        v
    }

    /// Counts for a known proposal whose roster version is resolvable and
    /// that is not void (PROTOCOL.md 12.4).
    pub fn tally(&self, id: &ObjectId) -> Option<Tally> {
        self.tallies.get(id).cloned()
    }

    /// Counts for a known proposal from scratch: the definition the
    /// incremental tallies must always equal.
    pub fn recount(&self, id: &ObjectId) -> Option<Tally> {
        let p = self.held.proposals.get(id)?;
        let version = self.derived.version(&self.coalition, &p.roster_heads)?;
        tally(&self.held, version, id, p)
    }

    /// True when the proposal is known and adopted.
    pub fn is_adopted(&self, id: &ObjectId) -> bool {
        self.tallies.get(id).is_some_and(|t| t.adopted())
    }

    /// Status of a known, tallied proposal as seen at `now_ms`.
    pub fn status(&self, id: &ObjectId, now_ms: u64) -> Option<Status> {
        let t = self.tally(id)?;
        let p = &self.held.proposals[id];
        Some(if t.adopted() {
            Status::Adopted
        } else if p.closes_at_ms.is_some_and(|c| now_ms > c) {
            Status::Closed
        } else {
            Status::Open
        })
    }

    /// Everything derived about a known, tallied proposal. Only authorised
    /// records of members are listed.
    pub fn proposal_state(&self, id: &ObjectId) -> Option<ProposalState> {
        let tally = self.tally(id)?;
        let p = self.held.proposals.get(id)?;
        let roster = &self.derived.version(&self.coalition, &p.roster_heads)?.roster;
        let stances = self
            .held
            .records
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|(trust, records)| {
                let member = roster.get(trust.as_bytes())?;
                let records = authorised_records(&self.held, roster, trust, records);
                if records.is_empty() {
                    return None;
                }
                let c = contribution(p, &records);
                Some(TrustStance {
                    trust: *trust,
                    name: member.name.clone(),
                    stance: c.stance,
                    equivocated: c.equivocated,
                    records: records.into_iter().cloned().collect(),
                })
            })
            .collect();
        Some(ProposalState { id: *id, proposal: p.clone(), tally, stances })
    }

    /// Adopted proposals (positions, governance proposals included), sorted
    /// by (created_at, id).
    pub fn positions(&self) -> Vec<ObjectId> {
        self.proposals().into_iter().map(|(id, _)| id).filter(|id| self.is_adopted(id)).collect()
    }

    /// For an adopted proposal, the endorsement objects a certificate carries:
    /// for every member trust whose effective stance is endorse, its
    /// authorised on-time endorse record with the lowest id, sorted by trust
    /// id. Every node holding the same objects picks the same ones.
    pub fn certificate_endorsements(&self, id: &ObjectId) -> Option<Vec<ObjectId>> {
        Some(self.chosen(id)?.into_iter().map(|(_, e)| e).collect())
    }

    /// [`Ledger::certificate_endorsements`] with the trust of each.
    fn chosen(&self, id: &ObjectId) -> Option<Vec<(PublicKey, ObjectId)>> {
        if !self.is_adopted(id) {
            return None;
        }
        let p = &self.held.proposals[id];
        let roster = &self.derived.version(&self.coalition, &p.roster_heads)?.roster;
        let on_time = |r: &&&StanceRecord| p.closes_at_ms.is_none_or(|c| r.created_at_ms <= c);
        Some(
            self.held
                .records
                .get(id)
                .into_iter()
                .flatten()
                .filter(|(trust, _)| roster.contains(trust))
                .filter_map(|(trust, records)| {
                    let records = authorised_records(&self.held, roster, trust, records);
                    let chosen =
                        records.iter().filter(on_time).filter(|r| r.stance == Stance::Endorse).map(|r| r.id).min();
                    chosen.map(|e| (*trust, e))
                })
                .collect(),
        )
    }

    /// For an adopted proposal, the proof chain a certificate carries
    /// (PROTOCOL.md 12.9), sorted by id: every governance proposal in the
    /// closure of its roster heads with the endorsements chosen for it, and
    /// the delegations and rotations that the counted stances and the
    /// proposals' own signatures rely on. Empty for a proposal under the
    /// genesis roster whose stances are all signed by trust ids.
    pub fn certificate_chain(&self, id: &ObjectId) -> Option<Vec<ObjectId>> {
        let p = self.held.proposals.get(id)?;
        let mut ids: BTreeSet<ObjectId> = BTreeSet::new();
        for h in &p.roster_heads {
            ids.extend(self.derived.closures.get(h)?.iter().copied());
        }
        let governance: Vec<ObjectId> = ids.iter().copied().collect();
        for g in governance.iter().chain(std::iter::once(id)) {
            let pg = &self.held.proposals[g];
            let roster = &self.derived.version(&self.coalition, &pg.roster_heads)?.roster;
            self.key_proof(roster, &pg.author, &self.held.proposal_signer[g], &mut ids)?;
            for (trust, e) in self.chosen(g)? {
                if g != id {
                    ids.insert(e);
                }
                let auth = self.held.record_auth[&e];
                match auth.delegation {
                    None => self.key_proof(roster, &trust, &auth.signer, &mut ids)?,
                    Some(d) => {
                        ids.insert(d);
                        let (_, signer) = &self.held.delegations[&d];
                        self.key_proof(roster, &trust, signer, &mut ids)?;
                    }
                }
            }
        }
        Some(ids.into_iter().collect())
    }

    /// Adds the rotations that lead from `trust`'s root key at `roster` to
    /// `signer`.
    fn key_proof(
        &self,
        roster: &Roster,
        trust: &PublicKey,
        signer: &PublicKey,
        ids: &mut BTreeSet<ObjectId>,
    ) -> Option<()> {
        let root = roster.root_key(trust)?;
        ids.extend(Chain::build(&self.held, trust, root).path_to(signer)?);
        Some(())
    }

    /// True when endorsement `e` of `trust` on tallied proposal `id` is
    /// authorised under the proposal's version (PROTOCOL.md 12.4).
    pub(crate) fn counts(&self, id: &ObjectId, trust: &PublicKey, e: &ObjectId) -> bool {
        let Some(p) = self.held.proposals.get(id) else { return false };
        let Some(v) = self.derived.version(&self.coalition, &p.roster_heads) else { return false };
        let Some(record) =
            self.held.records.get(id).and_then(|r| r.get(trust)).and_then(|r| r.iter().find(|r| r.id == *e))
        else {
            return false;
        };
        v.roster.contains(trust)
            && authorised_records(&self.held, &v.roster, trust, &BTreeSet::from([record.clone()])).len() == 1
    }

    /// The roster and charter a held proposal is voted under, if resolvable.
    pub(crate) fn version_of(&self, id: &ObjectId) -> Option<(&Roster, &Charter)> {
        let p = self.held.proposals.get(id)?;
        let v = self.derived.version(&self.coalition, &p.roster_heads)?;
        Some((&v.roster, &v.charter))
    }

    /// Why a held proposal is void under the version it pins (PROTOCOL.md
    /// 12.4), or `None` when it counts or its version does not resolve.
    pub fn void_reason(&self, id: &ObjectId) -> Option<VoidReason> {
        let p = self.held.proposals.get(id)?;
        let v = self.derived.version(&self.coalition, &p.roster_heads)?;
        crate::governance::void_reason(&self.held, &v.roster, id, p)
    }

    /// True when `id` is a held governance proposal.
    pub(crate) fn is_governance(&self, id: &ObjectId) -> bool {
        self.held.proposals.get(id).is_some_and(|p| p.action.is_some())
    }

    /// The roster of a resolvable roster version this ledger has met.
    pub fn roster(&self, version: &ObjectId) -> Option<&Roster> {
        self.derived.versions.get(version).map(|v| &v.roster)
    }

    /// The charter of a resolvable roster version this ledger has met.
    pub fn charter(&self, version: &ObjectId) -> Option<&Charter> {
        self.derived.versions.get(version).map(|v| &v.charter)
    }

    /// Adopted governance proposals, sorted by id.
    pub fn adopted_governance(&self) -> impl Iterator<Item = &ObjectId> {
        self.derived.adopted.iter()
    }

    /// The newest roster version: its heads are the adopted governance
    /// proposals in no other one's closure. A new proposal pins it.
    /// Returns the heads and the version id.
    pub fn head_version(&self) -> (Vec<ObjectId>, ObjectId) {
        let heads = self.derived.head();
        let id = crate::objects::version_id(&self.coalition.id(), &heads);
        (heads, id)
    }

    /// Roster and charter of the newest roster version ([`Ledger::head_version`]).
    pub fn head_roster(&self) -> Option<(&Roster, &Charter)> {
        let v = self.derived.version(&self.coalition, &self.derived.head())?;
        Some((&v.roster, &v.charter))
    }

    /// Keys that signed two or more different rotations (PROTOCOL.md 12.6):
    /// (trust id, key), sorted. Flagged for everyone to see.
    pub fn key_equivocations(&self) -> Vec<(PublicKey, PublicKey)> {
        self.held.rotations.iter().filter(|(_, r)| r.len() > 1).map(|(k, _)| *k).collect()
    }

    /// Every key that may sign for `trust` as far as the held objects tell
    /// (PROTOCOL.md 12.8): empty for an unknown trust. Grows with the set.
    pub fn known_keys(&self, trust: &PublicKey) -> BTreeSet<PublicKey> {
        let mut keys = BTreeSet::new();
        if self.coalition.current_roster().contains(trust) {
            keys.insert(*trust);
        }
        let named = self.held.named_keys.get(trust);
        if keys.is_empty() && !named.is_some_and(|n| n.contains(trust)) {
            return keys;
        }
        keys.extend(named.into_iter().flatten().copied());
        let mut queue: Vec<PublicKey> = keys.iter().copied().collect();
        while let Some(k) = queue.pop() {
            for r in self.held.rotations.get(&(*trust, k)).into_iter().flat_map(|r| r.values()) {
                if keys.insert(r.new_key) {
                    queue.push(r.new_key);
                }
            }
        }
        keys
    }

    /// True when `key` is in [`Ledger::known_keys`] of `trust`, without
    /// building the set in the common case: a founder signing with its own
    /// id, or an unknown trust.
    fn is_known_key(&self, trust: &PublicKey, key: &PublicKey) -> bool {
        let named = self.held.named_keys.get(trust);
        let founder = self.coalition.current_roster().contains(trust);
        if !founder && !named.is_some_and(|n| n.contains(trust)) {
            return false;
        }
        key == trust || self.known_keys(trust).contains(key)
    }

    /// True when the held objects revoke node key `node_key` of `trust`
    /// (PROTOCOL.md 12.5): they hold a delegation by `trust` to `node_key`
    /// with scope bit 2 (node), signed by a key of the trust's chain under
    /// the newest roster version, and at least one revocation of it that
    /// counts (12.7: it names `trust` and any key of that chain signed it).
    /// Peers refuse a node whose key is revoked. Grows with the set.
    pub fn node_key_revoked(&self, trust: &PublicKey, node_key: &PublicKey) -> bool {
        let Some(root) = self.head_roster().and_then(|(r, _)| r.root_key(trust)) else { return false };
        let mut chain = None;
        self.held.delegations.iter().any(|(id, (d, signer))| {
            if d.trust != *trust || d.delegate != *node_key || d.scope & crate::objects::SCOPE_NODE == 0 {
                return false;
            }
            let Some(revocations) = self.held.revocations.get(id) else { return false };
            let chain = chain.get_or_insert_with(|| Chain::build(&self.held, trust, root));
            chain.contains(signer) && revocations.values().any(|(r, s)| r.trust == *trust && chain.contains(s))
        })
    }

    /// Validates one envelope against every ingest rule with governance
    /// (PROTOCOL.md 12.8): the rules of sections 6–7, the signature checked
    /// against the envelope's signer, then whether the held objects make the
    /// signer a known key of the trust named (else `UnknownSigner`, Ignore)
    /// and the proposal's roster heads held (else `UnknownRoster`, Ignore).
    /// Equal to [`Ledger::check_signature`] followed by [`Ledger::authorise`].
    pub fn validate(&self, bytes: &[u8], now_ms: u64) -> Result<VerifiedObject, Rejection> {
        self.authorise(&Self::check_signature(&self.coalition, bytes)?, now_ms)
    }

    /// As [`Ledger::validate`] for many envelopes, with the signatures
    /// checked on up to `threads` threads. Results are in input order and
    /// equal to calling [`Ledger::validate`] on each.
    pub fn validate_many(
        &self,
        items: &[&[u8]],
        now_ms: u64,
        threads: usize,
    ) -> Vec<Result<VerifiedObject, Rejection>> {
        Self::check_signatures(&self.coalition, items, threads)
            .into_iter()
            .map(|c| c.and_then(|c| self.authorise(&c, now_ms)))
            .collect()
    }

    /// The first stage of [`Ledger::validate`], which needs no ledger: the
    /// envelope's form, its body, the coalition, and its signature against
    /// the key that signed it. A [`SignatureChecked`] may still be refused by
    /// [`Ledger::authorise`]; nothing is admitted without that second stage.
    pub fn check_signature(coalition: &Coalition, bytes: &[u8]) -> Result<SignatureChecked, Rejection> {
        let envelope = Envelope::decode(bytes)?;
        if envelope.kind() == Kind::Genesis {
            // A genesis has no time rule: the clock is irrelevant here.
            return Ok(SignatureChecked(Checked::Genesis(coalition.validate_envelope(envelope, 0)?)));
        }
        let parsed = ParsedObject::parse(coalition, envelope)?;
        let signer = parsed.signer(coalition)?;
        parsed.verified_by(signer)
    }

    /// [`Ledger::check_signature`] for many envelopes on up to `threads`
    /// threads (1 to 64), results in input order. Holds no ledger, so a
    /// caller can verify signatures without holding a lock on its ledger.
    pub fn check_signatures(
        coalition: &Coalition,
        items: &[&[u8]],
        threads: usize,
    ) -> Vec<Result<SignatureChecked, Rejection>> {
        crate::parallel::map_in_threads(items.to_vec(), threads, 64, |b| Self::check_signature(coalition, b))
    }

    /// The second stage of [`Ledger::validate`]: whether the objects this
    /// ledger holds make the signer a known key of the trust named (else
    /// `UnknownSigner`), the proposal's roster heads held (else
    /// `UnknownRoster`), and the time not too far ahead of `now_ms`. Both
    /// unknowns have verdict Ignore and may pass once more objects are
    /// applied ([`Rejection::awaits_objects`]).
    pub fn authorise(&self, checked: &SignatureChecked, now_ms: u64) -> Result<VerifiedObject, Rejection> {
        let (envelope, object, trust, signer, created_at_ms) = match &checked.0 {
            Checked::Genesis(g) => return Ok(g.clone()),
            Checked::Signed { envelope, object, trust, signer, created_at_ms } => {
                (envelope, object, *trust, *signer, *created_at_ms)
            }
        };
        let unknown = || Rejection::UnknownSigner { key: signer.to_hex(), trust: trust.to_hex() };
        match object {
            Object::Endorsement(Endorsement { delegation: Some(d), .. }) => {
                let Some((delegation, delegation_signer)) = self.held.delegations.get(d) else {
                    return Err(unknown());
                };
                if delegation.trust != trust {
                    return Err(Rejection::InvalidField {
                        field: "delegation",
                        reason: format!("is a delegation of trust {}, not {}", delegation.trust, trust),
                    });
                }
                if delegation.delegate != signer {
                    return Err(Rejection::SignerMismatch {
                        field: "delegate",
                        signer: signer.to_hex(),
                        named: delegation.delegate.to_hex(),
                    });
                }
                if !self.is_known_key(&trust, delegation_signer) {
                    return Err(unknown());
                }
            }
            _ if !self.is_known_key(&trust, &signer) => return Err(unknown()),
            _ => {}
        }
        if let Object::Proposal(p) = object {
            if let Some(h) =
                p.roster_heads.iter().find(|h| self.held.proposals.get(h).is_some_and(|g| g.action.is_none()))
            {
                return Err(Rejection::InvalidField {
                    field: "roster heads",
                    reason: format!("{h} is not a governance proposal"),
                });
            }
            let held_head = |h: &ObjectId| {
                self.held.proposals.get(h).is_some_and(|g| g.action.is_some()) && self.derived.closures.contains_key(h)
            };
            if !p.roster_heads.iter().all(held_head) {
                return Err(Rejection::UnknownRoster(p.roster));
            }
            if self.derived.antichain(&p.roster_heads) == Some(false) {
                return Err(Rejection::InvalidField {
                    field: "roster heads",
                    reason: "a head is in the closure of another".into(),
                });
            }
        }
        Coalition::check_time(created_at_ms, now_ms)?;
        Ok(VerifiedObject::new(envelope.clone(), object.clone(), Some(signer)))
    }

    /// SHA-256 over a canonical rendering of the derived state: every
    /// applied id, the adopted governance proposals, and every tallied
    /// proposal's tally and effective stances. Two ledgers with equal
    /// digests say the same thing.
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
                for s in &state.stances {
                    h.update(s.trust.as_bytes());
                    h.update([s.stance.map_or(0, |x| x as u8 + 1), u8::from(s.equivocated)]);
                }
            }
        }
        h.finalize().into()
    }
}

/// An envelope whose form, coalition and signature are checked
/// ([`Ledger::check_signature`]) but not yet whether the held objects
/// authorise its signer ([`Ledger::authorise`]). Holding one proves the
/// signature verified against the key in the envelope, nothing more.
#[derive(Clone, Debug)]
pub struct SignatureChecked(Checked);

// Built once per ingested object, like `Object` (see there).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Checked {
    Genesis(VerifiedObject),
    Signed { envelope: Envelope, object: Object, trust: PublicKey, signer: PublicKey, created_at_ms: u64 },
}

impl SignatureChecked {
    /// The object id.
    pub fn id(&self) -> ObjectId {
        match &self.0 {
            Checked::Genesis(g) => g.id(),
            Checked::Signed { envelope, .. } => envelope.id(),
        }
    }

    /// The typed body.
    pub fn object(&self) -> &Object {
        match &self.0 {
            Checked::Genesis(g) => g.object(),
            Checked::Signed { object, .. } => object,
        }
    }

    /// The exact envelope bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            Checked::Genesis(g) => g.envelope().bytes(),
            Checked::Signed { envelope, .. } => envelope.bytes(),
        }
    }
}

/// A non-genesis envelope whose body passed the rules of its kind and whose
/// coalition is this one; its signature is not checked yet. The first half
/// of [`Ledger::check_signature`], apart so that a certificate can check the
/// form of everything it carries before any signature (PROTOCOL.md 9.2).
#[derive(Clone, Debug)]
pub(crate) struct ParsedObject {
    pub(crate) envelope: Envelope,
    pub(crate) object: Object,
    /// The trust the body names (author, trust).
    pub(crate) trust: PublicKey,
    created_at_ms: u64,
}

impl ParsedObject {
    /// The body rules of the envelope's kind (trust keys of founders taken
    /// from the genesis roster), then the coalition check.
    pub(crate) fn parse(c: &Coalition, envelope: Envelope) -> Result<Self, Rejection> {
        let (object, coalition_id, trust, created_at_ms) = match envelope.kind() {
            Kind::Proposal => {
                let p = Proposal::from_body(envelope.body())?;
                let (coalition, author, at) = (p.coalition, p.author, p.created_at_ms);
                (Object::Proposal(p), coalition, author, at)
            }
            Kind::Endorsement => {
                let e = Endorsement::from_body_with(envelope.body(), |_, b| c.parse_key("trust", b))?;
                let (coalition, trust, at) = (e.coalition, e.trust, e.created_at_ms);
                (Object::Endorsement(e), coalition, trust, at)
            }
            _ => parse_key_object(&envelope)?,
        };
        c.check_coalition(coalition_id)?;
        Ok(ParsedObject { envelope, object, trust, created_at_ms })
    }

    /// The envelope's one signer under the key rule (`BadKey` "envelope
    /// signer").
    pub(crate) fn signer(&self, c: &Coalition) -> Result<PublicKey, Rejection> {
        c.envelope_signer(&self.envelope)
    }

    /// The signature checked against `signer` (which [`ParsedObject::signer`]
    /// returned).
    pub(crate) fn verified_by(self, signer: PublicKey) -> Result<SignatureChecked, Rejection> {
        if !signer.verify(&self.envelope.signing_input(), &self.envelope.signatures()[0].signature) {
            return Err(Rejection::BadSignature { signer: signer.to_hex() });
        }
        let ParsedObject { envelope, object, trust, created_at_ms } = self;
        Ok(SignatureChecked(Checked::Signed { envelope, object, trust, signer, created_at_ms }))
    }

    /// [`ParsedObject::verified_by`] for a signature verified already.
    pub(crate) fn into_checked(self, signer: PublicKey) -> SignatureChecked {
        let ParsedObject { envelope, object, trust, created_at_ms } = self;
        SignatureChecked(Checked::Signed { envelope, object, trust, signer, created_at_ms })
    }
}
