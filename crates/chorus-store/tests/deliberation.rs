//! Drafts, comments, open-voting and withdrawal objects (kinds 10, 13, 14)
//! are stored, indexed, replayed at open and exported like every object;
//! records of those kinds that an older version admitted as opaque objects
//! but this version's rules refuse are kept on disk and dropped from the
//! derived state, never reported corrupt and never failing the open; and
//! certificates carry the dissent and are sealed by a key that may seal.

mod common;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, Admission, Amendment, Delegation, Envelope, Keypair, Kind, ObjectId, Stance, Status, SCOPE_NODE,
};
use chorus_store::{SealState, Sealer, Store};

const NOW: u64 = T0 + 1_000_000;

/// A draft with two comments, a reply and an amendment, an early stance,
/// the author's opening, two endorsements and an objection: adopted; and a
/// second proposal its author withdrew.
struct History {
    draft: Envelope,
    comments: Vec<Envelope>,
    opening: Envelope,
    early: Envelope,
    objection: Envelope,
    withdrawn: Envelope,
    withdrawal: Envelope,
    all: Vec<Envelope>,
}

fn history(f: &Fixture) -> History {
    let draft = f.draft(0, "Shared transport", 1, None, None);
    let first = f.comment(1, draft.id(), "Add the rural routes.", None, 2);
    let reply = f.comment(2, draft.id(), "Agreed.", Some(first.id()), 3);
    let amendment = Amendment { body: "Shared transport, rural routes included.".into(), title: None };
    let amend = f.comment_by(&f.keys[1], f.keys[1].public(), draft.id(), "", None, Some(amendment), 4, None);
    let early = f.endorsement(1, draft.id(), Stance::Endorse, 5);
    let opening = f.open_voting(0, draft.id(), 10);
    let objection = f.endorsement(2, draft.id(), Stance::Object, 13);
    let withdrawn = f.proposal(1, "Withdrawn idea", 20, None);
    let withdrawal = f.withdrawal(1, withdrawn.id(), Some("Superseded by the draft."), 21);
    let all = vec![
        draft.clone(),
        first.clone(),
        reply.clone(),
        amend.clone(),
        early.clone(),
        opening.clone(),
        f.endorsement(0, draft.id(), Stance::Endorse, 11),
        f.endorsement(1, draft.id(), Stance::Endorse, 12),
        objection.clone(),
        withdrawn.clone(),
        withdrawal.clone(),
    ];
    History { draft, comments: vec![first, reply, amend], opening, early, objection, withdrawn, withdrawal, all }
}

#[test]
fn deliberation_objects_are_stored_replayed_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let h = history(&f);
    let store = common::create(dir.path(), &f);
    // Backwards: comments, notices and stances arrive before their proposal.
    let mut bytes: Vec<Vec<u8>> = h.all.iter().map(|e| e.bytes().to_vec()).collect();
    bytes.reverse();
    let out = store.ingest(&bytes, NOW).unwrap();
    assert!(out.iter().all(|a| matches!(a, Admission::Stored { .. })), "{out:?}");

    let check = |store: &Store| {
        let comments: Vec<ObjectId> = h.comments.iter().map(Envelope::id).collect();
        assert_eq!(store.objects_of_kind(Kind::Comment), comments);
        assert_eq!(store.objects_of_kind(Kind::OpenVoting), vec![h.opening.id()]);
        assert_eq!(store.objects_of_kind(Kind::Withdrawal), vec![h.withdrawal.id()]);
        for e in &h.all {
            assert_eq!(store.get(&e.id()).unwrap().as_deref(), Some(e.bytes()));
        }
        store.with_ledger(|l| {
            assert!(l.is_adopted(&h.draft.id()));
            assert_eq!(l.status(&h.withdrawn.id(), NOW), Some(Status::Withdrawn));
            let w = l.voting_window(&h.draft.id()).unwrap();
            assert_eq!((w.opens_at_ms, w.opened_by), (Some(T0 + 10), Some(h.opening.id())));
            assert_eq!(l.tally(&h.draft.id()).unwrap().early, 1);
            assert_eq!(w.timing(T0 + 5), chorus_core::Timing::Early, "the early stance {}", h.early.id());
            assert_eq!(l.comments(&h.draft.id()).len(), 3);
            assert!(l.comments(&h.draft.id()).iter().all(|c| c.counted));
        });
    };
    check(&store);
    let digest = store.with_ledger(|l| l.digest());
    let mut export = Vec::new();
    assert_eq!(store.export(&mut export).unwrap(), h.all.len() as u64 + 1);
    store.close().unwrap();

    let store = Store::open(dir.path(), common::config()).unwrap();
    assert!(store.corrupt_records().is_empty(), "{:?}", store.corrupt_records());
    check(&store);
    assert_eq!(store.with_ledger(|l| l.digest()), digest);

    let restored_dir = tempfile::tempdir().unwrap();
    let (restored, report) =
        Store::restore(&restored_dir.path().join("s"), export.as_slice(), common::config(), NOW).unwrap();
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    check(&restored);
    assert_eq!(restored.with_ledger(|l| l.digest()), digest);
}

