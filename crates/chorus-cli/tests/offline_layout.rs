//! The layout `chorus init` makes by default: the server's data directory
//! holds the node key and the trust id, the trust key goes encrypted to an
//! offline kit. The key ceremony end to end for one trust of a two-trust
//! coalition: the kit countersigns the genesis, attests the server's node
//! key and delegates it with the node scope; the server joins, runs, syncs
//! and imports the delegation without ever holding the trust key; then a
//! revocation made on the kit (`revoke --out`) and imported on the other
//! member's node makes that node drop the server.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chorus_system_tests::cli::chorus_env;
use chorus_system_tests::{chorus, status, Nodes};

const ARMOR: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// A passphrase file only its owner can read, as the key files require.
fn passphrase_file(root: &Path) -> PathBuf {
    let p = root.join("passphrase");
    fs::write(&p, "correct horse battery staple\n").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn init_writes_the_trust_key_encrypted_into_the_kit_and_not_the_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pass = passphrase_file(root);
    let env = [("CHORUS_PASSPHRASE_FILE", s(&pass))];

    // No passphrase source and no terminal: one line, nothing created.
    let bare = root.join("bare");
    let r = chorus(&bare, &["init", "--name", "Ash Trust"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("CHORUS_PASSPHRASE_FILE") && r.stderr.contains("--trust-key-here"), "{}", r.stderr);
    assert!(!bare.exists(), "nothing is created");

    // The default: the kit inside the data directory, to be moved off.
    let d = root.join("oak");
    let j = chorus_env(&d, &["init", "--name", "Oak Trust", "--json"], &env).ok().json();
    let kit = d.join("offline-trust-key");
    assert_eq!(j["offline_kit"].as_str(), Some(s(&kit)), "{j}");
    assert_eq!(j["trust_key_file"].as_str(), Some(s(&kit.join("trust.key"))), "{j}");
    assert_eq!(j["trust_key_encrypted"], true);
    assert_eq!(j["passphrase_from"], "file");
    let trust = j["trust_key"].as_str().unwrap();
    assert!(!d.join("trust.key").exists(), "no trust key in the data directory");
    assert!(d.join("node.key").exists() && d.join("config.toml").exists());
    assert!(fs::read_to_string(kit.join("trust.key")).unwrap().starts_with(ARMOR));
    assert_eq!(fs::read(kit.join("config.toml")).unwrap(), fs::read(d.join("config.toml")).unwrap());
    let who = chorus(&d, &["whoami", "--json"]).ok().json();
    assert_eq!((who["trust_key"].as_str(), who["node_key"].as_str()), (Some(trust), j["node_key"].as_str()));
    let shown = chorus_env(root, &["key", "show", s(&kit.join("trust.key")), "--json"], &env).ok().json();
    assert_eq!((shown["key"].as_str(), shown["encrypted"].as_bool()), (Some(trust), Some(true)));
    // The kit is a data directory of its own.
    let who = chorus(&kit, &["whoami", "--json"]).ok().json();
    assert_eq!((who["trust_key"].as_str(), who["node_key"].is_null()), (Some(trust), true), "{who}");
    // Signing as the trust on the server says where the key is.
    let r = chorus(&d, &["coalition", "draft", "--name", "C", "-o", s(&root.join("draft"))]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("offline kit"), "{}", r.stderr);
    // Again: refused, nothing changed.
    let before = fs::read(kit.join("trust.key")).unwrap();
    assert_eq!(chorus_env(&d, &["init", "--name", "Oak Trust"], &env).code, 1);
    assert_eq!(fs::read(kit.join("trust.key")).unwrap(), before);

    // A kit elsewhere; and the old layout on request.
    let elm = root.join("elm");
    let elsewhere = root.join("elm-kit");
    chorus_env(&elm, &["init", "--name", "Elm Trust", "--offline-dir", s(&elsewhere)], &env).ok();
    assert!(elsewhere.join("trust.key").exists() && !elm.join("offline-trust-key").exists());
    let demo = root.join("demo");
    let j = chorus(&demo, &["init", "--name", "Demo Trust", "--trust-key-here", "--json"]).ok().json();
    assert_eq!((j["trust_key_encrypted"].as_bool(), j["offline_kit"].is_null()), (Some(false), true));
    assert_eq!(fs::read(demo.join("trust.key")).unwrap().len(), 32);
    assert_eq!(chorus(&root.join("x"), &["init", "--name", "X", "--trust-key-here", "--offline-dir", "k"]).code, 2);
}

#[test]
fn the_key_ceremony_runs_a_node_without_its_trust_key_and_the_kit_revokes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let pass = passphrase_file(root);
    let env = [("CHORUS_PASSPHRASE_FILE", s(&pass))];
    let (oak, elm, kit) = (root.join("oak"), root.join("elm"), root.join("elm-kit"));

    // Oak keeps its key in its data directory; Elm follows the ceremony,
    // its kit already "moved" (a directory outside the server's).
    chorus(&oak, &["init", "--name", "Oak Trust", "--trust-key-here"]).ok();
    let init = chorus_env(&elm, &["init", "--name", "Elm Trust", "--offline-dir", s(&kit), "--json"], &env).ok().json();
    let (elm_trust, elm_node) = (init["trust_key"].as_str().unwrap(), init["node_key"].as_str().unwrap());

    // Founding: Oak drafts, Elm's kit countersigns, Oak finalizes.
    let draft = root.join("draft.chorus");
    let member = format!("Elm Trust={elm_trust}");
    chorus(&oak, &["coalition", "draft", "--name", "Ceremony Coalition", "--member", &member, "-o", s(&draft)]).ok();
    chorus_env(&kit, &["coalition", "sign", s(&draft), "--yes"], &env).ok();
    let genesis = root.join("genesis.chorus");
    chorus(&oak, &["coalition", "finalize", s(&draft), "-o", s(&genesis)]).ok();
    chorus(&oak, &["coalition", "join", s(&genesis)]).ok();
    chorus(&kit, &["coalition", "join", s(&genesis)]).ok();
    // The server joins with its trust id alone.
    let joined = chorus(&elm, &["coalition", "join", s(&genesis), "--json"]).ok().json();
    assert_eq!(joined["member"], true, "{joined}");

    // The kit attests the server's node key and delegates it (node scope).
    let (attestation, delegation) = (root.join("elm.attestation"), root.join("elm-node.delegation"));
    let attest = [
        "node",
        "attest",
        "--node-key",
        elm_node,
        "--valid-days",
        "30",
        "--out",
        s(&attestation),
        "--delegation-out",
        s(&delegation),
        "--json",
    ];
    let attested = chorus_env(&kit, &attest, &env).ok().json();
    let delegation_id = attested["delegation"].as_str().unwrap().to_string();
    assert_eq!(attested["delegation_file"].as_str(), Some(s(&delegation)));
    let human = chorus_env(
        &kit,
        &[
            "node",
            "attest",
            "--node-key",
            elm_node,
            "--out",
            s(&root.join("a2")),
            "--delegation-out",
            s(&root.join("d2")),
        ],
        &env,
    )
    .ok();
    assert!(human.stdout.contains("delegation ") && human.stdout.contains("chorus revoke"), "{}", human.stdout);
    fs::copy(&attestation, elm.join("node.attestation")).unwrap();

    // The server runs, says hello and syncs without the trust key.
    let mut nodes = Nodes::new();
    nodes.start(&oak, &[]);
    let oak_addrs = nodes.wait_listening(&oak);
    nodes.start(&elm, &oak_addrs);
    nodes.wait_peers(&elm, 1);
    nodes.wait_peers(&oak, 1);
    assert!(!elm.join("trust.key").exists());
    let body = root.join("body.md");
    fs::write(&body, "Made on Oak's node.\n").unwrap();
    let id = chorus(&oak, &["propose", "--title", "Synced", "--body-file", s(&body)]).ok().stdout.trim().to_string();
    nodes.eventually("the proposal reaching the node without its trust key", || {
        let r = chorus(&elm, &["proposals", "--json"]);
        (r.code == 0 && r.stdout.contains(&id)).then_some(())
    });

    // The delegation, imported on the server, reaches Oak.
    let imported = chorus(&elm, &["import", s(&delegation), "--json"]).ok().json();
    assert_eq!(imported["id"].as_str(), Some(delegation_id.as_str()), "{imported}");
    let elm_objects = status(&elm).unwrap()["objects"].as_u64().unwrap();
    nodes
        .eventually("the node delegation at Oak", || (status(&oak)?["objects"].as_u64()? >= elm_objects).then_some(()));

    // The server is compromised: the kit revokes its node key, with no
    // node of its own; the revocation is imported on Oak's node.
    let revocation = root.join("revoke.chorus");
    let written = chorus_env(&kit, &["revoke", &delegation_id, "--out", s(&revocation), "--json"], &env).ok().json();
    assert_eq!(written["kind"], "revocation", "{written}");
    chorus(&oak, &["import", s(&revocation)]).ok();
    nodes.eventually("Oak dropping the revoked node", || (status(&oak)?["peers"].as_u64()? == 0).then_some(()));
    let log = fs::read_to_string(root.join("oak.log")).unwrap();
    assert!(log.contains(&format!("node key {elm_node} of trust {elm_trust} is revoked")), "{log}");
    let peers = chorus(&oak, &["peers", "--json"]).ok().stdout;
    assert!(!peers.contains(elm_node), "{peers}");

    // The rebuilt server: a new node key for the same trust, attested and
    // delegated from the kit, is accepted again.
    nodes.terminate(&elm);
    let rebuilt = root.join("elm-rebuilt");
    let init = chorus(&rebuilt, &["init", "--name", "Elm Trust", "--trust-id", elm_trust, "--json"]).ok().json();
    assert_eq!(init["trust_key"].as_str(), Some(elm_trust));
    let new_node = init["node_key"].as_str().unwrap();
    assert!(!rebuilt.join("trust.key").exists());
    let (attestation, delegation) = (root.join("rebuilt.attestation"), root.join("rebuilt.delegation"));
    let attest =
        ["node", "attest", "--node-key", new_node, "--out", s(&attestation), "--delegation-out", s(&delegation)];
    chorus_env(&kit, &attest, &env).ok();
    chorus(&rebuilt, &["coalition", "join", s(&genesis)]).ok();
    fs::copy(&attestation, rebuilt.join("node.attestation")).unwrap();
    nodes.start(&rebuilt, &oak_addrs);
    nodes.wait_peers(&rebuilt, 1);
    nodes.wait_peers(&oak, 1);
    chorus(&rebuilt, &["import", s(&delegation)]).ok();
}

