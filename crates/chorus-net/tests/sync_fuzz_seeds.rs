//! Runs the sync fuzz target's entry (`fuzz/entries/sync_frames.rs`, the
//! same code `cargo fuzz run sync_frames` runs) on its seed inputs and on
//! truncations and bit flips of them, so a normal `cargo test` checks what
//! the fuzzer checks. The ignored test writes the seeds to
//! `fuzz/seeds/sync_frames/`; run it with `--ignored` after a protocol
//! change and commit them.

#[path = "../../../fuzz/entries/sync_frames.rs"]
mod entry;

#[test]
fn seeds_and_their_mutations_pass_the_fuzz_checks() {
    let seeds = entry::seeds();
    assert!(seeds.len() >= 8, "a seed per frame kind and client state");
    for edge in [&[][..], &[0], &[1], &[2], &[3], &[4], &[0, 0x0a, 0x00], &[4, 0x0a, 0x02, 0x0a, 0x00]] {
        entry::run(edge);
    }
    for seed in &seeds {
        entry::run(seed);
        // Every selector on the same frame.
        for selector in 0..entry::SELECTORS {
            let mut other = seed.clone();
            other[0] = selector;
            entry::run(&other);
        }
        // Truncations at a few points, and single bit flips spread over the
        // frame: each reaches a different refusal path.
        for cut in [1, 2, seed.len() / 3, seed.len() / 2, seed.len().saturating_sub(1)] {
            entry::run(&seed[..cut.min(seed.len())]);
        }
        let step = (seed.len() / 24).max(1);
        for at in (1..seed.len()).step_by(step) {
            let mut flipped = seed.clone();
            flipped[at] ^= 1 << (at % 8);
            entry::run(&flipped);
        }
    }
}

#[test]
#[ignore = "writes fuzz/seeds/sync_frames; run with --ignored"]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/sync_frames");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in entry::seeds().iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
    }
}
