//! A Chorus peer written from `docs/PROTOCOL.md` section 14 alone: libp2p
//! (TCP, Noise, Yamux, gossipsub, ping, identify, request-response), the
//! generated protobuf types of `chorus-proto`, SHA-256, and the constants
//! the document gives. Nothing of `chorus-net` or of `chorus-core`'s
//! network code is used, so what this peer needs and the document does not
//! say is a gap in the document.
//!
//! The peer runs its swarm on a thread of its own (the tests around it block
//! on processes); the test drives it with [`SpecPeer`]'s methods and reads
//! what happened as [`Seen`] events.

#![allow(dead_code)] // each test file uses part of it

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use prost::Message as _;
use sha2::{Digest, Sha256};

/// 14, protocol table: the hello protocol id.
pub const HELLO_PROTOCOL: &str = "/chorus/hello/1";
/// 14, protocol table: the sync protocol id.
pub const SYNC_PROTOCOL: &str = "/chorus/sync/2";
/// 14.2: a hello frame (request or response) is at most this many bytes.
pub const MAX_HELLO_BYTES: usize = 2_048;
/// 14.2: a sync request frame is at most this many bytes.
pub const MAX_SYNC_REQUEST_BYTES: usize = 287_808;
/// 14.2: a sync response frame is at most this many bytes.
pub const MAX_SYNC_RESPONSE_BYTES: usize = 5_243_012;
/// 14.4: the topic, followed by the coalition id in 64 lower-case hex digits.
pub const TOPIC_PREFIX: &str = "/chorus/v1/objects/";
/// 14.4: the largest gossipsub RPC read or written.
pub const MAX_TRANSMIT_SIZE: usize = 114_688;
/// 14.6: identify's protocol version (not checked by the reference node).
pub const IDENTIFY_PROTOCOL: &str = "/chorus/1.0.0";
/// 14.3: the signing input of an attestation starts with these bytes.
pub const ATTESTATION_PREFIX: &[u8] = b"chorus/v1/node-attestation\n";

/// The topic of a coalition (14.4).
pub fn topic(coalition: &[u8; 32]) -> IdentTopic {
    // 14.4: "The topic hash on the wire is the topic string itself (not
    // hashed)": an identity topic.
    IdentTopic::new(format!("{TOPIC_PREFIX}{}", hex(coalition)))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// 14.4: the message id is SHA-256 of the message's data, the exact
/// envelope bytes.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::new(&sha256(&message.data))
}

/// The frames of the hello and sync protocols (14.2): a 4-byte big-endian
/// length, then the message; the writer closes its half after one frame
/// (libp2p's request-response closes the stream after writing a request or
/// a response). Requests and responses are the raw frame bodies, each with
/// its protocol's bound.
#[derive(Clone, Default)]
pub struct FrameCodec {
    request_bound: usize,
    response_bound: usize,
}

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T, bound: usize) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > bound {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame of {len} bytes over {bound}")));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    body: &[u8],
    bound: usize,
) -> std::io::Result<()> {
    if body.len() > bound {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame over its bound"));
    }
    io.write_all(&(body.len() as u32).to_be_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        read_frame(io, self.request_bound).await
    }
    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        read_frame(io, self.response_bound).await
    }
    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Vec<u8>,
    ) -> std::io::Result<()> {
        write_frame(io, &req, self.request_bound).await
    }
    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> std::io::Result<()> {
        write_frame(io, &res, self.response_bound).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    hello: request_response::Behaviour<FrameCodec>,
    // 14.5: pull-only; this peer requests and serves nothing.
    sync: request_response::Behaviour<FrameCodec>,
    // 14.7: a node MUST answer ping.
    ping: ping::Behaviour,
    // 14.6: a node SHOULD run identify.
    identify: identify::Behaviour,
}

/// What the peer saw, in order.
#[derive(Debug)]
pub enum Seen {
    /// A connection to `peer` is established.
    Connected(PeerId),
    /// Every connection to `peer` is closed.
    Closed(PeerId),
    /// The peer answered our hello request with this frame.
    HelloAnswer(PeerId, Vec<u8>),
    /// Our hello request was not answered (closed unanswered, timed out,
    /// not supported): the reason libp2p gives.
    HelloUnanswered(PeerId, String),
    /// The peer sent us a hello request with this frame (we answered it with
    /// our own hello).
    HelloRequest(PeerId, Vec<u8>),
    /// The answer to our sync request.
    SyncAnswer(PeerId, Vec<u8>),
    /// Our sync request was not answered: the reason libp2p gives.
    SyncUnanswered(PeerId, String),
    /// `peer` subscribed to a topic (its string).
    Subscribed(PeerId, String),
    /// A gossip message: propagation source, message id, data.
    Message(PeerId, Vec<u8>, Vec<u8>),
    /// A publish failed.
    PublishFailed(String),
}

