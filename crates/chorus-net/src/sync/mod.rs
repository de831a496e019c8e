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
//! ## The protocol
//! The sync protocol is specified in `docs/PROTOCOL.md` section 14.5
//! (items, keys and ranges; fingerprints; the wire format; what a
//! responder answers and refuses; the checks on a response; the bounds),
//! with the framing of 14.2, the heads of section 13 and the peer policy
//! of 14.8. That section is normative; these docs only map it onto the
//! code. The constants it names are this module's: [`FINGERPRINT_BYTES`],
//! [`BUCKETS`], [`MAX_IDS_PER_QUERY`], [`MAX_QUERIES_PER_REQUEST`],
//! [`RESPONSE_SOFT_BYTES`], [`MAX_SYNC_REQUEST_BYTES`],
//! [`MAX_SYNC_RESPONSE_BYTES`], [`MAX_SIGNED_HEAD_BYTES`], and the
//! reference client's own [`DEFAULT_MAX_ROUND_TRIPS`] and
//! [`MAX_PENDING_RANGES`].
//!
//! ## In the code
//! The initiator runs a [`SyncClient`] over its [`SyncSnapshot`] (after
//! [`SyncClient::ask_head`] for the peer's node key): [`SyncClient::initiate`]
//! gives the first request frame, and each response goes to
//! [`SyncClient::handle_response`], which returns the objects the response
//! carried and the next request frame, or [`ClientStep::Done`]. The
//! responder answers each request frame with [`SyncServer::handle_request`]
//! (or [`SyncServer::handle_request_with_head`], which signs a head only
//! when one is sent) from its snapshot and store. [`SyncSnapshot`] keeps
//! prefix sums of the ids, so any range's fingerprint costs two binary
//! searches and one hash. The client reports `have` ([`SyncClient::have`],
//! [`SyncStats::have`]) but never pushes those objects. The envelopes it
//! returns are shape-checked ([`Envelope::decode`](chorus_core::Envelope::decode))
//! but not validated: the caller hands them to the store's ingest. An
//! envelope whose decoding fails with verdict Ignore is dropped and counted
//! ([`SyncStats::ignored`]). [`SyncClient::withheld`] and
//! [`crate::splitview`] apply section 13's checks. Every way a frame or a
//! session fails is a [`SyncError`]; [`SyncError::is_peer_fault`] says
//! whether the peer is to blame (PROTOCOL.md 14.8 says what it costs). No
//! input panics; after any error the client's session is over.
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
