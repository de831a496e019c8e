//! The charter's observer access and an observer's data directory through
//! the CLI, with real `chorus node run` processes on 127.0.0.1: a coalition
//! founded with `--observers everything` shows it in the draft and the
//! roster; `chorus charter amend --observers none` changes it and an
//! amendment that does not name it carries it over; `chorus init
//! --observer --genesis FILE` makes a directory with a node key, the
//! genesis and `role = "observer"` and no trust; run, it says role
//! observer, is no member, and refuses to propose with one line.

use std::path::Path;

use chorus_system_tests::{chorus, Nodes};
use serde_json::Value;

fn roster(dir: &Path) -> Value {
    chorus(dir, &["roster", "--json"]).ok().json()
}

/// Endorses proposal `id` (Oak is the only member) and waits until the
/// roster names a new version.
fn adopt(nodes: &mut Nodes, dir: &Path, id: &str) -> Value {
    let before = roster(dir)["version"].clone();
    chorus(dir, &["endorse", id, "--yes"]).ok();
    nodes.eventually("the charter amendment adopted", || {
        let r = roster(dir);
        (r["version"] != before).then_some(r)
    })
}

#[test]
fn the_observer_access_is_founded_amended_and_an_observer_runs_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let oak = &root.join("oak");
    chorus(oak, &["init", "--name", "Oak Trust", "--trust-key-here"]).ok();
    let draft = root.join("draft.chorus");
    let draft_s = draft.to_str().unwrap();
    let r = chorus(oak, &["coalition", "draft", "--name", "Observed", "--observers", "all", "-o", draft_s]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    chorus(oak, &["coalition", "draft", "--name", "Observed", "--observers", "everything", "-o", draft_s]).ok();
    let shown = chorus(oak, &["coalition", "show", draft_s]).ok().stdout;
    assert!(shown.contains("observers:   everything (observers receive every object"), "{shown}");
    let genesis = root.join("genesis.chorus");
    let genesis_s = genesis.to_str().unwrap();
    chorus(oak, &["coalition", "finalize", draft_s, "-o", genesis_s]).ok();
    chorus(oak, &["coalition", "join", genesis_s]).ok();
    let mut nodes = Nodes::new();
    nodes.start(oak, &[]);
    let oak_addrs = nodes.wait_listening(oak);

    assert_eq!(roster(oak)["sets"]["observers"], "everything");
    let text = chorus(oak, &["roster"]).ok().stdout;
    assert!(text.contains("observers:   everything"), "{text}");

    // Amended when named, carried over when not.
    let r = chorus(oak, &["charter", "amend", "--observers", "some"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let id = chorus(oak, &["charter", "amend", "--observers", "none"]).ok().stdout;
    assert_eq!(adopt(&mut nodes, oak, id.trim())["sets"]["observers"], "none");
    let id = chorus(oak, &["charter", "amend", "--positions", "2/3"]).ok().stdout;
    let r = adopt(&mut nodes, oak, id.trim());
    assert_eq!((r["positions"].as_str(), r["sets"]["observers"].as_str()), (Some("2/3"), Some("none")));
    let text = chorus(oak, &["roster"]).ok().stdout;
    assert!(text.contains("observers:   none (only members' nodes may connect)"), "{text}");

    // An observer's directory: flags checked first, then a node key, the
    // genesis and the role, and no trust.
    let obs = &root.join("obs");
    let bad_flags: [&[&str]; 3] = [
        &["init", "--observer"],
        &["init", "--observer", "--genesis", genesis_s, "--name", "X"],
        &["init", "--observer", "--genesis", genesis_s, "--bootstrap", "oak"],
    ];
    for bad in bad_flags {
        let r = chorus(obs, bad);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(!obs.exists(), "{bad:?} made the directory");
    }
    let made = chorus(obs, &["init", "--observer", "--genesis", genesis_s, "--bootstrap", &oak_addrs[0], "--json"])
        .ok()
        .json();
    assert_eq!(made["observers"], "everything", "the genesis charter's access: {made}");
    assert!(obs.join("node.key").exists() && obs.join("genesis.chorus").exists());
    assert!(!obs.join("trust.key").exists() && !obs.join("trust.id").exists());
    let config = std::fs::read_to_string(obs.join("config.toml")).unwrap();
    assert!(config.contains("\nrole = \"observer\"\n") && config.contains(&oak_addrs[0]), "{config}");
    let again = chorus(obs, &["init", "--observer", "--genesis", genesis_s]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let who = chorus(obs, &["whoami", "--json"]).ok().json();
    assert_eq!((who["role"].as_str(), &who["node_key"]), (Some("observer"), &made["node_key"]));

    nodes.start(obs, &oak_addrs);
    nodes.wait_up(obs);
    let status = chorus(obs, &["status", "--json"]).ok().json();
    assert_eq!((status["role"].as_str(), status["member"].as_bool()), (Some("observer"), Some(false)));
    assert!(chorus(obs, &["status"]).ok().stdout.contains("role      observer"));
    assert_eq!(chorus(oak, &["status", "--json"]).ok().json()["role"], "member");
    let body = root.join("body.md");
    std::fs::write(&body, "A text.\n").unwrap();
    let r = chorus(obs, &["propose", "--title", "From an observer", "--body-file", body.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("this node is an observer: it follows the coalition and cannot submit objects"),
        "{}",
        r.stderr
    );
}
