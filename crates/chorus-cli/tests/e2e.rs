//! Three nodes as separate `chorus node run` processes on loopback: a
//! proposal on A, endorsements from B and C through their own CLIs, every
//! node reports the position, and the exported certificate verifies offline
//! while tampered copies fail with exit 1 and the specific reason.

mod common;

use chorus_proto::v1 as pb;
use common::*;
use prost::Message;

#[test]
fn three_nodes_adopt_a_position_and_the_certificate_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);

    let mut procs = Procs::default();
    start_node(&mut procs, a, &[]);
    let a_addrs = wait_listening(a);
    start_node(&mut procs, b, &a_addrs);
    start_node(&mut procs, c, &a_addrs);
    for d in [a, b, c] {
        wait_listening(d);
        eventually("a member peer", || {
            let r = chorus(d, &["status", "--json"]);
            (r.code == 0 && r.json()["peers"].as_u64()? >= 1).then_some(())
        });
    }

    let body = root.join("body.md");
    std::fs::write(&body, "We call for fair funding.\n\nSigned, the coalition.\n").unwrap();
    let id = chorus(a, &["propose", "--title", "Fair funding", "--body-file", body.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64, "propose prints the id: {id}");
    let prefix = &id[..10];

    for d in [b, c] {
        eventually("the proposal reaching every node", || {
            let r = chorus(d, &["proposals", "--json"]);
            (r.code == 0 && r.stdout.contains(&id)).then_some(())
        });
    }
    // Without --yes and without a terminal, nothing is signed.
    let r = chorus(b, &["endorse", prefix]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(r.stderr.contains("Fair funding"), "the title is shown before signing: {}", r.stderr);

    chorus(b, &["endorse", prefix, "--yes", "--comment", "Elm agrees"]).ok();
    chorus(c, &["endorse", prefix, "--yes"]).ok();

    for d in [a, b, c] {
        eventually("every node reporting the position", || {
            let r = chorus(d, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&id)).then_some(())
        });
    }
    let show = chorus(a, &["show", prefix]).ok().stdout;
    assert!(show.contains("Elm Trust") && show.contains("Ash Trust") && show.contains("adopted"), "{show}");

    let cert = root.join("position.cert");
    chorus(c, &["certificate", prefix, "-o", cert.to_str().unwrap()]).ok();
    let coalition = chorus(a, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    drop(procs); // the rest is offline

    let nowhere = root.join("no-node");
    let ok = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--coalition", &coalition]).ok();
    assert!(ok.stdout.contains("VALID") && ok.stdout.contains("Fair funding"), "{}", ok.stdout);
    let j = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(j["valid"], true);

    let original = std::fs::read(&cert).unwrap();
    let check = |name: &str, bytes: &[u8], extra: &[&str], expect: &str| {
        let p = root.join(name);
        std::fs::write(&p, bytes).unwrap();
        let mut args = vec!["verify", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = chorus(&nowhere, &args);
        assert_eq!(r.code, 1, "{name} must be invalid: {} {}", r.stdout, r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{name}: expected {expect:?} in {:?}", r.stderr);
        let j = chorus(&nowhere, &[&args[..], &["--json"]].concat());
        assert_eq!(j.code, 1);
        assert_eq!(j.json()["valid"], false);
    };

    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    check("flipped.cert", &flipped, &[], "bad signature");

    let decoded = pb::Certificate::decode(original.as_slice()).unwrap();
    assert_eq!(decoded.endorsements.len(), 2);
    let mut removed = decoded.clone();
    removed.endorsements.pop();
    check("removed.cert", &removed.encode_to_vec(), &[], "adoption needs 2 of 3");

    let mut duplicated = decoded.clone();
    let first = duplicated.endorsements[0].clone();
    duplicated.endorsements.insert(1, first);
    check("duplicated.cert", &duplicated.encode_to_vec(), &[], "second time");

    let other = "ab".repeat(32);
    check("other-coalition.cert", &original, &["--coalition", &other], "not the expected");

    check("empty.cert", b"", &[], "empty");
    check("truncated.cert", &original[..original.len() / 2], &[], "certificate");
    let r = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--coalition", "xyz"]);
    assert_eq!(r.code, 2, "a malformed coalition id is a usage error");
}
