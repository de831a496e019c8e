//! Links between real `chorus node run` processes cut and healed: five
//! nodes in a full mesh, each in its own network namespace, are split 2|3
//! by silently dropping every packet between the sides (no RST, no ICMP,
//! as a failed link would), once for each cut length. During a cut each
//! side makes an object, which reaches its own side and not the other;
//! the test records when each node notices the cut (its member peers
//! drop to its own side). After the heal every node must be back at its
//! peer target (every other node), and an object made right after the
//! heal, like those made during the cut, must reach every node within
//! [`HEAL_DELIVERY_BOUND`], whatever the cut's length. The figures
//! (detection, back at target, heal to delivery) are printed; run with
//! `--nocapture` to see them.
//!
//! Making namespaces needs root and `ip` (iproute2); anywhere else the
//! test passes, printing why it skipped. Environment:
//! - `CHORUS_NETNS=off` skips it even as root, `CHORUS_NETNS=require`
//!   fails it where namespaces cannot be made instead of skipping;
//! - `CHORUS_CUT_SECS` sets the cut lengths in seconds, comma separated
//!   (default `10,45`; `30,300` for the figures of a longer run).
//!
//! The namespaces are named after this process and removed when the test
//! ends, fails or panics (and, if it was killed, by the next run).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chorus_system_tests::{chorus, found, status, Network, Nodes};

/// The trusts, one node each.
const NAMES: [&str; 5] = ["Oak Trust", "Elm Trust", "Ash Trust", "Yew Trust", "Fir Trust"];

/// The two sides of every cut (indices into [`NAMES`]).
const SIDE_A: [usize; 2] = [0, 1];
const SIDE_B: [usize; 3] = [2, 3, 4];

/// Longest an object may take to reach every node after a heal, whatever
/// the length of the cut: dead connections already closed, redial within
/// its back-off (at most about 8 s), then a sync round or gossip; or, for
/// a cut shorter than the dead-connection timeout, the old connections
/// coming back on their own. Generous for a loaded 2-core machine.
const HEAL_DELIVERY_BOUND: Duration = Duration::from_secs(30);

/// Longest a node may take to notice a cut (its connections across it
/// closed by failed pings, about 9 s after the last answer, seen by a poll
/// of every node's status); checked for cuts longer than this. Generous for
/// a loaded 2-core machine: it tells "noticed" from "never noticed".
const DETECTION_BOUND: Duration = Duration::from_secs(30);

/// Cut lengths when `CHORUS_CUT_SECS` is not set.
const DEFAULT_CUT_SECS: [u64; 2] = [10, 45];

/// Time between two looks at every node during a cut.
const CUT_POLL: Duration = Duration::from_millis(250);

fn cut_lengths() -> Vec<Duration> {
    let Ok(spec) = std::env::var("CHORUS_CUT_SECS") else {
        return DEFAULT_CUT_SECS.iter().map(|&s| Duration::from_secs(s)).collect();
    };
    spec.split(',')
        .map(|s| match s.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Duration::from_secs(secs),
            _ => panic!("CHORUS_CUT_SECS={spec:?}: expected positive whole seconds, comma separated"),
        })
        .collect()
}

/// The namespaces for the nodes, or `None` (having said why) when the test
/// must skip.
fn network() -> Option<Network> {
    match Network::try_create(NAMES.len()) {
        Ok(net) => Some(net),
        Err(why) if !Network::required() => {
            println!("heal: skipped, no network namespaces here: {why}");
            None
        }
        Err(why) => panic!("CHORUS_NETNS=require, but no network namespaces here: {why}"),
    }
}

/// Starts a node per namespace, each listening on its namespace's address,
/// aiming at every other node as a peer and bootstrapping from those
/// started before it; returns once each has every other as a member peer.
fn start_mesh(nodes: &mut Nodes, net: &Network, dirs: &[PathBuf]) {
    let target = (dirs.len() - 1).to_string();
    let mut known: Vec<String> = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let listen = net.tcp_listen(i);
        let env = [("CHORUS_LISTEN", listen.as_str()), ("CHORUS_TARGET_PEERS", target.as_str())];
        nodes.start_in_netns(net.netns(i), d, &known, &env);
        known.extend(nodes.wait_listening(d));
    }
    for d in dirs {
        nodes.wait_peers(d, dirs.len() as u64 - 1);
    }
}

