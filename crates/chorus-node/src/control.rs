//! The control interface: how the `chorus` command talks to its local node.
//!
//! ## Transport and access
//! A Unix stream socket at `<data dir>/control.sock`. The data directory is
//! mode 0700 and the socket mode 0600, so only the node's OS user (and root)
//! can connect; on top of that the server checks the peer's credentials
//! (`SO_PEERCRED`) and closes connections from any other uid. Nothing
//! listens on the network, so remote hosts cannot reach it at all.
//!
//! ## Protocol
//! One request per connection: the client writes one JSON object on one
//! line (at most [`MAX_REQUEST_BYTES`]), the server answers with one JSON
//! line and closes. Requests are tagged by `cmd`, e.g. `{"cmd":"status"}`
//! or `{"cmd":"show","id":"3fa2"}`; replies are `{"ok":<result>}` or
//! `{"error":"one line saying what went wrong"}`. Binary values (envelopes,
//! certificates) travel as lower-case hex.
//!
//! ## Layout
//! This file holds the protocol itself: the size limits, [`Request`] and
//! [`Reply`], and how an `id` given as a hex prefix is resolved
//! ([`parse_prefix`], [`resolve_prefix`]). The results the requests answer
//! with ([`StatusInfo`], [`RosterInfo`], [`ProposalDetail`], ...) are in
//! `control/types.rs`, the tallies by attribute ([`BreakdownInfo`],
//! [`BreadthBrief`]) and their lines for people in `control/breadth.rs`, the
//! deliberation on a proposal ([`WindowInfo`], [`CommentInfo`],
//! [`NoticeInfo`], [`RecordTiming`]) in `control/deliberation.rs`, and
//! the [`Client`] with what its failures mean ([`NoAnswer`]) in
//! `control/client.rs`; all are reachable here, as `control::X`. The server
//! that answers on the socket is the daemon's ([`crate::daemon`]).

use std::path::PathBuf;

use chorus_core::ObjectId;

mod breadth;
mod client;
mod deliberation;
mod types;

pub use breadth::{attribute_key, attribute_of, thousands, BreadthBrief, BreadthStatusInfo, BreakdownInfo, ValueInfo};
pub use client::{Client, NoAnswer, Stage};
pub use deliberation::{notice_kind, timing, AmendmentInfo, CommentInfo, NoticeInfo, RecordTiming, WindowInfo};
pub use types::{
    AttributesInfo, BackupResult, BreadthRuleInfo, CertificateResult, CharterSetsInfo, CoalitionInfo, MemberInfo,
    PeerInfo, ProposalDetail, ProposalSummary, RosterInfo, SplitViewInfo, StanceInfo, StatusInfo, SubmitOutcome,
    SubmitResult, TallyInfo,
};

/// Largest request the server reads.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest reply the client reads (a certificate, hex-encoded, fits).
pub const MAX_REPLY_BYTES: usize = 2 * chorus_core::limits::MAX_CERTIFICATE_BYTES + 64 * 1024;

