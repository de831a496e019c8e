//! The event loop's side of heads and split views (PROTOCOL.md 13): the
//! signed head served with each snapshot, and the judgement of each
//! finished session against the head its responder announced.

use chorus_core::limits::MAX_ROSTER_HEADS;
use chorus_core::{CoalitionId, Keypair, ObjectId};

use super::blocking::Internal;
use super::EventLoop;
use crate::network::{NetworkEvent, SyncReport};
use crate::splitview::{judge_session, Change, OwnSet, SessionOutcome, SessionView};
use crate::sync::{Head, SignedHead, SyncClient, SyncSnapshot};
use libp2p::PeerId;

/// The signed head of `snapshot`: `roster` (heads and version id) must have
/// been read from the same state of the store as the snapshot's items
/// (`ObjectStore::served_set`), so that every head it names is among them
/// and adopted by them.
pub(super) fn sign_head(
    coalition: CoalitionId,
    snapshot: &SyncSnapshot,
    roster: (Vec<ObjectId>, ObjectId),
    issued_at_ms: u64,
    node_key: &Keypair,
) -> SignedHead {
    let (mut roster_heads, roster_version) = roster;
    if roster_heads.len() > MAX_ROSTER_HEADS {
        // Too many to list: the version id alone (PROTOCOL.md 13.1).
        roster_heads.clear();
    }
    roster_heads.sort();
    let head = Head {
        coalition,
        roster_version,
        roster_heads,
        object_count: snapshot.len() as u64,
        set_fingerprint: snapshot.set_fingerprint(),
        issued_at_ms,
    };
    SignedHead::sign(head, node_key)
}

impl EventLoop {
    /// Judges a finished session (`failed` when it stopped early) against
    /// its responder's head; the outcome comes back as
    /// [`Internal::SessionJudged`]. The judgement asks the store whether
    /// proposals are adopted, so it runs on the blocking pool: the swarm
    /// never waits on the store's lock.
    pub(super) fn judge_split_view(
        &mut self,
        peer: PeerId,
        client: Option<&SyncClient>,
        report: &SyncReport,
        failed: bool,
    ) {
        let Some(client) = client else { return };
        if failed || !client.is_done() || !client.asked_head() {
            // Proves nothing (PROTOCOL.md 13.2): no need for the store.
            self.observe_split_view(peer, SessionOutcome::Inconclusive);
            return;
        }
        let coalition = self.coalition.id();
        let head = client.head().map(|h| h.head().clone());
        let (same_set, withheld) = (client.same_set(), client.withheld());
        let (all_stored, peer_lacked_nothing) = (report.refused == 0, client.stats().have == 0);
        let store = self.store.clone();
        let done = self.internal_tx.clone();
        tokio::spawn(async move {
            let outcome = tokio::task::spawn_blocking(move || {
                let view = SessionView {
                    coalition,
                    completed: true,
                    asked_head: true,
                    head: head.as_ref(),
                    same_set,
                    withheld,
                    all_stored,
                    peer_lacked_nothing,
                };
                let own_set = || {
                    let served = store.served_set().ok()?;
                    let set = SyncSnapshot::new(served.items);
                    Some(OwnSet {
                        object_count: set.len() as u64,
                        set_fingerprint: set.set_fingerprint(),
                        roster_version: served.roster_version,
                    })
                };
                judge_session(&view, |id| store.is_adopted(id), own_set)
            })
            .await
            .unwrap_or(SessionOutcome::Inconclusive);
            let _ = done.send(Internal::SessionJudged { peer, outcome }).await;
        });
    }

    /// Records a judged session and reports a split view once the evidence
    /// has repeated (or clears one).
    pub(super) fn observe_split_view(&mut self, peer: PeerId, outcome: SessionOutcome) {
        let trust = self.service.peer(&peer).and_then(|p| p.trust());
        match self.split_views.observe(peer, trust, outcome) {
            Change::None => {}
            Change::Reported(view) => {
                let trust_name = view.trust.map_or_else(|| "unknown".to_string(), |t| t.short(16));
                tracing::warn!(
                    %peer,
                    trust = %trust_name,
                    evidence = %view.evidence,
                    sessions = view.sessions,
                    "split view: peer {peer} (trust {trust_name}) {} ({} sessions)",
                    view.evidence,
                    view.sessions
                );
                self.execute_emit(NetworkEvent::SplitView(view));
            }
            Change::Cleared { peer } => {
                tracing::info!(%peer, "split view cleared: a session showed everything the peer announced");
                self.execute_emit(NetworkEvent::SplitViewCleared { peer });
            }
        }
    }
}
