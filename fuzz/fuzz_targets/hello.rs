//! chorus-net's hello frame decoder (`chorus_net::hello::parse_hello`,
//! PROTOCOL.md 14.3, 14.9) on arbitrary bytes. The checks live in
//! `fuzz/entries/hello.rs`, which a normal `cargo test` also runs on seed
//! inputs (`crates/chorus-net/tests/hello_fuzz_seeds.rs`).

#![no_main]

// `seeds()` is for the seed test and the seed writer, not the fuzzer.
#[allow(dead_code)]
#[path = "../entries/hello.rs"]
mod entry;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| entry::run(data));
