//! Observers against real `chorus node run` member processes on loopback
//! (PROTOCOL.md 14.9): a read-only follower receives new objects by gossip
//! and the back catalogue by sync as far as the coalition's charter allows
//! (everything, or positions only), is never counted or listed as a
//! member, cannot get anything stored on member nodes, and is refused by a
//! coalition whose charter admits no observers.

#[path = "support/spec_peer.rs"]
mod spec_peer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chorus_node::control::{Client, Request};
use chorus_node::datadir::DataDir;
use chorus_system_tests::{chorus, found_with, Nodes};
use serde_json::Value;

fn propose(dir: &Path, title: &str) -> String {
    let body = dir.with_file_name(format!("{title}.md"));
    std::fs::write(&body, format!("{title}.\n")).unwrap();
    let id = chorus(dir, &["propose", "--title", title, "--body-file", body.to_str().unwrap()]).ok().stdout;
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "propose prints the id: {id}");
    id
}

/// A proposal signed by `dir`'s trust and written to a file, not submitted
/// (`propose --out`); its id and the file.
fn signed_not_submitted(dir: &Path, title: &str) -> (String, PathBuf) {
    let body = dir.with_file_name(format!("{title}.md"));
    std::fs::write(&body, format!("{title}.\n")).unwrap();
    let out = dir.with_file_name(format!("{title}.object"));
    let r = chorus(
        dir,
        &["propose", "--title", title, "--body-file", body.to_str().unwrap(), "--out", out.to_str().unwrap()],
    )
    .ok();
    let id = r.stdout.split_whitespace().find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()));
    let id = id.unwrap_or_else(|| panic!("propose --out names the id: {}", r.stdout)).to_string();
    (id, out)
}

/// Submits an envelope to the node of `dir` over its control socket, as
/// `chorus endorse` and the others do (ingest, then publish): its answer,
/// or why it refused.
fn submit(dir: &Path, envelope: &[u8]) -> Result<Value, String> {
    let client = Client::new(DataDir::new(dir.to_path_buf()).socket_path());
    client.call_value(&Request::Submit { envelope: spec_peer::hex(envelope) }).map_err(|e| e.to_string())
}

/// Whether the node of `dir` holds the object `id` (`chorus show`).
fn holds(dir: &Path, id: &str) -> bool {
    chorus(dir, &["show", id, "--json"]).code == 0
}

fn listed(dir: &Path, list: &str, id: &str) -> bool {
    let r = chorus(dir, &[list, "--json"]);
    r.code == 0 && r.stdout.contains(id)
}

fn tally(dir: &Path, id: &str) -> Value {
    chorus(dir, &["show", id, "--json"]).ok().json()["tally"].clone()
}

fn log_of(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_str().unwrap();
    std::fs::read_to_string(dir.with_file_name(format!("{name}.log"))).unwrap_or_default()
}

/// Members' views of their peers: the peer ids listed with a member trust.
fn member_peer_ids(dir: &Path) -> Vec<String> {
    let peers = chorus(dir, &["peers", "--json"]).ok().json();
    let list = peers.as_array().cloned().or_else(|| peers["peers"].as_array().cloned()).unwrap_or_default();
    list.iter()
        .filter(|p| p["trust"].as_str().is_some())
        .filter_map(|p| p["peer_id"].as_str().map(String::from))
        .collect()
}

