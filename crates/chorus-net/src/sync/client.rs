//! [`SyncClient`]: the initiator's side of a session, a state machine from
//! response frames to objects and the next request frame.

use std::collections::{HashSet, VecDeque};

use chorus_core::{Envelope, ObjectId, PublicKey, Verdict};
use chorus_proto::v1 as pb;
use prost::Message;

use super::error::SyncError;
use super::head::SignedHead;
use super::keyspace::{below, bound_from_wire, bound_to_wire, lower_to_wire, Key, FINGERPRINT_BYTES, MIN_KEY};
use super::limits::{SyncLimits, BUCKETS, MAX_PENDING_RANGES, MAX_SYNC_RESPONSE_BYTES};
use super::snapshot::SyncSnapshot;

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
    /// signatures and rules are *not* checked yet: hand them to the store's
    /// ingest, as gossip is.
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
/// told us, and the innermost range whose count the responder announced
/// that holds it (an index into `SyncClient::announced`).
#[derive(Debug, Clone, Copy)]
struct Pending {
    lower: Key,
    upper: Option<Key>,
    hint: Option<u64>,
    announced: usize,
}

/// A range for which the responder announced a count (the whole key space
/// by its head, a bucket by a split), and how many items it has shown
/// there since: items of equal ranges, objects delivered, our ids it said
/// it holds. Nested: a bucket's items count towards every range holding it.
#[derive(Debug, Clone, Copy)]
struct Announced {
    count: u64,
    shown: u64,
    parent: Option<usize>,
}

