//! Blocking work of the event loop (store ingest, snapshots) and what it
//! reports back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chorus_core::{Admission, ObjectId};
use libp2p::request_response::ResponseChannel;
use libp2p::{gossipsub, PeerId};
use tokio::sync::mpsc;

use crate::service::Millis;
use crate::splitview::SessionOutcome;
use crate::store::ObjectStore;
use crate::sync::{SyncError, SyncSnapshot};

/// Objects per store call when draining the gossip queue.
const INGEST_BATCH: usize = 256;
/// A snapshot older than this is rebuilt even if nothing was stored through
/// the network, so objects the node stored itself are offered too.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);

/// Where an object being ingested came from.
pub(super) enum Origin {
    Gossip {
        message_id: gossipsub::MessageId,
        source: PeerId,
        /// For a duplicate: whether the store holds exactly these bytes
        /// (see `service::Gossiped::held_bytes`).
        held_bytes: bool,
    },
    /// Objects of a response in session `session` (`Sessions::start`).
    Sync { peer: PeerId, session: u64 },
}

/// Results of blocking work, back to the loop.
pub(super) enum Internal {
    Ingested {
        origin: Origin,
        result: Result<Vec<Admission>, String>,
    },
    SnapshotReady {
        peer: PeerId,
        session: u64,
        result: Result<SyncSnapshot, String>,
    },
    Served {
        peer: PeerId,
        channel: ResponseChannel<Vec<u8>>,
        result: Result<Vec<u8>, SyncError>,
    },
    /// A finished session judged against its responder's head.
    SessionJudged {
        peer: PeerId,
        outcome: SessionOutcome,
    },
}

/// The store's newest roster version as `ObjectStore::served_set` gives
/// it: heads and id.
pub(super) type RosterHead = (Vec<ObjectId>, ObjectId);

/// The newest snapshot of the store's item set, shared by sync sessions,
/// with the roster version read with it (what its head announces).
#[derive(Default)]
pub(super) struct SnapshotCache {
    generation: AtomicU64,
    cached: Mutex<Option<(u64, Millis, SyncSnapshot, RosterHead)>>,
}

impl SnapshotCache {
    pub(super) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Blocking: may read every item of the store. `now` is when the loop
    /// asked for it.
    pub(super) fn get(&self, store: &dyn ObjectStore, now: Millis) -> Result<SyncSnapshot, String> {
        self.get_with_roster(store, now).map(|(snap, _)| snap)
    }

    /// As [`SnapshotCache::get`], with the roster version read from the same
    /// state of the store as the snapshot's items: every head it names is
    /// among them, and adopted by exactly them.
    pub(super) fn get_with_roster(
        &self,
        store: &dyn ObjectStore,
        now: Millis,
    ) -> Result<(SyncSnapshot, RosterHead), String> {
        let generation = self.generation.load(Ordering::Relaxed);
        let mut guard = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((g, at, snap, roster)) = guard.as_ref() {
            if *g == generation && now.since(*at) < SNAPSHOT_MAX_AGE {
                return Ok((snap.clone(), roster.clone()));
            }
        }
        let served = store.served_set().map_err(|e| e.to_string())?;
        let roster = (served.roster_heads, served.roster_version);
        let snap = SyncSnapshot::new(served.items);
        *guard = Some((generation, now, snap.clone(), roster.clone()));
        Ok((snap, roster))
    }
}

/// A gossiped copy waiting for the store.
pub(super) struct GossipJob {
    pub(super) message: gossipsub::MessageId,
    pub(super) source: PeerId,
    pub(super) data: Vec<u8>,
    /// False for a copy from a peer that proved nothing: it goes to
    /// `ObjectStore::ingest_admissible` and never waits for others.
    pub(super) keep_waiting: bool,
}

