//! `certificate::verify` on arbitrary bytes: no panic, and the verdict does
//! not depend on the thread count.

#![no_main]

use chorus_core::certificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let one = certificate::verify_with_threads(data, None, 1);
    let two = certificate::verify_with_threads(data, None, 2);
    assert_eq!(one, two);
});
