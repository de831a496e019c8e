//! The ledger keeps tallies incrementally; they must always equal a recount.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Ledger, Stance};

#[test]
fn incremental_tallies_equal_recounts_in_any_arrival_order() {
    let f = Fixture::new(7);
    let now = T0 + 1_000_000;
    let p1 = f.proposal(0, "Open", 1, None);
    let p2 = f.proposal(1, "Closing", 2, Some(T0 + 100));
    let mut objs = vec![];
    for (i, stance) in [Stance::Endorse, Stance::Object, Stance::Abstain, Stance::Endorse].into_iter().enumerate() {
        objs.push(f.endorsement(i, p1.id(), stance, 10));
        objs.push(f.endorsement(i, p2.id(), stance, 50));
    }
    objs.push(f.endorsement(1, p1.id(), Stance::Endorse, 20)); // equivocation, endorse wins
    objs.push(f.endorsement(5, p2.id(), Stance::Endorse, 500)); // late
    objs.push(f.endorsement(2, p2.id(), Stance::Endorse, 500)); // late equivocation
                                                                // Endorsements first (orphans), then proposals; and the reverse.
    for order in [true, false] {
        let mut ledger = Ledger::new(f.coalition.clone());
        let mut all = objs.clone();
        if order {
            all.push(p1.clone());
            all.push(p2.clone());
        } else {
            all.insert(0, p1.clone());
            all.insert(0, p2.clone());
        }
        for e in &all {
            ledger.apply(&ledger.validate(e.bytes(), now).unwrap());
            for p in [&p1, &p2] {
                assert_eq!(ledger.tally(&p.id()), ledger.recount(&p.id()));
            }
        }
        let t1 = ledger.tally(&p1.id()).unwrap();
        assert_eq!((t1.endorse, t1.object, t1.abstain, t1.equivocations), (3, 0, 1, 1));
        let t2 = ledger.tally(&p2.id()).unwrap();
        assert_eq!((t2.endorse, t2.object, t2.abstain, t2.equivocations, t2.late), (2, 1, 1, 1, 2));
    }
}

/// Ignore-verdict refusals (future date, unknown roster) come only after the
/// signature verified: a forgery wearing either label is still rejected.
#[test]
fn forgeries_are_rejected_whatever_they_claim_about_time_or_roster() {
    use chorus_core::limits::MAX_CLOCK_SKEW_MS;
    use chorus_core::{Envelope, Kind, Proposal, Rejection, Verdict};
    let f = Fixture::new(3);
    let forge = |p: &Proposal| {
        let env = Envelope::sign(Kind::Proposal, p.to_body(), &[&f.keys[0]]);
        let mut sigs = env.signatures().to_vec();
        sigs[0].signature[5] ^= 1;
        Envelope::assemble(Kind::Proposal, env.body().to_vec(), sigs)
    };
    let base = Proposal::from_body(f.proposal(0, "x", 1, None).body()).unwrap();
    let ahead = Proposal { created_at_ms: T0 + MAX_CLOCK_SKEW_MS + 10, ..base.clone() };
    let heads = vec![chorus_core::ObjectId([9; 32])];
    let strange = Proposal { roster: chorus_core::version_id(&f.id(), &heads), roster_heads: heads, ..base };
    for p in [ahead, strange] {
        let e = Ledger::new(f.coalition.clone()).validate(forge(&p).bytes(), T0).unwrap_err();
        assert!(matches!(e, Rejection::BadSignature { .. }), "{e:?}");
        assert_eq!(e.verdict(), Verdict::Reject);
    }
}
