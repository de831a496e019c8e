//! The libp2p behaviours a node runs, gossipsub's scoring parameters, and
//! swarm construction for each transport. The protocol ids, the gossip
//! topic and message id, and the settings a peer meets are specified in
//! `docs/PROTOCOL.md` section 14.
//!
//! ## Gossip scoring, for coalitions of 5 to 3,000 members
//! One topic carries every object of the coalition. Objects are rare (a
//! coalition may be silent for hours) and each is either valid for everyone
//! or invalid for everyone (chorus-core decides, with no local judgement), so
//! the parameters reward staying and punish invalid objects, and never
//! punish silence:
//!
//! | parameter | value | why |
//! |---|---|---|
//! | mesh D / D_low / D_high / D_out | 6 / 4 / 12 / 2 | log-diameter spread at 3,000 nodes (≈5 hops), and with 5 members everyone is in everyone's mesh |
//! | flood_publish | on | the author sends to every member peer above the publish threshold: one hop for most of a small coalition |
//! | time_in_mesh | weight 0.01/s, cap 3,600 s (≤ +36) | stable peers gain a little, not enough to hide misbehaviour |
//! | first_message_deliveries | weight 1, cap 50, decays to 10 % in 1 min | reward for being first with a new object |
//! | mesh_message_deliveries, mesh_failure_penalty | weight 0 | silence is normal; penalising under-delivery would evict honest peers of quiet coalitions |
//! | invalid_message_deliveries | weight −20, decays to 10 % in 1 h | counted squared: 1 invalid object → −20 (below the gossip threshold), 2 → −80 (graylisted) |
//! | app-specific score | weight 1; strangers −60, member nodes 0, observers −5 (everything) or −60 (positions) | observers that may see everything sit between 0 and the gossip threshold: flood publishing and `IHAVE` reach them, the mesh never takes them; strangers sit below the publish and gossip thresholds: we send them no objects, yet still see their subscriptions (so they join the mesh once verified) and judge their gossip by content; a stranger's valid objects earn it no first-delivery credit, so it stays there |
//! | IDONTWANT | never sent (size threshold = largest RPC) | gossipsub sends it when a message arrives, before validation: an observer's ignored copy would stop mesh peers from forwarding the valid one |
//! | behaviour penalty | weight −10, threshold 6, decay 0.9/s | spam of GRAFT/IHAVE without follow-up |
//! | IP colocation | weight −5 beyond 10 peers per IP; loopback exempt | several trusts may share a hosting provider, a flood of Sybils from one address may not |
//! | thresholds gossip / publish / graylist | −10 / −50 / −80 | libp2p's defaults, consistent with the weights above |
//! | accept PX / opportunistic graft | 100 / 5 | peer exchange off (discovery is Kademlia among members) |
//!
//! On top of gossipsub's own score, the peer service counts Reject verdicts
//! per peer and bans a peer after `NetLimits::max_rejects` (or once its
//! score falls below the graylist), so a peer that keeps sending invalid
//! objects is disconnected deterministically.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use libp2p::core::transport::{MemoryTransport, Transport};
use libp2p::core::upgrade;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, identity, kad, mdns, noise, ping, request_response, tcp,
    yamux, PeerId, StreamProtocol, Swarm, SwarmBuilder,
};
use sha2::{Digest, Sha256};

use crate::codec::FrameCodec;
use crate::config::{NetConfig, TransportKind};
use crate::error::NetError;
use crate::sync::{MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES};

