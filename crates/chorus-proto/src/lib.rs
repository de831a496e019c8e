//! Wire types of the Chorus protocol, generated at build time from
//! `proto/chorus/v1/*.proto` by prost (compiled with protox, so no `protoc`
//! binary is needed).
//!
//! These types carry no validation: decoding one only says the bytes are
//! well-formed protobuf. `chorus-core` decides whether an object is valid,
//! including the canonical-encoding rule of `docs/PROTOCOL.md`.

/// Protocol version 1.
pub mod v1 {
    #![allow(missing_docs, clippy::doc_lazy_continuation, clippy::large_enum_variant)]
    include!(concat!(env!("OUT_DIR"), "/chorus.v1.rs"));
}

pub use prost::Message;
