//! Errors of the network layer. Each message names what was wrong and what
//! to do about it.

use libp2p::Multiaddr;

/// Why a [`crate::NetConfig`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No listen address and no bootstrap peer: the node could reach no one.
    #[error("no listen address and no bootstrap peer: add a listen address (e.g. /ip4/0.0.0.0/tcp/7700) or a bootstrap multiaddr")]
    Isolated,
    /// A listen address the chosen transport cannot use.
    #[error("listen address {addr} is not usable with the {transport} transport: {reason}")]
    BadListenAddr {
        /// The address.
        addr: Multiaddr,
        /// The configured transport.
        transport: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A limit set to a value that would make the node useless or unbounded.
    #[error("limit {name} = {value} is out of range: {reason}")]
    BadLimit {
        /// The limit's field name.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The accepted range.
        reason: &'static str,
    },
    /// A duration that must be positive is zero.
    #[error("{name} must be longer than zero")]
    ZeroDuration {
        /// The field name.
        name: &'static str,
    },
}

/// Why a node attestation is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// Over the size bound.
    #[error("attestation is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not decodable, or not canonically encoded.
    #[error("malformed attestation: {0}")]
    Malformed(String),
    /// For another coalition.
    #[error("attestation is for coalition {found}, not {expected}: the peer serves another coalition")]
    WrongCoalition {
        /// Our coalition id (hex).
        expected: String,
        /// The one named (hex).
        found: String,
    },
    /// The vouching key is not a member trust.
    #[error("attestation is signed by {0}, which is not a member trust of this coalition")]
    NotAMember(String),
    /// A key field is not an acceptable ed25519 key.
    #[error("attestation {field}: {error}")]
    BadKey {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        error: chorus_core::KeyError,
    },
    /// The signature does not verify under the strict rule.
    #[error("attestation signature by {0} does not verify")]
    BadSignature(String),
    /// The attested node key is not the key the peer authenticated with.
    #[error("attestation is for node key {attested}, but the peer authenticated as {actual}")]
    WrongNode {
        /// Node key in the attestation (hex).
        attested: String,
        /// The peer's actual key or peer id.
        actual: String,
    },
    /// Expired.
    #[error("attestation expired at {expires_at_ms} ms (now {now_ms} ms): the trust must issue a new one")]
    Expired {
        /// Expiry.
        expires_at_ms: u64,
        /// Our clock.
        now_ms: u64,
    },
    /// Issued after it expires.
    #[error("attestation expires ({expires_at_ms} ms) before it is issued ({issued_at_ms} ms)")]
    Inverted {
        /// Issue time.
        issued_at_ms: u64,
        /// Expiry.
        expires_at_ms: u64,
    },
}

/// Why a peer's hello was refused. Every refusal bans the peer (see the
/// service's penalty table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloRefusal {
    /// Over the hello frame bound.
    #[error("hello frame too large ({size} bytes, limit {limit})")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// Not a decodable hello message.
    #[error("malformed hello: {0}")]
    Malformed(String),
    /// A hello without an attestation.
    #[error("hello carries no attestation")]
    NoAttestation,
    /// The attestation did not verify.
    #[error("{0}")]
    Attestation(#[from] AttestationError),
    /// An observer's hello (PROTOCOL.md 14.9) that names another coalition,
    /// or carries an attestation as well.
    #[error("observer hello for another coalition ({observe}) or with an attestation")]
    BadObserve {
        /// The `observe` field, hex.
        observe: String,
    },
    /// The attested node key was delegated by its trust and revoked.
    #[error("node key {node_key} of trust {trust} is revoked")]
    Revoked {
        /// The trust (hex).
        trust: String,
        /// The revoked node key (hex).
        node_key: String,
    },
}

/// Why a sync session this node ran ended early. Only
/// [`SyncFailure::Response`] can be the peer's fault (the penalty table
/// decides which of those are).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncFailure {
    /// The peer's response failed the client's checks.
    #[error("{0}")]
    Response(crate::sync::SyncError),
    /// Starting the session failed on our side (snapshot or client).
    #[error("{0}")]
    Start(String),
    /// The request did not get a response (timeout, closed stream, ...).
    #[error("sync request failed: {0}")]
    Request(String),
    /// Our store failed on the objects received.
    #[error("store failed: {0}")]
    Store(String),
    /// The connection closed during the session.
    #[error("peer disconnected")]
    Disconnected,
    /// The session ran longer than `NetLimits::sync_session_timeout` and was
    /// ended so that the peers waiting for their turn can sync (what it
    /// stored is kept).
    #[error("session ran past its time bound of {} s", .0.as_secs())]
    TimedOut(std::time::Duration),
}

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The configuration was refused.
    #[error("invalid network configuration: {0}")]
    Config(#[from] ConfigError),
    /// Our own attestation is unusable.
    #[error("this node's attestation is unusable: {0}")]
    Attestation(#[from] AttestationError),
    /// The node key could not become a libp2p identity.
    #[error("node key rejected by libp2p: {0}")]
    Identity(String),
    /// Building the transport or a behaviour failed.
    #[error("cannot build the libp2p swarm: {0}")]
    Build(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason} (is the port in use?)")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// The transport's explanation.
        reason: String,
    },
    /// A dial was refused before it started.
    #[error("cannot dial {addr}: {reason}")]
    Dial {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The store failed while reading or writing objects.
    #[error("object store failed: {0}")]
    Store(String),
    /// The object handed to publish is not a well-formed envelope.
    #[error("cannot publish: {0} (publish only envelopes that were stored)")]
    NotAnObject(chorus_core::Rejection),
    /// Gossip refused to send for a reason other than "no peers".
    #[error("gossip publish failed: {0}")]
    Publish(String),
    /// The network task has stopped (after shutdown or a fatal error).
    #[error("the network task is not running (it was shut down or failed)")]
    Stopped,
}
