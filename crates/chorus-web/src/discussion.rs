//! Which comments and notices of a proposal a reader is shown: the one
//! rule the website, the node's control interface and its HTTP API share,
//! so that every view of a proposal carries the same bounded part of its
//! discussion however much is signed on it.
//!
//! Anyone whose key the ledger knows can sign comments, and a member can
//! sign as many as it likes, backdated or long. So a view carries at most
//! [`MAX_COMMENTS_SHOWN`] comments and at most [`MAX_DISCUSSION_BYTES`] of
//! their estimated size ([`comment_cost`]), chosen as follows:
//! - counted comments (a member's word) before comments that are not
//!   counted;
//! - within each of those two groups, round-robin by trust: each round
//!   takes, from every trust that has comments left, its earliest one not
//!   yet taken, in time order; so each trust's share grows only as every
//!   other trust's does, and no member (however many, however early its
//!   comments) can crowd the others out;
//! - a comment that does not fit in what is left of the byte budget is
//!   left out and the next is tried.
//!
//! The chosen comments are returned in time order (the ledger's order);
//! the others are counted, so views can say how many are not shown.
//! Notices that did not take effect (anyone can sign one naming itself as
//! the author) are bounded the same way by [`select_notices`].

use std::collections::{BTreeMap, VecDeque};

use chorus_core::{CommentRecord, NoticeRecord};

/// Most comments one view of a proposal carries.
pub const MAX_COMMENTS_SHOWN: usize = 500;

/// Most bytes (as [`comment_cost`] estimates them) of comments one view of
/// a proposal carries: well under a control reply's and the remote
/// client's limits (16 MiB), with room for the proposal and its stances.
pub const MAX_DISCUSSION_BYTES: usize = 4 * 1024 * 1024;

/// Most notices (open-voting and withdrawal objects) one view carries.
pub const MAX_NOTICES_SHOWN: usize = 100;

/// Bytes a comment is reckoned to take in a view, an upper bound for every
/// view that shows it: a fixed 1 KiB for its ids, keys, times and reason,
/// plus four bytes per byte of its text and amendment title (JSON escapes
/// at most double a member's text, which the rules keep free of control
/// characters other than line breaks and tabs, and an API answer carries
/// it again, in base64, inside the comment's envelope). An amendment's
/// body is not counted: views carry its length and SHA-256, not the body,
/// which is fetched by the amendment's id.
pub fn comment_cost(c: &CommentRecord) -> usize {
    let title = c.amendment.as_ref().and_then(|a| a.title.as_ref()).map_or(0, String::len);
    1024 + 4 * (c.text.len() + title)
}

/// What a view carries of a list: `shown` holds the positions (ascending)
/// of the items it carries; `omitted` counts the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Positions in the input of the items shown, ascending.
    pub shown: Vec<usize>,
    /// Items left out.
    pub omitted: usize,
}

impl Selection {
    /// The items of `all` that are shown, in their order; the others are
    /// dropped without being cloned.
    pub fn take<T>(&self, all: Vec<T>) -> Vec<T> {
        let mut next = self.shown.iter().copied().peekable();
        all.into_iter()
            .enumerate()
            .filter_map(|(i, x)| {
                if next.peek() == Some(&i) {
                    next.next();
                    Some(x)
                } else {
                    None
                }
            })
            .collect()
    }
}

/// The comments a view of a proposal carries, by the rule of this module,
/// with [`MAX_COMMENTS_SHOWN`] and [`MAX_DISCUSSION_BYTES`]. `comments`
/// are in time order, as [`chorus_core::Ledger::comments`] gives them.
pub fn select_comments(comments: &[CommentRecord]) -> Selection {
    select_comments_within(comments, MAX_COMMENTS_SHOWN, MAX_DISCUSSION_BYTES)
}

/// [`select_comments`] with other limits.
pub fn select_comments_within(comments: &[CommentRecord], max_count: usize, max_bytes: usize) -> Selection {
    let mut chosen = vec![false; comments.len()];
    let (mut count, mut bytes) = (0usize, 0usize);
    'groups: for counted in [true, false] {
        let mut queues: BTreeMap<&[u8; 32], VecDeque<usize>> = BTreeMap::new();
        for (i, c) in comments.iter().enumerate().filter(|(_, c)| c.counted == counted) {
            queues.entry(c.trust.as_bytes()).or_default().push_back(i);
        }
        while !queues.is_empty() {
            let mut round: Vec<usize> = queues.values_mut().filter_map(VecDeque::pop_front).collect();
            queues.retain(|_, q| !q.is_empty());
            round.sort_unstable();
            for i in round {
                if count == max_count {
                    break 'groups;
                }
                let cost = comment_cost(&comments[i]);
                if bytes.saturating_add(cost) <= max_bytes {
                    chosen[i] = true;
                    count += 1;
                    bytes += cost;
                }
            }
        }
    }
    let shown: Vec<usize> = chosen.iter().enumerate().filter(|(_, c)| **c).map(|(i, _)| i).collect();
    Selection { omitted: comments.len() - shown.len(), shown }
}

