//! Catch-up sync: range-based set reconciliation of two nodes' object sets,
//! then a bounded transfer of exactly the objects one side lacks.
//!
//! Sans-IO: every type here takes frames as bytes and returns frames as
//! bytes; the libp2p request-response protocol `/chorus/sync/1` only carries
//! them. Nothing here touches a socket, a clock or the disk.
//!
//! ## How a catch-up runs
//! 1. Both sides build a [`SyncSnapshot`] from the store's
//!    `sync_items()`: one `(created_at_ms, object id)` item per stored object.
//!    A snapshot is immutable and cheap to clone; rebuild it when the store
//!    has changed (building one for 100,000 items costs a few milliseconds,
//!    see `benches/catchup.rs`).
//! 2. The initiator runs a [`SyncClient`]: [`SyncClient::initiate`] gives the
//!    first request frame; each response goes to
//!    [`SyncClient::handle_response`], which gives the next request frame or
//!    [`ClientStep::Done`]. The responder answers each frame with
//!    [`SyncServer::handle_request`]. Reconciliation is negentropy (protocol
//!    version 1, 32-byte ids, timestamps in ms), whose traffic grows with the
//!    size of the difference, not of the sets: identical sets settle in one
//!    round trip of a few hundred bytes.
//! 3. The client now knows `need` (ids the peer holds and we lack) and `have`
//!    (ids we hold and the peer lacks). A [`Fetcher`] pulls the `need`
//!    objects in bounded batches; [`Fetcher::handle_response`] returns
//!    shape-checked [`Envelope`]s, which the caller still validates with
//!    `Coalition::validate` and stores like any other input.
//!
//! **Transfer is pull-only.** `have` is reported (in [`SyncStats`] and
//! [`SyncClient::have`]) but never pushed: the peer receives those objects
//! when it runs its own catch-up against us, which every node does
//! periodically with its peers. Pull keeps the responder's side a pure
//! function of its snapshot and the request, and means a node never receives
//! objects it did not ask for outside gossip, whose validation already
//! exists.
//!
//! The responder keeps no state between requests: a negentropy reply depends
//! only on the snapshot and the query, and a fetch reply only on the store.
//!
//! ## Wire format
//! Frames are protobuf messages of `proto/chorus/v1/sync.proto`: a request
//! frame is the encoding of a `SyncRequest` (variant `reconcile`: a negentropy
//! message; variant `fetch`: a `FetchRequest` with up to [`MAX_FETCH_IDS`]
//! 32-byte ids) and a response frame is the encoding of a `SyncResponse` with
//! the matching variant (a negentropy message, or a `FetchResponse` carrying
//! exact envelope bytes in request order and `answered`, the number of
//! requested ids it settles). One request frame gets one response frame.
//!
//! ## Bounds
//! | bound | value |
//! |---|---|
//! | request frame | [`MAX_SYNC_REQUEST_BYTES`] |
//! | response frame | [`MAX_SYNC_RESPONSE_BYTES`] |
//! | negentropy message in a frame | [`MAX_RECONCILE_PAYLOAD_BYTES`] (senders cut at [`SyncLimits::frame_size_limit`], at most [`MAX_NEGENTROPY_FRAME_LIMIT`]) |
//! | ids per fetch | [`MAX_FETCH_IDS`] |
//! | envelope bytes per fetch response | [`FETCH_RESPONSE_SOFT_BYTES`], exceeded only by a single envelope |
//! | round trips per reconciliation | [`SyncLimits::max_round_trips`] |
//!
//! A frame over a bound, undecodable, of the wrong variant or breaking the
//! protocol yields a [`SyncError`] for which [`SyncError::is_peer_fault`] is
//! true: the caller penalises or disconnects the peer. No input panics.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES;
use chorus_core::{Envelope, ObjectId, Rejection, Verdict};
use chorus_proto::v1 as pb;
use negentropy::{Bound, Id, Item, Negentropy, NegentropyStorageBase, NegentropyStorageVector};
use prost::Message;

