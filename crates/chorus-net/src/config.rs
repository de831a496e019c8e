//! Network configuration with defaults for a coalition of 5 to 3,000
//! members, and its validation.

use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;

use crate::error::ConfigError;

/// Which transports the node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// TCP with Noise and Yamux, and QUIC v1: what real nodes use.
    TcpQuic,
    /// libp2p's in-process memory transport (`/memory/<port>` addresses),
    /// with Noise and Yamux: for tests and simulations of many nodes in one
    /// process.
    Memory,
}

impl TransportKind {
    fn name(self) -> &'static str {
        match self {
            TransportKind::TcpQuic => "tcp+quic",
            TransportKind::Memory => "memory",
        }
    }
}

/// Bounds on everything a peer can make this node hold or do. Every queue
/// is bounded by one of these; nothing grows with what peers send.
#[derive(Clone, Debug, PartialEq)]
pub struct NetLimits {
    /// Most established connections in total.
    pub max_connections: u32,
    /// Most established connections to one peer (TCP and QUIC at once, plus a
    /// simultaneous dial).
    pub max_connections_per_peer: u32,
    /// Most incoming connections still handshaking.
    pub max_pending_incoming: u32,
    /// Most outgoing dials in progress.
    pub max_pending_outgoing: u32,
    /// Most connected peers that have not (yet) proved membership; further
    /// strangers are disconnected at once.
    pub max_strangers: u32,
    /// How long a peer may stay connected without proving membership.
    pub attestation_timeout: Duration,
    /// Gossip messages accepted per second from one peer, sustained.
    pub gossip_per_sec: u32,
    /// Gossip messages one peer may send in a burst.
    pub gossip_burst: u32,
    /// Sync requests served per second to one peer, sustained.
    pub sync_requests_per_sec: u32,
    /// Sync requests one peer may send in a burst.
    pub sync_burst: u32,
    /// Sync requests this node serves at once (all peers together); more
    /// are refused until one finishes.
    pub max_concurrent_serves: usize,
    /// Strikes (refused sync requests, protocol violations, gossip from a
    /// stranger beyond [`NetLimits::stranger_gossip_budget`]) before a peer is
    /// disconnected and banned.
    pub max_strikes: u32,
    /// Gossip messages ignored from a peer that has not proved membership
    /// before it earns a strike each.
    pub stranger_gossip_budget: u32,
    /// Most admitted observers connected at once (PROTOCOL.md 14.9); they
    /// never take member or stranger places. A further observer's hello is
    /// left unanswered and it is disconnected.
    pub max_observers: u32,
    /// Sync requests served per second to one observer, sustained.
    pub observer_sync_requests_per_sec: u32,
    /// Sync requests one observer may send in a burst.
    pub observer_sync_burst: u32,
    /// Sync requests served to observers at once (all observers together),
    /// besides and never out of [`NetLimits::max_concurrent_serves`], so
    /// observers cannot starve members.
    pub max_concurrent_observer_serves: usize,
    /// Member peers this node tries to stay connected to. Below this it
    /// redials known members and bootstrap peers (with back-off) and walks
    /// the DHT every 30 s; discovery (Kademlia, mDNS) dials new peers only
    /// while fewer peers than this are connected.
    pub target_peers: usize,
    /// Rejected objects (verdict Reject) from one peer before it is
    /// disconnected and banned for [`NetLimits::ban_duration`].
    pub max_rejects: u32,
    /// How long a banned peer stays banned.
    pub ban_duration: Duration,
    /// Objects waiting for the store; when full, new gossip is ignored (sync
    /// brings it later) rather than queued without bound.
    pub ingest_queue: usize,
    /// Commands from handles waiting for the event loop.
    pub command_queue: usize,
    /// Events waiting for the application; when full, events are dropped
    /// and counted, never allowed to stall the network.
    pub event_queue: usize,
    /// Longest a sync session this node initiated may run before it is
    /// ended as failed. It runs one such session at a time (see
    /// `service::schedule`), so this bounds how long a slow peer can hold up
    /// the peers waiting for their turn; what the session stored is kept.
    pub sync_session_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            max_connections: 400,
            max_connections_per_peer: 3,
            max_pending_incoming: 64,
            max_pending_outgoing: 64,
            max_strangers: 32,
            attestation_timeout: Duration::from_secs(10),
            gossip_per_sec: 200,
            gossip_burst: 2_000,
            sync_requests_per_sec: 20,
            sync_burst: 100,
            max_concurrent_serves: 8,
            max_strikes: 20,
            stranger_gossip_budget: 64,
            max_observers: 16,
            observer_sync_requests_per_sec: 2,
            observer_sync_burst: 10,
            max_concurrent_observer_serves: 2,
            target_peers: 24,
            max_rejects: 10,
            ban_duration: Duration::from_secs(3600),
            ingest_queue: 4096,
            command_queue: 256,
            event_queue: 4096,
            sync_session_timeout: Duration::from_secs(120),
        }
    }
}

