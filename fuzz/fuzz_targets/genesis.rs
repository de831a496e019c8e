//! `Coalition::from_genesis` on arbitrary bytes: no panic, the verdict does
//! not depend on the thread count, and a coalition founded by a genesis
//! accepts that genesis as its own.

#![no_main]

use chorus_core::{Coalition, Ledger};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let one = Coalition::from_genesis(data, 1);
    let two = Coalition::from_genesis(data, 2);
    match (&one, &two) {
        (Ok(a), Ok(b)) => assert_eq!(a.id(), b.id()),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("verdict depends on threads"),
    }
    if let Ok(c) = one {
        assert!(Ledger::new(c).validate(data, u64::MAX).is_ok());
    }
});
