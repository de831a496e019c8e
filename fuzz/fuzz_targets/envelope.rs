//! `Envelope::decode` and the body parsers on arbitrary bytes: no panic, and
//! whatever decodes is canonical (re-decoding its bytes gives the same
//! envelope) with the id of its signing input.

#![no_main]

use chorus_core::{Endorsement, Envelope, Genesis, ObjectId, Proposal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        assert_eq!(env.bytes(), data);
        assert_eq!(Envelope::decode(env.bytes()).as_ref(), Ok(&env));
        assert_eq!(env.id(), ObjectId::compute(env.kind(), env.body()));
        let _ = Genesis::from_body(env.body());
        let _ = Proposal::from_body(env.body());
        let _ = Endorsement::from_body(env.body());
    }
    let _ = Genesis::from_body(data);
    let _ = Proposal::from_body(data);
    let _ = Endorsement::from_body(data);
});
