//! Corrupted records are detected, reported with their key, and never served.

mod common;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::Admission;
use chorus_store::{Store, StoreError};

fn key_of(id: &chorus_core::ObjectId) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(id.as_bytes());
    k
}

/// Flips one byte of a stored record with the store closed, through sled
/// itself (so sled's own checksums agree and only the store's check can
/// notice), at `offset` from the end of the record.
fn flip_record_byte(dir: &std::path::Path, id: &chorus_core::ObjectId, offset_from_end: usize) {
    let db = sled::open(dir).unwrap();
    let key = key_of(id);
    let mut value = db.get(&key).unwrap().expect("record exists").to_vec();
    let at = value.len() - 1 - offset_from_end;
    value[at] ^= 0x20;
    db.insert(&key, value).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_flipped_byte_in_a_record_is_detected_reported_and_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let objs = common::objects(&f, 0..8);
    store.ingest(&objs, u64::MAX).unwrap();
    let p = f.proposal(0, "Proposal 0", 0, None);
    let victim = common::object(&f, 1); // an endorsement of proposal 0
    let digest_before = store.with_ledger(|l| l.digest());
    store.close().unwrap();

    // A byte inside the signature: the id does not cover it, the digest does.
    flip_record_byte(dir.path(), &victim.id(), 3);

    let store = Store::open(dir.path(), common::config()).expect("a corrupted record does not stop the store");
    let key_hex = hex::encode(key_of(&victim.id()));
    let corrupt = store.corrupt_records();
    assert_eq!(corrupt.len(), 1);
    assert_eq!(corrupt[0].key, key_hex);
    match store.get(&victim.id()) {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, key_hex),
        other => panic!("corrupted record served or not reported: {other:?}"),
    }
    assert!(!store.contains(&victim.id()));
    assert!(!store.sync_items().iter().any(|(_, id)| *id == victim.id()));
    assert!(!store.endorsements_of(&p.id()).contains(&victim.id()));
    assert_ne!(store.with_ledger(|l| l.digest()), digest_before, "the corrupted object is not counted");
    assert_eq!(common::recompute(&store).digest(), store.with_ledger(|l| l.digest()));
    // Other objects are still served intact.
    assert_eq!(store.get(&p.id()).unwrap().as_deref(), Some(p.bytes()));

    // Receiving the object again repairs the record.
    let again = store.ingest(&[victim.bytes()], T0).unwrap();
    assert!(matches!(again[0], Admission::Stored { .. }));
    assert_eq!(store.get(&victim.id()).unwrap().as_deref(), Some(victim.bytes()));
    assert!(store.corrupt_records().is_empty());
    assert_eq!(store.with_ledger(|l| l.digest()), digest_before);
}

#[test]
fn a_body_byte_flipped_is_detected_too() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let p = f.proposal(1, "A text long enough to flip inside", 5, None);
    store.ingest(&[p.bytes()], T0).unwrap();
    store.close().unwrap();
    // Inside the body, well before the signature.
    flip_record_byte(dir.path(), &p.id(), 120);
    let store = Store::open(dir.path(), common::config()).unwrap();
    assert!(matches!(store.get(&p.id()), Err(StoreError::Corrupt { .. })));
    assert_eq!(store.proposals(), vec![]);
    assert_eq!(store.corrupt_records().len(), 1);
}

#[test]
fn a_flipped_byte_in_the_files_on_disk_is_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let marker = "MARKER-7f3a9c-flip-me-MARKER";
    let p = f.proposal(0, marker, 5, None);
    store.ingest(&[p.bytes()], T0).unwrap();
    store.close().unwrap();

    // Flip a byte of every copy of the marker in sled's files.
    let mut flipped = 0;
    for entry in walk(dir.path()) {
        let mut bytes = std::fs::read(&entry).unwrap();
        let mut changed = false;
        let mut i = 0;
        while let Some(pos) = find(&bytes[i..], marker.as_bytes()) {
            bytes[i + pos + 10] ^= 0x01;
            i += pos + marker.len();
            changed = true;
            flipped += 1;
        }
        if changed {
            std::fs::write(&entry, &bytes).unwrap();
        }
    }
    assert!(flipped > 0, "the record was not found on disk");

    // sled notices first: its log messages carry a CRC, and sled 0.34.7
    // treats a failing one as the end of the log, so the record is simply
    // absent (what this test sees today; the crate docs discuss it). A sled
    // that refused to open instead would be reported naming the store. If
    // the damage got past sled, the store's own check reports it. In no case
    // are damaged bytes returned as the object.
    match Store::open(dir.path(), common::config()) {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        }
        Ok(store) => match store.get(&p.id()) {
            Ok(Some(bytes)) => assert_eq!(bytes, p.bytes(), "damaged bytes were served"),
            Ok(None) | Err(StoreError::Corrupt { .. }) => assert!(!store.contains(&p.id())),
            Err(e) => panic!("unexpected error: {e}"),
        },
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