#[test]
fn delegate_and_revoke_write_files_without_a_node() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = chorus_system_tests::found(root, &["Oak Trust", "Elm Trust"]);
    let leader = chorus(&dirs[0], &["leader-key", s(&root.join("leader.key")), "--unencrypted"]).ok().stdout;
    let leader = leader.trim();
    // No node runs: --out needs none; without --out the node is asked.
    let d = root.join("d.chorus");
    let args = ["delegate", "--key", leader, "--name", "Head", "--role", "CEO", "--out", s(&d), "--json"];
    let written = chorus(&dirs[0], &args).ok().json();
    assert_eq!(written["kind"], "delegation", "{written}");
    let id = written["id"].as_str().unwrap();
    assert!(d.exists());
    assert_eq!(chorus(&dirs[0], &args).code, 1, "an existing file is not overwritten");
    let r = root.join("r.chorus");
    let revoked = chorus(&dirs[0], &["revoke", id, "--out", s(&r), "--genesis", s(&genesis), "--json"]).ok().json();
    assert_eq!(revoked["kind"], "revocation", "{revoked}");
    assert_eq!(chorus(&dirs[0], &["revoke", id, "--genesis", s(&genesis)]).code, 2, "--genesis goes with --out");
    assert_ne!(chorus(&dirs[0], &["revoke", id]).code, 0, "without --out it needs the node");
    // Both import on a member node.
    let mut nodes = Nodes::new();
    nodes.start(&dirs[1], &[]);
    nodes.wait_up(&dirs[1]);
    assert!(chorus(&dirs[1], &["import", s(&d)]).ok().stdout.contains("stored"));
    assert!(chorus(&dirs[1], &["import", s(&r)]).ok().stdout.contains("stored"));
}
