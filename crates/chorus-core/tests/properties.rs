//! Rules that must hold for every order and every input:
//! (a) the ledger state is a function of the set of objects offered, never
//!     of their order or repeats, and `Ledger::validate` refuses exactly
//!     the invalid ones;
//! (b) invalid or foreign objects never change the state;
//! (c) a certificate exported for any adopted proposal verifies and names
//!     that proposal and exactly the endorsers the ledger chose;
//! (d) flipping any byte of a certificate either breaks it or leaves the
//!     proven position unchanged, never proves a different one.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, Applied, Endorsement, Envelope, Keypair, Kind, Ledger, ObjectId, Stance, VerifiedObject,
};
use proptest::prelude::*;
use prost::Message;

/// The validation clock: after every fixture time, before the "future" ones.
const NOW: u64 = T0 + 10_000;
const MEMBERS: usize = 7;

/// One object offered to a node, with what validation must say about it.
struct Item {
    bytes: Vec<u8>,
    valid: bool,
    what: String,
}

struct Pool {
    f: Fixture,
    items: Vec<Item>,
    /// Every valid envelope by id, as a node's store would hold them.
    by_id: HashMap<ObjectId, Envelope>,
    /// Objects verified by another coalition (for `Applied::Foreign`).
    foreign: Vec<VerifiedObject>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(build_pool)
}

fn build_pool() -> Pool {
    let f = Fixture::new(MEMBERS as u32);
    let other = Fixture::new(3);
    let mut items = vec![];
    let mut by_id = HashMap::new();
    let mut valid = |env: &Envelope, what: String, items: &mut Vec<Item>| {
        by_id.insert(env.id(), env.clone());
        items.push(Item { bytes: env.bytes().to_vec(), valid: true, what });
    };
    let genesis = f.coalition.genesis_envelope().clone();
    valid(&genesis, "own genesis".into(), &mut items);

    let proposals = [
        f.proposal(0, "Open ended", 1, None),
        f.proposal(1, "Closes early", 2, Some(T0 + 100)),
        f.proposal(2, "Closes at 300", 3, Some(T0 + 300)),
    ];
    for (i, p) in proposals.iter().enumerate() {
        valid(p, format!("proposal {i}"), &mut items);
    }
    let mut endorsements = vec![];
    for (pi, p) in proposals.iter().enumerate() {
        for m in 0..MEMBERS {
            for stance in [Stance::Endorse, Stance::Object, Stance::Abstain] {
                // On time for every proposal, and late for the closing ones.
                for offset in [50, 500] {
                    let e = f.endorsement(m, p.id(), stance, offset);
                    valid(&e, format!("{stance} by {m} on {pi} at +{offset}"), &mut items);
                    endorsements.push(e);
                }
            }
        }
    }
    // An endorsement of a proposal nobody has (held as an orphan).
    let orphan = f.endorsement(3, ObjectId([7; 32]), Stance::Endorse, 60);
    valid(&orphan, "orphan endorsement".into(), &mut items);

    let mut invalid = |bytes: Vec<u8>, what: String| items.push(Item { bytes, valid: false, what });
    // Another coalition's objects.
    let op = other.proposal(0, "Elsewhere", 1, None);
    invalid(op.bytes().to_vec(), "foreign proposal".into());
    invalid(other.endorsement(1, op.id(), Stance::Endorse, 2).bytes().to_vec(), "foreign endorsement".into());
    invalid(
        other.endorsement(1, proposals[0].id(), Stance::Endorse, 2).bytes().to_vec(),
        "foreign vote on ours".into(),
    );
    invalid(other.coalition.genesis_envelope().bytes().to_vec(), "foreign genesis".into());
    // Tampered bytes: a flipped signature bit, a flipped body bit.
    for (k, env) in endorsements.iter().step_by(17).chain(&proposals).enumerate() {
        let mut sig = env.bytes().to_vec();
        let n = sig.len();
        sig[n - 5] ^= 0x04;
        invalid(sig, format!("tampered signature {k}"));
        let mut body = env.bytes().to_vec();
        body[8] ^= 0x01;
        invalid(body, format!("tampered body {k}"));
    }
    // Not a member.
    let outsider = Keypair::from_seed(&[0xee; 32]);
    let e = Endorsement {
        coalition: f.id(),
        proposal: proposals[0].id(),
        trust: outsider.public(),
        created_at_ms: T0 + 5,
        stance: Stance::Endorse,
        comment: None,
        delegation: None,
    };
    invalid(Envelope::sign(Kind::Endorsement, e.to_body(), &[&outsider]).into_bytes(), "outsider".into());
    // Signed by a member other than the one named.
    invalid(Envelope::sign(Kind::Endorsement, e.to_body(), &[&f.keys[4]]).into_bytes(), "signer mismatch".into());
    // From the future (deferred at NOW).
    invalid(f.proposal(3, "Future", 10_000_000, None).into_bytes(), "future proposal".into());
    invalid(f.endorsement(4, proposals[0].id(), Stance::Endorse, 10_000_000).into_bytes(), "future vote".into());
    // Garbage.
    invalid(vec![0xff; 10], "garbage".into());
    invalid(vec![], "empty".into());

    let foreign = vec![
        Ledger::new(other.coalition.clone()).validate(op.bytes(), NOW).unwrap(),
        Ledger::new(other.coalition.clone())
            .validate(other.endorsement(0, op.id(), Stance::Endorse, 2).bytes(), NOW)
            .unwrap(),
        Ledger::new(other.coalition.clone()).validate(other.coalition.genesis_envelope().bytes(), NOW).unwrap(),
    ];
    Pool { f, items, by_id, foreign }
}