/// Protocol of the attestation exchange.
pub(crate) const HELLO_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/hello/1");
/// Protocol of catch-up sync.
pub(crate) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/sync/2");
/// Kademlia protocol: a private DHT of Chorus nodes, not the IPFS one.
pub(crate) const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/chorus/kad/1");
/// Largest hello frame.
pub(crate) const MAX_HELLO_BYTES: usize = 2048;
/// Application score of a peer that has not proved membership (weighted 1).
pub(crate) const STRANGER_SCORE: f64 = -60.0;
/// Application score of an observer that is sent gossip (the charter says
/// everything): above the gossip and publish thresholds, so it is sent new
/// objects by flood publishing and `IHAVE`, and below 0, so it is never
/// grafted into the mesh: observers forward nothing and take no member's
/// mesh place.
pub(crate) const OBSERVER_SCORE: f64 = -5.0;
/// Below this gossipsub score a peer is graylisted by gossipsub (its RPCs are
/// ignored), and the peer service bans it.
pub(crate) const GRAYLIST_THRESHOLD: f64 = -80.0;
/// Headroom over the largest envelope for gossipsub's own framing.
const GOSSIP_FRAMING: usize = 16 * 1024;
/// Largest gossipsub RPC read or written; no message is larger.
const MAX_GOSSIP_RPC: usize = chorus_core::limits::MAX_ENVELOPE_BYTES + GOSSIP_FRAMING;

/// Everything a node runs on each connection.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) blocklist: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) hello: request_response::Behaviour<FrameCodec>,
    pub(crate) sync: request_response::Behaviour<FrameCodec>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) kad: Toggle<crate::scoped_kad::ScopedKad>,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
}

/// The gossip topic of a coalition: its id in hex under a versioned prefix,
/// so nodes of different coalitions never share a mesh.
pub(crate) fn topic_for(coalition: &chorus_core::CoalitionId) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("/chorus/v1/objects/{}", coalition.to_hex()))
}

/// Message id = SHA-256 of the message's bytes as carried (the whole
/// envelope, signatures included). Not the object id, which covers only the
/// kind and body: a copy with a broken or other signature has an id of its
/// own, so it cannot make gossip's duplicate cache drop the valid copy.
/// Identical bytes are still delivered and validated once. Parses nothing.
pub(crate) fn message_id(data: &[u8]) -> gossipsub::MessageId {
    gossipsub::MessageId::from(Sha256::digest(data).to_vec())
}

fn score_params(topic: &gossipsub::IdentTopic) -> gossipsub::PeerScoreParams {
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 3600.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(60)),
        first_message_deliveries_cap: 50.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -20.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(3600)),
        ..gossipsub::TopicScoreParams::default()
    };
    let mut params = gossipsub::PeerScoreParams {
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: -5.0,
        ip_colocation_factor_threshold: 10.0,
        ip_colocation_factor_whitelist: HashSet::from([IpAddr::V4(Ipv4Addr::LOCALHOST)]),
        behaviour_penalty_weight: -10.0,
        behaviour_penalty_threshold: 6.0,
        behaviour_penalty_decay: 0.9,
        retain_score: Duration::from_secs(3600),
        ..gossipsub::PeerScoreParams::default()
    };
    params.topics.insert(topic.hash(), topic_params);
    params
}

fn score_thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds {
        gossip_threshold: -10.0,
        publish_threshold: -50.0,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 100.0,
        opportunistic_graft_threshold: 5.0,
    }
}

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

