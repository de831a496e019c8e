//! Governance end to end, with real `chorus node run` processes on loopback:
//! a fourth trust, initialised with `chorus init` and not a founder, is
//! admitted by a membership proposal, joins the network, and its
//! endorsement counts; a founder delegates to a leader, the leader's stance
//! counts until the delegation is revoked, and a stance under the revoked
//! delegation does not count (the leader's key encrypted, as `chorus
//! leader-key` writes it, its passphrase from a file); every node shows the
//! same roster version; the certificates (with their proof chains) verify
//! offline.

use std::os::unix::fs::PermissionsExt;

use chorus_node::control::{Client, Request};
use chorus_node::datadir::DataDir;
use chorus_system_tests::cli::chorus_env;
use chorus_system_tests::{chorus, found, Nodes};
use serde_json::Value;

fn propose(dir: &std::path::Path, root: &std::path::Path, title: &str) -> String {
    let body = root.join(format!("{title}.md"));
    std::fs::write(&body, format!("{title}.\n")).unwrap();
    let id = chorus(dir, &["propose", "--title", title, "--body-file", body.to_str().unwrap()]).ok().stdout;
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "propose prints the id: {id}");
    id
}

fn wait_for_proposal(nodes: &mut Nodes, dir: &std::path::Path, id: &str) {
    nodes.eventually("the proposal reaching the node", || {
        let r = chorus(dir, &["proposals", "--json"]);
        (r.code == 0 && r.stdout.contains(id)).then_some(())
    });
}

fn detail(dir: &std::path::Path, id: &str) -> Value {
    chorus(dir, &["show", id, "--json"]).ok().json()
}

