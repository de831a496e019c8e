//! What the network needs from the node's object store, and (with the
//! `test` feature) an in-memory store for tests and simulations.

use std::time::{SystemTime, UNIX_EPOCH};

use chorus_core::{Admission, Coalition, Ledger, ObjectId, ObserverAccess, PublicKey};

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

    /// Validates each envelope with chorus-core, with the knowledge of the
    /// objects already held (`Ledger::validate`: admitted members, rotated
    /// keys, delegations), and stores the valid new ones durably. Returns one
    /// admission per input, in input order; an `Admission::Stored` must
    /// survive a crash once returned. An object refused only for want of
    /// others (`Rejection::awaits_objects`, verdict Ignore) should be kept
    /// and stored once they arrive.
    fn ingest(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure>;

    /// As [`ObjectStore::ingest`], for copies from a peer that proved
    /// nothing (a stranger): an object refused only for want of others
    /// (`Rejection::awaits_objects`) is refused and NOT kept waiting, so a
    /// peer that proved nothing cannot fill the waiting pool (PROTOCOL.md
    /// 14.4). A store implements it by authorising each object against the
    /// objects held (`Ledger::check_signature`, `Ledger::authorise`) before
    /// handing the admissible ones to its ingest. The default calls
    /// [`ObjectStore::ingest`], which keeps them: override it.
    fn ingest_admissible(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure> {
        self.ingest(batch)
    }

    /// Whether and how observers may follow the coalition (PROTOCOL.md
    /// 14.9): the `observers` setting of the charter of the newest roster
    /// version the store's objects define (`Ledger::head_roster`). The
    /// default reads the genesis charter only.
    fn observer_access(&self) -> ObserverAccess {
        self.coalition().charter().observers
    }

    /// The item set observers may sync under [`ObserverAccess::Positions`]
    /// (PROTOCOL.md 14.9), from one state of the store like
    /// [`ObjectStore::served_set`]: the genesis, adopted proposals
    /// (positions and adopted governance) and the objects their
    /// certificates carry (endorsements, dissent, proof chains), the set a
    /// node publishes with `publish = "positions"`. The default keeps the
    /// genesis and the adopted proposals of [`ObjectStore::served_set`]
    /// only (no certificate objects): override it.
    fn observer_served_set(&self) -> Result<ServedSet, StoreFailure> {
        let mut set = self.served_set()?;
        let genesis = self.coalition().id();
        set.items.retain(|(_, id)| *id == genesis || self.is_adopted(id));
        Ok(set)
    }

    /// `None` when `trust` is not a member of the newest roster version the
    /// store's objects define (`Ledger::head_roster`), else every key that
    /// may sign for it (`Ledger::known_keys`): whose nodes may join the
    /// network, and with which keys their attestations may be signed. The
    /// default knows only the genesis roster and trust ids.
    fn keys_of(&self, trust: &PublicKey) -> Option<Vec<PublicKey>> {
        self.coalition().current_roster().contains(trust).then(|| vec![*trust])
    }

    /// True when the store's objects revoke node key `node_key` of `trust`
    /// (`Ledger::node_key_revoked`, PROTOCOL.md 12.5): peers refuse a hello
    /// attesting it and disconnect a node that presents it. No default: a
    /// store that forgot to answer must not silently admit revoked keys.
    fn node_key_revoked(&self, trust: &PublicKey, node_key: &PublicKey) -> bool;

    /// The item set sync reconciles ([`ObjectStore::sync_items`]) and the
    /// newest roster version the store's objects define
    /// (`Ledger::head_version`, PROTOCOL.md 12.3), both read from one state
    /// of the store (under one lock): a node's head announces that version
    /// for that set (PROTOCOL.md 13), so every head it names must be among
    /// the items and adopted by exactly them, which an object stored
    /// between two reads (a revocation withdrawing a stance) would break.
    /// No default: a store that forgot to answer must not announce the
    /// genesis roster in place of its own.
    fn served_set(&self) -> Result<ServedSet, StoreFailure>;

    /// True when the store's objects adopt governance proposal `id`
    /// (`Ledger::is_adopted`): how a peer's claimed roster is checked
    /// against what it showed (PROTOCOL.md 13.2). No default, as above.
    fn is_adopted(&self, id: &ObjectId) -> bool;

    /// The exact envelope bytes of a stored object.
    fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure>;

    /// Every stored object as `(created_at_ms, id)`, sorted ascending: the
    /// item set that sync reconciles.
    fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure>;
}

/// What [`ObjectStore::served_set`] reads from one state of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedSet {
    /// Every stored object as `(created_at_ms, id)`, sorted ascending.
    pub items: Vec<(u64, ObjectId)>,
    /// The heads of the newest roster version, sorted.
    pub roster_heads: Vec<ObjectId>,
    /// Its version id.
    pub roster_version: ObjectId,
}