fn coalition_id(dir: &Path) -> [u8; 32] {
    let hex = chorus(dir, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    let mut id = [0u8; 32];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    id
}

/// Charter `everything`: the observer (`chorus observe`) gets the back
/// catalogue by sync, and new objects by gossip (its own sync rounds are
/// minutes apart, so what arrives within seconds came by gossip); the
/// members list and count only each other; what the observer is given or
/// gossips is stored on no member.
#[test]
fn an_observer_follows_everything_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found_with(root, &["Oak Trust", "Elm Trust"], &["--observers", "everything"]);
    let (oak, elm) = (&dirs[0], &dirs[1]);
    // Periodic sync rounds 10 minutes apart everywhere (a session still
    // starts when a peer answers a hello): what arrives within seconds
    // came by gossip.
    let slow_sync = [("CHORUS_SYNC_INTERVAL_MS", "600000")];
    let mut nodes = Nodes::new();
    nodes.start_with(oak, &[], &slow_sync);
    let oak_addrs = nodes.wait_listening(oak);
    nodes.start_with(elm, &oak_addrs, &slow_sync);
    for d in [oak, elm] {
        nodes.wait_peers(d, 1);
    }

    // The back catalogue: an adopted position and an open proposal.
    let adopted = propose(oak, "Before the observer");
    nodes.eventually("the proposal at Elm", || listed(elm, "proposals", &adopted).then_some(()));
    for d in [oak, elm] {
        chorus(d, &["endorse", &adopted, "--yes"]).ok();
    }
    let open = propose(elm, "Open before the observer");
    for d in [oak, elm] {
        nodes.eventually("the position and the open proposal on both", || {
            (listed(d, "positions", &adopted) && listed(d, "proposals", &open)).then_some(())
        });
    }

    // The observer's first session starts when a member answers its hello.
    let obs = &root.join("observer");
    nodes.start_observer(obs, &genesis, &oak_addrs, &slow_sync);
    nodes.wait_up(obs);
    nodes.eventually("the back catalogue at the observer (sync)", || {
        (listed(obs, "positions", &adopted) && listed(obs, "proposals", &open)).then_some(())
    });
    let obs_status = chorus(obs, &["status", "--json"]).ok().json();
    assert_eq!(
        (obs_status["member"].as_bool(), obs_status["role"].as_str()),
        (Some(false), Some("observer")),
        "{obs_status}"
    );
    let obs_peer = obs_status["node_id"].as_str().unwrap().to_string();

    // A new object, proposed at Elm (the observer dialled Oak): by gossip.
    let after = propose(elm, "After the observer joined");
    let started = std::time::Instant::now();
    nodes.eventually("the new proposal at the observer (gossip)", || listed(obs, "proposals", &after).then_some(()));
    assert!(started.elapsed() < Duration::from_secs(10), "gossip took {:?}", started.elapsed());

    // Never a member: not in the roster, not listed as a member's peer,
    // not counted in a tally.
    for d in [oak, elm] {
        let roster = chorus(d, &["roster", "--json"]).ok().json();
        assert_eq!(roster["members"].as_array().unwrap().len(), 2, "{roster}");
        let members = member_peer_ids(d);
        assert_eq!(members.len(), 1, "{members:?}");
        assert!(!members.contains(&obs_peer), "the observer listed as a member's node: {members:?}");
        let status = chorus(d, &["status", "--json"]).ok().json();
        assert_eq!(status["peers"], 1, "one member peer: {status}");
        assert_eq!(tally(d, &after)["members"], 2, "{}", tally(d, &after));
    }
    assert_eq!(tally(obs, &after)["members"], 2, "{}", tally(obs, &after));
    // Oak, which the observer dialled, shows it as an observer.
    let status = chorus(oak, &["status", "--json"]).ok().json();
    assert_eq!(status["observers"], 1, "{status}");
    let peers = chorus(oak, &["peers", "--json"]).ok().json();
    let shown = peers.as_array().into_iter().flatten().find(|p| p["peer_id"] == obs_peer.as_str());
    assert_eq!(shown.map(|p| p["observer"].clone()), Some(Value::Bool(true)), "{peers}");

    // Nothing it is given reaches a member: an object submitted to the
    // observer (refused: it publishes nothing), and objects it gossips
    // itself (a member-signed one, valid, that no member holds yet, and a
    // forged copy of another).
    let (given, given_file) = signed_not_submitted(oak, "Given to the observer");
    let refused = submit(obs, &std::fs::read(&given_file).unwrap());
    assert!(refused.is_err(), "the observer took a submitted object: {refused:?}");
    let (gossiped, gossiped_file) = signed_not_submitted(oak, "Gossiped by an observer");
    let (forged, forged_file) = signed_not_submitted(oak, "Forged by an observer");
    let mut forged_bytes = std::fs::read(&forged_file).unwrap();
    let last = forged_bytes.len() - 1;
    forged_bytes[last] ^= 1; // in the signature, the envelope's last field
    let peer = spec_peer::SpecPeer::observer(coalition_id(oak));
    let elm_status = chorus(elm, &["status", "--json"]).ok().json();
    peer.dial(elm_status["listen"][0].as_str().unwrap());
    peer.joined(elm_status["node_id"].as_str().unwrap().parse().unwrap(), &coalition_id(elm));
    peer.publish(std::fs::read(&gossiped_file).unwrap());
    peer.publish(forged_bytes);
    // Gossip takes well under a second here.
    std::thread::sleep(Duration::from_secs(3));
    for d in [oak, elm] {
        for (what, id) in [("submitted to the observer", &given), ("gossiped", &gossiped), ("forged", &forged)] {
            assert!(!holds(d, id), "an object {what} by the observer is stored on a member");
        }
    }
    drop(peer);
}

