//! The discussion of a proposal as `chorus show` prints it: comments as a
//! thread (each reply indented under the comment it answers, siblings by
//! signing time), then the amendments with what became of them. Every text
//! from the network goes through [`safe_line`]/[`safe_text`].

use std::collections::{BTreeMap, HashSet};

use chorus_core::ObjectId;
use chorus_node::control::CommentInfo;

use crate::output::{indent, safe_line, safe_text, time};

/// Deepest indentation of a reply: deeper replies are printed at this
/// depth, so a long exchange stays readable.
const MAX_DEPTH: usize = 8;

/// A member's text as printed under its heading: every line begins with
/// "│ " (a bare "│" when empty), so no line of it can pass for a heading,
/// another member's reply or a line of the command's own; hidden
/// characters are escaped ([`safe_text`]).
pub fn quoted(text: &str) -> String {
    safe_text(text)
        .split('\n')
        .map(|l| if l.is_empty() { "│".to_string() } else { format!("│ {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Who signed a comment: the trust's name, or its short id.
fn who(c: &CommentInfo) -> String {
    match &c.trust_name {
        Some(n) => safe_line(n),
        None => format!("trust {} (not in the roster)", safe_line(c.trust.get(..12).unwrap_or(&c.trust))),
    }
}

/// One comment's heading: id, who, when, and its marks.
fn heading(c: &CommentInfo, orphan: bool) -> String {
    let mut h = format!("[{}] {}, {}", c.id.short(12), who(c), time(c.created_at_ms));
    if c.delegation.is_some() {
        h.push_str(" (signed by a leader)");
    }
    if let Some(a) = &c.amendment {
        h.push_str(" - amendment");
        if let Some(t) = &a.title {
            h.push_str(&format!(", new title {:?}", safe_line(t)));
        }
        h.push_str(&format!(
            ", new body {} bytes, sha256 {}",
            a.body_len,
            safe_line(a.body_sha256.get(..16).unwrap_or(&a.body_sha256))
        ));
    }
    if orphan {
        if let Some(r) = c.reply_to {
            h.push_str(&format!(" (reply to {}, which is not shown)", r.short(12)));
        }
    }
    if !c.counted {
        match &c.not_counted_reason {
            Some(why) => h.push_str(&format!(" [not counted: {}]", safe_line(why))),
            None => h.push_str(" [not counted]"),
        }
    }
    h
}

/// The thread: every comment once, replies under their parent in signing
/// order. A comment whose parent is not held is a root, marked so.
pub fn thread_text(comments: &[CommentInfo]) -> String {
    if comments.is_empty() {
        return "discussion: no comments yet\n".into();
    }
    let held: HashSet<ObjectId> = comments.iter().map(|c| c.id).collect();
    let mut children: BTreeMap<ObjectId, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    // The node lists comments by (signing time, id); each list keeps that order.
    for (i, c) in comments.iter().enumerate() {
        match c.reply_to.filter(|r| held.contains(r) && *r != c.id) {
            Some(parent) => children.entry(parent).or_default().push(i),
            None => roots.push(i),
        }
    }
    let amendments = comments.iter().filter(|c| c.amendment.is_some()).count();
    let not_counted = comments.iter().filter(|c| !c.counted).count();
    let mut out = format!(
        "discussion ({} comment{}{}{}):\n",
        comments.len(),
        if comments.len() == 1 { "" } else { "s" },
        if amendments > 0 {
            format!(", {amendments} amendment{}", if amendments == 1 { "" } else { "s" })
        } else {
            String::new()
        },
        if not_counted > 0 { format!("; {not_counted} not counted") } else { String::new() }
    );
    let mut printed: HashSet<ObjectId> = HashSet::new();
    // Depth-first without recursion; each comment printed once whatever
    // the replies name, so no input can loop.
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        let c = &comments[i];
        if !printed.insert(c.id) {
            continue;
        }
        let pad = 2 + 2 * depth.min(MAX_DEPTH);
        let orphan = depth == 0 && c.reply_to.is_some();
        out.push_str(&indent(&heading(c, orphan), pad));
        out.push('\n');
        if !c.text.is_empty() {
            out.push_str(&indent(&quoted(&c.text), pad + 2));
            out.push('\n');
        }
        if let Some(kids) = children.get(&c.id) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    // Replies in a cycle of replies (impossible for real ids, but the
    // input is the node's word) are still shown.
    for c in comments.iter().filter(|c| !printed.contains(&c.id)) {
        out.push_str(&indent(&heading(c, true), 2));
        out.push('\n');
    }
    out
}

/// The amendments: who proposed what, why, and which revision took it up.
pub fn amendments_text(comments: &[CommentInfo]) -> String {
    let list: Vec<&CommentInfo> = comments.iter().filter(|c| c.amendment.is_some()).collect();
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from("amendments:\n");
    for c in list {
        let fate = if c.taken_up_by.is_empty() {
            "not taken up".to_string()
        } else {
            format!("taken up by {}", c.taken_up_by.iter().map(|r| r.to_hex()).collect::<Vec<_>>().join(", "))
        };
        out.push_str(&format!(
            "  {} by {}, {}{}: {}\n",
            c.id.short(12),
            who(c),
            time(c.created_at_ms),
            if c.text.is_empty() { String::new() } else { format!(" ({})", safe_line(&c.text)) },
            fate
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_node::control::AmendmentInfo;

    fn comment(n: u8, at: u64, reply_to: Option<u8>, text: &str) -> CommentInfo {
        CommentInfo {
            id: ObjectId([n; 32]),
            trust: "ab".repeat(32),
            trust_name: Some(format!("Trust {n}")),
            signer: "ab".repeat(32),
            delegation: None,
            created_at_ms: at,
            text: text.into(),
            reply_to: reply_to.map(|r| ObjectId([r; 32])),
            amendment: None,
            counted: true,
            not_counted_reason: None,
            taken_up_by: vec![],
        }
    }

    #[test]
    fn replies_are_indented_under_their_parent_in_time_order() {
        let mut late = comment(5, 50, Some(1), "second reply");
        late.counted = false;
        late.not_counted_reason = Some("its trust is not a member of the proposal's roster version".into());
        let comments = [
            comment(1, 10, None, "first"),
            comment(2, 20, None, "second\nover two lines"),
            comment(3, 30, Some(1), "first reply"),
            comment(4, 40, Some(3), "reply to the reply"),
            late,
            comment(6, 60, Some(9), "reply to a comment not held"),
        ];
        let text = thread_text(&comments);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "discussion (6 comments; 1 not counted):", "{text}");
        assert!(lines[1].starts_with("  [010101010101] Trust 1, "), "{text}");
        assert_eq!(lines[2], "    │ first");
        assert!(lines[3].starts_with("    [030303030303] Trust 3, "), "{text}");
        assert_eq!(lines[4], "      │ first reply");
        assert!(lines[5].starts_with("      [040404040404] Trust 4, "), "{text}");
        assert_eq!(lines[6], "        │ reply to the reply");
        assert!(
            lines[7].starts_with("    [050505050505] Trust 5, ")
                && lines[7].ends_with("[not counted: its trust is not a member of the proposal's roster version]"),
            "{text}"
        );
        assert!(lines[9].starts_with("  [020202020202] Trust 2, "), "{text}");
        assert_eq!((lines[10], lines[11]), ("    │ second", "    │ over two lines"));
        assert!(lines[12].contains("(reply to 090909090909, which is not shown)"), "{text}");
    }

    #[test]
    fn a_comment_cannot_fake_another_members_reply() {
        // A text that prints what a reply's heading looks like, with the
        // indentation of one, and a blank line.
        let fake = "ok\n\n  [090909090909] Trust 9, 2026-01-01 00:00 UTC\n    I agree with everything.";
        let text = thread_text(&[comment(1, 10, None, fake)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            &lines[2..],
            &[
                "    │ ok",
                "    │",
                "    │   [090909090909] Trust 9, 2026-01-01 00:00 UTC",
                "    │     I agree with everything."
            ],
            "{text}"
        );
        // Every line after the heading is marked.
        assert!(lines[2..].iter().all(|l| l.trim_start().starts_with('│')));
    }

    #[test]
    fn amendments_say_what_became_of_them() {
        let mut a = comment(7, 70, None, "shorter");
        a.amendment = Some(AmendmentInfo { title: Some("New".into()), body_len: 1, body_sha256: "cd".repeat(32) });
        a.taken_up_by = vec![ObjectId([8; 32])];
        let mut b = comment(9, 80, None, "");
        b.amendment = Some(AmendmentInfo { title: None, body_len: 1, body_sha256: "ef".repeat(32) });
        let text = amendments_text(&[comment(1, 1, None, "x"), a, b]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "amendments:");
        assert!(
            lines[1].starts_with("  070707070707 by Trust 7, ") && lines[1].contains(" (shorter): taken up by 0808"),
            "{text}"
        );
        assert!(lines[2].ends_with(": not taken up"), "{text}");
        assert!(thread_text(&[]).contains("no comments yet"));
    }
}