/// The notices a view carries: every counted one first (only the author's
/// keys sign those), then those that did not take effect, oldest first,
/// [`MAX_NOTICES_SHOWN`] in all. `notices` are in time order.
pub fn select_notices(notices: &[NoticeRecord]) -> Selection {
    let counted = notices.iter().enumerate().filter(|(_, n)| n.counted);
    let other = notices.iter().enumerate().filter(|(_, n)| !n.counted);
    let mut shown: Vec<usize> = counted.chain(other).map(|(i, _)| i).take(MAX_NOTICES_SHOWN).collect();
    shown.sort_unstable();
    Selection { omitted: notices.len() - shown.len(), shown }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::member_key;
    use chorus_core::{Amendment, NoticeKind, ObjectId};

    fn comment(n: u16, trust: u8, counted: bool, text: &str) -> CommentRecord {
        let trust = member_key(u32::from(trust)).public();
        let mut id = [0; 32];
        id[..2].copy_from_slice(&n.to_be_bytes());
        CommentRecord {
            id: ObjectId(id),
            trust,
            signer: trust,
            delegation: None,
            created_at_ms: u64::from(n),
            text: text.into(),
            reply_to: None,
            amendment: None,
            counted,
            not_counted: None,
        }
    }

    #[test]
    fn one_member_cannot_crowd_out_the_others() {
        // Trust 1 signs 1,000 early one-character comments; trusts 2 and 3
        // one each, later.
        let mut all: Vec<CommentRecord> = (0..1000).map(|n| comment(n, 1, true, "x")).collect();
        all.push(comment(2000, 2, true, "genuine"));
        all.push(comment(2001, 3, true, "also genuine"));
        let s = select_comments(&all);
        assert_eq!(s.shown.len(), MAX_COMMENTS_SHOWN);
        assert_eq!(s.omitted, all.len() - MAX_COMMENTS_SHOWN);
        assert!(s.shown.contains(&1000) && s.shown.contains(&1001));
        // Trust 1's shown comments are its earliest, and the result is in
        // time order.
        assert_eq!(&s.shown[..3], &[0, 1, 2]);
        assert!(s.shown.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn counted_comments_come_first_and_large_ones_cannot_hide_the_rest() {
        let big = "y".repeat(8192);
        let mut all: Vec<CommentRecord> = (0..10).map(|n| comment(n, 9, false, "not counted")).collect();
        // Backdated large amendments by one member, then small comments.
        for n in 10..200 {
            let mut c = comment(n, 1, true, &big);
            c.amendment = Some(Amendment { body: "b".repeat(65536), title: Some("t".into()) });
            all.push(c);
        }
        all.push(comment(300, 2, true, "small"));
        all.push(comment(301, 3, true, "small too"));
        let s = select_comments_within(&all, 500, 200 * 1024);
        assert!(s.shown.contains(&200) && s.shown.contains(&201), "{s:?}");
        // The budget is spent on counted comments first: the ones not
        // counted get only what is left.
        let big_shown = s.shown.iter().filter(|&&i| all[i].amendment.is_some()).count();
        assert_eq!(big_shown, (200 * 1024 - 2 * comment_cost(&all[200])) / comment_cost(&all[10]));
        let total: usize = s.shown.iter().map(|&i| comment_cost(&all[i])).sum();
        assert!(total <= 200 * 1024);
        assert_eq!(s.omitted + s.shown.len(), all.len());
        // What is shown is taken, in order, without the rest.
        let taken = s.take(all.clone());
        assert_eq!(taken.len(), s.shown.len());
        assert_eq!(taken.last().map(|c| c.id), Some(all[201].id));
    }

    #[test]
    fn notices_that_take_effect_are_always_shown() {
        let notice = |n: u8, counted: bool| NoticeRecord {
            id: ObjectId([n; 32]),
            kind: NoticeKind::Withdrawal,
            created_at_ms: u64::from(n),
            reason: None,
            counted,
        };
        let mut all: Vec<NoticeRecord> = (0..150).map(|n| notice(n, false)).collect();
        all.push(notice(200, true));
        let s = select_notices(&all);
        assert_eq!(s.shown.len(), MAX_NOTICES_SHOWN);
        assert_eq!(s.omitted, 51);
        assert_eq!(s.shown.last(), Some(&150));
        assert_eq!(select_notices(&[]), Selection::default());
    }
}
