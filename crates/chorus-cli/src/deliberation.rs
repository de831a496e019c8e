//! Deliberation on a proposal (PROTOCOL.md 6.7, 6.8, 8): the comment,
//! open-voting and withdrawal objects built and signed here, where the keys
//! are, and the voting window as people read it.

use anyhow::{anyhow, bail, Result};
use chorus_core::{Amendment, Comment, Envelope, Keypair, Kind, ObjectId, OpenVoting, PublicKey, Withdrawal};
use chorus_node::control::{RosterInfo, WindowInfo};
use chorus_node::daemon::now_ms;

use crate::error::Refusal;
use crate::leader::{member_name, CheckedProposal, Signer};
use crate::output::{safe_line, time};

/// What `endorse` says before any stance is signed (PROTOCOL.md 8, "one
/// story").
pub const STANCE_IS_FINAL: &str = "A signed stance cannot be taken back. It stops counting only if your trust revokes \
the key that signed it, or the author withdraws the proposal before it was signed.";

/// The body of a comment (an amendment when `amendment` is set) on
/// `proposal`, signed now, every field rule checked; nothing is signed.
pub fn comment_body(
    coalition: &chorus_core::Coalition,
    roster: &RosterInfo,
    signer: &Signer,
    proposal: ObjectId,
    text: &str,
    reply_to: Option<ObjectId>,
    amendment: Option<Amendment>,
) -> Result<Vec<u8>> {
    if member_name(roster, &signer.trust).is_none() {
        bail!(
            "your trust ({}) is not a member of coalition {:?} as far as the node knows; only members can comment",
            signer.trust,
            coalition.name()
        );
    }
    let c = Comment {
        coalition: coalition.id(),
        created_at_ms: now_ms(),
        proposal,
        trust: signer.trust,
        delegation: signer.delegation,
        text: text.to_string(),
        reply_to,
        amendment,
    };
    checked(c.to_body(), Comment::from_body, "comment")
}

/// [`comment_body`], signed by the signer's key.
pub fn comment_envelope(
    coalition: &chorus_core::Coalition,
    roster: &RosterInfo,
    signer: &Signer,
    proposal: ObjectId,
    text: &str,
    reply_to: Option<ObjectId>,
    amendment: Option<Amendment>,
) -> Result<Envelope> {
    let body = comment_body(coalition, roster, signer, proposal, text, reply_to, amendment)?;
    Ok(Envelope::sign(Kind::Comment, body, &[&signer.key]))
}

/// `body` once `parse` (the object's own `from_body`) accepts it: every
/// field rule is checked before signing, for a precise one-line message
/// naming `what` was built.
pub(crate) fn checked<T, E: std::fmt::Display>(
    body: Vec<u8>,
    parse: impl Fn(&[u8]) -> std::result::Result<T, E>,
    what: &str,
) -> Result<Vec<u8>> {
    parse(&body).map_err(|e| anyhow!("the {what} is not valid: {e}"))?;
    Ok(body)
}

/// The body of the author's open-voting object for `proposal`, signed
/// now (voting opens at that time); nothing is signed.
pub fn open_voting_body(coalition: &chorus_core::Coalition, author: PublicKey, proposal: ObjectId) -> Result<Vec<u8>> {
    let o = OpenVoting { coalition: coalition.id(), created_at_ms: now_ms(), proposal, author };
    checked(o.to_body(), OpenVoting::from_body, "open-voting object")
}

/// [`open_voting_body`], signed with `key`.
pub fn open_voting_envelope(
    coalition: &chorus_core::Coalition,
    key: &Keypair,
    author: PublicKey,
    proposal: ObjectId,
) -> Result<Envelope> {
    Ok(Envelope::sign(Kind::OpenVoting, open_voting_body(coalition, author, proposal)?, &[key]))
}

/// The body of the author's withdrawal of `proposal`, with its reason,
/// signed now (no stance signed after it counts); nothing is signed.
pub fn withdrawal_body(
    coalition: &chorus_core::Coalition,
    author: PublicKey,
    proposal: ObjectId,
    reason: Option<String>,
) -> Result<Vec<u8>> {
    let w = Withdrawal {
        coalition: coalition.id(),
        created_at_ms: now_ms(),
        proposal,
        author,
        reason: reason.filter(|r| !r.is_empty()),
    };
    checked(w.to_body(), Withdrawal::from_body, "withdrawal")
}

