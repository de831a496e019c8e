//! A seeded simulation of 50 member nodes' peer services against each
//! other, plus strangers that never say hello and two forgers, on virtual
//! time: message latency, dropped hellos and sync responses, and node
//! restarts. No swarm, no runtime, no sleep: a timed queue of inputs.
//!
//! Invariants checked:
//! - no honest member is ever banned by an honest member;
//! - every connection from a stranger is closed within the attestation
//!   timeout, plus one tick and the link latency;
//! - every honest member completes a sync with someone;
//! - every forger is banned by the members it sent forgeries to, and every
//!   ban ends when it expires;
//! - no node ever runs two sessions with one peer at once.
//!
//! A second scenario, without drops or restarts, cuts a group of members
//! off from the rest (connections across the cut die and are noticed after
//! the ping bound; dials across it time out) for a short and for a long
//! time, and checks that after the heal every member that was at its
//! target of member peers is back at it within a bound that does not
//! depend on how long the cut lasted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, SplitMix, T0};
use chorus_core::{Admission, Keypair, ObjectId, Rejection};
use chorus_net::attestation::peer_id_of;
use chorus_net::service::{Gossiped, HelloExchange, Input, Millis, Output, Service};
use chorus_net::VerifiedAttestation;
use chorus_net::{Multiaddr, NetConfig, NetworkEvent, NodeAttestation, PeerId, SyncFailure, SyncReport, Via};
use libp2p::gossipsub::MessageId;

fn message_id(object: u64) -> MessageId {
    MessageId::from(object.to_be_bytes().to_vec())
}

/// The seed of the run; `CHORUS_SIM_SEED` (decimal or 0x-hex) replaces it
/// to explore others.
const SEED: u64 = 0x00c0_ffee_2026_1204;
const MEMBERS: usize = 50;
const FORGERS: usize = 2;
const STRANGERS: usize = 5;
/// Virtual time simulated.
const DURATION_MS: u64 = 20 * 60 * 1000;
const TICK_MS: u64 = 1_000;
const LATENCY_MS: u64 = 40;
/// A request that gets no answer fails after this (libp2p's request
/// timeout for hellos).
const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Our hello fails after this (`NetLimits::attestation_timeout` / 3).
const HELLO_TIMEOUT_MS: u64 = 3_333;
/// A dial across a cut fails after this (`NetConfig::dial_timeout`).
const DIAL_TIMEOUT_MS: u64 = 10_000;
/// A connection across a cut is closed after this
/// (`ping_interval + ping_timeout` and a housekeeping tick).
const DEAD_LINK_MS: u64 = 9_000;
/// One message in this many is dropped.
const DROP_ONE_IN: u64 = 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Honest,
    /// A member node that gossips forged objects.
    Forger,
    /// Never says hello; dials members now and then.
    Stranger,
}

struct Node {
    id: PeerId,
    addr: Multiaddr,
    role: Role,
    attestation: Option<VerifiedAttestation>,
    /// `None` while the node is down (and always for a stranger).
    service: Option<Service>,
    /// Objects it holds.
    objects: BTreeSet<u64>,
    syncs_ok: u32,
}

/// What happens at a time: an input for a node, or a harness action.
enum Event {
    Input {
        node: usize,
        input: Box<Input>,
    },
    /// A hello from `from` reaches `to` (as request or response).
    Hello {
        from: usize,
        to: usize,
        exchange: HelloExchange,
        link: u64,
    },
    /// A sync request from `client` reaches `server`.
    SyncRequest {
        client: usize,
        server: usize,
        session: u64,
    },
    /// The end of a session, if it is still the current one.
    SyncEnd {
        client: usize,
        server: usize,
        session: u64,
        failure: Option<SyncFailure>,
    },
    Restart {
        node: usize,
    },
    /// The group is cut off from every other node.
    Cut,
    Heal,
    /// A link across the cut is noticed dead (pings failed).
    LinkDead {
        a: usize,
        b: usize,
        link: u64,
    },
}

