//! What the held objects say: proposals, tallies, positions, roster
//! versions, keys and revocations. Pure reads of the ledger.

use std::collections::BTreeSet;

use super::{Ledger, ProposalState, Status, Tally, TrustStance};
use crate::coalition::Roster;
use crate::error::VoidReason;
use crate::governance::{authorised_records, contribution, tally, window_of, Chain};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::{Charter, Proposal};

impl Ledger {
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

    /// Status of a known, tallied proposal as seen at `now_ms`: adopted;
    /// else withdrawn when a counted withdrawal is held; else closed when
    /// past its closing time; else draft while voting has not opened (never
    /// opened, or `now_ms` before the opening); else open.
    pub fn status(&self, id: &ObjectId, now_ms: u64) -> Option<Status> {
        let t = self.tally(id)?;
        let w = self.voting_window(id)?;
        Some(if t.adopted() {
            Status::Adopted
        } else if w.withdrawn_at_ms.is_some() {
            Status::Withdrawn
        } else if w.closes_at_ms.is_some_and(|c| now_ms > c) {
            Status::Closed
        } else if w.opens_at_ms.is_none_or(|o| now_ms < o) {
            Status::Draft
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
        let window = window_of(&self.held, roster, id, p);
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
                let c = contribution(&window, &records);
                Some(TrustStance {
                    trust: *trust,
                    name: member.name.clone(),
                    stance: c.stance,
                    equivocated: c.equivocated,
                    records: records.into_iter().cloned().collect(),
                })
            })
            .collect();
        Some(ProposalState { id: *id, proposal: p.clone(), tally, stances, window })
    }

    /// Adopted proposals (positions, governance proposals included), sorted
    /// by (created_at, id).
    pub fn positions(&self) -> Vec<ObjectId> {
        self.proposals().into_iter().map(|(id, _)| id).filter(|id| self.is_adopted(id)).collect()
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
    pub(super) fn is_known_key(&self, trust: &PublicKey, key: &PublicKey) -> bool {
        let named = self.held.named_keys.get(trust);
        let founder = self.coalition.current_roster().contains(trust);
        if !founder && !named.is_some_and(|n| n.contains(trust)) {
            return false;
        }
        key == trust || self.known_keys(trust).contains(key)
    }

    /// True when `key` may sign an object of a reserved kind (PROTOCOL.md
    /// 3.4): it is a known key of some trust ([`Ledger::known_keys`]: a
    /// founder's or admitted trust's id, a replacement key, a key rotated
    /// to), or the delegate of a held delegation, whatever its scope,
    /// period or revocations. Like known keys, this only grows with the
    /// set of objects held.
    pub fn is_coalition_key(&self, key: &PublicKey) -> bool {
        let founder = |t: &PublicKey| self.coalition.current_roster().contains(t);
        if founder(key) || self.held.delegates.contains(key) {
            return true;
        }
        // A trust id or replacement key named by a held governance proposal
        // of a trust that is a founder or named by a held admission.
        let named = self
            .held
            .named_keys
            .iter()
            .any(|(trust, keys)| keys.contains(key) && (founder(trust) || keys.contains(trust)));
        named
            || self
                .held
                .rotations
                .iter()
                .any(|((trust, _), r)| r.values().any(|r| r.new_key == *key) && self.is_known_key(trust, key))
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
}
