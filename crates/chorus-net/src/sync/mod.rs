//! Catch-up sync: range-based set reconciliation of two nodes' object sets
//! in which ranges the initiator lacks are answered with the objects
//! themselves, never with their ids.
//!
//! Sans-IO: every type here takes frames as bytes and returns frames as
//! bytes; the libp2p request-response protocol `/chorus/sync/2` only carries
//! them. Nothing here touches a socket, a clock or the disk: the responder
//! reads stored envelopes through a closure its caller supplies.
//!
//! This module is the normative description of the sync protocol.
//!
//! ## Items, keys and ranges
//! Each side reconciles its [`SyncSnapshot`]: one item per stored object,
//! keyed `(created_at_ms, object id)` and sorted by that key (timestamp
//! first, then the 32 id bytes in lexicographic order), duplicates removed.
//! Objects are created in time order, so what a node missed is usually a
//! run of neighbouring keys (the newest, or a partition's worth).
//!
//! A *bound* is a point of the same key space, `(timestamp, id prefix)`: the
//! prefix (0 to 32 bytes) is padded with zero bytes to 32, so bound
//! `(t, "")` sorts before every item of time `t`. A *range* `[lower, upper)`
//! holds the items with `lower <= key < upper`; an absent lower bound is the
//! smallest key `(0, "")` and an absent upper bound lies past every item, so
//! the range with neither covers the whole key space. Where a range is cut
//! between two adjacent items `a < b`, the cut is the shortest bound `c` with
//! `a < c <= b`: `(b.timestamp, "")` when the timestamps differ, else `b`'s id
//! up to and including its first byte that differs from `a`'s.
//!
//! ## Fingerprints
//! The fingerprint of a set of items is the first [`FINGERPRINT_BYTES`]
//! bytes of
//! `SHA-256("chorus/v1/sync-fingerprint\n" || count as u64 LE || sum as 32 bytes LE)`,
//! where `sum` adds the ids read as 256-bit little-endian integers, modulo
//! 2^256. Sums of ranges are differences of prefix sums, which
//! [`SyncSnapshot`] precomputes, so any range's fingerprint costs two
//! binary searches and one hash, and a request of many ranges never costs
//! the responder a pass over its set per range. Equal fingerprints are taken
//! to mean equal sets. (An adversary able to place crafted objects on both
//! nodes could in principle build two different sets with one sum; its
//! own objects would then not reconcile, which gains it nothing it could
//! not get by withholding them.)
//!
//! ## A session
//! The initiator runs a [`SyncClient`] over its snapshot: [`SyncClient::initiate`]
//! gives the first request frame, and each response goes to
//! [`SyncClient::handle_response`], which returns the objects the response
//! carried and the next request frame, or [`ClientStep::Done`]. The
//! responder answers each request frame with [`SyncServer::handle_request`]
//! from its snapshot and store; it keeps no state between requests, so a
//! reply depends only on the snapshot, the store and the request.
//!
//! The client keeps a queue of ranges still to settle, starting with the
//! whole key space. For each range it sends one *query*, chosen by the items
//! it holds there:
//! - **pull** when it holds none: the responder sends its objects in the
//!   range;
//! - **ids** when it holds at most [`SyncLimits::max_ids_per_query`] (at most
//!   [`MAX_IDS_PER_QUERY`]): its ids, and the responder sends its objects in
//!   the range that are not among them, plus a bitmap of the ids it lacks;
//! - **fingerprint** otherwise: the fingerprint of its items there.
//!
//! The responder answers a fingerprint query with **equal** when its own
//! fingerprint of the range matches, and otherwise with a **split**: its
//! items of the range cut into at most [`BUCKETS`] buckets of nearly equal
//! size, each with its upper bound (the last bucket ends at the range's
//! upper bound), its fingerprint and its count; a range where it holds
//! nothing is one bucket of count 0. For each bucket the client compares
//! its own items there: a count-0 bucket settles its items there as ones
//! the peer lacks (*have*); an equal fingerprint settles the bucket; any
//! other bucket becomes a range to query next, remembering the responder's
//! count. One case needs the client's help to make progress: when the
//! responder holds a single item in a range where the client holds more
//! than fit an ids query, a split could not shrink the range, so the client
//! cuts the range into up to [`BUCKETS`] parts by its own items and queries
//! each.
//!
//! Pull and ids queries are answered with **items**: the responder's objects
//! in the range that the client lacks, in key order, as exact stored
//! envelope bytes (never re-encoded); for an ids query also `lacking`, bit
//! `i` (least significant bit first) set when the responder lacks the
//! query's id `i`. A response stops adding objects at the responder's soft
//! byte budget ([`SyncLimits::response_bytes`], at most
//! [`RESPONSE_SOFT_BYTES`]), which only a response's first object may
//! exceed. An items reply cut by the budget carries at least one object and
//! says where it stopped: its `continuation` bound, strictly inside the
//! range. The reply then settles `[lower, continuation)` only (bits of
//! `lacking` for the client's ids at or past the continuation mean nothing)
//! and the client queries `[continuation, upper)` next. Nothing is dropped
//! silently by a cut.
//!
//! A response answers a prefix of the request's queries, in order, at least
//! the first: once its budget is spent the responder stops, and the client
//! asks the unanswered queries again in its next request. Work of either
//! side is bounded by the request's size and the budget: a split costs the
//! responder [`BUCKETS`] fingerprints; an items reply reads from the store
//! the objects it carries and at most one more (the one that did not fit),
//! skipping the query's own ids.
//!
//! **Transfer is pull-only.** The client reports `have` ([`SyncClient::have`],
//! [`SyncStats::have`]) but never pushes those objects: the peer receives
//! them when it runs its own catch-up against us, which every node does
//! periodically with its peers. Pull keeps the responder's side a pure
//! function of its snapshot, store and the request, and a node never
//! receives objects it did not ask for outside gossip. The envelopes a
//! client returns are shape-checked ([`Envelope::decode`]) but not validated:
//! the caller passes them to the store's ingest (`Ledger::validate`) like
//! any other input.
//!
//! What it costs: identical sets settle in one round trip of one
//! fingerprint query and an equal reply (a few dozen bytes). A run of `d`
//! missing objects costs about `log16(n)` round trips of splits (a few
//! hundred bytes each) plus one round trip per budget's worth of objects,
//! with a few bytes of framing per object. Differences scattered evenly
//! through the set cost more: ranges shrink until the client holds at most
//! [`MAX_IDS_PER_QUERY`] items in each, and then it sends those ids.
//! `benches/catchup.rs` measures both for 10,000 missing of 100,000 objects:
//! the newest 10,000 cost 4 round trips and about 33 KB beyond the objects;
//! 10,000 spread at random cost 18 round trips and about 2.9 MB, most of it
//! the client's ids (the negentropy-and-fetch design this replaced: 692 KB
//! and 3.1 MB).
//!
//! ## Wire format
//! Frames are protobuf messages of `proto/chorus/v1/sync.proto`. A request
//! frame is a `SyncRequest`: 1 to [`MAX_QUERIES_PER_REQUEST`] `RangeQuery`s,
//! each with its bounds (`SyncBound`s; absent = the ends of the key space)
//! and one of `fingerprint` ([`FINGERPRINT_BYTES`] bytes), `ids` (1 to
//! [`MAX_IDS_PER_QUERY`] distinct 32-byte ids, concatenated, the client's
//! items of the range) or `pull`. A response frame is a `SyncResponse`: one
//! `RangeReply` per answered query, in query order, each `equal` or `split`
//! (for fingerprint queries) or `items` (for ids and pull queries).
//!
//! ## Bounds
//! | bound | value |
//! |---|---|
//! | request frame | [`MAX_SYNC_REQUEST_BYTES`] |
//! | response frame | [`MAX_SYNC_RESPONSE_BYTES`] |
//! | queries per request | [`MAX_QUERIES_PER_REQUEST`] (senders: [`SyncLimits::max_queries_per_request`]) |
//! | ids per query | [`MAX_IDS_PER_QUERY`] (senders: [`SyncLimits::max_ids_per_query`]) |
//! | id prefix of a bound | 32 bytes |
//! | buckets per split | 1 to [`BUCKETS`] |
//! | object bytes per response | [`RESPONSE_SOFT_BYTES`] (senders: [`SyncLimits::response_bytes`]), exceeded only by the response's first object |
//! | round trips per session | [`SyncLimits::max_round_trips`], default [`DEFAULT_MAX_ROUND_TRIPS`] |
//! | ranges a client keeps queued | [`MAX_PENDING_RANGES`] |
//!
//! A frame over a bound, undecodable, of the wrong shape (a reply that does
//! not fit its query, bounds out of order or outside the range, a cut reply
//! without an object, an object twice or one the client said it holds) or a
//! session past its round-trip bound yields a [`SyncError`] for which
//! [`SyncError::is_peer_fault`] is true: the caller penalises or disconnects
//! the peer. No input panics. After any error the client's session is over.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES;
use chorus_core::{Envelope, ObjectId, Rejection, Verdict};
use chorus_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};

