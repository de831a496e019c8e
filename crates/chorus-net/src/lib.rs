//! # chorus-net: the peer-to-peer layer of a Chorus node
//!
//! The wire protocol (every protocol id, frame, message, bound, timeout and
//! penalty a peer meets) is specified in `docs/PROTOCOL.md` section 14, with
//! section 13 for heads; these docs describe the implementation.
//!
//! Nodes of one coalition find each other, spread every new signed object to
//! all members by gossip, and catch up on what they missed by reconciling
//! object sets. There is no central server: any member node can bootstrap,
//! relay and serve catch-up.
//!
//! ## Shape
//! [`Network::spawn`] builds a libp2p swarm (TCP+Noise+Yamux and QUIC, or the
//! memory transport in tests) and runs it in one task. Every peer-policy
//! decision (who is a member, rate limits, strikes and bans, hello
//! timeouts, when to sync with whom, whom to dial) is taken by the sans-IO
//! [`service::Service`], which that task feeds with swarm events and the
//! time, and whose outputs it carries out; one table
//! ([`service::judge`]) says what every refusal, sync error and hello
//! refusal costs the peer. A cloneable
//! [`NetworkHandle`] sends it commands over a bounded queue; the application
//! receives [`NetworkEvent`]s on another. Objects are written only through
//! the [`ObjectStore`] trait, whose `ingest` applies chorus-core's rules: the
//! network never stores or forwards anything that did not pass them.
//!
//! ## Identity and membership
//! A node's libp2p key is its own ed25519 node key (not the trust key). A
//! peer proves it is a node of a member trust with a [`NodeAttestation`]
//! signed by that trust over `"chorus/v1/node-attestation\n" || body`; both
//! sides send theirs on `/chorus/hello/1` as soon as a connection opens, and
//! answer only after verifying the other's (strict ed25519, trust in the
//! newest roster version the store's objects define and signed by a known
//! key of it, see [`ObjectStore::keys_of`]; node key = the key the
//! connection authenticated with). Membership is checked at the hello: a
//! trust admitted later is accepted on its next connection. The
//! attestation is a network-layer credential for now; a later protocol
//! version makes node certificates stored objects (kind 9, reserved).
//!
//! A trust revokes one of its node keys by delegating to it with the node
//! scope (`chorus delegate --scope stances,node`) and revoking that
//! delegation (PROTOCOL.md 12.5): a hello attesting node key N for trust T
//! is refused (and the peer banned) when the store holds a node-scope
//! delegation of N by T, signed by a key of T's chain, with at least one
//! counting revocation (12.7), see [`ObjectStore::node_key_revoked`]. After
//! objects are stored, the next housekeeping tick (once a second) checks
//! the verified peers again and bans any whose node key is now revoked. An
//! attestation needs no delegation: a node key never delegated cannot be
//! revoked this way (rotate the trust key to end every attestation it
//! signed, or let attestations expire).
//!
//! Until verified, a peer is a *stranger*: its gossip is judged by content
//! like a member's (and, past `NetLimits::stranger_gossip_budget` messages,
//! each also costs a strike), it is
//! served no sync, its gossipsub application score keeps it below the
//! publish and gossip thresholds (so nothing is sent to it) but above the
//! graylist (so its subscription is remembered for when it verifies), at
//! most `NetLimits::max_strangers` may be connected at once, and it is
//! disconnected after `NetLimits::attestation_timeout`. A peer whose
//! attestation is refused is banned. Only verified peers enter the Kademlia
//! routing table (manual bucket inserts), and a peer that is not a member
//! gets no answer to its DHT requests unless the charter lets observers see
//! everything. A stranger's gossiped copy that is not admissible now is
//! refused, never kept waiting ([`ObjectStore::ingest_admissible`]).
//!
//! ## Observers
//! A node run with [`NodeIdentity::observer`] has no attestation: its hello
//! asks to follow the coalition (`Hello.observe`). A member's node admits it
//! as the charter in force says ([`ObjectStore::observer_access`]): under
//! `Everything` it is sent gossip and served the whole set, under
//! `Positions` it is served [`ObjectStore::observer_served_set`] only,
//! under `None` its hello goes unanswered. Observers are never members,
//! their gossip is dropped unread without penalty (gossipsub's blacklist,
//! before its duplicate cache, so an observer's copy never delays a
//! member's), and they have their own cap, sync rate and serving slots
//! (`docs/PROTOCOL.md` 14.9).
//!
//! ## Gossip
//! One gossipsub topic per coalition, `/chorus/v1/objects/<coalition id>`.
//! Messages are anonymous (no gossipsub signatures: every object is signed
//! already, and checking gossipsub signatures on each copy before dedup
//! tripled tail latency); the message id is defined in `docs/PROTOCOL.md`
//! 14.4. Every message waits for the store's verdict before it is
//! forwarded; 14.4 tables what is forwarded and what each verdict costs the
//! sender (a sender of invalid objects is banned after
//! `NetLimits::max_rejects`). Scoring parameters and why they suit 5 to 3,000
//! members are tabled in the `behaviour` module source. Publishing with no
//! peer is not an error ([`PublishOutcome::Deferred`]): the object is in the
//! store and peers pull it by sync.
//!
//! ## Catch-up
//! [`sync`] (range-based set reconciliation by fingerprints of key ranges,
//! in which ranges the initiator lacks are answered with the objects
//! themselves) runs over `/chorus/sync/2` with a fresh snapshot of the
//! store's items, on connect (once both sides verified each other) and every
//! `NetConfig::sync_interval` with the next member peer in turn (one session
//! per peer; a peer whose session failed is skipped for a back-off that
//! doubles from 5 s up to 10 min). Transfer is
//! pull-only: each node pulls what it lacks. Objects received go through
//! the store's ingest like gossip, and the session's next request waits for
//! them to be stored.
//!
//! ## Split views
//! The first response of every session carries the responder's signed
//! head (its roster version and the count and fingerprint of the set it
//! serves; `docs/PROTOCOL.md` 13). The initiator counts what the session
//! shows against what the head and the splits announced; a peer that shows
//! fewer objects than it announced, names another coalition or claims a
//! roster its objects do not adopt, in two sessions in a row, is reported ([`splitview`]: a warning, [`NetworkEvent::SplitView`],
//! [`NetStatus::split_views`]) until a session shows everything.
//!
//! ## Discovery and self-healing
//! Bootstrap multiaddrs from the configuration, mDNS behind
//! `NetConfig::mdns`, and a private Kademlia DHT (`/chorus/kad/1`) whose
//! walks dial members beyond the bootstrap list until
//! `NetLimits::target_peers` are connected.
//!
//! The node keeps `NetLimits::target_peers` (default 24) verified member
//! peers. It remembers the listen addresses of every peer it verified as a
//! member (256 peers at most, kept after they disconnect, forgotten after an
//! hour of failed dials) besides the bootstrap list, and while it has fewer
//! members than the target, it dials every remembered peer that is not
//! connected, not banned and not being dialled, each with its own back-off:
//! 1 s doubling to a 6 s cap, scaled by a jitter of ±25 % (seeded by the
//! node's peer id), reset when the peer is verified again. Below the target
//! it walks the DHT every 30 s, at it every 5 min. Dead connections are
//! found in bounded time: every connection is pinged every
//! `NetConfig::ping_interval` (2 s) with `NetConfig::ping_timeout` (6 s),
//! and the node closes a connection that answered no ping for
//! `2 s + 6 s = 8 s` (checked every second; libp2p's ping itself reports
//! only the second failure in a row and closes nothing), so a silent cut
//! is noticed within about 9 s; QUIC also sends keep-alives every 2 s and
//! drops a connection that heard nothing for 8 s. A dial fails after
//! `NetConfig::dial_timeout` (10 s) instead of waiting on TCP's SYN
//! retries. After a cut of any length heals, the next dial to each lost
//! member is therefore at most the 7.5 s jittered cap, or the end of a dial
//! still in flight (≤ 10 s), plus a 1 s tick away. A hello that got no
//! answer is sent again twice, each try waiting a third of
//! `NetLimits::attestation_timeout`.
//!
//! ## Limits
//! Every queue is bounded (`NetLimits`): commands, events (dropped and
//! counted when full), gossip awaiting the store (ignored when full; sync
//! brings it later), served sync requests (a semaphore). Per peer: a token
//! bucket for gossip and one for sync requests, connection limits (total,
//! per peer, pending), frame bounds on every request-response protocol
//! (checked before buffering), and strikes for abuse (oversized or
//! malformed sync frames, rate overruns, stranger gossip) leading to a ban.
//! gossipsub's `max_transmit_size` is the largest envelope plus framing.

pub mod attestation;
mod behaviour;
mod codec;
pub mod config;
pub mod error;
mod event_loop;
pub mod hello;
pub mod network;
mod scoped_kad;
pub mod service;
pub mod splitview;
pub mod store;
pub mod sync;
#[cfg(any(test, feature = "test"))]
pub mod testkit;

pub use attestation::{NodeAttestation, NodeIdentity, VerifiedAttestation};
pub use config::{NetConfig, NetLimits, TransportKind};
pub use error::{AttestationError, ConfigError, HelloRefusal, NetError, SyncFailure};
pub use libp2p::{Multiaddr, PeerId};
pub use network::{
    NetStatus, Network, NetworkEvent, NetworkEvents, NetworkHandle, PeerInfo, PublishOutcome, SyncReport, Via,
};
pub use splitview::{SplitEvidence, SplitView};
#[cfg(any(test, feature = "test"))]
pub use store::MemoryStore;
pub use store::{keys_of, now_ms, ObjectStore, ServedSet, StoreFailure};
