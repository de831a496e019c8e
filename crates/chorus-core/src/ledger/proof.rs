//! What a certificate of an adopted proposal carries: the endorsements and
//! dissent chosen for it, its proof chain (PROTOCOL.md 9.1, 12.9), and who
//! may seal it (9.2 step 22).

use std::collections::BTreeSet;

use super::Ledger;
use crate::certificate::SealChoice;
use crate::coalition::Roster;
use crate::deliberation::Timing;
use crate::governance::{authorised_records, window_of, Chain, StanceRecord};
use crate::id::ObjectId;
use crate::keys::{Keypair, PublicKey};
use crate::objects::{Stance, SCOPE_NODE};

impl Ledger {
    /// For an adopted proposal, the endorsement objects a certificate carries:
    /// for every member trust whose effective stance is endorse, its
    /// authorised on-time endorse record with the lowest id, sorted by trust
    /// id. Every node holding the same objects picks the same ones.
    pub fn certificate_endorsements(&self, id: &ObjectId) -> Option<Vec<ObjectId>> {
        Some(self.chosen(id, |s| s == Stance::Endorse)?.into_iter().map(|(_, e)| e).collect())
    }

    /// For an adopted proposal, the dissent a certificate carries: for every
    /// member trust whose effective stance is object or abstain, its
    /// authorised on-time record of that stance with the lowest id, sorted
    /// by trust id. `None` when the proposal is not adopted. Every node
    /// holding the same objects picks the same ones.
    pub fn certificate_dissent(&self, id: &ObjectId) -> Option<Vec<ObjectId>> {
        Some(self.chosen(id, |s| s != Stance::Endorse)?.into_iter().map(|(_, e)| e).collect())
    }

    /// For every member trust of an adopted proposal whose effective stance
    /// passes `wanted`, its authorised on-time record of that stance with
    /// the lowest id, with the trust, in trust order.
    fn chosen(&self, id: &ObjectId, wanted: impl Fn(Stance) -> bool) -> Option<Vec<(PublicKey, ObjectId)>> {
        if !self.is_adopted(id) {
            return None;
        }
        let p = &self.held.proposals[id];
        let roster = &self.derived.version(&self.coalition, &p.roster_heads)?.roster;
        let window = window_of(&self.held, roster, id, p);
        let on_time = |r: &&&StanceRecord| window.timing(r.created_at_ms) == Timing::OnTime;
        Some(
            self.held
                .records
                .get(id)
                .into_iter()
                .flatten()
                .filter(|(trust, _)| roster.contains(trust))
                .filter_map(|(trust, records)| {
                    let records = authorised_records(&self.held, roster, trust, records);
                    // Stance's Ord is Endorse < Object < Abstain: the
                    // minimum is the effective stance.
                    let effective = records.iter().filter(on_time).map(|r| r.stance).min()?;
                    if !wanted(effective) {
                        return None;
                    }
                    let chosen = records.iter().filter(on_time).filter(|r| r.stance == effective).map(|r| r.id).min();
                    chosen.map(|e| (*trust, e))
                })
                .collect(),
        )
    }

