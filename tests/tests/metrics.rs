//! The metrics and readiness of real `chorus node run` processes against
//! what the test did to them: the peers gauge goes up as nodes connect and
//! down when one stops, the objects gauge follows the objects made and
//! received, a refused submission is counted under its reason, and
//! `/ready` answers 503 until a sync with a member peer completed, then 200.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

use chorus_node::control::{Client, Request};
use chorus_system_tests::{chorus, found, status, Nodes};

/// A loopback port free a moment ago, for a node's metrics address (the
/// node logs the port it bound but reports it nowhere else).
fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` on the metrics server at `port`: the status code and body,
/// or `None` while nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    let code = reply.split_whitespace().nth(1)?.parse().ok()?;
    let body = reply.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}

/// The value of the sample `series` (name with labels, as exposed) in
/// `/metrics` at `port`; `None` while nothing answers or the series is
/// not exposed yet.
fn sample(port: u16, series: &str) -> Option<i64> {
    let (code, body) = get(port, "/metrics")?;
    assert_eq!(code, 200, "{body}");
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Objects the node in `dir` reports holding through its control socket.
fn objects_held(dir: &Path) -> Option<i64> {
    status(dir)?["objects"].as_i64()
}

#[test]
fn metrics_and_readiness_follow_what_the_nodes_did() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (a, b, c) = (&dirs[0], &dirs[1], &dirs[2]);
    let ports: Vec<u16> = (0..3).map(|_| free_loopback_port()).collect();
    let (pa, pb, pc) = (ports[0], ports[1], ports[2]);
    let addr = |p: u16| format!("127.0.0.1:{p}");

    let mut nodes = Nodes::new();
    nodes.start_with(a, &[], &[("CHORUS_METRICS_ADDR", &addr(pa))]);
    let a_addrs = nodes.wait_listening(a);
    let (health, _) = nodes.eventually("A serving /health", || get(pa, "/health"));
    assert_eq!(health, 200);
    // Alone, with two other members in its roster: not ready, and why.
    let (code, body) = get(pa, "/ready").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("not ready: no sync with a member peer"), "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert_eq!(sample(pa, "chorus_peers"), Some(0));

    nodes.start_with(b, &a_addrs, &[("CHORUS_METRICS_ADDR", &addr(pb))]);
    nodes.start_with(c, &a_addrs, &[("CHORUS_METRICS_ADDR", &addr(pc))]);
    for (d, p) in [(a, pa), (b, pb), (c, pc)] {
        nodes.wait_peers(d, if d == a { 2 } else { 1 });
        nodes.eventually("/ready answering 200 after a sync", || (get(p, "/ready")?.0 == 200).then_some(()));
    }
    nodes.eventually("A's peers gauge at 2", || (sample(pa, "chorus_peers")? == 2).then_some(()));

    // The objects gauge is what each node holds, before and after a
    // proposal made at A and gossiped to B.
    let before = objects_held(a).unwrap();
    assert_eq!(sample(pa, "chorus_objects"), Some(before));
    let stored_at_b = sample(pb, "chorus_objects_stored_total").unwrap();
    let body = root.join("body.md");
    std::fs::write(&body, "We call for fair funding.\n").unwrap();
    chorus(a, &["propose", "--title", "Fair funding", "--body-file", body.to_str().unwrap()]).ok();
    assert_eq!(objects_held(a), Some(before + 1));
    assert_eq!(sample(pa, "chorus_objects"), Some(before + 1));
    nodes.eventually("B holding the proposal", || (objects_held(b)? == before + 1).then_some(()));
    nodes.eventually("B's objects gauge counting it", || (sample(pb, "chorus_objects")? == before + 1).then_some(()));
    assert_eq!(sample(pb, "chorus_objects_stored_total"), Some(stored_at_b + 1));

    // Bytes that are no envelope are refused and counted under a reason;
    // nothing is stored.
    let refused = Client::new(a.join("control.sock")).call_value(&Request::Submit { envelope: "deadbeef".into() });
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(sample(pa, "chorus_objects_refused_total{reason=\"malformed\"}"), Some(1));
    assert_eq!(sample(pa, "chorus_objects"), Some(before + 1));

    // C stops: the gauges of the nodes it was connected to come down.
    nodes.terminate(c);
    nodes.eventually("A's peers gauge down to 1", || (sample(pa, "chorus_peers")? == 1).then_some(()));
    nodes.eventually("B's peers gauge at what B's network counts", || {
        let counted = status(b)?["peers"].as_i64()?;
        (sample(pb, "chorus_peers")? == counted).then_some(())
    });
    assert_eq!(get(pa, "/ready").map(|r| r.0), Some(200), "a node that synced stays ready");
}
