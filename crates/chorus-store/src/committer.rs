//! Group commit: the committer thread, which writes every waiting
//! submission in one atomic sled batch, makes it durable, and only then
//! applies it to the in-memory state.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chorus_core::{Admission, Applied, ObjectId, Rejection, SignatureChecked, VerifiedObject};

use crate::error::StoreError;
use crate::record::{object_key, record_value};
use crate::store::{lock, write, Inner, Store};

/// Group-commit submissions that may wait for the committer at once.
const QUEUE_DEPTH: usize = 64;

/// One caller's validated batch, waiting for a group commit.
pub(crate) struct Job {
    pub(crate) items: Vec<Result<SignatureChecked, Rejection>>,
    pub(crate) reply: SyncSender<Result<Vec<Admission>, StoreError>>,
    /// The submitter's clock, for the time rule.
    pub(crate) now_ms: u64,
}

pub(crate) struct Committer {
    pub(crate) queue: SyncSender<Job>,
    thread: JoinHandle<()>,
}

impl Store {
    pub(crate) fn start(inner: Inner) -> Store {
        let inner = Arc::new(inner);
        let (queue, jobs) = mpsc::sync_channel(QUEUE_DEPTH);
        let worker = Arc::clone(&inner);
        let thread =
            std::thread::Builder::new().name("chorus-store-commit".into()).spawn(move || worker.run_committer(jobs));
        let committer = match thread {
            Ok(thread) => Some(Committer { queue, thread }),
            Err(e) => {
                // Without a committer every ingest reports Closed; reads work.
                tracing::error!(error = %e, "could not start the store's committer thread");
                None
            }
        };
        Store { inner, committer: Mutex::new(committer) }
    }

    pub(crate) fn stop_committer(&self) {
        if let Some(c) = lock(&self.committer).take() {
            drop(c.queue);
            if c.thread.join().is_err() {
                tracing::error!("the store's committer thread panicked");
            }
        }
    }
}

impl Inner {
    /// The committer: waits for a submission, gathers every other one
    /// already waiting (up to `max_commit_objects`), commits them together
    /// and answers each submitter.
    fn run_committer(&self, jobs: Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut count = first.items.len();
            let mut group = vec![first];
            while count < self.config.max_commit_objects {
                match jobs.try_recv() {
                    Ok(job) => {
                        count += job.items.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            let (items, replies): (Vec<_>, Vec<_>) = group.into_iter().map(|j| ((j.items, j.now_ms), j.reply)).unzip();
            match self.commit(items) {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        // A submitter that went away needs no answer.
                        let _ = reply.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "group commit failed; nothing in it was acknowledged");
                    let detail = e.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(StoreError::CommitFailed { detail: detail.clone() }));
                    }
                }
            }
        }
    }

    /// Dedupes, authorises each object against the ledger (with the
    /// submitter's clock), writes one atomic sled batch, makes it durable,
    /// and only then applies the new objects to the in-memory state. Objects
    /// refused only for want of others ([`Rejection::awaits_objects`]) are
    /// kept in the waiting pool; after every round that stored something,
    /// the pool is tried again and what it releases is stored in a further
    /// round, so an object and the objects it relies on may come in any
    /// order, in one batch or in several.
    fn commit(
        &self,
        jobs: Vec<(Vec<Result<SignatureChecked, Rejection>>, u64)>,
    ) -> Result<Vec<Vec<Admission>>, StoreError> {
        let now_ms = jobs.iter().map(|(_, now)| *now).max().unwrap_or(0);
        let mut outcomes: Vec<Vec<Option<Admission>>> = jobs.iter().map(|(j, _)| vec![None; j.len()]).collect();
        // Where each object of this group first appears, and later copies.
        let mut first: HashMap<ObjectId, (usize, usize)> = HashMap::new();
        let mut copies: Vec<((usize, usize), (usize, usize))> = Vec::new();
        let mut round: Vec<VerifiedObject> = Vec::new();
        {
            let mut state = write(&self.state);
            let state = &mut *state;
            for (j, (job, job_now)) in jobs.into_iter().enumerate() {
                for (i, item) in job.into_iter().enumerate() {
                    let checked = match item {
                        Err(why) => {
                            outcomes[j][i] = Some(Admission::Refused(why));
                            continue;
                        }
                        Ok(c) => c,
                    };
                    let id = checked.id();
                    if state.ledger.contains(&id) {
                        outcomes[j][i] = Some(Admission::Duplicate { id });
                        continue;
                    }
                    if let Some(at) = first.get(&id) {
                        copies.push(((j, i), *at));
                        continue;
                    }
                    first.insert(id, (j, i));
                    match state.ledger.authorise(&checked, job_now) {
                        Ok(obj) => round.push(obj),
                        Err(why) => {
                            if why.awaits_objects() {
                                state.waiting.hold(checked);
                            }
                            outcomes[j][i] = Some(Admission::Refused(why));
                        }
                    }
                }
            }
        }
        while !round.is_empty() {
            let mut batch = sled::Batch::default();
            for obj in &round {
                batch.insert(object_key(&obj.id()), record_value(obj.envelope().bytes()));
            }
            self.db.apply_batch(batch).map_err(StoreError::db(&self.path))?;
            self.db.flush().map_err(StoreError::db(&self.path))?;
            lock(&self.sync).sync()?;
            let mut state = write(&self.state);
            let state = &mut *state;
            for obj in round.drain(..) {
                let id = obj.id();
                let admission = match state.apply(&obj) {
                    Applied::New { adopted } => Admission::Stored { id, adopted },
                    Applied::Duplicate | Applied::Foreign => Admission::Duplicate { id },
                };
                // Objects released from the pool that came in this group are
                // reported stored; earlier submitters were already answered.
                if let Some((j, i)) = first.get(&id) {
                    outcomes[*j][*i] = Some(admission);
                }
            }
            round = state.waiting.release(&state.ledger, now_ms);
        }
        for ((j, i), (fj, fi)) in copies {
            outcomes[j][i] = match &outcomes[fj][fi] {
                Some(Admission::Stored { id, .. }) => Some(Admission::Duplicate { id: *id }),
                other => other.clone(),
            };
        }
        // Every object gets an outcome above; if one did not, that is a bug
        // of this store, reported as such, never as a fault of the object
        // or of the peer that sent it.
        outcomes
            .into_iter()
            .map(|job| job.into_iter().collect::<Option<Vec<Admission>>>())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| StoreError::Internal("an object of the group got no outcome".into()))
    }
}
