//! Deliberation on a proposal's page: its voting window (draft, opening,
//! withdrawal), the discussion as a thread, the amendments proposed to it
//! and its revisions.
//!
//! Everything here is read from the ledger ([`chorus_core::Ledger::voting_window`],
//! [`chorus_core::Ledger::comments`], [`chorus_core::Ledger::notices`],
//! [`chorus_core::Ledger::revisions`]) and shown only on the page of a
//! proposal the site publishes, so a comment, an amendment or a notice is
//! published exactly where its proposal is. Comment texts and amendment
//! bodies go through the Markdown renderer (inert output) after their
//! explicit bidirectional controls are made visible ([`visible_bidi`]);
//! every other value is escaped by maud. No clock: the window is told as
//! signed times ("voting opens at …"), never as "open now".

use std::collections::{BTreeMap, BTreeSet};

use chorus_core::{CommentRecord, NoticeKind, ObjectId, Proposal, PublicKey, Roster, VotingWindow};
use maud::{html, Markup, PreEscaped};
use sha2::{Digest, Sha256};

use crate::pages::{proposal_href, short, time, trust_name, Depth};
use crate::{markdown, Site};

/// Levels of replies shown nested under a top-level comment; replies
/// deeper than this are shown at this depth, each saying which comment it
/// replies to, so a long chain of replies stays readable and the page's
/// nesting bounded.
pub(crate) const MAX_THREAD_DEPTH: usize = 6;

/// Most bytes of proposed texts (amendment bodies) one page renders; the
/// others are given by length and SHA-256.
pub(crate) const MAX_AMENDMENT_BYTES_SHOWN: usize = 1024 * 1024;

/// Makes the explicit bidirectional formatting characters (embeddings,
/// overrides, isolates and marks, U+061C, U+200E, U+200F, U+202A to U+202E,
/// U+2066 to U+2069) visible as `[U+202E]`, so that a member's text cannot
/// reorder how the text around it reads. Everything else is unchanged.
pub(crate) fn visible_bidi(s: &str) -> std::borrow::Cow<'_, str> {
    let bidi =
        |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bidi) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if bidi(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// A member's Markdown text, rendered inert, bidi controls made visible.
pub(crate) fn member_text(s: &str) -> Markup {
    html! { div.member-text dir="auto" { (PreEscaped(markdown::render(&visible_bidi(s)))) } }
}

/// True when the proposal takes part in deliberation: a draft, a fixed
/// opening time, or any open-voting or withdrawal held for it. Other
/// proposals' pages read as they did before drafts existed.
pub(crate) fn uses_window(p: &Proposal, window: &VotingWindow) -> bool {
    p.draft || p.voting_opens_at_ms.is_some() || window.withdrawn_at_ms.is_some() || window.opened_by.is_some()
}

/// The reason a counted withdrawal gave, if any.
fn withdrawal_reason(site: &Site, id: &ObjectId, window: &VotingWindow) -> Option<String> {
    let by = window.withdrawn_by?;
    site.ledger().notices(id).into_iter().find(|n| n.id == by).and_then(|n| n.reason).filter(|r| !r.is_empty())
}

/// The status of a proposal that is not adopted, when deliberation sets
/// it: "Withdrawn by its author at T", "Draft: voting has not opened" (a
/// draft no open-voting opened), "Voting opens at T" (a fixed opening,
/// "Published as a draft; voting opens at T" for a draft). The site has no
/// clock, so a fixed opening is told as a time, never as "draft" or
/// "open". `None` otherwise (the page says "not adopted" as before).
pub(crate) fn status(p: &Proposal, window: &VotingWindow) -> Option<Markup> {
    if let Some(w) = window.withdrawn_at_ms {
        return Some(html! { "Withdrawn by its author at " (time(w)) });
    }
    match (window.opens_at_ms, window.opened_by) {
        (None, _) => Some(html! { "Draft: voting has not opened" }),
        (Some(o), None) if o > 0 && p.draft => Some(html! { "Published as a draft; voting opens at " (time(o)) }),
        (Some(o), None) if o > 0 => Some(html! { "Voting opens at " (time(o)) }),
        _ => None,
    }
}

/// The label of a proposal that is not adopted in plain text, for
/// feeds: "Withdrawn", "Draft" (a draft that has not opened and opens
/// only when its author opens it: true whatever the time) or `None`.
/// A fixed opening is not a status here (the feed has no clock): see
/// [`fixed_opening`].
pub(crate) fn status_word(window: &VotingWindow) -> Option<&'static str> {
    if window.withdrawn_at_ms.is_some() {
        Some("Withdrawn")
    } else if window.opens_at_ms.is_none() {
        Some("Draft")
    } else {
        None
    }
}

