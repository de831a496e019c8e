//! Group commit: the committer thread, which writes every waiting
//! submission in one atomic sled batch, makes it durable, and only then
//! applies it to the in-memory state.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chorus_core::{Admission, Rejection, SignatureChecked};

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

    /// Commits a group through chorus-core's admission machine
    /// ([`chorus_core::Ingest`]): it dedupes the group against the ledger and
    /// itself, authorises each object with its submitter's clock, and holds
    /// the objects that wait for others; the store writes each round it
    /// names in one atomic sled batch, makes it durable, and only then lets
    /// the machine apply it (and indexes it). Each round may release objects
    /// from the waiting pool, written in a further round, so an object and
    /// the objects it relies on may come in any order, in one batch or in
    /// several. Returns the outcomes of each job, in job order.
    fn commit(
        &self,
        jobs: Vec<(Vec<Result<SignatureChecked, Rejection>>, u64)>,
    ) -> Result<Vec<Vec<Admission>>, StoreError> {
        let sizes: Vec<usize> = jobs.iter().map(|(items, _)| items.len()).collect();
        let items = jobs.into_iter().flat_map(|(items, now_ms)| items.into_iter().map(move |item| (item, now_ms)));
        let mut group = write(&self.state).ingest.begin(items);
        while !group.to_persist().is_empty() {
            let mut batch = sled::Batch::default();
            for obj in group.to_persist() {
                batch.insert(object_key(&obj.id()), record_value(obj.envelope().bytes()));
            }
            self.db.apply_batch(batch).map_err(StoreError::db(&self.path))?;
            // sled's flush is not an fsync: the fdatasync after it is what
            // makes the round survive power loss.
            self.db.flush().map_err(StoreError::db(&self.path))?;
            lock(&self.sync).sync()?;
            let mut state = write(&self.state);
            for (obj, applied) in state.ingest.persisted(&mut group) {
                state.indexed(&obj, &applied);
            }
        }
        // Every object has an outcome once nothing is left to persist; if
        // one did not, that is a bug of this store, reported as such, never
        // as a fault of the object or of the peer that sent it.
        let no_outcome = || StoreError::Internal("an object of the group got no outcome".into());
        let outcomes = group.finish().ok_or_else(no_outcome)?;
        if outcomes.len() != sizes.iter().sum::<usize>() {
            return Err(no_outcome());
        }
        let mut outcomes = outcomes.into_iter();
        Ok(sizes.into_iter().map(|n| outcomes.by_ref().take(n).collect()).collect())
    }
}