    /// For an adopted proposal, the proof chain a certificate carries
    /// (PROTOCOL.md 12.9), sorted by id: every governance proposal in the
    /// closure of its roster heads with the endorsements chosen for it, the
    /// open-voting and withdrawal objects that set the voting windows of
    /// those proposals and of the proposal itself, and the delegations and
    /// rotations that the counted stances (dissent included), the
    /// proposals' own signatures and those notices rely on. Empty for a
    /// proposal under the genesis roster whose stances are all signed by
    /// trust ids and whose window no notice sets. A seal's needs are
    /// [`Ledger::seal_proof`].
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
            let window = window_of(&self.held, roster, g, pg);
            for notice in window.opened_by.iter().chain(&window.withdrawn_by) {
                ids.insert(*notice);
                let signer = self.held.notices.get(g).and_then(|n| n.get(notice))?.signer;
                self.key_proof(roster, &pg.author, &signer, &mut ids)?;
            }
            // The certified proposal's dissent too; a governance
            // proposal's endorsements only.
            for (trust, e) in self.chosen(g, |s| g == id || s == Stance::Endorse)? {
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

    /// What a certificate of held proposal `id` must carry in its chain,
    /// beyond [`Ledger::certificate_chain`], for a seal by `signer` for
    /// member `trust` (under node-scope delegation `delegation`, if any) to
    /// pass step 22: the delegation and the rotations from the trust's root
    /// key to the key that signed it, or to `signer` itself. `None` when
    /// the held objects do not let `signer` seal for `trust`
    /// ([`Ledger::may_seal`]) or the rotations are not held.
    pub fn seal_proof(
        &self,
        id: &ObjectId,
        trust: &PublicKey,
        signer: &PublicKey,
        delegation: Option<&ObjectId>,
    ) -> Option<Vec<ObjectId>> {
        if !self.may_seal(id, trust, signer, delegation) {
            return None;
        }
        let (roster, _) = self.version_of(id)?;
        let mut ids = BTreeSet::new();
        let key = match delegation {
            None => signer,
            Some(d) => {
                ids.insert(*d);
                &self.held.delegations[d].1
            }
        };
        self.key_proof(roster, trust, key, &mut ids)?;
        Some(ids.into_iter().collect())
    }

    /// The first of `keys` that may seal certificates of held proposal `id`
    /// for `trust` (PROTOCOL.md 9.2 step 22): as a key of the trust
    /// ([`Ledger::may_seal`] with no delegation), else as the delegate of
    /// [`Ledger::seal_delegation`]; with the ids a certificate's chain must
    /// also carry for its seal ([`Ledger::seal_proof`]). A key whose proof
    /// is not held is passed over. `None` when no key may seal.
    pub fn seal_choice<'k>(
        &self,
        id: &ObjectId,
        trust: &PublicKey,
        keys: &'k [Keypair],
    ) -> Option<(SealChoice<'k>, Vec<ObjectId>)> {
        keys.iter().find_map(|key| {
            let signer = key.public();
            let delegation = if self.may_seal(id, trust, &signer, None) {
                None
            } else {
                Some(self.seal_delegation(id, trust, &signer)?)
            };
            let proof = self.seal_proof(id, trust, &signer, delegation.as_ref())?;
            Some((SealChoice { key, delegation }, proof))
        })
    }

    /// The node-scope delegation under which `node_key` may seal
    /// certificates of proposal `id` for `trust` (the lowest id, PROTOCOL.md
    /// 9.2 step 22), if the held objects hold one.
    pub fn seal_delegation(&self, id: &ObjectId, trust: &PublicKey, node_key: &PublicKey) -> Option<ObjectId> {
        self.held.delegations.keys().copied().find(|d| self.may_seal(id, trust, node_key, Some(d)))
    }

    /// Step 22 of PROTOCOL.md 9.2: `trust` is a member of the roster version
    /// of held proposal `id`, and either (no `delegation`) `signer` is the
    /// current key of the trust's key chain under that version, the key a
    /// stance signed now would need (not a key rotated away from, nor an id
    /// a replacement made another key the root of), or `signer` is the
    /// delegate of `delegation`, a held node-scope delegation of that trust
    /// authorised by its chain as a stance's would be, that no held
    /// revocation signed by a key of the chain revokes. No clock and no
    /// period: a seal attests what a member's node held, it is not a stance.
    pub fn may_seal(
        &self,
        id: &ObjectId,
        trust: &PublicKey,
        signer: &PublicKey,
        delegation: Option<&ObjectId>,
    ) -> bool {
        let Some((roster, _)) = self.version_of(id) else { return false };
        let Some(root) = roster.root_key(trust) else { return false };
        let chain = Chain::build(&self.held, trust, root);
        let Some(d) = delegation else {
            // The chain goes on past every key with exactly one rotation and
            // ends at one with none (current) or several (frozen): a key of
            // the chain that was never rotated away from is its current end.
            return chain.contains(signer) && self.held.rotations.get(&(*trust, *signer)).is_none_or(|r| r.is_empty());
        };
        let Some((granted, granted_by)) = self.held.delegations.get(d) else { return false };
        if granted.trust != *trust
            || granted.delegate != *signer
            || granted.scope & SCOPE_NODE == 0
            || !chain.authorises(granted_by, d)
        {
            return false;
        }
        !self.held.revocations.get(d).into_iter().flatten().any(|(_, (r, s))| r.trust == *trust && chain.contains(s))
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
}