/// Largest negentropy frame limit a sender may use, in bytes. Also the
/// default: larger frames mean fewer round trips for large differences.
pub const MAX_NEGENTROPY_FRAME_LIMIT: u64 = 512 * 1024;
/// Smallest negentropy frame limit (a bound of the negentropy crate).
pub const MIN_NEGENTROPY_FRAME_LIMIT: u64 = 4096;
/// Largest negentropy message a receiver accepts in one frame. negentropy
/// may overshoot its frame limit by a few hundred bytes while closing a
/// frame, so receivers allow some slack over [`MAX_NEGENTROPY_FRAME_LIMIT`].
pub const MAX_RECONCILE_PAYLOAD_BYTES: usize = MAX_NEGENTROPY_FRAME_LIMIT as usize + 8 * 1024;
/// Most ids one fetch request may carry.
pub const MAX_FETCH_IDS: usize = 1024;
/// Envelope bytes after which a fetch response stops adding envelopes. A
/// response holds at least one envelope when the responder has the first id
/// asked for, so a single envelope larger than this still gets through.
pub const FETCH_RESPONSE_SOFT_BYTES: usize = 1024 * 1024;
/// Protobuf framing allowance per frame (tags and length prefixes).
const FRAME_OVERHEAD: usize = 64;
/// Protobuf framing per repeated `bytes` element: tag and a length varint.
const PER_ELEMENT_OVERHEAD: usize = 1 + 5;
/// Largest request frame, in bytes.
pub const MAX_SYNC_REQUEST_BYTES: usize = max_usize(
    MAX_RECONCILE_PAYLOAD_BYTES + FRAME_OVERHEAD,
    MAX_FETCH_IDS * (32 + PER_ELEMENT_OVERHEAD) + FRAME_OVERHEAD,
);
/// Largest response frame, in bytes: a full reconcile message, or a fetch
/// response filled to [`FETCH_RESPONSE_SOFT_BYTES`] plus one envelope of the
/// largest kind.
pub const MAX_SYNC_RESPONSE_BYTES: usize = max_usize(
    MAX_RECONCILE_PAYLOAD_BYTES + FRAME_OVERHEAD,
    FETCH_RESPONSE_SOFT_BYTES + MAX_GENESIS_ENVELOPE_BYTES + PER_ELEMENT_OVERHEAD + FRAME_OVERHEAD,
);
/// Default bound on round trips of one reconciliation. A full mismatch of
/// one million objects needs about 32 MB of ids, i.e. about 64 frames of
/// 512 KiB; anything far beyond is a peer stringing us along.
pub const DEFAULT_MAX_ROUND_TRIPS: u32 = 256;

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
        /// Which frame or part.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not a decodable frame of the expected message.
    #[error("malformed sync {what}: {detail}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A response of the wrong variant for the request it answers.
    #[error("sync response has the wrong variant: expected {expected}, got {found}")]
    WrongVariant {
        /// The variant that was due.
        expected: &'static str,
        /// The variant received.
        found: &'static str,
    },
    /// negentropy refused a message (bad encoding, bad range, bad mode).
    #[error("negentropy reconciliation failed on the peer's message: {0}")]
    Reconcile(String),
    /// The peer answered with a negentropy protocol version we do not speak.
    #[error("the peer does not speak negentropy protocol version 1 (0x61): upgrade one of the nodes")]
    UnsupportedVersion,
    /// The peer kept the reconciliation going past the round-trip bound.
    #[error("reconciliation did not finish within {limit} round trips: the peer is not converging; try another peer")]
    TooManyRoundTrips {
        /// The bound.
        limit: u32,
    },
    /// A fetch request with too many ids.
    #[error("fetch request asks for {count} objects, over the limit of {limit} per request")]
    TooManyIds {
        /// Ids asked for.
        count: usize,
        /// The bound.
        limit: usize,
    },
    /// An id in a fetch request is not 32 bytes.
    #[error("id {index} of the fetch request is {len} bytes; object ids are 32 bytes")]
    BadId {
        /// Its position in the request.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A fetch request names the same id twice.
    #[error("fetch request asks for object {0} twice")]
    DuplicateId(ObjectId),
    /// A fetch response settles more ids than were asked for.
    #[error("fetch response settles {answered} ids, but {requested} were requested")]
    AnsweredTooMany {
        /// `answered` in the response.
        answered: u32,
        /// How many were requested.
        requested: usize,
    },
    /// A fetch response carries more envelopes than ids it settles.
    #[error("fetch response carries {envelopes} envelopes but settles only {answered} ids")]
    TooManyEnvelopes {
        /// Envelopes carried.
        envelopes: usize,
        /// `answered` in the response.
        answered: u32,
    },
    /// A fetch response settles none of the ids asked for.
    #[error("fetch response settles none of the {requested} ids requested: the peer makes no progress")]
    NoProgress {
        /// How many were requested.
        requested: usize,
    },
    /// A fetch response carries an object that was not asked for (or not
    /// among the ids it settles), or carries one twice, or out of order.
    #[error("fetch response carries object {0}, which was not requested there: responses hold requested objects once each, in request order")]
    Unrequested(ObjectId),
    /// A fetch response carries an envelope that is not a valid envelope.
    #[error("fetch response carries an invalid envelope: {0}")]
    BadEnvelope(Rejection),
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
    /// A failure inside negentropy on our own data (no peer fault); a bug.
    #[error("negentropy failed on local data: {0}")]
    Local(String),
}

