//! `chorus node run` processes on loopback, and waiting on what they report.
//!
//! Every node listens on `127.0.0.1` with a TCP port the operating system
//! chooses (the tests read the real addresses back from `chorus status`),
//! with mDNS and metrics off and the website only where a test asks for it,
//! so nothing binds a fixed port or leaves loopback (or a node runs in a
//! network namespace its test made, [`Node::start_in_netns`], listening on
//! that namespace's address). A node's output goes to
//! `<data dir>.log` beside its data directory (`node-0.log` for `node-0`),
//! and every failed wait shows the tail of each running node's log.
//!
//! The nodes push nothing to the tests, so a wait asks them: the condition
//! is checked every [`POLL_INTERVAL`](crate::wait::POLL_INTERVAL) until it
//! holds, until a node exits (failing at once, with that node's log), or
//! until [`PATIENCE`] passes (a hang guard, not a timing assertion). No
//! fixed sleep stands in for readiness.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use serde_json::Value;

use crate::cli::{chorus, cmd};
use crate::netns::in_netns;
use crate::process::{stop_all, Process};
use crate::wait::{poll, PATIENCE};

/// The node environment that serves the website and HTTP API on a free
/// loopback port with everything published.
pub const SERVE_WEBSITE: &[(&str, &str)] = &[("CHORUS_HTTP_ADDR", "127.0.0.1:0"), ("CHORUS_PUBLISH", "everything")];

/// `chorus status --json` of the node in `dir`, if it answers.
pub fn status(dir: &Path) -> Option<Value> {
    let r = chorus(dir, &["status", "--json"]);
    (r.code == 0).then(|| r.json())
}

/// The addresses a status reports listening on.
fn listen_addrs(status: &Value) -> Vec<String> {
    status["listen"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(String::from)).collect()
}

/// One `chorus node run` process and its data directory.
pub struct Node {
    dir: PathBuf,
    process: Process,
}