struct Sim {
    rng: SplitMix,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    index: BTreeMap<PeerId, usize>,
    config: NetConfig,
    /// Open links (a < b) with an id, so a message of a closed link is
    /// not delivered on a newer one, and when they opened.
    links: BTreeMap<(usize, usize), (u64, u64)>,
    next_link: u64,
    /// Running sessions: (client, server) -> session id.
    sessions: BTreeMap<(usize, usize), u64>,
    next_session: u64,
    /// (banning node, banned node, when, until).
    bans: Vec<(usize, usize, u64, Millis)>,
    /// (node, when) of every crash.
    crashes: Vec<(usize, u64)>,
    unbans: Vec<(usize, usize, u64)>,
    /// Longest a stranger's link stayed open.
    longest_stranger_link: u64,
    /// Drops, restarts, strangers' dials; off in the cut scenario.
    chaos: bool,
    /// Nodes cut off from the rest while `cut_active`.
    group: BTreeSet<usize>,
    cut_active: bool,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Sim {
    fn new(seed: u64, chaos: bool) -> Self {
        let f = Fixture::new(10);
        let mut config = NetConfig::memory();
        config.sync_interval = Duration::from_secs(30);
        config.limits.ban_duration = Duration::from_secs(120);
        config.limits.max_rejects = 5;
        config.limits.target_peers = 12;
        let total = MEMBERS + FORGERS + STRANGERS;
        let mut nodes = Vec::with_capacity(total);
        for i in 0..total {
            let role = if i < MEMBERS {
                Role::Honest
            } else if i < MEMBERS + FORGERS {
                Role::Forger
            } else {
                Role::Stranger
            };
            let mut seed_bytes = [0x33; 32];
            seed_bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let key = Keypair::from_seed(&seed_bytes);
            let id = peer_id_of(&key.public()).expect("ed25519 key");
            let attestation = (role != Role::Stranger).then(|| {
                NodeAttestation::issue(&f.keys[i % f.keys.len()], f.id(), key.public(), T0, None)
                    .verify_with(&f.coalition, |t| Some(vec![*t]), Some(&id), T0)
                    .expect("fixture attestation verifies")
            });
            let addr: Multiaddr = format!("/memory/{}/p2p/{id}", 1000 + i).parse().expect("address");
            nodes.push(Node { id, addr, role, attestation, service: None, objects: BTreeSet::new(), syncs_ok: 0 });
        }
        // The first three members are everyone's bootstrap peers.
        config.bootstrap = nodes[..3].iter().map(|n| n.addr.clone()).collect();
        let index = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let mut sim = Sim {
            rng: SplitMix(seed),
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            index,
            config,
            links: BTreeMap::new(),
            next_link: 0,
            sessions: BTreeMap::new(),
            next_session: 0,
            bans: Vec::new(),
            crashes: Vec::new(),
            unbans: Vec::new(),
            longest_stranger_link: 0,
            chaos,
            group: BTreeSet::new(),
            cut_active: false,
        };
        for i in 0..MEMBERS + FORGERS {
            // Staggered starts.
            let at = sim.rng.below(5_000);
            sim.at(at, Event::Restart { node: i });
        }
        sim
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((time, self.seq), event);
    }

    fn input_at(&mut self, time: u64, node: usize, input: Input) {
        self.at(time, Event::Input { node, input: Box::new(input) });
    }

    /// True if a message between `a` and `b` is lost.
    fn dropped(&mut self) -> bool {
        self.chaos && self.rng.chance(DROP_ONE_IN)
    }

    /// True while `a` and `b` are on different sides of the cut.
    fn across(&self, a: usize, b: usize) -> bool {
        self.cut_active && self.group.contains(&a) != self.group.contains(&b)
    }

    /// Member peers `node` has now (0 while it is down).
    fn members_of(&self, node: usize) -> usize {
        self.nodes[node].service.as_ref().map_or(0, |s| s.status().verified)
    }

    fn run(&mut self) {
        self.run_until(DURATION_MS);
    }

    /// Runs until virtual time `end`; every tick at or before it runs.
    fn run_until(&mut self, end: u64) {
        let mut next_tick = (self.now / TICK_MS + 1) * TICK_MS;
        loop {
            let next_event = self.queue.keys().next().map(|k| k.0);
            if next_event.is_none_or(|t| t >= next_tick) {
                if next_tick > end {
                    self.now = end;
                    break;
                }
                self.now = next_tick;
                self.tick_all();
                next_tick += TICK_MS;
                continue;
            }
            let (key, event) = self.queue.pop_first().expect("an event");
            self.now = key.0;
            self.deliver(event);
        }
    }

    fn tick_all(&mut self) {
        for i in 0..self.nodes.len() {
            match self.nodes[i].role {
                Role::Stranger => {
                    // Now and then a stranger dials a random member.
                    if self.chaos && self.rng.chance(20) {
                        let target = self.rng.below(MEMBERS as u64) as usize;
                        self.dial(i, target);
                    }
                }
                Role::Honest | Role::Forger => {
                    if self.nodes[i].service.is_none() {
                        continue;
                    }
                    self.feed(i, Input::Tick);
                    let one_in = if self.nodes[i].role == Role::Forger { 20 } else { 300 };
                    if self.rng.chance(one_in) {
                        self.publish(i);
                    }
                }
            }
        }
        // A restart now and then: the node is down for 5 to 30 s.
        if self.chaos && self.rng.chance(15) {
            let node = self.rng.below((MEMBERS + FORGERS) as u64) as usize;
            if self.nodes[node].service.is_some() {
                self.crash(node);
                let back = self.now + 5_000 + self.rng.below(25_000);
                self.at(back, Event::Restart { node });
            }
        }
    }

    fn deliver(&mut self, event: Event) {
        match event {
            Event::Input { node, input } => {
                if self.nodes[node].service.is_some() {
                    self.feed(node, *input);
                }
            }
            Event::Restart { node } => {
                let service = Service::new(self.nodes[node].id, &self.config, Millis(self.now));
                self.nodes[node].service = Some(service);
                self.feed(node, Input::Tick);
            }
            Event::Cut => {
                self.cut_active = true;
                let across: Vec<((usize, usize), u64)> =
                    self.links.iter().filter(|((a, b), _)| self.across(*a, *b)).map(|(k, l)| (*k, l.0)).collect();
                for ((a, b), link) in across {
                    self.at(self.now + DEAD_LINK_MS, Event::LinkDead { a, b, link });
                }
            }
            Event::Heal => self.cut_active = false,
            Event::LinkDead { a, b, link } => {
                if self.links.get(&pair(a, b)).map(|l| l.0) == Some(link) {
                    self.close(a, b);
                }
            }
            Event::Hello { from, to, exchange, link } => {
                if self.links.get(&pair(from, to)).map(|l| l.0) != Some(link) || self.nodes[to].service.is_none() {
                    return;
                }
                let outcome = Ok(self.nodes[from].attestation.expect("only members say hello"));
                let peer = self.nodes[from].id;
                self.feed(to, Input::Hello { peer, exchange, outcome });
            }
            Event::SyncRequest { client, server, session } => {
                if self.nodes[server].service.is_none()
                    || !self.links.contains_key(&pair(client, server))
                    || self.across(client, server)
                {
                    // Nobody answers: the request times out.
                    let end = Event::SyncEnd {
                        client,
                        server,
                        session,
                        failure: Some(SyncFailure::Request("timeout".into())),
                    };
                    return self.at(self.now + REQUEST_TIMEOUT_MS, end);
                }
                let peer = self.nodes[client].id;
                let served = self.feed(server, Input::SyncRequested { peer, can_serve: true });
                let (delay, failure) = if !served {
                    (LATENCY_MS, Some(SyncFailure::Request("refused".into())))
                } else if self.dropped() {
                    (REQUEST_TIMEOUT_MS, Some(SyncFailure::Request("timeout".into())))
                } else {
                    // What the client lacks arrives with the response.
                    let have: Vec<u64> = self.nodes[server].objects.iter().copied().collect();
                    self.nodes[client].objects.extend(have);
                    (LATENCY_MS, None)
                };
                self.at(self.now + delay, Event::SyncEnd { client, server, session, failure });
            }
            Event::SyncEnd { client, server, session, failure } => {
                if self.sessions.get(&(client, server)) != Some(&session) {
                    return;
                }
                self.sessions.remove(&(client, server));
                if failure.is_none() {
                    self.nodes[client].syncs_ok += 1;
                }
                let peer = self.nodes[server].id;
                self.feed(client, Input::SyncEnded { peer, report: SyncReport::default(), failure });
            }
        }
    }

    /// Hands `input` to `node`'s service and carries out its outputs.
    /// Returns whether a sync was served (for a sync request).
    fn feed(&mut self, node: usize, input: Input) -> bool {
        let now = Millis(self.now);
        let Some(service) = self.nodes[node].service.as_mut() else { return false };
        let outputs = service.handle(input, now);
        let mut served = false;
        for output in outputs {
            served |= matches!(output, Output::ServeSync(_));
            self.execute(node, output);
        }
        served
    }

    fn peer_index(&self, peer: &PeerId) -> usize {
        self.index[peer]
    }

    fn execute(&mut self, node: usize, output: Output) {
        let t = self.now + LATENCY_MS;
        match output {
            Output::SendHello(peer) => {
                let to = self.peer_index(&peer);
                if self.nodes[node].role == Role::Stranger {
                    return;
                }
                let Some(&(link, _)) = self.links.get(&pair(node, to)) else { return };
                if self.dropped() || self.across(node, to) || self.nodes[to].role == Role::Stranger {
                    let failed = Input::HelloFailed { peer, error: "timeout".into() };
                    return self.input_at(self.now + HELLO_TIMEOUT_MS, node, failed);
                }
                self.at(t, Event::Hello { from: node, to, exchange: HelloExchange::Request, link });
            }
            Output::AnswerHello(peer) => {
                let to = self.peer_index(&peer);
                let Some(&(link, _)) = self.links.get(&pair(node, to)) else { return };
                if self.dropped() || self.across(node, to) {
                    // The requester's hello times out.
                    let failed = Input::HelloFailed { peer: self.nodes[node].id, error: "timeout".into() };
                    return self.input_at(self.now + HELLO_TIMEOUT_MS, to, failed);
                }
                self.at(t, Event::Hello { from: node, to, exchange: HelloExchange::Response, link });
            }
            Output::Disconnect(peer) | Output::Ban { peer, .. } => {
                let other = self.peer_index(&peer);
                self.close(node, other);
            }
            Output::Unban(peer) => {
                let other = self.peer_index(&peer);
                self.unbans.push((node, other, self.now));
            }
            Output::Validate { peer, message, .. } => {
                let object = u64::from_be_bytes(message.0.as_slice().try_into().expect("8-byte ids"));
                let from = self.peer_index(&peer);
                let admission = if object >= 1 << 63 {
                    Admission::Refused(Rejection::BadSignature { signer: "forged".into() })
                } else if self.nodes[node].objects.insert(object) {
                    self.forward(node, object, Some(from));
                    Admission::Stored { id: ObjectId([1; 32]), adopted: None }
                } else {
                    Admission::Duplicate { id: ObjectId([1; 32]) }
                };
                let message = Some(Gossiped { id: message, held_bytes: true });
                let input = Input::Ingested { peer, via: Via::Gossip, message, result: Ok(admission) };
                self.input_at(self.now + 1, node, input);
            }
            Output::StartSync(peer) => {
                let server = self.peer_index(&peer);
                assert!(
                    !self.sessions.contains_key(&(node, server)),
                    "node {node} started a second session with {server}"
                );
                self.next_session += 1;
                let session = self.next_session;
                self.sessions.insert((node, server), session);
                self.at(t, Event::SyncRequest { client: node, server, session });
            }
            Output::AbortSync(peer) => {
                let server = self.peer_index(&peer);
                if let Some(session) = self.sessions.get(&(node, server)).copied() {
                    let end =
                        Event::SyncEnd { client: node, server, session, failure: Some(SyncFailure::Disconnected) };
                    self.at(self.now, end);
                }
            }
            Output::Dial(addr) => {
                let target = self.nodes.iter().position(|n| n.addr == addr).expect("a known address");
                self.dial(node, target);
            }
            Output::DialPeer { peer, .. } | Output::Redial { peer, .. } => {
                let target = self.peer_index(&peer);
                self.dial(node, target);
            }
            Output::FindPeers => {
                // The DHT answers with a few members.
                for _ in 0..4 {
                    let other = self.rng.below((MEMBERS + FORGERS) as u64) as usize;
                    let (peer, address) = (self.nodes[other].id, self.nodes[other].addr.clone());
                    self.input_at(t, node, Input::Discovered { peer, address });
                }
            }
            Output::Emit(NetworkEvent::PeerBanned { peer, .. }) => {
                let banned = self.peer_index(&peer);
                let until = self.nodes[node].service.as_ref().and_then(|s| s.banned_until(&peer)).expect("banned");
                self.bans.push((node, banned, self.now, until));
            }
            Output::ReportGossip { .. }
            | Output::Classify { .. }
            | Output::ServeSync(_)
            | Output::AddRoutes { .. }
            | Output::CheckRevocations(_)
            | Output::CheckMembership(_)
            | Output::Emit(_) => {}
        }
    }

    /// Opens a link if both ends are up, neither bans the other, none is
    /// open and no cut lies between them; otherwise the dial fails, at once
    /// (refused) or after the dial timeout (across a cut).
    fn dial(&mut self, from: usize, to: usize) {
        let failed = Input::DialFailed { peer: Some(self.nodes[to].id), addresses: Vec::new() };
        if from == to || self.links.contains_key(&pair(from, to)) {
            return self.input_at(self.now, from, failed);
        }
        if self.across(from, to) {
            return self.input_at(self.now + DIAL_TIMEOUT_MS, from, failed);
        }
        let up = |n: &Node| n.role == Role::Stranger || n.service.is_some();
        let bans = |a: usize, b: usize| {
            self.nodes[a].service.as_ref().is_some_and(|s| s.banned_until(&self.nodes[b].id).is_some())
        };
        if !up(&self.nodes[from]) || !up(&self.nodes[to]) || bans(from, to) || bans(to, from) {
            return self.input_at(self.now + LATENCY_MS, from, failed);
        }
        self.next_link += 1;
        self.links.insert(pair(from, to), (self.next_link, self.now));
        let t = self.now + LATENCY_MS;
        for (a, b) in [(from, to), (to, from)] {
            let (peer, address) = (self.nodes[b].id, self.nodes[b].addr.clone());
            self.input_at(t, a, Input::Connected { peer, address: address.clone() });
            // Identify: its listen address.
            self.input_at(t + LATENCY_MS, a, Input::ListenAddrs { peer, addrs: vec![address] });
        }
    }

    fn close(&mut self, a: usize, b: usize) {
        let Some((_, opened)) = self.links.remove(&pair(a, b)) else { return };
        if self.nodes[a].role == Role::Stranger || self.nodes[b].role == Role::Stranger {
            self.longest_stranger_link = self.longest_stranger_link.max(self.now - opened);
        }
        for (x, y) in [(a, b), (b, a)] {
            let peer = self.nodes[y].id;
            self.input_at(self.now + LATENCY_MS, x, Input::Disconnected { peer });
        }
    }

    fn crash(&mut self, node: usize) {
        let linked: Vec<usize> =
            self.links.keys().filter(|(a, b)| *a == node || *b == node).map(|(a, b)| a + b - node).collect();
        for other in linked {
            self.close(node, other);
        }
        self.nodes[node].service = None;
        self.crashes.push((node, self.now));
        // Its own sessions die with it; those it served end at their
        // clients with the disconnection.
        self.sessions.retain(|(client, _), _| *client != node);
    }

    /// A node gossips a new object: honest nodes valid ones, forgers
    /// forgeries (ids with the top bit set).
    fn publish(&mut self, node: usize) {
        let object = self.rng.next() >> 1;
        let object = if self.nodes[node].role == Role::Forger { object | 1 << 63 } else { object };
        if object < 1 << 63 {
            self.nodes[node].objects.insert(object);
        }
        self.forward(node, object, None);
    }

    fn forward(&mut self, node: usize, object: u64, except: Option<usize>) {
        let peers: Vec<usize> =
            self.links.keys().filter(|(a, b)| *a == node || *b == node).map(|(a, b)| a + b - node).collect();
        for other in peers.into_iter().filter(|o| Some(*o) != except) {
            if self.nodes[other].role == Role::Stranger || self.across(node, other) || self.dropped() {
                continue;
            }
            let gossip = Input::Gossip {
                peer: self.nodes[node].id,
                message: message_id(object),
                data: Vec::new(),
                queue_has_room: true,
            };
            self.input_at(self.now + LATENCY_MS, other, gossip);
        }
    }
}

#[test]
fn fifty_peers_with_drops_and_restarts_keep_the_policy_invariants() {
    let started = Instant::now();
    let seed = std::env::var("CHORUS_SIM_SEED")
        .ok()
        .and_then(|v| match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        })
        .unwrap_or(SEED);
    println!("service simulation seed {seed:#x}");
    let mut sim = Sim::new(seed, true);
    sim.run();
    let elapsed = started.elapsed();
    println!(
        "simulated {} s of {} nodes in {elapsed:?}: {} bans, {} unbans, longest stranger link {} ms",
        DURATION_MS / 1000,
        sim.nodes.len(),
        sim.bans.len(),
        sim.unbans.len(),
        sim.longest_stranger_link
    );

