//! Admission: what a node does with the objects offered to it, as one
//! sans-IO state machine. Every path by which an object enters a ledger
//! goes through [`Ingest`]: a store's group commit and the in-memory store
//! ([`Ingest::begin`], [`Ingest::persisted`], [`Batch::finish`], or
//! [`Ingest::admit`] when nothing is persisted), and the rebuild of a store
//! at open and step 16 of certificate verification (PROTOCOL.md 9.2), which
//! replay objects in a fixed order ([`Ingest::replay`]).
//!
//! The rules, in one place:
//! - An object whose signature was checked ([`Ledger::check_signature`]) is
//!   authorised against the objects held ([`Ledger::authorise`]) with the
//!   clock of whoever submitted it; the ledger never reads a clock.
//! - An object already held is a duplicate; a second copy in the same group
//!   gets the outcome of the first (a duplicate when the first was stored).
//! - An object refused only because the objects it relies on are not held
//!   yet ([`Rejection::awaits_objects`]) is kept: in the bounded [`Waiting`]
//!   pool for objects offered by peers, in an unbounded ordered list for a
//!   replay (whose objects are finite and were admitted once, or are carried
//!   by one certificate). It is admitted as soon as what it waits for is.
//! - A group commit applies nothing before the caller says it is durable,
//!   so an `Admission::Stored` is never reported for an object a crash could
//!   lose; a replay applies each admitted object before the next is
//!   authorised.
//!
//! The state a ledger reaches depends only on the set of objects admitted
//! (see [`Ledger`]), and an object waits only for objects, so the order and
//! grouping of submissions do not change what is stored (while the pool
//! does not overflow).

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::coalition::{Coalition, VerifiedObject};
use crate::error::Rejection;
use crate::id::ObjectId;
use crate::ledger::{Applied, Ledger, SignatureChecked};

/// The clock of a replay: none. Objects are judged as if at the end of
/// time, so a time rule never refuses them (a store's objects were admitted
/// once; a certificate is judged the same at any time).
pub const NO_CLOCK: u64 = u64::MAX;

/// What a node did with one object offered to it (by a peer, a sync or a
/// local user). Shared by the store, the network and the node so that each
/// layer reports the same outcome in the same words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Valid and new; durable before this was reported. `adopted` names a
    /// proposal this object made a position.
    Stored {
        /// The object's id.
        id: ObjectId,
        /// Proposal newly adopted because of it, if any.
        adopted: Option<ObjectId>,
    },
    /// Valid, and already held.
    Duplicate {
        /// The object's id.
        id: ObjectId,
    },
    /// Refused; nothing was stored. The rejection's verdict says whether the
    /// sender is at fault.
    Refused(Rejection),
}

/// The admission state machine of one coalition: the ledger of the objects
/// admitted, and the pool of objects waiting for others. It does no I/O and
/// reads no clock; its drivers persist what it asks them to and pass in the
/// clock of each submission.
#[derive(Clone, Debug)]
pub struct Ingest {
    ledger: Ledger,
    waiting: Waiting,
}

impl Ingest {
    /// A machine for `coalition` whose ledger holds only the genesis, with
    /// a waiting pool of at most `waiting_capacity` objects (0 keeps none).
    pub fn new(coalition: Coalition, waiting_capacity: usize) -> Self {
        Ingest { ledger: Ledger::new(coalition), waiting: Waiting::new(waiting_capacity) }
    }

    /// The coalition.
    pub fn coalition(&self) -> &Coalition {
        self.ledger.coalition()
    }

    /// The ledger of every object applied so far.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The objects waiting for others.
    pub fn waiting(&self) -> &Waiting {
        &self.waiting
    }

    /// The ledger, giving up the machine.
    pub fn into_ledger(self) -> Ledger {
        self.ledger
    }

