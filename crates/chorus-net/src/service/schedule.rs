//! Sync scheduling: one session per peer, a bound on sessions at once, a
//! periodic round that picks the next member in turn, and back-off from a
//! peer whose sessions keep failing.

use std::collections::BTreeMap;
use std::time::Duration;

use libp2p::PeerId;

use super::time::Millis;

/// Wait after the first failed session with a peer before a periodic round
/// picks it again; doubled with each further failure.
pub const SYNC_BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest back-off: a peer that keeps failing is still tried every 10 min.
pub const SYNC_BACKOFF_MAX: Duration = Duration::from_secs(600);

/// The back-off after `failures` failed sessions in a row.
pub fn sync_backoff(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = (failures - 1).min(16);
    SYNC_BACKOFF_BASE.saturating_mul(1 << doublings).min(SYNC_BACKOFF_MAX)
}

/// Which sessions run and when the next round is due.
#[derive(Debug)]
pub(crate) struct SyncSchedule {
    interval: Duration,
    max_sessions: usize,
    next_round: Millis,
    turn: usize,
    /// Running sessions, by peer, with their start.
    sessions: BTreeMap<PeerId, Millis>,
}

impl SyncSchedule {
    /// The first round is one interval after `now`: a sync on connect
    /// covers the start.
    pub(crate) fn new(interval: Duration, max_sessions: usize, now: Millis) -> Self {
        SyncSchedule { interval, max_sessions, next_round: now + interval, turn: 0, sessions: BTreeMap::new() }
    }

    pub(crate) fn is_running(&self, peer: &PeerId) -> bool {
        self.sessions.contains_key(peer)
    }

    pub(crate) fn running(&self) -> usize {
        self.sessions.len()
    }

    /// Records a session with `peer` if none runs with it and a slot is
    /// free.
    pub(crate) fn try_start(&mut self, peer: PeerId, now: Millis) -> bool {
        if self.sessions.contains_key(&peer) || self.sessions.len() >= self.max_sessions {
            return false;
        }
        self.sessions.insert(peer, now);
        true
    }

    /// Forgets a session; its start if it was running.
    pub(crate) fn end(&mut self, peer: &PeerId) -> Option<Millis> {
        self.sessions.remove(peer)
    }

    /// If a round is due at `now`, the peer of this round among `candidates`
    /// (sorted, none syncing), in turn; the next round is then one interval
    /// later. A round with no candidate waits for the next tick.
    pub(crate) fn round(&mut self, candidates: &[PeerId], now: Millis) -> Option<PeerId> {
        if now < self.next_round || candidates.is_empty() {
            return None;
        }
        self.next_round = now + self.interval;
        self.turn = self.turn.wrapping_add(1);
        Some(candidates[self.turn % candidates.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(sync_backoff(0), Duration::ZERO);
        assert_eq!(sync_backoff(1), SYNC_BACKOFF_BASE);
        assert_eq!(sync_backoff(2), SYNC_BACKOFF_BASE * 2);
        assert_eq!(sync_backoff(3), SYNC_BACKOFF_BASE * 4);
        assert_eq!(sync_backoff(100), SYNC_BACKOFF_MAX);
    }
}