/// The fixed opening time of a proposal not withdrawn whose voting no
/// open-voting opened, if it has one: feeds say "Voting opens at T".
pub(crate) fn fixed_opening(window: &VotingWindow) -> Option<u64> {
    match (window.withdrawn_at_ms, window.opens_at_ms, window.opened_by) {
        (None, Some(o), None) if o > 0 => Some(o),
        _ => None,
    }
}

/// The "Voting" and "Withdrawn" facts of a proposal's page.
pub(crate) fn window_facts(site: &Site, id: &ObjectId, p: &Proposal, window: &VotingWindow) -> Markup {
    let reason = withdrawal_reason(site, id, window);
    html! {
        dt { "Voting" }
        dd.window {
            @match (window.opens_at_ms, window.opened_by) {
                (None, _) => {
                    "Not open: the proposal is a draft, open for discussion and amendment. "
                    "Voting opens when its author opens it; stances signed before then do not count."
                }
                (Some(0), _) => { "Open from the start." }
                (Some(o), Some(_)) => {
                    "Opened by its author at " (time(o))
                    @if p.draft { " (it was published as a draft)" }
                    "; stances signed earlier do not count."
                }
                (Some(o), None) => {
                    "Opens at " (time(o))
                    @if p.draft { " (published as a draft; its author may open it earlier)" }
                    "; stances signed earlier do not count."
                }
            }
        }
        @if let Some(w) = window.withdrawn_at_ms {
            dt { "Withdrawn" }
            dd.withdrawn {
                "By its author at " (time(w)) "; stances signed later do not count."
                @if let Some(r) = &reason {
                    " Reason:"
                    (member_text(r))
                }
            }
        }
    }
}