/// Proposes an object at the node of `dir`; its id.
fn propose(root: &Path, dir: &Path, title: &str) -> String {
    let body = root.join("body.md");
    std::fs::write(&body, format!("{title}.\n")).unwrap();
    let id = chorus(dir, &["propose", "--title", title, "--body-file", body.to_str().unwrap()]).ok().stdout;
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "propose prints the id: {id}");
    id
}

/// What one node reports now.
struct Seen {
    /// Member peers, if it answered.
    peers: Option<u64>,
    /// Which of the ids asked about it holds.
    holds: Vec<bool>,
}

/// Asks every node for its peers and whether it holds each of `ids`.
fn observe(dirs: &[PathBuf], ids: &[&str]) -> Vec<Seen> {
    dirs.iter()
        .map(|d| {
            let peers = status(d).and_then(|s| s["peers"].as_u64());
            let r = chorus(d, &["proposals", "--json"]);
            let holds = ids.iter().map(|id| r.code == 0 && r.stdout.contains(id)).collect();
            Seen { peers, holds }
        })
        .collect()
}

/// Fails with its log if a node has exited.
fn check_running(nodes: &mut Nodes, dirs: &[PathBuf]) {
    for d in dirs {
        let process = nodes.node(d).process();
        if let Some(status) = process.exited() {
            panic!("{} exited ({status})\n{}", process.name(), process.log_tail());
        }
    }
}

/// Seconds with a tenth, for the figures.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// What one cut and heal measured.
struct Figures {
    cut: Duration,
    /// When each node noticed the cut (peers down to its own side), from
    /// the cut; `None` if not before the heal.
    detected: Vec<Option<Duration>>,
    /// From the cut until each side held its own side's object.
    own_side_delivery: Duration,
    /// From the heal until every node was at its target at once.
    back_at_target: Duration,
    /// From the heal until every node held the object made after it.
    made_after_delivery: Duration,
    /// From the heal until every node held both objects made during it.
    made_during_delivery: Duration,
}

impl Figures {
    fn print(&self, target: u64) {
        let detected: Vec<String> =
            self.detected.iter().map(|d| d.map_or_else(|| "not before the heal".into(), secs)).collect();
        println!(
            "heal: cut of {} between {SIDE_A:?} and {SIDE_B:?}\n  \
             noticed by each node after: {}\n  \
             objects made during the cut on each side held by that side after {}\n  \
             after the heal: every node back at its target of {target} peers after {}, \
             the object made after the heal at every node after {}, \
             the objects made during the cut at every node after {}",
            secs(self.cut),
            detected.join(", "),
            secs(self.own_side_delivery),
            secs(self.back_at_target),
            secs(self.made_after_delivery),
            secs(self.made_during_delivery),
        );
    }
}

