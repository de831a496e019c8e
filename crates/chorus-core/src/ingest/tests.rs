//! Outcomes of a group commit and of a replay, one rule per test.

use super::*;
use crate::testkit::{Fixture, T0};
use crate::{Action, Envelope, Keypair, Member, Stance};

const NOW: u64 = T0 + 1_000;

/// A coalition of three, and a governance proposal admitting X with the
/// endorsements that adopt it, and two objects of X that wait for it.
struct Scene {
    f: Fixture,
    admit_x: Envelope,
    endorsements: Vec<Envelope>,
    by_x: Envelope,
    stance_of_x: Envelope,
}

fn scene() -> Scene {
    let f = Fixture::new(3);
    let x = Keypair::from_seed(&[7; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let admit_x = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
    let endorsements = (0..3).map(|i| f.endorsement(i, admit_x.id(), Stance::Endorse, 2)).collect();
    let by_x = f.proposal_under(&x, x.public(), "By X", &[admit_x.id()], None, 5);
    let stance_of_x = f.stance_by(&x, x.public(), by_x.id(), Stance::Endorse, 6, None);
    Scene { f, admit_x, endorsements, by_x, stance_of_x }
}

fn checked(f: &Fixture, env: &Envelope) -> Result<SignatureChecked, Rejection> {
    Ledger::check_signature(&f.coalition, env.bytes())
}

fn items<'a>(
    f: &Fixture,
    envs: impl IntoIterator<Item = &'a Envelope>,
) -> Vec<(Result<SignatureChecked, Rejection>, u64)> {
    envs.into_iter().map(|e| (checked(f, e), NOW)).collect()
}

fn ids(objects: &[VerifiedObject]) -> Vec<ObjectId> {
    objects.iter().map(VerifiedObject::id).collect()
}

/// Persists every round at once and returns the outcomes and every object
/// applied, in order.
fn run(ingest: &mut Ingest, mut batch: Batch) -> (Vec<Admission>, Vec<ObjectId>) {
    let mut applied = Vec::new();
    while !batch.to_persist().is_empty() {
        applied.extend(ingest.persisted(&mut batch).into_iter().map(|(o, _)| o.id()));
    }
    (batch.finish().expect("every round persisted"), applied)
}

fn stored(id: ObjectId) -> Admission {
    Admission::Stored { id, adopted: None }
}

#[test]
fn nothing_is_applied_before_the_caller_says_it_is_durable() {
    let s = scene();
    let p = s.f.proposal(0, "A", 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let mut batch = ingest.begin(items(&s.f, [&p]));
    assert_eq!(ids(batch.to_persist()), vec![p.id()]);
    assert!(!ingest.ledger().contains(&p.id()));
    let applied = ingest.persisted(&mut batch);
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].1, Applied::New { adopted: None });
    assert!(ingest.ledger().contains(&p.id()));
    assert!(batch.to_persist().is_empty());
    assert_eq!(batch.finish(), Some(vec![stored(p.id())]));
}

