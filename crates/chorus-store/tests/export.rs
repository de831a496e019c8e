//! Export to one portable stream, import into a fresh or existing store.

mod common;

use std::sync::Arc;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::Rejection;
use chorus_store::{ExportReader, ImportReport, Store, StoreError};

#[test]
fn export_then_restore_into_an_empty_store_yields_the_identical_ledger() {
    let f = Fixture::new(6);
    let a_dir = tempfile::tempdir().unwrap();
    let a = common::create(a_dir.path(), &f);
    // Endorsements before their proposals too: the ledger takes any order.
    let mut objs = common::objects(&f, 0..140);
    objs.reverse();
    a.ingest(&objs, u64::MAX).unwrap();
    let mut file = Vec::new();
    let written = a.export(&mut file).unwrap();
    assert_eq!(written, 141);

    let b_dir = tempfile::tempdir().unwrap();
    let (b, report) = Store::restore(b_dir.path(), &file[..], common::config(), T0).unwrap();
    assert_eq!(report, ImportReport { read: 141, stored: 140, duplicate: 1, refused: vec![] });
    assert_eq!(b.positions(), a.positions());
    assert!(!a.positions().is_empty());
    for id in a.proposals() {
        assert_eq!(b.with_ledger(|l| l.tally(&id)), a.with_ledger(|l| l.tally(&id)));
        assert_eq!(b.with_ledger(|l| l.proposal_state(&id)), a.with_ledger(|l| l.proposal_state(&id)));
    }
    assert_eq!(b.with_ledger(|l| l.digest()), a.with_ledger(|l| l.digest()));
    assert_eq!(b.sync_items(), a.sync_items());

    // The same file into a store that holds it all changes nothing.
    let again = a.import(&file[..], T0).unwrap();
    assert_eq!(again, ImportReport { read: 141, stored: 0, duplicate: 141, refused: vec![] });

    // And an export of the restored store is byte for byte the same.
    let mut file_b = Vec::new();
    b.export(&mut file_b).unwrap();
    assert_eq!(file_b, file);
}

#[test]
fn a_backup_taken_while_the_node_writes_restores_an_identical_ledger() {
    let f = Fixture::new(5);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(common::create(dir.path(), &f));
    store.ingest(&common::objects(&f, 0..60), u64::MAX).unwrap();
    let writer = {
        let store = Arc::clone(&store);
        let f = Fixture::new(5);
        std::thread::spawn(move || {
            for k in 0..20 {
                store.ingest(&common::objects(&f, 60 + k * 6..66 + k * 6), u64::MAX).unwrap();
            }
        })
    };
    let mut backup = Vec::new();
    store.export(&mut backup).unwrap();
    writer.join().unwrap();

    // The backup holds a consistent set: restoring it gives the ledger of
    // exactly the objects it holds, and importing the rest converges.
    let r_dir = tempfile::tempdir().unwrap();
    let (restored, report) = Store::restore(r_dir.path(), &backup[..], common::config(), T0).unwrap();
    assert!(report.refused.is_empty());
    assert_eq!(common::recompute(&restored).digest(), restored.with_ledger(|l| l.digest()));
    let mut full = Vec::new();
    store.export(&mut full).unwrap();
    restored.import(&full[..], T0).unwrap();
    assert_eq!(restored.with_ledger(|l| l.digest()), store.with_ledger(|l| l.digest()));
}

#[test]
fn import_validates_everything_and_reports_refusals() {
    let f = Fixture::new(4);
    let dir = tempfile::tempdir().unwrap();
    let store = common::create(dir.path(), &f);
    let objs = common::objects(&f, 0..10);
    store.ingest(&objs, u64::MAX).unwrap();
    let mut file = Vec::new();
    store.export(&mut file).unwrap();

    // Damage one signature inside the stream: its length framing stays intact.
    let victim = &objs[3];
    let at = find(&file, victim).expect("object in the export") + victim.len() - 5;
    file[at] ^= 0x01;
    let fresh = tempfile::tempdir().unwrap();
    let (restored, report) = Store::restore(fresh.path(), &file[..], common::config(), T0).unwrap();
    assert_eq!(report.read, 11);
    assert_eq!(report.stored, 9);
    assert_eq!(report.refused.len(), 1);
    assert!(matches!(report.refused[0].1, Rejection::BadSignature { .. }));
    assert_eq!(restored.object_count(), 10);

    // Another coalition's export is refused whole, changing nothing.
    let other = Fixture::new(2);
    let o_dir = tempfile::tempdir().unwrap();
    let o = common::create(o_dir.path(), &other);
    let mut other_file = Vec::new();
    o.export(&mut other_file).unwrap();
    let before = store.with_ledger(|l| l.digest());
    assert!(matches!(store.import(&other_file[..], T0), Err(StoreError::WrongCoalition { .. })));
    assert_eq!(store.with_ledger(|l| l.digest()), before);

    // A truncated file keeps what was validated and says it is truncated.
    let cut = &file[..file.len() - 20];
    let t_dir = tempfile::tempdir().unwrap();
    let err = Store::restore(t_dir.path(), cut, common::config(), T0).err().expect("truncated");
    assert!(err.to_string().contains("truncated"), "{err}");

    // Not an export at all.
    assert!(matches!(store.import(&b"hello"[..], T0), Err(StoreError::BadExport(_))));
}

#[test]
fn the_stream_can_be_walked_without_a_store() {
    let f = Fixture::new(3);
    let dir = tempfile::tempdir().unwrap();
    let store = common::create(dir.path(), &f);
    store.ingest(&common::objects(&f, 0..8), u64::MAX).unwrap();
    let mut file = Vec::new();
    store.export(&mut file).unwrap();
    let mut reader = ExportReader::new(&file[..]).unwrap();
    assert_eq!(reader.coalition(), f.id());
    let mut n = 0;
    while let Some(bytes) = reader.next_envelope().unwrap() {
        chorus_core::Ledger::new(f.coalition.clone()).validate(&bytes, u64::MAX).unwrap();
        n += 1;
    }
    assert_eq!(n, 8);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
