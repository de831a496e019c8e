//! Dial decisions: which known addresses to dial while the node is below
//! its target of member peers, with what back-off, and how often to walk
//! the DHT.
//!
//! The dialer remembers *known* targets: every bootstrap address, and the
//! listen addresses of every peer that was verified as a member (kept after
//! it disconnects, at most [`MAX_KNOWN_PEERS`] of them). While the node has
//! fewer members than its target, every tick dials each known target whose
//! peer is not connected, not banned, has no dial in flight, and whose
//! back-off has passed. The back-off per target starts at [`REDIAL_BASE`],
//! doubles with each attempt, stops growing at [`REDIAL_CAP`], and is
//! scaled by a jitter factor in `[0.75, 1.25]` from a PRNG seeded with the
//! node's peer id, so nodes cut off together do not redial in lock-step and
//! a simulation stays deterministic. Because the cap is low, however long a
//! cut lasts the next attempt is at most `1.25 × REDIAL_CAP` away when it
//! heals. A verified connection resets the back-off; a non-bootstrap target
//! that failed continuously for [`FORGET_AFTER`] is forgotten.

use std::collections::BTreeMap;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::observing::refusal_backoff;
use super::time::{doubling_backoff, Millis};
use super::MAX_ADDRS_PER_PEER;

/// The first redial delay, before jitter.
pub const REDIAL_BASE: Duration = Duration::from_secs(1);
/// The longest redial delay, before jitter.
pub const REDIAL_CAP: Duration = Duration::from_secs(6);
/// Each redial delay is scaled by a factor drawn uniformly from
/// `1 ± REDIAL_JITTER_PERCENT / 100`.
pub const REDIAL_JITTER_PERCENT: u64 = 25;
/// A member's addresses are forgotten after every dial to it failed for
/// this long (bootstrap addresses never are).
pub const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Members whose addresses are remembered, besides the bootstrap list.
pub const MAX_KNOWN_PEERS: usize = 256;
/// Most dials one tick starts, so a node that lost every peer does not
/// open hundreds of sockets at once.
pub const MAX_DIALS_PER_TICK: usize = 16;
/// A Kademlia walk for peers near us starts at most this often, and at
/// least this often while the node is below its target.
pub const FIND_PEERS_INTERVAL: Duration = Duration::from_secs(30);
/// A Kademlia walk starts at least this often at the target, to refresh
/// the routing table.
pub const FIND_PEERS_REFRESH: Duration = Duration::from_secs(300);
/// After a walk could not start (an empty routing table), the next try.
pub const FIND_PEERS_RETRY: Duration = Duration::from_secs(5);

/// The peer id an address ends with (`/p2p/<id>`), if any.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// `addr` without its `/p2p/<id>` parts, for comparing an address dialled
/// with the one a connection reports.
fn transport_part(addr: &Multiaddr) -> Multiaddr {
    addr.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect()
}

/// The back-off after `attempts` dials that have not (yet) led to a
/// verified member, before jitter: `REDIAL_BASE × 2^(attempts − 1)`, at
/// most [`REDIAL_CAP`].
pub fn redial_backoff(attempts: u32) -> Duration {
    doubling_backoff(REDIAL_BASE, REDIAL_CAP, attempts)
}

/// Something the dialer can dial.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// A peer whose id is known: dialled at all its known addresses at once.
    Peer(PeerId),
    /// A bootstrap address without a peer id.
    Address(Multiaddr),
}

/// What the dialer knows about one target.
#[derive(Clone, Debug)]
struct Known {
    /// Bootstrap addresses of the peer (never forgotten).
    bootstrap: Vec<Multiaddr>,
    /// Listen addresses it announced while a member (identify).
    listen: Vec<Multiaddr>,
    /// For an address target: the peer found behind it once connected.
    peer: Option<PeerId>,
    /// Dials since it was last verified.
    attempts: u32,
    /// No dial before this.
    next_attempt: Millis,
    /// A dial started and has not ended yet; it is assumed over after this.
    in_flight_until: Option<Millis>,
    /// When the first dial since it was last verified started.
    failing_since: Option<Millis>,
    /// When it was last verified as a member.
    verified_at: Option<Millis>,
    /// Our observer hellos it left unanswered in a row (observer nodes).
    refusals: u32,
}

impl Known {
    fn new() -> Self {
        Known {
            bootstrap: Vec::new(),
            listen: Vec::new(),
            peer: None,
            attempts: 0,
            next_attempt: Millis::ZERO,
            in_flight_until: None,
            failing_since: None,
            verified_at: None,
            refusals: 0,
        }
    }

    fn is_bootstrap(&self) -> bool {
        !self.bootstrap.is_empty()
    }

    fn in_flight(&self, now: Millis) -> bool {
        self.in_flight_until.is_some_and(|t| now < t)
    }