impl Node {
    /// Starts `chorus node run` for the initialised data directory `dir` on
    /// loopback, bootstrapping from `bootstrap`, with fast gossip (200 ms
    /// heartbeat) and sync (every second); `env` adds or overrides
    /// variables (`CHORUS_HTTP_ADDR=127.0.0.1:0` for the website, say).
    /// Returns once the process is spawned; wait with [`Nodes`].
    pub fn start(dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> Node {
        Node::spawn(None, dir, bootstrap, env)
    }

    /// [`Node::start`] inside the network namespace `netns` (`ip netns
    /// exec NETNS chorus node run`, see [`crate::netns`]); `env` should
    /// set `CHORUS_LISTEN` to an address of that namespace, since loopback
    /// there is the namespace's own. The control socket is a file in the
    /// data directory, so the CLI reaches the node from outside.
    pub fn start_in_netns(netns: &str, dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> Node {
        Node::spawn(Some(netns), dir, bootstrap, env)
    }

    fn spawn(netns: Option<&str>, dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> Node {
        let mut command = cmd(dir);
        command
            .args(["node", "run"])
            .env("CHORUS_LISTEN", "/ip4/127.0.0.1/tcp/0")
            .env("CHORUS_BOOTSTRAP", bootstrap.join(","))
            .env("CHORUS_MDNS", "false")
            .env("CHORUS_METRICS_ADDR", "")
            .env("CHORUS_HTTP_ADDR", "")
            .env("CHORUS_SYNC_INTERVAL_MS", "1000")
            .env("CHORUS_HEARTBEAT_MS", "200")
            .env("CHORUS_LOG", "info")
            .envs(env.iter().copied());
        let name = dir.file_name().map_or_else(|| "node".into(), |n| n.to_string_lossy().into_owned());
        let log = dir.with_file_name(format!("{name}.log"));
        if let Some(netns) = netns {
            command = in_netns(netns, &command);
        }
        Node { dir: dir.to_path_buf(), process: Process::spawn(&name, command, &log) }
    }

    /// Starts `chorus observe --genesis GENESIS --bootstrap ADDR` (a
    /// read-only follower, initialising `dir` as an observer's data
    /// directory if it is not one yet), with the loopback environment of
    /// [`Node::start`] (its listen address, no mDNS, metrics or website,
    /// fast gossip and sync); `env` adds or overrides variables.
    pub fn start_observer(dir: &Path, genesis: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> Node {
        let mut command = cmd(dir);
        command.args(["observe", "--genesis"]).arg(genesis);
        for b in bootstrap {
            command.args(["--bootstrap", b]);
        }
        command
            .env("CHORUS_LISTEN", "/ip4/127.0.0.1/tcp/0")
            .env("CHORUS_MDNS", "false")
            .env("CHORUS_METRICS_ADDR", "")
            .env("CHORUS_HTTP_ADDR", "")
            .env("CHORUS_SYNC_INTERVAL_MS", "1000")
            .env("CHORUS_HEARTBEAT_MS", "200")
            .env("CHORUS_LOG", "info")
            .envs(env.iter().copied());
        let name = dir.file_name().map_or_else(|| "observer".into(), |n| n.to_string_lossy().into_owned());
        let log = dir.with_file_name(format!("{name}.log"));
        Node { dir: dir.to_path_buf(), process: Process::spawn(&name, command, &log) }
    }

    /// The path of its log (`<data dir>.log`).
    pub fn log_path(&self) -> PathBuf {
        let name = self.dir.file_name().map_or_else(|| "node".into(), |n| n.to_string_lossy().into_owned());
        self.dir.with_file_name(format!("{name}.log"))
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its process.
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// The nodes of a test, each stopped (SIGTERM, then SIGKILL) when dropped,
/// all together; waits that fail show every node's log.
#[derive(Default)]
pub struct Nodes {
    nodes: Vec<Node>,
}

impl Nodes {
    /// No nodes yet.
    pub fn new() -> Nodes {
        Nodes::default()
    }

    /// Starts a node for `dir` (see [`Node::start`]) bootstrapping from
    /// `bootstrap`.
    pub fn start(&mut self, dir: &Path, bootstrap: &[String]) -> &mut Node {
        self.start_with(dir, bootstrap, &[])
    }

    /// [`Nodes::start`] with more environment.
    pub fn start_with(&mut self, dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> &mut Node {
        assert!(self.position(dir).is_none(), "a node for {} is already running", dir.display());
        self.nodes.push(Node::start(dir, bootstrap, env));
        self.nodes.last_mut().expect("just pushed")
    }

    /// Starts a node for `dir` with no bootstrap, serving its website and
    /// HTTP API on a free loopback port ([`SERVE_WEBSITE`]), waits until it
    /// answers, and returns the website's address as `chorus status --json`
    /// gives it.
    pub fn start_serving_website(&mut self, dir: &Path) -> String {
        self.start_with(dir, &[], SERVE_WEBSITE);
        self.wait_up(dir);
        let status = chorus(dir, &["status", "--json"]).ok().json();
        status["website"].as_str().expect("status names the website the node serves").to_string()
    }

    /// Starts an observer for `dir` (see [`Node::start_observer`]).
    pub fn start_observer(
        &mut self,
        dir: &Path,
        genesis: &Path,
        bootstrap: &[String],
        env: &[(&str, &str)],
    ) -> &mut Node {
        assert!(self.position(dir).is_none(), "a node for {} is already running", dir.display());
        self.nodes.push(Node::start_observer(dir, genesis, bootstrap, env));
        self.nodes.last_mut().expect("just pushed")
    }

    /// Starts a node for `dir` in the network namespace `netns` (see
    /// [`Node::start_in_netns`]).
    pub fn start_in_netns(&mut self, netns: &str, dir: &Path, bootstrap: &[String], env: &[(&str, &str)]) -> &mut Node {
        assert!(self.position(dir).is_none(), "a node for {} is already running", dir.display());
        self.nodes.push(Node::start_in_netns(netns, dir, bootstrap, env));
        self.nodes.last_mut().expect("just pushed")
    }

    fn position(&self, dir: &Path) -> Option<usize> {
        self.nodes.iter().position(|n| n.dir == dir)
    }

    /// The node of `dir`. Panics if none was started for it.
    pub fn node(&mut self, dir: &Path) -> &mut Node {
        let i = self.position(dir).unwrap_or_else(|| panic!("no node running for {}", dir.display()));
        &mut self.nodes[i]
    }

    /// Takes the node of `dir` out of this set (to stop it, say).
    pub fn remove(&mut self, dir: &Path) -> Node {
        let i = self.position(dir).unwrap_or_else(|| panic!("no node running for {}", dir.display()));
        self.nodes.remove(i)
    }

    /// Stops the node of `dir` with SIGTERM (killing it after the grace
    /// period, then failing) and returns its exit status.
    pub fn terminate(&mut self, dir: &Path) -> ExitStatus {
        self.remove(dir).process.terminate()
    }

    /// Kills the node of `dir` (SIGKILL, as a crash would) and reaps it.
    pub fn kill(&mut self, dir: &Path) {
        self.remove(dir).process.kill();
    }

    /// Every running node's log tail.
    pub fn log_tails(&self) -> String {
        self.nodes.iter().map(|n| n.process.log_tail()).collect::<Vec<_>>().join("\n")
    }

    /// Checks `f` every [`POLL_INTERVAL`](crate::wait::POLL_INTERVAL) until
    /// it returns `Some`. Fails at once if a node exits meanwhile, and after
    /// [`PATIENCE`] otherwise, with `what` and the nodes' logs.
    pub fn eventually<T>(&mut self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        let nodes = &mut self.nodes;
        poll(what, f, |timed_out| {
            for n in nodes.iter_mut() {
                if let Some(status) = n.process.exited() {
                    return Some(format!("{} exited ({status})\n{}", n.process.name(), n.process.log_tail()));
                }
            }
            timed_out.then(|| {
                let logs: Vec<String> = nodes.iter().map(|n| n.process.log_tail()).collect();
                format!("gave up after {} s\n{}", PATIENCE.as_secs(), logs.join("\n"))
            })
        })
    }

    /// Waits until the node of `dir` answers on its control socket.
    pub fn wait_up(&mut self, dir: &Path) {
        self.node(dir);
        let what = format!("{} answering on its control socket", dir.display());
        self.eventually(&what, || (chorus(dir, &["status"]).code == 0).then_some(()))
    }

    /// Waits until the node of `dir` answers and listens; its addresses
    /// (to bootstrap other nodes from).
    pub fn wait_listening(&mut self, dir: &Path) -> Vec<String> {
        self.node(dir);
        let what = format!("{} listening", dir.display());
        self.eventually(&what, || {
            let addrs = listen_addrs(&status(dir)?);
            (!addrs.is_empty()).then_some(addrs)
        })
    }

    /// Waits until the node of `dir` has at least `n` member peers.
    pub fn wait_peers(&mut self, dir: &Path, n: u64) {
        self.node(dir);
        let what = format!("{} with {n} member peer(s)", dir.display());
        self.eventually(&what, || (status(dir)?["peers"].as_u64()? >= n).then_some(()))
    }

    /// Starts a node for each of `dirs`, each bootstrapping from every node
    /// started before it (so the mesh does not wait on discovery, slow on a
    /// loaded machine), and waits until each has every other as a member
    /// peer; returns the first node's addresses.
    pub fn start_mesh(&mut self, dirs: &[PathBuf]) -> Vec<String> {
        let (first_dir, rest) = dirs.split_first().expect("at least one node");
        self.start(first_dir, &[]);
        let first = self.wait_listening(first_dir);
        let mut known = first.clone();
        for d in rest {
            self.start(d, &known);
            known.extend(self.wait_listening(d));
        }
        for d in dirs {
            self.wait_peers(d, dirs.len() as u64 - 1);
        }
        first
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        stop_all(self.nodes.iter_mut().map(|n| &mut n.process));
    }
}