    /// Starts a group commit: judges every item, in order, each with the
    /// clock of its submitter (`now_ms`). Items refused by
    /// [`Ledger::check_signature`] stay refused; an object the ledger holds
    /// is a duplicate; a later copy of an object of the group waits for the
    /// outcome of the first; an object that awaits others is held in the
    /// waiting pool and reported refused unless it is released in this
    /// group. The objects to write are [`Batch::to_persist`]; nothing is
    /// applied to the ledger before [`Ingest::persisted`].
    ///
    /// Drive one batch at a time: objects of a batch in flight are not
    /// known to another batch begun meanwhile (if both write one, the second
    /// reports it a duplicate, which is true once the first is durable).
    pub fn begin<I>(&mut self, items: I) -> Batch
    where
        I: IntoIterator<Item = (Result<SignatureChecked, Rejection>, u64)>,
    {
        let mut batch = Batch::default();
        for (index, (item, now_ms)) in items.into_iter().enumerate() {
            batch.now_ms = batch.now_ms.max(now_ms);
            let outcome = match item {
                Err(why) => Some(Admission::Refused(why)),
                Ok(checked) => self.judge(&mut batch, index, checked, now_ms),
            };
            batch.outcomes.push(outcome);
        }
        batch
    }

    /// The outcome of one checked item of a group, if known before persisting.
    fn judge(&mut self, batch: &mut Batch, index: usize, checked: SignatureChecked, now_ms: u64) -> Option<Admission> {
        let id = checked.id();
        if self.ledger.contains(&id) {
            return Some(Admission::Duplicate { id });
        }
        if let Some(&first) = batch.first.get(&id) {
            batch.copies.push((index, first));
            return None;
        }
        batch.first.insert(id, index);
        match self.ledger.authorise(&checked, now_ms) {
            Ok(obj) => {
                batch.round.push(obj);
                None
            }
            Err(why) => {
                if why.awaits_objects() {
                    self.waiting.hold(checked);
                }
                Some(Admission::Refused(why))
            }
        }
    }

    /// Tells the machine that every object of [`Batch::to_persist`] is
    /// durable: applies them to the ledger (returned with what applying did,
    /// for the caller's indexes), then releases from the waiting pool what
    /// the ledger now authorises (with the latest clock of the group), which
    /// is the next round to persist. Call until [`Batch::to_persist`] is
    /// empty, then [`Batch::finish`]. Objects of a round released from the
    /// pool that were submitted in this group are reported stored; others
    /// were answered already, when their submitter was told they wait.
    ///
    /// If persisting fails, drop the batch: nothing of the round was
    /// applied, and objects it released from the pool come again by sync.
    pub fn persisted(&mut self, batch: &mut Batch) -> Vec<(VerifiedObject, Applied)> {
        let round = std::mem::take(&mut batch.round);
        if round.is_empty() {
            return Vec::new();
        }
        let mut applied = Vec::with_capacity(round.len());
        for obj in round {
            let id = obj.id();
            let result = self.ledger.apply(&obj);
            if let Some(&index) = batch.first.get(&id) {
                batch.outcomes[index] = Some(match &result {
                    Applied::New { adopted } => Admission::Stored { id, adopted: *adopted },
                    Applied::Duplicate | Applied::Foreign => Admission::Duplicate { id },
                });
            }
            applied.push((obj, result));
        }
        batch.round = self.waiting.release(&self.ledger, batch.now_ms);
        applied
    }

    /// A group commit with nothing to persist (an in-memory store): every
    /// item judged with clock `now_ms`, and every round applied at once.
    /// Equal to [`Ingest::begin`], then [`Ingest::persisted`] until nothing
    /// is left, then [`Batch::finish`].
    pub fn admit<I>(&mut self, items: I, now_ms: u64) -> Admitted
    where
        I: IntoIterator<Item = Result<SignatureChecked, Rejection>>,
    {
        let mut batch = self.begin(items.into_iter().map(|item| (item, now_ms)));
        let mut applied = Vec::new();
        while !batch.to_persist().is_empty() {
            applied.extend(self.persisted(&mut batch));
        }
        // Every round was applied above, so every item has an outcome.
        let admissions = batch.finish().unwrap_or_default();
        Admitted { admissions, applied }
    }

