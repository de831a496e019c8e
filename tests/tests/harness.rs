//! The process harness itself: a wait fails at once, with the node's log,
//! when a node exits, and dropping the nodes stops them with SIGTERM (a
//! graceful shutdown that removes the control socket) and reaps them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;

use chorus_system_tests::wait::PATIENCE;
use chorus_system_tests::{found, Nodes};

#[test]
fn a_wait_fails_at_once_with_the_log_when_a_node_exits() {
    let tmp = tempfile::tempdir().unwrap();
    // Never initialised: `chorus node run` exits with an error at once.
    let dir = tmp.path().join("uninitialised");
    let started = Instant::now();
    let failure = catch_unwind(AssertUnwindSafe(|| {
        let mut nodes = Nodes::new();
        nodes.start(&dir, &[]);
        nodes.wait_up(&dir);
    }))
    .expect_err("a node that cannot start fails the wait");
    let message = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("uninitialised exited"), "{message}");
    assert!(message.contains("--- uninitialised log"), "the log tail is shown: {message}");
    assert!(message.contains("chorus init"), "the node's own error is in it: {message}");
    assert!(started.elapsed() < PATIENCE, "it did not wait for the deadline");
}

#[test]
fn dropping_the_nodes_stops_them_gracefully() {
    let tmp = tempfile::tempdir().unwrap();
    let (dirs, _) = found(tmp.path(), &["Solo Trust"]);
    let dir = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start(dir, &[]);
    nodes.wait_up(dir);
    let pid = nodes.node(dir).process().pid();
    assert!(dir.join("control.sock").exists());
    drop(nodes);
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "the node was stopped and reaped");
    assert!(!dir.join("control.sock").exists(), "SIGTERM, not SIGKILL: the node removed its socket");
}