/// A control request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Node, trust, coalition and network summary: [`StatusInfo`].
    Status,
    /// Connected peers: `Vec<PeerInfo>`.
    Peers,
    /// The coalition served: [`CoalitionInfo`].
    Coalition,
    /// Every proposal: `Vec<ProposalSummary>`.
    Proposals,
    /// Adopted proposals: `Vec<ProposalSummary>`.
    Positions,
    /// One proposal in full: [`ProposalDetail`]. `id` may be a unique prefix.
    Show {
        /// Full id or unique hex prefix.
        id: String,
        /// False: leave the comments out (all counted in
        /// `comments_omitted`), for callers that need only the proposal,
        /// its stances and its window. Sent only when false, so the
        /// request reads as before to a node that does not know it.
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        comments: bool,
    },
    /// Ingest a signed object and publish it: [`SubmitResult`].
    Submit {
        /// The exact envelope bytes, hex.
        envelope: String,
    },
    /// A position's certificate: [`CertificateResult`].
    Certificate {
        /// Full id or unique hex prefix of the adopted proposal.
        id: String,
        /// False: the certificate in the form made before dissent was
        /// recorded (no dissent, no seal), which verifiers of earlier
        /// versions accept. Sent only when false, so the request reads as
        /// before to a node that does not know it.
        #[serde(default = "yes", skip_serializing_if = "is_yes")]
        seal: bool,
    },
    /// Write a backup of every object to `path` (absolute): [`BackupResult`].
    Export {
        /// Destination file; must not exist.
        path: PathBuf,
    },
    /// Write the website as static files into `dir` (absolute):
    /// [`crate::web::PublishResult`].
    Publish {
        /// Destination directory: new, empty, or written by an earlier publish.
        dir: PathBuf,
        /// Public address, for feed links.
        base_url: Option<String>,
        /// Proposals and stances as well as positions.
        everything: bool,
    },
    /// Ingest every object of a backup file at `path` (absolute): [`BackupResult`].
    Import {
        /// Source file.
        path: PathBuf,
    },
    /// The newest roster version the node's objects define: [`RosterInfo`].
    Roster,
    /// Ids of the held objects (not the genesis) signed by `key` (hex),
    /// sorted: `Vec<ObjectId>`. What a key rotation keeps by default.
    SignedBy {
        /// The signing key, hex.
        key: String,
    },
    /// One held object's exact envelope bytes, hex: `String` (an
    /// amendment's proposed text, which views carry only as length and
    /// SHA-256).
    Object {
        /// The full id, 64 hex characters.
        id: String,
    },
    /// Dial a peer by multiaddr: `()`.
    Dial {
        /// A libp2p multiaddr, with `/p2p/<peer id>`.
        addr: String,
    },
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// A control reply.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Success, with the request's result.
    Ok(serde_json::Value),
    /// Failure, one line.
    Error(String),
}

/// Parses a full id or a hex prefix (at least 4 characters) into a matcher.
pub fn parse_prefix(s: &str) -> std::result::Result<String, String> {
    let p = s.trim().to_ascii_lowercase();
    if p.len() < 4 || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not an id: give the full 64-character id or a unique prefix of at least 4 hex characters"
        ));
    }
    Ok(p)
}

/// Resolves a prefix among `ids`: exactly one must match.
pub fn resolve_prefix(
    prefix: &str,
    ids: impl IntoIterator<Item = ObjectId>,
    what: &str,
) -> std::result::Result<ObjectId, String> {
    let p = parse_prefix(prefix)?;
    let matches: Vec<ObjectId> = ids.into_iter().filter(|id| id.to_hex().starts_with(&p)).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no {what} has an id starting with {p}; list them with `chorus proposals`")),
        many => Err(format!(
            "{p} is ambiguous: {} {what}s start with it ({}...); give more characters",
            many.len(),
            many.iter().take(3).map(|i| i.short(12)).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_json() {
        let r: Request = serde_json::from_str(r#"{"cmd":"show","id":"3fa2"}"#).unwrap();
        assert_eq!(r, Request::Show { id: "3fa2".into(), comments: true });
        let brief = Request::Show { id: "3fa2".into(), comments: false };
        assert_eq!(serde_json::to_string(&brief).unwrap(), r#"{"cmd":"show","id":"3fa2","comments":false}"#);
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cmd":"show","id":"3fa2"}"#);
        let o: Request = serde_json::from_str(r#"{"cmd":"object","id":"ab"}"#).unwrap();
        assert_eq!(o, Request::Object { id: "ab".into() });
        let c: Request = serde_json::from_str(r#"{"cmd":"certificate","id":"3fa2"}"#).unwrap();
        assert_eq!(c, Request::Certificate { id: "3fa2".into(), seal: true });
        let plain = Request::Certificate { id: "3fa2".into(), seal: false };
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"cmd":"certificate","id":"3fa2","seal":false}"#);
        assert_eq!(serde_json::to_string(&Request::Status).unwrap(), r#"{"cmd":"status"}"#);
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm -rf"}"#).is_err());
    }

    #[test]
    fn prefixes_resolve_like_git() {
        let a = ObjectId([0xab; 32]);
        let b = ObjectId([0xac; 32]);
        assert_eq!(resolve_prefix("abab", [a, b], "proposal"), Ok(a));
        assert!(resolve_prefix("a", [a, b], "proposal").unwrap_err().contains("at least 4"));
        assert!(resolve_prefix("ffff", [a, b], "proposal").unwrap_err().contains("no proposal"));
        let a2 = ObjectId([
            0xab, 0xab, 0xab, 0xab, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        ]);
        assert!(resolve_prefix("abab", [a, a2], "proposal").unwrap_err().contains("ambiguous"));
    }
}