/// An observer that gossips a valid object first cannot delay the same
/// object from a member beyond gossip speed (PROTOCOL.md 14.4: a copy that
/// is ignored must not make the member's copy a duplicate). Periodic sync
/// is minutes apart, so only gossip can bring it in time; a control object
/// the observer never sent is submitted at the same moment.
#[test]
fn an_observer_that_gossips_an_object_first_does_not_stall_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found_with(root, &["Oak Trust", "Elm Trust"], &["--observers", "everything"]);
    let (oak, elm) = (&dirs[0], &dirs[1]);
    let slow_sync = [("CHORUS_SYNC_INTERVAL_MS", "600000")];
    let mut nodes = Nodes::new();
    nodes.start_with(oak, &[], &slow_sync);
    let oak_addrs = nodes.wait_listening(oak);
    nodes.start_with(elm, &oak_addrs, &slow_sync);
    for d in [oak, elm] {
        nodes.wait_peers(d, 1);
    }
    let (first, first_file) = signed_not_submitted(oak, "Gossiped first by an observer");
    let (control, control_file) = signed_not_submitted(oak, "Never gossiped by the observer");
    let peer = spec_peer::SpecPeer::observer(coalition_id(elm));
    let elm_status = chorus(elm, &["status", "--json"]).ok().json();
    peer.dial(elm_status["listen"][0].as_str().unwrap());
    peer.joined(elm_status["node_id"].as_str().unwrap().parse().unwrap(), &coalition_id(elm));
    peer.publish(std::fs::read(&first_file).unwrap());
    std::thread::sleep(Duration::from_secs(1));
    assert!(!holds(elm, &first), "a member stored an observer's gossip");

    let started = std::time::Instant::now();
    for f in [&first_file, &control_file] {
        submit(oak, &std::fs::read(f).unwrap()).expect("Oak takes the object");
    }
    nodes.eventually("the control object at Elm", || holds(elm, &control).then_some(()));
    nodes.eventually("the object the observer sent first, from Oak, at Elm", || holds(elm, &first).then_some(()));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    drop(peer);
}

/// Charter `positions` (the default): an observer (`init --observer`, then
/// `node run`) gets adopted positions, whose certificates verify offline,
/// and not open proposals, old or new.
#[test]
fn a_positions_only_observer_gets_positions_and_not_open_proposals() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found_with(root, &["Oak Trust", "Elm Trust"], &[]);
    let (oak, elm) = (&dirs[0], &dirs[1]);
    let mut nodes = Nodes::new();
    let oak_addrs = nodes.start_mesh(&dirs);
    let adopted = propose(oak, "A position");
    nodes.eventually("the proposal at Elm", || listed(elm, "proposals", &adopted).then_some(()));
    for d in [oak, elm] {
        chorus(d, &["endorse", &adopted, "--yes"]).ok();
    }
    let open = propose(elm, "Still open");
    nodes.eventually("the position at Oak", || listed(oak, "positions", &adopted).then_some(()));

    let obs = &root.join("observer");
    chorus(obs, &["init", "--observer", "--genesis", genesis.to_str().unwrap()]).ok();
    nodes.start(obs, &oak_addrs);
    nodes.wait_up(obs);
    nodes.eventually("the position at the observer", || listed(obs, "positions", &adopted).then_some(()));
    let later = propose(oak, "Proposed while observed");
    // Sync runs every second here: a few rounds, and neither open proposal.
    std::thread::sleep(Duration::from_secs(4));
    for id in [&open, &later] {
        assert!(!holds(obs, id), "an open proposal reached a positions-only observer");
    }
    // Adopted later: now a position, it reaches the observer.
    for d in [oak, elm] {
        chorus(d, &["endorse", &later, "--yes"]).ok();
    }
    nodes.eventually("the later position at the observer", || listed(obs, "positions", &later).then_some(()));

    let cert = root.join("position.cert");
    chorus(obs, &["certificate", &adopted, "-o", cert.to_str().unwrap()]).ok();
    let coalition = chorus(oak, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    let nowhere = root.join("no-node");
    let ok = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--coalition", &coalition]).ok();
    assert!(ok.stdout.contains("VALID") && ok.stdout.contains("A position"), "{}", ok.stdout);
}

/// Charter `none`: the observer is refused, syncs nothing, and says why.
#[test]
fn a_coalition_that_admits_no_observers_refuses_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found_with(root, &["Oak Trust"], &["--observers", "none"]);
    let oak = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start(oak, &[]);
    let oak_addrs = nodes.wait_listening(oak);
    let p = propose(oak, "Not for observers");
    let obs = &root.join("observer");
    nodes.start_observer(obs, &genesis, &oak_addrs, &[]);
    nodes.wait_up(obs);
    nodes.eventually("the observer saying why it is refused", || {
        log_of(obs).contains("does not admit observers").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let status = chorus(obs, &["status", "--json"]).ok().json();
    assert_eq!(status["objects"], 1, "the observer holds only its genesis: {status}");
    assert!(!holds(obs, &p));
    assert!(member_peer_ids(oak).is_empty());
}