/// Everything the network layer needs besides keys and the store.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// Transports to run.
    pub transport: TransportKind,
    /// Addresses to listen on, e.g. `/ip4/0.0.0.0/tcp/7700` and
    /// `/ip4/0.0.0.0/udp/7700/quic-v1`; port 0 picks a free port.
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers dialled at start and, with back-off, whenever the node has fewer
    /// members than [`NetLimits::target_peers`]. An address ending in
    /// `/p2p/<peer id>` also seeds Kademlia.
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Find members beyond the bootstrap list with Kademlia.
    pub kademlia: bool,
    /// How often to reconcile with one connected member (besides on connect).
    pub sync_interval: Duration,
    /// Gossipsub heartbeat (mesh maintenance and gossip emission).
    pub heartbeat_interval: Duration,
    /// Delay before the first heartbeat; short values let a fresh node form
    /// its mesh sooner.
    pub heartbeat_initial_delay: Duration,
    /// How long an idle connection is kept.
    pub idle_connection_timeout: Duration,
    /// How often each connection is pinged. A connection that answered no
    /// ping for `ping_interval + ping_timeout` is closed (checked every
    /// second), so a dead connection is noticed within that and a second.
    /// QUIC's keep-alive is sent this often too.
    pub ping_interval: Duration,
    /// How long a ping may wait for its answer. QUIC closes a connection
    /// that received nothing for `ping_interval + ping_timeout`.
    pub ping_timeout: Duration,
    /// How long a dial may take, connection and handshakes together, before
    /// it fails (so a dial during a network cut does not hang on TCP's SYN
    /// retries for minutes).
    pub dial_timeout: Duration,
    /// Bounds and rates.
    pub limits: NetLimits,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            transport: TransportKind::TcpQuic,
            listen_addrs: vec![
                "/ip4/0.0.0.0/tcp/7700".parse().expect("literal multiaddr"),
                "/ip4/0.0.0.0/udp/7700/quic-v1".parse().expect("literal multiaddr"),
            ],
            bootstrap: Vec::new(),
            mdns: false,
            kademlia: true,
            sync_interval: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_initial_delay: Duration::from_secs(1),
            idle_connection_timeout: Duration::from_secs(300),
            ping_interval: Duration::from_secs(2),
            ping_timeout: Duration::from_secs(6),
            dial_timeout: Duration::from_secs(10),
            limits: NetLimits::default(),
        }
    }
}

impl NetConfig {
    /// TCP and QUIC on 127.0.0.1 with OS-chosen ports: for tests and devnets.
    pub fn loopback() -> Self {
        NetConfig {
            listen_addrs: vec![
                "/ip4/127.0.0.1/tcp/0".parse().expect("literal multiaddr"),
                "/ip4/127.0.0.1/udp/0/quic-v1".parse().expect("literal multiaddr"),
            ],
            heartbeat_initial_delay: Duration::from_millis(100),
            heartbeat_interval: Duration::from_millis(500),
            ..NetConfig::default()
        }
    }

    /// The in-process memory transport on a random port: for tests and
    /// simulations.
    pub fn memory() -> Self {
        NetConfig {
            transport: TransportKind::Memory,
            listen_addrs: vec!["/memory/0".parse().expect("literal multiaddr")],
            heartbeat_initial_delay: Duration::from_millis(100),
            heartbeat_interval: Duration::from_millis(500),
            ..NetConfig::default()
        }
    }

