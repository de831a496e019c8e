//! The protocol's bounds (normative: see the *Bounds* table of
//! `docs/PROTOCOL.md` 14.5), the frame sizes they imply, and [`SyncLimits`], the
//! settings of one side within them.

use chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES;

use super::error::SyncError;
use super::keyspace::FINGERPRINT_BYTES;

/// Buckets a responder cuts a mismatched range into (and the most a split
/// may carry). Sixteen keeps a split reply near half a kilobyte (about 32
/// bytes a bucket for millisecond timestamps) while a 100,000-item set is
/// narrowed to a few dozen items in four round trips.
pub const BUCKETS: usize = 16;
/// Most ids one ids query may carry. Below this many items an id list (32
/// bytes each) is cheaper than another round trip of splits (about 32 bytes
/// per bucket, sixteen buckets per range, then a query per bucket).
pub const MAX_IDS_PER_QUERY: usize = 32;
/// Most queries one request may carry.
pub const MAX_QUERIES_PER_REQUEST: usize = 256;
/// Largest soft byte budget of a response: once the replies reach it, a
/// responder adds no further object (a response's first object always goes
/// in, whatever its size) and answers no further query.
pub const RESPONSE_SOFT_BYTES: usize = 1024 * 1024;
/// Default bound on round trips of one session. An honest responder needs
/// about `log16(n) + 2` round trips of splits, one more per
/// [`RESPONSE_SOFT_BYTES`] of objects and one per [`MAX_QUERIES_PER_REQUEST`]
/// ranges queued at once: 1024 covers a gigabyte of missing objects. A
/// longer session ends with [`SyncError::TooManyRoundTrips`], which blames
/// the peer; the objects already received were handed to the caller, so
/// the next session continues from there.
pub const DEFAULT_MAX_ROUND_TRIPS: u32 = 1024;
/// Most ranges a client keeps queued. Children are queued first (depth
/// first), so an honest peer keeps the queue near
/// `depth x BUCKETS x MAX_QUERIES_PER_REQUEST`, far below this; only a peer
/// that invents mismatches without end reaches it.
pub const MAX_PENDING_RANGES: usize = 1 << 17;

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
pub(super) const ITEMS_REPLY_OVERHEAD: usize = (1 + 4) + (1 + 4) + (1 + 1 + MAX_IDS_PER_QUERY / 8) + BOUND_BYTES;
/// Tag and length of one envelope in an items reply (envelopes are below
/// 2^28 bytes).
pub(super) const ENVELOPE_FRAMING: usize = 1 + 4;

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

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_proto::v1 as pb;
    use prost::Message;

    /// The longest bound: largest timestamp, a full id prefix.
    fn longest_bound() -> pb::SyncBound {
        pb::SyncBound { timestamp: u64::MAX, id_prefix: vec![0xff; 32] }
    }

    #[test]
    fn the_default_limits_are_the_protocol_bounds() {
        let limits = SyncLimits::default();
        assert_eq!(limits.validate(), Ok(()));
        assert_eq!(limits.max_queries_per_request, MAX_QUERIES_PER_REQUEST);
        assert_eq!(limits.max_ids_per_query, MAX_IDS_PER_QUERY);
        assert_eq!(limits.response_bytes, RESPONSE_SOFT_BYTES);
        assert_eq!(limits.max_round_trips, DEFAULT_MAX_ROUND_TRIPS);
    }

    #[test]
    fn limits_out_of_range_are_refused_with_the_range_they_must_lie_in() {
        let ok = SyncLimits::default();
        let queries = format!("must be 1 to {MAX_QUERIES_PER_REQUEST}");
        let ids = format!("must be 1 to {MAX_IDS_PER_QUERY}");
        let bytes = format!("must be 1 to {RESPONSE_SOFT_BYTES} bytes");
        let cases = [
            (SyncLimits { max_queries_per_request: 0, ..ok }, "max_queries_per_request", queries.as_str()),
            (
                SyncLimits { max_queries_per_request: MAX_QUERIES_PER_REQUEST + 1, ..ok },
                "max_queries_per_request",
                &queries,
            ),
            (SyncLimits { max_ids_per_query: 0, ..ok }, "max_ids_per_query", &ids),
            (SyncLimits { max_ids_per_query: MAX_IDS_PER_QUERY + 1, ..ok }, "max_ids_per_query", &ids),
            (SyncLimits { response_bytes: 0, ..ok }, "response_bytes", &bytes),
            (SyncLimits { response_bytes: RESPONSE_SOFT_BYTES + 1, ..ok }, "response_bytes", &bytes),
            (SyncLimits { max_round_trips: 0, ..ok }, "max_round_trips", "must be at least 1"),
        ];
        for (limits, field, range) in cases {
            match limits.validate() {
                Err(SyncError::BadLimit { name, reason, .. }) => {
                    assert_eq!((name, reason), (field, range));
                }
                other => panic!("{limits:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn the_largest_request_fits_the_request_bound() {
        let query = pb::RangeQuery {
            lower: Some(longest_bound()),
            upper: Some(longest_bound()),
            query: Some(pb::range_query::Query::Ids(vec![0xff; MAX_IDS_PER_QUERY * 32])),
        };
        let request = pb::SyncRequest { queries: vec![query; MAX_QUERIES_PER_REQUEST], want_head: false };
        assert!(request.encoded_len() <= MAX_SYNC_REQUEST_BYTES);
    }

    #[test]
    fn the_replies_that_may_cross_the_budget_fit_their_estimates() {
        use pb::range_reply::Reply;
        let bucket = pb::RangeBucket {
            upper: Some(longest_bound()),
            fingerprint: vec![0xff; FINGERPRINT_BYTES],
            count: u64::MAX,
        };
        let split = Reply::Split(pb::RangeSplit { buckets: vec![bucket; BUCKETS] });
        // A response of one reply is exactly that reply embedded.
        let response = pb::SyncResponse { replies: vec![pb::RangeReply { reply: Some(split) }], head: None };
        assert!(response.encoded_len() <= SPLIT_REPLY_BYTES);

        let items = Reply::Items(pb::RangeItems {
            envelopes: vec![vec![0xff; MAX_GENESIS_ENVELOPE_BYTES]],
            lacking: vec![0xff; MAX_IDS_PER_QUERY / 8],
            continuation: Some(longest_bound()),
        });
        let response = pb::SyncResponse { replies: vec![pb::RangeReply { reply: Some(items) }], head: None };
        assert!(response.encoded_len() <= ITEMS_REPLY_OVERHEAD + ENVELOPE_FRAMING + MAX_GENESIS_ENVELOPE_BYTES);
    }
}