/// Buckets a responder cuts a mismatched range into (and the most a split
/// may carry). Sixteen keeps a split reply near a kilobyte while a
/// 100,000-item set is narrowed to a few dozen items in four round trips.
pub const BUCKETS: usize = 16;
/// Most ids one ids query may carry. Below this many items an id list (32
/// bytes each) is cheaper than another round of splits (about 40 bytes per
/// bucket, sixteen buckets per range).
pub const MAX_IDS_PER_QUERY: usize = 32;
/// Most queries one request may carry.
pub const MAX_QUERIES_PER_REQUEST: usize = 256;
/// Largest soft byte budget of a response: once the replies reach it, a
/// responder adds no further object (a response's first object always goes
/// in, whatever its size) and answers no further query.
pub const RESPONSE_SOFT_BYTES: usize = 1024 * 1024;
/// Bytes of a range fingerprint.
pub const FINGERPRINT_BYTES: usize = 16;
/// Default bound on round trips of one session. An honest responder needs
/// about `log16(n) + 2` round trips of splits, one more per
/// [`RESPONSE_SOFT_BYTES`] of objects and one per [`MAX_QUERIES_PER_REQUEST`]
/// ranges queued at once: 1024 covers a gigabyte of missing objects. A
/// longer catch-up continues in the next session, as objects already
/// received were handed to the caller.
pub const DEFAULT_MAX_ROUND_TRIPS: u32 = 1024;
/// Most ranges a client keeps queued. Children are queued first (depth
/// first), so an honest peer keeps the queue near
/// `depth x BUCKETS x MAX_QUERIES_PER_REQUEST`, far below this; only a peer
/// that invents mismatches without end reaches it.
pub const MAX_PENDING_RANGES: usize = 1 << 17;

const FINGERPRINT_DOMAIN: &[u8] = b"chorus/v1/sync-fingerprint\n";

