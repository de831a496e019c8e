//! Network namespaces a test creates for its nodes, with links it can cut
//! and heal; removed when the test ends, passes, fails or panics.
//!
//! Layout: one namespace per node and a hub namespace that routes between
//! them. Node `i` has one veth interface with `10.213.{i+1}.2/24` and a
//! default route through the hub's end, `10.213.{i+1}.1`. These addresses
//! exist only inside the namespaces of one [`Network`] (each has its own
//! routing), so nothing is added to the host's own network, and two runs
//! side by side do not meet.
//!
//! A cut is a pair of policy rules in the hub, `from A to B blackhole` and
//! back: the hub drops the packets without a word (no ICMP, no RST), as a
//! failed link would, so the nodes learn of it only from their own
//! timeouts; their interfaces stay up. Healing deletes the rules.
//!
//! Creating namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and
//! `ip` (iproute2): [`Network::unavailable`] says why a test must skip.
//! Namespace names carry the creating process's id; namespaces left behind
//! by a run that was killed (no destructor ran) are removed by the next
//! run's [`Network::create`].

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// Start of every namespace name this module creates.
pub const NAME_PREFIX: &str = "chorus-test-";

/// Environment variable choosing what a test does with namespaces: `off`
/// skips the tests that need them, `require` fails them where namespaces
/// cannot be made (instead of skipping); unset or anything else, they run
/// where they can and skip otherwise.
pub const NETNS_ENV: &str = "CHORUS_NETNS";

/// Networks made by this process so far (names stay unique within it).
static CREATED: AtomicU32 = AtomicU32::new(0);

/// The first [`Network::create`] of a process sweeps earlier runs' names.
static SWEEP: Once = Once::new();

/// `ip` (iproute2): on `PATH`, or where distributions put it for root.
fn ip_program() -> Option<&'static str> {
    ["ip", "/usr/sbin/ip", "/sbin/ip"].into_iter().find(|p| {
        Command::new(p).arg("-V").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

/// Whether this process runs with effective user id 0.
fn effective_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // "Uid:\treal\teffective\tsaved\tfs"
    status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|ids| ids.split_whitespace().nth(1)) == Some("0")
}

/// Runs `ip args...`; its standard error if it failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let program = ip_program().ok_or("no ip (iproute2) found")?;
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Runs `ip args...`, panicking with its error if it fails.
fn ip_ok(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("{e}");
    }
}