    // No honest member is banned by an honest member.
    for (by, banned, _, _) in &sim.bans {
        let (by, banned) = (sim.nodes[*by].role, sim.nodes[*banned].role);
        assert!(!(by == Role::Honest && banned == Role::Honest), "an honest member was banned");
    }
    // Strangers are cut within the timeout, a tick and the latency.
    let bound = sim.config.limits.attestation_timeout.as_millis() as u64 + TICK_MS + 2 * LATENCY_MS;
    assert!(sim.longest_stranger_link > 0, "strangers did connect");
    assert!(sim.longest_stranger_link <= bound, "a stranger stayed {} ms", sim.longest_stranger_link);
    let open_too_long = sim.links.iter().any(|((a, b), (_, opened))| {
        let stranger = sim.nodes[*a].role == Role::Stranger || sim.nodes[*b].role == Role::Stranger;
        stranger && sim.now - opened > bound
    });
    assert!(!open_too_long, "a stranger's link is still open past the bound");
    // Every honest member synced with someone.
    for (i, n) in sim.nodes.iter().enumerate().filter(|(_, n)| n.role == Role::Honest) {
        assert!(n.syncs_ok > 0, "member {i} never completed a sync");
    }
    // Forgers were banned, and bans end when they expire.
    for forger in MEMBERS..MEMBERS + FORGERS {
        assert!(sim.bans.iter().any(|(_, b, _, _)| *b == forger), "forger {forger} was never banned");
    }
    let mut lifted_count = 0;
    for (by, banned, at, until) in &sim.bans {
        if until.0 + TICK_MS > sim.now {
            continue;
        }
        // A node that crashed lost its bans with its state; otherwise the
        // ban was lifted at most a tick after it expired.
        let restarted = sim.crashes.iter().any(|(n, t)| n == by && *t >= *at && *t <= until.0 + TICK_MS);
        let lifted =
            sim.unbans.iter().any(|(u, b, t)| u == by && b == banned && *t >= until.0 && *t <= until.0 + TICK_MS);
        assert!(lifted || restarted, "ban of {banned} by {by} until {until:?} did not end in time");
        lifted_count += usize::from(lifted);
    }
    assert!(lifted_count > 0, "some bans expired during the run");
}