/// Offers `order` to a fresh ledger as a node would: validate, then apply
/// only what validation accepted. Checks every verdict on the way.
fn run(order: &[usize]) -> Result<Ledger, TestCaseError> {
    let p = pool();
    let mut ledger = Ledger::new(p.f.coalition.clone());
    for &i in order {
        let item = &p.items[i];
        match Ledger::new(p.f.coalition.clone()).validate(&item.bytes, NOW) {
            Ok(v) => {
                prop_assert!(item.valid, "{} was accepted", item.what);
                let seen = ledger.contains(&v.id());
                let applied = ledger.apply(&v);
                prop_assert_eq!(seen, applied == Applied::Duplicate, "{}", item.what);
            }
            Err(e) => prop_assert!(!item.valid, "{} was refused: {}", item.what, e),
        }
    }
    for (id, _) in ledger.proposals() {
        prop_assert_eq!(ledger.tally(&id), ledger.recount(&id));
    }
    Ok(ledger)
}

/// A multiset of pool indices (repeats are duplicates) and a permutation of it.
fn orders() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    let n = pool().items.len();
    prop::collection::vec(0..n, 0..90).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn ledger_state_depends_only_on_the_set((a, b) in orders()) {
        let la = run(&a)?;
        let lb = run(&b)?;
        let set: BTreeSet<usize> = a.iter().copied().collect();
        let canonical: Vec<usize> = set.into_iter().collect();
        let lc = run(&canonical)?;
        prop_assert_eq!(la.digest(), lb.digest());
        prop_assert_eq!(la.digest(), lc.digest());
        prop_assert!(la == lb);
        prop_assert!(la == lc);
        prop_assert_eq!(la.positions(), lc.positions());
    }

    #[test]
    fn validate_many_equals_validate_one_by_one((a, _) in orders(), threads in 1usize..5) {
        let p = pool();
        let items: Vec<&[u8]> = a.iter().map(|&i| p.items[i].bytes.as_slice()).collect();
        let one_by_one: Vec<_> = items.iter().map(|b| Ledger::new(p.f.coalition.clone()).validate(b, NOW)).collect();
        prop_assert_eq!(Ledger::new(p.f.coalition.clone()).validate_many(&items, NOW, threads), one_by_one);
    }

    #[test]
    fn invalid_and_foreign_objects_never_change_state((a, _) in orders()) {
        let p = pool();
        let mut ledger = run(&a)?;
        let before = ledger.clone();
        let digest = ledger.digest();
        for item in p.items.iter().filter(|i| !i.valid) {
            prop_assert!(Ledger::new(p.f.coalition.clone()).validate(&item.bytes, NOW).is_err(), "{}", item.what);
        }
        for v in &p.foreign {
            prop_assert_eq!(ledger.apply(v), Applied::Foreign);
        }
        // Re-offering what is already held changes nothing either.
        for &i in &a {
            if let Ok(v) = Ledger::new(p.f.coalition.clone()).validate(&p.items[i].bytes, NOW) {
                prop_assert_eq!(ledger.apply(&v), Applied::Duplicate);
            }
        }
        prop_assert!(ledger == before);
        prop_assert_eq!(ledger.digest(), digest);
    }

    #[test]
    fn certificates_of_adopted_proposals_verify((a, _) in orders()) {
        let p = pool();
        let ledger = run(&a)?;
        for pid in ledger.positions() {
            let ids = ledger.certificate_endorsements(&pid).expect("adopted");
            let ends: Vec<Envelope> = ids.iter().map(|id| p.by_id[id].clone()).collect();
            let cert = certificate::assemble(p.f.coalition.genesis_envelope(), &p.by_id[&pid], &ends);
            let pos = certificate::verify_with_threads(&cert, Some(p.f.id()), 1);
            prop_assert!(pos.is_ok(), "{:?}", pos);
            let pos = pos.unwrap();
            prop_assert_eq!(pos.proposal_id, pid);
            let named: Vec<ObjectId> = pos.endorsers.iter().map(|e| e.endorsement).collect();
            prop_assert_eq!(&named, &ids);
            let state = ledger.proposal_state(&pid).unwrap();
            let endorsing: Vec<_> =
                state.stances.iter().filter(|s| s.stance == Some(Stance::Endorse)).map(|s| s.trust).collect();
            let trusts: Vec<_> = pos.endorsers.iter().map(|e| e.trust).collect();
            prop_assert_eq!(trusts, endorsing);
            prop_assert_eq!(pos.required, state.tally.required);
        }
    }
}