    fn addresses(&self) -> Vec<Multiaddr> {
        let mut all = self.bootstrap.clone();
        for a in &self.listen {
            if !all.iter().any(|b| transport_part(b) == transport_part(a)) {
                all.push(a.clone());
            }
        }
        all
    }
}

/// One dial the service should start.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Dial {
    /// Dial the peer at these addresses; `seed` are its bootstrap
    /// addresses, to add to the DHT's routing table.
    Peer { peer: PeerId, addresses: Vec<Multiaddr>, seed: Vec<Multiaddr> },
    /// Dial a bootstrap address whose peer is not known.
    Address(Multiaddr),
}

/// SplitMix64: a small, fast, deterministic PRNG; only jitter depends on it.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[derive(Debug)]
pub(crate) struct Dialer {
    pub(crate) target_peers: usize,
    dial_timeout: Duration,
    known: BTreeMap<Target, Known>,
    rng: SplitMix64,
    last_find_peers: Option<Millis>,
    find_peers_failed_at: Option<Millis>,
}

impl Dialer {
    /// A dialer for node `local` (its id seeds the jitter), knowing the
    /// `bootstrap` list, aiming at `target_peers` members; a dial not
    /// reported ended is assumed over after `dial_timeout` and a second.
    pub(crate) fn new(local: &PeerId, bootstrap: Vec<Multiaddr>, target_peers: usize, dial_timeout: Duration) -> Self {
        let seed = local
            .to_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
        let mut known = BTreeMap::new();
        for addr in bootstrap {
            let target = match peer_of(&addr) {
                Some(peer) if peer == *local => continue,
                Some(peer) => Target::Peer(peer),
                None => Target::Address(addr.clone()),
            };
            let entry = known.entry(target.clone()).or_insert_with(Known::new);
            if let Target::Peer(peer) = target {
                entry.peer = Some(peer);
            }
            if !entry.bootstrap.contains(&addr) {
                entry.bootstrap.push(addr);
            }
        }
        Dialer {
            target_peers,
            dial_timeout: dial_timeout + Duration::from_secs(1),
            known,
            rng: SplitMix64(seed),
            last_find_peers: None,
            find_peers_failed_at: None,
        }
    }

    /// Remembers the listen addresses of `peer`, a verified member.
    pub(crate) fn remember(&mut self, peer: PeerId, addrs: &[Multiaddr], now: Millis) {
        let target = Target::Peer(peer);
        if !self.known.contains_key(&target) {
            if addrs.is_empty() {
                return;
            }
            self.make_room();
        }
        let entry = self.known.entry(target).or_insert_with(Known::new);
        entry.peer = Some(peer);
        entry.verified_at.get_or_insert(now);
        if !addrs.is_empty() {
            entry.listen = addrs.iter().take(MAX_ADDRS_PER_PEER).cloned().collect();
        }
    }

    /// Forgets one non-bootstrap member to stay within [`MAX_KNOWN_PEERS`]:
    /// one that is failing before one that is not, the least recently
    /// verified first.
    fn make_room(&mut self) {
        let members = self.known.values().filter(|k| !k.is_bootstrap()).count();
        if members < MAX_KNOWN_PEERS {
            return;
        }
        let victim = self
            .known
            .iter()
            .filter(|(_, k)| !k.is_bootstrap())
            .min_by_key(|(_, k)| (k.failing_since.is_none(), k.verified_at))
            .map(|(t, _)| t.clone());
        if let Some(victim) = victim {
            self.known.remove(&victim);
        }
    }

    /// `peer` proved membership: its back-off starts over.
    pub(crate) fn verified(&mut self, peer: PeerId, now: Millis) {
        for entry in self.known.values_mut().filter(|k| k.peer == Some(peer)) {
            entry.attempts = 0;
            entry.next_attempt = now;
            entry.in_flight_until = None;
            entry.failing_since = None;
            entry.verified_at = Some(now);
        }
    }

    /// `peer` answered our hello: its refusals start over. (Not on its own
    /// hello verifying: a member node sends its hello to an observer it then
    /// refuses.)
    pub(crate) fn accepted(&mut self, peer: PeerId) {
        for entry in self.known.values_mut().filter(|k| k.peer == Some(peer)) {
            entry.refusals = 0;
        }
    }

    /// `peer` left our observer hello unanswered: no dial to it before
    /// [`refusal_backoff`] of its refusals in a row. Returns that wait, or
    /// `None` if `peer` is not a target.
    pub(crate) fn refused(&mut self, peer: PeerId, now: Millis) -> Option<Duration> {
        let mut wait = None;
        for entry in self.known.values_mut().filter(|k| k.peer == Some(peer)) {
            entry.refusals = entry.refusals.saturating_add(1);
            let backoff = refusal_backoff(entry.refusals);
            entry.next_attempt = entry.next_attempt.max(now + backoff);
            wait = Some(backoff);
        }
        wait
    }