#[test]
fn a_group_cannot_be_finished_while_objects_remain_to_persist() {
    let s = scene();
    let p = s.f.proposal(0, "A", 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let batch = ingest.begin(items(&s.f, [&p]));
    assert_eq!(batch.finish(), None);
    assert!(!ingest.ledger().contains(&p.id()));
}

#[test]
fn a_group_reports_one_admission_per_item_in_input_order() {
    let s = scene();
    let held = s.f.proposal(0, "Held", 4, None);
    let new = s.f.proposal(1, "New", 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    ingest.admit([checked(&s.f, &held)], NOW);
    let mut bad = new.bytes().to_vec();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let mut group = items(&s.f, [&new, &held, &new]);
    group.insert(1, (Ledger::check_signature(&s.f.coalition, &bad), NOW));
    let batch = ingest.begin(group);
    let (out, applied) = run(&mut ingest, batch);
    assert_eq!(applied, vec![new.id()]);
    assert_eq!(out[0], stored(new.id()));
    assert!(matches!(&out[1], Admission::Refused(Rejection::BadSignature { .. })), "{:?}", out[1]);
    assert_eq!(out[2], Admission::Duplicate { id: held.id() });
    // The later copy of an object stored by this group is a duplicate.
    assert_eq!(out[3], Admission::Duplicate { id: new.id() });
}

#[test]
fn a_later_copy_of_a_refused_object_gets_the_same_refusal() {
    let s = scene();
    let p = s.f.proposal(0, "Early", 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    // Dated ahead of the first submitter's clock; the copy comes with a
    // later clock but shares the first one's outcome.
    let group = vec![(checked(&s.f, &p), 0), (checked(&s.f, &p), NOW)];
    let batch = ingest.begin(group);
    let (out, applied) = run(&mut ingest, batch);
    assert!(applied.is_empty());
    assert!(matches!(&out[0], Admission::Refused(Rejection::FromTheFuture { .. })), "{out:?}");
    assert_eq!(out[0], out[1]);
}

#[test]
fn each_item_is_judged_with_its_submitters_clock() {
    let s = scene();
    let p = s.f.proposal(0, "A", 5, None);
    let q = s.f.proposal(1, "B", 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let batch = ingest.begin(vec![(checked(&s.f, &p), 0), (checked(&s.f, &q), NOW)]);
    let (out, _) = run(&mut ingest, batch);
    assert!(matches!(&out[0], Admission::Refused(Rejection::FromTheFuture { now_ms: 0, .. })), "{out:?}");
    assert_eq!(out[1], stored(q.id()));
}

#[test]
fn objects_waiting_for_others_of_the_group_are_stored_in_a_later_round() {
    let s = scene();
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let mut group = vec![&s.stance_of_x, &s.by_x, &s.admit_x];
    group.extend(&s.endorsements);
    let mut batch = ingest.begin(items(&s.f, group.iter().copied()));
    assert_eq!(ingest.waiting().len(), 2);
    let mut first_round = vec![s.admit_x.id()];
    first_round.extend(s.endorsements.iter().map(Envelope::id));
    assert_eq!(ids(batch.to_persist()), first_round);
    ingest.persisted(&mut batch);
    let mut second_round = vec![s.by_x.id(), s.stance_of_x.id()];
    second_round.sort();
    assert_eq!(ids(batch.to_persist()), second_round, "released from the pool, sorted by id");
    let (out, _) = run(&mut ingest, batch);
    assert!(ingest.waiting().is_empty());
    assert_eq!(out.len(), 6);
    for (admission, env) in out.iter().zip(&group) {
        assert!(matches!(admission, Admission::Stored { id, .. } if *id == env.id()), "{admission:?}");
    }
    // The last endorsement made the governance proposal a position.
    assert_eq!(out[5], Admission::Stored { id: s.endorsements[2].id(), adopted: Some(s.admit_x.id()) });
    assert!(out[..5].iter().all(|a| matches!(a, Admission::Stored { adopted: None, .. })), "{out:?}");
}

#[test]
fn an_object_held_from_an_earlier_group_is_stored_but_answered_only_then() {
    let s = scene();
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let (out, applied) = {
        let batch = ingest.begin(items(&s.f, [&s.by_x]));
        run(&mut ingest, batch)
    };
    assert!(applied.is_empty());
    assert!(matches!(&out[0], Admission::Refused(r) if r.awaits_objects()), "{out:?}");
    assert!(ingest.waiting().contains(&s.by_x.id()));
    let batch = ingest.begin(items(&s.f, [&s.admit_x]));
    let (out, applied) = run(&mut ingest, batch);
    assert_eq!(out, vec![stored(s.admit_x.id())]);
    assert_eq!(applied, vec![s.admit_x.id(), s.by_x.id()]);
    assert!(ingest.ledger().contains(&s.by_x.id()));
}

#[test]
fn a_full_pool_lets_the_oldest_waiting_object_go() {
    let s = scene();
    let mut ingest = Ingest::new(s.f.coalition.clone(), 1);
    ingest.admit([checked(&s.f, &s.by_x)], NOW);
    ingest.admit([checked(&s.f, &s.stance_of_x)], NOW);
    assert_eq!(ingest.waiting().len(), 1);
    let admitted = ingest.admit([checked(&s.f, &s.admit_x)], NOW);
    let applied: Vec<ObjectId> = admitted.applied.iter().map(|(o, _)| o.id()).collect();
    assert_eq!(applied, vec![s.admit_x.id(), s.stance_of_x.id()]);
    assert!(!ingest.ledger().contains(&s.by_x.id()));
    // Without a pool nothing waits.
    let mut none = Ingest::new(s.f.coalition.clone(), 0);
    none.admit([checked(&s.f, &s.by_x)], NOW);
    assert!(none.waiting().is_empty());
}

#[test]
fn admit_equals_a_group_commit_persisted_at_once() {
    let s = scene();
    let mut group = vec![&s.stance_of_x, &s.by_x, &s.admit_x, &s.by_x];
    group.extend(&s.endorsements);
    let mut a = Ingest::new(s.f.coalition.clone(), 16);
    let admitted = a.admit(group.iter().map(|e| checked(&s.f, e)), NOW);
    let mut b = Ingest::new(s.f.coalition.clone(), 16);
    let batch = b.begin(items(&s.f, group.iter().copied()));
    let (out, applied) = run(&mut b, batch);
    assert_eq!(admitted.admissions, out);
    assert_eq!(admitted.applied.iter().map(|(o, _)| o.id()).collect::<Vec<_>>(), applied);
    assert_eq!(a.ledger().digest(), b.ledger().digest());
    assert_eq!(out[3], Admission::Duplicate { id: s.by_x.id() });
}

#[test]
fn a_replay_applies_each_object_before_the_next_and_retries_what_waits() {
    let s = scene();
    let mut ingest = Ingest::new(s.f.coalition.clone(), 0);
    let mut replay = Replay::new(NO_CLOCK);
    // In chunks, each object before those it relies on.
    let first = ingest.replay(&mut replay, [("stance", checked(&s.f, &s.stance_of_x))]);
    assert!(first.applied.is_empty() && first.refused.is_empty());
    assert_eq!(replay.pending(), 1);
    let chunk = [("by x", checked(&s.f, &s.by_x)), ("admit x", checked(&s.f, &s.admit_x))];
    let second = ingest.replay(&mut replay, chunk);
    let order: Vec<&str> = second.applied.iter().map(|(tag, _, _)| *tag).collect();
    // "admit x" is applied before "by x" is tried again, in a second pass
    // that also admits the stance pending from the first chunk.
    assert_eq!(order, vec!["admit x", "stance", "by x"]);
    assert!(replay.finish().is_empty());
    assert!(ingest.waiting().is_empty(), "a replay keeps nothing in the pool");
}

#[test]
fn a_replay_reports_every_refusal_and_what_never_passes() {
    let s = scene();
    let plain = s.f.proposal(0, "Plain", 3, None);
    // Names a proposal that is no governance proposal as its roster head.
    let bad_heads = s.f.proposal_under(&s.f.keys[1], s.f.keys[1].public(), "Bad heads", &[plain.id()], None, 4);
    let stranger = Keypair::from_seed(&[9; 32]);
    let by_stranger = s.f.stance_by(&stranger, stranger.public(), plain.id(), Stance::Endorse, 5, None);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 0);
    let mut replay = Replay::new(NO_CLOCK);
    let out = ingest.replay(
        &mut replay,
        [
            (0, checked(&s.f, &plain)),
            (1, checked(&s.f, &bad_heads)),
            (2, checked(&s.f, &by_stranger)),
            (3, Err(Rejection::ForeignGenesis(plain.id()))),
            (4, checked(&s.f, &s.by_x)),
        ],
    );
    assert_eq!(out.applied.len(), 1);
    let refused: Vec<(i32, &'static str)> = out.refused.iter().map(|(t, r)| (*t, r.name())).collect();
    assert_eq!(refused, vec![(1, "InvalidField"), (3, "ForeignGenesis")]);
    let left: Vec<(i32, &'static str)> = replay.finish().into_iter().map(|(t, r)| (t, r.name())).collect();
    assert_eq!(left, vec![(2, "UnknownSigner"), (4, "UnknownSigner")]);
}