// Wire sizes, from protobuf's encoding: one-byte tags (field numbers below
// 16), varint lengths, at most 10 bytes per varint.
/// A `SyncBound` embedded in a message: tag, length, timestamp (tag and
/// varint), id prefix (tag, length, 32 bytes).
const BOUND_BYTES: usize = 1 + 1 + (1 + 10) + (1 + 1 + 32);
/// A `RangeQuery` embedded in a `SyncRequest`: tag and 2-byte length; two
/// bounds; the largest query, ids (tag, 2-byte length, the ids).
const QUERY_BYTES: usize = 1 + 2 + 2 * BOUND_BYTES + 1 + 2 + MAX_IDS_PER_QUERY * 32;
/// Tags and lengths of a frame around its parts, with room to spare.
const FRAME_OVERHEAD: usize = 64;
/// A `RangeBucket` embedded in a split: tag, length, upper bound,
/// fingerprint (tag, length, bytes), count (tag, varint).
const BUCKET_BYTES: usize = 1 + 1 + BOUND_BYTES + (1 + 1 + FINGERPRINT_BYTES) + (1 + 10);
/// A split `RangeReply` embedded in a response: reply tag and 2-byte length,
/// split tag and 2-byte length, the buckets.
const SPLIT_REPLY_BYTES: usize = 1 + 2 + 1 + 2 + BUCKETS * BUCKET_BYTES;
/// An items `RangeReply` embedded in a response, without its envelopes:
/// reply and items tags with 4-byte lengths (replies stay below 2^28
/// bytes), the `lacking` bitmap, the continuation.
const ITEMS_REPLY_OVERHEAD: usize = (1 + 4) + (1 + 4) + (1 + 1 + MAX_IDS_PER_QUERY / 8) + BOUND_BYTES;
/// Tag and length of one envelope in an items reply (envelopes are below
/// 2^28 bytes).
const ENVELOPE_FRAMING: usize = 1 + 4;

/// Largest request frame, in bytes: [`MAX_QUERIES_PER_REQUEST`] queries of
/// the largest kind (ids) with both bounds at full length.
pub const MAX_SYNC_REQUEST_BYTES: usize = MAX_QUERIES_PER_REQUEST * QUERY_BYTES + FRAME_OVERHEAD;
/// Largest response frame, in bytes: replies filled to
/// [`RESPONSE_SOFT_BYTES`], plus the one reply that may cross it (a split,
/// or an items reply holding the response's first object, at most a genesis
/// envelope).
pub const MAX_SYNC_RESPONSE_BYTES: usize = RESPONSE_SOFT_BYTES
    + max_usize(SPLIT_REPLY_BYTES, ITEMS_REPLY_OVERHEAD + ENVELOPE_FRAMING + MAX_GENESIS_ENVELOPE_BYTES)
    + FRAME_OVERHEAD;

const fn max_usize(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

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
}

impl SyncError {
    /// True when the peer's frame or behaviour caused the error: the caller
    /// should penalise or disconnect the peer. False for local misuse,
    /// misconfiguration or failures.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, SyncError::OutOfTurn(_) | SyncError::BadLimit { .. } | SyncError::Local(_))
    }
}

/// Limits of one side of a sync session. [`SyncLimits::default`] is the
/// protocol's recommended setting; lower values are for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncLimits {
    /// Most queries per request we send; 1 to [`MAX_QUERIES_PER_REQUEST`].
    pub max_queries_per_request: usize,
    /// A range where we hold at least one and at most this many items is
    /// queried with our ids; 1 to [`MAX_IDS_PER_QUERY`].
    pub max_ids_per_query: usize,
    /// Soft byte budget of the responses we serve; 1 to
    /// [`RESPONSE_SOFT_BYTES`].
    pub response_bytes: usize,
    /// Most round trips one session we initiate may take; at least 1.
    pub max_round_trips: u32,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            max_queries_per_request: MAX_QUERIES_PER_REQUEST,
            max_ids_per_query: MAX_IDS_PER_QUERY,
            response_bytes: RESPONSE_SOFT_BYTES,
            max_round_trips: DEFAULT_MAX_ROUND_TRIPS,
        }
    }
}