/// The "Revised by" fact: later proposals that link to this one as the
/// text they revise, where the site publishes them.
pub(crate) fn revised_by(site: &Site, id: &ObjectId) -> Markup {
    let ledger = site.ledger();
    let revisions: Vec<ObjectId> = ledger.revisions(id).into_iter().filter(|r| site.published(r)).collect();
    html! {
        @if !revisions.is_empty() {
            dt { "Revised by" }
            dd {
                ul.revisions {
                    @for r in &revisions {
                        @if let Some(rp) = ledger.proposal(r) {
                            li {
                                a href=(proposal_href(Depth::Sub, r)) { (rp.title) }
                                " (" (time(rp.created_at_ms)) ")"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One comment's place in the thread.
struct Node<'c> {
    comment: &'c CommentRecord,
    /// Replies, in the order of `comments` (by time, then id).
    replies: Vec<usize>,
    /// Shown at the top level although it replies to a comment: that
    /// comment is not shown here.
    orphan: bool,
}

/// The comments as a forest: every reply under the comment it replies to
/// when that comment is shown, by (time, id) at every level; a reply to a
/// comment not shown (not held, or left out by the bound of
/// [`crate::discussion`]) is a root, marked.
fn thread(comments: &[CommentRecord]) -> (Vec<Node<'_>>, Vec<usize>) {
    let index: BTreeMap<ObjectId, usize> = comments.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut nodes: Vec<Node> = comments.iter().map(|c| Node { comment: c, replies: vec![], orphan: false }).collect();
    let mut roots = vec![];
    for (i, c) in comments.iter().enumerate() {
        match c.reply_to.and_then(|r| index.get(&r).copied()) {
            Some(parent) if parent != i => nodes[parent].replies.push(i),
            Some(_) => roots.push(i),
            None => {
                nodes[i].orphan = c.reply_to.is_some();
                roots.push(i);
            }
        }
    }
    // A cycle of replies cannot be signed (an id is the hash of a body that
    // names its parent's id), but a comment left unreachable would vanish:
    // any comment not reached from a root becomes one.
    let mut reached = BTreeSet::new();
    let mut stack: Vec<usize> = roots.clone();
    while let Some(i) = stack.pop() {
        if reached.insert(i) {
            stack.extend(nodes[i].replies.iter().copied());
        }
    }
    for i in 0..nodes.len() {
        if !reached.contains(&i) {
            roots.push(i);
            let mut stack = vec![i];
            while let Some(j) = stack.pop() {
                if reached.insert(j) {
                    stack.extend(nodes[j].replies.iter().copied());
                }
            }
        }
    }
    roots.sort_unstable();
    (nodes, roots)
}

fn comment_anchor(id: &ObjectId) -> String {
    format!("comment-{id}")
}

fn amendment_anchor(id: &ObjectId) -> String {
    format!("amendment-{id}")
}

struct Thread<'a, 'c> {
    site: &'a Site<'a>,
    roster: Option<&'a Roster>,
    nodes: &'a [Node<'c>],
}

impl Thread<'_, '_> {
    fn name(&self, trust: &PublicKey) -> String {
        trust_name(self.site, self.roster, trust).unwrap_or_else(|| "a trust not in the roster".into())
    }

    /// The comment `i` and, below it, its replies; deeper than
    /// [`MAX_THREAD_DEPTH`] the replies follow as a flat list, each
    /// naming the comment it replies to.
    fn item(&self, i: usize, depth: usize) -> Markup {
        let node = &self.nodes[i];
        let c = node.comment;
        // Flattened below the depth limit: every descendant, in (time, id)
        // order, after this comment.
        let flat: Vec<usize> = if depth + 1 >= MAX_THREAD_DEPTH {
            let mut all = vec![];
            let mut stack: Vec<usize> = node.replies.iter().rev().copied().collect();
            while let Some(j) = stack.pop() {
                all.push(j);
                stack.extend(self.nodes[j].replies.iter().rev().copied());
            }
            all.sort_unstable();
            all
        } else {
            vec![]
        };
        html! {
            li {
                article.comment id=(comment_anchor(&c.id)) {
                    (self.header(c, node.orphan, false))
                    @if !c.text.is_empty() { (member_text(&c.text)) }
                    @if c.amendment.is_some() {
                        p.note {
                            "Proposes a new text: see "
                            a href={ "#" (amendment_anchor(&c.id)) } { "the amendment" } "."
                        }
                    }
                }
                @if !flat.is_empty() {
                    ol.thread {
                        @for j in &flat { (self.flat_item(*j)) }
                    }
                } @else if !node.replies.is_empty() {
                    ol.thread {
                        @for j in &node.replies { (self.item(*j, depth + 1)) }
                    }
                }
            }
        }
    }

    fn flat_item(&self, j: usize) -> Markup {
        let c = self.nodes[j].comment;
        html! {
            li {
                article.comment id=(comment_anchor(&c.id)) {
                    (self.header(c, false, true))
                    @if !c.text.is_empty() { (member_text(&c.text)) }
                    @if c.amendment.is_some() {
                        p.note {
                            "Proposes a new text: see "
                            a href={ "#" (amendment_anchor(&c.id)) } { "the amendment" } "."
                        }
                    }
                }
            }
        }
    }

    fn header(&self, c: &CommentRecord, orphan: bool, name_parent: bool) -> Markup {
        html! {
            p.comment-head {
                strong { (self.name(&c.trust)) } " " span.trust { (short(&c.trust)) }
                " · " (time(c.created_at_ms))
                @if c.delegation.is_some() { " · signed by a delegate" }
                @if !c.counted {
                    " · " strong.flag { "not counted" }
                    @if let Some(why) = c.not_counted {
                        span.reason { " (" (why) ")" }
                    }
                }
                @if let Some(parent) = c.reply_to {
                    @if orphan {
                        " · replies to comment " code.id { (short_id(&parent)) } ", not shown here"
                    } @else if name_parent {
                        " · replies to " a href={ "#" (comment_anchor(&parent)) } { "comment " (short_id(&parent)) }
                    }
                }
            }
        }
    }
}

fn short_id(id: &ObjectId) -> String {
    id.to_hex()[..16].to_string()
}

/// The "Discussion" section: every comment held on the proposal as a
/// thread (replies under their parent, by time), each with its member's
/// name, its time and, when it does not count as its member's, "not
/// counted" and why. Left out when there is no comment.
pub(crate) fn discussion(site: &Site, roster: Option<&Roster>, comments: &[CommentRecord], omitted: usize) -> Markup {
    if comments.is_empty() && omitted == 0 {
        return html! {};
    }
    let (nodes, roots) = thread(comments);
    let t = Thread { site, roster, nodes: &nodes };
    let counted = comments.iter().filter(|c| c.counted).count();
    html! {
        section.discussion aria-labelledby="discussion" {
            h2 #discussion { "Discussion (" (comments.len() + omitted) ")" }
            p.note {
                "Comments signed by members, replies under the comment they answer, oldest first. "
                "A comment never changes whether the proposal is adopted."
                @if counted < comments.len() {
                    " A comment marked \u{201c}not counted\u{201d} is kept and shown, but not as its member's word."
                }
            }
            ol.thread.top {
                @for i in &roots { (t.item(*i, 0)) }
            }
            @if omitted > 0 {
                p.note.omitted {
                    (omitted) " more comment" @if omitted != 1 { "s" } " not shown. "
                    "A page shows at most " (crate::discussion::MAX_COMMENTS_SHOWN) " comments, counted ones first, "
                    "taking turns between members in time order."
                }
            }
        }
    }
}

/// The "Amendments" section: each amendment with its member, time and
/// reason, the title it proposes, its text collapsed, and the revisions
/// that take it up. Left out when there is none.
pub(crate) fn amendments(site: &Site, id: &ObjectId, roster: Option<&Roster>, comments: &[CommentRecord]) -> Markup {
    let list: Vec<&CommentRecord> = comments.iter().filter(|c| c.amendment.is_some()).collect();
    if list.is_empty() {
        return html! {};
    }
    // Bodies are rendered while the budget lasts, in the order the
    // discussion's bound chose them (time order).
    let mut budget = MAX_AMENDMENT_BYTES_SHOWN;
    let shown_bodies: BTreeSet<ObjectId> = list
        .iter()
        .filter_map(|c| {
            let len = c.amendment.as_ref()?.body.len();
            (len <= budget).then(|| {
                budget -= len;
                c.id
            })
        })
        .collect();
    let ledger = site.ledger();
    // Revisions of this proposal, with the amendments each takes up.
    let revisions: Vec<(ObjectId, &Proposal)> = ledger
        .revisions(id)
        .into_iter()
        .filter(|r| site.published(r))
        .filter_map(|r| ledger.proposal(&r).map(|p| (r, p)))
        .collect();
    html! {
        section.amendments aria-labelledby="amendments" {
            h2 #amendments { "Amendments (" (list.len()) ")" }
            ol.amendments {
                @for c in &list {
                    @if let Some(a) = &c.amendment {
                        @let taken: Vec<&(ObjectId, &Proposal)> =
                            revisions.iter().filter(|(_, p)| p.amendments.binary_search(&c.id).is_ok()).collect();
                        // A revision the site does not publish is not
                        // revealed: the amendment reads as not taken up.
                        li {
                            article.amendment id=(amendment_anchor(&c.id)) {
                                p.comment-head {
                                    strong { (trust_name(site, roster, &c.trust).unwrap_or_else(|| "a trust not in the roster".into())) }
                                    " " span.trust { (short(&c.trust)) } " · " (time(c.created_at_ms))
                                    " · " a href={ "#" (comment_anchor(&c.id)) } { "in the discussion" }
                                    @if !c.counted { " · " strong.flag { "not counted" } }
                                }
                                @if !c.text.is_empty() {
                                    p.label { "Reason:" }
                                    (member_text(&c.text))
                                }
                                p {
                                    "Proposed title: "
                                    @match &a.title {
                                        Some(t) => { strong { (visible_bidi(t)) } }
                                        None => { em { "unchanged" } }
                                    }
                                }
                                @if shown_bodies.contains(&c.id) {
                                    details.amendment-text {
                                        summary { "Proposed text (" (a.body.len()) " bytes)" }
                                        div.body { (PreEscaped(markdown::render(&visible_bidi(&a.body)))) }
                                    }
                                } @else {
                                    p.note {
                                        "Proposed text: " (a.body.len()) " bytes, SHA-256 "
                                        code.id { (hex::encode(Sha256::digest(a.body.as_bytes()))) }
                                        "; not shown here (this page shows at most "
                                        (MAX_AMENDMENT_BYTES_SHOWN / 1024) " KiB of proposed texts)."
                                    }
                                }
                                p.taken {
                                    @if taken.is_empty() {
                                        "Not taken up by a revision held here."
                                    } @else {
                                        "Taken up by "
                                        @for (n, (r, p)) in taken.iter().enumerate() {
                                            @if n > 0 { ", " }
                                            a href=(proposal_href(Depth::Sub, r)) { (p.title) }
                                        }
                                        "."
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The "Opened" and "Withdrawn" notices held that did not take effect
/// (signed by someone other than the author's authorised keys), so that
/// a reader sees why they changed nothing. Left out when there is none.
pub(crate) fn ignored_notices(site: &Site, id: &ObjectId) -> Markup {
    let notices = site.ledger().notices(id);
    let selection = crate::discussion::select_notices(&notices);
    let omitted = selection.omitted;
    let ignored: Vec<_> = selection.take(notices).into_iter().filter(|n| !n.counted).collect();
    html! {
        @if !ignored.is_empty() || omitted > 0 {
            section.notices aria-labelledby="notices" {
                h2 #notices { "Notices that did not take effect (" (ignored.len() + omitted) ")" }
                @if omitted > 0 {
                    p.note { (omitted) " more not shown." }
                }
                ul.notices {
                    @for n in &ignored {
                        li {
                            (match n.kind { NoticeKind::OpenVoting => "Opening of the vote", NoticeKind::Withdrawal => "Withdrawal" })
                            " signed at " (time(n.created_at_ms))
                            ": not counted, as it is not signed for the proposal's author by a key authorised for it."
                        }
                    }
                }
            }
        }
    }
}

/// The amendments a revision takes up, each linked where the draft it
/// revises is published (the amendment's place on that draft's page).
pub(crate) fn taken_up(site: &Site, p: &Proposal) -> Markup {
    let target = p.link.map(|l| l.target).filter(|t| site.published(t));
    html! {
        (p.amendments.len()) " amendment" @if p.amendments.len() != 1 { "s" } " of the draft it revises: "
        @for (n, a) in p.amendments.iter().enumerate() {
            @if n > 0 { ", " }
            @match target {
                Some(t) => { a href={ (proposal_href(Depth::Sub, &t)) "#" (amendment_anchor(a)) } { code.id { (short_id(a)) } } }
                None => { code.id { (short_id(a)) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::member_key;

    #[test]
    fn bidi_controls_become_visible_and_other_text_is_unchanged() {
        assert_eq!(visible_bidi("plain \u{05D0} text"), "plain \u{05D0} text");
        assert!(matches!(visible_bidi("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            visible_bidi("a\u{202E}b\u{2066}c\u{2069}\u{200F}\u{061C}"),
            "a[U+202E]b[U+2066]c[U+2069][U+200F][U+061C]"
        );
    }

    fn record(n: u8, reply_to: Option<u8>) -> CommentRecord {
        let trust = member_key(1).public();
        CommentRecord {
            id: ObjectId([n; 32]),
            trust,
            signer: trust,
            delegation: None,
            created_at_ms: u64::from(n) + 1,
            text: format!("comment {n}"),
            reply_to: reply_to.map(|r| ObjectId([r; 32])),
            amendment: None,
            counted: true,
            not_counted: None,
        }
    }

    #[test]
    fn replies_go_under_their_parent_and_replies_to_unknown_comments_are_roots() {
        // 1 and 3 top level, 2 replies to 1, 4 to 2, 5 to a comment not
        // held, 6 to itself (cannot be signed; shown anyway).
        let comments = vec![
            record(1, None),
            record(2, Some(1)),
            record(3, None),
            record(4, Some(2)),
            record(5, Some(99)),
            record(6, Some(6)),
        ];
        let (nodes, roots) = thread(&comments);
        assert_eq!(roots, vec![0, 2, 4, 5]);
        assert_eq!(nodes[0].replies, vec![1]);
        assert_eq!(nodes[1].replies, vec![3]);
        assert!(nodes[4].orphan && !nodes[0].orphan && !nodes[5].orphan);
        // Every comment is shown exactly once.
        let mut seen = vec![];
        let mut stack: Vec<usize> = roots.clone();
        while let Some(i) = stack.pop() {
            seen.push(i);
            stack.extend(nodes[i].replies.iter().copied());
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..comments.len()).collect::<Vec<_>>());
    }
}
