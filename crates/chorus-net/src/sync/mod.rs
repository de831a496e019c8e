//! Catch-up sync: range-based set reconciliation of two nodes' object sets
//! in which ranges the initiator lacks are answered with the objects
//! themselves, never with their ids.
//!
//! Sans-IO: [`SyncClient`] and [`SyncServer`] take frames as bytes and
//! return frames as bytes; the libp2p request-response protocol
//! `/chorus/sync/2` only carries them (see the crate's event loop). Nothing
//! in this module tree touches a socket, a clock, a task or the disk: the
//! responder reads stored envelopes through a closure its caller supplies,
//! and the caller decides when to sync and with whom (this crate's peer
//! service runs one session it initiates at a time, so objects several
//! peers hold are fetched once: see `service/schedule.rs`).
//!
//! ## What is normative
//! These docs are the normative description of the sync protocol (until it
//! moves to `docs/PROTOCOL.md`): the sections *Items, keys and ranges*,
//! *Fingerprints*, *A session*, *Heads* (with `docs/PROTOCOL.md` 13),
//! *Wire format* and *Bounds*, and the closing paragraph on errors, with the values of the constants they name. A peer
//! that follows them interoperates with this implementation. The paragraph
//! *What it costs* and the section *Layout* are informative: measurements
//! and a map of the code, not rules.
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
//! The initiator runs a [`SyncClient`] over its snapshot (after
//! [`SyncClient::ask_head`], see *Heads* below): [`SyncClient::initiate`]
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
//! its own items there: a count-0 bucket (which carries no fingerprint)
//! settles its items there as ones the peer lacks (*have*); an equal fingerprint settles the bucket; any
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
//! side is bounded by the request's size and the budget: a fingerprint
//! query costs the responder one fingerprint of the range and, for a split,
//! at most [`BUCKETS`] more; an items reply reads from the store the objects
//! it carries and at most one more (the one that did not fit), besides any
//! the store could not supply, and never the query's own ids.
//!
//! **Transfer is pull-only.** The client reports `have` ([`SyncClient::have`],
//! [`SyncStats::have`]) but never pushes those objects: the peer receives
//! them when it runs its own catch-up against us, which every node does
//! periodically with its peers. Pull keeps the responder's side a pure
//! function of its snapshot, store and the request, and a node never
//! receives objects it did not ask for outside gossip. The envelopes a
//! client returns are shape-checked ([`Envelope::decode`](chorus_core::Envelope::decode))
//! but not validated: the caller hands them to the store's ingest, which
//! applies every rule of `docs/PROTOCOL.md` as it does to gossip. An
//! envelope whose decoding fails with verdict Ignore (a kind of a later
//! protocol version) is dropped and counted ([`SyncStats::ignored`]), not
//! blamed on the peer.
//!
//! ## Heads
//! The first request of a session sets `want_head`, and the responder's
//! first response carries its [`SignedHead`]: the coalition, its newest
//! roster version and the count and fingerprint of the snapshot it serves
//! from, signed by its node key over `"chorus/v1/head\n" || head`. It is
//! left out when the first query finds the whole set equal. The initiator
//! verifies it and counts what the session shows against what the head and
//! every split announced ([`SyncClient::withheld`]); a node that is shown
//! less than announced, or a roster its objects do not support, reports a
//! split view ([`crate::splitview`]). The head, its checks and what is
//! reported are specified in `docs/PROTOCOL.md` section 13, which is
//! normative for them.
//!
//! *What it costs* (informative): identical sets settle in one round trip of one
//! fingerprint query and an equal reply (a few dozen bytes). A run of `d`
//! missing objects costs about `log16(n)` round trips of splits (a few
//! hundred bytes each) plus one round trip per budget's worth of objects,
//! with a few bytes of framing per object. Differences scattered evenly
//! through the set cost more: ranges shrink until the client holds at most
//! [`MAX_IDS_PER_QUERY`] items in each, and then it sends those ids.
//! `benches/catchup.rs` measures both for 10,000 missing of 100,000 objects
//! (figures of the README's benchmark table):
//! the newest 10,000 cost 4 round trips and about 33 KB beyond the objects
//! (a session's head adds under 200 bytes, plus 34 per roster head);
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
//! (for fingerprint queries) or `items` (for ids and pull queries). The
//! first request sets `want_head`; the response to it carries `head`
//! unless the whole set was equal, and no other response carries one.
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
//! | signed head | [`MAX_SIGNED_HEAD_BYTES`], within the response's byte budget |
//!
//! A frame over a bound, undecodable, of the wrong shape (a reply that does
//! not fit its query, bounds out of order or outside the range, a cut reply
//! without an object, an object twice or one the client said it holds, a
//! head that fails its checks or that was not asked for), a
//! session past its round-trip bound or a peer whose splits queue more than
//! [`MAX_PENDING_RANGES`] ranges yields a [`SyncError`] for which
//! [`SyncError::is_peer_fault`] is true: the caller penalises or disconnects
//! the peer. A responder refuses a bad request whole, answering none of it.
//! No input panics. After any error the client's session is over.
//!
//! ## Layout
//! - `error`: [`SyncError`] and which errors blame the peer;
//! - `limits`: the protocol's bounds, the frame sizes they imply, and
//!   [`SyncLimits`];
//! - `keyspace`: keys, bounds and their wire form, sums of ids,
//!   fingerprints, the cut between adjacent keys;
//! - `head`: [`Head`] and [`SignedHead`], signing and checking;
//! - `snapshot`: [`SyncSnapshot`], the sorted item set with prefix sums;
//! - `client`: [`SyncClient`], the initiator's state machine;
//! - `server`: [`SyncServer`], the stateless responder.

mod client;
mod error;
mod head;
mod keyspace;
mod limits;
mod server;
mod snapshot;

pub use client::{ClientStep, Progress, SyncClient, SyncStats, Withheld};
pub use error::SyncError;
pub use head::{Head, HeadError, SignedHead, HEAD_PREFIX, MAX_SIGNED_HEAD_BYTES};
pub use keyspace::FINGERPRINT_BYTES;
pub use limits::{
    SyncLimits, BUCKETS, DEFAULT_MAX_ROUND_TRIPS, MAX_IDS_PER_QUERY, MAX_PENDING_RANGES, MAX_QUERIES_PER_REQUEST,
    MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, RESPONSE_SOFT_BYTES,
};
pub use server::SyncServer;
pub use snapshot::SyncSnapshot;