/// The names of the network namespaces that exist now (`ip netns list`).
fn namespaces() -> Vec<String> {
    let Some(program) = ip_program() else { return Vec::new() };
    let out = Command::new(program).args(["netns", "list"]).stdin(Stdio::null()).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    // "name" or "name (id: 3)"
    text.lines().filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

/// The process id in a namespace name this module made
/// (`chorus-test-PID-SEQ-ROLE`).
fn creator(name: &str) -> Option<u32> {
    name.strip_prefix(NAME_PREFIX)?.split('-').next()?.parse().ok()
}

/// Removes the namespaces of earlier runs: names with [`NAME_PREFIX`]
/// whose process is gone, or is this one (which has made none yet when
/// this runs, so they are an earlier process's that had the same id).
fn sweep_stale() {
    let me = std::process::id();
    for name in namespaces() {
        let Some(pid) = creator(&name) else { continue };
        if pid == me || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("netns: removing {name}, left behind by an earlier run");
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// `command` run inside the network namespace `netns` (`ip netns exec
/// NETNS program args...`), with the same environment changes and working
/// directory. `ip netns exec` replaces itself with the program, so the
/// child's process id is the program's and signals reach it.
pub fn in_netns(netns: &str, command: &Command) -> Command {
    let mut wrapped = Command::new(ip_program().unwrap_or("ip"));
    wrapped.args(["netns", "exec", netns]).arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(v) => wrapped.env(key, v),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped
}

/// The namespaces of one test: a hub and a namespace per node, with every
/// node reaching every other through the hub until [`Network::cut`].
/// Dropping it removes them all (stop the nodes first: declare the
/// `Network` before the `Nodes`, so that it is dropped after them).
pub struct Network {
    hub: String,
    nodes: Vec<String>,
    /// Blackholed (from node, to node) pairs, each direction apart.
    cut: BTreeSet<(usize, usize)>,
}

impl Network {
    /// Why namespaces cannot be used here, if they cannot: [`NETNS_ENV`]
    /// is `off`, the process is not root, or `ip` is missing. `None` does
    /// not promise that the kernel allows them; [`Network::try_create`]
    /// finds out.
    pub fn unavailable() -> Option<String> {
        if std::env::var(NETNS_ENV).is_ok_and(|v| v == "off") {
            return Some(format!("{NETNS_ENV}=off"));
        }
        if !effective_root() {
            return Some("not running as root (network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN)".into());
        }
        if ip_program().is_none() {
            return Some("no ip (iproute2) on PATH, /usr/sbin or /sbin".into());
        }
        None
    }

    /// Whether [`NETNS_ENV`] asks for tests to fail rather than skip.
    pub fn required() -> bool {
        std::env::var(NETNS_ENV).is_ok_and(|v| v == "require")
    }

    /// Creates the namespaces for `nodes` nodes, every one reaching every
    /// other; the reason if that cannot be done here (what
    /// [`Network::unavailable`] says, or the kernel's refusal), having
    /// removed whatever it had made.
    pub fn try_create(nodes: usize) -> Result<Network, String> {
        assert!((1..=250).contains(&nodes), "1 to 250 nodes, not {nodes}");
        if let Some(why) = Network::unavailable() {
            return Err(why);
        }
        SWEEP.call_once(sweep_stale);
        let run = format!("{NAME_PREFIX}{}-{}", std::process::id(), CREATED.fetch_add(1, Ordering::Relaxed));
        // Names first, so that Drop removes whatever was made if a step fails.
        let mut net = Network {
            hub: format!("{run}-hub"),
            nodes: (0..nodes).map(|i| format!("{run}-n{i}")).collect(),
            cut: BTreeSet::new(),
        };
        net.build()?;
        Ok(net)
    }

    /// [`Network::try_create`], panicking if it fails.
    pub fn create(nodes: usize) -> Network {
        Network::try_create(nodes).unwrap_or_else(|e| panic!("cannot create the test's network namespaces: {e}"))
    }

    fn build(&mut self) -> Result<(), String> {
        let hub = self.hub.clone();
        ip(&["netns", "add", &hub])?;
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        // The hub routes between the nodes' subnets. /proc/sys/net belongs
        // to the namespace of the process that opens it.
        let forward = Command::new(ip_program().unwrap_or("ip"))
            .args(["netns", "exec", &hub, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
            .status()
            .map_err(|e| format!("cannot turn on forwarding in {hub}: {e}"))?;
        if !forward.success() {
            return Err(format!("cannot turn on forwarding in {hub}: {forward}"));
        }
        for (i, ns) in self.nodes.clone().iter().enumerate() {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // Both ends are made in their namespaces: no interface name is
            // ever taken in the host's namespace.
            let hub_end = format!("h{i}");
            ip(&["link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", &hub_end, "netns", &hub])?;
            let (gateway, addr) = (self.gateway(i), self.addr(i));
            ip(&["-n", &hub, "addr", "add", &format!("{gateway}/24"), "dev", &hub_end])?;
            ip(&["-n", &hub, "link", "set", &hub_end, "up"])?;
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", ns, "route", "add", "default", "via", &gateway.to_string()])?;
        }
        Ok(())
    }

    /// How many nodes it has namespaces for.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it has no node namespace (never: at least one is made).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The namespace of node `i`.
    pub fn netns(&self, i: usize) -> &str {
        &self.nodes[i]
    }

    /// Node `i`'s address, `10.213.{i+1}.2`.
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        assert!(i < self.nodes.len(), "no node {i} in a network of {}", self.nodes.len());
        Ipv4Addr::new(10, 213, i as u8 + 1, 2)
    }

    /// The hub's address on node `i`'s link, `10.213.{i+1}.1`.
    fn gateway(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, i as u8 + 1, 1)
    }

    /// A libp2p TCP listen address on node `i`'s address, port chosen by
    /// the system.
    pub fn tcp_listen(&self, i: usize) -> String {
        format!("/ip4/{}/tcp/0", self.addr(i))
    }

    /// `command` run in node `i`'s namespace (see [`in_netns`]).
    pub fn command(&self, i: usize, command: &Command) -> Command {
        in_netns(self.netns(i), command)
    }

    /// Node `i`'s subnet, as a policy rule names it.
    fn subnet(&self, i: usize) -> String {
        format!("{}/24", Ipv4Addr::new(10, 213, i as u8 + 1, 0))
    }

    /// Cuts every link between a node of `side_a` and a node of `side_b`,
    /// both directions: the hub drops their packets silently. Links
    /// already cut stay cut.
    pub fn cut(&mut self, side_a: &[usize], side_b: &[usize]) {
        for &a in side_a {
            for &b in side_b {
                assert_ne!(a, b, "node {a} cannot be cut from itself");
                for (from, to) in [(a, b), (b, a)] {
                    if self.cut.insert((from, to)) {
                        let (src, dst) = (self.subnet(from), self.subnet(to));
                        ip_ok(&["-n", &self.hub, "rule", "add", "from", &src, "to", &dst, "blackhole"]);
                    }
                }
            }
        }
    }

    /// Cuts node `i` from every other node.
    pub fn isolate(&mut self, i: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|&j| j != i).collect();
        self.cut(&[i], &others);
    }

    /// Restores every cut link.
    pub fn heal(&mut self) {
        for (from, to) in std::mem::take(&mut self.cut) {
            let (src, dst) = (self.subnet(from), self.subnet(to));
            ip_ok(&["-n", &self.hub, "rule", "del", "from", &src, "to", &dst, "blackhole"]);
        }
    }

    /// Whether the link from node `from` to node `to` is cut.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cut.contains(&(from, to))
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace destroys its end of each veth pair and with
        // it the other end. Errors are ignored: a step of `build` may have
        // failed before a name was made.
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_netns_wraps_program_arguments_and_environment() {
        let mut inner = Command::new("/bin/chorus");
        inner.args(["--data-dir", "/tmp/x", "status"]).env("CHORUS_LOG", "info").env_remove("CHORUS_MDNS");
        let wrapped = in_netns("chorus-test-1-0-n0", &inner);
        let args: Vec<_> = wrapped.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["netns", "exec", "chorus-test-1-0-n0", "/bin/chorus", "--data-dir", "/tmp/x", "status"]);
        let envs: Vec<_> = wrapped.get_envs().collect();
        assert!(envs.contains(&("CHORUS_LOG".as_ref(), Some("info".as_ref()))), "{envs:?}");
        assert!(envs.contains(&("CHORUS_MDNS".as_ref(), None)), "{envs:?}");
    }

    #[test]
    fn stale_names_are_told_by_their_process_id() {
        assert_eq!(creator("chorus-test-4242-0-hub"), Some(4242));
        assert_eq!(creator("chorus-test-17-3-n12"), Some(17));
        assert_eq!(creator("chorus-test-x-0-hub"), None);
        assert_eq!(creator("other-4242-0-hub"), None);
    }

    #[test]
    fn a_network_is_removed_when_its_test_panics() {
        let made = std::panic::catch_unwind(|| {
            let mut net = match Network::try_create(2) {
                Ok(net) => net,
                Err(why) if !Network::required() => return Err(why),
                Err(why) => panic!("{why}"),
            };
            let names = vec![net.netns(0).to_string(), net.netns(1).to_string(), net.hub.clone()];
            let listed = namespaces();
            assert!(names.iter().all(|n| listed.contains(n)), "{names:?} not all in {listed:?}");
            net.cut(&[0], &[1]);
            assert!(net.is_cut(0, 1) && net.is_cut(1, 0));
            net.heal();
            assert!(!net.is_cut(0, 1));
            net.isolate(1);
            std::panic::panic_any(names)
        });
        let names = match made {
            Ok(Err(why)) => return println!("skipped, no network namespaces here: {why}"),
            Ok(Ok(())) => unreachable!("the closure panics or skips"),
            Err(payload) => *payload.downcast::<Vec<String>>().expect("the names, or a failure"),
        };
        let listed = namespaces();
        assert!(names.iter().all(|n| !listed.contains(n)), "{names:?} left in {listed:?}");
    }
}
