//! The control socket is usable only by the node's own OS user: the data
//! directory is 0700, the socket 0600, and the server checks the peer's uid.
//! And when the CLI gets no answer, it says why: no node running, the node
//! stopped during the request, or this user may not use it.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;

use chorus_system_tests::{chorus, cmd, found, Nodes};

const NOBODY: u32 = 65534;

#[test]
fn other_users_cannot_use_the_control_socket() {
    let tmp = tempfile::tempdir().unwrap();
    // Let `nobody` reach the temp dir itself, so only our own walls stop it.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (dirs, _) = found(tmp.path(), &["Solo Trust"]);
    let dir = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start(dir, &[]);
    nodes.wait_up(dir);

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let socket = dir.join("control.sock");
    assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
    assert_eq!(mode(dir), 0o700, "data dir is owner-only");
    assert_eq!(mode(&socket), 0o600, "socket is owner-only");
    assert_eq!(mode(&dir.join("trust.key")), 0o600);
    assert_eq!(mode(&dir.join("node.key")), 0o600);

    // std's CommandExt::uid switches user in the child before exec.
    let is_root =
        std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false);
    if !is_root {
        eprintln!("skipping the other-user part: needs root to run a child as nobody");
        return;
    }
    let as_nobody = || {
        let mut c = cmd(dir);
        c.args(["status"]).uid(NOBODY).gid(NOBODY);
        let o = c.output().expect("run as nobody");
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };

    // Wall 1: the directory.
    let (code, err) = as_nobody();
    assert_eq!(code, Some(1));
    assert!(err.contains("ermission denied"), "{err}");

    // Wall 2: the socket's own mode, with the directory opened up.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, err) = as_nobody();
    assert_eq!(code, Some(1));
    assert!(err.contains("ermission denied") && err.contains("own OS user"), "{err}");

    // Wall 3: even a world-writable socket is refused by the peer-uid check.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, err) = as_nobody();
    assert_eq!(code, Some(1));
    assert!(err.contains("without answering") && err.contains("own OS user"), "{err}");
    assert!(!err.contains("stopped while handling"), "{err}");

    // The owner still gets in.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    chorus(dir, &["status"]).ok();
}

/// `chorus status` failing: its exit code, stderr, and `--json` code.
fn failed_status(dir: &std::path::Path) -> (String, String) {
    let run = chorus(dir, &["status", "--json"]);
    assert_eq!(run.code, 1, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let code = run.json()["code"].as_str().expect("a --json error has a code").to_string();
    (code, run.stderr)
}

#[test]
fn the_cli_says_whether_no_node_runs_or_the_node_stopped_during_the_request() {
    let tmp = tempfile::tempdir().unwrap();
    let (dirs, _) = found(tmp.path(), &["Solo Trust"]);
    let dir = &dirs[0];
    let socket = dir.join("control.sock");

    // Never started: no socket.
    let (code, err) = failed_status(dir);
    assert_eq!(code, "node_not_running", "{err}");
    assert!(err.contains("no node is running") && err.contains("no control socket at"), "{err}");
    assert!(err.contains("chorus node run"), "{err}");
    assert!(!err.contains("own OS user"), "{err}");

    // Killed as a crash would: its socket is left behind, and refuses.
    let mut nodes = Nodes::new();
    nodes.start(dir, &[]);
    nodes.wait_up(dir);
    nodes.kill(dir);
    assert!(std::fs::metadata(&socket).is_ok(), "a killed node leaves its socket behind");
    let (code, err) = failed_status(dir);
    assert_eq!(code, "node_not_running", "{err}");
    assert!(err.contains("left over from a node that is no longer running"), "{err}");
    std::fs::remove_file(&socket).unwrap();

    // A node that takes the request and goes away before answering: a
    // listener that reads the request and closes.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut request).unwrap();
        String::from_utf8(request).unwrap()
    });
    let (code, err) = failed_status(dir);
    assert_eq!(server.join().unwrap().trim(), r#"{"cmd":"status"}"#);
    assert_eq!(code, "node_stopped_during_request", "{err}");
    assert!(err.contains("stopped while handling the request") && err.contains("may or may not"), "{err}");
    assert!(err.contains("chorus status") && err.contains("log"), "{err}");
    assert!(!err.contains("own OS user") && !err.contains("no node is running"), "{err}");
}
