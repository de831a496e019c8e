//! `chorus_node::api::write::decode_body`, the body of `POST
//! /api/v1/objects` (docs/API.md), in both formats: no panic; a decoded
//! envelope's bytes are within the envelope bound and decode again to the
//! same envelope; the same bytes sent as octets and wrapped in JSON give
//! the same verdict.

#![no_main]

use chorus_node::api::write::{decode_body, BodyFormat, MAX_BODY_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [BodyFormat::Octets, BodyFormat::Json] {
        if let Ok(env) = decode_body(format, data) {
            assert!(env.bytes().len() <= MAX_BODY_BYTES);
            let again = chorus_core::Envelope::decode(env.bytes()).expect("a decoded envelope decodes again");
            assert_eq!(again.bytes(), env.bytes());
        }
    }
    let wrapped = format!("{{\"envelope\":\"{}\"}}", standard_base64(data));
    let octets = decode_body(BodyFormat::Octets, data).map(|e| e.bytes().to_vec());
    let json = decode_body(BodyFormat::Json, wrapped.as_bytes()).map(|e| e.bytes().to_vec());
    assert_eq!(octets.is_ok(), json.is_ok(), "the two formats agree");
    if let (Ok(a), Ok(b)) = (octets, json) {
        assert_eq!(a, b);
    }
});

/// RFC 4648 section 4 base64 with padding: written out here so that the
/// target checks the node's decoder against an encoder that is not its own.
fn standard_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
