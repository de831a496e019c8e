//! The catch-up sessions this node runs, one per peer at a time, each with
//! a number: blocking work started for a session (its snapshot, the ingest
//! of a response's objects) reports back with that number, and a result
//! whose session has since ended (a time-out, a disconnection) is not
//! credited to a newer session with the same peer.

use std::collections::HashMap;

use libp2p::PeerId;

use crate::network::SyncReport;
use crate::service::Millis;
use crate::sync::{ClientStep, SyncClient};

/// One catch-up this node runs against a peer.
pub(super) struct Session {
    /// Distinct for every session this loop starts.
    pub(super) number: u64,
    pub(super) client: Option<SyncClient>,
    /// What to do once the objects of the last response are ingested: the
    /// next request waits for the store, so at most one response's objects
    /// are held in memory per session and a slow store slows the peer down.
    pub(super) after_ingest: Option<ClientStep>,
    pub(super) report: SyncReport,
    pub(super) started: Millis,
}

/// The running sessions by peer.
#[derive(Default)]
pub(super) struct Sessions {
    running: HashMap<PeerId, Session>,
    last_number: u64,
}

impl Sessions {
    /// Starts a session with `peer` (replacing any running one) and returns
    /// its number.
    pub(super) fn start(&mut self, peer: PeerId, now: Millis) -> u64 {
        self.last_number += 1;
        let number = self.last_number;
        let report = SyncReport { peer: Some(peer), ..SyncReport::default() };
        self.running.insert(peer, Session { number, client: None, after_ingest: None, report, started: now });
        number
    }

    /// The running session with `peer`, whatever its number.
    pub(super) fn get_mut(&mut self, peer: &PeerId) -> Option<&mut Session> {
        self.running.get_mut(peer)
    }

    /// The running session with `peer` if it is session `number`: `None`
    /// for a result of a session that has ended.
    pub(super) fn current(&mut self, peer: &PeerId, number: u64) -> Option<&mut Session> {
        self.running.get_mut(peer).filter(|s| s.number == number)
    }

    /// True when session `number` with `peer` is still running.
    pub(super) fn is_current(&self, peer: &PeerId, number: u64) -> bool {
        self.running.get(peer).is_some_and(|s| s.number == number)
    }

    /// Ends the running session with `peer`.
    pub(super) fn remove(&mut self, peer: &PeerId) -> Option<Session> {
        self.running.remove(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_of_an_ended_session_does_not_reach_the_next_one() {
        let mut sessions = Sessions::default();
        let (peer, other) = (PeerId::random(), PeerId::random());
        let first = sessions.start(peer, Millis(0));
        assert!(sessions.is_current(&peer, first));
        // Timed out, then a new session with the same peer.
        assert!(sessions.remove(&peer).is_some());
        let second = sessions.start(peer, Millis(5));
        assert_ne!(first, second);
        // The first session's late ingest finds no session to credit.
        assert!(sessions.current(&peer, first).is_none());
        assert!(!sessions.is_current(&peer, first));
        assert_eq!(sessions.current(&peer, second).map(|s| s.started), Some(Millis(5)));
        // Numbers are distinct across peers too.
        let third = sessions.start(other, Millis(6));
        assert!(third != first && third != second);
        assert!(!sessions.is_current(&peer, third));
    }
}