/// Members cut off together: fewer than the target, so they cannot reach
/// it among themselves while the cut lasts.
const GROUP: usize = 5;
/// From the heal until every member that was at its target is back at it.
const HEAL_BOUND_MS: u64 = 20_000;

/// Runs the cut scenario with a cut of `cut_ms`; returns the time from the
/// heal until every member that was at its target before the cut is back
/// at it.
fn cut_and_heal(cut_ms: u64) -> u64 {
    let mut sim = Sim::new(SEED, false);
    let cut_at = 5 * 60 * 1000;
    sim.run_until(cut_at - 1);
    let target = sim.config.limits.target_peers;
    let honest: Vec<usize> = (0..MEMBERS).collect();
    let at_target: Vec<usize> = honest.iter().copied().filter(|n| sim.members_of(*n) >= target).collect();
    // The cut-off group: members at their target, none a bootstrap peer.
    sim.group = at_target.iter().copied().filter(|n| *n >= 3).take(GROUP).collect();
    assert_eq!(sim.group.len(), GROUP, "too few members reached their target before the cut");
    assert!(at_target.len() >= MEMBERS * 9 / 10, "only {} members reached their target", at_target.len());
    sim.at(cut_at, Event::Cut);
    sim.run_until(cut_at + cut_ms);
    for n in &sim.group {
        assert!(sim.members_of(*n) < GROUP, "member {n} kept a peer across the cut");
    }
    let healed = sim.now;
    sim.at(healed, Event::Heal);
    loop {
        let behind: Vec<usize> = at_target.iter().copied().filter(|n| sim.members_of(*n) < target).collect();
        if behind.is_empty() {
            return sim.now - healed;
        }
        assert!(
            sim.now - healed <= HEAL_BOUND_MS,
            "after a {} s cut, members {behind:?} were still below their target {} s after the heal",
            cut_ms / 1000,
            HEAL_BOUND_MS / 1000
        );
        sim.run_until(sim.now + 100);
    }
}

#[test]
fn after_a_cut_of_any_length_members_are_back_at_their_target_within_a_bound() {
    let short = cut_and_heal(60_000);
    let long = cut_and_heal(30 * 60 * 1000);
    println!("back at the target {short} ms after a 60 s cut, {long} ms after a 30 min cut");
}