impl SyncLimits {
    /// Checks every limit is within the protocol's range, so that everything
    /// we send stays within what peers accept.
    pub fn validate(&self) -> Result<(), SyncError> {
        if !(1..=MAX_QUERIES_PER_REQUEST).contains(&self.max_queries_per_request) {
            return Err(SyncError::BadLimit {
                name: "max_queries_per_request",
                value: self.max_queries_per_request as u64,
                reason: "must be 1 to 256",
            });
        }
        if !(1..=MAX_IDS_PER_QUERY).contains(&self.max_ids_per_query) {
            return Err(SyncError::BadLimit {
                name: "max_ids_per_query",
                value: self.max_ids_per_query as u64,
                reason: "must be 1 to 32",
            });
        }
        if !(1..=RESPONSE_SOFT_BYTES).contains(&self.response_bytes) {
            return Err(SyncError::BadLimit {
                name: "response_bytes",
                value: self.response_bytes as u64,
                reason: "must be 1 to 1048576 bytes",
            });
        }
        if self.max_round_trips == 0 {
            return Err(SyncError::BadLimit { name: "max_round_trips", value: 0, reason: "must be at least 1" });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- keys and fingerprints

/// A point of the key space: an item's key, or a bound (its id prefix padded
/// with zero bytes). Ordered by timestamp, then id bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    ts: u64,
    id: [u8; 32],
}

/// The smallest key: the lower end of the key space.
const MIN_KEY: Key = Key { ts: 0, id: [0; 32] };

/// A 256-bit sum of ids, little-endian limbs.
type Sum = [u64; 4];

fn limbs(id: &[u8; 32]) -> Sum {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().zip(id.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    out
}

fn sum_add(a: &Sum, b: &Sum) -> Sum {
    let mut out = [0u64; 4];
    let mut carry = false;
    for k in 0..4 {
        let (s, c1) = a[k].overflowing_add(b[k]);
        let (s, c2) = s.overflowing_add(carry as u64);
        out[k] = s;
        carry = c1 || c2;
    }
    out
}

fn sum_sub(a: &Sum, b: &Sum) -> Sum {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for k in 0..4 {
        let (d, b1) = a[k].overflowing_sub(b[k]);
        let (d, b2) = d.overflowing_sub(borrow as u64);
        out[k] = d;
        borrow = b1 || b2;
    }
    out
}

fn fingerprint(count: u64, sum: &Sum) -> [u8; FINGERPRINT_BYTES] {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DOMAIN);
    h.update(count.to_le_bytes());
    for limb in sum {
        h.update(limb.to_le_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; FINGERPRINT_BYTES];
    out.copy_from_slice(&digest[..FINGERPRINT_BYTES]);
    out
}

/// The shortest bound `c` with `a < c <= b`, for adjacent keys `a < b`: the
/// cut between them that costs the fewest bytes on the wire.
fn separator(a: &Key, b: &Key) -> Key {
    if a.ts != b.ts {
        return Key { ts: b.ts, id: [0; 32] };
    }
    match a.id.iter().zip(b.id.iter()).position(|(x, y)| x != y) {
        Some(k) => {
            let mut id = [0u8; 32];
            id[..=k].copy_from_slice(&b.id[..=k]);
            Key { ts: b.ts, id }
        }
        // Equal keys do not occur in a snapshot; `b` is still a valid cut.
        None => *b,
    }
}

fn bound_to_wire(k: &Key) -> pb::SyncBound {
    // Trailing zero bytes are implied by the padding rule.
    let len = k.id.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
    pb::SyncBound { timestamp: k.ts, id_prefix: k.id[..len].to_vec() }
}

fn bound_from_wire(b: &pb::SyncBound) -> Result<Key, SyncError> {
    if b.id_prefix.len() > 32 {
        return Err(SyncError::BadBound { len: b.id_prefix.len() });
    }
    let mut id = [0u8; 32];
    id[..b.id_prefix.len()].copy_from_slice(&b.id_prefix);
    Ok(Key { ts: b.timestamp, id })
}

fn lower_to_wire(k: &Key) -> Option<pb::SyncBound> {
    (*k != MIN_KEY).then(|| bound_to_wire(k))
}

fn below(k: &Key, upper: Option<&Key>) -> bool {
    upper.is_none_or(|u| k < u)
}

#[derive(Debug)]
struct SnapshotData {
    keys: Vec<Key>,
    /// `sums[i]` is the sum of the first `i` ids; one entry more than keys.
    sums: Vec<Sum>,
}

/// A sealed, immutable view of a node's object set for reconciliation: one
/// item `(created_at_ms, id)` per object, sorted, duplicates removed, with
/// prefix sums so any range's fingerprint costs `O(log n)`. Cloning shares
/// the data, so one snapshot can serve many sessions at once; build a new
/// one when the store changes.
#[derive(Debug, Clone)]
pub struct SyncSnapshot {
    data: Arc<SnapshotData>,
}

impl SyncSnapshot {
    /// Builds a snapshot from items in any order (the store gives them
    /// sorted, which makes sorting cheap). Costs `O(n log n)` and 72 bytes
    /// per item.
    pub fn new<I: IntoIterator<Item = (u64, ObjectId)>>(items: I) -> Self {
        let mut keys: Vec<Key> = items.into_iter().map(|(ts, id)| Key { ts, id: id.0 }).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut sums = Vec::with_capacity(keys.len() + 1);
        let mut acc: Sum = [0; 4];
        sums.push(acc);
        for k in &keys {
            acc = sum_add(&acc, &limbs(&k.id));
            sums.push(acc);
        }
        SyncSnapshot { data: Arc::new(SnapshotData { keys, sums }) }
    }

    /// Number of distinct items.
    pub fn len(&self) -> usize {
        self.data.keys.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.data.keys.is_empty()
    }

    /// Index range `[i, j)` of the items in `[lower, upper)`.
    fn range(&self, lower: &Key, upper: Option<&Key>) -> (usize, usize) {
        let keys = &self.data.keys;
        let i = keys.partition_point(|k| k < lower);
        let j = match upper {
            None => keys.len(),
            Some(u) => keys.partition_point(|k| k < u),
        };
        (i, j.max(i))
    }

    fn fingerprint(&self, i: usize, j: usize) -> [u8; FINGERPRINT_BYTES] {
        let sum = sum_sub(&self.data.sums[j], &self.data.sums[i]);
        fingerprint((j - i) as u64, &sum)
    }

    fn key(&self, i: usize) -> &Key {
        &self.data.keys[i]
    }

    /// Cuts the items `[i, j)` (at least one) into at most `parts` runs of
    /// nearly equal size; returns each run's index range and the bound it
    /// ends at (none for the last, which ends where the range does).
    fn split(&self, i: usize, j: usize, parts: usize) -> Vec<(usize, usize, Option<Key>)> {
        let m = j - i;
        let k = parts.min(m).max(1);
        (0..k)
            .map(|t| {
                let s = i + m * t / k;
                let e = i + m * (t + 1) / k;
                let upper = (t + 1 < k).then(|| separator(self.key(e - 1), self.key(e)));
                (s, e, upper)
            })
            .collect()
    }
}

// ---------------------------------------------------------------- client

/// Traffic and outcome of one session, as seen by the initiator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Responses received (one per request sent and answered).
    pub round_trips: u32,
    /// Bytes of request frames sent.
    pub bytes_sent: u64,
    /// Bytes of response frames received.
    pub bytes_received: u64,
    /// Distinct ids we hold that the peer lacks, found so far.
    pub have: usize,
    /// Distinct objects received (shape-checked envelopes handed back).
    pub received: usize,
    /// Bytes of those envelopes.
    pub envelope_bytes: u64,
    /// Envelopes dropped without blame: kinds of a newer protocol version.
    pub ignored: usize,
}

/// What the initiator does after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Send this request frame and pass its response to
    /// [`SyncClient::handle_response`].
    Request(Vec<u8>),
    /// The session is complete: every object the peer holds and we lacked
    /// has been handed back, and [`SyncClient::have`] is complete.
    Done,
}

/// What one response brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Objects we lacked, shape-checked ([`Envelope::decode`]), each at most
    /// once per session, in the responder's key order per range. Their
    /// signatures and rules are *not* checked yet: pass them to
    /// the store's ingest (`Ledger::validate`).
    pub envelopes: Vec<Envelope>,
    /// What to do next.
    pub next: ClientStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Fresh,
    Awaiting,
    Done,
    Failed,
}

