//! # chorus-net: the peer-to-peer layer of a Chorus node
//!
//! Nodes of one coalition find each other, spread every new signed object to
//! all members by gossip, and catch up on what they missed by reconciling
//! object sets. There is no central server: any member node can bootstrap,
//! relay and serve catch-up.
//!
//! ## Shape
//! [`Network::spawn`] builds a libp2p swarm (TCP+Noise+Yamux and QUIC, or the
//! memory transport in tests) and runs it in one task. A cloneable
//! [`NetworkHandle`] sends it commands over a bounded queue; the application
//! receives [`NetworkEvent`]s on another. Objects are written only through
//! the [`ObjectStore`] trait, whose `ingest` applies chorus-core's rules: the
//! network never stores or forwards anything that did not pass them.
//!
//! ## Membership
//! See [`attestation`]: a peer proves it is a node of a member trust with a
//! [`NodeAttestation`] signed by that trust; until then it is a stranger.
//! The attestation is a network-layer credential for now; a later protocol
//! version makes node certificates stored objects (kind 9, reserved).

pub mod attestation;
mod behaviour;
mod codec;
pub mod config;
pub mod error;
mod event_loop;
pub mod network;
mod ratelimit;
pub mod store;
pub mod sync;

pub use attestation::{NodeAttestation, NodeIdentity, VerifiedAttestation};
pub use config::{NetConfig, NetLimits, TransportKind};
pub use error::{AttestationError, ConfigError, NetError};
pub use libp2p::{Multiaddr, PeerId};
pub use network::{
    NetStatus, Network, NetworkEvent, NetworkEvents, NetworkHandle, PeerInfo, PublishOutcome, SyncReport, Via,
};
pub use store::{now_ms, MemoryStore, ObjectStore, StoreFailure};