enum Command {
    Dial(Multiaddr),
    Hello(PeerId),
    Publish(Vec<u8>),
    Sync(PeerId, Vec<u8>),
}

/// A running spec peer; its thread ends when it is dropped.
pub struct SpecPeer {
    /// Its peer id.
    pub peer_id: PeerId,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    seen: std_mpsc::Receiver<Seen>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SpecPeer {
    /// A peer that follows `coalition` as an observer: its hello (sent by
    /// [`SpecPeer::hello`], and given in answer to a node's hello request)
    /// is `Hello { observe: coalition }` (net.proto, field 2), and it
    /// subscribes to the coalition's topic. Received messages are not
    /// forwarded (validated Ignore), as an observer relays nothing.
    pub fn observer(coalition: [u8; 32]) -> SpecPeer {
        let hello = chorus_proto::v1::Hello { attestation: None, observe: coalition.to_vec() }.encode_to_vec();
        SpecPeer::start(coalition, hello)
    }

    fn start(coalition: [u8; 32], hello: Vec<u8>) -> SpecPeer {
        let key = identity::Keypair::generate_ed25519();
        let peer_id = key.public().to_peer_id();
        let (commands, mut command_rx) = tokio::sync::mpsc::unbounded_channel();
        let (seen_tx, seen) = std_mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let mut swarm = build_swarm(key, &coalition);
                loop {
                    tokio::select! {
                        cmd = command_rx.recv() => match cmd {
                            None => return,
                            Some(Command::Dial(addr)) => {
                                if let Err(e) = swarm.dial(addr) {
                                    let _ = seen_tx.send(Seen::HelloUnanswered(PeerId::random(), format!("dial: {e}")));
                                }
                            }
                            Some(Command::Hello(peer)) => {
                                swarm.behaviour_mut().hello.send_request(&peer, hello.clone());
                            }
                            Some(Command::Sync(peer, request)) => {
                                swarm.behaviour_mut().sync.send_request(&peer, request);
                            }
                            Some(Command::Publish(data)) => {
                                if let Err(e) = swarm.behaviour_mut().gossipsub.publish(topic(&coalition), data) {
                                    let _ = seen_tx.send(Seen::PublishFailed(e.to_string()));
                                }
                            }
                        },
                        event = swarm.select_next_some() => {
                            if let Some(s) = handle(&mut swarm, event, &hello) {
                                if seen_tx.send(s).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
            });
        });
        SpecPeer { peer_id, commands, seen, thread: Some(thread) }
    }

    /// Dials `addr` (a multiaddr ending in `/p2p/<peer id>`).
    pub fn dial(&self, addr: &str) {
        let addr: Multiaddr = addr.parse().expect("a multiaddr");
        self.commands.send(Command::Dial(addr)).expect("peer running");
    }

    /// Sends our hello request to `peer` (14.3: on each new connection).
    pub fn hello(&self, peer: PeerId) {
        self.commands.send(Command::Hello(peer)).expect("peer running");
    }

    /// Sends `peer` one sync request frame (a `SyncRequest`, 14.5).
    pub fn sync(&self, peer: PeerId, request: Vec<u8>) {
        self.commands.send(Command::Sync(peer, request)).expect("peer running");
    }

    /// Publishes `data` on the coalition's topic.
    pub fn publish(&self, data: Vec<u8>) {
        self.commands.send(Command::Publish(data)).expect("peer running");
    }

    /// The next event, if one comes within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Seen> {
        self.seen.recv_timeout(timeout).ok()
    }

    /// Events until `f` returns `Some` (the others are passed to `f` and
    /// dropped), or panics after `patience` naming `what` and what was seen.
    pub fn wait_for<T>(&self, what: &str, patience: Duration, mut f: impl FnMut(&Seen) -> Option<T>) -> T {
        let deadline = Instant::now() + patience;
        let mut log = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(s) => {
                    if let Some(v) = f(&s) {
                        return v;
                    }
                    log.push(format!("{s:?}"));
                }
                Err(_) => panic!("spec peer: gave up waiting for {what} after {patience:?}; saw:\n{}", log.join("\n")),
            }
        }
    }
}