/// A range still to settle, with the responder's count there when a split
/// told us.
#[derive(Debug, Clone, Copy)]
struct Pending {
    lower: Key,
    upper: Option<Key>,
    hint: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
enum SentKind {
    Fingerprint,
    /// Our items `[first, end)` of the snapshot, sent as ids.
    Ids {
        first: usize,
        end: usize,
    },
    Pull,
}

impl SentKind {
    fn name(&self) -> &'static str {
        match self {
            SentKind::Fingerprint => "fingerprint",
            SentKind::Ids { .. } => "ids",
            SentKind::Pull => "pull",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    range: Pending,
    kind: SentKind,
}

/// The initiator of a catch-up session with one peer. After
/// [`ClientStep::Done`] every object the peer held and we lacked has been
/// returned and [`SyncClient::have`] lists what we hold and the peer lacks.
/// After any error the session is finished and must be dropped.
#[derive(Debug)]
pub struct SyncClient {
    snapshot: SyncSnapshot,
    limits: SyncLimits,
    state: ClientState,
    pending: VecDeque<Pending>,
    in_flight: Vec<Sent>,
    have: Vec<ObjectId>,
    received: HashSet<ObjectId>,
    stats: SyncStats,
}

impl SyncClient {
    /// A session over `snapshot` (shared, not copied) with our `limits`.
    pub fn new(snapshot: &SyncSnapshot, limits: SyncLimits) -> Result<Self, SyncError> {
        limits.validate()?;
        Ok(SyncClient {
            snapshot: snapshot.clone(),
            limits,
            state: ClientState::Fresh,
            pending: VecDeque::new(),
            in_flight: Vec::new(),
            have: Vec::new(),
            received: HashSet::new(),
            stats: SyncStats::default(),
        })
    }

    /// The first request frame: one query over the whole key space. Call
    /// once.
    pub fn initiate(&mut self) -> Result<Vec<u8>, SyncError> {
        if self.state != ClientState::Fresh {
            return Err(SyncError::OutOfTurn("initiate called twice"));
        }
        self.pending.push_back(Pending { lower: MIN_KEY, upper: None, hint: None });
        match self.next_request() {
            Some(frame) => {
                self.state = ClientState::Awaiting;
                Ok(frame)
            }
            None => {
                self.state = ClientState::Failed;
                Err(SyncError::Local("no query for the whole key space".into()))
            }
        }
    }

    /// Takes the peer's response to our last request frame: returns the
    /// objects it carried and the next request frame, or
    /// [`ClientStep::Done`]. On error nothing of the frame is used and the
    /// session is over.
    pub fn handle_response(&mut self, frame: &[u8]) -> Result<Progress, SyncError> {
        if self.state != ClientState::Awaiting {
            return Err(SyncError::OutOfTurn("no sync request is awaiting a response"));
        }
        match self.step(frame) {
            Ok(progress) => {
                if progress.next == ClientStep::Done {
                    self.state = ClientState::Done;
                }
                Ok(progress)
            }
            Err(e) => {
                self.state = ClientState::Failed;
                Err(e)
            }
        }
    }

    fn step(&mut self, frame: &[u8]) -> Result<Progress, SyncError> {
        self.stats.bytes_received += frame.len() as u64;
        self.stats.round_trips += 1;
        if frame.len() > MAX_SYNC_RESPONSE_BYTES {
            return Err(SyncError::FrameTooLarge {
                what: "response",
                size: frame.len(),
                limit: MAX_SYNC_RESPONSE_BYTES,
            });
        }
        let response = pb::SyncResponse::decode(frame)
            .map_err(|e| SyncError::Malformed { what: "response", detail: e.to_string() })?;
        let sent = std::mem::take(&mut self.in_flight);
        let answered = response.replies.len();
        if answered == 0 || answered > sent.len() {
            return Err(SyncError::ReplyCount { replies: answered, queries: sent.len() });
        }
        // Ranges to settle next go to the front of the queue (depth first,
        // which keeps the queue short), children before unanswered queries.
        let mut front = Vec::new();
        let mut envelopes = Vec::new();
        for (query, reply) in sent.iter().zip(response.replies) {
            self.apply(query, reply, &mut front, &mut envelopes)?;
        }
        front.extend(sent[answered..].iter().map(|s| s.range));
        for p in front.into_iter().rev() {
            self.pending.push_front(p);
        }
        if self.pending.len() > MAX_PENDING_RANGES {
            return Err(SyncError::TooManyRanges { limit: MAX_PENDING_RANGES });
        }
        self.stats.have = self.have.len();
        self.stats.received += envelopes.len();
        self.stats.envelope_bytes += envelopes.iter().map(|e| e.bytes().len() as u64).sum::<u64>();
        let next = if self.pending.is_empty() {
            ClientStep::Done
        } else if self.stats.round_trips >= self.limits.max_round_trips {
            return Err(SyncError::TooManyRoundTrips { limit: self.limits.max_round_trips });
        } else {
            match self.next_request() {
                Some(frame) => ClientStep::Request(frame),
                None => ClientStep::Done,
            }
        };
        Ok(Progress { envelopes, next })
    }