/// Drains the gossip queue into batched store calls.
pub(super) async fn ingest_worker(
    store: Arc<dyn ObjectStore>,
    mut jobs: mpsc::Receiver<GossipJob>,
    done: mpsc::Sender<Internal>,
) {
    // A batch holds copies of one kind (members' or not), so each goes to
    // its own store call; a job of the other kind starts the next batch.
    let mut carry: Option<GossipJob> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let keep_waiting = first.keep_waiting;
        let mut batch = vec![first];
        while batch.len() < INGEST_BATCH {
            match jobs.try_recv() {
                Ok(job) if job.keep_waiting == keep_waiting => batch.push(job),
                Ok(job) => {
                    carry = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        let (origins, envelopes): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|job| ((job.message, job.source), job.data)).unzip();
        let n = envelopes.len();
        let store = store.clone();
        let ids: Vec<gossipsub::MessageId> = origins.iter().map(|(id, _)| id.clone()).collect();
        let result = tokio::task::spawn_blocking(move || {
            let admissions = if keep_waiting { store.ingest(envelopes) } else { store.ingest_admissible(envelopes) }
                .map_err(|e| e.to_string())?;
            let held: Vec<bool> =
                admissions.iter().zip(&ids).map(|(a, id)| holds_these_bytes(&*store, a, id)).collect();
            Ok::<_, String>((admissions, held))
        })
        .await
        .unwrap_or_else(|e| Err(format!("store task failed: {e}")));
        let results: Vec<(Result<Vec<Admission>, String>, bool)> = match result {
            Ok((admissions, held)) if admissions.len() == n => {
                admissions.into_iter().zip(held).map(|(a, held)| (Ok(vec![a]), held)).collect()
            }
            Ok((admissions, _)) => {
                vec![(Err(format!("store answered {} admissions for {n} objects", admissions.len())), false); n]
            }
            Err(e) => vec![(Err(e), false); n],
        };
        for ((message_id, source), (result, held_bytes)) in origins.into_iter().zip(results) {
            let origin = Origin::Gossip { message_id, source, held_bytes };
            if done.send(Internal::Ingested { origin, result }).await.is_err() {
                return;
            }
        }
    }
}

/// Blocking: for a duplicate, whether the copy the store holds has exactly
/// the bytes of message `id` (a message id is the hash of its bytes). False
/// when the store cannot say; true for any other admission.
fn holds_these_bytes(store: &dyn ObjectStore, admission: &Admission, id: &gossipsub::MessageId) -> bool {
    match admission {
        Admission::Duplicate { id: object } => {
            matches!(store.get(object), Ok(Some(bytes)) if crate::behaviour::message_id(&bytes) == *id)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::message_id;
    use crate::MemoryStore;
    use chorus_core::testkit::Fixture;
    use chorus_core::{Envelope, Kind};

    #[test]
    fn only_the_copy_held_counts_as_held() {
        let f = Fixture::new(3);
        let store = MemoryStore::new(f.coalition.clone());
        let p = f.proposal(0, "Held", 1, None);
        let out = store.ingest(vec![p.bytes().to_vec()]).unwrap();
        assert!(holds_these_bytes(&store, &out[0], &message_id(p.bytes())), "stored");
        let again = store.ingest(vec![p.bytes().to_vec()]).unwrap();
        assert_eq!(again[0], Admission::Duplicate { id: p.id() });
        assert!(holds_these_bytes(&store, &again[0], &message_id(p.bytes())));
        // The genesis with one signature dropped: admission knows it by id
        // (a duplicate) without reading its signatures; it is not the copy held.
        let genesis = f.coalition.genesis_envelope();
        let fewer = Envelope::assemble(Kind::Genesis, genesis.body().to_vec(), genesis.signatures()[1..].to_vec());
        assert_ne!(fewer.bytes(), genesis.bytes());
        let dup = store.ingest(vec![fewer.bytes().to_vec()]).unwrap();
        assert_eq!(dup[0], Admission::Duplicate { id: f.id() });
        assert!(!holds_these_bytes(&store, &dup[0], &message_id(fewer.bytes())));
        assert!(holds_these_bytes(&store, &dup[0], &message_id(genesis.bytes())));
    }
}