    /// Replays objects in the order given, each admitted one applied before
    /// the next is authorised (with the replay's clock). Objects that await
    /// others join the replay's pending list; after a pass over `items`
    /// that admitted anything, the pending objects are tried again in
    /// passes, in the order they joined, each pass over those still
    /// pending, until a pass admits nothing. Items refused for any other
    /// reason are returned in the order they were refused.
    ///
    /// This is how a store rebuilds its ledger from the objects it holds
    /// (fed in chunks; no clock) and how a certificate's carried objects are
    /// ingested (PROTOCOL.md 9.2 step 16: one call, then the first refusal
    /// fails the certificate, else the first object still pending at
    /// [`Replay::finish`] names what is missing). Nothing is held in the
    /// waiting pool and nothing needs persisting.
    pub fn replay<T, I>(&mut self, replay: &mut Replay<T>, items: I) -> Replayed<T>
    where
        I: IntoIterator<Item = (T, Result<SignatureChecked, Rejection>)>,
    {
        let items = items.into_iter();
        // Most items of a replay are admitted: one allocation, no regrowth.
        let mut out = Replayed { applied: Vec::with_capacity(items.size_hint().0), refused: Vec::new() };
        let mut progress = false;
        for (tag, item) in items {
            match item {
                Ok(checked) => progress |= self.replay_one(replay, &mut out, tag, checked),
                Err(why) => out.refused.push((tag, why)),
            }
        }
        while progress && !replay.pending.is_empty() {
            progress = false;
            for (tag, checked, _) in std::mem::take(&mut replay.pending) {
                progress |= self.replay_one(replay, &mut out, tag, checked);
            }
        }
        out
    }

    /// Authorises one object of a replay and applies it, keeps it pending
    /// or refuses it. True when it was admitted.
    fn replay_one<T>(
        &mut self,
        replay: &mut Replay<T>,
        out: &mut Replayed<T>,
        tag: T,
        checked: SignatureChecked,
    ) -> bool {
        match self.ledger.authorise(&checked, replay.now_ms) {
            Ok(obj) => {
                let applied = self.ledger.apply(&obj);
                out.applied.push((tag, obj, applied));
                true
            }
            Err(why) if why.awaits_objects() => {
                replay.pending.push((tag, checked, why));
                false
            }
            Err(why) => {
                out.refused.push((tag, why));
                false
            }
        }
    }
}

/// One group commit in progress ([`Ingest::begin`]): the objects to persist
/// next, and the outcome of every item of the group so far.
#[derive(Debug, Default)]
pub struct Batch {
    outcomes: Vec<Option<Admission>>,
    /// Where each object of the group (not held before) first appears.
    first: HashMap<ObjectId, usize>,
    /// (later copy, first copy) of objects that appear more than once.
    copies: Vec<(usize, usize)>,
    /// Authorised, not yet durable, not applied.
    round: Vec<VerifiedObject>,
    /// The latest clock of the group, with which the pool is released.
    now_ms: u64,
}

impl Batch {
    /// The objects to make durable before calling [`Ingest::persisted`]:
    /// authorised, not applied yet. Empty when the group is done.
    pub fn to_persist(&self) -> &[VerifiedObject] {
        &self.round
    }

    /// One admission per item of the group, in the order given to
    /// [`Ingest::begin`]; `None` while objects remain to persist.
    pub fn finish(self) -> Option<Vec<Admission>> {
        if !self.round.is_empty() {
            return None;
        }
        let mut outcomes = self.outcomes;
        for (copy, first) in self.copies {
            outcomes[copy] = match &outcomes[first] {
                Some(Admission::Stored { id, .. }) => Some(Admission::Duplicate { id: *id }),
                other => other.clone(),
            };
        }
        outcomes.into_iter().collect()
    }
}

/// What [`Ingest::admit`] did.
#[derive(Debug)]
pub struct Admitted {
    /// One per item, in input order.
    pub admissions: Vec<Admission>,
    /// Every object applied, in the order applied (objects released from
    /// the pool that earlier calls submitted included), with what applying
    /// did.
    pub applied: Vec<(VerifiedObject, Applied)>,
}

