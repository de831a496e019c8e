//! What the held objects say about deliberation on a proposal: its voting
//! window, its comments and amendments, the author's notices, and the
//! revised texts that link to it. Pure reads of the ledger.

use std::collections::BTreeMap;

use super::Ledger;
use crate::coalition::Roster;
use crate::deliberation::{counted_notices, window, CommentRecord, NoticeRecord, VotingWindow};
use crate::governance::{signed_for, Auth};
use crate::id::ObjectId;

impl Ledger {
    /// The voting window of a held proposal (`None` when it is not held).
    /// Open-voting and withdrawal objects count only once the proposal's
    /// roster version resolves.
    pub fn voting_window(&self, id: &ObjectId) -> Option<VotingWindow> {
        let p = self.held.proposals.get(id)?;
        Some(window(&self.held, self.roster_of(id), id, p))
    }

    /// Every comment held on proposal `proposal`, whether or not the
    /// proposal is held, sorted by (created_at_ms, id); each says whether it
    /// is counted (shown as its trust's).
    pub fn comments(&self, proposal: &ObjectId) -> Vec<CommentRecord> {
        let Some(held) = self.held.comments.get(proposal) else { return Vec::new() };
        let roster = self.roster_of(proposal);
        let mut chains = BTreeMap::new();
        let mut out: Vec<CommentRecord> = held
            .iter()
            .map(|(id, (c, signer))| {
                let counted = roster.is_some_and(|roster| {
                    roster.contains(&c.trust) && {
                        let auth = Auth { signer: *signer, delegation: c.delegation };
                        let chain = chains.entry(c.trust).or_insert(None);
                        signed_for(&self.held, roster, &c.trust, id, &auth, c.created_at_ms, chain)
                    }
                });
                CommentRecord {
                    id: *id,
                    trust: c.trust,
                    signer: *signer,
                    delegation: c.delegation,
                    created_at_ms: c.created_at_ms,
                    text: c.text.clone(),
                    reply_to: c.reply_to,
                    amendment: c.amendment.clone(),
                    counted,
                }
            })
            .collect();
        out.sort_by_key(|c| (c.created_at_ms, c.id));
        out
    }

    /// The open-voting and withdrawal objects held for `proposal` (counted
    /// or not; none counts while the proposal is not held), sorted by
    /// (created_at_ms, id).
    pub fn notices(&self, proposal: &ObjectId) -> Vec<NoticeRecord> {
        let Some(held) = self.held.notices.get(proposal) else { return Vec::new() };
        let counted = self
            .held
            .proposals
            .get(proposal)
            .map(|p| counted_notices(&self.held, self.roster_of(proposal), proposal, p))
            .unwrap_or_default();
        let mut out: Vec<NoticeRecord> = held
            .iter()
            .map(|(id, n)| NoticeRecord {
                id: *id,
                kind: n.kind,
                created_at_ms: n.created_at_ms,
                reason: n.reason.clone(),
                counted: counted.get(id).is_some_and(|(_, c)| *c),
            })
            .collect();
        out.sort_by_key(|n| (n.created_at_ms, n.id));
        out
    }

    /// Held proposals that link to `id` (revise or supersede it), sorted by
    /// (created_at_ms, id).
    pub fn revisions(&self, id: &ObjectId) -> Vec<ObjectId> {
        let mut out: Vec<(u64, ObjectId)> = self
            .held
            .revisions
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|r| Some((self.held.proposals.get(r)?.created_at_ms, *r)))
            .collect();
        out.sort();
        out.into_iter().map(|(_, r)| r).collect()
    }

    /// The roster of a held proposal's version, if it resolves.
    fn roster_of(&self, id: &ObjectId) -> Option<&Roster> {
        let p = self.held.proposals.get(id)?;
        Some(&self.derived.version(&self.coalition, &p.roster_heads)?.roster)
    }
}

/// A time as the digest renders it: a tag byte, then 8 bytes big-endian.
pub(super) fn tagged(at: u64) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[1..].copy_from_slice(&at.to_be_bytes());
    out
}