fn key_of(id: &ObjectId) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(id.as_bytes());
    k
}

/// Writes an intact record (digest and id agree) behind the store's back,
/// as a store of an older version that admitted it as an opaque object
/// would have.
fn write_record(dir: &std::path::Path, envelope: &Envelope) {
    use sha2::Digest;
    let db = sled::open(dir).unwrap();
    let mut value = sha2::Sha256::digest(envelope.bytes()).to_vec();
    value.extend_from_slice(envelope.bytes());
    db.insert(key_of(&envelope.id()), value).unwrap();
    db.flush().unwrap();
}

fn node_delegation(f: &Fixture, member: usize, node: &Keypair, offset_ms: u64) -> Envelope {
    let d = Delegation {
        coalition: f.id(),
        trust: f.keys[member].public(),
        delegate: node.public(),
        name: "node".into(),
        role: "node".into(),
        valid_from_ms: T0,
        valid_until_ms: None,
        scope: SCOPE_NODE,
        created_at_ms: T0 + offset_ms,
    };
    Envelope::sign(Kind::Delegation, d.to_body(), &[&f.keys[member]])
}

#[test]
fn objects_an_older_version_kept_as_opaque_are_applied_or_dropped_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let store = common::create(dir.path(), &f);
    let p = f.proposal(0, "Before comments", 1, None);
    let node = Keypair::from_seed(&[5; 32]);
    let delegation = node_delegation(&f, 1, &node, 2);
    let out = store.ingest(&[p.bytes(), delegation.bytes()], NOW).unwrap();
    assert!(out.iter().all(|a| matches!(a, Admission::Stored { .. })), "{out:?}");
    store.close().unwrap();

    // What an older version admitted by the rules of PROTOCOL.md 3.4 (a
    // header, a key of the coalition), whatever the tail said:
    // a comment whose `proposal` is 11 bytes,
    let bad_comment = f.opaque(10, &f.keys[0], 5, b"\x1a\x0ba v2 comment");
    // an open-voting with nothing after the header,
    let bad_opening = f.opaque(13, &f.keys[0], 6, b"");
    // a withdrawal naming no author,
    let mut tail = vec![0x1a, 0x20];
    tail.extend_from_slice(p.id().as_bytes());
    let bad_withdrawal = f.opaque(14, &f.keys[0], 7, &tail);
    // a well-formed comment signed by a node key under a delegation
    // without stance scope: admitted, shown, not counted,
    let by_node = f.comment_by(&node, f.keys[1].public(), p.id(), "From a node", None, None, 8, Some(delegation.id()));
    // and a valid comment, which this version applies and counts.
    let good = f.comment(2, p.id(), "Kept before comments were defined.", None, 9);
    let dropped = [&bad_comment, &bad_opening, &bad_withdrawal];
    for e in dropped.iter().copied().chain([&by_node, &good]) {
        write_record(dir.path(), e);
    }

    let store = Store::open(dir.path(), common::config()).unwrap();
    assert!(store.corrupt_records().is_empty(), "{:?}", store.corrupt_records());
    for e in dropped {
        assert!(!store.contains(&e.id()), "{} {} is not applied", e.kind(), e.id());
        assert_eq!(store.get(&e.id()).unwrap(), None);
        assert!(!store.sync_items().iter().any(|(_, id)| *id == e.id()));
    }
    assert_eq!(store.objects_of_kind(Kind::Comment), vec![by_node.id(), good.id()]);
    assert!(store.objects_of_kind(Kind::OpenVoting).is_empty());
    let counted: Vec<(ObjectId, bool)> =
        store.with_ledger(|l| l.comments(&p.id())).iter().map(|c| (c.id, c.counted)).collect();
    assert_eq!(counted, vec![(by_node.id(), false), (good.id(), true)]);
    assert_eq!(store.object_count(), 5);
    let mut export = Vec::new();
    assert_eq!(store.export(&mut export).unwrap(), 5);
    store.close().unwrap();

    // The records stay on disk, untouched: acknowledged data is never
    // deleted, and a version that admits them finds them again.
    let db = sled::open(dir.path()).unwrap();
    for e in dropped {
        let value = db.get(key_of(&e.id())).unwrap().expect("the record is kept");
        assert_eq!(&value[32..], e.bytes());
    }
    drop(db);
    // And a second open says the same (nothing was rewritten or lost).
    let store = Store::open(dir.path(), common::config()).unwrap();
    assert!(store.corrupt_records().is_empty());
    assert_eq!(store.object_count(), 5);
}