impl SyncError {
    /// True when the peer's frame caused the error: the caller should
    /// penalise or disconnect the peer. False for local misuse or bugs.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, SyncError::OutOfTurn(_) | SyncError::BadLimit { .. } | SyncError::Local(_))
    }
}

fn local(e: negentropy::Error) -> SyncError {
    SyncError::Local(e.to_string())
}

/// Limits of one side of a sync session. [`SyncLimits::default`] is the
/// protocol's recommended setting; lower values are for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncLimits {
    /// Size at which negentropy cuts the messages we send, in bytes;
    /// between [`MIN_NEGENTROPY_FRAME_LIMIT`] and [`MAX_NEGENTROPY_FRAME_LIMIT`].
    pub frame_size_limit: u64,
    /// Most ids per fetch request we send; 1 to [`MAX_FETCH_IDS`].
    pub max_ids_per_fetch: usize,
    /// Envelope bytes after which our fetch responses stop adding envelopes;
    /// 1 to [`FETCH_RESPONSE_SOFT_BYTES`].
    pub fetch_response_bytes: usize,
    /// Most round trips one reconciliation we initiate may take; at least 1.
    pub max_round_trips: u32,
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            frame_size_limit: MAX_NEGENTROPY_FRAME_LIMIT,
            max_ids_per_fetch: MAX_FETCH_IDS,
            fetch_response_bytes: FETCH_RESPONSE_SOFT_BYTES,
            max_round_trips: DEFAULT_MAX_ROUND_TRIPS,
        }
    }
}

impl SyncLimits {
    /// Checks every limit is within the protocol's range, so that everything
    /// we send stays within what peers accept.
    pub fn validate(&self) -> Result<(), SyncError> {
        if !(MIN_NEGENTROPY_FRAME_LIMIT..=MAX_NEGENTROPY_FRAME_LIMIT).contains(&self.frame_size_limit) {
            return Err(SyncError::BadLimit {
                name: "frame_size_limit",
                value: self.frame_size_limit,
                reason: "must be 4096 to 524288 bytes",
            });
        }
        if !(1..=MAX_FETCH_IDS).contains(&self.max_ids_per_fetch) {
            return Err(SyncError::BadLimit {
                name: "max_ids_per_fetch",
                value: self.max_ids_per_fetch as u64,
                reason: "must be 1 to 1024",
            });
        }
        if !(1..=FETCH_RESPONSE_SOFT_BYTES).contains(&self.fetch_response_bytes) {
            return Err(SyncError::BadLimit {
                name: "fetch_response_bytes",
                value: self.fetch_response_bytes as u64,
                reason: "must be 1 to 1048576 bytes",
            });
        }
        if self.max_round_trips == 0 {
            return Err(SyncError::BadLimit { name: "max_round_trips", value: 0, reason: "must be at least 1" });
        }
        Ok(())
    }
}

/// A sealed, immutable view of a node's object set for reconciliation: one
/// item `(created_at_ms, id)` per object, sorted, duplicates removed.
/// Cloning shares the items, so one snapshot can serve many sessions at
/// once; build a new one when the store changes.
#[derive(Debug, Clone)]
pub struct SyncSnapshot {
    storage: Arc<NegentropyStorageVector>,
    len: usize,
}

impl SyncSnapshot {
    /// Builds a snapshot from items in any order (the store gives them
    /// sorted by `(time, id)`, which makes sealing cheaper).
    pub fn new<I: IntoIterator<Item = (u64, ObjectId)>>(items: I) -> Result<Self, SyncError> {
        let items = items.into_iter();
        let mut storage = NegentropyStorageVector::with_capacity(items.size_hint().0);
        for (created_at_ms, id) in items {
            storage.insert(created_at_ms, Id::from_byte_array(id.0)).map_err(local)?;
        }
        storage.seal().map_err(local)?;
        let len = storage.size().map_err(local)?;
        Ok(SyncSnapshot { storage: Arc::new(storage), len })
    }