/// A replay in progress ([`Ingest::replay`]): its clock, and the objects
/// that wait for others, in the order they joined, each tagged by the caller
/// (a record key, a place in a certificate) and with the reason it waits.
/// Unbounded: its objects come from a finite, trusted or self-contained set.
#[derive(Debug)]
pub struct Replay<T> {
    now_ms: u64,
    pending: Vec<(T, SignatureChecked, Rejection)>,
}

impl<T> Replay<T> {
    /// An empty replay judging objects with clock `now_ms` ([`NO_CLOCK`]
    /// for stored objects and certificates).
    pub fn new(now_ms: u64) -> Self {
        Replay { now_ms, pending: Vec::new() }
    }

    /// Number of objects still waiting for others.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Ends the replay: every object never admitted, in the order it joined
    /// the pending list, with the reason of its last refusal (which
    /// [`Rejection::awaits_objects`]).
    pub fn finish(self) -> Vec<(T, Rejection)> {
        self.pending.into_iter().map(|(tag, _, why)| (tag, why)).collect()
    }
}

/// What one [`Ingest::replay`] call did.
#[derive(Debug)]
pub struct Replayed<T> {
    /// Objects admitted and applied, in the order applied, with their tag and
    /// what applying did.
    pub applied: Vec<(T, VerifiedObject, Applied)>,
    /// Objects refused for a reason other than waiting, in the order refused.
    pub refused: Vec<(T, Rejection)>,
}

/// Objects refused only because the objects they rely on are not held yet
/// ([`Rejection::awaits_objects`]), kept by [`Ingest`] to be admitted as
/// soon as those arrive (read it with [`Ingest::waiting`]). Their signatures are verified; at most `capacity` are kept (the
/// oldest go first), since anyone can sign with an unknown key: an object
/// that does not fit is simply dropped, and sync brings it again.
#[derive(Clone, Debug)]
pub struct Waiting {
    capacity: usize,
    items: BTreeMap<ObjectId, (u64, SignatureChecked)>,
    order: VecDeque<(u64, ObjectId)>,
    next: u64,
}

impl Waiting {
    /// An empty pool holding at most `capacity` objects.
    pub(crate) fn new(capacity: usize) -> Self {
        Waiting { capacity, items: BTreeMap::new(), order: VecDeque::new(), next: 0 }
    }

    /// Number of objects waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when an object with this id waits.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.items.contains_key(id)
    }

    /// Keeps `checked` until [`Waiting::release`] admits it, evicting the
    /// oldest waiting object when full. Keeping it twice is a no-op.
    pub(crate) fn hold(&mut self, checked: SignatureChecked) {
        if self.capacity == 0 {
            return;
        }
        let id = checked.id();
        if self.items.contains_key(&id) {
            return;
        }
        while self.items.len() >= self.capacity {
            let Some((seq, old)) = self.order.pop_front() else { break };
            if self.items.get(&old).is_some_and(|(s, _)| *s == seq) {
                self.items.remove(&old);
            }
        }
        self.next += 1;
        self.order.push_back((self.next, id));
        self.items.insert(id, (self.next, checked));
    }

    /// Authorises every waiting object against `ledger` and removes the ones
    /// that pass (returned, sorted by id, for the caller to store and apply)
    /// or are now refused for another reason (dropped). Objects the ledger
    /// already holds are dropped. Apply the returned objects and call again
    /// until it returns nothing: one may wait for another. Only [`Ingest`]
    /// does this, so that the admission loop is written once.
    pub(crate) fn release(&mut self, ledger: &Ledger, now_ms: u64) -> Vec<VerifiedObject> {
        let mut out = Vec::new();
        self.items.retain(|id, (_, c)| {
            if ledger.contains(id) {
                return false;
            }
            match ledger.authorise(c, now_ms) {
                Ok(obj) => {
                    out.push(obj);
                    false
                }
                Err(why) => why.awaits_objects(),
            }
        });
        if self.order.len() > 2 * self.items.len() + 16 {
            let items = &self.items;
            self.order.retain(|(seq, id)| items.get(id).is_some_and(|(s, _)| s == seq));
        }
        out
    }
}

#[cfg(test)]
mod tests;
