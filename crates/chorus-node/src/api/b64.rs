//! Standard base64 with padding (RFC 4648 section 4), the encoding the API
//! gives envelopes in, from the `base64` crate. Decoding is strict: only
//! the canonical padded text of a byte string is accepted (no missing or
//! misplaced padding, no non-zero trailing bits, no other alphabet), so
//! each byte string has exactly one accepted text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// `bytes` in standard base64, padded with `=`.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64; `None` for anything else.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for n in 0..all.len() {
            assert_eq!(decode(&encode(&all[..n])).unwrap(), &all[..n]);
        }
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn anything_but_canonical_padded_base64_is_refused() {
        for bad in ["Zg", "Zg=", "Z===", "Zh==", "Zg==Zg==", "Zm9v\n", "Zm-_", "====", "Zm 9"] {
            assert!(decode(bad).is_none(), "{bad}");
        }
    }
}
