//! Which connections still answer pings.
//!
//! libp2p's ping closes nothing: it reports only the second failure in a
//! row, and a ping on a dead connection can first wait 10 s for its stream
//! to be negotiated. So the event loop records when each connection last
//! answered a ping and closes one that answered none for
//! `ping_interval + ping_timeout`: by then a ping sent `ping_interval` after
//! the last answer has failed. With a housekeeping tick each second, a
//! silent cut is noticed within that and a second.

use std::collections::HashMap;
use std::time::Duration;

use libp2p::swarm::ConnectionId;

use crate::service::Millis;

/// When each open connection last answered a ping (or opened).
pub(super) struct Liveness {
    alive: HashMap<ConnectionId, Millis>,
    dead_after: Duration,
}

impl Liveness {
    /// Connections that answered no ping for `dead_after` are dead.
    pub(super) fn new(dead_after: Duration) -> Self {
        Liveness { alive: HashMap::new(), dead_after }
    }

    /// A connection opened at `now`; its first ping is due at once.
    pub(super) fn opened(&mut self, connection: ConnectionId, now: Millis) {
        self.alive.insert(connection, now);
    }

    /// A ping on an open connection was answered at `now`.
    pub(super) fn answered(&mut self, connection: ConnectionId, now: Millis) {
        if let Some(alive) = self.alive.get_mut(&connection) {
            *alive = now;
        }
    }

    /// The connection closed, or is being closed.
    pub(super) fn closed(&mut self, connection: ConnectionId) {
        self.alive.remove(&connection);
    }

    /// The connections dead at `now`, forgotten here: the caller closes them.
    pub(super) fn take_dead(&mut self, now: Millis) -> Vec<ConnectionId> {
        let dead_after = self.dead_after;
        let dead: Vec<ConnectionId> =
            self.alive.iter().filter(|(_, t)| now.since(**t) > dead_after).map(|(c, _)| *c).collect();
        for c in &dead {
            self.alive.remove(c);
        }
        dead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_dead_once_it_answered_no_ping_for_the_bound() {
        let mut l = Liveness::new(Duration::from_secs(8));
        let (a, b, c) =
            (ConnectionId::new_unchecked(1), ConnectionId::new_unchecked(2), ConnectionId::new_unchecked(3));
        l.opened(a, Millis(0));
        l.opened(b, Millis(0));
        l.opened(c, Millis(0));
        l.answered(b, Millis(2_000));
        l.closed(c);
        assert!(l.take_dead(Millis(8_000)).is_empty());
        assert_eq!(l.take_dead(Millis(8_001)), vec![a]);
        assert!(l.take_dead(Millis(9_000)).is_empty(), "reported once");
        assert_eq!(l.take_dead(Millis(10_001)), vec![b]);
        // An answer for a connection no longer watched changes nothing.
        l.answered(a, Millis(10_002));
        assert!(l.take_dead(Millis(30_000)).is_empty());
    }
}
