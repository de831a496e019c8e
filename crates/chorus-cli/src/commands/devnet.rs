//! `chorus devnet`: N nodes in this process on loopback, walked through
//! founding, a draft proposal with a comment, the author opening voting,
//! endorsements and an objection over the real network, adoption and an
//! offline certificate check, narrating each step.
//!
//! Each node has its own data directory (a temporary one unless `--dir`),
//! its own keys and control socket, and listens on `127.0.0.1` with an
//! OS-chosen TCP port; nodes 1.. bootstrap from node 0. Founding uses the
//! same library calls as `chorus coalition draft/sign/finalize`, and every
//! proposal and endorsement goes through each node's control socket exactly
//! as the CLI sends it. To keep the demo to about a second, gossip heartbeat
//! is 200 ms, sync runs every second, and the stores skip fsync (their data
//! is thrown away). Every wait has a timeout (`--step-timeout`) and fails
//! naming the step and the last state seen.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{Keypair, ObjectId, Stance};
use chorus_node::config::Config;
use chorus_node::control::{Client, ProposalSummary, Request, StatusInfo};
use chorus_node::daemon::{Node, StartOptions};
use chorus_node::datadir::DataDir;
use chorus_node::founding::{self, thousands};

use crate::deliberation;
use crate::leader;
use crate::output::{print_stdout, Output};

/// Arguments of `chorus devnet`.
#[derive(clap::Args, Debug)]
pub struct DevnetArgs {
    /// Number of nodes (each a member trust), 1 to 16.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    nodes: u32,
    /// Exit after the demo (0 if every step succeeded) instead of running on.
    #[arg(long)]
    exit: bool,
    /// Also write the certificate to FILE.
    #[arg(long, value_name = "FILE")]
    certificate_out: Option<PathBuf>,
    /// Keep the nodes' data in DIR (must not exist) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Seconds each step may take before the demo fails.
    #[arg(long, default_value_t = 30)]
    step_timeout: u64,
    /// Serve node-0's website on this loopback port (0: any free port).
    #[arg(long, default_value_t = 0)]
    http_port: u16,
}

/// A member trust of the demo coalition, with what it declares about itself.
struct DemoTrust {
    name: &'static str,
    region: &'static str,
    phase: &'static str,
    trust_type: &'static str,
    schools: u32,
    pupils: u32,
    la: &'static str,
}

const fn trust(
    name: &'static str,
    region: &'static str,
    phase: &'static str,
    trust_type: &'static str,
    schools: u32,
    pupils: u32,
    la: &'static str,
) -> DemoTrust {
    DemoTrust { name, region, phase, trust_type, schools, pupils, la }
}

const MAT: &str = "multi-academy trust";
const SAT: &str = "single-academy trust";
const FEDERATION: &str = "local-authority federation";
const DIOCESAN: &str = "diocesan";

/// The demo's trusts, spread over England's regions and phases.
const DEMO: [DemoTrust; 16] = [
    trust("Oak Valley Academy Trust", "North East", "secondary", MAT, 14, 9_200, "Newcastle upon Tyne"),
    trust("Riverside Learning Partnership", "Yorkshire and the Humber", "primary", MAT, 9, 2_200, "Leeds"),
    trust("Northfield Schools Trust", "North West", "all-through", MAT, 6, 5_400, "Manchester"),
    trust("Meadow Lane Education Trust", "East Midlands", "primary", SAT, 1, 420, "Nottinghamshire"),
    trust("Harbour Academies", "South West", "secondary", MAT, 8, 7_100, "Plymouth"),
    trust("Hillcrest Multi-Academy Trust", "West Midlands", "primary", MAT, 21, 6_300, "Birmingham"),
    trust("Greenway Learning Trust", "East of England", "special", MAT, 5, 640, "Norfolk"),
    trust("Stonebridge Schools", "London", "secondary", SAT, 1, 1_450, "Hackney"),
    trust("Willow Education Partnership", "South East", "primary", DIOCESAN, 17, 3_900, "Kent"),
    trust("Kingsmead Academy Trust", "London", "all-through", MAT, 4, 4_800, "Newham"),
    trust("Ashford Learning Community", "South East", "alternative provision", FEDERATION, 3, 180, "Kent"),
    trust("Brookside Trust", "North West", "primary", FEDERATION, 2, 560, "Lancashire"),
    trust("Cedar Park Schools", "Yorkshire and the Humber", "post-16", SAT, 1, 1_900, "Sheffield"),
    trust("Elmwood Education", "West Midlands", "secondary", DIOCESAN, 7, 6_800, "Coventry"),
    trust("Foxhill Academies", "East Midlands", "special", MAT, 4, 520, "Derby"),
    trust("Lakeside Learning Trust", "North East", "primary", DIOCESAN, 11, 2_700, "County Durham"),
];

