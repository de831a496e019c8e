//! The deliberation on a proposal as the control interface (and the HTTP
//! API's `node_view`) carries it: the voting window, the comments and
//! amendments, the author's open-voting and withdrawal notices, and when
//! each stance record was signed relative to the window (PROTOCOL.md 6.7,
//! 6.8 and 8). Every field is the node's view, derived from the objects it
//! holds; an older node's answer lacks them and parses with their defaults.

use chorus_core::ObjectId;

/// The voting window of a proposal: when voting opens and ends, and which
/// objects set it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowInfo {
    /// When voting opens, ms since 1970: `Some(0)` when it was open from
    /// the start (not a draft, no opening time), `None` while it has not
    /// opened (a draft without an opening time that no counted open-voting
    /// object opened).
    #[serde(default)]
    pub opens_at_ms: Option<u64>,
    /// The counted open-voting object that sets the opening, if one does
    /// (rather than the proposal's own `voting_opens_at_ms`).
    #[serde(default)]
    pub opened_by: Option<ObjectId>,
    /// The proposal's closing time; `None` when it never closes.
    #[serde(default)]
    pub closes_at_ms: Option<u64>,
    /// When the author withdrew the proposal (the earliest counted
    /// withdrawal); no stance signed after it counts.
    #[serde(default)]
    pub withdrawn_at_ms: Option<u64>,
    /// That withdrawal.
    #[serde(default)]
    pub withdrawn_by: Option<ObjectId>,
    /// The reason that withdrawal gives, if it gives one.
    #[serde(default)]
    pub withdrawal_reason: Option<String>,
}

/// The text an amendment proposes in place of the proposal's, as views
/// list it: the body itself is not carried (it may be 64 KiB, and a view
/// lists up to 500 comments); it is in the amendment's object, fetched by
/// its id (the HTTP API's `/api/v1/objects/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AmendmentInfo {
    /// The proposed title; `None` keeps the proposal's.
    #[serde(default)]
    pub title: Option<String>,
    /// Length of the proposed body (Markdown), in bytes.
    #[serde(default)]
    pub body_len: usize,
    /// SHA-256 of the proposed body, hex (as `ProposalDetail::body_sha256`).
    pub body_sha256: String,
}

/// One comment on a proposal (kind 10), or an amendment when `amendment`
/// is set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommentInfo {
    /// Comment id.
    pub id: ObjectId,
    /// The commenting trust's id, hex.
    pub trust: String,
    /// That trust's name in the roster, if the node knows it.
    #[serde(default)]
    pub trust_name: Option<String>,
    /// The key that signed it, hex.
    pub signer: String,
    /// The delegation it was signed under, if a delegate signed it.
    #[serde(default)]
    pub delegation: Option<ObjectId>,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// The comment (may span lines; empty only in an amendment).
    pub text: String,
    /// The comment it replies to, if any.
    #[serde(default)]
    pub reply_to: Option<ObjectId>,
    /// The proposed text, when this is an amendment.
    #[serde(default)]
    pub amendment: Option<AmendmentInfo>,
    /// True when it counts as the trust's: the trust is a member of the
    /// proposal's roster version and the signer is authorised for it as
    /// for a stance. Comments that do not count are still shown, marked.
    pub counted: bool,
    /// Why it does not count, when it does not: the first reason in
    /// PROTOCOL.md 8's order ("the proposal is not held here", "the
    /// proposal's roster version is not known here", "its trust is not a
    /// member of the proposal's roster version", "it is not signed by a
    /// key authorised for its trust when it was signed"). Absent from
    /// nodes that did not report it.
    #[serde(default)]
    pub not_counted_reason: Option<String>,
    /// Held revisions of the proposal that take this amendment up (their
    /// `amendments` list it), sorted by (creation time, id).
    #[serde(default)]
    pub taken_up_by: Vec<ObjectId>,
}

/// What an author's notice on a proposal is.
pub mod notice_kind {
    /// An open-voting object (kind 13).
    pub const OPEN_VOTING: &str = "open_voting";
    /// A withdrawal (kind 14).
    pub const WITHDRAWAL: &str = "withdrawal";
}

/// An open-voting or withdrawal object held for a proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoticeInfo {
    /// Object id.
    pub id: ObjectId,
    /// [`notice_kind::OPEN_VOTING`] or [`notice_kind::WITHDRAWAL`].
    pub kind: String,
    /// Signing time, ms since 1970: when it opens voting or ends it.
    pub created_at_ms: u64,
    /// A withdrawal's reason, if it gives one.
    #[serde(default)]
    pub reason: Option<String>,
    /// True when it takes effect: the proposal is held and the object is
    /// signed for its author by a key authorised for the author.
    pub counted: bool,
}

/// When a stance record was signed relative to the voting window.
pub mod timing {
    /// Before voting opened (or voting has not opened): does not count.
    pub const EARLY: &str = "early";
    /// While voting was open: counts.
    pub const ON_TIME: &str = "on_time";
    /// After the proposal closed or was withdrawn: does not count.
    pub const LATE: &str = "late";

    /// The name of a core [`chorus_core::Timing`].
    pub fn name(t: chorus_core::Timing) -> &'static str {
        match t {
            chorus_core::Timing::Early => EARLY,
            chorus_core::Timing::OnTime => ON_TIME,
            chorus_core::Timing::Late => LATE,
        }
    }
}

/// One stance record of a trust with its timing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordTiming {
    /// Endorsement object id.
    pub id: ObjectId,
    /// Its stance: `endorse`, `object` or `abstain`.
    pub stance: String,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// [`timing::EARLY`], [`timing::ON_TIME`] or [`timing::LATE`]; only
    /// on-time records count towards a stance.
    pub timing: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_from_an_older_node_parses_empty() {
        let w: WindowInfo = serde_json::from_str("{}").unwrap();
        assert_eq!(w, WindowInfo::default());
        let c: CommentInfo = serde_json::from_value(serde_json::json!({
            "id": ObjectId([1; 32]), "trust": "ab", "signer": "ab", "created_at_ms": 5, "text": "hi", "counted": true
        }))
        .unwrap();
        assert!(c.taken_up_by.is_empty() && c.amendment.is_none() && c.reply_to.is_none());
        assert_eq!(c.not_counted_reason, None);
    }
}
