//! The derived state: chorus-core's admission machine (the ledger and the
//! waiting pool) and the store's indexes, held in memory and rebuilt from
//! the stored objects at every open.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chorus_core::{Applied, Coalition, Ingest, Kind, Ledger, Object, ObjectId, VerifiedObject};

use crate::record::{object_key, CorruptRecord};

/// Objects kept in memory because their signer or roster version is not
/// known yet ([`chorus_core::Rejection::awaits_objects`]); they are stored
/// as soon as the objects they wait for are.
const WAITING_CAPACITY: usize = 4096;

/// Everything derived from the stored objects. Rebuilt at every open, never
/// persisted, so it cannot disagree with the objects on disk.
pub(crate) struct State {
    /// The ledger of the durable objects and the pool of valid signatures
    /// waiting for the objects that authorise them.
    pub(crate) ingest: Ingest,
    pub(crate) by_time: BTreeSet<(u64, ObjectId)>,
    pub(crate) by_kind: BTreeMap<Kind, BTreeSet<(u64, ObjectId)>>,
    pub(crate) by_proposal: HashMap<ObjectId, BTreeSet<(u64, ObjectId)>>,
    pub(crate) corrupt: BTreeMap<Vec<u8>, CorruptRecord>,
}

impl State {
    pub(crate) fn new(coalition: &Coalition) -> Self {
        let mut s = State {
            ingest: Ingest::new(coalition.clone(), WAITING_CAPACITY),
            by_time: BTreeSet::new(),
            by_kind: BTreeMap::new(),
            by_proposal: HashMap::new(),
            corrupt: BTreeMap::new(),
        };
        let created = coalition.genesis().created_at_ms;
        s.index(Kind::Genesis, created, coalition.id(), None);
        s
    }

    /// The ledger of every durable object.
    pub(crate) fn ledger(&self) -> &Ledger {
        self.ingest.ledger()
    }

    fn index(&mut self, kind: Kind, created: u64, id: ObjectId, proposal: Option<ObjectId>) {
        self.by_time.insert((created, id));
        self.by_kind.entry(kind).or_default().insert((created, id));
        if let Some(p) = proposal {
            self.by_proposal.entry(p).or_default().insert((created, id));
        }
    }

    /// Indexes an object the ledger has just applied (`applied` is what
    /// applying did): a new one is listed, and its record, rewritten
    /// durably, is no longer corrupt.
    pub(crate) fn indexed(&mut self, obj: &VerifiedObject, applied: &Applied) {
        if let Applied::New { .. } = applied {
            let proposal = match obj.object() {
                Object::Endorsement(e) => Some(e.proposal),
                _ => None,
            };
            self.index(obj.kind(), obj.created_at_ms(), obj.id(), proposal);
            self.corrupt.remove(&object_key(&obj.id()));
        }
    }
}