    /// Checks that the configuration can work: reachable, addresses match
    /// the transport, limits in range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen_addrs.is_empty() && self.bootstrap.is_empty() {
            return Err(ConfigError::Isolated);
        }
        for addr in &self.listen_addrs {
            let first = addr.iter().next();
            let ok = match (self.transport, first) {
                (TransportKind::Memory, Some(Protocol::Memory(_))) => true,
                (TransportKind::TcpQuic, Some(Protocol::Ip4(_) | Protocol::Ip6(_))) => {
                    addr.iter().any(|p| matches!(p, Protocol::Tcp(_) | Protocol::QuicV1))
                }
                _ => false,
            };
            if !ok {
                return Err(ConfigError::BadListenAddr {
                    addr: addr.clone(),
                    transport: self.transport.name(),
                    reason: match self.transport {
                        TransportKind::Memory => "expected /memory/<port>",
                        TransportKind::TcpQuic => {
                            "expected /ip4|ip6/<ip>/tcp/<port> or /ip4|ip6/<ip>/udp/<port>/quic-v1"
                        }
                    },
                });
            }
        }
        for (name, d) in [
            ("sync_interval", self.sync_interval),
            ("heartbeat_interval", self.heartbeat_interval),
            ("idle_connection_timeout", self.idle_connection_timeout),
            ("ping_interval", self.ping_interval),
            ("ping_timeout", self.ping_timeout),
            ("dial_timeout", self.dial_timeout),
            ("limits.attestation_timeout", self.limits.attestation_timeout),
            ("limits.ban_duration", self.limits.ban_duration),
            ("limits.sync_session_timeout", self.limits.sync_session_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration { name });
            }
        }
        for (name, d) in [
            ("ping_interval", self.ping_interval),
            ("ping_timeout", self.ping_timeout),
            ("dial_timeout", self.dial_timeout),
        ] {
            if d > Duration::from_secs(120) {
                let value = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                return Err(ConfigError::BadLimit { name, value, reason: "at most 120000 ms" });
            }
        }
        let l = &self.limits;
        let ranges: [(&'static str, u64, u64, u64, &'static str); 21] = [
            ("max_connections", l.max_connections.into(), 1, 100_000, "1..=100000"),
            ("max_connections_per_peer", l.max_connections_per_peer.into(), 1, 16, "1..=16"),
            ("max_pending_incoming", l.max_pending_incoming.into(), 1, 10_000, "1..=10000"),
            ("max_pending_outgoing", l.max_pending_outgoing.into(), 1, 10_000, "1..=10000"),
            ("max_strangers", l.max_strangers.into(), 1, 10_000, "1..=10000"),
            ("gossip_per_sec", l.gossip_per_sec.into(), 1, 1_000_000, "1..=1000000"),
            ("gossip_burst", l.gossip_burst.into(), 1, 10_000_000, "1..=10000000"),
            ("sync_requests_per_sec", l.sync_requests_per_sec.into(), 1, 100_000, "1..=100000"),
            ("sync_burst", l.sync_burst.into(), 1, 1_000_000, "1..=1000000"),
            ("max_concurrent_serves", l.max_concurrent_serves as u64, 1, 1024, "1..=1024"),
            ("max_strikes", l.max_strikes.into(), 1, 1_000_000, "1..=1000000"),
            ("stranger_gossip_budget", l.stranger_gossip_budget.into(), 0, 1_000_000, "0..=1000000"),
            ("max_observers", l.max_observers.into(), 0, 10_000, "0..=10000"),
            ("observer_sync_requests_per_sec", l.observer_sync_requests_per_sec.into(), 1, 100_000, "1..=100000"),
            ("observer_sync_burst", l.observer_sync_burst.into(), 1, 1_000_000, "1..=1000000"),
            ("max_concurrent_observer_serves", l.max_concurrent_observer_serves as u64, 1, 1024, "1..=1024"),
            ("target_peers", l.target_peers as u64, 1, 10_000, "1..=10000"),
            ("max_rejects", l.max_rejects.into(), 1, 1_000_000, "1..=1000000"),
            ("ingest_queue", l.ingest_queue as u64, 16, 10_000_000, "16..=10000000"),
            ("command_queue", l.command_queue as u64, 1, 1_000_000, "1..=1000000"),
            ("event_queue", l.event_queue as u64, 1, 10_000_000, "1..=10000000"),
        ];
        for (name, value, min, max, reason) in ranges {
            if value < min || value > max {
                return Err(ConfigError::BadLimit { name, value, reason });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        NetConfig::default().validate().unwrap();
        NetConfig::loopback().validate().unwrap();
        NetConfig::memory().validate().unwrap();
    }

    #[test]
    fn mismatched_addresses_and_limits_are_refused() {
        let mut c = NetConfig::memory();
        c.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
        assert!(matches!(c.validate(), Err(ConfigError::BadListenAddr { .. })));
        let mut c = NetConfig::loopback();
        c.limits.max_connections = 0;
        assert!(matches!(c.validate(), Err(ConfigError::BadLimit { name: "max_connections", .. })));
        let mut c = NetConfig::loopback();
        c.listen_addrs.clear();
        assert_eq!(c.validate(), Err(ConfigError::Isolated));
        let mut c = NetConfig::loopback();
        c.sync_interval = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::ZeroDuration { name: "sync_interval" })));
        let mut c = NetConfig::loopback();
        c.ping_timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::ZeroDuration { name: "ping_timeout" })));
        let mut c = NetConfig::loopback();
        c.dial_timeout = Duration::from_secs(600);
        assert!(matches!(c.validate(), Err(ConfigError::BadLimit { name: "dial_timeout", .. })));
    }
}