impl SpecPeer {
    /// Waits until `node` has answered our hello and told us its
    /// subscription to the coalition's topic (in either order); its hello
    /// answer frame. Panics if it leaves the hello unanswered or closes the
    /// connection first.
    pub fn joined(&self, node: PeerId, coalition: &[u8; 32]) -> Vec<u8> {
        let topic = topic(coalition).hash().into_string();
        let (mut answer, mut subscribed) = (None, false);
        self.wait_for("the node's answer to our hello and its subscription", Duration::from_secs(15), |s| {
            match s {
                Seen::HelloAnswer(p, frame) if *p == node => answer = Some(frame.clone()),
                Seen::Subscribed(p, t) if *p == node && *t == topic => subscribed = true,
                Seen::HelloUnanswered(p, why) if *p == node => panic!("the node left our hello unanswered: {why}"),
                Seen::Closed(p) if *p == node => panic!("the node closed the connection"),
                _ => {}
            }
            (answer.is_some() && subscribed).then_some(())
        });
        answer.expect("answered")
    }
}

impl Drop for SpecPeer {
    fn drop(&mut self) {
        let (tx, _) = tokio::sync::mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.commands, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn build_swarm(key: identity::Keypair, coalition: &[u8; 32]) -> Swarm<Behaviour> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .expect("tcp transport")
        .with_behaviour(|key| {
            // 14.4: anonymous messages (no from, seqno, signature, key),
            // validated in anonymous mode; message id = SHA-256(data);
            // RPCs up to 114,688 bytes; we validate before forwarding.
            // 14.9: an observer SHOULD subscribe and not graft (a member
            // answers an observer's GRAFT with a PRUNE): a mesh of 0 peers,
            // so the peer receives flood publishes and answers IHAVE with
            // IWANT, and grafts no one.
            let config = gossipsub::ConfigBuilder::default()
                .mesh_n(0)
                .mesh_n_low(0)
                .mesh_n_high(0)
                .mesh_outbound_min(0)
                .validation_mode(ValidationMode::Anonymous)
                .message_id_fn(message_id)
                .max_transmit_size(MAX_TRANSMIT_SIZE)
                .validate_messages()
                .build()
                .expect("gossipsub config");
            let gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config).expect("gossipsub");
            let hello = request_response::Behaviour::with_codec(
                FrameCodec { request_bound: MAX_HELLO_BYTES, response_bound: MAX_HELLO_BYTES },
                [(StreamProtocol::new(HELLO_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
            );
            let sync = request_response::Behaviour::with_codec(
                FrameCodec { request_bound: MAX_SYNC_REQUEST_BYTES, response_bound: MAX_SYNC_RESPONSE_BYTES },
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Outbound)],
                request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
            );
            let identify = identify::Behaviour::new(identify::Config::new(IDENTIFY_PROTOCOL.into(), key.public()));
            Behaviour { gossipsub, hello, sync, ping: ping::Behaviour::default(), identify }
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    swarm.behaviour_mut().gossipsub.subscribe(&topic(coalition)).expect("subscribe");
    swarm
}

fn handle(swarm: &mut Swarm<Behaviour>, event: SwarmEvent<BehaviourEvent>, hello: &[u8]) -> Option<Seen> {
    match event {
        SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
            // 14.3: a node MUST send its hello request on each new
            // connection to a peer (the reference node: on the first only).
            if num_established.get() == 1 {
                swarm.behaviour_mut().hello.send_request(&peer_id, hello.to_vec());
            }
            Some(Seen::Connected(peer_id))
        }
        SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => Some(Seen::Closed(peer_id)),
        SwarmEvent::Behaviour(BehaviourEvent::Hello(e)) => match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    let _ = swarm.behaviour_mut().hello.send_response(channel, hello.to_vec());
                    Some(Seen::HelloRequest(peer, request))
                }
                request_response::Message::Response { response, .. } => Some(Seen::HelloAnswer(peer, response)),
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                Some(Seen::HelloUnanswered(peer, error.to_string()))
            }
            _ => None,
        },
        SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => match e {
            request_response::Event::Message {
                peer,
                message: request_response::Message::Response { response, .. },
                ..
            } => Some(Seen::SyncAnswer(peer, response)),
            request_response::Event::OutboundFailure { peer, error, .. } => {
                Some(Seen::SyncUnanswered(peer, error.to_string()))
            }
            _ => None,
        },
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(e)) => match e {
            gossipsub::Event::Message { propagation_source, message_id, message } => {
                // An observer forwards nothing (and a test peer vouches for
                // nothing): Ignore, which neither forwards nor penalises.
                let _ = swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    MessageAcceptance::Ignore,
                );
                Some(Seen::Message(propagation_source, message_id.0, message.data))
            }
            gossipsub::Event::Subscribed { peer_id, topic } => Some(Seen::Subscribed(peer_id, topic.into_string())),
            _ => None,
        },
        _ => None,
    }
}
