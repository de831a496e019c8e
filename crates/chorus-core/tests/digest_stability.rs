//! A ledger holding only objects of the kinds and fields that existed before
//! deliberation (drafts, openings, comments, withdrawals) keeps the digest
//! it had then: nodes of both versions agree on what it says.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{AdoptionRule, Envelope, Ingest, Ledger, Stance};

fn objects(f: &Fixture) -> Vec<Envelope> {
    let mut o = Vec::new();
    let p = f.proposal(0, "Open from the start", 1, None);
    let q = f.proposal(1, "Closes soon", 2, Some(T0 + 100));
    o.push(p.clone());
    o.push(q.clone());
    for i in 0..3 {
        o.push(f.endorsement(i, p.id(), Stance::Endorse, 10 + i as u64));
    }
    o.push(f.endorsement(3, p.id(), Stance::Object, 20));
    o.push(f.endorsement(3, p.id(), Stance::Abstain, 21));
    o.push(f.endorsement(0, q.id(), Stance::Endorse, 50));
    o.push(f.endorsement(1, q.id(), Stance::Endorse, 150));
    o.push(f.endorsement(2, q.id(), Stance::Object, 100));
    let leader = chorus_core::Keypair::from_seed(&[77; 32]);
    let d = f.delegation(&f.keys[4], f.keys[4].public(), leader.public(), None, 5);
    o.push(d.clone());
    o.push(f.stance_by(&leader, f.keys[4].public(), q.id(), Stance::Abstain, 60, Some(d.id())));
    o.push(f.opaque(11, &f.keys[0], 30, b"\x1a\x06ballot"));
    o
}

#[test]
fn the_digest_of_a_ledger_without_deliberation_is_the_one_it_had_before() {
    let f = Fixture::with_rule(5, AdoptionRule::default());
    let mut ingest = Ingest::new(f.coalition.clone(), 64);
    let items: Vec<_> = objects(&f).iter().map(|e| Ledger::check_signature(&f.coalition, e.bytes())).collect();
    let admitted = ingest.admit(items, T0 + 1_000_000);
    assert!(
        admitted.admissions.iter().all(|a| matches!(a, chorus_core::Admission::Stored { .. })),
        "{:?}",
        admitted.admissions
    );
    let digest = hex::encode(ingest.ledger().digest());
    assert_eq!(digest, "ea5fd844d67424d10c1206827a996b6f59311e51dbb9fa5b67599b778a177c1f");
}
