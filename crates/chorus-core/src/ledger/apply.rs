//! Applying a verified object: the held objects grow, and tallies and
//! derived governance follow (incrementally for an ordinary stance, in full
//! for an object that can change governance).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Applied, Ledger, Tally};
use crate::coalition::{Object, Roster, VerifiedObject};
use crate::deliberation::{HeldNotice, NoticeKind};
use crate::governance::{
    authorised_records, contribution, tally, window_of, Auth, Contribution, Derived, Held, StanceRecord, Version,
};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::{Action, Charter, Endorsement, Member, Proposal, Stance};

impl Tally {
    /// Counts (`sign` 1) or uncounts (-1) the contribution of `member`
    /// under `charter`, the charter of the proposal's version.
    pub(crate) fn add(&mut self, c: Contribution, sign: isize, member: &Member, charter: &Charter) {
        let bump = |n: &mut usize, by: usize| *n = n.wrapping_add_signed(sign * by as isize);
        bump(&mut self.late, c.late);
        bump(&mut self.early, c.early);
        bump(&mut self.equivocations, usize::from(c.equivocated));
        match c.stance {
            Some(Stance::Endorse) => {
                bump(&mut self.endorse, 1);
                for b in &mut self.breadth {
                    b.add(&charter.attributes, member, sign);
                }
            }
            Some(Stance::Object) => bump(&mut self.object, 1),
            Some(Stance::Abstain) => bump(&mut self.abstain, 1),
            None => {}
        }
    }
}

impl Ledger {
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
                if let Some(link) = &p.link {
                    self.held.revisions.entry(link.target).or_default().insert(id);
                }
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
                self.held.delegates.insert(d.delegate);
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
            Object::Comment(c) => {
                // Shown, never counted towards adoption.
                self.held.comments.entry(c.proposal).or_default().insert(id, (c.clone(), signer));
                Applied::New { adopted: None }
            }
            Object::OpenVoting(o) => {
                let n = HeldNotice {
                    kind: NoticeKind::OpenVoting,
                    created_at_ms: o.created_at_ms,
                    author: o.author,
                    signer,
                    reason: None,
                };
                self.apply_notice(id, o.proposal, n)
            }
            Object::Withdrawal(w) => {
                let n = HeldNotice {
                    kind: NoticeKind::Withdrawal,
                    created_at_ms: w.created_at_ms,
                    author: w.author,
                    signer,
                    reason: w.reason.clone(),
                };
                self.apply_notice(id, w.proposal, n)
            }
            // Held (its id is applied, so a copy is a duplicate), and
            // nothing else: PROTOCOL.md 3.4.
            Object::Opaque(_) => Applied::New { adopted: None },
        }
    }

    /// Holds an open-voting or withdrawal of `proposal`; once the proposal
    /// is held, its window may move, so its tally is counted again (and
    /// governance derived again, for a governance proposal).
    fn apply_notice(&mut self, id: ObjectId, proposal: ObjectId, n: HeldNotice) -> Applied {
        self.held.notices.entry(proposal).or_default().insert(id, n);
        if !self.held.proposals.contains_key(&proposal) {
            return Applied::New { adopted: None };
        }
        if self.is_governance(&proposal) {
            return Applied::New { adopted: self.rederive(Some(proposal)) };
        }
        let before = self.is_adopted(&proposal);
        self.retally(&proposal);
        Applied::New { adopted: (!before && self.is_adopted(&proposal)).then_some(proposal) }
    }

    fn apply_endorsement(&mut self, id: ObjectId, signer: PublicKey, e: &Endorsement) -> Applied {
        self.held.record_auth.insert(id, Auth { signer, delegation: e.delegation });
        let record = StanceRecord { id, stance: e.stance, created_at_ms: e.created_at_ms, comment: e.comment.clone() };
        let governance = self.held.proposals.get(&e.proposal).is_some_and(|p| p.action.is_some());
        let before = self.is_adopted(&e.proposal);
        // The change of this trust's contribution, if the proposal is tallied.
        let version = self.tallied_version(&e.proposal);
        // The trust's entry in that version's roster, if it is a member.
        let member = version.as_ref().and_then(|v| Some((v, v.roster.get(e.trust.as_bytes())?)));
        // The window depends on notices and keys only, not on stances: the
        // same before and after this record.
        let window = match (member, self.held.proposals.get(&e.proposal)) {
            (Some((v, _)), Some(p)) => Some(window_of(&self.held, &v.roster, &e.proposal, p)),
            _ => None,
        };
        let contribution_of = |held: &Held, roster: &Roster, _: &Proposal| {
            let records = held.records.get(&e.proposal).and_then(|r| r.get(&e.trust));
            let empty = BTreeSet::new();
            let window = window.unwrap_or_else(|| crate::deliberation::VotingWindow::open_from_start(None));
            contribution(&window, &authorised_records(held, roster, &e.trust, records.unwrap_or(&empty)))
        };
        let old = match (member, self.held.proposals.get(&e.proposal)) {
            (Some((v, _)), Some(p)) => Some(contribution_of(&self.held, &v.roster, p)),
            _ => None,
        };
        self.held.records.entry(e.proposal).or_default().entry(e.trust).or_default().insert(record);
        if let (Some(old), Some((v, m)), Some(p)) = (old, member, self.held.proposals.get(&e.proposal)) {
            let new = contribution_of(&self.held, &v.roster, p);
            if let Some(t) = self.tallies.get_mut(&e.proposal) {
                t.add(old, -1, m, &v.charter);
                t.add(new, 1, m, &v.charter);
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
}
