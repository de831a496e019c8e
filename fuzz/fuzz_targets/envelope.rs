//! `Envelope::decode`, the body parsers and the common header of the
//! reserved kinds on arbitrary bytes: no panic; whatever decodes is
//! canonical (re-decoding its bytes gives the same envelope) with the id of
//! its signing input; a header that is read is re-encoded to the bytes it
//! was read from.

#![no_main]

use chorus_core::{Endorsement, Envelope, Genesis, ObjectId, OpaqueHeader, Proposal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data) {
        assert_eq!(env.bytes(), data);
        assert_eq!(Envelope::decode(env.bytes()).as_ref(), Ok(&env));
        assert_eq!(env.id(), ObjectId::compute(env.kind(), env.body()));
        let _ = Genesis::from_body(env.body());
        let _ = Proposal::from_body(env.body());
        let _ = Endorsement::from_body(env.body());
        header_round_trips(env.body());
    }
    let _ = Genesis::from_body(data);
    let _ = Proposal::from_body(data);
    let _ = Endorsement::from_body(data);
    header_round_trips(data);
});

/// A header read from `body` is exactly the first bytes of `body`.
fn header_round_trips(body: &[u8]) {
    if let Ok(h) = OpaqueHeader::from_body(body) {
        assert!(body.starts_with(&h.to_bytes()));
    }
}
