//! Runs the hello fuzz target's entry (`fuzz/entries/hello.rs`, the same
//! code `cargo fuzz run hello` runs) on its seed inputs and on truncations
//! and bit flips of them, so a normal `cargo test` checks what the fuzzer
//! checks. The ignored test writes the seeds to `fuzz/seeds/hello/`; run it
//! with `--ignored` after a protocol change and commit them.

#[path = "../../../fuzz/entries/hello.rs"]
mod entry;

#[test]
fn seeds_and_their_mutations_pass_the_fuzz_checks() {
    let seeds = entry::seeds();
    assert!(seeds.len() >= 2, "an observer's and a member's hello");
    for edge in [&[][..], &[0x0a, 0x00], &[0x12, 0x00], &[0x0a, 0x05], &[0x12, 0x01, 0x00]] {
        entry::run(edge);
    }
    entry::run(&vec![0u8; 4096]);
    for seed in &seeds {
        entry::run(seed);
        for cut in [1, 2, seed.len() / 3, seed.len() / 2, seed.len().saturating_sub(1)] {
            entry::run(&seed[..cut.min(seed.len())]);
        }
        for at in 0..seed.len() {
            let mut flipped = seed.clone();
            flipped[at] ^= 1 << (at % 8);
            entry::run(&flipped);
        }
    }
}

#[test]
#[ignore = "writes fuzz/seeds/hello; run with --ignored"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/hello");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in entry::seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
    }
}
