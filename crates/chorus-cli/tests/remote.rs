//! The remote CLI's own refusals, each one line and changing nothing: a
//! node that serves another coalition than the pinned genesis, a remote
//! that does not exist, a command that does not work through a remote, a
//! bad name or URL, a node that cannot be reached. (The leader's whole
//! path, a tampering node and the node's refusals are in the whole-system
//! test `tests/tests/remote_leader.rs`.)

use std::path::Path;

use chorus_system_tests::cli::chorus_env;
use chorus_system_tests::{found, Nodes, Run};

/// `chorus --data-dir DIR args...` with remotes kept in `config`.
fn chorus_with(config: &Path, dir: &Path, args: &[&str]) -> Run {
    chorus_env(dir, args, &[("CHORUS_CONFIG_DIR", config)])
}

#[test]
fn a_remote_is_pinned_and_mistakes_are_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (oak, _) = found(&root.join("a"), &["Oak Trust"]);
    let (_, other_genesis) = found(&root.join("b"), &["Elm Trust"]);
    let oak = &oak[0];
    let mut nodes = Nodes::new();
    let url = nodes.start_serving_website(oak);
    let config = root.join("config");
    let laptop = root.join("laptop"); // no node's data directory
    std::fs::create_dir(&laptop).unwrap();
    let run = |args: &[&str]| chorus_with(&config, &laptop, args);
    let oak_genesis = oak.join("genesis.chorus");

    // Another coalition's genesis: refused, nothing saved.
    let r = run(&["remote", "add", "oak", &url, "--genesis", other_genesis.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("serves coalition") && r.stderr.contains("not"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(run(&["remote", "list", "--json"]).ok().json().as_array().unwrap().is_empty());

    // The right one: saved, and usable.
    run(&["remote", "add", "oak", &url, "--genesis", oak_genesis.to_str().unwrap()]).ok();
    let list = run(&["remote", "list", "--json"]).ok().json();
    assert_eq!(list[0]["name"], "oak");
    let proposals = run(&["--remote", "oak", "proposals", "--json"]).ok().json();
    assert!(proposals["proposals"].as_array().unwrap().is_empty());

    // Usage mistakes exit 2 and name the fix.
    for (args, want) in [
        (&["--remote", "nope", "proposals"][..], "no remote \"nope\""),
        (&["--remote", "oak", "status"][..], "does not work with --remote"),
        (&["remote", "add", "a/b", &url, "--genesis", "g"][..], "remote name"),
        (&["remote", "add", "x", "ftp://x", "--genesis", "g"][..], "not an http"),
        (&["--remote", "oak", "endorse", "00", "--yes"][..], "--as-leader"),
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }

    // A node that is not there: one line, exit 1.
    run(&["remote", "add", "gone", "http://127.0.0.1:9/", "--genesis", oak_genesis.to_str().unwrap()]);
    let r = run(&["remote", "list", "--json"]).ok().json();
    assert_eq!(r.as_array().unwrap().len(), 1, "an unreachable remote is not saved");
    nodes.terminate(oak);
    let r = run(&["--remote", "oak", "proposals"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);

    run(&["remote", "remove", "oak"]).ok();
    assert!(run(&["remote", "list", "--json"]).ok().json().as_array().unwrap().is_empty());
}