/// Names of the trusts whose effective stance on `id` is endorse, as `dir`'s node counts them.
fn endorsers(dir: &std::path::Path, id: &str) -> Vec<String> {
    let d = detail(dir, id);
    let mut names: Vec<String> = d["stances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stance"] == "endorse")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn an_admitted_trust_and_a_delegated_leader_take_part_and_a_revoked_one_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);
    let mut nodes = Nodes::new();
    // Each node bootstraps from every node started before it, so the full
    // mesh does not wait on discovery (slow on a loaded 2-core machine);
    // each has both others as member peers before the test goes on.
    let a_addrs = nodes.start_mesh(&dirs);

    // A fourth trust: `chorus init`, then the genesis; not a founder.
    let d = &root.join("node-3");
    chorus(d, &["init", "--name", "Birch Trust", "--trust-key-here"]).ok();
    let joined = chorus(d, &["coalition", "join", genesis.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(joined["member"], false);
    let d_key = chorus(d, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string();

    // Its admission: proposed by Oak, endorsed by every founder.
    let admit = chorus(a, &["member", "admit", "--key", &d_key, "--name", "Birch Trust", "--external-id", "BT-4"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(admit.len(), 64, "member admit prints the proposal id: {admit}");
    for x in [b, c] {
        wait_for_proposal(&mut nodes, x, &admit);
    }
    for x in [a, b, c] {
        chorus(x, &["endorse", &admit, "--yes"]).ok();
    }
    for x in [a, b, c] {
        nodes.eventually("the admission adopted everywhere", || {
            let r = chorus(x, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&admit)).then_some(())
        });
    }
    let roster = chorus(a, &["roster", "--json"]).ok().json();
    assert_eq!(roster["members"].as_array().unwrap().len(), 4, "{roster}");
    assert_eq!(roster["heads"][0], admit.as_str());

    // Birch's node joins through Oak's and learns its admission by sync.
    nodes.start(d, &a_addrs);
    nodes.wait_listening(d);
    nodes.eventually("Birch's node knowing it is a member, with peers", || {
        let r = chorus(d, &["status", "--json"]);
        let j = r.json();
        (r.code == 0 && j["member"] == true && j["peers"].as_u64()? >= 1).then_some(())
    });

    // An ordinary proposal under the new roster; Birch's endorsement counts.
    let p1 = propose(a, root, "Fair funding");
    wait_for_proposal(&mut nodes, d, &p1);
    chorus(d, &["endorse", &p1, "--yes"]).ok();
    nodes.eventually("Birch's endorsement counted at Oak", || (endorsers(a, &p1) == ["Birch Trust"]).then_some(()));
    chorus(a, &["endorse", &p1, "--yes"]).ok();
    chorus(c, &["endorse", &p1, "--yes"]).ok();
    for x in [a, b, c, d] {
        nodes.eventually("the position everywhere", || {
            let r = chorus(x, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&p1)).then_some(())
        });
    }
    let tally = &detail(b, &p1)["tally"];
    assert_eq!(tally["members"], 4, "{tally}");

    // Elm delegates its stances to a leader.
    // The leader's key is encrypted (the default), its passphrase in a file.
    let passphrase = root.join("leader.passphrase");
    std::fs::write(&passphrase, "Dr Rowan's passphrase\n").unwrap();
    std::fs::set_permissions(&passphrase, std::fs::Permissions::from_mode(0o600)).unwrap();
    let as_leader = |args: &[&str]| chorus_env(b, args, &[("CHORUS_PASSPHRASE_FILE", &passphrase)]);
    let leader_key = root.join("leader.key");
    let lk = as_leader(&["leader-key", leader_key.to_str().unwrap()]).ok().stdout.trim().to_string();
    assert!(std::fs::read(&leader_key).unwrap().starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
    let delegation = chorus(b, &["delegate", "--key", &lk, "--name", "Dr Rowan", "--role", "Chief executive"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(delegation.len(), 64, "delegate prints the delegation id: {delegation}");
    let leader = ["--as-leader", leader_key.to_str().unwrap(), "--delegation", delegation.as_str()];

    let p2 = propose(a, root, "Teacher pay");
    wait_for_proposal(&mut nodes, b, &p2);
    let mut args = vec!["endorse", p2.as_str(), "--yes", "--json"];
    args.extend(leader);
    let counted = as_leader(&args).ok().json();
    assert_eq!(counted["counted"], true, "the leader's stance counts at once: {counted}");
    nodes.eventually("the leader's stance counted for Elm at Oak", || {
        (endorsers(a, &p2) == ["Elm Trust"]).then_some(())
    });
    chorus(d, &["endorse", &p2, "--yes"]).ok();
    chorus(c, &["endorse", &p2, "--yes"]).ok();
    for x in [a, b, c, d] {
        nodes.eventually("the second position everywhere", || {
            let r = chorus(x, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&p2)).then_some(())
        });
    }
    // Its certificate is taken before the revocation (which withdraws the
    // leader's stance: nothing is kept).
    let cert2 = root.join("p2.cert");
    chorus(a, &["certificate", &p2, "-o", cert2.to_str().unwrap()]).ok();

    chorus(b, &["revoke", &delegation]).ok();
    nodes.eventually("the revoked leader's stance no longer counted at Oak", || {
        (endorsers(a, &p2) == ["Ash Trust", "Birch Trust"]).then_some(())
    });
    let p3 = propose(a, root, "School meals");
    wait_for_proposal(&mut nodes, b, &p3);
    // Elm's node holds the leader's stance but does not count it, and
    // endorse says so (exit 1, code not_counted).
    let mut args = vec!["endorse", p3.as_str(), "--yes", "--json"];
    args.extend(leader);
    let revoked = as_leader(&args);
    assert_eq!(revoked.code, 1, "{}\n{}", revoked.stdout, revoked.stderr);
    assert_eq!(revoked.json()["code"], "not_counted", "{}", revoked.stdout);
    chorus(d, &["endorse", &p3, "--yes"]).ok();
    nodes.eventually("Birch's stance on the third proposal at Oak", || {
        (endorsers(a, &p3) == ["Birch Trust"]).then_some(())
    });
    // The leader's later stance does not count anywhere.
    for x in [a, c, d] {
        nodes.eventually("the same count everywhere", || (endorsers(x, &p3) == ["Birch Trust"]).then_some(()));
    }

    // Birch rotates its key: the old key signs the rotation, keeping what it
    // signed; the node restarts and speaks for the same trust with the new key.
    let rotated = chorus(d, &["rotate-key", "--json"]).ok().json();
    assert_eq!(rotated["trust"], d_key.as_str());
    assert!(std::path::Path::new(rotated["backup"].as_str().unwrap()).exists());
    assert_eq!(chorus(d, &["whoami", "--json"]).ok().json()["trust_key"], d_key.as_str());
    let rotation = rotated["rotation"].as_str().unwrap().to_string();
    nodes.eventually("the rotation reaching Oak", || {
        let r = chorus(a, &["status", "--json"]);
        (r.code == 0 && endorsers(a, &p1).contains(&"Birch Trust".to_string())).then_some(())
    });
    nodes.kill(d);
    nodes.start(d, &a_addrs);
    nodes.wait_listening(d);
    nodes.eventually("Birch's restarted node accepted by a peer", || {
        let r = chorus(d, &["status", "--json"]);
        (r.code == 0 && r.json()["peers"].as_u64()? >= 1).then_some(())
    });
    let p4 = propose(a, root, "Rotation check");
    wait_for_proposal(&mut nodes, d, &p4);
    chorus(d, &["endorse", &p4, "--yes"]).ok();
    nodes.eventually("Birch's stance signed with the new key counted at Oak", || {
        (endorsers(a, &p4) == ["Birch Trust"]).then_some(())
    });
    // Its stances signed with the old key were kept.
    assert!(endorsers(a, &p1).contains(&"Birch Trust".to_string()), "rotation {rotation}");

    // One roster version everywhere.
    let version = roster["version"].as_str().unwrap().to_string();
    for x in [a, b, c, d] {
        let r = chorus(x, &["roster", "--json"]).ok().json();
        assert_eq!(r["version"], version.as_str());
    }

    // Honest nodes never take each other for a split view (PROTOCOL.md 13),
    // through admissions, delegations, a revocation and a key rotation:
    // a few more sync rounds (one a second), then no report in any status
    // or log.
    std::thread::sleep(std::time::Duration::from_secs(3));
    for x in [a, b, c, d] {
        let status = chorus(x, &["status", "--json"]).ok().json();
        assert_eq!(status["split_views"], serde_json::json!([]), "{status}");
        let log =
            std::fs::read_to_string(x.with_file_name(format!("{}.log", x.file_name().unwrap().to_str().unwrap())))
                .unwrap_or_default();
        assert!(!log.contains("split view"), "{}", nodes.log_tails());
    }

    let cert1 = root.join("p1.cert");
    chorus(d, &["certificate", &p1, "-o", cert1.to_str().unwrap()]).ok();
    let admit_cert = root.join("admit.cert");
    chorus(c, &["certificate", &admit, "-o", admit_cert.to_str().unwrap()]).ok();
    let coalition = chorus(a, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    drop(nodes); // the rest is offline

    let nowhere = root.join("no-node");
    for (cert, title) in [(&cert1, "Fair funding"), (&admit_cert, "Admit Birch Trust"), (&cert2, "Teacher pay")] {
        let ok = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--coalition", &coalition]).ok();
        assert!(ok.stdout.contains("VALID") && ok.stdout.contains(title), "{}", ok.stdout);
    }
    let j = chorus(&nowhere, &["verify", cert1.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(j["valid"], true);
    assert_eq!((j["decision"].as_str(), j["rule"]["kind"].as_str()), (Some("position"), Some("positions")));
    let names: Vec<&str> = j["endorsers"].as_array().unwrap().iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(names.contains(&"Birch Trust"), "{names:?}");
    // The admission is proven as an admission, under the membership rule.
    let j = chorus(&nowhere, &["verify", admit_cert.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((j["decision"].as_str(), j["rule"]["kind"].as_str()), (Some("admission"), Some("membership")));
    let human = chorus(&nowhere, &["verify", admit_cert.to_str().unwrap()]).ok().stdout;
    assert!(human.contains("admitted \"Birch Trust\"") && human.contains("membership"), "{human}");
    // Kept as test data of real certificates when asked (see
    // crates/chorus-core/tests/data/real/README.md).
    if let Some(dir) = std::env::var_os("CHORUS_KEEP_CERTIFICATES") {
        let dir = std::path::Path::new(&dir);
        for (cert, name) in [
            (&cert1, "governance-position"),
            (&admit_cert, "governance-admission"),
            (&cert2, "governance-revoked-later"),
        ] {
            std::fs::copy(cert, dir.join(format!("{name}.cert"))).unwrap();
        }
        std::fs::write(dir.join("governance.coalition"), &coalition).unwrap();
    }
}

/// Ash loses its trust key: Oak proposes a replacement key that Ash made
/// with `chorus keygen`, Oak, Elm and Birch adopt it (more than two thirds,
/// the default membership rule, without Ash), Ash installs it (refused
/// before the adoption) and restarts; its endorsement with the new key
/// counts on every node, and a stance its old key signs afterwards does not.
#[test]
fn a_lost_trust_key_is_replaced_by_a_membership_proposal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &["Oak Trust", "Elm Trust", "Birch Trust", "Ash Trust"]);
    let (a, b, d, c) = (&dirs[0], &dirs[1], &dirs[2], &dirs[3]);
    let mut nodes = Nodes::new();
    let a_addrs = nodes.start_mesh(&dirs);
    let c_key = chorus(c, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string();

    // Usage errors exit 2 in one line, before any node is asked.
    let nowhere = root.join("no-node");
    for args in [
        vec!["member", "replace-key", "not-a-key", "--key", c_key.as_str()],
        vec!["member", "replace-key", c_key.as_str(), "--key", "abc"],
    ] {
        let r = chorus(&nowhere, &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    }

    // Ash's new key, made offline.
    let new_file = root.join("ash-new.key");
    let new_key = chorus(c, &["keygen", new_file.to_str().unwrap()]).ok().stdout.trim().to_string();
    assert_eq!(new_key.len(), 64, "{new_key}");
    let old_seed = std::fs::read(c.join("trust.key")).unwrap();

    // Installing it before the coalition adopts it is refused.
    let early = chorus(c, &["trust-key", "install", new_file.to_str().unwrap()]);
    assert_eq!(early.code, 1, "{}", early.stderr);
    assert!(early.stderr.contains("replace-key"), "{}", early.stderr);
    assert_eq!(std::fs::read(c.join("trust.key")).unwrap(), old_seed);

    // Any member proposes the replacement; the three others adopt it.
    let proposed = chorus(a, &["member", "replace-key", &c_key, "--key", &new_key, "--json"]).ok().json();
    let rk = proposed["id"].as_str().unwrap().to_string();
    for x in [b, d] {
        wait_for_proposal(&mut nodes, x, &rk);
    }
    assert_eq!(detail(b, &rk)["title"], "Replace the key of Ash Trust");
    for x in [a, b, d] {
        chorus(x, &["endorse", &rk, "--yes"]).ok();
    }
    for x in [a, b, c, d] {
        nodes.eventually("the replacement adopted everywhere", || {
            let r = chorus(x, &["positions", "--json"]);
            (r.code == 0 && r.stdout.contains(&rk)).then_some(())
        });
    }
    let roster = chorus(c, &["roster", "--json"]).ok().json();
    let ash = roster["members"].as_array().unwrap().iter().find(|m| m["key"] == c_key.as_str()).unwrap().clone();
    assert_eq!(ash["root_key"], new_key.as_str(), "{roster}");

    // Ash installs it: same trust id, the old key kept as a backup.
    let installed = chorus(c, &["trust-key", "install", new_file.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(installed["installed"], true);
    let backup = std::path::PathBuf::from(installed["backup"].as_str().unwrap());
    assert_eq!(std::fs::read(&backup).unwrap(), old_seed);
    assert_eq!(std::fs::read(c.join("trust.key")).unwrap(), std::fs::read(&new_file).unwrap());
    assert_eq!(chorus(c, &["whoami", "--json"]).ok().json()["trust_key"], c_key.as_str());
    let again = chorus(c, &["trust-key", "install", new_file.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(again["installed"], false);

    nodes.kill(c);
    nodes.start(c, &a_addrs);
    nodes.wait_listening(c);
    nodes.eventually("Ash's restarted node accepted by a peer", || {
        let r = chorus(c, &["status", "--json"]);
        (r.code == 0 && r.json()["peers"].as_u64()? >= 1).then_some(())
    });

    // The new key's endorsement counts on every node.
    let p1 = propose(a, root, "After the replacement");
    wait_for_proposal(&mut nodes, c, &p1);
    let counted = chorus(c, &["endorse", &p1, "--yes", "--json"]).ok().json();
    assert_eq!(counted["counted"], true, "the new key's stance counts at once: {counted}");
    for x in [a, b, c, d] {
        nodes.eventually("Ash's new-key stance counted", || (endorsers(x, &p1) == ["Ash Trust"]).then_some(()));
    }

    // A stance the old key signs now does not count: once each node holds
    // it, none counts it.
    let p2 = propose(a, root, "Old key check");
    wait_for_proposal(&mut nodes, c, &p2);
    std::fs::write(c.join("trust.key"), &old_seed).unwrap();
    let old = chorus(c, &["endorse", &p2, "--yes", "--json"]);
    std::fs::write(c.join("trust.key"), std::fs::read(&new_file).unwrap()).unwrap();
    // Ash's node stores it but does not count it, and endorse says so
    // (exit 1, code not_counted), naming the stance.
    assert_eq!(old.code, 1, "{}\n{}", old.stdout, old.stderr);
    let error = old.json();
    assert_eq!(error["code"], "not_counted", "{}", old.stdout);
    let old_stance: chorus_core::ObjectId = error["error"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no stance id in {}", old.stdout));
    let seed: [u8; 32] = old_seed.as_slice().try_into().unwrap();
    let old_key = chorus_core::Keypair::from_seed(&seed).public().to_hex();
    for x in [a, b, c, d] {
        let client = Client::new(DataDir::new(x.clone()).socket_path());
        nodes.eventually("the old-key stance held", || {
            let held: Vec<chorus_core::ObjectId> = client.call(&Request::SignedBy { key: old_key.clone() }).ok()?;
            held.contains(&old_stance).then_some(())
        });
        assert!(endorsers(x, &p2).is_empty(), "{}", detail(x, &p2));
    }
}
