//! The trust key kept off the server: `chorus node attest`, run on a copy
//! of the data directory that holds the trust key, signs an attestation for
//! the server's node key; installed as `node.attestation`, the server runs,
//! joins and syncs with no `trust.key`. An expired attestation, or one for
//! another node key, stops the node at start with a message saying how to
//! renew it; one that expires within 14 days is warned about.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chorus_node::network::NodeAttestation;
use chorus_system_tests::{chorus, copy_files, found, Nodes};

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Starts the node of `dir`, waits for it to exit and returns its log.
fn refused_start(nodes: &mut Nodes, dir: &Path) -> String {
    nodes.start(dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = nodes.node(dir).process().exited() {
            break s;
        }
        assert!(Instant::now() < deadline, "the node did not refuse to start");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    nodes.remove(dir);
    let log = dir.with_file_name(format!("{}.log", dir.file_name().unwrap().to_str().unwrap()));
    fs::read_to_string(log).unwrap()
}

fn attest(offline: &Path, node_key: &str, out: &Path) -> chorus_system_tests::Run {
    chorus(offline, &["node", "attest", "--node-key", node_key, "--valid-days", "7", "--out", out.to_str().unwrap()])
}

#[test]
fn a_node_runs_joins_and_syncs_with_its_trust_key_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _) = found(root, &["Oak Trust", "Elm Trust"]);
    let (oak, elm) = (&dirs[0], &dirs[1]);
    let who = chorus(elm, &["whoami", "--json"]).ok().json();
    let (trust, node_key) = (who["trust_key"].as_str().unwrap(), who["node_key"].as_str().unwrap());
    let oak_node_key = chorus(oak, &["whoami", "--json"]).ok().json()["node_key"].as_str().unwrap().to_string();

    // The offline machine holds a copy; the server keeps its trust id only.
    let offline: PathBuf = root.join("elm-offline");
    copy_files(elm, &offline);
    fs::write(elm.join("trust.id"), format!("{trust}\n")).unwrap();
    fs::remove_file(elm.join("trust.key")).unwrap();
    let installed = elm.join("node.attestation");
    let mut nodes = Nodes::new();

    // One for another node's key is refused at start.
    attest(&offline, &oak_node_key, &installed).ok();
    let log = refused_start(&mut nodes, elm);
    assert!(log.contains("node.attestation") && log.contains("but this node's key is"), "{log}");
    assert!(log.contains("chorus node attest"), "{log}");
    fs::remove_file(&installed).unwrap();

    // So is an expired one (signed here: the command only issues valid ones).
    let trust_key = chorus_node::datadir::read_secret(&offline.join("trust.key")).unwrap();
    let coalition = chorus_node::founding::load_final(&offline.join("genesis.chorus")).unwrap();
    let now = chorus_node::daemon::now_ms();
    let expired = NodeAttestation::issue_for(
        &trust_key,
        trust_key.public(),
        coalition.id(),
        chorus_node::founding::parse_key(node_key).unwrap(),
        now - 10 * DAY_MS,
        Some(now - DAY_MS),
    );
    fs::write(&installed, expired.to_bytes()).unwrap();
    let log = refused_start(&mut nodes, elm);
    assert!(log.contains("node.attestation: it expired at"), "{log}");
    assert!(log.contains("chorus node attest"), "{log}");
    fs::remove_file(&installed).unwrap();

    // A valid one: written once, never overwritten.
    let file = root.join("elm.attestation");
    let signed = attest(&offline, node_key, &file).ok();
    assert!(signed.stdout.contains(node_key) && signed.stdout.contains(trust), "{}", signed.stdout);
    let again = attest(&offline, node_key, &file);
    assert_eq!(again.code, 1, "an existing file is not overwritten: {}", again.stderr);
    let json = chorus(
        &offline,
        &["node", "attest", "--node-key", node_key, "--out", root.join("j").to_str().unwrap(), "--json"],
    )
    .ok()
    .json();
    assert_eq!(json["node_key"], node_key);
    assert_eq!(json["coalition"], coalition.id().to_hex());
    let days = (json["expires_at_ms"].as_u64().unwrap() - now) / DAY_MS;
    assert!((89..=90).contains(&days), "90 days by default, got {days}");
    assert_eq!(
        chorus(&offline, &["node", "attest", "--node-key", node_key, "--valid-days", "401", "--out", "x"]).code,
        2
    );
    fs::copy(&file, &installed).unwrap();

    nodes.start(oak, &[]);
    let oak_addrs = nodes.wait_listening(oak);
    nodes.start(elm, &oak_addrs);
    nodes.wait_peers(elm, 1);
    nodes.wait_peers(oak, 1);
    assert!(!elm.join("trust.key").exists());
    let log = fs::read_to_string(root.join("node-1.log")).unwrap();
    assert!(log.contains("the node attestation expires soon"), "warned 14 days ahead: {log}");

    let body = root.join("body.md");
    fs::write(&body, "Made on Oak's node.\n").unwrap();
    let id = chorus(oak, &["propose", "--title", "Synced", "--body-file", body.to_str().unwrap()]).ok().stdout;
    let id = id.trim().to_string();
    nodes.eventually("the proposal reaching the node without its trust key", || {
        let r = chorus(elm, &["proposals", "--json"]);
        (r.code == 0 && r.stdout.contains(&id)).then_some(())
    });
    let status = chorus(elm, &["status", "--json"]).ok().json();
    assert_eq!((status["trust_key"].as_str(), status["member"].as_bool()), (Some(trust), Some(true)), "{status}");
}
