//! Reading a hello frame (PROTOCOL.md 14.3, 14.9): the checks a node makes
//! on a peer's `/chorus/hello/1` frame before any key, roster or clock
//! check. The event loop reads every hello through [`parse_hello`], so this
//! is the one decoder of that frame.

use chorus_core::CoalitionId;
use chorus_proto::v1 as pb;
use prost::Message;

use crate::attestation::NodeAttestation;
use crate::error::HelloRefusal;

/// Largest hello frame accepted, in bytes (also the frame bound of the
/// hello protocol's codec).
pub const MAX_HELLO_BYTES: usize = crate::behaviour::MAX_HELLO_BYTES;

/// What a hello frame that passed [`parse_hello`] claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloClaim {
    /// A member trust's node, with its attestation (decoded, body kept as
    /// signed, not verified: the roster, signature, expiry and peer checks
    /// are the caller's).
    Member(NodeAttestation),
    /// An observer asking to follow the coalition the frame was checked
    /// against (`observe` was exactly its 32-byte id, no attestation).
    Observer,
}

/// Decodes a peer's hello frame for `coalition`. Pure: no store, key or
/// clock is consulted. Guarantees, in this order: a frame over
/// [`MAX_HELLO_BYTES`] is [`HelloRefusal::TooLarge`]; one that is not a
/// `Hello` message is [`HelloRefusal::Malformed`]; a non-empty `observe`
/// that is not exactly `coalition`'s id, or comes with an attestation, is
/// [`HelloRefusal::BadObserve`]; otherwise an absent attestation is
/// [`HelloRefusal::NoAttestation`] and one whose signature is not 64 bytes
/// or whose body is not a canonical `NodeAttestationBody` is
/// [`HelloRefusal::Attestation`].
pub fn parse_hello(frame: &[u8], coalition: &CoalitionId) -> Result<HelloClaim, HelloRefusal> {
    if frame.len() > MAX_HELLO_BYTES {
        return Err(HelloRefusal::TooLarge { size: frame.len(), limit: MAX_HELLO_BYTES });
    }
    let hello = pb::Hello::decode(frame).map_err(|e| HelloRefusal::Malformed(e.to_string()))?;
    if !hello.observe.is_empty() {
        if hello.attestation.is_some() || hello.observe.as_slice() != coalition.as_bytes() {
            return Err(HelloRefusal::BadObserve { observe: hex::encode(&hello.observe) });
        }
        return Ok(HelloClaim::Observer);
    }
    let attestation = hello.attestation.ok_or(HelloRefusal::NoAttestation)?;
    Ok(HelloClaim::Member(NodeAttestation::from_proto(attestation)?))
}

#[cfg(test)]
mod tests {
    use chorus_core::testkit::{Fixture, T0};

    use super::*;
    use crate::error::AttestationError;

    fn frame(attestation: Option<pb::NodeAttestation>, observe: &[u8]) -> Vec<u8> {
        pb::Hello { attestation, observe: observe.to_vec() }.encode_to_vec()
    }

    fn attestation(f: &Fixture) -> NodeAttestation {
        let node = chorus_core::Keypair::from_seed(&[7; 32]);
        NodeAttestation::issue(&f.keys[0], f.coalition.id(), node.public(), T0, None)
    }

    #[test]
    fn a_member_hello_yields_its_attestation_and_an_observer_hello_the_claim() {
        let f = Fixture::new(2);
        let att = attestation(&f);
        let id = f.coalition.id();
        assert_eq!(parse_hello(&frame(Some(att.to_proto()), b""), &id), Ok(HelloClaim::Member(att)));
        assert_eq!(parse_hello(&frame(None, id.as_bytes()), &id), Ok(HelloClaim::Observer));
    }

    #[test]
    fn a_frame_over_the_bound_is_too_large() {
        let f = Fixture::new(1);
        let big = vec![0u8; MAX_HELLO_BYTES + 1];
        let limit = MAX_HELLO_BYTES;
        assert_eq!(parse_hello(&big, &f.coalition.id()), Err(HelloRefusal::TooLarge { size: limit + 1, limit }));
    }

    #[test]
    fn undecodable_bytes_are_malformed() {
        let f = Fixture::new(1);
        // Field 1 (attestation) claims 5 bytes; none follow.
        assert!(matches!(parse_hello(&[0x0a, 0x05], &f.coalition.id()), Err(HelloRefusal::Malformed(_))));
    }

    #[test]
    fn a_hello_with_neither_attestation_nor_observe_is_refused() {
        let f = Fixture::new(1);
        assert_eq!(parse_hello(&[], &f.coalition.id()), Err(HelloRefusal::NoAttestation));
    }

    #[test]
    fn an_observe_of_another_coalition_or_with_an_attestation_is_refused() {
        let f = Fixture::new(2);
        let id = f.coalition.id();
        let other = [9u8; 32];
        let bad = |observe: &[u8]| Err(HelloRefusal::BadObserve { observe: hex::encode(observe) });
        assert_eq!(parse_hello(&frame(None, &other), &id), bad(&other));
        // A prefix of the right id is another coalition too.
        assert_eq!(parse_hello(&frame(None, &id.as_bytes()[..31]), &id), bad(&id.as_bytes()[..31]));
        let att = attestation(&f).to_proto();
        assert_eq!(parse_hello(&frame(Some(att), id.as_bytes()), &id), bad(id.as_bytes()));
    }

    #[test]
    fn an_attestation_that_does_not_decode_is_refused() {
        let f = Fixture::new(2);
        let id = f.coalition.id();
        let good = attestation(&f).to_proto();
        let malformed = |hello: &[u8]| {
            matches!(parse_hello(hello, &id), Err(HelloRefusal::Attestation(AttestationError::Malformed(_))))
        };
        let short_sig = pb::NodeAttestation { signature: vec![1; 63], ..good.clone() };
        assert!(malformed(&frame(Some(short_sig), b"")));
        let bad_body = pb::NodeAttestation { body: vec![0x0a, 0x05], ..good.clone() };
        assert!(malformed(&frame(Some(bad_body), b"")));
        // The same fields with a default value written out: not canonical.
        let mut padded = good.body.clone();
        padded.extend_from_slice(&[0x28, 0x00]); // expires_at_ms = 0
        assert!(malformed(&frame(Some(pb::NodeAttestation { body: padded, ..good }), b"")));
    }
}
