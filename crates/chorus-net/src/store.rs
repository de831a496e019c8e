//! What the network needs from the node's object store, and an in-memory
//! store for tests and simulations.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use chorus_core::{Admission, Coalition, Ledger, ObjectId};

/// A store failure, as reported by the store (I/O, corruption). The network
/// treats it as "not stored": the object is neither acknowledged nor
/// forwarded, and sync offers it again later.
pub type StoreFailure = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The node's durable object store, as the network uses it. chorus-net never
/// writes objects any other way, so everything it forwards has passed
/// chorus-core validation inside [`ObjectStore::ingest`].
///
/// Methods block (disk I/O, signature checks); the network calls them from
/// `tokio::task::spawn_blocking`, never on the event loop.
pub trait ObjectStore: Send + Sync + 'static {
    /// The coalition this store holds objects of.
    fn coalition(&self) -> &Coalition;

    /// Validates each envelope with chorus-core and stores the valid new ones
    /// durably. Returns one admission per input, in input order; an
    /// `Admission::Stored` must survive a crash once returned.
    fn ingest(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure>;

    /// The exact envelope bytes of a stored object.
    fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure>;

    /// Every stored object as `(created_at_ms, id)`, sorted ascending: the
    /// item set that sync reconciles.
    fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure>;
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is
/// before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Default)]
struct MemoryState {
    objects: HashMap<ObjectId, Vec<u8>>,
    items: BTreeSet<(u64, ObjectId)>,
}

/// An [`ObjectStore`] in memory, built on [`chorus_core::Coalition::validate`]
/// and [`chorus_core::Ledger`]. Nothing survives the process: for tests and
/// simulations only.
pub struct MemoryStore {
    coalition: Coalition,
    state: Mutex<(MemoryState, Ledger)>,
}

impl MemoryStore {
    /// An empty store for `coalition`; it holds the genesis from the start.
    pub fn new(coalition: Coalition) -> Self {
        let ledger = Ledger::new(coalition.clone());
        let mut state = MemoryState::default();
        let genesis = coalition.genesis_envelope();
        state.objects.insert(genesis.id(), genesis.bytes().to_vec());
        state.items.insert((coalition.genesis().created_at_ms, genesis.id()));
        MemoryStore { coalition, state: Mutex::new((state, ledger)) }
    }

    fn lock(&self) -> MutexGuard<'_, (MemoryState, Ledger)> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters to tests, so a poisoned lock is still used.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of objects held, genesis included.
    pub fn len(&self) -> usize {
        self.lock().0.objects.len()
    }

    /// True when the store holds nothing (never: the genesis is always held).
    pub fn is_empty(&self) -> bool {
        self.lock().0.objects.is_empty()
    }

    /// True when the object is held.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.lock().0.objects.contains_key(id)
    }

    /// Every id held, sorted.
    pub fn ids(&self) -> BTreeSet<ObjectId> {
        self.lock().0.objects.keys().copied().collect()
    }

    /// The ledger's digest of the derived state (same set => same digest).
    pub fn digest(&self) -> [u8; 32] {
        self.lock().1.digest()
    }

    /// Inserts envelopes without validation or ledger effects, for building
    /// large test fixtures quickly. Only for objects known to be valid.
    pub fn insert_trusted(&self, objects: impl IntoIterator<Item = (u64, ObjectId, Vec<u8>)>) {
        let mut guard = self.lock();
        for (t, id, bytes) in objects {
            guard.0.items.insert((t, id));
            guard.0.objects.insert(id, bytes);
        }
    }
}

impl ObjectStore for MemoryStore {
    fn coalition(&self) -> &Coalition {
        &self.coalition
    }

    fn ingest(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure> {
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let verdicts = self.coalition.validate_many(&refs, now_ms(), 1);
        let mut guard = self.lock();
        let (state, ledger) = &mut *guard;
        Ok(verdicts
            .into_iter()
            .map(|v| match v {
                Err(r) => Admission::Refused(r),
                Ok(obj) => {
                    let id = obj.id();
                    if state.objects.contains_key(&id) {
                        return Admission::Duplicate { id };
                    }
                    let adopted = match ledger.apply(&obj) {
                        chorus_core::Applied::New { adopted } => adopted,
                        _ => None,
                    };
                    state.items.insert((obj.created_at_ms(), id));
                    state.objects.insert(id, obj.envelope().bytes().to_vec());
                    Admission::Stored { id, adopted }
                }
            })
            .collect())
    }

    fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure> {
        Ok(self.lock().0.objects.get(id).cloned())
    }

    fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure> {
        Ok(self.lock().0.items.iter().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::Fixture;

    #[test]
    fn memory_store_validates_dedups_and_lists() {
        let f = Fixture::new(3);
        let store = MemoryStore::new(f.coalition.clone());
        let p = f.proposal(0, "A", 5, None);
        let mut bad = p.bytes().to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let out = store.ingest(vec![p.bytes().to_vec(), p.bytes().to_vec(), bad]).unwrap();
        assert!(matches!(out[0], Admission::Stored { .. }));
        assert!(matches!(out[1], Admission::Duplicate { .. }));
        assert!(matches!(out[2], Admission::Refused(_)));
        assert_eq!(store.len(), 2);
        let items = store.sync_items().unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(store.get(&p.id()).unwrap().as_deref(), Some(p.bytes()));
    }
}
