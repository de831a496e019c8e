//! Behaviour of one store: outcomes, reads, reopening, versions, concurrency.

mod common;

use std::sync::Arc;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{certificate, Admission, Kind, Rejection, Stance, Verdict};
use chorus_store::{Store, StoreError, FORMAT_VERSION};

#[test]
fn ingest_reports_each_outcome_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let p = f.proposal(0, "Budget", 1, None);
    let e0 = f.endorsement(0, p.id(), Stance::Endorse, 2);
    let e1 = f.endorsement(1, p.id(), Stance::Endorse, 3);
    let foreign = Fixture::new(2).proposal(0, "Elsewhere", 1, None);
    let future = f.proposal(1, "Later", 10 * 60 * 1000, None);
    let batch: Vec<&[u8]> = vec![
        p.bytes(),
        e0.bytes(),
        e0.bytes(),
        e1.bytes(),
        foreign.bytes(),
        b"not an envelope",
        future.bytes(),
        f.coalition.genesis_envelope().bytes(),
    ];
    let out = store.ingest(&batch, T0).unwrap();
    assert_eq!(out[0], Admission::Stored { id: p.id(), adopted: None });
    assert_eq!(out[1], Admission::Stored { id: e0.id(), adopted: None });
    assert_eq!(out[2], Admission::Duplicate { id: e0.id() });
    assert_eq!(out[3], Admission::Stored { id: e1.id(), adopted: Some(p.id()) });
    assert!(matches!(out[4], Admission::Refused(Rejection::WrongCoalition { .. })));
    assert!(matches!(&out[5], Admission::Refused(r) if r.verdict() == Verdict::Reject));
    assert!(
        matches!(&out[6], Admission::Refused(r @ Rejection::FromTheFuture { .. }) if r.verdict() == Verdict::Ignore)
    );
    assert_eq!(out[7], Admission::Duplicate { id: f.id() });

    assert_eq!(store.object_count(), 4);
    assert_eq!(store.get(&p.id()).unwrap().as_deref(), Some(p.bytes()));
    assert_eq!(store.get(&foreign.id()).unwrap(), None);
    assert!(store.contains(&e1.id()) && !store.contains(&future.id()));
    assert_eq!(store.proposals(), vec![p.id()]);
    assert_eq!(store.positions(), vec![p.id()]);
    assert_eq!(store.objects_of_kind(Kind::Genesis), vec![f.id()]);
    assert_eq!(store.endorsements_of(&p.id()), vec![e0.id(), e1.id()]);
    assert_eq!(store.sync_items().len(), 4);
    assert_eq!(store.with_ledger(|l| l.tally(&p.id()).unwrap().endorse), 2);

    let cert = store.certificate(&p.id()).unwrap().expect("adopted proposals have a certificate");
    let proven = certificate::verify(&cert, Some(f.id())).expect("certificate verifies");
    assert_eq!(proven.endorsers.len(), 2);
    assert_eq!(store.certificate(&future.id()).unwrap(), None);

    // Later, the deferred object is admitted.
    let later = store.ingest(&[future.bytes()], T0 + 10 * 60 * 1000).unwrap();
    assert!(matches!(later[0], Admission::Stored { .. }));
}

#[test]
fn reopening_rebuilds_the_same_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(5);
    let store = common::create(dir.path(), &f);
    let objs = common::objects(&f, 0..60);
    store.ingest(&objs, u64::MAX).unwrap();
    let digest = store.with_ledger(|l| l.digest());
    let items = store.sync_items();
    store.close().unwrap();

    let store = Store::open(dir.path(), common::config()).unwrap();
    assert_eq!(store.coalition().id(), f.id());
    assert_eq!(store.with_ledger(|l| l.digest()), digest);
    assert_eq!(store.sync_items(), items);
    assert_eq!(common::recompute(&store).digest(), digest);
    assert!(store.corrupt_records().is_empty());
    assert!(!store.positions().is_empty());
}

#[test]
fn create_and_open_refuse_the_wrong_directory() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(2);
    let missing = dir.path().join("nothing-here");
    assert!(matches!(Store::open(&missing, common::config()), Err(StoreError::NotFound(_))));
    assert!(!missing.exists(), "open must not create a store");
    let store = common::create(dir.path(), &f);
    drop(store);
    let again = Store::create(dir.path(), f.coalition.genesis_envelope().bytes(), common::config());
    assert!(matches!(again, Err(StoreError::AlreadyExists(_))));
    let bad = Store::create(&dir.path().join("x"), b"garbage", common::config());
    assert!(matches!(bad, Err(StoreError::InvalidGenesis(_))));
}

#[test]
fn a_store_in_use_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(2);
    let store = common::create(dir.path(), &f);
    let err = Store::open(dir.path(), common::config()).err().expect("second open refused");
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(err.to_string().contains("in use"));
    drop(store);
    Store::open(dir.path(), common::config()).expect("opens once released");
}

#[test]
fn an_unknown_format_version_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(2);
    common::create(dir.path(), &f).close().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"m:format", &7u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path(), common::config()).err().expect("refused");
    assert!(matches!(err, StoreError::UnknownFormat { found: 7, known: FORMAT_VERSION, .. }));
    let msg = err.to_string();
    assert!(msg.contains("format version 7") && msg.contains("upgrade chorus"), "{msg}");
}

#[test]
fn concurrent_submitters_share_commits_and_each_object_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(7);
    let store = Arc::new(common::create(dir.path(), &f));
    let objs = Arc::new(common::objects(&f, 0..400));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            let objs = Arc::clone(&objs);
            std::thread::spawn(move || {
                // Every thread submits every object, in batches of 10 from a
                // different starting point.
                let mut stored = Vec::new();
                for k in 0..40 {
                    let start = ((k + t * 10) % 40) * 10;
                    for a in store.ingest(&objs[start..start + 10], u64::MAX).unwrap() {
                        match a {
                            Admission::Stored { id, .. } => stored.push(id),
                            Admission::Duplicate { .. } => {}
                            Admission::Refused(r) => panic!("refused: {r}"),
                        }
                    }
                }
                stored
            })
        })
        .collect();
    let mut all: Vec<_> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "an object was reported stored twice");
    assert_eq!(n, 400);
    assert_eq!(store.object_count(), 401);
    assert_eq!(common::recompute(&store).digest(), store.with_ledger(|l| l.digest()));
}

#[test]
fn oversized_batches_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(2);
    let store = common::create(dir.path(), &f);
    let batch = vec![Vec::<u8>::new(); chorus_store::MAX_BATCH_OBJECTS + 1];
    assert!(matches!(store.ingest(&batch, T0), Err(StoreError::BatchTooLarge { .. })));
    assert_eq!(store.object_count(), 1);
}

#[test]
fn a_large_batch_is_committed_in_parts_with_outcomes_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(10);
    let store = common::create(dir.path(), &f);
    let mut batch = common::objects(&f, 0..1100);
    // The same object early and late: the parts are committed in order.
    batch.push(batch[10].clone());
    let out = store.ingest(&batch, u64::MAX).unwrap();
    assert_eq!(out.len(), 1101);
    assert!(out[..1100].iter().all(|a| matches!(a, Admission::Stored { .. })));
    assert!(matches!(out[1100], Admission::Duplicate { .. }));
    assert_eq!(store.object_count(), 1101);
    assert_eq!(common::recompute(&store).digest(), store.with_ledger(|l| l.digest()));
}
