//! Sync scheduling: one session this node initiates at a time, a queue of
//! the peers waiting for their turn, a periodic round that picks the next
//! member in turn, a time bound on a session, and back-off from a peer
//! whose sessions keep failing; [`SyncSchedule`] keeps the state and the
//! [`Service`] functions at the end of this file apply it.
//!
//! ## Why one session at a time
//! A session pulls every range where the peer holds what this node lacks.
//! Two sessions running at once against peers that hold the same objects
//! (the usual case: members converge) each pull all of them, so a node
//! returning to four peers downloaded its backlog four times. Run one after
//! the other instead, the first session stores the backlog and the next one
//! starts from a snapshot that holds it: its fingerprints match and it
//! costs one round trip of a few dozen bytes, or pulls only what that peer
//! alone holds. Received object bytes then stay at the size of what was
//! missing, whatever the number of peers.
//!
//! The alternative, sessions at once that exclude the ranges another session
//! is fetching, would need a shared in-flight set and a client that does not
//! take an excluded range as settled; it saves a few round trips per extra
//! peer, which are not worth that. The queue is plain and deterministic on
//! virtual time.
//!
//! ## The rules
//! - Every reason to sync with a peer (its answer to our hello, a periodic
//!   round, [`super::Input::SyncNow`]) puts it at the back of the queue,
//!   unless its session runs or it already waits: the queue is FIFO and
//!   holds a peer at most once.
//! - When no session runs, the first waiting peer that is still a member
//!   (and accepted us) starts at once; a peer that left is dropped from the
//!   queue. So the first sync after connecting to an idle node starts on
//!   its hello answer, with no delay.
//! - When a session ends, successful or not, the next waiting peer starts
//!   at once.
//! - A session running longer than `NetLimits::sync_session_timeout` is
//!   ended as failed ([`crate::SyncFailure::TimedOut`]): a slow peer cannot
//!   hold the queue for longer. What it stored is kept, so the next session
//!   continues from there.
//! - Serving sessions to other nodes is not scheduled here and is not
//!   affected.

use std::collections::VecDeque;
use std::time::Duration;

use libp2p::PeerId;

use super::time::{doubling_backoff, Millis};
use super::{Conduct, Output, Service};
use crate::error::SyncFailure;
use crate::network::{NetworkEvent, SyncReport};

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
    doubling_backoff(SYNC_BACKOFF_BASE, SYNC_BACKOFF_MAX, failures)
}

/// The session running now.
#[derive(Debug)]
struct Running {
    peer: PeerId,
    started: Millis,
    /// The schedule asked for it to end because it ran too long.
    timed_out: bool,
}

/// How a session ended, for the schedule's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// When it started.
    pub(crate) started: Millis,
    /// It was ended by [`SyncSchedule::overdue`].
    pub(crate) timed_out: bool,
}

/// The running session, the waiting peers, and when the next round is due.
#[derive(Debug)]
pub(crate) struct SyncSchedule {
    interval: Duration,
    session_timeout: Duration,
    next_round: Millis,
    turn: usize,
    running: Option<Running>,
    /// Peers waiting for their turn, first come first served; none twice,
    /// never the running one.
    waiting: VecDeque<PeerId>,
}

impl SyncSchedule {
    /// The first round is one interval after `now`: a sync on connect
    /// covers the start.
    pub(crate) fn new(interval: Duration, session_timeout: Duration, now: Millis) -> Self {
        SyncSchedule {
            interval,
            session_timeout,
            next_round: now + interval,
            turn: 0,
            running: None,
            waiting: VecDeque::new(),
        }
    }

    pub(crate) fn is_running(&self, peer: &PeerId) -> bool {
        self.running.as_ref().is_some_and(|r| r.peer == *peer)
    }

    pub(crate) fn is_waiting(&self, peer: &PeerId) -> bool {
        self.waiting.contains(peer)
    }

    /// Sessions running: 0 or 1.
    pub(crate) fn running(&self) -> usize {
        usize::from(self.running.is_some())
    }

    /// Peers running or waiting.
    pub(crate) fn pending(&self) -> usize {
        self.running() + self.waiting.len()
    }

    /// Puts `peer` at the back of the queue unless it runs or waits already;
    /// true if it was added.
    pub(crate) fn request(&mut self, peer: PeerId) -> bool {
        if self.is_running(&peer) || self.is_waiting(&peer) {
            return false;
        }
        self.waiting.push_back(peer);
        true
    }

    /// If no session runs, starts the first waiting peer for which
    /// `eligible` holds, dropping the ineligible ones before it, and returns
    /// it.
    pub(crate) fn next(&mut self, now: Millis, eligible: impl Fn(&PeerId) -> bool) -> Option<PeerId> {
        if self.running.is_some() {
            return None;
        }
        while let Some(peer) = self.waiting.pop_front() {
            if eligible(&peer) {
                self.running = Some(Running { peer, started: now, timed_out: false });
                return Some(peer);
            }
        }
        None
    }

    /// Forgets the session with `peer`, if it is the running one.
    pub(crate) fn end(&mut self, peer: &PeerId) -> Option<Ended> {
        if !self.is_running(peer) {
            return None;
        }
        self.running.take().map(|r| Ended { started: r.started, timed_out: r.timed_out })
    }

