//! chorus-net's sync frames on arbitrary bytes: as requests to a responder
//! and as responses to clients in several states. The checks live in
//! `fuzz/entries/sync_frames.rs`, which a normal `cargo test` also runs on
//! seed inputs (`crates/chorus-net/tests/sync_fuzz_seeds.rs`).

#![no_main]

// `seeds()` is for the seed test and the seed writer, not the fuzzer.
#[allow(dead_code)]
#[path = "../entries/sync_frames.rs"]
mod entry;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| entry::run(data));
