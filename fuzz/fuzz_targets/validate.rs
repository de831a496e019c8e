//! `Coalition::validate` of arbitrary bytes against a fixed four-member
//! coalition: no panic; what is accepted is accepted again, by
//! `validate_many` too, and applies to a ledger without panicking.

#![no_main]

use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::Ledger;
use libfuzzer_sys::fuzz_target;

const NOW: u64 = T0 + 10_000;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4))
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let one = f.coalition.validate(data, NOW);
    let many = f.coalition.validate_many(&[data], NOW, 1);
    assert_eq!(many.first(), Some(&one));
    if let Ok(v) = one {
        let mut ledger = Ledger::new(f.coalition.clone());
        ledger.apply(&v);
        let _ = ledger.digest();
    }
});