const REGIONS: [&str; 9] = [
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
];
const PHASES: [&str; 6] = ["primary", "secondary", "all-through", "special", "alternative provision", "post-16"];
const TRUST_TYPES: [&str; 4] = [MAT, SAT, FEDERATION, DIOCESAN];

/// The demo's breadth rule, met by the endorsers (trusts 0 and 1, in two
/// regions, endorse whenever there are two trusts or more).
const BREADTH: &str = "positions:region>=2";

impl DemoTrust {
    fn spec(&self, key: String) -> founding::MemberSpec {
        founding::MemberSpec {
            region: Some(self.region.into()),
            phase: Some(self.phase.into()),
            trust_type: Some(self.trust_type.into()),
            schools: Some(i64::from(self.schools)),
            pupils: Some(i64::from(self.pupils)),
            labels: vec![format!("la:{}", self.la)],
            ..founding::MemberSpec::new(self.name, key)
        }
    }

    fn described(&self) -> String {
        format!(
            "{}, {}, {}, {} school{}, {} pupils",
            self.region,
            self.phase,
            self.trust_type,
            self.schools,
            if self.schools == 1 { "" } else { "s" },
            thousands(u64::from(self.pupils))
        )
    }
}

struct Narrator {
    quiet: bool,
    step: u32,
    started: Instant,
}

