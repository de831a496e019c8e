//! [`SyncServer`]: the responder's side, a pure function from a request frame,
//! its snapshot and its store to a response frame.

use chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES;
use chorus_core::ObjectId;
use chorus_proto::v1 as pb;
use prost::Message;

use super::error::SyncError;
use super::head::SignedHead;
use super::keyspace::{below, bound_from_wire, bound_to_wire, separator, Key, FINGERPRINT_BYTES, MIN_KEY};
use super::limits::{
    SyncLimits, BUCKETS, ENVELOPE_FRAMING, ITEMS_REPLY_OVERHEAD, MAX_IDS_PER_QUERY, MAX_QUERIES_PER_REQUEST,
    MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES,
};
use super::snapshot::SyncSnapshot;

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
    head: Option<pb::SignedHead>,
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
        Ok(SyncServer { snapshot, limits, head: None })
    }

    /// Answers requests that ask for a head (`want_head`) with `head`,
    /// which must describe this server's snapshot (PROTOCOL.md 13.1: its
    /// count and fingerprint are the snapshot's). Without one, such
    /// requests are answered without a head.
    pub fn with_head(mut self, head: &SignedHead) -> Self {
        self.head = Some(head.to_proto());
        self
    }

    /// The snapshot being served.
    pub fn snapshot(&self) -> &SyncSnapshot {
        &self.snapshot
    }

    /// Swaps in a newer snapshot (e.g. after the store changed); a head
    /// given before is dropped, since it described the old one.
    pub fn set_snapshot(&mut self, snapshot: SyncSnapshot) {
        self.snapshot = snapshot;
        self.head = None;
    }

    /// Answers one request frame with one response frame of at most
    /// [`MAX_SYNC_RESPONSE_BYTES`]. `lookup` returns the exact stored
    /// envelope bytes of an object of the snapshot, or `None` if it cannot
    /// (a store read error should be logged by the caller and reported as
    /// `None`: the object is then left out, and a later session offers it
    /// again). An error means the request was bad: nothing is answered and
    /// the peer is at fault.
    pub fn handle_request<F>(&self, frame: &[u8], lookup: F) -> Result<Vec<u8>, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
    {
        self.respond(frame, lookup, || self.head.clone())
    }

    /// As [`SyncServer::handle_request`], with the head built on demand:
    /// `head` is called, at most once, only when the request asks for a
    /// head and one is sent (not when the whole set is equal), with the
    /// snapshot it must describe. A responder that signs its heads signs
    /// only those it sends; a head given by [`SyncServer::with_head`] is
    /// not used.
    pub fn handle_request_with_head<F, H>(&self, frame: &[u8], lookup: F, head: H) -> Result<Vec<u8>, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
        H: FnOnce(&SyncSnapshot) -> SignedHead,
    {
        self.respond(frame, lookup, || Some(head(&self.snapshot).to_proto()))
    }

    fn respond<F, H>(&self, frame: &[u8], mut lookup: F, head: H) -> Result<Vec<u8>, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
        H: FnOnce() -> Option<pb::SignedHead>,
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
        // The head counts against the byte budget like a reply, so the frame
        // bound holds with it. It is left out when the first query finds the
        // whole set equal: both sides hold the same objects, so nothing can
        // be withheld and the roster version is the same (PROTOCOL.md 13.1).
        let head = if request.want_head && !self.whole_set_equal(&queries[0]) { head() } else { None };
        let size = head.as_ref().map_or(0, |h| embedded(h.encoded_len()));
        let mut out = ResponseBuilder { replies: Vec::with_capacity(queries.len()), size, has_envelope: false };
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
        let frame = pb::SyncResponse { replies: out.replies, head }.encode_to_vec();
        if frame.len() > MAX_SYNC_RESPONSE_BYTES {
            // The budget arithmetic above makes this unreachable; refuse
            // rather than send a frame every peer would refuse.
            return Err(SyncError::Local(format!("response of {} bytes is over the frame bound", frame.len())));
        }
        Ok(frame)
    }

    /// True for a fingerprint query over the whole key space that matches
    /// our whole set.
    fn whole_set_equal(&self, q: &CheckedQuery) -> bool {
        matches!(&q.query, Query::Fingerprint(fp) if q.lower == MIN_KEY && q.upper.is_none()
            && *fp == self.snapshot.set_fingerprint())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_sizes_match_the_encoding() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 1 << 21] {
            let reply = pb::RangeItems { envelopes: vec![vec![7; len]], lacking: Vec::new(), continuation: None };
            // One envelope embedded in `RangeItems` is the whole message.
            assert_eq!(embedded(len), reply.encoded_len(), "length {len}");
        }
    }

    #[test]
    fn a_query_is_checked_whole() {
        use pb::range_query::Query as Q;
        let bound = |ts| pb::SyncBound { timestamp: ts, id_prefix: Vec::new() };
        let check = |index, lower, upper, query| check_query(index, pb::RangeQuery { lower, upper, query }).err();
        let pull = || Some(Q::Pull(pb::RangePull {}));
        assert_eq!(check(0, None, None, pull()), None);
        assert_eq!(check(3, Some(bound(5)), Some(bound(5)), pull()), Some(SyncError::EmptyRange { index: 3 }));
        let long = pb::SyncBound { timestamp: 1, id_prefix: vec![1; 33] };
        assert_eq!(check(0, None, Some(long), pull()), Some(SyncError::BadBound { len: 33 }));
        assert!(matches!(check(0, None, None, None), Some(SyncError::Malformed { .. })));
        let ids = |raw: Vec<u8>| Some(Q::Ids(raw));
        assert_eq!(check(0, None, None, ids(Vec::new())), Some(SyncError::BadIdList { len: 0 }));
        assert_eq!(check(0, None, None, ids(vec![1; 31])), Some(SyncError::BadIdList { len: 31 }));
        assert_eq!(check(0, None, None, ids(vec![1; 64])), Some(SyncError::DuplicateId(ObjectId([1; 32]))));
        let too_many = MAX_IDS_PER_QUERY + 1;
        assert_eq!(
            check(0, None, None, ids(vec![0; 32 * too_many])),
            Some(SyncError::TooManyIds { count: too_many, limit: MAX_IDS_PER_QUERY })
        );
        let short = Some(Q::Fingerprint(vec![0; FINGERPRINT_BYTES - 1]));
        assert_eq!(check(0, None, None, short), Some(SyncError::BadFingerprint { len: FINGERPRINT_BYTES - 1 }));
    }
}