    /// Number of distinct items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn shared(&self) -> SharedStorage {
        SharedStorage(Arc::clone(&self.storage))
    }
}

/// The snapshot's storage as negentropy sees it, owned by a session.
#[derive(Debug)]
struct SharedStorage(Arc<NegentropyStorageVector>);

impl NegentropyStorageBase for SharedStorage {
    fn size(&self) -> Result<usize, negentropy::Error> {
        self.0.size()
    }

    fn get_item(&self, i: usize) -> Result<Option<Item>, negentropy::Error> {
        self.0.get_item(i)
    }

    fn iterate(
        &self,
        begin: usize,
        end: usize,
        cb: &mut dyn FnMut(Item, usize) -> Result<bool, negentropy::Error>,
    ) -> Result<(), negentropy::Error> {
        self.0.iterate(begin, end, cb)
    }

    fn find_lower_bound(&self, first: usize, last: usize, value: &Bound) -> usize {
        self.0.find_lower_bound(first, last, value)
    }
}

/// Traffic and outcome of one reconciliation, as seen by the initiator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Responses received (one per request sent and answered).
    pub round_trips: u32,
    /// Bytes of request frames sent.
    pub bytes_sent: u64,
    /// Bytes of response frames received.
    pub bytes_received: u64,
    /// Distinct ids we hold that the peer lacks.
    pub have: usize,
    /// Distinct ids the peer holds that we lack.
    pub need: usize,
}

/// What the initiator does after a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStep {
    /// Send this request frame and pass its response to
    /// [`SyncClient::handle_response`].
    Request(Vec<u8>),
    /// Reconciliation is complete: read [`SyncClient::need`] and
    /// [`SyncClient::have`].
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Fresh,
    Awaiting,
    Done,
    Failed,
}

/// The initiator of a reconciliation. One session per catch-up with one
/// peer; after [`ClientStep::Done`] it holds the difference. After any error
/// the session is finished and must be dropped.
#[derive(Debug)]
pub struct SyncClient {
    engine: Negentropy<'static, SharedStorage>,
    limits: SyncLimits,
    state: ClientState,
    have: Vec<ObjectId>,
    need: Vec<ObjectId>,
    seen_have: HashSet<ObjectId>,
    seen_need: HashSet<ObjectId>,
    stats: SyncStats,
}

impl SyncClient {
    /// A session over `snapshot` (shared, not copied) with our `limits`.
    pub fn new(snapshot: &SyncSnapshot, limits: SyncLimits) -> Result<Self, SyncError> {
        limits.validate()?;
        let engine = Negentropy::owned(snapshot.shared(), limits.frame_size_limit).map_err(local)?;
        Ok(SyncClient {
            engine,
            limits,
            state: ClientState::Fresh,
            have: Vec::new(),
            need: Vec::new(),
            seen_have: HashSet::new(),
            seen_need: HashSet::new(),
            stats: SyncStats::default(),
        })
    }

    /// The first request frame. Call once.
    pub fn initiate(&mut self) -> Result<Vec<u8>, SyncError> {
        if self.state != ClientState::Fresh {
            return Err(SyncError::OutOfTurn("initiate called twice"));
        }
        let message = match self.engine.initiate() {
            Ok(m) => m,
            Err(e) => {
                self.state = ClientState::Failed;
                return Err(local(e));
            }
        };
        self.state = ClientState::Awaiting;
        Ok(self.request_frame(message))
    }

    /// Takes the peer's response to our last request frame: returns the next
    /// request frame, or [`ClientStep::Done`] when the sets are reconciled.
    pub fn handle_response(&mut self, frame: &[u8]) -> Result<ClientStep, SyncError> {
        if self.state != ClientState::Awaiting {
            return Err(SyncError::OutOfTurn("no sync request is awaiting a response"));
        }
        match self.step(frame) {
            Ok(step) => {
                if step == ClientStep::Done {
                    self.state = ClientState::Done;
                }
                Ok(step)
            }
            Err(e) => {
                self.state = ClientState::Failed;
                Err(e)
            }
        }
    }