impl Narrator {
    fn step(&mut self, text: &str) {
        self.step += 1;
        self.say(&format!("[{:>5.1}s] {}. {text}", self.started.elapsed().as_secs_f64(), self.step));
    }
    fn say(&self, text: &str) {
        if self.quiet {
            eprintln!("{text}");
        } else {
            let _ = print_stdout(&format!("{text}\n"));
        }
    }
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after
/// `timeout` naming the step and the last state seen.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<Option<T>, String>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer yet");
    loop {
        match check() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            bail!("{what} did not happen within {} s (last state: {last})", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the demo.
pub fn run(args: DevnetArgs, json: bool) -> Result<Output> {
    let n = args.nodes as usize;
    let timeout = Duration::from_secs(args.step_timeout.max(1));
    let mut say = Narrator { quiet: json, step: 0, started: Instant::now() };
    let (root, _temp) = match &args.dir {
        Some(d) => {
            if d.exists() {
                bail!("{} already exists; give a new directory to --dir", d.display());
            }
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            (d.clone(), None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("chorus-devnet-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };

    say.step(&format!("Creating {n} member trusts, each with its own node, in {}", root.display()));
    let mut dirs = Vec::with_capacity(n);
    let mut keys: Vec<Keypair> = Vec::with_capacity(n);
    for (i, t) in DEMO.iter().take(n).enumerate() {
        let dd = DataDir::new(root.join(format!("node-{i}")));
        let r = dd.init(t.name)?;
        say.say(&format!("      {} ({}): trust key {}", t.name, t.described(), &r.trust_key[..16]));
        keys.push(dd.trust_key()?);
        dirs.push(dd);
    }

    say.step("Founding the coalition offline: one founder drafts the genesis, every founder countersigns it");
    let spec = founding::DraftSpec {
        name: "Devnet Schools Coalition".into(),
        rule: Some("1/2".into()),
        members: keys.iter().zip(&DEMO).map(|(k, t)| t.spec(k.public().to_hex())).collect(),
        regions: REGIONS.iter().map(|r| r.to_string()).collect(),
        phases: PHASES.iter().map(|r| r.to_string()).collect(),
        trust_types: TRUST_TYPES.iter().map(|r| r.to_string()).collect(),
        school_bands: Vec::new(),
        // One trust alone cannot show two regions.
        breadth: if n >= 2 { vec![BREADTH.into()] } else { Vec::new() },
        observers: None,
    };
    let mut draft = founding::draft(&spec, &keys[0], chorus_node::daemon::now_ms())?;
    for k in &keys[1..] {
        draft = founding::sign(&draft, k)?;
    }
    let (final_draft, coalition) = founding::finalize(std::slice::from_ref(&draft))?;
    for dd in &dirs {
        chorus_node::datadir::write_atomic(&dd.genesis_path(), final_draft.envelope.bytes(), 0o600)?;
    }
    let required = coalition.charter().positions.required(n);
    say.say(&format!(
        "      coalition {} ({}), adoption needs {required} of {n} endorsements",
        coalition.name(),
        coalition.id().short(16)
    ));
    say.say(&format!(
        "      its charter lists {} regions, {} phases and {} trust types{}",
        REGIONS.len(),
        PHASES.len(),
        TRUST_TYPES.len(),
        coalition
            .charter()
            .breadth
            .positions
            .iter()
            .map(|b| format!("; a position also needs {b}"))
            .collect::<String>()
    ));

    say.step("Starting the nodes on 127.0.0.1 (real TCP, libp2p with Noise and Yamux)");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    let result = (|| -> Result<Output> {
        let mut bootstrap: Vec<String> = Vec::new();
        for (i, dd) in dirs.iter().enumerate() {
            let config = Config {
                trust_name: DEMO[i].name.into(),
                // node-0 serves the website, everything published (loopback).
                http_addr: (i == 0).then(|| std::net::SocketAddr::from(([127, 0, 0, 1], args.http_port))),
                listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
                bootstrap: bootstrap.clone(),
                mdns: false,
                cache_mb: 8,
                log_level: "warn".into(),
                sync_interval_ms: 1_000,
                heartbeat_ms: 200,
                ..Config::default()
            };
            let node = rt.block_on(Node::start(dd.clone(), config, StartOptions { no_fsync: true }))?;
            if i == 0 {
                bootstrap = wait_for("the first node listening", timeout, || {
                    let addrs = rt.block_on(node.dial_addrs());
                    Ok((!addrs.is_empty()).then_some(addrs))
                })?;
            }
            say.say(&format!("      node-{i} {} ({})", node.peer_id(), DEMO[i].name));
            nodes.push(node);
        }
        let clients: Vec<Client> = dirs.iter().map(|d| Client::new(d.socket_path())).collect();

        if n > 1 {
            say.step("Waiting for every node to connect to a peer and prove its trust's membership");
            for (i, c) in clients.iter().enumerate() {
                wait_for(&format!("node-{i} connecting to a peer"), timeout, || {
                    let s: StatusInfo = c.call(&Request::Status).map_err(|e| e.to_string())?;
                    Ok((s.peers >= 1).then_some(()))
                })?;
            }
        }

        say.step(&format!("{} proposes a position on node-0, as a draft for discussion", DEMO[0].name));
        let title = "Shared statement on fair school funding";
        let body = "The member trusts of this coalition call for a funding formula that \
                    follows the pupil, published three years ahead.\n";
        let drafting = leader::Drafting { draft: true, ..leader::Drafting::default() };
        let env = leader::propose_envelope(
            &clients[0],
            &keys[0],
            keys[0].public(),
            leader::ProposalFields { title, body, closes_at_ms: None, action: None, drafting: &drafting },
        )?;
        let pid: ObjectId = leader::submit(&clients[0], &env)?.id;
        say.say(&format!("      draft {}: {title:?} (open for comments; voting not open yet)", pid.short(16)));

        // With three trusts or more, the last one objects, with its reason,
        // so the record shows dissent; every other trust endorses, and the
        // author too when the others alone cannot reach the threshold.
        let objector = (n >= 3).then_some(n - 1);
        let mut endorsers: Vec<usize> = (1..n).filter(|i| Some(*i) != objector).collect();
        if endorsers.len() < required {
            endorsers.push(0);
        }
        // The draft is discussed where the commenter is: the second trust
        // when there is one.
        let commenter = usize::from(n > 1);
        if n > 1 {
            wait_for(&format!("the draft reaching node-{commenter}"), timeout, || {
                let list: Vec<ProposalSummary> =
                    clients[commenter].call(&Request::Proposals).map_err(|e| e.to_string())?;
                Ok(list.iter().any(|p| p.id == pid).then_some(()))
            })?;
        }
        say.step(&format!("{} comments on the draft through its own node", DEMO[commenter].name));
        let text = "Could the statement name the three-year notice as a minimum, not a target?";
        let signer = leader::Signer { key: keys[commenter].clone(), trust: keys[commenter].public(), delegation: None };
        let roster = leader::roster(&clients[commenter])?;
        let env = deliberation::comment_envelope(&coalition, &roster, &signer, pid, text, None, None)?;
        let r = leader::submit(&clients[commenter], &env)?;
        say.say(&format!("      comment {}: {text:?}", r.id.short(12)));

        say.step(&format!("{} opens voting on node-0", DEMO[0].name));
        let env = deliberation::open_voting_envelope(&coalition, &keys[0], keys[0].public(), pid)?;
        let r = leader::submit(&clients[0], &env)?;
        say.say(&format!("      open-voting {}: stances signed from now on count", r.id.short(12)));
        if n > 1 {
            say.step("Waiting for every node to see voting open");
        }
        for (i, c) in clients.iter().enumerate() {
            wait_for(&format!("node-{i} seeing voting open"), timeout, || {
                let list: Vec<ProposalSummary> = c.call(&Request::Proposals).map_err(|e| e.to_string())?;
                match list.iter().find(|p| p.id == pid) {
                    Some(p) if p.status == "open" || p.status == "adopted" => Ok(Some(())),
                    Some(p) => Err(format!("status {}", p.status)),
                    None => Err("proposal not known yet".into()),
                }
            })?;
        }
        say.step(&format!("{} trust(s) endorse it, each through its own node", endorsers.len()));
        for &i in &endorsers {
            let checked = leader::fetch_checked(&clients[i], &coalition, &pid.to_hex())?;
            let roster = leader::roster(&clients[i])?;
            let signer = leader::Signer { key: keys[i].clone(), trust: keys[i].public(), delegation: None };
            let env = leader::stance_envelope(
                &coalition,
                &roster,
                &signer,
                checked.id,
                Stance::Endorse,
                Some(format!("Endorsed by {}", DEMO[i].name)),
            )?;
            let r = leader::submit(&clients[i], &env)?;
            say.say(&format!("      {} endorsed on node-{i} ({})", DEMO[i].name, r.id.short(12)));
        }

        if let Some(i) = objector {
            say.step(&format!("{} objects, with its reason, through its own node", DEMO[i].name));
            let checked = leader::fetch_checked(&clients[i], &coalition, &pid.to_hex())?;
            let roster = leader::roster(&clients[i])?;
            let signer = leader::Signer { key: keys[i].clone(), trust: keys[i].public(), delegation: None };
            let reason = "We support fair funding, but three years' notice is too short for small rural schools \
                          to plan; we ask for five.";
            let env = leader::stance_envelope(
                &coalition,
                &roster,
                &signer,
                checked.id,
                Stance::Object,
                Some(reason.to_string()),
            )?;
            let r = leader::submit(&clients[i], &env)?;
            say.say(&format!("      {} objected on node-{i} ({}): {reason:?}", DEMO[i].name, r.id.short(12)));
        }

        say.step("Waiting until every node sees the proposal adopted as a position");
        for (i, c) in clients.iter().enumerate() {
            wait_for(&format!("node-{i} seeing the position"), timeout, || {
                let list: Vec<ProposalSummary> = c.call(&Request::Positions).map_err(|e| e.to_string())?;
                if list.iter().any(|p| p.id == pid) {
                    return Ok(Some(()));
                }
                let all: Vec<ProposalSummary> = c.call(&Request::Proposals).map_err(|e| e.to_string())?;
                let t = all
                    .iter()
                    .find(|p| p.id == pid)
                    .map(|p| format!("{} of {} endorsements", p.tally.endorse, p.tally.required));
                Err(t.unwrap_or_else(|| "proposal not known yet".into()))
            })?;
            say.say(&format!("      node-{i}: adopted"));
        }

        let last = n - 1;
        say.step(&format!("Exporting the certificate from node-{last} and verifying it offline"));
        let cert: chorus_node::control::CertificateResult =
            clients[last].call(&Request::Certificate { id: pid.to_hex(), seal: true })?;
        let bytes = hex::decode(&cert.certificate).context("certificate is not hex")?;
        let verified = chorus_core::certificate::verify(&bytes, Some(coalition.id()))
            .map_err(|e| anyhow!("the certificate does not verify: {e}"))?;
        say.say(&format!(
            "      VALID: {:?} endorsed by {} of {} members ({} needed)",
            verified.proposal.title,
            verified.endorsers.len(),
            verified.members,
            verified.required
        ));
        say.say(&format!("      breadth: {}", verified.breakdown.endorsed_line()));
        for d in &verified.objectors {
            say.say(&format!("      objected: {} ({})", d.name, d.comment.as_deref().unwrap_or("no reason given")));
        }
        say.say(&format!("      {}", verified.dissent_note()));
        if let Some(out) = &args.certificate_out {
            chorus_node::datadir::write_atomic(out, &bytes, 0o644)?;
            say.say(&format!(
                "      wrote {}; check it with `chorus verify {} --coalition {}`",
                out.display(),
                out.display(),
                coalition.id()
            ));
        }
        let website = nodes[0].web_addr().map(|a| format!("http://{a}/"));
        if let Some(addr) = nodes[0].web_addr() {
            say.step("Reading the position on node-0's website");
            let page = format!("proposals/{}.html", pid.to_hex());
            // The page follows the node's objects: wait for the objection
            // to reach node-0 and show on the page with its reason.
            wait_for("the position page on node-0's website", timeout, || {
                let (status, html) = http_get(addr, &page).map_err(|e| e.to_string())?;
                if status != 200 || !html.contains(title) {
                    return Err(format!("HTTP {status}"));
                }
                let shown = objector.is_none() || html.contains("we ask for five");
                Ok(shown.then_some(()))
            })?;
            say.say(&format!(
                "      http://{addr}/{page}: the position{}; its certificate is verified in the reader's browser",
                if objector.is_some() { " with the objection and its reason" } else { "" }
            ));
        }
        say.say(&format!(
            "Done in {:.1} s: the coalition adopted a position and the certificate verifies.",
            say.started.elapsed().as_secs_f64()
        ));
        let summary = serde_json::json!({
            "ok": true,
            "nodes": n,
            "coalition": coalition.id(),
            "proposal": pid,
            "endorsements": verified.endorsers.len(),
            "required": verified.required,
            "certificate_bytes": bytes.len(),
            "breadth": verified.breakdown.endorsed_line(),
            "objectors": verified.objectors.len(),
            "sealed": verified.seal.is_some(),
            "breakdown": verified.breakdown,
            "certificate_out": args.certificate_out,
            "website": website,
            "data_dirs": dirs.iter().map(|d| d.root().to_path_buf()).collect::<Vec<_>>(),
        });
        Ok(Output { json: summary, human: String::new() })
    })();

    let out = match result {
        Ok(out) if !args.exit => {
            if let Some(addr) = nodes.first().and_then(Node::web_addr) {
                say.say(&format!(
                    "\nnode-0's website (everything published, verified in your browser): http://{addr}/"
                ));
            }
            say.say("\nThe nodes keep running. Point the CLI at any of them, for example:");
            for dd in &dirs {
                say.say(&format!("  chorus --data-dir {} status", dd.root().display()));
            }
            say.say(&format!("  chorus --data-dir {} proposals", dirs[0].root().display()));
            say.say("Press Ctrl-C (or send SIGTERM) to stop them; their data is then removed unless you gave --dir.");
            rt.block_on(chorus_node::daemon::wait_for_signal());
            Ok(out)
        }
        other => other,
    };
    say.say("Stopping the nodes");
    for node in nodes {
        let _ = rt.block_on(node.shutdown());
    }
    out.map_err(|e| anyhow!("devnet failed at step {}: {e:#}", say.step))
}

/// A plain HTTP/1.1 GET on loopback: the status and the body as text.
fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to the website on {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.take(64 * 1024 * 1024).read_to_end(&mut raw).context("reading the website's answer")?;
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}
