//! The common header of the reserved kinds (4, 8 to 31; PROTOCOL.md 3.4):
//! the only part of such an object's body a node reads before it knows the
//! kind.

use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};

/// Key of field 1 (`bytes coalition`, wire type 2) and its length, 32.
const COALITION_RECORD: [u8; 2] = [0x0a, 0x20];
/// Key of field 2 (`uint64 created_at_ms`, wire type 0).
const CREATED_AT_KEY: u8 = 0x10;
/// A varint is at most 10 bytes (64 bits in groups of 7).
const MAX_VARINT_BYTES: usize = 10;

/// The header every object of a reserved kind starts its body with: field
/// 1, the coalition (32 bytes), then field 2, the creation time (non-zero),
/// both canonically encoded. What follows (the *tail*) is the rest of the
/// kind's body; a node that does not define the kind never reads it, and
/// stores and forwards the exact bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpaqueHeader {
    /// Field 1: the coalition id.
    pub coalition: CoalitionId,
    /// Field 2: the creation time (ms since 1970, non-zero).
    pub created_at_ms: u64,
}

impl OpaqueHeader {
    /// Reads the header at the start of `body` under rules H1–H3 of
    /// PROTOCOL.md 3.4, in order: field 1 with 32 bytes comes first
    /// (`InvalidField` "header coalition"), field 2 follows as a varint
    /// (`InvalidField` "header created_at_ms": absent means 0, which a
    /// required time may not be), and the varint is complete, below 2^64
    /// (`Malformed`) and minimal (`NonCanonical`). Any bytes may follow.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        if body.len() < 34 || body[..2] != COALITION_RECORD {
            return Err(Rejection::InvalidField {
                field: "header coalition",
                reason: "must be the body's first field (field 1, 32 bytes)".into(),
            });
        }
        let coalition = ObjectId::from_slice(&body[2..34]).unwrap_or(ObjectId([0; 32]));
        if body.get(34) != Some(&CREATED_AT_KEY) {
            return Err(Rejection::InvalidField {
                field: "header created_at_ms",
                reason: "must be set (milliseconds since 1970) and follow the coalition (field 2)".into(),
            });
        }
        let created_at_ms = read_varint(&body[35..])?;
        Ok(OpaqueHeader { coalition, created_at_ms })
    }

    /// The canonical encoding of the header: the first bytes of every body
    /// of a reserved kind. `created_at_ms` must be non-zero for the result
    /// to pass [`OpaqueHeader::from_body`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(45);
        out.extend_from_slice(&COALITION_RECORD);
        out.extend_from_slice(self.coalition.as_bytes());
        out.push(CREATED_AT_KEY);
        let mut v = self.created_at_ms;
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }
}

/// A varint at the start of `bytes`, as section 2 allows it for a required
/// `uint64`: at most 10 bytes ending within `bytes`, a value below 2^64
/// (else `Malformed`), minimal and non-zero (else `NonCanonical`: a zero
/// written out is a default written out).
fn read_varint(bytes: &[u8]) -> Result<u64, Rejection> {
    let malformed = |detail: &str| Rejection::Malformed { what: "object header", detail: detail.into() };
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().take(MAX_VARINT_BYTES).enumerate() {
        if i == MAX_VARINT_BYTES - 1 && b > 1 {
            return Err(malformed("invalid varint"));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // The last group of a minimal varint is non-zero, unless the
            // varint is the single byte 0, which is a default written out.
            if b == 0 {
                return Err(Rejection::NonCanonical { what: "object header" });
            }
            return Ok(value);
        }
    }
    if bytes.len() >= MAX_VARINT_BYTES {
        Err(malformed("invalid varint"))
    } else {
        Err(malformed("buffer underflow"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(at: u64) -> Vec<u8> {
        OpaqueHeader { coalition: ObjectId([7; 32]), created_at_ms: at }.to_bytes()
    }

    #[test]
    fn the_header_round_trips_whatever_follows() {
        for at in [1, 127, 128, 1_767_225_600_000, u64::MAX] {
            let mut body = header(at);
            assert_eq!(OpaqueHeader::from_body(&body).unwrap().created_at_ms, at);
            body.extend_from_slice(b"\x1a\x03any");
            let h = OpaqueHeader::from_body(&body).unwrap();
            assert_eq!((h.coalition, h.created_at_ms), (ObjectId([7; 32]), at));
        }
    }

    #[test]
    fn the_header_agrees_with_the_protobuf_encoder() {
        use prost::Message;
        #[derive(Clone, PartialEq, prost::Message)]
        struct Head {
            #[prost(bytes = "vec", tag = "1")]
            coalition: Vec<u8>,
            #[prost(uint64, tag = "2")]
            created_at_ms: u64,
        }
        for at in [1, 300, 1_767_225_600_000, u64::MAX] {
            let encoded = Head { coalition: vec![7; 32], created_at_ms: at }.encode_to_vec();
            assert_eq!(encoded, header(at));
        }
    }

    #[test]
    fn each_broken_header_names_its_rule() {
        let name = |body: &[u8]| OpaqueHeader::from_body(body).map_err(|e| e.to_string()).unwrap_err();
        let good = header(1_767_225_600_000);
        assert!(name(&[]).starts_with("header coalition"));
        assert!(name(&good[..33]).starts_with("header coalition"));
        let mut short = good.clone();
        short[1] = 0x1f;
        assert!(name(&short).starts_with("header coalition"));
        assert!(name(&good[..34]).starts_with("header created_at_ms"));
        let mut later_field = good[..34].to_vec();
        later_field.extend_from_slice(b"\x1a\x01x");
        assert!(name(&later_field).starts_with("header created_at_ms"));
        assert_eq!(
            OpaqueHeader::from_body(&good[..good.len() - 1]),
            Err(Rejection::Malformed { what: "object header", detail: "buffer underflow".into() })
        );
        let mut zero = good[..35].to_vec();
        zero.push(0);
        assert_eq!(OpaqueHeader::from_body(&zero), Err(Rejection::NonCanonical { what: "object header" }));
        let mut padded = good[..35].to_vec();
        padded.extend_from_slice(&[0x81, 0x00]);
        assert_eq!(OpaqueHeader::from_body(&padded), Err(Rejection::NonCanonical { what: "object header" }));
        let mut huge = good[..35].to_vec();
        huge.extend_from_slice(&[0xff; 9]);
        huge.push(0x02);
        assert!(matches!(OpaqueHeader::from_body(&huge), Err(Rejection::Malformed { .. })));
        let mut eleven = good[..35].to_vec();
        eleven.extend_from_slice(&[0x80; 10]);
        eleven.push(0x01);
        assert!(matches!(OpaqueHeader::from_body(&eleven), Err(Rejection::Malformed { .. })));
    }
}