/// [`ObjectStore::keys_of`] from a ledger: `None` unless `trust` is in its
/// head roster, else its known keys.
pub fn keys_of(ledger: &Ledger, trust: &PublicKey) -> Option<Vec<PublicKey>> {
    let (roster, _) = ledger.head_roster()?;
    roster.contains(trust).then(|| ledger.known_keys(trust).into_iter().collect())
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is
/// before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(any(test, feature = "test"))]
pub use memory::MemoryStore;

/// The in-memory store, only with the `test` feature: no production build
/// can hold objects that do not survive a restart, or skip validation.
#[cfg(any(test, feature = "test"))]
mod memory {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::{Mutex, MutexGuard};

    use chorus_core::{Admission, Coalition, Ingest, ObjectId, ObserverAccess, PublicKey};

    use super::{keys_of, now_ms, ObjectStore, ServedSet, StoreFailure};

    /// Objects kept while they wait for others, as in the durable store.
    const WAITING_CAPACITY: usize = 4096;

    #[derive(Default)]
    struct MemoryState {
        objects: HashMap<ObjectId, Vec<u8>>,
        items: BTreeSet<(u64, ObjectId)>,
    }

    /// An [`ObjectStore`] in memory, driving chorus-core's admission machine
    /// ([`chorus_core::Ingest`]: the ledger, and the waiting pool for
    /// objects that wait for others) with nothing to persist. Nothing
    /// survives the process: for tests and simulations only, with the
    /// `test` feature.
    pub struct MemoryStore {
        coalition: Coalition,
        state: Mutex<(MemoryState, Ingest)>,
    }

    impl MemoryStore {
        /// An empty store for `coalition`; it holds the genesis from the start.
        pub fn new(coalition: Coalition) -> Self {
            let ingest = Ingest::new(coalition.clone(), WAITING_CAPACITY);
            let mut state = MemoryState::default();
            let genesis = coalition.genesis_envelope();
            state.objects.insert(genesis.id(), genesis.bytes().to_vec());
            state.items.insert((coalition.genesis().created_at_ms, genesis.id()));
            MemoryStore { coalition, state: Mutex::new((state, ingest)) }
        }

        fn lock(&self) -> MutexGuard<'_, (MemoryState, Ingest)> {
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

        /// Number of objects in the waiting pool.
        pub fn waiting(&self) -> usize {
            self.lock().1.waiting().len()
        }

        /// Every id held, sorted.
        pub fn ids(&self) -> BTreeSet<ObjectId> {
            self.lock().0.objects.keys().copied().collect()
        }

        /// The ledger's digest of the derived state (same set => same digest).
        pub fn digest(&self) -> [u8; 32] {
            self.lock().1.ledger().digest()
        }

        /// Ingest; with `keep_waiting` false, an object that awaits others
        /// is refused without entering the waiting pool (judged against the
        /// objects held before the batch).
        fn ingest_with(&self, batch: Vec<Vec<u8>>, keep_waiting: bool) -> Result<Vec<Admission>, StoreFailure> {
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let checked = chorus_core::Ledger::check_signatures(&self.coalition, &refs, 1);
            let now = now_ms();
            let mut guard = self.lock();
            let (state, ingest) = &mut *guard;
            // Objects put in by `insert_trusted` are held but not in the
            // ledger: they are duplicates, as they always were here.
            let mut out: Vec<Option<Admission>> = checked
                .iter()
                .map(|c| match c {
                    Ok(c) if state.objects.contains_key(&c.id()) => Some(Admission::Duplicate { id: c.id() }),
                    Ok(c) if !keep_waiting => match ingest.ledger().authorise(c, now) {
                        Err(why) if why.awaits_objects() => Some(Admission::Refused(why)),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            let fresh = checked.into_iter().zip(&out).filter(|(_, o)| o.is_none()).map(|(c, _)| c);
            let admitted = ingest.admit(fresh.collect::<Vec<_>>(), now);
            // Objects released from the pool that earlier calls submitted are
            // stored too.
            for (obj, _) in &admitted.applied {
                state.items.insert((obj.created_at_ms(), obj.id()));
                state.objects.insert(obj.id(), obj.envelope().bytes().to_vec());
            }
            let mut admissions = admitted.admissions.into_iter();
            for slot in out.iter_mut().filter(|o| o.is_none()) {
                *slot = admissions.next();
            }
            out.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| "an object got no outcome".into())
        }

        /// Inserts envelopes without validation or ledger effects, for
        /// building large test fixtures quickly. Only for objects known to be
        /// valid.
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
            self.ingest_with(batch, true)
        }

        fn ingest_admissible(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure> {
            self.ingest_with(batch, false)
        }

        fn observer_access(&self) -> ObserverAccess {
            let guard = self.lock();
            guard.1.ledger().head_roster().map(|(_, charter)| charter.observers).unwrap_or_default()
        }

        fn keys_of(&self, trust: &PublicKey) -> Option<Vec<PublicKey>> {
            keys_of(self.lock().1.ledger(), trust)
        }

        fn node_key_revoked(&self, trust: &PublicKey, node_key: &PublicKey) -> bool {
            self.lock().1.ledger().node_key_revoked(trust, node_key)
        }

        fn served_set(&self) -> Result<ServedSet, StoreFailure> {
            let guard = self.lock();
            let (roster_heads, roster_version) = guard.1.ledger().head_version();
            Ok(ServedSet { items: guard.0.items.iter().copied().collect(), roster_heads, roster_version })
        }

        fn is_adopted(&self, id: &ObjectId) -> bool {
            self.lock().1.ledger().is_adopted(id)
        }

        fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure> {
            Ok(self.lock().0.objects.get(id).cloned())
        }

        fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure> {
            Ok(self.lock().0.items.iter().copied().collect())
        }
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
        let served = store.served_set().unwrap();
        assert_eq!(served.items, items);
        assert_eq!((served.roster_heads, served.roster_version), (vec![], f.coalition.id()));
    }

    #[test]
    fn admissible_ingest_keeps_nothing_waiting() {
        use chorus_core::{Action, Keypair, Member, Stance};
        let f = Fixture::new(3);
        let store = MemoryStore::new(f.coalition.clone());
        let x = Keypair::from_seed(&[7; 32]);
        let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
        let p = f.proposal_under(&x, x.public(), "By X", &[g.id()], None, 5);
        // By a signer not admitted (yet): refused, and not kept.
        let out = store.ingest_admissible(vec![p.bytes().to_vec()]).unwrap();
        assert!(matches!(&out[0], Admission::Refused(r) if r.awaits_objects()), "{out:?}");
        assert_eq!(store.waiting(), 0);
        // The same through `ingest` waits.
        let out = store.ingest(vec![p.bytes().to_vec()]).unwrap();
        assert!(matches!(&out[0], Admission::Refused(r) if r.awaits_objects()), "{out:?}");
        assert_eq!(store.waiting(), 1);
        // What is admissible now is stored either way.
        let q = f.proposal(1, "Now", 2, None);
        let out = store.ingest_admissible(vec![q.bytes().to_vec(), q.bytes().to_vec()]).unwrap();
        assert!(matches!(out[0], Admission::Stored { .. }), "{out:?}");
        assert!(matches!(out[1], Admission::Duplicate { .. }), "{out:?}");
        let e = f.endorsement(0, q.id(), Stance::Endorse, 3);
        assert!(matches!(store.ingest_admissible(vec![e.bytes().to_vec()]).unwrap()[0], Admission::Stored { .. }));
    }

    #[test]
    fn memory_store_admits_governed_objects_in_any_order_and_knows_the_head_roster() {
        use chorus_core::{Action, Keypair, Member, Stance};
        let f = Fixture::new(3);
        let store = MemoryStore::new(f.coalition.clone());
        let x = Keypair::from_seed(&[7; 32]);
        let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
        let p = f.proposal_under(&x, x.public(), "By X", &[g.id()], None, 5);
        let mut objects = vec![p.clone(), f.stance_by(&x, x.public(), p.id(), Stance::Endorse, 6, None)];
        // X's objects come first, in their own batch: they wait.
        let out = store.ingest(objects.iter().map(|o| o.bytes().to_vec()).collect()).unwrap();
        assert!(out.iter().all(|a| matches!(a, Admission::Refused(r) if r.awaits_objects())), "{out:?}");
        assert!(store.keys_of(&x.public()).is_none());
        objects = vec![g.clone()];
        objects.extend((0..3).map(|i| f.endorsement(i, g.id(), Stance::Endorse, 2)));
        store.ingest(objects.iter().map(|o| o.bytes().to_vec()).collect()).unwrap();
        assert_eq!(store.keys_of(&x.public()), Some(vec![x.public()]));
        assert!(store.contains(&p.id()));
        assert_eq!(store.len(), 7);
    }
}
