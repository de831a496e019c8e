//! Objects of reserved kinds (PROTOCOL.md 3.4) are stored like any other:
//! they survive a reopen (the rebuild admits them again), are listed for
//! sync under (header time, id), are exported and restored; and a stored
//! one that this version's rules refuse is dropped at open, not reported
//! corrupt (PROTOCOL.md 10).

mod common;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Admission, Keypair, Kind, ObjectId};
use chorus_store::Store;

const NOW: u64 = T0 + 1_000_000;

/// A kind that is still reserved (kind 10 was, until comments were
/// defined; `tests/deliberation.rs` covers what that means for a store).
fn reserved() -> Kind {
    Kind::from_wire(15).expect("kind 15 is reserved")
}

#[test]
fn an_opaque_object_is_stored_synced_exported_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let delegate = Keypair::from_seed(&[2; 32]);
    let delegation = f.delegation(&f.keys[1], f.keys[1].public(), delegate.public(), None, 1);
    let p = f.proposal(0, "A position", 2, None);
    // Stored before the delegation that makes its signer known: it waits.
    let by_delegate = f.opaque(12, &delegate, 3, b"\x1a\x04head");
    let by_member = f.opaque(15, &f.keys[0], 4, b"\x1a\x0ba v2 object");
    let out = store.ingest(&[by_delegate.bytes(), delegation.bytes(), p.bytes(), by_member.bytes()], NOW).unwrap();
    assert!(out.iter().all(|a| matches!(a, Admission::Stored { .. })), "{out:?}");
    let digest = store.with_ledger(|l| l.digest());
    let positions = store.positions();
    let expect_items = |store: &Store| {
        let items = store.sync_items();
        for o in [&by_delegate, &by_member] {
            assert!(items.contains(&(T0 + if o.id() == by_member.id() { 4 } else { 3 }, o.id())));
            assert_eq!(store.get(&o.id()).unwrap().as_deref(), Some(o.bytes()));
        }
        assert_eq!(store.objects_of_kind(reserved()), vec![by_member.id()]);
    };
    expect_items(&store);
    assert_eq!(store.ingest(&[by_member.bytes()], NOW).unwrap(), vec![Admission::Duplicate { id: by_member.id() }]);

    let mut export = Vec::new();
    assert_eq!(store.export(&mut export).unwrap(), 5);
    store.close().unwrap();

    let store = Store::open(dir.path(), common::config()).unwrap();
    assert!(store.corrupt_records().is_empty());
    expect_items(&store);
    assert_eq!(store.with_ledger(|l| l.digest()), digest);
    assert_eq!(store.positions(), positions);
    assert_eq!(store.object_count(), 5);

    let restored_dir = tempfile::tempdir().unwrap();
    let (restored, report) =
        Store::restore(&restored_dir.path().join("s"), export.as_slice(), common::config(), NOW).unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    expect_items(&restored);
    assert_eq!(restored.with_ledger(|l| l.digest()), digest);
}

fn key_of(id: &ObjectId) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(id.as_bytes());
    k
}

/// Writes an intact record (digest and id agree) behind the store's back,
/// as a store of an older version that admitted it would have.
fn write_record(dir: &std::path::Path, envelope: &[u8], id: &ObjectId) {
    use sha2::Digest;
    let db = sled::open(dir).unwrap();
    let mut value = sha2::Sha256::digest(envelope).to_vec();
    value.extend_from_slice(envelope);
    db.insert(key_of(id), value).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_stored_opaque_object_that_the_rules_refuse_is_dropped_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let kept = f.opaque(15, &f.keys[0], 1, b"");
    store.ingest(&[kept.bytes()], NOW).unwrap();
    store.close().unwrap();
    // Signed by a key this coalition never knew: refused by the rules of
    // this version, as an object an older version kept may be by a newer
    // version's rules for its kind.
    let stranger = Keypair::from_seed(&[9; 32]);
    let refused = f.opaque(11, &stranger, 2, b"\x1a\x01x");
    write_record(dir.path(), refused.bytes(), &refused.id());
    // The same, of a kind this version defines: damage, reported.
    let proposal = f.proposal_under(&stranger, stranger.public(), "Not ours", &[], None, 3);
    write_record(dir.path(), proposal.bytes(), &proposal.id());

    let store = Store::open(dir.path(), common::config()).unwrap();
    let corrupt = store.corrupt_records();
    assert_eq!(corrupt.len(), 1, "{corrupt:?}");
    assert_eq!(corrupt[0].key, hex::encode(key_of(&proposal.id())));
    assert!(!store.contains(&refused.id()));
    assert_eq!(store.get(&refused.id()).unwrap(), None);
    assert!(!store.sync_items().iter().any(|(_, id)| *id == refused.id()));
    assert!(store.contains(&kept.id()));
    assert_eq!(store.object_count(), 2);
}