/// [`withdrawal_body`], signed with `key`.
pub fn withdrawal_envelope(
    coalition: &chorus_core::Coalition,
    key: &Keypair,
    author: PublicKey,
    proposal: ObjectId,
    reason: Option<String>,
) -> Result<Envelope> {
    Ok(Envelope::sign(Kind::Withdrawal, withdrawal_body(coalition, author, proposal, reason)?, &[key]))
}

/// Where a proposal's vote stands at a time, from its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voting {
    /// Voting has not opened: `opens_at_ms` when a time is fixed, `None`
    /// when it waits for the author.
    NotOpen {
        /// Published as a draft.
        draft: bool,
        /// The time it opens, if fixed.
        opens_at_ms: Option<u64>,
    },
    /// Voting is open, since this time (0: from the start).
    Open {
        /// When it opened.
        since_ms: u64,
    },
    /// The author withdrew it at this time.
    Withdrawn {
        /// When.
        at_ms: u64,
    },
    /// It closed at this time.
    Closed {
        /// When.
        at_ms: u64,
    },
}

/// Where the vote on proposal `p` stands at `now`, from the node's window
/// and the proposal as signed.
pub fn voting(p: &CheckedProposal, now: u64) -> Voting {
    voting_at(&window(p), p.proposal.draft, now)
}

/// The node's window of `p`, or, from a node that does not give one, the
/// window the proposal's own fields set.
pub fn window(p: &CheckedProposal) -> WindowInfo {
    p.detail.window.clone().unwrap_or_else(|| own_window(&p.proposal))
}

/// The window a proposal's own fields set, before any open-voting or
/// withdrawal object: open from the start unless it is a draft or fixes
/// an opening time.
pub fn own_window(proposal: &chorus_core::Proposal) -> WindowInfo {
    WindowInfo {
        opens_at_ms: if proposal.draft {
            proposal.voting_opens_at_ms
        } else {
            Some(proposal.voting_opens_at_ms.unwrap_or(0))
        },
        closes_at_ms: proposal.closes_at_ms,
        ..WindowInfo::default()
    }
}

/// [`voting`] from a window and whether the proposal is a draft.
pub fn voting_at(w: &WindowInfo, draft: bool, now: u64) -> Voting {
    if let Some(at_ms) = w.withdrawn_at_ms {
        return Voting::Withdrawn { at_ms };
    }
    if let Some(at_ms) = w.closes_at_ms.filter(|c| now > *c) {
        return Voting::Closed { at_ms };
    }
    match w.opens_at_ms {
        Some(since_ms) if since_ms <= now => Voting::Open { since_ms },
        opens_at_ms => Voting::NotOpen { draft, opens_at_ms },
    }
}

/// The refusal of a stance on `p` before voting opened, or after the
/// author withdrew it; `None` when a stance may be signed now.
pub fn stance_refusal(p: &CheckedProposal, now: u64) -> Option<Refusal> {
    stance_refusal_at(p.id, &window(p), p.proposal.draft, now)
}

/// [`stance_refusal`] from a proposal's id, window and draft flag.
pub fn stance_refusal_at(id: ObjectId, w: &WindowInfo, draft: bool, now: u64) -> Option<Refusal> {
    let id = id.short(12);
    match voting_at(w, draft, now) {
        Voting::NotOpen { draft, opens_at_ms } => Some(Refusal::new(
            "voting_not_open",
            format!(
                "voting on {id} has not opened ({}{}); nothing was signed",
                if draft { "it is a draft; " } else { "" },
                opens_at_ms.map_or_else(
                    || "it opens when its author opens it".to_string(),
                    |t| format!("it opens at {}", time(t))
                )
            ),
        )),
        Voting::Withdrawn { at_ms } => Some(Refusal::new(
            "withdrawn",
            format!(
                "proposal {id} was withdrawn by its author at {}: a stance now would not count; nothing was signed",
                time(at_ms)
            ),
        )),
        _ => None,
    }
}

/// The window a node's view gives (`node_view.window` of the HTTP API),
/// or, from a node that does not give one, the window the proposal's own
/// fields set (open from the start unless a draft or a fixed opening).
pub fn window_of_view(node_view: &serde_json::Value, proposal: &chorus_core::Proposal) -> WindowInfo {
    node_view
        .get("window")
        .filter(|w| !w.is_null())
        .and_then(|w| serde_json::from_value(w.clone()).ok())
        .unwrap_or_else(|| WindowInfo {
            opens_at_ms: if proposal.draft {
                proposal.voting_opens_at_ms
            } else {
                Some(proposal.voting_opens_at_ms.unwrap_or(0))
            },
            closes_at_ms: proposal.closes_at_ms,
            ..WindowInfo::default()
        })
}