    /// Plans queries from the front of the queue into one request frame, or
    /// `None` when nothing is left to settle.
    fn next_request(&mut self) -> Option<Vec<u8>> {
        let mut queries = Vec::new();
        while queries.len() < self.limits.max_queries_per_request {
            let Some(p) = self.pending.pop_front() else { break };
            let (i, j) = self.snapshot.range(&p.lower, p.upper.as_ref());
            let n = j - i;
            let (kind, query) = if n == 0 {
                (SentKind::Pull, pb::range_query::Query::Pull(pb::RangePull {}))
            } else if n <= self.limits.max_ids_per_query {
                let mut ids = Vec::with_capacity(n * 32);
                for k in i..j {
                    ids.extend_from_slice(&self.snapshot.key(k).id);
                }
                (SentKind::Ids { first: i, end: j }, pb::range_query::Query::Ids(ids))
            } else if p.hint == Some(1) {
                // The peer holds one item here: its split could not shrink
                // the range, so cut it by our own items instead.
                let parts = self.snapshot.split(i, j, BUCKETS);
                let mut lower = p.lower;
                let mut subs = Vec::with_capacity(parts.len());
                for (_, _, upper) in parts {
                    let upper = upper.or(p.upper);
                    subs.push(Pending { lower, upper, hint: None });
                    if let Some(u) = upper {
                        lower = u;
                    }
                }
                for s in subs.into_iter().rev() {
                    self.pending.push_front(s);
                }
                continue;
            } else {
                let fp = self.snapshot.fingerprint(i, j);
                (SentKind::Fingerprint, pb::range_query::Query::Fingerprint(fp.to_vec()))
            };
            queries.push(pb::RangeQuery {
                lower: lower_to_wire(&p.lower),
                upper: p.upper.as_ref().map(bound_to_wire),
                query: Some(query),
            });
            self.in_flight.push(Sent { range: p, kind });
        }
        if queries.is_empty() {
            return None;
        }
        let frame = pb::SyncRequest { queries }.encode_to_vec();
        self.stats.bytes_sent += frame.len() as u64;
        Some(frame)
    }

    fn apply(
        &mut self,
        sent: &Sent,
        reply: pb::RangeReply,
        front: &mut Vec<Pending>,
        out: &mut Vec<Envelope>,
    ) -> Result<(), SyncError> {
        use pb::range_reply::Reply;
        match (sent.kind, reply.reply) {
            (_, None) => Err(SyncError::Malformed { what: "reply", detail: "no variant set".into() }),
            (SentKind::Fingerprint, Some(Reply::Equal(_))) => Ok(()),
            (SentKind::Fingerprint, Some(Reply::Split(split))) => self.apply_split(sent, split, front),
            (SentKind::Ids { .. } | SentKind::Pull, Some(Reply::Items(items))) => {
                self.apply_items(sent, items, front, out)
            }
            (kind, Some(reply)) => Err(SyncError::WrongReply {
                query: kind.name(),
                reply: match reply {
                    Reply::Equal(_) => "equal",
                    Reply::Split(_) => "split",
                    Reply::Items(_) => "items",
                },
            }),
        }
    }

    fn apply_split(&mut self, sent: &Sent, split: pb::RangeSplit, front: &mut Vec<Pending>) -> Result<(), SyncError> {
        let n = split.buckets.len();
        if n == 0 || n > BUCKETS {
            return Err(SyncError::BadSplit("a split carries 1 to 16 buckets"));
        }
        let mut lower = sent.range.lower;
        for (k, bucket) in split.buckets.iter().enumerate() {
            let upper = match (&bucket.upper, k + 1 == n) {
                (None, true) => sent.range.upper,
                (Some(u), false) => {
                    let u = bound_from_wire(u)?;
                    if u <= lower || !below(&u, sent.range.upper.as_ref()) {
                        return Err(SyncError::BadSplit("bucket bounds must ascend strictly inside the range"));
                    }
                    Some(u)
                }
                (Some(_), true) => {
                    return Err(SyncError::BadSplit("the last bucket ends at the range's end (no bound)"))
                }
                (None, false) => return Err(SyncError::BadSplit("every bucket but the last has an upper bound")),
            };
            let (i, j) = self.snapshot.range(&lower, upper.as_ref());
            if bucket.count == 0 {
                if !bucket.fingerprint.is_empty() {
                    return Err(SyncError::BadSplit("an empty bucket carries no fingerprint"));
                }
                // The peer holds nothing here: all of ours there is `have`.
                self.have.extend((i..j).map(|k| ObjectId(self.snapshot.key(k).id)));
            } else {
                if bucket.fingerprint.len() != FINGERPRINT_BYTES {
                    return Err(SyncError::BadFingerprint { len: bucket.fingerprint.len() });
                }
                if self.snapshot.fingerprint(i, j)[..] != bucket.fingerprint[..] {
                    front.push(Pending { lower, upper, hint: Some(bucket.count) });
                }
            }
            if let Some(u) = upper {
                lower = u;
            }
        }
        Ok(())
    }

