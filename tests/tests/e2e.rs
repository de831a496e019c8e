//! Three nodes as separate `chorus node run` processes on loopback: a
//! proposal on A, endorsements from B and C through their own CLIs, every
//! node reports the position, and the exported certificate verifies offline
//! while tampered copies fail with exit 1 and the specific reason.

use chorus_proto::v1 as pb;
use chorus_system_tests::{chorus, found, Nodes};
use prost::Message;

#[test]
fn three_nodes_adopt_a_position_and_the_certificate_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);

    let mut nodes = Nodes::new();
    nodes.start(a, &[]);
    let a_addrs = nodes.wait_listening(a);
    nodes.start(b, &a_addrs);
    nodes.start(c, &a_addrs);
    for d in [a, b, c] {
        nodes.wait_listening(d);
        nodes.wait_peers(d, 1);
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
        nodes.eventually("the proposal reaching every node", || {
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
        nodes.eventually("every node reporting the position", || {
            let r = chorus(d, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&id)).then_some(())
        });
    }
    let show = chorus(a, &["show", prefix]).ok().stdout;
    assert!(show.contains("Elm Trust") && show.contains("Ash Trust") && show.contains("adopted"), "{show}");

    let cert = root.join("position.cert");
    chorus(c, &["certificate", prefix, "-o", cert.to_str().unwrap()]).ok();
    let coalition = chorus(a, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    drop(nodes); // the rest is offline

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
        assert!(j.json()["code"].as_str().is_some_and(|c| !c.is_empty()), "a stable error name: {}", j.stdout);
    };

    // The certificate ends with its seal's signature.
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    check("flipped.cert", &flipped, &[], "seal is invalid: signature by");

    let decoded = pb::Certificate::decode(original.as_slice()).unwrap();
    assert_eq!(decoded.endorsements.len(), 2);
    let mut forged = decoded.clone();
    forged.endorsements[1].signatures[0].signature[0] ^= 0x01;
    check("forged.cert", &forged.encode_to_vec(), &[], "endorsement 1 has a bad signature");

    // A stance removed breaks the seal; with the seal removed as well, the
    // adoption rule is what fails.
    let mut removed = decoded.clone();
    removed.endorsements.pop();
    check("removed.cert", &removed.encode_to_vec(), &[], "a stance was removed after the certificate was sealed");
    removed.seal = None;
    check("removed-unsealed.cert", &removed.encode_to_vec(), &[], "positions rule needs 2 of 3");

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

#[test]
fn the_devnet_demo_runs_end_to_end_and_its_certificate_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("devnet.cert");
    let nowhere = tmp.path().join("no-node");
    let r = chorus(&nowhere, &["devnet", "--nodes", "3", "--exit", "--certificate-out", cert.to_str().unwrap()]).ok();
    assert!(r.stdout.contains("certificate verifies"), "{}", r.stdout);
    chorus(&nowhere, &["verify", cert.to_str().unwrap()]).ok();
    let j = chorus(&nowhere, &["devnet", "--nodes", "2", "--exit", "--json"]).ok().json();
    assert_eq!(j["ok"], true);
}

#[test]
fn sigterm_shuts_down_durably_and_a_restart_serves_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (dirs, _) = found(tmp.path(), &["Solo Trust"]);
    let d = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start(d, &[]);
    nodes.wait_up(d);
    let body = tmp.path().join("b.md");
    std::fs::write(&body, "text").unwrap();
    let id = chorus(d, &["propose", "--title", "Kept", "--body-file", body.to_str().unwrap()]).ok().stdout;
    let exit = nodes.terminate(d); // SIGTERM
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    assert!(!d.join("control.sock").exists(), "the socket is removed on shutdown");

    nodes.start(d, &[]);
    nodes.wait_up(d);
    let r = chorus(d, &["positions", "--json"]).ok();
    assert!(!r.stdout.contains(id.trim()), "a single-member coalition adopts on the author's endorsement only");
    let r = chorus(d, &["proposals", "--json"]).ok();
    assert!(r.stdout.contains(id.trim()), "the proposal survived the restart: {}", r.stdout);
    // Backup round trip through the store's format.
    let backup = tmp.path().join("backup.chorus");
    let e = chorus(d, &["export", backup.to_str().unwrap(), "--json"]).ok().json();
    assert!(e["objects"].as_u64().unwrap() >= 2);
    let i = chorus(d, &["import", backup.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(i["stored"], 0, "everything was already held");
    // A second export to the same file is refused, not overwritten.
    let again = chorus(d, &["export", backup.to_str().unwrap()]);
    assert_eq!(again.code, 1);
}

#[test]
fn user_errors_are_one_line_with_the_right_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("n");
    let r = chorus(&d, &["status"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("chorus init"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1);
    assert_eq!(chorus(&d, &["no-such-command"]).code, 2);
    assert_eq!(chorus(&d, &["endorse"]).code, 2);
    chorus(&d, &["init", "--name", "Oak", "--trust-key-here"]).ok();
    let again = chorus(&d, &["init", "--name", "Oak", "--trust-key-here"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("refusing to overwrite"), "{}", again.stderr);
    // Governance commands check their arguments before asking the node.
    for args in [
        &["revoke", "not-an-id"][..],
        &["member", "admit", "--key", "zz", "--name", "X"],
        &["member", "remove", "zz"],
        &["charter", "amend"],
        &["charter", "amend", "--positions", "3/2"],
        &["delegate", "--key", "zz", "--name", "L", "--role", "R"],
    ] {
        let r = chorus(&d, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
    }
    // clap's own usage errors (several lines, as for every command).
    assert_eq!(chorus(&d, &["endorse", "abc", "--as-leader", "leader.key"]).code, 2);
    let r = chorus(&d, &["roster"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let f = tmp.path().join("random.cert");
    std::fs::write(&f, random).unwrap();
    let r = chorus(&d, &["verify", f.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"));
}