/// The window of a proposal for `chorus show`: one line saying when voting
/// opens or opened and by what, and one for a withdrawal with its reason
/// (the closing time has its own line).
pub fn window_lines(w: &WindowInfo, draft: bool, now: u64) -> Vec<String> {
    let by =
        |o: &Option<ObjectId>| o.map(|o| format!(" by its author (open-voting {})", o.short(12))).unwrap_or_default();
    let mut lines = Vec::new();
    let voting = match w.opens_at_ms {
        Some(0) => "open since it was proposed".to_string(),
        Some(t) if t <= now => format!("opened {}{}", time(t), by(&w.opened_by)),
        Some(t) => format!(
            "{}opens {}{}",
            if draft { "draft; " } else { "" },
            time(t),
            if draft { " (or earlier, if its author opens it)" } else { "" }
        ),
        None if w.withdrawn_at_ms.is_some() => "never opened".to_string(),
        None => "draft; opens when its author opens it".to_string(),
    };
    lines.push(format!("voting   {voting}"));
    if let Some(at) = w.withdrawn_at_ms {
        lines.push(format!(
            "withdrawn {} by its author{}{}",
            time(at),
            w.withdrawn_by.map(|b| format!(" ({})", b.short(12))).unwrap_or_default(),
            w.withdrawal_reason.as_ref().map(|r| format!(": {}", safe_line(r))).unwrap_or_default()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stance_before_opening_or_after_withdrawal_is_refused_in_words() {
        let id = ObjectId([0xab; 32]);
        let refusal = |w: &WindowInfo, draft: bool| stance_refusal_at(id, w, draft, 5).map(|r| (r.code, r.message));
        assert_eq!(
            refusal(&window(None, None, None), true),
            Some((
                "voting_not_open",
                "voting on abababababab has not opened (it is a draft; it opens when its author opens it); nothing was \
                 signed"
                    .into()
            ))
        );
        let (code, message) = refusal(&window(Some(1_767_225_600_000), None, None), false).unwrap();
        assert_eq!(code, "voting_not_open");
        assert!(
            message.ends_with("has not opened (it opens at 2026-01-01 00:00 UTC); nothing was signed"),
            "{message}"
        );
        let (code, message) = refusal(&window(Some(0), None, Some(4)), false).unwrap();
        assert_eq!(code, "withdrawn");
        assert!(message.starts_with("proposal abababababab was withdrawn by its author at "), "{message}");
        assert_eq!(refusal(&window(Some(0), None, None), false), None);
        // Closed: the node says it is late; nothing to refuse here.
        assert_eq!(refusal(&window(Some(0), Some(4), None), false), None);
    }

    #[test]
    fn a_proposal_without_a_window_from_the_node_has_its_own() {
        let env = chorus_core::testkit::Fixture::new(1).proposal(0, "T", 0, None);
        let mut p = chorus_core::Proposal::from_body(env.body()).unwrap();
        assert_eq!(own_window(&p).opens_at_ms, Some(0));
        p.draft = true;
        assert_eq!(own_window(&p).opens_at_ms, None);
        p.voting_opens_at_ms = Some(9);
        assert_eq!(own_window(&p).opens_at_ms, Some(9));
        assert_eq!(window_of_view(&serde_json::json!({"window": null}), &p).opens_at_ms, Some(9));
        let view = serde_json::json!({"window": {"opens_at_ms": 3}});
        assert_eq!(window_of_view(&view, &p).opens_at_ms, Some(3));
    }

    fn window(opens: Option<u64>, closes: Option<u64>, withdrawn: Option<u64>) -> WindowInfo {
        WindowInfo { opens_at_ms: opens, closes_at_ms: closes, withdrawn_at_ms: withdrawn, ..WindowInfo::default() }
    }

    #[test]
    fn the_vote_stands_by_the_window() {
        assert_eq!(voting_at(&window(Some(0), None, None), false, 5), Voting::Open { since_ms: 0 });
        assert_eq!(voting_at(&window(None, None, None), true, 5), Voting::NotOpen { draft: true, opens_at_ms: None });
        assert_eq!(
            voting_at(&window(Some(9), None, None), true, 5),
            Voting::NotOpen { draft: true, opens_at_ms: Some(9) }
        );
        assert_eq!(voting_at(&window(Some(9), None, None), true, 9), Voting::Open { since_ms: 9 });
        assert_eq!(voting_at(&window(Some(0), Some(4), None), false, 5), Voting::Closed { at_ms: 4 });
        assert_eq!(voting_at(&window(Some(0), Some(4), Some(2)), false, 5), Voting::Withdrawn { at_ms: 2 });
    }
}