    fn apply_items(
        &mut self,
        sent: &Sent,
        items: pb::RangeItems,
        front: &mut Vec<Pending>,
        out: &mut Vec<Envelope>,
    ) -> Result<(), SyncError> {
        let range = sent.range;
        let continuation = match &items.continuation {
            None => None,
            Some(b) => {
                let c = bound_from_wire(b)?;
                if c <= range.lower || !below(&c, range.upper.as_ref()) {
                    return Err(SyncError::BadContinuation("it must lie strictly inside the range"));
                }
                if items.envelopes.is_empty() {
                    return Err(SyncError::BadContinuation("a cut reply carries at least one object"));
                }
                Some(c)
            }
        };
        let (first, end) = match sent.kind {
            SentKind::Ids { first, end } => (first, end),
            _ => (0, 0),
        };
        let ids = end - first;
        let bitmap_len = ids.div_ceil(8);
        let stray_bits = ids % 8 != 0 && items.lacking.last().is_some_and(|last| last >> (ids % 8) != 0);
        if items.lacking.len() != bitmap_len || stray_bits {
            return Err(SyncError::BadLacking { len: items.lacking.len(), ids });
        }
        for t in 0..ids {
            let key = self.snapshot.key(first + t);
            // Past the continuation the next query settles it.
            if continuation.is_some_and(|c| *key >= c) {
                continue;
            }
            if items.lacking[t / 8] & (1 << (t % 8)) != 0 {
                self.have.push(ObjectId(key.id));
            }
        }
        for bytes in &items.envelopes {
            let envelope = match Envelope::decode(bytes) {
                Ok(envelope) => envelope,
                Err(rejection) if rejection.verdict() == Verdict::Ignore => {
                    self.stats.ignored += 1;
                    continue;
                }
                Err(rejection) => return Err(SyncError::BadEnvelope(rejection)),
            };
            let id = envelope.id();
            if (first..end).any(|k| self.snapshot.key(k).id == id.0) {
                return Err(SyncError::Unrequested(id));
            }
            if !self.received.insert(id) {
                return Err(SyncError::DuplicateObject(id));
            }
            out.push(envelope);
        }
        if let Some(c) = continuation {
            front.push(Pending { lower: c, upper: range.upper, hint: None });
        }
        Ok(())
    }

    /// True once [`ClientStep::Done`] was returned.
    pub fn is_done(&self) -> bool {
        self.state == ClientState::Done
    }

    /// Ids we hold that the peer lacks, each once, in discovery order.
    /// Complete only once the session is done.
    pub fn have(&self) -> &[ObjectId] {
        &self.have
    }

    /// Traffic so far.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// Ends the session, giving up its `have` list.
    pub fn into_have(self) -> Vec<ObjectId> {
        self.have
    }
}

// ---------------------------------------------------------------- server

/// One query of a request, checked.
enum Query {
    Fingerprint([u8; FINGERPRINT_BYTES]),
    Ids(Vec<[u8; 32]>),
    Pull,
}

struct CheckedQuery {
    lower: Key,
    upper: Option<Key>,
    query: Query,
}

fn check_query(index: usize, q: pb::RangeQuery) -> Result<CheckedQuery, SyncError> {
    use pb::range_query::Query as Q;
    let lower = match &q.lower {
        Some(b) => bound_from_wire(b)?,
        None => MIN_KEY,
    };
    let upper = q.upper.as_ref().map(bound_from_wire).transpose()?;
    if !below(&lower, upper.as_ref()) {
        return Err(SyncError::EmptyRange { index });
    }
    let query = match q.query {
        None => return Err(SyncError::Malformed { what: "query", detail: "no variant set".into() }),
        Some(Q::Fingerprint(fp)) => {
            Query::Fingerprint(fp.as_slice().try_into().map_err(|_| SyncError::BadFingerprint { len: fp.len() })?)
        }
        Some(Q::Ids(raw)) => {
            if raw.is_empty() || raw.len() % 32 != 0 {
                return Err(SyncError::BadIdList { len: raw.len() });
            }
            let count = raw.len() / 32;
            if count > MAX_IDS_PER_QUERY {
                return Err(SyncError::TooManyIds { count, limit: MAX_IDS_PER_QUERY });
            }
            let mut ids: Vec<[u8; 32]> = Vec::with_capacity(count);
            for chunk in raw.chunks_exact(32) {
                let mut id = [0u8; 32];
                id.copy_from_slice(chunk);
                if ids.contains(&id) {
                    return Err(SyncError::DuplicateId(ObjectId(id)));
                }
                ids.push(id);
            }
            Query::Ids(ids)
        }
        Some(Q::Pull(_)) => Query::Pull,
    };
    Ok(CheckedQuery { lower, upper, query })
}

/// Bytes a message of `len` bytes takes embedded in another: tag, length,
/// body.
fn embedded(len: usize) -> usize {
    1 + prost::length_delimiter_len(len) + len
}

/// The responder of sync sessions: answers request frames from its snapshot
/// and store. Keeps no per-peer state, so one server serves any number of
/// peers at once; replace it (or its snapshot) when the store changes.
#[derive(Debug, Clone)]
pub struct SyncServer {
    snapshot: SyncSnapshot,
    limits: SyncLimits,
}

/// A response being built: its replies and the bytes they take.
struct ResponseBuilder {
    replies: Vec<pb::RangeReply>,
    size: usize,
    has_envelope: bool,
}

impl SyncServer {
    /// A responder over `snapshot` with our `limits`.
    pub fn new(snapshot: SyncSnapshot, limits: SyncLimits) -> Result<Self, SyncError> {
        limits.validate()?;
        Ok(SyncServer { snapshot, limits })
    }

    /// The snapshot being served.
    pub fn snapshot(&self) -> &SyncSnapshot {
        &self.snapshot
    }

    /// Swaps in a newer snapshot (e.g. after the store changed).
    pub fn set_snapshot(&mut self, snapshot: SyncSnapshot) {
        self.snapshot = snapshot;
    }

