//! Deliberation on a proposal (PROTOCOL.md 8): its voting window, derived
//! from the proposal and the author's counted open-voting and withdrawal
//! objects, whether a record falls in it, and the records of comments and
//! notices the ledger shows.
//!
//! The window is a pure function of the set of held objects: an opening is
//! the earliest of the fixed time and every counted open-voting, the end
//! the earliest of the closing time and every counted withdrawal. More
//! open-votings only open it earlier (more stances count), more
//! withdrawals only end it earlier (fewer count).

use std::collections::BTreeMap;

use crate::coalition::Roster;
use crate::governance::{Chain, Held};
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::{Amendment, Proposal};

/// When voting on a held proposal is open. A record (stance) is on time
/// when `opens_at_ms <= created_at_ms <= min(closes_at_ms, withdrawn_at_ms)`
/// ([`VotingWindow::timing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VotingWindow {
    /// When voting opens: `Some(0)` for a proposal open from the start (not
    /// a draft, no fixed opening), `None` while a draft has not opened
    /// (nothing held opens it).
    pub opens_at_ms: Option<u64>,
    /// The counted open-voting object that sets the opening (the lowest by
    /// (created_at_ms, id)), when one opens it earlier than the fixed time
    /// or there is none.
    pub opened_by: Option<ObjectId>,
    /// The proposal's closing time, `None` when it never closes.
    pub closes_at_ms: Option<u64>,
    /// The time of the earliest counted withdrawal, if any.
    pub withdrawn_at_ms: Option<u64>,
    /// That withdrawal (the lowest by (created_at_ms, id)).
    pub withdrawn_by: Option<ObjectId>,
}

/// Where a record's signing time falls in a proposal's voting window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// Before voting opened (or voting has not opened): kept, not counted.
    Early,
    /// Within the window: counts.
    OnTime,
    /// After the proposal closed or was withdrawn: kept, not counted.
    Late,
}

impl VotingWindow {
    /// The window of a proposal made before drafts existed, or published
    /// open with no fixed opening, that closes at `closes_at_ms` and was
    /// not withdrawn.
    pub fn open_from_start(closes_at_ms: Option<u64>) -> Self {
        VotingWindow { opens_at_ms: Some(0), opened_by: None, closes_at_ms, withdrawn_at_ms: None, withdrawn_by: None }
    }

    /// When the vote ends: the earlier of closing and withdrawal (`None`:
    /// never).
    pub fn ends_at_ms(&self) -> Option<u64> {
        match (self.closes_at_ms, self.withdrawn_at_ms) {
            (Some(c), Some(w)) => Some(c.min(w)),
            (c, w) => c.or(w),
        }
    }

    /// Early when voting has not opened or `created_at_ms` is before the
    /// opening; late when it is after the end; on time otherwise (both
    /// bounds inclusive).
    pub fn timing(&self, created_at_ms: u64) -> Timing {
        match self.opens_at_ms {
            None => Timing::Early,
            Some(o) if created_at_ms < o => Timing::Early,
            _ if self.ends_at_ms().is_some_and(|e| created_at_ms > e) => Timing::Late,
            _ => Timing::OnTime,
        }
    }

    /// True for the window every proposal had before deliberation: open
    /// from the start, not withdrawn (the ledger digest leaves it out).
    pub fn is_classic(&self) -> bool {
        self.opens_at_ms == Some(0) && self.withdrawn_at_ms.is_none()
    }
}

/// A comment held on a proposal, as the ledger shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommentRecord {
    /// The comment object's id.
    pub id: ObjectId,
    /// The commenting trust.
    pub trust: PublicKey,
    /// The key that signed it.
    pub signer: PublicKey,
    /// The delegation it was signed under, if any.
    pub delegation: Option<ObjectId>,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// The text.
    pub text: String,
    /// The comment it replies to, if any.
    pub reply_to: Option<ObjectId>,
    /// The proposed text, if it is an amendment.
    pub amendment: Option<Amendment>,
    /// True when it is shown as the member's: the proposal is held, its
    /// roster version resolves, the trust is a member of it and the comment
    /// is authorised for the trust exactly as a stance record would be.
    pub counted: bool,
    /// Why it is not counted (the first reason in PROTOCOL.md 8's order);
    /// `None` exactly when `counted`.
    pub not_counted: Option<CommentNotCounted>,
}

/// Why a comment is not counted as its member's, in the order PROTOCOL.md
/// 8 gives: the first that applies is the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum CommentNotCounted {
    /// The proposal it comments on is not held.
    #[error("the proposal is not held here")]
    ProposalNotHeld,
    /// The proposal's roster version does not resolve under the objects held.
    #[error("the proposal's roster version is not known here")]
    RosterUnresolved,
    /// The commenting trust is not a member of that roster version.
    #[error("its trust is not a member of the proposal's roster version")]
    NotAMember,
    /// It is not authorised for its trust as a stance record would be.
    #[error("it is not signed by a key authorised for its trust when it was signed")]
    NotAuthorised,
}