/// The pool is rich enough for the properties above to mean something:
/// everything in it adopts all three proposals, with equivocations and late
/// records, and every verdict is as labelled.
#[test]
fn the_whole_pool_adopts_every_proposal() {
    let p = pool();
    let all: Vec<usize> = (0..p.items.len()).collect();
    let ledger = run(&all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ledger.positions().len(), 3);
    for (id, _) in ledger.proposals() {
        let t = ledger.tally(&id).unwrap();
        assert_eq!(t.endorse, MEMBERS);
        assert_eq!(t.equivocations, MEMBERS);
    }
    assert!(p.items.iter().filter(|i| !i.valid).count() >= 20);
}

fn certificate_under_test() -> &'static (Vec<u8>, certificate::VerifiedAdoption) {
    static CERT: OnceLock<(Vec<u8>, certificate::VerifiedAdoption)> = OnceLock::new();
    CERT.get_or_init(|| {
        let f = Fixture::new(5);
        let p = f.proposal(2, "Flip me", 1, Some(T0 + 1000));
        let mut ends = vec![];
        for i in [0, 1, 3, 4] {
            let e = Endorsement {
                coalition: f.id(),
                proposal: p.id(),
                trust: f.keys[i].public(),
                created_at_ms: T0 + 10 + i as u64,
                stance: Stance::Endorse,
                comment: (i % 2 == 0).then(|| format!("comment {i}")),
                delegation: None,
            };
            ends.push(Envelope::sign(Kind::Endorsement, e.to_body(), &[&f.keys[i]]));
        }
        let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
        let pos = certificate::verify_with_threads(&cert, None, 1).expect("fixture certificate verifies");
        (cert, pos)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn a_flipped_byte_never_proves_another_position(index in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let (cert, pos) = certificate_under_test();
        let mut bad = cert.clone();
        let i = index.index(bad.len());
        bad[i] ^= xor;
        if let Ok(other) = certificate::verify_with_threads(&bad, None, 1) {
            prop_assert_eq!(&other, pos, "byte {} ^ {:#x}", i, xor);
        }
    }
}

fn coalition_under_test() -> &'static chorus_core::Coalition {
    static C: OnceLock<chorus_core::Coalition> = OnceLock::new();
    C.get_or_init(|| {
        let (cert, pos) = certificate_under_test();
        let genesis = chorus_proto::v1::Certificate::decode(cert.as_slice()).unwrap().genesis.unwrap();
        let c = chorus_core::Coalition::from_genesis(&genesis.encode_to_vec(), 1).unwrap();
        assert_eq!(c.id(), pos.coalition);
        c
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Skipping the countersignatures of an already verified genesis never
    /// changes a verdict, whatever byte is flipped.
    #[test]
    fn verifying_for_a_known_coalition_gives_the_full_verdict(
        index in any::<prop::sample::Index>(),
        xor in 0u8..=255,
    ) {
        let (cert, _) = certificate_under_test();
        let c = coalition_under_test();
        let mut bad = cert.clone();
        let i = index.index(bad.len());
        bad[i] ^= xor;
        let full = certificate::verify_with_threads(&bad, Some(c.id()), 1);
        prop_assert_eq!(certificate::verify_for_coalition(&bad, c, 1), full.clone());
        prop_assert_eq!(certificate::verify_for_coalition(&bad, c, 2), full);
    }
}

#[test]
fn verifying_for_another_coalition_gives_the_full_verdict() {
    let (cert, _) = certificate_under_test();
    let other = Fixture::new(2);
    let full = certificate::verify_with_threads(cert, Some(other.id()), 1);
    assert!(matches!(full, Err(chorus_core::CertificateError::WrongCoalition { .. })));
    assert_eq!(certificate::verify_for_coalition(cert, &other.coalition, 1), full);
    let (own, _) = other.certificate(2);
    let c = coalition_under_test();
    assert_eq!(certificate::verify_for_coalition(&own, c, 2), certificate::verify_with_threads(&own, Some(c.id()), 2));
    assert!(certificate::verify_for_coalition(&own, &other.coalition, 2).is_ok());
}

/// Exhaustively over positions: every byte of the certificate, each with
/// one bit flipped (a different bit from byte to byte) and all bits flipped.
#[test]
fn every_byte_flip_breaks_or_preserves_the_certificate() {
    let (cert, pos) = certificate_under_test();
    let mut survivors = 0;
    for i in 0..cert.len() {
        for xor in [1u8 << (i % 8), 0xff] {
            let mut bad = cert.clone();
            bad[i] ^= xor;
            if let Ok(other) = certificate::verify_with_threads(&bad, None, 1) {
                assert_eq!(&other, pos, "byte {i} ^ {xor:#x}");
                survivors += 1;
            }
        }
    }
    // Canonical encoding and signatures over every byte leave no byte free.
    assert_eq!(survivors, 0);
}
