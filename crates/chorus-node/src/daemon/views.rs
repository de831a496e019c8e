//! What the control interface and the HTTP API report about the coalition
//! and its proposals, derived from the ledger: the roster, a proposal in a
//! list and in full, with its stances (and when each record was signed
//! relative to the voting window) and its deliberation (window, comments,
//! notices, revisions).

use chorus_core::{Coalition, CommentRecord, Ledger, NoticeKind, NoticeRecord, ObjectId, PublicKey, Roster, Status};
use chorus_web::discussion;
use sha2::{Digest, Sha256};

use super::{now_ms, Inner};
use crate::control::{
    notice_kind, parse_prefix, resolve_prefix, timing, AmendmentInfo, BreakdownInfo, CoalitionInfo, CommentInfo,
    MemberInfo, NoticeInfo, ProposalDetail, ProposalSummary, RecordTiming, RosterInfo, StanceInfo, WindowInfo,
};

/// The coalition as the control interface reports it.
pub fn coalition_info(c: &Coalition) -> CoalitionInfo {
    let rule = c.charter().positions;
    let roster = c.current_roster();
    CoalitionInfo {
        id: c.id(),
        name: c.name().to_string(),
        roster: roster.version(),
        rule: format!("{}/{}", rule.numerator, rule.denominator),
        required: rule.required(roster.len()),
        members: member_infos(roster),
        genesis: hex::encode(c.genesis_envelope().bytes()),
    }
}

/// Every member of `roster` as the control interface reports it.
fn member_infos(roster: &Roster) -> Vec<MemberInfo> {
    roster
        .members()
        .map(|m| MemberInfo {
            name: m.name.clone(),
            key: m.key.to_hex(),
            external_id: m.external_id.clone(),
            root_key: roster.root_key(&m.key).unwrap_or(m.key).to_hex(),
            attributes: (&m.attributes).into(),
        })
        .collect()
}

/// A proposal status as the control interface and the HTTP API name it:
/// `adopted`, `open`, `closed`, `draft`, `withdrawn` (`unknown` for a
/// proposal the ledger does not tally).
pub(crate) fn status_name(s: Option<Status>) -> String {
    match s {
        Some(Status::Adopted) => "adopted",
        Some(Status::Open) => "open",
        Some(Status::Closed) => "closed",
        Some(Status::Draft) => "draft",
        Some(Status::Withdrawn) => "withdrawn",
        None => "unknown",
    }
    .into()
}

/// A trust's display name in the newest roster version, else in the
/// genesis, if either lists it.
fn known_name(l: &Ledger, key: &PublicKey) -> Option<String> {
    let head = l.head_roster().and_then(|(r, _)| r.get(key.as_bytes()).map(|m| m.name.clone()));
    head.or_else(|| l.coalition().current_roster().get(key.as_bytes()).map(|m| m.name.clone()))
}

/// A trust's display name in the newest roster version, else in the
/// genesis, else its short key.
pub fn member_name(l: &Ledger, key: &PublicKey) -> String {
    known_name(l, key).unwrap_or_else(|| key.short(12))
}

/// The newest roster version as the control interface reports it.
pub fn roster_info(l: &Ledger) -> std::result::Result<RosterInfo, String> {
    let (heads, version) = l.head_version();
    let (roster, charter) = l.head_roster().ok_or("the newest roster version cannot be resolved")?;
    let rule = |r: &chorus_core::AdoptionRule| format!("{}/{}", r.numerator, r.denominator);
    Ok(RosterInfo {
        coalition: l.coalition().id(),
        version,
        heads,
        members: member_infos(roster),
        positions: rule(&charter.positions),
        membership: rule(&charter.membership),
        amendments: rule(&charter.amendments),
        required: charter.positions.required(roster.len()),
        sets: charter.into(),
    })
}

/// The tally of proposal `id` by attribute, as views report it.
pub fn breakdown_info(l: &Ledger, id: &ObjectId) -> Option<BreakdownInfo> {
    l.breakdown(id).map(|b| BreakdownInfo::from(&b))
}

pub(super) fn summary(l: &Ledger, id: &ObjectId, now: u64) -> Option<ProposalSummary> {
    let p = l.proposal(id)?;
    Some(ProposalSummary {
        id: *id,
        title: p.title.clone(),
        author: p.author.to_hex(),
        author_name: member_name(l, &p.author),
        created_at_ms: p.created_at_ms,
        closes_at_ms: p.closes_at_ms,
        status: status_name(l.status(id, now)),
        tally: l.tally(id).unwrap_or_default().into(),
        breadth: breakdown_info(l, id).and_then(|b| b.brief()),
    })
}