fn make_behaviour(
    key: &identity::Keypair,
    config: &NetConfig,
    topic: &gossipsub::IdentTopic,
) -> Result<Behaviour, BoxErr> {
    let peer_id = key.public().to_peer_id();
    let l = &config.limits;
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(l.max_connections))
            .with_max_established_per_peer(Some(l.max_connections_per_peer))
            .with_max_pending_incoming(Some(l.max_pending_incoming))
            .with_max_pending_outgoing(Some(l.max_pending_outgoing)),
    );

    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| message_id(&m.data))
        .max_transmit_size(MAX_GOSSIP_RPC)
        // Never send IDONTWANT: gossipsub sends it on a message's arrival,
        // before validation, so an observer's ignored copy would stop mesh
        // peers forwarding the valid one to us.
        .idontwant_message_size_threshold(MAX_GOSSIP_RPC)
        .heartbeat_interval(config.heartbeat_interval)
        .heartbeat_initial_delay(config.heartbeat_initial_delay)
        .mesh_n(6)
        .mesh_n_low(4)
        .mesh_n_high(12)
        .mesh_outbound_min(2)
        .flood_publish(true)
        .duplicate_cache_time(Duration::from_secs(300))
        .build()?;
    let mut gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?;
    gossipsub.with_peer_score(score_params(topic), score_thresholds())?;
    gossipsub.subscribe(topic)?;

    let rr_config =
        |timeout| request_response::Config::default().with_request_timeout(timeout).with_max_concurrent_streams(16);
    let hello = request_response::Behaviour::with_codec(
        FrameCodec::new(MAX_HELLO_BYTES, MAX_HELLO_BYTES),
        [(HELLO_PROTOCOL, request_response::ProtocolSupport::Full)],
        rr_config(hello_timeout(l.attestation_timeout)),
    );
    let sync = request_response::Behaviour::with_codec(
        FrameCodec::new(MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES),
        [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
        rr_config(Duration::from_secs(30)),
    );
    let identify = identify::Behaviour::new(
        identify::Config::new("/chorus/1.0.0".into(), key.public())
            .with_agent_version(format!("chorus/{}", env!("CARGO_PKG_VERSION"))),
    );
    // libp2p's ping does not close a connection whose pings fail: the event
    // loop does, on a reported failure or when no ping was answered for
    // ping_interval + ping_timeout.
    let ping =
        ping::Behaviour::new(ping::Config::new().with_interval(config.ping_interval).with_timeout(config.ping_timeout));
    let kad = if config.kademlia {
        let mut kc = kad::Config::new(KAD_PROTOCOL);
        // Only peers that proved membership enter the routing table.
        kc.set_kbucket_inserts(kad::BucketInserts::Manual);
        let mut k = kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kc);
        k.set_mode(Some(kad::Mode::Server));
        Some(crate::scoped_kad::ScopedKad::new(k))
    } else {
        None
    };
    let mdns = if config.mdns { Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)?) } else { None };
    Ok(Behaviour {
        limits,
        blocklist: allow_block_list::Behaviour::default(),
        gossipsub,
        hello,
        sync,
        identify,
        ping,
        kad: Toggle::from(kad),
        mdns: Toggle::from(mdns),
    })
}

/// How many times the memory connections of each node (by peer id) were
/// cut, for tests of dead links (`testkit::cut_memory_connections`).
static MEMORY_CUTS: Mutex<BTreeMap<PeerId, Arc<AtomicU64>>> = Mutex::new(BTreeMap::new());

/// The cut counter of node `peer`'s memory connections.
pub(crate) fn memory_cuts(peer: &PeerId) -> Arc<AtomicU64> {
    let mut cuts = MEMORY_CUTS.lock().unwrap_or_else(|e| e.into_inner());
    cuts.entry(*peer).or_default().clone()
}

/// A memory-transport stream that counts the bytes written through it, and
/// goes silent, like a link in a network cut, once its node's connections
/// are cut: reads never complete and writes vanish.
struct Counted<S> {
    inner: S,
    written: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
    /// The node's cut count when this stream opened.
    opened_at_cut: u64,
}