#[test]
fn certificates_carry_the_dissent_and_are_sealed_by_a_key_that_may_seal() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::new(3);
    let h = history(&f);
    let node = Keypair::from_seed(&[6; 32]);
    let delegation = node_delegation(&f, 1, &node, 30);
    let store = common::create(dir.path(), &f);
    let mut bytes: Vec<&[u8]> = h.all.iter().map(Envelope::bytes).collect();
    bytes.push(delegation.bytes());
    store.ingest(&bytes, NOW).unwrap();
    let id = h.draft.id();

    // Unsealed: the dissent is carried, nothing says it is complete.
    let plain = store.certificate(&id).unwrap().unwrap();
    let report = certificate::verify(&plain, Some(f.id())).unwrap();
    assert_eq!(report.objectors.iter().map(|d| d.stance_id).collect::<Vec<_>>(), vec![h.objection.id()]);
    assert!(report.seal.is_none());

    // By the trust's own key: no delegation.
    let keys = [f.keys[0].clone(), node.clone()];
    let sealer = Sealer { trust: f.keys[0].public(), keys: &keys };
    let sealed = store.sealed_certificate(&id, Some(&sealer)).unwrap().unwrap();
    assert_eq!(
        sealed.seal,
        SealState::Sealed { trust: f.keys[0].public(), signer: f.keys[0].public(), delegation: None }
    );
    let report = certificate::verify(&sealed.bytes, Some(f.id())).unwrap().require_seal().unwrap();
    let seal = report.seal.expect("sealed");
    assert_eq!((seal.trust, seal.delegation, seal.stances), (f.keys[0].public(), None, 3));
    assert_eq!(report.objectors.len(), 1);
    // Deterministic: the same objects and sealer give the same bytes.
    assert_eq!(store.sealed_certificate(&id, Some(&sealer)).unwrap().unwrap().bytes, sealed.bytes);

    // By the node key under trust 1's node-scope delegation, which the
    // chain then carries.
    let sealer = Sealer { trust: f.keys[1].public(), keys: std::slice::from_ref(&node) };
    let sealed = store.sealed_certificate(&id, Some(&sealer)).unwrap().unwrap();
    assert_eq!(
        sealed.seal,
        SealState::Sealed { trust: f.keys[1].public(), signer: node.public(), delegation: Some(delegation.id()) }
    );
    let report = certificate::verify(&sealed.bytes, Some(f.id())).unwrap();
    assert_eq!(report.seal.expect("sealed").delegation, Some(delegation.id()));

    // A node key with no delegation for its trust: unsealed, saying why.
    let sealer = Sealer { trust: f.keys[2].public(), keys: std::slice::from_ref(&node) };
    let unsealed = store.sealed_certificate(&id, Some(&sealer)).unwrap().unwrap();
    assert_eq!(unsealed.bytes, plain);
    let SealState::Unsealed(why) = unsealed.seal else { panic!("no key may seal") };
    assert!(why.contains("--scope node"), "{why}");
    // A trust that is not a member cannot seal at all.
    let stranger = Keypair::from_seed(&[7; 32]);
    let sealer = Sealer { trust: stranger.public(), keys: std::slice::from_ref(&stranger) };
    let SealState::Unsealed(why) = store.sealed_certificate(&id, Some(&sealer)).unwrap().unwrap().seal else {
        panic!("a stranger cannot seal")
    };
    assert!(why.contains("not a member"), "{why}");
    assert_eq!(store.sealed_certificate(&h.withdrawn.id(), Some(&sealer)).unwrap(), None);
}