/// Every trust's stance on a tallied proposal, sorted by trust key, each
/// record with its timing under the proposal's voting window.
pub(crate) fn stance_infos(state: &chorus_core::ProposalState) -> Vec<StanceInfo> {
    let window = &state.window;
    state
        .stances
        .iter()
        .map(|t| {
            let on_time =
                |r: &&chorus_core::StanceRecord| window.timing(r.created_at_ms) == chorus_core::Timing::OnTime;
            // The effective record: the earliest on-time record of the
            // effective stance; without one, the latest record at all.
            let effective =
                t.records.iter().filter(on_time).filter(|r| Some(r.stance) == t.stance).min_by_key(|r| r.created_at_ms);
            let latest = t.records.iter().max_by_key(|r| r.created_at_ms);
            let shown = effective.or(latest);
            StanceInfo {
                trust: t.trust.to_hex(),
                name: t.name.clone(),
                stance: t.stance.map(|s| s.name().to_string()),
                equivocated: t.equivocated,
                comment: shown.and_then(|r| r.comment.clone()),
                created_at_ms: shown.map(|r| r.created_at_ms).unwrap_or(0),
                records: t.records.iter().map(|r| r.id).collect(),
                record_timing: t
                    .records
                    .iter()
                    .map(|r| RecordTiming {
                        id: r.id,
                        stance: r.stance.name().to_string(),
                        created_at_ms: r.created_at_ms,
                        timing: timing::name(window.timing(r.created_at_ms)).to_string(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The deliberation on a proposal as views report it: the fields
/// [`ProposalDetail`] and the API's `node_view` share.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Deliberation {
    pub draft: bool,
    pub voting_opens_at_ms: Option<u64>,
    pub window: Option<WindowInfo>,
    pub comments: Vec<CommentInfo>,
    pub comments_omitted: usize,
    pub notices: Vec<NoticeInfo>,
    pub notices_omitted: usize,
    pub revisions: Vec<ObjectId>,
    pub revises: Option<ObjectId>,
    pub amendments: Vec<ObjectId>,
}

/// The deliberation on proposal `id` (held or not: comments and notices
/// may arrive before their proposal). `shown` says which other proposals
/// the reader may see: revisions and the revisions that take an amendment
/// up are listed only when shown (the HTTP API under `publish =
/// "positions"` shows adopted proposals only). The comments and notices
/// carried are bounded by the rule the website uses too
/// ([`chorus_web::discussion`]: at most 500 comments, counted ones first,
/// taking turns between trusts in time order, within a size budget well
/// under the reply limits); those left out are counted in
/// `comments_omitted` and `notices_omitted`. With `with_comments` false no
/// comment is carried (all are counted as omitted), for callers that need
/// only the proposal and its window.
pub(crate) fn deliberation(
    l: &Ledger,
    id: &ObjectId,
    shown: impl Fn(&ObjectId) -> bool,
    with_comments: bool,
) -> Deliberation {
    let p = l.proposal(id);
    let revisions: Vec<ObjectId> = l.revisions(id).into_iter().filter(|r| shown(r)).collect();
    let notices = l.notices(id);
    let window = l.voting_window(id).map(|w| {
        let withdrawal_reason =
            w.withdrawn_by.and_then(|by| notices.iter().find(|n| n.id == by).and_then(|n| n.reason.clone()));
        WindowInfo {
            opens_at_ms: w.opens_at_ms,
            opened_by: w.opened_by,
            closes_at_ms: w.closes_at_ms,
            withdrawn_at_ms: w.withdrawn_at_ms,
            withdrawn_by: w.withdrawn_by,
            withdrawal_reason,
        }
    });
    let all = l.comments(id);
    let selection = if with_comments {
        discussion::select_comments(&all)
    } else {
        discussion::Selection { shown: Vec::new(), omitted: all.len() }
    };
    // Only the chosen records are turned into views; the rest are dropped.
    let comments = selection.take(all).into_iter().map(|c| comment_info(l, c, &revisions)).collect();
    let notice_selection = discussion::select_notices(&notices);
    Deliberation {
        draft: p.is_some_and(|p| p.draft),
        voting_opens_at_ms: p.and_then(|p| p.voting_opens_at_ms),
        window,
        comments,
        comments_omitted: selection.omitted,
        notices: notice_selection.take(notices).into_iter().map(notice_info).collect(),
        notices_omitted: notice_selection.omitted,
        revisions,
        revises: p.and_then(|p| p.link.as_ref()).map(|link| link.target),
        amendments: p.map(|p| p.amendments.clone()).unwrap_or_default(),
    }
}

/// A comment as views report it; `revisions` are the proposal's revisions
/// the reader may see, of which those listing it take it up.
fn comment_info(l: &Ledger, c: CommentRecord, revisions: &[ObjectId]) -> CommentInfo {
    let taken_up_by = if c.amendment.is_some() {
        revisions
            .iter()
            .filter(|r| l.proposal(r).is_some_and(|p| p.amendments.binary_search(&c.id).is_ok()))
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    CommentInfo {
        id: c.id,
        trust: c.trust.to_hex(),
        trust_name: known_name(l, &c.trust),
        signer: c.signer.to_hex(),
        delegation: c.delegation,
        created_at_ms: c.created_at_ms,
        text: c.text,
        reply_to: c.reply_to,
        amendment: c.amendment.map(|a| AmendmentInfo {
            body_sha256: hex::encode(Sha256::digest(a.body.as_bytes())),
            body_len: a.body.len(),
            title: a.title,
        }),
        counted: c.counted,
        not_counted_reason: c.not_counted.map(|why| why.to_string()),
        taken_up_by,
    }
}

fn notice_info(n: NoticeRecord) -> NoticeInfo {
    NoticeInfo {
        id: n.id,
        kind: match n.kind {
            NoticeKind::OpenVoting => notice_kind::OPEN_VOTING,
            NoticeKind::Withdrawal => notice_kind::WITHDRAWAL,
        }
        .to_string(),
        created_at_ms: n.created_at_ms,
        reason: n.reason,
        counted: n.counted,
    }
}

/// The proposal whose id starts with `prefix`, in full.
/// Without `with_comments`, the comments are left out (counted in
/// `comments_omitted`).
pub(super) fn detail(inner: &Inner, prefix: &str, with_comments: bool) -> std::result::Result<ProposalDetail, String> {
    parse_prefix(prefix)?;
    let id = resolve_prefix(prefix, inner.store.proposals(), "proposal")?;
    let envelope = inner
        .store
        .get(&id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("proposal {id} is listed but its envelope is missing"))?;
    inner.store.with_ledger(|l| {
        let s = summary(l, &id, now_ms()).ok_or_else(|| format!("no proposal {id}"))?;
        let state = l.proposal_state(&id).ok_or_else(|| format!("no proposal {id}"))?;
        let d = deliberation(l, &id, |_| true, with_comments);
        Ok(ProposalDetail {
            summary: s,
            body: state.proposal.body.clone(),
            body_sha256: hex::encode(Sha256::digest(state.proposal.body.as_bytes())),
            stances: stance_infos(&state),
            envelope: hex::encode(&envelope),
            breakdown: breakdown_info(l, &id),
            draft: d.draft,
            voting_opens_at_ms: d.voting_opens_at_ms,
            window: d.window,
            comments: d.comments,
            comments_omitted: d.comments_omitted,
            notices: d.notices,
            notices_omitted: d.notices_omitted,
            revisions: d.revisions,
            revises: d.revises,
            amendments: d.amendments,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::{Fixture, T0};

    fn ledger_of(f: &Fixture, objects: &[&chorus_core::Envelope]) -> Ledger {
        let mut l = Ledger::new(f.coalition.clone());
        for o in objects {
            let v = l.validate(o.bytes(), T0 + 1_000_000).unwrap();
            l.apply(&v);
        }
        l
    }

    #[test]
    fn comments_are_bounded_by_the_shared_rule_and_hidden_revisions_not_listed() {
        let f = Fixture::new(3);
        let d = f.draft(0, "Draft", 1, None, None);
        let c1 = f.comment(1, d.id(), "0123456789", None, 2);
        let c2 = f.comment(2, d.id(), "0123456789", None, 3);
        let c3 = f.comment(1, d.id(), "ok", None, 4);
        let mut revised = f.draft_proposal(0, "Revised", 5, None, None);
        revised.link = Some(chorus_core::ProposalLink { target: d.id(), relation: chorus_core::Relation::Amends });
        let r = chorus_core::Envelope::sign(chorus_core::Kind::Proposal, revised.to_body(), &[&f.keys[0]]);
        let l = ledger_of(&f, &[&d, &c1, &c2, &c3, &r]);
        let all = deliberation(&l, &d.id(), |_| true, true);
        assert_eq!(all.comments.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c1.id(), c2.id(), c3.id()]);
        assert_eq!(all.comments_omitted, 0);
        assert_eq!(all.revisions, vec![r.id()]);
        assert!(all.draft && all.window.is_some_and(|w| w.opens_at_ms.is_none()));
        // The same comments as the website would show.
        assert_eq!(discussion::select_comments(&l.comments(&d.id())).shown, vec![0, 1, 2]);
        // Left out on request, and counted.
        let none = deliberation(&l, &d.id(), |_| true, false);
        assert!(none.comments.is_empty());
        assert_eq!(none.comments_omitted, 3);
        let hidden = deliberation(&l, &d.id(), |p| *p != r.id(), true);
        assert!(hidden.revisions.is_empty());
        assert_eq!(hidden.comments.len(), 3);
        assert_eq!(deliberation(&l, &r.id(), |_| true, true).revises, Some(d.id()));
        // A proposal not held and nothing said on it: no window, no comments.
        let missing = deliberation(&l, &ObjectId([9; 32]), |_| true, true);
        assert!(missing.window.is_none() && missing.comments.is_empty());
    }

    #[test]
    fn a_flood_of_short_comments_stays_well_under_the_reply_limit() {
        let f = Fixture::new(3);
        let p = f.proposal(0, "P", 1, None);
        let mut objects = vec![p.clone()];
        for n in 0..2_000 {
            objects.push(f.comment(1, p.id(), "x", None, 2 + n));
        }
        objects.push(f.comment(2, p.id(), "A genuine comment, late.", None, 10_000));
        let refs: Vec<&chorus_core::Envelope> = objects.iter().collect();
        let l = ledger_of(&f, &refs);
        let d = deliberation(&l, &p.id(), |_| true, true);
        assert_eq!(d.comments.len(), discussion::MAX_COMMENTS_SHOWN);
        assert_eq!(d.comments_omitted, 2_001 - discussion::MAX_COMMENTS_SHOWN);
        assert!(d.comments.iter().any(|c| c.text == "A genuine comment, late."));
        let size = serde_json::to_vec(&d.comments).unwrap().len();
        assert!(size < discussion::MAX_DISCUSSION_BYTES, "{size}");
    }

    #[test]
    fn an_amendment_carries_its_length_and_hash_not_its_body() {
        let f = Fixture::new(3);
        let d = f.draft(0, "Draft", 1, None, None);
        let amendment = chorus_core::Amendment { body: "New text.".into(), title: None };
        let k = &f.keys[1];
        let a = f.comment_by(k, k.public(), d.id(), "Why.", None, Some(amendment), 2, None);
        let l = ledger_of(&f, &[&d, &a]);
        let v = deliberation(&l, &d.id(), |_| true, true);
        let info = v.comments[0].amendment.clone().unwrap();
        assert_eq!(info.body_len, 9);
        assert_eq!(info.body_sha256, hex::encode(Sha256::digest(b"New text.")));
        assert!(!serde_json::to_string(&v.comments).unwrap().contains("New text."));
    }

    #[test]
    fn a_comment_that_does_not_count_carries_the_reason() {
        let f = Fixture::new(3);
        let p = f.proposal(0, "P", 1, None);
        let counted = f.comment(1, p.id(), "Counted.", None, 2);
        let moved = chorus_core::Keypair::from_seed(&[8; 32]).public();
        let rotation = f.rotation(&f.keys[2], f.keys[2].public(), moved, vec![], 3);
        let stale = f.comment(2, p.id(), "Signed with a key rotated away from.", None, 4);
        let l = ledger_of(&f, &[&p, &counted, &rotation, &stale]);
        let d = deliberation(&l, &p.id(), |_| true, true);
        let why: Vec<(bool, Option<&str>)> =
            d.comments.iter().map(|c| (c.counted, c.not_counted_reason.as_deref())).collect();
        assert_eq!(
            why,
            [(true, None), (false, Some("it is not signed by a key authorised for its trust when it was signed"))]
        );
    }
}