impl<S> Counted<S> {
    fn is_cut(&self) -> bool {
        self.cuts.load(Ordering::Relaxed) != self.opened_at_cut
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.is_cut() {
            return Poll::Ready(Ok(buf.len()));
        }
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.written.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_cut() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// How long our hello waits for its answer: a third of the attestation
/// timeout (at least a second), so the service can send it again twice
/// (`service::MAX_HELLO_RETRIES`) before an unverified peer is cut.
pub(crate) fn hello_timeout(attestation_timeout: Duration) -> Duration {
    (attestation_timeout / (crate::service::MAX_HELLO_RETRIES + 1)).max(Duration::from_secs(1))
}

/// QUIC's keep-alive is the ping interval, and a QUIC connection that
/// received nothing for a ping interval and a ping timeout is closed.
fn quic_config(mut quic: libp2p::quic::Config, config: &NetConfig) -> libp2p::quic::Config {
    quic.keep_alive_interval = config.ping_interval;
    let idle = config.ping_interval + config.ping_timeout;
    quic.max_idle_timeout = u32::try_from(idle.as_millis()).unwrap_or(u32::MAX);
    quic
}

/// Builds the swarm for the configured transport. For the memory transport,
/// `written` counts every byte this node writes to its connections. Every
/// dial and every incoming handshake fails after `NetConfig::dial_timeout`.
pub(crate) fn build_swarm(
    key: identity::Keypair,
    config: &NetConfig,
    topic: &gossipsub::IdentTopic,
    written: Arc<AtomicU64>,
) -> Result<Swarm<Behaviour>, NetError> {
    let build = |e: &dyn std::fmt::Display| NetError::Build(e.to_string());
    let idle = config.idle_connection_timeout;
    let swarm = match config.transport {
        TransportKind::TcpQuic => SwarmBuilder::with_existing_identity(key)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(|e| build(&e))?
            .with_quic_config(|quic| quic_config(quic, config))
            .with_behaviour(|key| make_behaviour(key, config, topic))
            .map_err(|e| build(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .with_connection_timeout(config.dial_timeout)
            .build(),
        TransportKind::Memory => {
            let cuts = memory_cuts(&key.public().to_peer_id());
            SwarmBuilder::with_existing_identity(key)
                .with_tokio()
                .with_other_transport(|key| -> Result<_, BoxErr> {
                    Ok(MemoryTransport::default()
                        .map(move |stream, _| {
                            let opened_at_cut = cuts.load(Ordering::Relaxed);
                            Counted { inner: stream, written: written.clone(), cuts: cuts.clone(), opened_at_cut }
                        })
                        .upgrade(upgrade::Version::V1)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(yamux::Config::default()))
                })
                .map_err(|e| build(&e))?
                .with_behaviour(|key| make_behaviour(key, config, topic))
                .map_err(|e| build(&e))?
                .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
                .with_connection_timeout(config.dial_timeout)
                .build()
        }
    };
    Ok(swarm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_the_hash_of_the_bytes_carried() {
        let k = chorus_core::Keypair::from_seed(&[1; 32]);
        let env = chorus_core::Envelope::sign(chorus_core::Kind::Proposal, vec![1, 2, 3], &[&k]);
        let id = message_id(env.bytes());
        assert_eq!(id.0, Sha256::digest(env.bytes()).to_vec());
        let copy: Vec<u8> = env.bytes().to_vec();
        assert_eq!(id, message_id(&copy), "same bytes, same id");
        // Not the object id: that covers kind and body only.
        assert_ne!(id.0, env.id().as_bytes().to_vec());
        // A copy of the same object with a broken signature has the same
        // object id but another message id.
        let mut sig = env.signatures()[0].clone();
        sig.signature[0] ^= 1;
        let broken = chorus_core::Envelope::assemble(chorus_core::Kind::Proposal, env.body().to_vec(), vec![sig]);
        assert_eq!(broken.id(), env.id());
        assert_ne!(message_id(broken.bytes()), id);
        // Anything else is hashed too.
        assert_eq!(message_id(b"junk").0, Sha256::digest(b"junk").to_vec());
        assert_eq!(message_id(b"").0.len(), 32);
    }

    #[test]
    fn score_parameters_are_valid() {
        let topic = topic_for(&chorus_core::ObjectId([7; 32]));
        score_params(&topic).validate().unwrap();
        score_thresholds().validate().unwrap();
        // A stranger sits below publish and gossip thresholds but above graylist.
        let t = score_thresholds();
        assert!(STRANGER_SCORE < t.publish_threshold && STRANGER_SCORE > t.graylist_threshold);
        // An observer is sent gossip but never grafted (only scores ≥ 0 are).
        assert!(OBSERVER_SCORE > t.gossip_threshold && OBSERVER_SCORE > t.publish_threshold && OBSERVER_SCORE < 0.0);
    }
}
