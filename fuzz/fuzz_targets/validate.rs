//! `Ledger::validate` (the production path, PROTOCOL.md 12.8) of arbitrary
//! bytes against a fixed four-member coalition, by a ledger holding only the
//! genesis and by one holding a governed history: no panic; the verdict
//! equals that of `validate_many` and of the two stages apart
//! (`check_signature`, then `authorise`); what is accepted is accepted
//! again and applies to a ledger without panicking.

#![no_main]

use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Action, Ledger, Member, Stance};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = T0 + 10_000;

struct Scene {
    f: Fixture,
    /// Only the genesis.
    empty: Ledger,
    /// An admitted trust, a delegation, a proposal and stances.
    governed: Ledger,
}

fn scene() -> &'static Scene {
    static S: OnceLock<Scene> = OnceLock::new();
    S.get_or_init(|| {
        let f = Fixture::new(4);
        let x = chorus_core::Keypair::from_seed(&[7; 32]);
        let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
        let admit = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 1);
        let mut objects = vec![admit.clone()];
        objects.extend((0..4).map(|i| f.endorsement(i, admit.id(), Stance::Endorse, 2)));
        let p = f.proposal_under(&x, x.public(), "By X", &[admit.id()], None, 3);
        objects.push(p.clone());
        objects.push(f.delegation(&f.keys[1], f.keys[1].public(), x.public(), None, 4));
        objects.push(f.endorsement(2, p.id(), Stance::Object, 5));
        let mut governed = Ledger::new(f.coalition.clone());
        for o in &objects {
            let v = governed.validate(o.bytes(), NOW).expect("fixture objects are valid in this order");
            governed.apply(&v);
        }
        Scene { empty: Ledger::new(f.coalition.clone()), governed, f }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scene();
    for ledger in [&s.empty, &s.governed] {
        let one = ledger.validate(data, NOW);
        let many = ledger.validate_many(&[data], NOW, 1);
        assert_eq!(many.first(), Some(&one));
        let staged = Ledger::check_signature(&s.f.coalition, data).and_then(|c| ledger.authorise(&c, NOW));
        assert_eq!(staged, one);
        if let Ok(v) = one {
            assert_eq!(ledger.validate(data, NOW + 1), Ok(v.clone()));
            let mut l = ledger.clone();
            l.apply(&v);
            let _ = l.digest();
        }
    }
});