    fn step(&mut self, frame: &[u8]) -> Result<ClientStep, SyncError> {
        self.stats.bytes_received += frame.len() as u64;
        self.stats.round_trips += 1;
        let payload = decode_reconcile_response(frame)?;
        let mut have_ids = Vec::new();
        let mut need_ids = Vec::new();
        let next = self.engine.reconcile_with_ids(&payload, &mut have_ids, &mut need_ids).map_err(|e| match e {
            negentropy::Error::UnsupportedProtocolVersion => SyncError::UnsupportedVersion,
            other => SyncError::Reconcile(other.to_string()),
        })?;
        for id in have_ids {
            let id = ObjectId(id.to_bytes());
            if self.seen_have.insert(id) {
                self.have.push(id);
            }
        }
        for id in need_ids {
            let id = ObjectId(id.to_bytes());
            if self.seen_need.insert(id) {
                self.need.push(id);
            }
        }
        self.stats.have = self.have.len();
        self.stats.need = self.need.len();
        match next {
            None => Ok(ClientStep::Done),
            Some(message) => {
                if self.stats.round_trips >= self.limits.max_round_trips {
                    return Err(SyncError::TooManyRoundTrips { limit: self.limits.max_round_trips });
                }
                Ok(ClientStep::Request(self.request_frame(message)))
            }
        }
    }

    fn request_frame(&mut self, message: Vec<u8>) -> Vec<u8> {
        let frame = pb::SyncRequest { request: Some(pb::sync_request::Request::Reconcile(message)) }.encode_to_vec();
        self.stats.bytes_sent += frame.len() as u64;
        frame
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

    /// Ids the peer holds that we lack, each once, in discovery order.
    /// Complete only once the session is done.
    pub fn need(&self) -> &[ObjectId] {
        &self.need
    }

    /// Traffic so far.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// Ends the session, giving up its `(have, need)` lists.
    pub fn into_difference(self) -> (Vec<ObjectId>, Vec<ObjectId>) {
        (self.have, self.need)
    }
}

/// The responder of sync sessions: answers reconcile and fetch frames from
/// its snapshot and store. Keeps no per-peer state, so one server serves any
/// number of peers at once; replace it (or its snapshot) when the store
/// changes.
#[derive(Debug, Clone)]
pub struct SyncServer {
    snapshot: SyncSnapshot,
    limits: SyncLimits,
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

    /// Answers one request frame with one response frame. `lookup` returns
    /// the exact stored envelope bytes of an object, or `None` if it is not
    /// held (a store read error should be logged by the caller and reported
    /// as `None`: the requester asks again elsewhere). An error means the
    /// request was bad: nothing is answered and the peer is at fault.
    pub fn handle_request<F>(&self, frame: &[u8], lookup: F) -> Result<Vec<u8>, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
    {
        if frame.len() > MAX_SYNC_REQUEST_BYTES {
            return Err(SyncError::FrameTooLarge { what: "request", size: frame.len(), limit: MAX_SYNC_REQUEST_BYTES });
        }
        let request = pb::SyncRequest::decode(frame)
            .map_err(|e| SyncError::Malformed { what: "request", detail: e.to_string() })?;
        let response = match request.request {
            None => {
                return Err(SyncError::Malformed { what: "request", detail: "no variant set".into() });
            }
            Some(pb::sync_request::Request::Reconcile(query)) => {
                pb::sync_response::Response::Reconcile(self.reconcile(&query)?)
            }
            Some(pb::sync_request::Request::Fetch(fetch)) => {
                pb::sync_response::Response::Fetch(self.fetch(fetch, lookup)?)
            }
        };
        Ok(pb::SyncResponse { response: Some(response) }.encode_to_vec())
    }

    fn reconcile(&self, query: &[u8]) -> Result<Vec<u8>, SyncError> {
        if query.len() > MAX_RECONCILE_PAYLOAD_BYTES {
            return Err(SyncError::FrameTooLarge {
                what: "reconcile message",
                size: query.len(),
                limit: MAX_RECONCILE_PAYLOAD_BYTES,
            });
        }
        let mut engine = Negentropy::owned(self.snapshot.shared(), self.limits.frame_size_limit).map_err(local)?;
        engine.reconcile(query).map_err(|e| SyncError::Reconcile(e.to_string()))
    }

