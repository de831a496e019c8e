//! What a certificate of an adopted proposal carries: the endorsements
//! chosen for it and its proof chain (PROTOCOL.md 9.1, 12.9).

use std::collections::BTreeSet;

use super::Ledger;
use crate::coalition::Roster;
use crate::governance::{authorised_records, Chain, StanceRecord};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::Stance;

impl Ledger {
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
}
