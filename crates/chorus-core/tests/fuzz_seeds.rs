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
    // Objects of reserved kinds (PROTOCOL.md 3.4): a ballot with a tail,
    // a kind-4 object with none.
    let ballot = f.opaque(11, &f.keys[0], 4, b"\x1a\x08A ballot");
    let bare = f.opaque(4, &f.keys[1], 5, b"");
    // Deliberation: a draft, a reply, an amendment, an opening and a
    // withdrawal.
    let draft = f.draft(1, "Seed draft", 6, None, None);
    let comment = f.comment(2, draft.id(), "Seed comment", None, 7);
    let reply = f.comment(3, draft.id(), "Seed reply", Some(comment.id()), 8);
    let amendment = chorus_core::Amendment { body: "Seed amended body.".into(), title: Some("Seed title".into()) };
    let key = &f.keys[2];
    let amendment = f.comment_by(key, key.public(), draft.id(), "", None, Some(amendment), 9, None);
    let open = f.open_voting(1, draft.id(), 10);
    let withdrawal = f.withdrawal(1, draft.id(), Some("Seed reason"), 11);
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
                ballot.bytes(),
                ballot.body(),
                comment.body(),
                amendment.body(),
                withdrawal.body(),
            ],
        ),
        (
            "validate",
            vec![
                genesis.bytes(),
                p.bytes(),
                e.bytes(),
                commented.bytes(),
                ballot.bytes(),
                bare.bytes(),
                draft.bytes(),
                comment.bytes(),
                reply.bytes(),
                amendment.bytes(),
                open.bytes(),
                withdrawal.bytes(),
            ],
        ),
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