    /// Answers one request frame with one response frame of at most
    /// [`MAX_SYNC_RESPONSE_BYTES`]. `lookup` returns the exact stored
    /// envelope bytes of an object of the snapshot, or `None` if it cannot
    /// (a store read error should be logged by the caller and reported as
    /// `None`: the object is then left out, and a later session offers it
    /// again). An error means the request was bad: nothing is answered and
    /// the peer is at fault.
    pub fn handle_request<F>(&self, frame: &[u8], mut lookup: F) -> Result<Vec<u8>, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
    {
        if frame.len() > MAX_SYNC_REQUEST_BYTES {
            return Err(SyncError::FrameTooLarge { what: "request", size: frame.len(), limit: MAX_SYNC_REQUEST_BYTES });
        }
        let request = pb::SyncRequest::decode(frame)
            .map_err(|e| SyncError::Malformed { what: "request", detail: e.to_string() })?;
        if request.queries.is_empty() {
            return Err(SyncError::Malformed { what: "request", detail: "no queries".into() });
        }
        if request.queries.len() > MAX_QUERIES_PER_REQUEST {
            return Err(SyncError::TooManyQueries { count: request.queries.len(), limit: MAX_QUERIES_PER_REQUEST });
        }
        // Check every query before answering any, so a bad request is
        // refused whole, wherever its fault is.
        let queries: Vec<CheckedQuery> =
            request.queries.into_iter().enumerate().map(|(i, q)| check_query(i, q)).collect::<Result<_, _>>()?;
        let mut out = ResponseBuilder { replies: Vec::with_capacity(queries.len()), size: 0, has_envelope: false };
        for q in &queries {
            if !out.replies.is_empty() && out.size >= self.limits.response_bytes {
                break;
            }
            let answered = match &q.query {
                Query::Fingerprint(fp) => {
                    self.answer_fingerprint(q, fp, &mut out);
                    true
                }
                Query::Ids(ids) => self.answer_items(q, ids, &mut lookup, &mut out),
                Query::Pull => self.answer_items(q, &[], &mut lookup, &mut out),
            };
            if !answered {
                break;
            }
        }
        let frame = pb::SyncResponse { replies: out.replies }.encode_to_vec();
        if frame.len() > MAX_SYNC_RESPONSE_BYTES {
            // The budget arithmetic above makes this unreachable; refuse
            // rather than send a frame every peer would refuse.
            return Err(SyncError::Local(format!("response of {} bytes is over the frame bound", frame.len())));
        }
        Ok(frame)
    }

    fn answer_fingerprint(&self, q: &CheckedQuery, fp: &[u8; FINGERPRINT_BYTES], out: &mut ResponseBuilder) {
        use pb::range_reply::Reply;
        let (i, j) = self.snapshot.range(&q.lower, q.upper.as_ref());
        let reply = if self.snapshot.fingerprint(i, j) == *fp {
            Reply::Equal(pb::RangeEqual {})
        } else if i == j {
            Reply::Split(pb::RangeSplit {
                buckets: vec![pb::RangeBucket { upper: None, fingerprint: Vec::new(), count: 0 }],
            })
        } else {
            let buckets = self
                .snapshot
                .split(i, j, BUCKETS)
                .into_iter()
                .map(|(s, e, upper)| pb::RangeBucket {
                    upper: upper.as_ref().map(bound_to_wire),
                    fingerprint: self.snapshot.fingerprint(s, e).to_vec(),
                    count: (e - s) as u64,
                })
                .collect();
            Reply::Split(pb::RangeSplit { buckets })
        };
        let reply = pb::RangeReply { reply: Some(reply) };
        out.size += embedded(reply.encoded_len());
        out.replies.push(reply);
    }

    /// Answers a pull (`held` empty) or ids query; false when not even one
    /// object fit, and the query is left unanswered.
    fn answer_items<F>(&self, q: &CheckedQuery, held: &[[u8; 32]], lookup: &mut F, out: &mut ResponseBuilder) -> bool
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
    {
        let (i, j) = self.snapshot.range(&q.lower, q.upper.as_ref());
        let budget = self.limits.response_bytes;
        let mut size = out.size + ITEMS_REPLY_OVERHEAD;
        let mut matched = vec![false; held.len()];
        let mut envelopes = Vec::new();
        let mut cut = None;
        for k in i..j {
            let key = self.snapshot.key(k);
            if let Some(pos) = held.iter().position(|h| *h == key.id) {
                matched[pos] = true;
                continue;
            }
            let Some(bytes) = lookup(&ObjectId(key.id)) else { continue };
            if bytes.len() > MAX_GENESIS_ENVELOPE_BYTES {
                // No envelope is this large: a damaged store. Leave it out,
                // as if unreadable, rather than break the frame bound.
                continue;
            }
            let cost = ENVELOPE_FRAMING + bytes.len();
            if (out.has_envelope || !envelopes.is_empty()) && size + cost > budget {
                cut = Some(k);
                break;
            }
            size += cost;
            envelopes.push(bytes);
        }
        let continuation = match cut {
            // Nothing fit after earlier replies: leave the query unanswered.
            Some(_) if envelopes.is_empty() => return false,
            // `k > i`: an object of this range went in before the cut.
            Some(k) => Some(bound_to_wire(&separator(self.snapshot.key(k - 1), self.snapshot.key(k)))),
            None => None,
        };
        let mut lacking = vec![0u8; held.len().div_ceil(8)];
        for (t, m) in matched.iter().enumerate() {
            if !m {
                lacking[t / 8] |= 1 << (t % 8);
            }
        }
        out.has_envelope |= !envelopes.is_empty();
        out.size = size;
        out.replies.push(pb::RangeReply {
            reply: Some(pb::range_reply::Reply::Items(pb::RangeItems { envelopes, lacking, continuation })),
        });
        true
    }
}