    /// A connection to `peer` opened at `address`: a dial to it is over,
    /// and an address target at `address` turns out to be `peer`.
    pub(crate) fn connected(&mut self, peer: PeerId, address: &Multiaddr) {
        let address = transport_part(address);
        for (target, entry) in self.known.iter_mut() {
            let matches = match target {
                Target::Peer(p) => *p == peer,
                Target::Address(a) => transport_part(a) == address,
            };
            if matches {
                entry.peer = Some(peer);
                entry.in_flight_until = None;
            }
        }
    }

    /// A dial to `peer` (if known) or to `addresses` failed.
    pub(crate) fn dial_failed(&mut self, peer: Option<PeerId>, addresses: &[Multiaddr]) {
        let failed: Vec<Multiaddr> = addresses.iter().map(transport_part).collect();
        for (target, entry) in self.known.iter_mut() {
            let matches = match target {
                Target::Peer(p) => Some(*p) == peer,
                Target::Address(a) => failed.contains(&transport_part(a)),
            };
            if matches {
                entry.in_flight_until = None;
            }
        }
    }

    /// True while a dial to `peer` started by the dialer is in flight.
    pub(crate) fn is_dialling(&self, peer: &PeerId, now: Millis) -> bool {
        self.known.get(&Target::Peer(*peer)).is_some_and(|k| k.in_flight(now))
    }

    /// Starts the dials due at `now`, at most `limit`, skipping targets
    /// whose peer `skip` says to leave alone (connected, banned, us). Also
    /// forgets members that failed for [`FORGET_AFTER`].
    pub(crate) fn due(&mut self, now: Millis, skip: impl Fn(&PeerId) -> bool, limit: usize) -> Vec<Dial> {
        self.known.retain(|_, k| k.is_bootstrap() || k.failing_since.is_none_or(|t| now.since(t) < FORGET_AFTER));
        let mut ready: Vec<(Millis, Target)> = self
            .known
            .iter()
            .filter(|(_, k)| now >= k.next_attempt && !k.in_flight(now) && !k.peer.is_some_and(|p| skip(&p)))
            .map(|(t, k)| (k.next_attempt, t.clone()))
            .collect();
        ready.sort();
        ready.truncate(limit);
        ready.into_iter().filter_map(|(_, target)| self.start(target, now)).collect()
    }

    fn start(&mut self, target: Target, now: Millis) -> Option<Dial> {
        let factor = 100 - REDIAL_JITTER_PERCENT + self.rng.next() % (2 * REDIAL_JITTER_PERCENT + 1);
        let dial_timeout = self.dial_timeout;
        let entry = self.known.get_mut(&target)?;
        entry.attempts = entry.attempts.saturating_add(1);
        entry.failing_since.get_or_insert(now);
        let backoff = redial_backoff(entry.attempts);
        let jittered = Duration::from_millis(u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX) * factor / 100);
        entry.next_attempt = now + jittered;
        entry.in_flight_until = Some(now + dial_timeout);
        Some(match target {
            Target::Peer(peer) => Dial::Peer { peer, addresses: entry.addresses(), seed: entry.bootstrap.clone() },
            Target::Address(addr) => Dial::Address(addr),
        })
    }

    /// When the next dial to `peer` may start, if it is known.
    #[cfg(test)]
    pub(crate) fn next_attempt(&self, peer: &PeerId) -> Option<Millis> {
        self.known.get(&Target::Peer(*peer)).map(|k| k.next_attempt)
    }

    /// Known targets (bootstrap and remembered members).
    #[cfg(test)]
    pub(crate) fn known(&self) -> usize {
        self.known.len()
    }

    /// True (and remembered) if a DHT walk may start at `now`, the last
    /// having started at least `interval` ago.
    pub(crate) fn find_peers_due(&mut self, now: Millis, interval: Duration) -> bool {
        if self.last_find_peers.is_some_and(|t| now < t + interval)
            || self.find_peers_failed_at.is_some_and(|t| now < t + FIND_PEERS_RETRY)
        {
            return false;
        }
        self.last_find_peers = Some(now);
        true
    }

    /// The walk could not start (an empty routing table): the next try
    /// need not wait the interval, only [`FIND_PEERS_RETRY`].
    pub(crate) fn find_peers_failed(&mut self, now: Millis) {
        self.last_find_peers = None;
        self.find_peers_failed_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let secs: Vec<u64> = (1..=6).map(|n| redial_backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 6, 6, 6]);
        assert_eq!(redial_backoff(u32::MAX), REDIAL_CAP);
    }

    #[test]
    fn addresses_compare_without_peer_ids() {
        let peer = PeerId::random();
        let with: Multiaddr = format!("/memory/5/p2p/{peer}").parse().unwrap();
        assert_eq!(transport_part(&with), "/memory/5".parse::<Multiaddr>().unwrap());
        assert_eq!(peer_of(&with), Some(peer));
    }
}
