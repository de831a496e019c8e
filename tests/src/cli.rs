//! Helpers shared by the end-to-end tests: run the real `chorus` binary, and
//! nodes as child processes that are killed when the test ends, pass or fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chorus")
}

/// Result of one CLI run.
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Asserts exit code 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A command for the binary with a clean environment for Chorus variables.
pub fn cmd(data_dir: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data-dir").arg(data_dir).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("CHORUS_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `chorus --data-dir DIR args...`.
pub fn chorus(data_dir: &Path, args: &[&str]) -> Run {
    Run::from(cmd(data_dir).args(args).output().expect("run chorus"))
}

/// Child processes killed on drop, so a failing test leaves nothing running.
#[derive(Default)]
pub struct Procs(pub Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 100 ms until it returns `Some`, panicking with `what`
/// after a generous bound (a hang guard, not a timing assertion).
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `chorus node run` for `dir` with fast gossip and sync on loopback.
pub fn start_node(procs: &mut Procs, dir: &Path, bootstrap: &[String]) {
    start_node_with(procs, dir, bootstrap, &[])
}

/// [`start_node`] with more environment, e.g. `CHORUS_HTTP_ADDR`.
pub fn start_node_with(procs: &mut Procs, dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) {
    let child = cmd(dir)
        .args(["node", "run"])
        .env("CHORUS_LISTEN", "/ip4/127.0.0.1/tcp/0")
        .env("CHORUS_BOOTSTRAP", bootstrap.join(","))
        .env("CHORUS_SYNC_INTERVAL_MS", "1000")
        .env("CHORUS_HEARTBEAT_MS", "200")
        .env("CHORUS_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node");
    procs.0.push(child);
}

/// Waits for the node in `dir` to answer on its control socket.
pub fn wait_up(dir: &Path) {
    eventually("node answering", || (chorus(dir, &["status"]).code == 0).then_some(()))
}

/// Waits for the node in `dir` to answer and listen; returns its dial addresses.
pub fn wait_listening(dir: &Path) -> Vec<String> {
    eventually("node listening", || {
        let r = chorus(dir, &["status", "--json"]);
        if r.code != 0 {
            return None;
        }
        let addrs: Vec<String> =
            r.json()["listen"].as_array()?.iter().filter_map(|a| a.as_str().map(String::from)).collect();
        (!addrs.is_empty()).then_some(addrs)
    })
}

/// Initialises `n` nodes under `root` and founds a coalition of their trusts
/// offline with the CLI; returns the data dirs and the final genesis path.
pub fn found(root: &Path, names: &[&str]) -> (Vec<PathBuf>, PathBuf) {
    let dirs: Vec<PathBuf> = names.iter().enumerate().map(|(i, _)| root.join(format!("node-{i}"))).collect();
    for (d, name) in dirs.iter().zip(names) {
        chorus(d, &["init", "--name", name]).ok();
    }
    let keys: Vec<String> = dirs
        .iter()
        .map(|d| chorus(d, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string())
        .collect();
    let draft = root.join("draft.chorus");
    let mut args: Vec<String> =
        vec!["coalition".into(), "draft".into(), "--name".into(), "E2E Coalition".into(), "-o".into()];
    args.push(draft.to_str().unwrap().into());
    for (k, name) in keys.iter().zip(names).skip(1) {
        args.push("--member".into());
        args.push(format!("{name}={k}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chorus(&dirs[0], &args).ok();
    for d in &dirs[1..] {
        chorus(d, &["coalition", "sign", draft.to_str().unwrap(), "--yes"]).ok();
    }
    let genesis = root.join("genesis.chorus");
    chorus(&dirs[0], &["coalition", "finalize", draft.to_str().unwrap(), "-o", genesis.to_str().unwrap()]).ok();
    for d in &dirs {
        chorus(d, &["coalition", "join", genesis.to_str().unwrap()]).ok();
    }
    (dirs, genesis)
}
