//! What the held objects say about deliberation on a proposal: its voting
//! window, its comments and amendments, the author's notices, and the
//! revised texts that link to it. Pure reads of the ledger.

use std::collections::BTreeMap;

use super::Ledger;
use crate::coalition::Roster;
use crate::deliberation::{counted_notices, window, CommentNotCounted, CommentRecord, NoticeRecord, VotingWindow};
use crate::governance::{signed_for, Auth};
use crate::id::ObjectId;
use crate::objects::Relation;

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
    /// is counted (shown as its trust's) and, if not, why.
    pub fn comments(&self, proposal: &ObjectId) -> Vec<CommentRecord> {
        let Some(held) = self.held.comments.get(proposal) else { return Vec::new() };
        let roster = match self.held.proposals.get(proposal) {
            None => Err(CommentNotCounted::ProposalNotHeld),
            Some(_) => self.roster_of(proposal).ok_or(CommentNotCounted::RosterUnresolved),
        };
        let mut chains = BTreeMap::new();
        let mut out: Vec<CommentRecord> = held
            .iter()
            .map(|(id, (c, signer))| {
                let not_counted = match roster {
                    Err(why) => Some(why),
                    Ok(roster) if !roster.contains(&c.trust) => Some(CommentNotCounted::NotAMember),
                    Ok(roster) => {
                        let auth = Auth { signer: *signer, delegation: c.delegation };
                        let chain = chains.entry(c.trust).or_insert(None);
                        let authorised = signed_for(&self.held, roster, &c.trust, id, &auth, c.created_at_ms, chain);
                        (!authorised).then_some(CommentNotCounted::NotAuthorised)
                    }
                };
                let counted = not_counted.is_none();
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
                    not_counted,
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

    /// The revisions of `id`: held proposals whose link targets it with
    /// relation amends (a revised text of a draft), sorted by
    /// (created_at_ms, id). A proposal that supersedes `id` replaces it and
    /// is not one of them.
    pub fn revisions(&self, id: &ObjectId) -> Vec<ObjectId> {
        let mut out: Vec<(u64, ObjectId)> = self
            .held
            .revisions
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                let p = self.held.proposals.get(r)?;
                p.link.is_some_and(|l| l.relation == Relation::Amends).then_some((p.created_at_ms, *r))
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Fixture, T0};
    use crate::Keypair;
    use crate::{Action, Envelope, Member};

    const NOW: u64 = T0 + 1_000_000;

    /// The ledger of `objects`, each applied in order.
    fn ledger_of(f: &Fixture, objects: &[&Envelope]) -> Ledger {
        let mut l = Ledger::new(f.coalition.clone());
        for e in objects {
            let v = l.validate(e.bytes(), NOW).unwrap_or_else(|why| panic!("{} refused: {why}", e.id()));
            l.apply(&v);
        }
        l
    }

    fn reasons(l: &Ledger, proposal: &ObjectId) -> Vec<(bool, Option<CommentNotCounted>)> {
        l.comments(proposal).iter().map(|c| (c.counted, c.not_counted)).collect()
    }

    #[test]
    fn a_comment_not_counted_says_why_in_the_order_of_protocol_section_8() {
        let f = Fixture::new(3);
        let p = f.proposal(0, "P", 1, None);
        let word = f.comment(1, p.id(), "A word.", None, 2);
        // The proposal not held.
        assert_eq!(reasons(&ledger_of(&f, &[&word]), &p.id()), [(false, Some(CommentNotCounted::ProposalNotHeld))]);
        assert_eq!(reasons(&ledger_of(&f, &[&p, &word]), &p.id()), [(true, None)]);

        // Held, but its roster version does not resolve: its head, an
        // admission, is held and not adopted. The trust it names signs.
        let x = Keypair::from_seed(&[7; 32]);
        let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
        let admit = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
        let pending = f.proposal_under(&f.keys[0], f.keys[0].public(), "Under X", &[admit.id()], None, 2);
        let on_pending = f.comment(1, pending.id(), "Too soon.", None, 3);
        let l = ledger_of(&f, &[&admit, &pending, &on_pending]);
        assert_eq!(reasons(&l, &pending.id()), [(false, Some(CommentNotCounted::RosterUnresolved))]);

        // X's key is known (the held admission names it), but X is not a
        // member of the genesis roster P is voted under.
        let by_x = f.comment_by(&x, x.public(), p.id(), "Hello from X.", None, None, 4, None);
        let l = ledger_of(&f, &[&p, &admit, &by_x]);
        assert_eq!(reasons(&l, &p.id()), [(false, Some(CommentNotCounted::NotAMember))]);

        // A member's key rotated away from without keeping the comment.
        let rotation = f.rotation(&f.keys[1], f.keys[1].public(), Keypair::from_seed(&[8; 32]).public(), vec![], 5);
        let l = ledger_of(&f, &[&p, &word, &rotation]);
        assert_eq!(reasons(&l, &p.id()), [(false, Some(CommentNotCounted::NotAuthorised))]);
        assert_eq!(
            CommentNotCounted::NotAuthorised.to_string(),
            "it is not signed by a key authorised for its trust when it was signed"
        );
    }

    #[test]
    fn only_a_proposal_that_amends_is_a_revision() {
        use crate::{Kind, ProposalLink};
        let f = Fixture::new(3);
        let draft = f.draft(0, "Draft", 1, None, None);
        let linked = |title: &str, relation: Relation, at: u64| {
            let mut p = f.draft_proposal(0, title, at, None, None);
            p.link = Some(ProposalLink { target: draft.id(), relation });
            Envelope::sign(Kind::Proposal, p.to_body(), &[&f.keys[0]])
        };
        let revised = linked("Revised", Relation::Amends, 3);
        let replacing = linked("Replacing", Relation::Supersedes, 2);
        let l = ledger_of(&f, &[&draft, &replacing, &revised]);
        assert_eq!(l.revisions(&draft.id()), [revised.id()]);
        assert!(l.revisions(&revised.id()).is_empty());
    }
}
