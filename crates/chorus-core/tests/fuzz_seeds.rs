//! Writes seed inputs for the fuzz targets in `fuzz/` (valid objects of every
//! kind, so the fuzzer starts past the decoders). Not a test; run with
//! `cargo test -p chorus-core --test fuzz_seeds -- --ignored` after a
//! protocol change, and commit `fuzz/seeds/`.

use std::path::Path;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Endorsement, Envelope, Kind, Stance};

#[test]
#[ignore = "writes fuzz/seeds; run with --ignored"]
fn write_fuzz_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let f = Fixture::new(4);
    let p = f.proposal(1, "Seed proposal", 1, Some(T0 + 1000));
    let e = f.endorsement(2, p.id(), Stance::Endorse, 2);
    let commented = Endorsement {
        coalition: f.id(),
        proposal: p.id(),
        trust: f.keys[0].public(),
        created_at_ms: T0 + 3,
        stance: Stance::Object,
        comment: Some("Not as drafted.".into()),
        delegation: None,
    };
    let commented = Envelope::sign(Kind::Endorsement, commented.to_body(), &[&f.keys[0]]);
    // Objects of reserved kinds (PROTOCOL.md 3.4): a comment with a tail,
    // a kind-4 object with none.
    let comment = f.opaque(10, &f.keys[0], 4, b"\x1a\x09A comment");
    let bare = f.opaque(4, &f.keys[1], 5, b"");
    let genesis = f.coalition.genesis_envelope();
    let (cert, _) = f.certificate(3);
    let small = Fixture::new(1);
    let (small_cert, _) = small.certificate(1);
    let sets: [(&str, Vec<&[u8]>); 4] = [
        (
            "envelope",
            vec![
                genesis.bytes(),
                p.bytes(),
                e.bytes(),
                commented.bytes(),
                p.body(),
                e.body(),
                genesis.body(),
                comment.bytes(),
                comment.body(),
            ],
        ),
        ("validate", vec![genesis.bytes(), p.bytes(), e.bytes(), commented.bytes(), comment.bytes(), bare.bytes()]),
        ("genesis", vec![genesis.bytes(), small.coalition.genesis_envelope().bytes()]),
        ("certificate", vec![&cert, &small_cert]),
    ];
    for (target, seeds) in sets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.into_iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), s).unwrap();
        }
    }
}
