//! `chorus_net::hello::parse_hello` on arbitrary bytes, shared by the
//! cargo-fuzz target `fuzz/fuzz_targets/hello.rs` and the seed test
//! `crates/chorus-net/tests/hello_fuzz_seeds.rs`, so both run exactly this.
//!
//! Input: a whole hello frame, read for the fixture's coalition.
//! Checked: no panic; whatever parses is a `Hello` message within the frame
//! bound; a member claim's attestation re-encodes to the attestation the
//! frame carries (byte for byte when the frame is canonically encoded) and
//! its verification does not panic; an observer claim's frame carries no
//! attestation and names exactly the 32-byte coalition id.

use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::Keypair;
use chorus_net::hello::{parse_hello, HelloClaim, MAX_HELLO_BYTES};
use chorus_net::NodeAttestation;
use chorus_proto::v1 as pb;
use chorus_proto::Message;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(3))
}

/// Runs one input (see the module docs).
pub fn run(frame: &[u8]) {
    let f = fixture();
    let id = f.coalition.id();
    let Ok(claim) = parse_hello(frame, &id) else { return };
    assert!(frame.len() <= MAX_HELLO_BYTES);
    let hello = pb::Hello::decode(frame).expect("a parsed hello is a Hello message");
    match claim {
        HelloClaim::Member(att) => {
            assert!(hello.observe.is_empty(), "a member claim with observe set");
            let carried = hello.attestation.as_ref().expect("a member claim carries an attestation");
            assert_eq!(att.to_bytes(), carried.encode_to_vec(), "the attestation is not the one carried");
            if hello.encode_to_vec() == frame {
                let again = pb::Hello { attestation: Some(carried.clone()), observe: Vec::new() };
                assert_eq!(again.encode_to_vec(), frame);
                let decoded = NodeAttestation::decode(&att.to_bytes()).expect("a canonical attestation decodes");
                assert_eq!(decoded, att);
            }
            // Signatures are never forged by chance: this only exercises
            // the checks after parsing.
            let _ = att.verify(&f.coalition, None, T0);
        }
        HelloClaim::Observer => {
            assert!(hello.attestation.is_none(), "an observer claim with an attestation");
            assert_eq!(hello.observe.as_slice(), id.as_bytes().as_slice(), "an observer claim of another coalition");
        }
    }
}

/// Frames that reach past the decoder: an observer's hello, and member
/// hellos of each fixture trust, with and without an expiry.
pub fn seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    let id = f.coalition.id();
    let mut out = vec![pb::Hello { attestation: None, observe: id.as_bytes().to_vec() }.encode_to_vec()];
    for (i, trust) in f.keys.iter().enumerate() {
        let node = Keypair::from_seed(&[i as u8 + 1; 32]);
        let expires = (i % 2 == 1).then_some(T0 + 60_000);
        let att = NodeAttestation::issue(trust, id, node.public(), T0, expires);
        let carried = pb::NodeAttestation::decode(att.to_bytes().as_slice()).expect("own attestation");
        out.push(pb::Hello { attestation: Some(carried), observe: Vec::new() }.encode_to_vec());
    }
    out
}
