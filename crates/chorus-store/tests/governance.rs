//! The store validates with the ledger's knowledge (PROTOCOL.md 12.8):
//! stances of admitted trusts, delegates and rotated keys are stored; an
//! object that arrives before the objects authorising it waits and is stored
//! when they arrive, in one batch or several; the rebuild at open converges
//! whatever the order of the records; import does too.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Action, Admission, Envelope, Keypair, Member, Rejection, Stance};
use chorus_store::Store;

mod common;
use common::{config, create, recompute};

const NOW: u64 = T0 + 1_000_000;

/// Three founders; G admits X (all three endorse); P is an ordinary
/// proposal under G endorsed by X, by founder 1 with a rotated key, and by
/// founder 2's delegated leader.
struct Story {
    f: Fixture,
    /// In an order where everything comes after what it relies on.
    objects: Vec<Envelope>,
    p: chorus_core::ObjectId,
}

fn story() -> Story {
    let f = Fixture::new(3);
    let x = Keypair::from_seed(&[42; 32]);
    let k1 = Keypair::from_seed(&[43; 32]);
    let leader = Keypair::from_seed(&[44; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 10);
    let mut objects = vec![g.clone()];
    objects.extend((0..3).map(|i| f.endorsement(i, g.id(), Stance::Endorse, 11)));
    // Founder 1's rotation keeps its stance on G (else it would no longer count).
    let rot = f.rotation(&f.keys[1], f.keys[1].public(), k1.public(), vec![objects[2].id()], 20);
    let del = f.delegation(&f.keys[2], f.keys[2].public(), leader.public(), None, 21);
    let p = f.proposal_under(&x, x.public(), "Ordinary", &[g.id()], None, 30);
    objects.extend([rot, del.clone(), p.clone()]);
    objects.push(f.stance_by(&x, x.public(), p.id(), Stance::Endorse, 31, None));
    objects.push(f.stance_by(&k1, f.keys[1].public(), p.id(), Stance::Endorse, 32, None));
    objects.push(f.stance_by(&leader, f.keys[2].public(), p.id(), Stance::Endorse, 33, Some(del.id())));
    Story { f, objects, p: p.id() }
}

fn bytes(objects: &[Envelope]) -> Vec<Vec<u8>> {
    objects.iter().map(|o| o.bytes().to_vec()).collect()
}

#[test]
fn governed_objects_in_reverse_order_in_one_batch_are_all_stored() {
    let s = story();
    let dir = tempfile::tempdir().unwrap();
    let store = create(dir.path(), &s.f);
    let mut reversed = s.objects.clone();
    reversed.reverse();
    let out = store.ingest(&bytes(&reversed), NOW).unwrap();
    assert!(out.iter().all(|a| matches!(a, Admission::Stored { .. })), "{out:?}");
    let g = s.objects[0].id();
    assert!(store.with_ledger(|l| l.is_adopted(&g)), "{:?}", store.with_ledger(|l| l.tally(&g)));
    assert!(store.with_ledger(|l| l.is_adopted(&s.p)), "{:?}", store.with_ledger(|l| l.tally(&s.p)));
    let tally = store.with_ledger(|l| l.tally(&s.p)).unwrap();
    assert_eq!((tally.members, tally.endorse), (4, 3));
    assert_eq!(store.with_ledger(|l| l.digest()), recompute(&store).digest());
}

#[test]
fn an_object_that_waits_is_stored_when_a_later_batch_brings_what_it_relies_on() {
    let s = story();
    let dir = tempfile::tempdir().unwrap();
    let store = create(dir.path(), &s.f);
    let (early, late) = s.objects.split_at(4);
    // The stances come first, alone: refused (Ignore) but kept.
    let out = store.ingest(&bytes(late), NOW).unwrap();
    for a in &out {
        match a {
            Admission::Refused(why) => assert!(why.awaits_objects(), "{why}"),
            // The rotation and delegation of founders are known at once.
            Admission::Stored { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(&out[2], Admission::Refused(Rejection::UnknownSigner { .. })), "{:?}", out[2]);
    store.ingest(&bytes(early), NOW).unwrap();
    for o in &s.objects {
        assert!(store.contains(&o.id()), "{} was not stored", o.id());
    }
    assert!(store.with_ledger(|l| l.is_adopted(&s.p)));
    // Offering them again says Duplicate.
    let again = store.ingest(&bytes(late), NOW).unwrap();
    assert!(again.iter().all(|a| matches!(a, Admission::Duplicate { .. })), "{again:?}");
}

#[test]
fn reopening_and_importing_converge_whatever_the_record_order() {
    let s = story();
    let dir = tempfile::tempdir().unwrap();
    let digest;
    {
        let store = create(dir.path(), &s.f);
        store.ingest(&bytes(&s.objects), NOW).unwrap();
        digest = store.with_ledger(|l| l.digest());
        let mut export = Vec::new();
        store.export(&mut export).unwrap();
        store.close().unwrap();
        // Import into a fresh store, in one stream.
        let other = tempfile::tempdir().unwrap();
        let (restored, report) = Store::restore(other.path(), &export[..], config(), NOW).unwrap();
        assert!(report.refused.is_empty(), "{:?}", report.refused);
        assert_eq!(restored.with_ledger(|l| l.digest()), digest);
        // An export lists objects by time; X's proposal and stance below are
        // dated before its admission, so they come before what they rely on.
        let x = Keypair::from_seed(&[42; 32]);
        let g = s.objects[0].id();
        let early = s.f.proposal_under(&x, x.public(), "Dated early", &[g], None, 1);
        let stance = s.f.stance_by(&x, x.public(), early.id(), Stance::Endorse, 2, None);
        let staging = tempfile::tempdir().unwrap();
        let st = create(staging.path(), &s.f);
        let mut all = bytes(&s.objects);
        all.extend(bytes(&[early.clone(), stance.clone()]));
        assert!(st.ingest(&all, NOW).unwrap().iter().all(|a| matches!(a, Admission::Stored { .. })));
        let mut stream = Vec::new();
        st.export(&mut stream).unwrap();
        let other = tempfile::tempdir().unwrap();
        let (imported, report) = Store::restore(other.path(), &stream[..], config(), NOW).unwrap();
        assert!(report.refused.is_empty(), "{:?}", report.refused);
        assert_eq!(report.stored, all.len());
        assert!(imported.contains(&stance.id()));
    }
    // Records are read in id order, which is not the order of reliance.
    let store = Store::open(dir.path(), config()).unwrap();
    assert!(store.corrupt_records().is_empty(), "{:?}", store.corrupt_records());
    assert_eq!(store.object_count(), s.objects.len() + 1);
    assert_eq!(store.with_ledger(|l| l.digest()), digest);
}