/// A responder that showed fewer items in a range than it announced there
/// (PROTOCOL.md 13.2): it withheld objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Withheld {
    /// Items announced: by the head for the whole set, else by a split for
    /// one of its buckets.
    pub announced: u64,
    /// Items the session showed there.
    pub showed: u64,
    /// True when `announced` is the head's count of the whole set.
    pub whole_set: bool,
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
    head_key: Option<PublicKey>,
    head: Option<SignedHead>,
    /// The first response found the whole set equal.
    same_set: bool,
    /// `announced[0]` is the whole key space, with the head's count.
    announced: Vec<Announced>,
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
            head_key: None,
            head: None,
            same_set: false,
            announced: vec![Announced { count: 0, shown: 0, parent: None }],
        })
    }

    /// Asks the responder for its signed head (PROTOCOL.md 13) in the first
    /// request, and checks it under `node_key`, the key the peer proved at
    /// its hello. Call before [`SyncClient::initiate`].
    pub fn ask_head(&mut self, node_key: PublicKey) {
        self.head_key = Some(node_key);
    }

    /// True when the session asks for the responder's head.
    pub fn asked_head(&self) -> bool {
        self.head_key.is_some()
    }

    /// True when the first response found the responder's whole set equal
    /// to ours: then it sends no head, having nothing to announce that
    /// we do not hold (PROTOCOL.md 13.1).
    pub fn same_set(&self) -> bool {
        self.same_set
    }

    /// The responder's head, once its first response carried one that
    /// verified.
    pub fn head(&self) -> Option<&SignedHead> {
        self.head.as_ref()
    }

    /// Once the session is done: the range where the responder showed
    /// fewer items than it announced (the whole set first, when its head
    /// came, else the first bucket short), or `None` when it showed
    /// everything. Buckets announce counts without a head, so a responder
    /// that sent none is checked by them alone. `None` too before the end:
    /// an unfinished session proves nothing.
    pub fn withheld(&self) -> Option<Withheld> {
        if !self.is_done() {
            return None;
        }
        let (k, a) = self.announced.iter().enumerate().find(|(_, a)| a.shown < a.count)?;
        Some(Withheld { announced: a.count, showed: a.shown, whole_set: k == 0 })
    }

    /// Counts `n` items shown in a range of `announced` and in every range
    /// holding it.
    fn credit(&mut self, announced: usize, n: u64) {
        let mut at = Some(announced);
        while let Some(k) = at {
            let a = &mut self.announced[k];
            a.shown = a.shown.saturating_add(n);
            at = a.parent;
        }
    }

    /// The first request frame: one query over the whole key space. Call
    /// once.
    pub fn initiate(&mut self) -> Result<Vec<u8>, SyncError> {
        if self.state != ClientState::Fresh {
            return Err(SyncError::OutOfTurn("initiate called twice"));
        }
        self.pending.push_back(Pending { lower: MIN_KEY, upper: None, hint: None, announced: 0 });
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
        self.take_head(response.head)?;
        let sent = std::mem::take(&mut self.in_flight);
        if self.stats.round_trips == 1 {
            let whole = sent.first().is_some_and(|s| {
                matches!(s.kind, SentKind::Fingerprint) && s.range.lower == MIN_KEY && s.range.upper.is_none()
            });
            let equal = matches!(
                response.replies.first().and_then(|r| r.reply.as_ref()),
                Some(pb::range_reply::Reply::Equal(_))
            );
            self.same_set = whole && equal;
        }
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

    /// A head is expected on the first response exactly when we asked.
    fn take_head(&mut self, head: Option<pb::SignedHead>) -> Result<(), SyncError> {
        let first = self.stats.round_trips == 1;
        match (head, self.head_key) {
            (None, _) => Ok(()),
            (Some(wire), Some(key)) if first => {
                let head = SignedHead::verify(&wire, &key).map_err(SyncError::BadHead)?;
                self.announced[0].count = head.head().object_count;
                self.head = Some(head);
                Ok(())
            }
            (Some(_), _) => {
                Err(SyncError::Malformed { what: "response", detail: "a head where none was asked for".into() })
            }
        }
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
                    subs.push(Pending { lower, upper, hint: None, announced: p.announced });
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
        // Only the first request asks for the head.
        let want_head = self.head_key.is_some() && self.state == ClientState::Fresh;
        let frame = pb::SyncRequest { queries, want_head }.encode_to_vec();
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
            (SentKind::Fingerprint, Some(Reply::Equal(_))) => {
                let (i, j) = self.snapshot.range(&sent.range.lower, sent.range.upper.as_ref());
                self.credit(sent.range.announced, (j - i) as u64);
                Ok(())
            }
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
                    let announced = self.announced.len();
                    self.announced.push(Announced {
                        count: bucket.count,
                        shown: 0,
                        parent: Some(sent.range.announced),
                    });
                    front.push(Pending { lower, upper, hint: Some(bucket.count), announced });
                } else {
                    self.credit(sent.range.announced, (j - i) as u64);
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
        let mut shown = 0u64;
        for t in 0..ids {
            let key = self.snapshot.key(first + t);
            // Past the continuation the next query settles it.
            if continuation.is_some_and(|c| *key >= c) {
                continue;
            }
            if items.lacking[t / 8] & (1 << (t % 8)) != 0 {
                self.have.push(ObjectId(key.id));
            } else {
                shown += 1;
            }
        }
        // Every envelope is an item of the responder's, ignored kinds too.
        shown += items.envelopes.len() as u64;
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
        self.credit(range.announced, shown);
        if let Some(c) = continuation {
            front.push(Pending { lower: c, upper: range.upper, hint: None, announced: range.announced });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::MAX_IDS_PER_QUERY;
    use pb::range_query::Query;

    /// Item `i`: time `100 + i`, id with `i` in its first bytes.
    fn snapshot(n: u64) -> SyncSnapshot {
        SyncSnapshot::new((0..n).map(|i| {
            let mut id = [1u8; 32];
            id[..8].copy_from_slice(&i.to_be_bytes());
            (100 + i, ObjectId(id))
        }))
    }

    fn queries(frame: &[u8]) -> Vec<pb::RangeQuery> {
        pb::SyncRequest::decode(frame).expect("a request frame").queries
    }

    fn first_query(n: u64) -> pb::RangeQuery {
        let mut client = SyncClient::new(&snapshot(n), SyncLimits::default()).unwrap();
        let mut q = queries(&client.initiate().unwrap());
        assert_eq!(q.len(), 1);
        q.remove(0)
    }

    #[test]
    fn the_first_query_covers_the_whole_key_space_and_fits_what_we_hold() {
        let q = first_query(0);
        assert_eq!((q.lower, q.upper), (None, None));
        assert_eq!(q.query, Some(Query::Pull(pb::RangePull {})));
        match first_query(MAX_IDS_PER_QUERY as u64).query {
            Some(Query::Ids(ids)) => assert_eq!(ids.len(), MAX_IDS_PER_QUERY * 32),
            other => panic!("expected ids, got {other:?}"),
        }
        match first_query(MAX_IDS_PER_QUERY as u64 + 1).query {
            Some(Query::Fingerprint(fp)) => assert_eq!(fp.len(), FINGERPRINT_BYTES),
            other => panic!("expected a fingerprint, got {other:?}"),
        }
    }

    #[test]
    fn calls_out_of_order_are_local_misuse() {
        let mut client = SyncClient::new(&snapshot(3), SyncLimits::default()).unwrap();
        assert!(matches!(client.handle_response(&[]), Err(SyncError::OutOfTurn(_))));
        client.initiate().unwrap();
        assert!(matches!(client.initiate(), Err(SyncError::OutOfTurn(_))));
    }

    #[test]
    fn a_peer_with_one_item_where_we_hold_many_gets_the_range_cut_by_ours() {
        let n = 200;
        let mut client = SyncClient::new(&snapshot(n), SyncLimits::default()).unwrap();
        client.initiate().unwrap();
        // One bucket of one item whose fingerprint is not ours: a split of
        // the peer's could not shrink the range.
        let split = pb::RangeSplit {
            buckets: vec![pb::RangeBucket { upper: None, fingerprint: vec![0; FINGERPRINT_BYTES], count: 1 }],
        };
        let response = pb::SyncResponse {
            replies: vec![pb::RangeReply { reply: Some(pb::range_reply::Reply::Split(split)) }],
            head: None,
        };
        let progress = client.handle_response(&response.encode_to_vec()).unwrap();
        let ClientStep::Request(frame) = progress.next else { panic!("the session goes on") };
        let parts = queries(&frame);
        assert_eq!(parts.len(), BUCKETS);
        // The parts tile the whole key space in order; each holds 12 or 13
        // of our items, few enough to send as ids, all 200 between them.
        assert_eq!(parts[0].lower, None);
        assert_eq!(parts[BUCKETS - 1].upper, None);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].upper, pair[1].lower);
        }
        let ids: Vec<usize> = parts
            .iter()
            .map(|q| match &q.query {
                Some(Query::Ids(ids)) => ids.len() / 32,
                other => panic!("expected ids, got {other:?}"),
            })
            .collect();
        assert!(ids.iter().all(|k| (12..=13).contains(k)), "{ids:?}");
        assert_eq!(ids.iter().sum::<usize>(), n as usize);
    }
}