    /// The running session's peer, once, when it has run for the time
    /// bound at `now`: the caller ends it.
    pub(crate) fn overdue(&mut self, now: Millis) -> Option<PeerId> {
        let running = self.running.as_mut().filter(|r| !r.timed_out)?;
        if now.since(running.started) < self.session_timeout {
            return None;
        }
        running.timed_out = true;
        Some(running.peer)
    }

    /// The time bound of a session.
    pub(crate) fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// If a round is due at `now`, the peer of this round among `candidates`
    /// (sorted, none running or waiting), in turn; the next round is then
    /// one interval later. A round with no candidate waits for the next
    /// tick.
    pub(crate) fn round(&mut self, candidates: &[PeerId], now: Millis) -> Option<PeerId> {
        if now < self.next_round || candidates.is_empty() {
            return None;
        }
        self.next_round = now + self.interval;
        self.turn = self.turn.wrapping_add(1);
        Some(candidates[self.turn % candidates.len()])
    }
}

/// The service's side of the schedule: what starts, queues and ends its
/// sessions.
impl Service {
    /// Members that accepted us with no session running or waiting, sorted;
    /// with `now`, only those whose back-off has passed.
    pub(super) fn sync_candidates(&self, now: Option<Millis>) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(id, p)| {
                p.is_member() && p.accepted_us && !self.schedule.is_running(id) && !self.schedule.is_waiting(id)
            })
            .filter(|(_, p)| now.is_none_or(|now| p.sync_not_before <= now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Ends a session past its time bound, and queues the peer of a
    /// periodic round when one is due.
    pub(super) fn sync_tick(&mut self, now: Millis) {
        if let Some(peer) = self.schedule.overdue(now) {
            let bound = self.schedule.session_timeout().as_secs();
            tracing::info!(%peer, bound, "sync session ran past its time bound; ending it");
            self.out.push(Output::AbortSync(peer));
        }
        let candidates = self.sync_candidates(Some(now));
        if let Some(peer) = self.schedule.round(&candidates, now) {
            self.request_sync(peer, now);
        }
    }

    /// Queues a session with `peer` and starts the next one if none runs.
    pub(super) fn request_sync(&mut self, peer: PeerId, now: Millis) {
        self.schedule.request(peer);
        self.start_next_sync(now);
    }

    /// Starts the first waiting peer that is still a member that accepted
    /// us, if no session runs.
    pub(super) fn start_next_sync(&mut self, now: Millis) {
        let peers = &self.peers;
        let eligible = |p: &PeerId| peers.get(p).is_some_and(|s| s.is_member() && s.accepted_us);
        if let Some(peer) = self.schedule.next(now, eligible) {
            self.out.push(Output::StartSync(peer));
        }
    }

    pub(super) fn sync_ended(
        &mut self,
        peer: PeerId,
        mut report: SyncReport,
        failure: Option<SyncFailure>,
        now: Millis,
    ) {
        let Some(ended) = self.schedule.end(&peer) else { return };
        // The caller ends a session we aborted for its time bound with
        // whatever failure its abort path reports; say why it ended.
        let failure = match failure {
            Some(_) if ended.timed_out => Some(SyncFailure::TimedOut(self.schedule.session_timeout())),
            failure => failure,
        };
        report.peer = Some(peer);
        report.error = failure.as_ref().map(|f| f.to_string());
        if let Some(state) = self.peers.get_mut(&peer) {
            if failure.is_none() {
                state.sync_failures = 0;
            } else {
                state.sync_failures += 1;
                state.sync_not_before = now + sync_backoff(state.sync_failures);
            }
        }
        if failure.is_none() {
            self.counters.syncs_completed += 1;
        }
        tracing::debug!(%peer, ?report, "sync finished");
        self.emit(NetworkEvent::SyncFinished(report));
        if let Some(SyncFailure::Response(e)) = &failure {
            self.punish(peer, Conduct::BadSyncResponse(e), None, now);
        }
        // Successful or not, the next waiting peer's turn.
        self.start_next_sync(now);
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

    fn schedule() -> SyncSchedule {
        SyncSchedule::new(Duration::from_secs(30), Duration::from_secs(120), Millis::ZERO)
    }

    #[test]
    fn the_queue_is_first_come_first_served_without_repeats() {
        let mut s = schedule();
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        assert!(s.request(a) && s.request(b) && s.request(c));
        assert!(!s.request(b), "b already waits");
        assert_eq!(s.next(Millis(1), |_| true), Some(a));
        assert!(!s.request(a), "a runs");
        assert_eq!(s.next(Millis(2), |_| true), None, "one session at a time");
        assert_eq!(s.pending(), 3);
        assert_eq!(s.end(&b), None, "b does not run");
        assert_eq!(s.end(&a), Some(Ended { started: Millis(1), timed_out: false }));
        // b left: dropped, c starts.
        assert_eq!(s.next(Millis(3), |p| *p != b), Some(c));
        assert!(!s.is_waiting(&b));
        assert_eq!(s.pending(), 1);
    }

    #[test]
    fn a_session_is_overdue_once_at_its_time_bound() {
        let mut s = schedule();
        let a = PeerId::random();
        s.request(a);
        s.next(Millis(1_000), |_| true);
        assert_eq!(s.overdue(Millis(120_999)), None);
        assert_eq!(s.overdue(Millis(121_000)), Some(a));
        assert_eq!(s.overdue(Millis(200_000)), None, "asked once");
        assert_eq!(s.end(&a), Some(Ended { started: Millis(1_000), timed_out: true }));
        assert_eq!(s.overdue(Millis(300_000)), None);
    }
}