/// Which notice an author gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// An open-voting object (kind 13).
    OpenVoting,
    /// A withdrawal (kind 14).
    Withdrawal,
}

/// An open-voting or withdrawal object held for a proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NoticeRecord {
    /// The object's id.
    pub id: ObjectId,
    /// Which notice.
    pub kind: NoticeKind,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// A withdrawal's reason, if given.
    pub reason: Option<String>,
    /// True when it takes effect: the proposal is held, the object names
    /// its author and is signed by a key authorised for that author under
    /// the proposal's roster version.
    pub counted: bool,
}

/// An open-voting or withdrawal object as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HeldNotice {
    pub kind: NoticeKind,
    pub created_at_ms: u64,
    pub author: PublicKey,
    pub signer: PublicKey,
    pub reason: Option<String>,
}

/// Which held notices of proposal `p` (id `pid`) count under `roster`, the
/// roster of its version (`None` when the version does not resolve: none
/// counts): those naming its author and signed by a key of the author's
/// chain that authorises them, as for the proposal's own signature.
pub(crate) fn counted_notices<'a>(
    held: &'a Held,
    roster: Option<&Roster>,
    pid: &ObjectId,
    p: &Proposal,
) -> BTreeMap<ObjectId, (&'a HeldNotice, bool)> {
    let notices = held.notices.get(pid);
    let root = roster.and_then(|r| r.root_key(&p.author));
    let mut chain = None;
    notices
        .into_iter()
        .flatten()
        .map(|(id, n)| {
            let counted = n.author == p.author
                && root.is_some_and(|root| {
                    chain.get_or_insert_with(|| Chain::build(held, &p.author, root)).authorises(&n.signer, id)
                });
            (*id, (n, counted))
        })
        .collect()
}

/// The voting window of proposal `p` (id `pid`) under `roster`, the roster
/// of its version (see [`counted_notices`]).
pub(crate) fn window(held: &Held, roster: Option<&Roster>, pid: &ObjectId, p: &Proposal) -> VotingWindow {
    let classic = VotingWindow::open_from_start(p.closes_at_ms);
    if held.notices.get(pid).is_none_or(|n| n.is_empty()) {
        if !p.draft && p.voting_opens_at_ms.is_none() {
            return classic;
        }
        return VotingWindow { opens_at_ms: p.voting_opens_at_ms, ..classic };
    }
    let notices = counted_notices(held, roster, pid, p);
    let first = |kind: NoticeKind| {
        notices
            .iter()
            .filter(|(_, (n, counted))| *counted && n.kind == kind)
            .map(|(id, (n, _))| (n.created_at_ms, *id))
            .min()
    };
    let withdrawn = first(NoticeKind::Withdrawal);
    let mut w = VotingWindow {
        withdrawn_at_ms: withdrawn.map(|(at, _)| at),
        withdrawn_by: withdrawn.map(|(_, id)| id),
        ..classic
    };
    if p.draft || p.voting_opens_at_ms.is_some() {
        let opened = first(NoticeKind::OpenVoting);
        match (p.voting_opens_at_ms, opened) {
            (Some(fixed), Some((at, id))) if at < fixed => (w.opens_at_ms, w.opened_by) = (Some(at), Some(id)),
            (Some(fixed), _) => w.opens_at_ms = Some(fixed),
            (None, Some((at, id))) => (w.opens_at_ms, w.opened_by) = (Some(at), Some(id)),
            (None, None) => w.opens_at_ms = None,
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_bounds_are_inclusive() {
        let w = VotingWindow { opens_at_ms: Some(10), closes_at_ms: Some(20), ..VotingWindow::open_from_start(None) };
        let t: Vec<Timing> = [9, 10, 20, 21].map(|t| w.timing(t)).to_vec();
        assert_eq!(t, [Timing::Early, Timing::OnTime, Timing::OnTime, Timing::Late]);
        let w = VotingWindow { withdrawn_at_ms: Some(15), ..w };
        assert_eq!((w.timing(15), w.timing(16), w.ends_at_ms()), (Timing::OnTime, Timing::Late, Some(15)));
        let draft = VotingWindow { opens_at_ms: None, ..VotingWindow::open_from_start(None) };
        assert_eq!(draft.timing(u64::MAX), Timing::Early);
        let classic = VotingWindow::open_from_start(None);
        assert!(classic.is_classic());
        assert_eq!((classic.timing(1), classic.timing(u64::MAX)), (Timing::OnTime, Timing::OnTime));
    }
}