    fn fetch<F>(&self, request: pb::FetchRequest, mut lookup: F) -> Result<pb::FetchResponse, SyncError>
    where
        F: FnMut(&ObjectId) -> Option<Vec<u8>>,
    {
        let ids = decode_fetch_ids(&request.ids)?;
        let mut envelopes = Vec::new();
        let mut bytes = 0usize;
        let mut answered = 0u32;
        for id in &ids {
            if let Some(envelope) = lookup(id) {
                // Always serve the first envelope found, so a response makes
                // progress whatever the size of one object.
                if !envelopes.is_empty() && bytes + envelope.len() > self.limits.fetch_response_bytes {
                    break;
                }
                bytes += envelope.len();
                envelopes.push(envelope);
            }
            answered += 1;
        }
        Ok(pb::FetchResponse { envelopes, answered })
    }
}

fn decode_reconcile_response(frame: &[u8]) -> Result<Vec<u8>, SyncError> {
    let response = decode_response(frame)?;
    match response {
        pb::sync_response::Response::Reconcile(payload) => {
            if payload.len() > MAX_RECONCILE_PAYLOAD_BYTES {
                return Err(SyncError::FrameTooLarge {
                    what: "reconcile message",
                    size: payload.len(),
                    limit: MAX_RECONCILE_PAYLOAD_BYTES,
                });
            }
            Ok(payload)
        }
        pb::sync_response::Response::Fetch(_) => Err(SyncError::WrongVariant { expected: "reconcile", found: "fetch" }),
    }
}

fn decode_response(frame: &[u8]) -> Result<pb::sync_response::Response, SyncError> {
    if frame.len() > MAX_SYNC_RESPONSE_BYTES {
        return Err(SyncError::FrameTooLarge { what: "response", size: frame.len(), limit: MAX_SYNC_RESPONSE_BYTES });
    }
    let response = pb::SyncResponse::decode(frame)
        .map_err(|e| SyncError::Malformed { what: "response", detail: e.to_string() })?;
    response.response.ok_or_else(|| SyncError::Malformed { what: "response", detail: "no variant set".into() })
}

fn decode_fetch_ids(raw: &[Vec<u8>]) -> Result<Vec<ObjectId>, SyncError> {
    if raw.len() > MAX_FETCH_IDS {
        return Err(SyncError::TooManyIds { count: raw.len(), limit: MAX_FETCH_IDS });
    }
    let mut seen = HashSet::with_capacity(raw.len());
    let mut ids = Vec::with_capacity(raw.len());
    for (index, bytes) in raw.iter().enumerate() {
        let id = ObjectId::from_slice(bytes).ok_or(SyncError::BadId { index, len: bytes.len() })?;
        if !seen.insert(id) {
            return Err(SyncError::DuplicateId(id));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Traffic and outcome of an object transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Fetch requests answered.
    pub round_trips: u32,
    /// Bytes of request frames sent.
    pub bytes_sent: u64,
    /// Bytes of response frames received.
    pub bytes_received: u64,
    /// Envelopes received (shape-checked, as requested).
    pub delivered: usize,
    /// Bytes of those envelopes.
    pub envelope_bytes: u64,
    /// Ids the peer settled without serving them (it no longer has them).
    pub unavailable: usize,
    /// Envelopes dropped without blame: kinds of a newer protocol version.
    pub ignored: usize,
}

/// Pulls objects by id from one peer in bounded batches: one request in
/// flight at a time; ids the peer did not get to are asked for again.
#[derive(Debug)]
pub struct Fetcher {
    queue: VecDeque<ObjectId>,
    in_flight: Vec<ObjectId>,
    limits: SyncLimits,
    unavailable: Vec<ObjectId>,
    stats: FetchStats,
}

impl Fetcher {
    /// A transfer of `need` (duplicates are skipped) with our `limits`.
    pub fn new<I: IntoIterator<Item = ObjectId>>(need: I, limits: SyncLimits) -> Result<Self, SyncError> {
        limits.validate()?;
        let mut seen = HashSet::new();
        let queue = need.into_iter().filter(|id| seen.insert(*id)).collect();
        Ok(Fetcher { queue, in_flight: Vec::new(), limits, unavailable: Vec::new(), stats: FetchStats::default() })
    }

    /// The next request frame, or `None` when nothing is left to ask for or
    /// a request is still awaiting its response.
    pub fn next_request(&mut self) -> Option<Vec<u8>> {
        if !self.in_flight.is_empty() || self.queue.is_empty() {
            return None;
        }
        let n = self.queue.len().min(self.limits.max_ids_per_fetch);
        self.in_flight = self.queue.drain(..n).collect();
        let ids = self.in_flight.iter().map(|id| id.0.to_vec()).collect();
        let frame = pb::SyncRequest { request: Some(pb::sync_request::Request::Fetch(pb::FetchRequest { ids })) }
            .encode_to_vec();
        self.stats.bytes_sent += frame.len() as u64;
        Some(frame)
    }

    /// Takes the response to the request in flight and returns the
    /// envelopes it carries, decoded and shape-checked, each one an object
    /// that was asked for. Their signatures and rules are *not* checked yet:
    /// pass them to `Coalition::validate` (or the store's ingest). On error
    /// the ids in flight are given up for this peer (see
    /// [`Fetcher::abandon`]).
    pub fn handle_response(&mut self, frame: &[u8]) -> Result<Vec<Envelope>, SyncError> {
        if self.in_flight.is_empty() {
            return Err(SyncError::OutOfTurn("no fetch request is awaiting a response"));
        }
        let requested = std::mem::take(&mut self.in_flight);
        self.stats.bytes_received += frame.len() as u64;
        self.stats.round_trips += 1;
        match self.settle(frame, &requested) {
            Ok(envelopes) => Ok(envelopes),
            Err(e) => {
                self.unavailable.extend(requested);
                self.stats.unavailable = self.unavailable.len();
                Err(e)
            }
        }
    }

    fn settle(&mut self, frame: &[u8], requested: &[ObjectId]) -> Result<Vec<Envelope>, SyncError> {
        let fetch = match decode_response(frame)? {
            pb::sync_response::Response::Fetch(fetch) => fetch,
            pb::sync_response::Response::Reconcile(_) => {
                return Err(SyncError::WrongVariant { expected: "fetch", found: "reconcile" })
            }
        };
        let answered = fetch.answered as usize;
        if answered > requested.len() {
            return Err(SyncError::AnsweredTooMany { answered: fetch.answered, requested: requested.len() });
        }
        if answered == 0 {
            return Err(SyncError::NoProgress { requested: requested.len() });
        }
        if fetch.envelopes.len() > answered {
            return Err(SyncError::TooManyEnvelopes { envelopes: fetch.envelopes.len(), answered: fetch.answered });
        }
        let settled = &requested[..answered];
        // Envelopes come in request order: walk the settled ids once.
        let mut cursor = 0usize;
        let mut envelopes = Vec::with_capacity(fetch.envelopes.len());
        let mut ignored = 0usize;
        for bytes in &fetch.envelopes {
            let envelope = match Envelope::decode(bytes) {
                Ok(envelope) => envelope,
                Err(rejection) if rejection.verdict() == Verdict::Ignore => {
                    ignored += 1;
                    continue;
                }
                Err(rejection) => return Err(SyncError::BadEnvelope(rejection)),
            };
            let id = envelope.id();
            match settled[cursor..].iter().position(|r| *r == id) {
                Some(offset) => cursor += offset + 1,
                None => return Err(SyncError::Unrequested(id)),
            }
            envelopes.push(envelope);
        }
        let delivered: HashSet<ObjectId> = envelopes.iter().map(|e| e.id()).collect();
        self.unavailable.extend(settled.iter().filter(|id| !delivered.contains(id)));
        // Ids past `answered` were not reached: ask again, first.
        for id in requested[answered..].iter().rev() {
            self.queue.push_front(*id);
        }
        self.stats.delivered += envelopes.len();
        self.stats.envelope_bytes += envelopes.iter().map(|e| e.bytes().len() as u64).sum::<u64>();
        self.stats.ignored += ignored;
        self.stats.unavailable = self.unavailable.len();
        Ok(envelopes)
    }

    /// Gives up the ids still queued or in flight (e.g. the peer
    /// disconnected) and returns them, to be fetched from another peer.
    pub fn abandon(&mut self) -> Vec<ObjectId> {
        let mut left: Vec<ObjectId> = std::mem::take(&mut self.in_flight);
        left.extend(self.queue.drain(..));
        left
    }

    /// True when nothing is queued or in flight.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Ids still to ask for (queued, not in flight).
    pub fn remaining(&self) -> usize {
        self.queue.len()
    }

    /// Ids the peer did not serve: settled without an envelope, carried in
    /// an envelope of a kind we do not know, or in flight when a response
    /// was bad.
    pub fn unavailable(&self) -> &[ObjectId] {
        &self.unavailable
    }

    /// Traffic so far.
    pub fn stats(&self) -> FetchStats {
        self.stats
    }
}
