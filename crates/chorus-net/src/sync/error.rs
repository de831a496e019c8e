//! [`SyncError`]: why a sync frame or session failed, and whether the peer is
//! to blame.

use chorus_core::{ObjectId, Rejection};

/// Why a sync frame or session failed. Every variant names what was wrong;
/// [`SyncError::is_peer_fault`] says whether the peer caused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// A frame over its size bound (checked before decoding).
    #[error("sync {what} is {size} bytes, over the limit of {limit} bytes: the peer must send smaller frames")]
    FrameTooLarge {
        /// Which frame.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not a decodable frame of the expected message, or a message missing
    /// a part it must have.
    #[error("malformed sync {what}: {detail}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A request with more queries than the protocol allows.
    #[error("sync request carries {count} queries, over the limit of {limit}")]
    TooManyQueries {
        /// Queries carried.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// A bound whose id prefix is longer than an id.
    #[error("sync bound has an id prefix of {len} bytes; at most 32 are allowed")]
    BadBound {
        /// Length of the prefix.
        len: usize,
    },
    /// A query whose lower bound is not below its upper bound.
    #[error("sync query {index} names an empty range (lower bound not below upper bound)")]
    EmptyRange {
        /// Position of the query in the request.
        index: usize,
    },
    /// A fingerprint of the wrong length.
    #[error("sync fingerprint is {len} bytes; fingerprints are 16 bytes")]
    BadFingerprint {
        /// Its length.
        len: usize,
    },
    /// An ids query whose ids are not whole 32-byte ids, or none.
    #[error("ids query carries {len} bytes of ids; ids are 32 bytes each, at least one")]
    BadIdList {
        /// Bytes carried.
        len: usize,
    },
    /// An ids query with more ids than the protocol allows.
    #[error("ids query carries {count} ids, over the limit of {limit}")]
    TooManyIds {
        /// Ids carried.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// An ids query that names one id twice.
    #[error("ids query names object {0} twice")]
    DuplicateId(ObjectId),
    /// A response answering no query, or more queries than were asked.
    #[error("sync response answers {replies} queries, but the request asked {queries}: a response answers at least the first and at most all")]
    ReplyCount {
        /// Replies carried.
        replies: usize,
        /// Queries asked.
        queries: usize,
    },
    /// A reply of a kind that does not answer its query.
    #[error("sync reply `{reply}` does not answer a {query} query")]
    WrongReply {
        /// The query's kind.
        query: &'static str,
        /// The reply's kind.
        reply: &'static str,
    },
    /// A split that breaks the protocol's shape.
    #[error("bad split: {0}")]
    BadSplit(&'static str),
    /// A continuation that would not make progress.
    #[error("bad continuation: {0}")]
    BadContinuation(&'static str),
    /// A `lacking` bitmap that does not match the query's ids.
    #[error("`lacking` is {len} bytes for {ids} ids: it must be one bit per id, no bit past the last id")]
    BadLacking {
        /// Its length.
        len: usize,
        /// Ids of the query.
        ids: usize,
    },
    /// An object the client said it holds (in its ids query).
    #[error("the peer sent object {0}, which the request listed as held")]
    Unrequested(ObjectId),
    /// An object sent twice in one session.
    #[error("the peer sent object {0} twice")]
    DuplicateObject(ObjectId),
    /// An envelope that is not a valid envelope.
    #[error("sync response carries an invalid envelope: {0}")]
    BadEnvelope(Rejection),
    /// The peer kept the session going past the round-trip bound.
    #[error("catch-up did not finish within {limit} round trips: the peer is not converging or the backlog is huge; the next session continues")]
    TooManyRoundTrips {
        /// The bound.
        limit: u32,
    },
    /// The peer's splits queued more ranges than a client keeps.
    #[error("the peer's splits queued more than {limit} ranges: it is not converging")]
    TooManyRanges {
        /// The bound.
        limit: usize,
    },
    /// Local misuse: a call out of the session's order (no peer fault).
    #[error("sync session misuse: {0}")]
    OutOfTurn(&'static str),
    /// Local misconfiguration: a limit out of range (no peer fault).
    #[error("sync limit {name} = {value} is out of range: {reason}")]
    BadLimit {
        /// The limit's field name.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The accepted range.
        reason: &'static str,
    },
    /// A failure on our own side (no peer fault): a store or task failure
    /// reported by the caller, or a bug.
    #[error("sync failed locally: {0}")]
    Local(String),
    /// The responder's head failed its checks (PROTOCOL.md 13).
    #[error("bad sync head: {0}")]
    BadHead(super::head::HeadError),
}

impl SyncError {
    /// True when the peer's frame or behaviour caused the error: the caller
    /// should penalise or disconnect the peer. False for local misuse,
    /// misconfiguration or failures.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, SyncError::OutOfTurn(_) | SyncError::BadLimit { .. } | SyncError::Local(_))
    }
}