/// Cuts the mesh between [`SIDE_A`] and [`SIDE_B`] for `length`, making an
/// object on each side, then heals it, makes an object on side A, and
/// waits until every node is back at its target and holds all three.
fn cut_and_heal(
    nodes: &mut Nodes,
    net: &mut Network,
    root: &Path,
    dirs: &[PathBuf],
    round: usize,
    length: Duration,
) -> Figures {
    let target = dirs.len() as u64 - 1;
    for d in dirs {
        nodes.wait_peers(d, target);
    }
    let cut_at = Instant::now();
    net.cut(&SIDE_A, &SIDE_B);
    let (a, b) = (&dirs[SIDE_A[0]], &dirs[SIDE_B[0]]);
    let during_a = propose(root, a, &format!("Made on side A during cut {round}"));
    let during_b = propose(root, b, &format!("Made on side B during cut {round}"));
    let during = [during_a.as_str(), during_b.as_str()];
    let side_peers = |i: usize| if SIDE_A.contains(&i) { SIDE_A.len() - 1 } else { SIDE_B.len() - 1 } as u64;

    let mut detected = vec![None; dirs.len()];
    let mut own_side_delivery = None;
    let mut seen = observe(dirs, &during);
    while cut_at.elapsed() < length {
        check_running(nodes, dirs);
        let t = cut_at.elapsed();
        for (i, s) in seen.iter().enumerate() {
            if detected[i].is_none() && s.peers.is_some_and(|p| p <= side_peers(i)) {
                detected[i] = Some(t);
            }
        }
        if own_side_delivery.is_none()
            && SIDE_A.iter().all(|&i| seen[i].holds[0])
            && SIDE_B.iter().all(|&i| seen[i].holds[1])
        {
            own_side_delivery = Some(t);
        }
        std::thread::sleep(CUT_POLL.min(length.saturating_sub(cut_at.elapsed())));
        seen = observe(dirs, &during);
    }
    // The cut is real: nothing crossed it; and each side kept working.
    for &i in &SIDE_B {
        assert!(!seen[i].holds[0], "side A's object crossed the cut to {}", NAMES[i]);
    }
    for &i in &SIDE_A {
        assert!(!seen[i].holds[1], "side B's object crossed the cut to {}", NAMES[i]);
    }
    // On a loaded machine the two proposals alone can take most of a short
    // cut: the cut then lasts until each side holds its own object (the
    // figures say how long it really lasted).
    let own_side_delivery = match own_side_delivery {
        Some(t) => t,
        None => {
            let what = format!("objects made during cut {round} held by their own side while it lasts");
            nodes.eventually(&what, || {
                let seen = observe(dirs, &during);
                let own = SIDE_A.iter().all(|&i| seen[i].holds[0]) && SIDE_B.iter().all(|&i| seen[i].holds[1]);
                own.then_some(())
            });
            cut_at.elapsed()
        }
    };

    let cut_lasted = cut_at.elapsed();
    net.heal();
    let healed_at = Instant::now();
    let after = propose(root, a, &format!("Made on side A after heal {round}"));
    let ids = [during_a.as_str(), during_b.as_str(), after.as_str()];
    let mut back_at_target = None;
    let mut delivered = [None; 3];
    let what = format!("every node back at {target} peers and holding every object after cut {round}");
    nodes.eventually(&what, || {
        let seen = observe(dirs, &ids);
        let t = healed_at.elapsed();
        if back_at_target.is_none() && seen.iter().all(|s| s.peers.is_some_and(|p| p >= target)) {
            back_at_target = Some(t);
        }
        for (k, when) in delivered.iter_mut().enumerate() {
            if when.is_none() && seen.iter().all(|s| s.holds[k]) {
                *when = Some(t);
            }
        }
        (back_at_target.is_some() && delivered.iter().all(Option::is_some)).then_some(())
    });
    let [during_a_at, during_b_at, after_at] = delivered.map(|d| d.expect("waited for"));
    Figures {
        cut: cut_lasted,
        detected,
        own_side_delivery,
        back_at_target: back_at_target.expect("waited for"),
        made_after_delivery: after_at,
        made_during_delivery: during_a_at.max(during_b_at),
    }
}

#[test]
fn after_a_cut_heals_every_node_is_back_at_its_target_and_delivery_is_bounded() {
    let lengths = cut_lengths();
    let tmp = tempfile::tempdir().unwrap();
    // Declared before the nodes, so dropped after them.
    let Some(mut net) = network() else { return };
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &NAMES);
    let target = dirs.len() as u64 - 1;
    let mut nodes = Nodes::new();
    start_mesh(&mut nodes, &net, &dirs);

    for (round, &length) in lengths.iter().enumerate() {
        let figures = cut_and_heal(&mut nodes, &mut net, root, &dirs, round, length);
        figures.print(target);
        assert!(
            figures.made_after_delivery <= HEAL_DELIVERY_BOUND,
            "after a cut of {}, the object made after the heal took {} to reach every node (bound {})",
            secs(length),
            secs(figures.made_after_delivery),
            secs(HEAL_DELIVERY_BOUND),
        );
        assert!(
            figures.made_during_delivery <= HEAL_DELIVERY_BOUND,
            "after a cut of {}, the objects made during it took {} to reach every node (bound {})",
            secs(length),
            secs(figures.made_during_delivery),
            secs(HEAL_DELIVERY_BOUND),
        );
        if length > DETECTION_BOUND {
            for (i, d) in figures.detected.iter().enumerate() {
                assert!(
                    d.is_some_and(|d| d <= DETECTION_BOUND),
                    "{} did not notice a cut of {} within {}",
                    NAMES[i],
                    secs(length),
                    secs(DETECTION_BOUND)
                );
            }
        }
    }
}
