//! `chorus`: one binary for everyone who deals with a Chorus coalition.
//!
//! - Trust IT: `init`, `coalition ...`, `node run`, `status`, `peers`,
//!   `export`, `import`.
//! - Leaders: `propose`, `proposals`, `show`, `endorse`, `positions`.
//! - Governance: `roster`, `member admit|remove`, `charter amend`,
//!   `member replace-key`, `trust-key install`, `delegate`, `revoke`,
//!   `rotate-key`, `leader-key`, `keygen`.
//! - Auditors: `certificate`, `verify` (offline, no node needed).
//! - Everyone's first command: `devnet`.
//!
//! Exit codes: 0 success, 1 failure (or an invalid certificate), 2 usage
//! error. Every command that prints data accepts `--json`. Errors are one
//! line on stderr saying what went wrong and what to do.

mod devnet;
mod governance;
mod leader;
mod output;
mod verify;

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::Stance;
use chorus_node::config::Config;
use chorus_node::control::{BackupResult, CertificateResult, Client, PeerInfo, ProposalSummary, Request, StatusInfo};
use chorus_node::datadir::{default_data_dir, write_atomic, DataDir};
use chorus_node::founding;
use clap::{Args, Parser, Subcommand};
use output::{emit, indent, time, Output};

/// A collective voice for a coalition of school trusts, with no central owner.
#[derive(Parser, Debug)]
#[command(name = "chorus", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    /// The node's data directory [default: $XDG_DATA_HOME/chorus or ~/.local/share/chorus].
    #[arg(long, global = true, env = "CHORUS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the data directory, the trust and node keys, and a commented config.
    Init {
        /// Display name of your trust, e.g. "Oak Valley Academy Trust".
        #[arg(long)]
        name: String,
    },
    /// Print this trust's public key (give it to the coalition's founders).
    Whoami,
    /// Found a coalition offline: draft, sign, finalize, show, join.
    #[command(subcommand)]
    Coalition(CoalitionCmd),
    /// Run the node daemon.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Node id, trust, coalition, peers, objects and last sync.
    Status,
    /// Connected peers.
    Peers,
    /// Connect to a peer now (a multiaddr ending in /p2p/<peer id>).
    Dial {
        /// The peer's address.
        addr: String,
    },
    /// Put a proposal to the coalition; prints its id.
    Propose {
        /// One-line title.
        #[arg(long)]
        title: String,
        /// Read the markdown body from FILE (`-` for stdin). Without it the
        /// body is read from stdin when piped, or written in $EDITOR.
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
        /// Close the proposal after this many days (default: never closes).
        #[arg(long, value_name = "DAYS")]
        closes_in_days: Option<u32>,
    },
    /// List proposals with their status and tally.
    Proposals,
    /// Show a proposal in full: text, every stance, status.
    Show {
        /// Proposal id or unique prefix.
        id: String,
    },
    /// Sign your trust's stance on a proposal (endorse unless told otherwise).
    Endorse(EndorseArgs),
    /// List adopted positions.
    Positions,
    /// Export a position's certificate.
    Certificate {
        /// Proposal id or unique prefix.
        id: String,
        /// Where to write it.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Verify a certificate offline (no node, no network).
    Verify {
        /// The certificate file.
        file: PathBuf,
        /// Require this coalition id (recommended: get it from your own node or the coalition's charter).
        #[arg(long, value_name = "ID")]
        coalition: Option<String>,
    },
    /// Write a backup of every object the node holds.
    Export {
        /// A new file.
        file: PathBuf,
    },
    /// Ingest every object of a backup file.
    Import {
        /// The backup file.
        file: PathBuf,
    },
    /// Write the coalition's website as static files, from the local node's
    /// objects: the same pages, feeds and certificates the node serves.
    Publish {
        /// Directory to write: new, empty, or written by an earlier publish.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The site's public address, for the absolute links of its feeds
        /// (e.g. https://voice.example.org/).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Publish every proposal and stance, not only adopted positions.
        #[arg(long)]
        everything: bool,
    },
    /// Start a demonstration coalition of N local nodes and walk it through a proposal.
    Devnet(devnet::DevnetArgs),
    /// The newest roster version: its id, charter and members.
    Roster,
    /// Propose admitting or removing a member trust, or replacing its lost key.
    #[command(subcommand)]
    Member(governance::MemberCmd),
    /// Propose new adoption rules.
    #[command(subcommand)]
    Charter(governance::CharterCmd),
    /// Delegate your trust's stances to a leader's key; prints the delegation id.
    Delegate(governance::DelegateArgs),
    /// Revoke a delegation; stances it signed stop counting unless kept.
    Revoke {
        /// The delegation id.
        delegation: String,
        /// A stance signed under the delegation that still counts; repeat.
        #[arg(long, value_name = "ID")]
        keep: Vec<String>,
    },
    /// Replace your trust key by a new one (the old key signs the rotation and is kept as a backup).
    RotateKey {
        /// Keep nothing the old key signed (default: keep everything it signed).
        #[arg(long)]
        drop_past: bool,
    },
    /// Create a key file for a leader (delegate); prints its public key.
    LeaderKey {
        /// A new file for the key.
        file: PathBuf,
    },
    /// Create a key file (e.g. a replacement trust key); prints its public key.
    Keygen {
        /// A new file for the key.
        file: PathBuf,
    },
    /// Install a replacement trust key adopted by the coalition.
    #[command(subcommand)]
    TrustKey(governance::TrustKeyCmd),
}

#[derive(Args, Debug)]
struct EndorseArgs {
    /// Proposal id or unique prefix.
    id: String,
    /// Record an objection instead.
    #[arg(long, conflicts_with = "abstain")]
    object: bool,
    /// Record an abstention instead.
    #[arg(long)]
    abstain: bool,
    /// A comment signed with the stance.
    #[arg(long)]
    comment: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    yes: bool,
    /// Sign as a leader with this key file (see `chorus delegate`), not with the trust key.
    #[arg(long, value_name = "KEYFILE", requires = "delegation")]
    as_leader: Option<PathBuf>,
    /// The delegation that lets the leader sign for your trust.
    #[arg(long, value_name = "ID", requires = "as_leader")]
    delegation: Option<String>,
}

#[derive(Subcommand, Debug)]
enum CoalitionCmd {
    /// Draft a genesis, signed by your trust. Members come from a TOML file or --member flags.
    Draft {
        /// TOML file: name, rule, and [[member]] entries with name, key, external_id.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "member"])]
        members: Option<PathBuf>,
        /// Coalition name (with --member).
        #[arg(long, required_unless_present = "members")]
        name: Option<String>,
        /// A founding member as "Trust name=HEXKEY"; repeat. Your own trust is added if missing.
        #[arg(long, value_name = "NAME=KEY")]
        member: Vec<String>,
        /// Adoption rule n/d: adopted when more than n/d of members endorse [default: 1/2].
        #[arg(long)]
        rule: Option<String>,
        /// Where to write the draft.
        #[arg(short, long, value_name = "FILE", default_value = "genesis-draft.chorus")]
        output: PathBuf,
    },
    /// Countersign a draft with your trust key (after showing what you sign).
    Sign {
        /// The draft file.
        file: PathBuf,
        /// Write the signed draft here instead of replacing FILE.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Merge signed drafts and write the final genesis once every founder has signed.
    Finalize {
        /// Signed draft(s) of the same genesis.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the final genesis.
        #[arg(short, long, value_name = "FILE", default_value = "genesis.chorus")]
        output: PathBuf,
    },
    /// Show a draft or final genesis: name, rule, founders and who has signed.
    Show {
        /// The file.
        file: PathBuf,
    },
    /// Configure this node with a final genesis.
    Join {
        /// The final genesis file.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum NodeCmd {
    /// Run the daemon in the foreground until SIGINT or SIGTERM.
    Run {
        /// Configuration file [default: <data dir>/config.toml].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Log format (overrides the config file).
        #[arg(long, value_parser = ["human", "json"])]
        log_format: Option<String>,
    },
}

/// A mistake in how the command was called: exit code 2.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// A certificate that did not verify: exit code 1, reason already printed.
#[derive(Debug)]
pub(crate) struct Invalid;
impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid")
    }
}
impl std::error::Error for Invalid {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(out) => match emit(&out, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write output: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) if e.is::<Invalid>() => ExitCode::FAILURE,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            if json {
                let _ = output::print_stdout(&format!("{}\n", serde_json::json!({ "error": msg })));
            }
            eprintln!("error: {msg}");
            ExitCode::from(if e.is::<Usage>() { 2 } else { 1 })
        }
    }
}

fn data_dir(cli: &Cli) -> DataDir {
    DataDir::new(cli.data_dir.clone().unwrap_or_else(default_data_dir))
}

fn client(dd: &DataDir) -> Result<Client> {
    dd.require_initialised()?;
    Ok(Client::new(dd.socket_path()))
}

fn run(cli: Cli) -> Result<Output> {
    let dd = data_dir(&cli);
    let json = cli.json;
    match cli.command {
        Command::Init { name } => {
            let r = dd.init(&name)?;
            let human = format!(
                "Created a node for {:?} in {}\n\
                 Trust key: {}\n\n\
                 Next: give your trust key to the coalition's founders, then either\n  \
                 chorus coalition draft ...   (if you are founding the coalition), or\n  \
                 chorus coalition sign FILE   (to countersign a draft you received), and finally\n  \
                 chorus coalition join genesis.chorus && chorus node run",
                r.trust_name,
                r.data_dir.display(),
                r.trust_key
            );
            Ok(Output::new(&r, human))
        }
        Command::Whoami => {
            let trust = dd.trust_id()?;
            let config = Config::load(&dd.config_path())?;
            let v = serde_json::json!({ "trust_name": config.trust_name, "trust_key": trust.to_hex() });
            Ok(Output { json: v, human: format!("{} {}", trust, config.trust_name) })
        }
        Command::Coalition(c) => coalition_cmd(&dd, c),
        Command::Node(NodeCmd::Run { config, log_format }) => {
            dd.require_initialised()?;
            let path = config.unwrap_or_else(|| dd.config_path());
            let mut config = Config::load(&path)?;
            if let Some(f) = log_format {
                config.log_format = f;
            }
            init_logging(&config.log_level, &config.log_format);
            let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            rt.block_on(chorus_node::daemon::run(dd, config))?;
            Ok(Output { json: serde_json::json!({ "stopped": true }), human: String::new() })
        }
        Command::Status => {
            let s: StatusInfo = client(&dd)?.call(&Request::Status)?;
            let human = format!(
                "node      {} (key {})\ntrust     {} ({}){}\ncoalition {} ({})\npeers     {}\nobjects   {} ({} proposals, {} positions)\nlast sync {}\nlisten    {}",
                s.node_id,
                s.node_key,
                s.trust_name,
                s.trust_key,
                if s.member { "" } else { " - not a member" },
                s.coalition_name,
                s.coalition,
                s.peers,
                s.objects,
                s.proposals,
                s.positions,
                s.last_sync_ms.map(time).unwrap_or_else(|| "never".into()),
                s.listen.join(" ")
            );
            let human = match &s.website {
                Some(w) => format!("{human}\nwebsite   {w}"),
                None => human,
            };
            Ok(Output::new(&s, human))
        }
        Command::Peers => {
            let peers: Vec<PeerInfo> = client(&dd)?.call(&Request::Peers)?;
            let human = if peers.is_empty() {
                "no peers connected".to_string()
            } else {
                peers
                    .iter()
                    .map(|p| {
                        let who = p.trust_name.clone().unwrap_or_else(|| "stranger (membership not proved)".into());
                        format!("{}  {}  {}", p.peer_id, who, p.addrs.join(" "))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Output::new(&peers, human))
        }
        Command::Dial { addr } => {
            client(&dd)?.call_value(&Request::Dial { addr: addr.clone() })?;
            Ok(Output { json: serde_json::json!({ "dialed": addr }), human: format!("dialing {addr}") })
        }
        Command::Propose { title, body_file, closes_in_days } => {
            let c = client(&dd)?;
            let (key, trust) = governance::trust_signer(&dd)?;
            let body = read_body(body_file.as_deref())?;
            let closes = closes_in_days.map(|d| chorus_node::daemon::now_ms() + u64::from(d) * 86_400_000);
            let r = leader::propose(&c, &key, trust, &title, &body, closes, None)?;
            if r.outcome == "waiting" {
                eprintln!("note: not stored yet: your node does not hold the objects this relies on; it stores it when they arrive");
            }
            Ok(Output::new(&r, r.id.to_hex()))
        }
        Command::Proposals | Command::Positions => {
            let positions = matches!(cli.command, Command::Positions);
            let req = if positions { Request::Positions } else { Request::Proposals };
            let list: Vec<ProposalSummary> = client(&dd)?.call(&req)?;
            let human = if list.is_empty() {
                if positions { "no positions adopted yet" } else { "no proposals yet" }.to_string()
            } else {
                list.iter()
                    .map(|p| {
                        format!(
                            "{}  {:<8} {}/{} endorse, {} object, {} abstain  {}  ({})",
                            p.id.short(12),
                            p.status,
                            p.tally.endorse,
                            p.tally.required,
                            p.tally.object,
                            p.tally.abstain,
                            p.title,
                            p.author_name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Output::new(&list, human))
        }
        Command::Show { id } => {
            let c = client(&dd)?;
            let (_, coalition) = leader::coalition(&c)?;
            let p = leader::fetch_checked(&c, &coalition, &id)?;
            let d = &p.detail;
            let mut h = format!(
                "{}\nid       {}\nauthor   {} ({})\ncreated  {}{}\nstatus   {} - {} of {} endorsements needed ({} members); {} object, {} abstain{}\nbody sha256 {}\n\n{}\n",
                p.proposal.title,
                p.id,
                p.author_name,
                p.proposal.author,
                time(p.proposal.created_at_ms),
                p.proposal.closes_at_ms.map(|c| format!("\ncloses   {}", time(c))).unwrap_or_default(),
                d.summary.status,
                d.summary.tally.endorse,
                d.summary.tally.required,
                d.summary.tally.members,
                d.summary.tally.object,
                d.summary.tally.abstain,
                if d.summary.tally.equivocations > 0 {
                    format!("; {} trust(s) signed conflicting stances", d.summary.tally.equivocations)
                } else {
                    String::new()
                },
                p.body_sha256,
                indent(&p.proposal.body, 4)
            );
            h.push_str("\nstances:\n");
            if d.stances.is_empty() {
                h.push_str("  none yet\n");
            }
            for s in &d.stances {
                h.push_str(&format!(
                    "  {:<8} {} ({}) {}{}{}\n",
                    s.stance.as_deref().unwrap_or("late"),
                    s.name,
                    &s.trust[..12],
                    time(s.created_at_ms),
                    if s.equivocated { " [equivocated]" } else { "" },
                    s.comment.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
                ));
            }
            Ok(Output::new(d, h))
        }
        Command::Endorse(a) => endorse(&dd, a),
        Command::Certificate { id, output } => {
            let r: CertificateResult = client(&dd)?.call(&Request::Certificate { id })?;
            let bytes = hex::decode(&r.certificate).context("the node sent a certificate that is not hex")?;
            write_atomic(&output, &bytes, 0o644)?;
            let v = serde_json::json!({ "proposal": r.proposal, "file": output, "bytes": bytes.len() });
            Ok(Output { json: v, human: format!("wrote the certificate of {} to {}", r.proposal, output.display()) })
        }
        Command::Verify { file, coalition } => verify::run(&file, coalition.as_deref(), json),
        Command::Export { file } => {
            let path = absolute(&file)?;
            let r: BackupResult = client(&dd)?.call(&Request::Export { path })?;
            Ok(Output::new(&r, format!("exported {} objects to {}", r.objects, r.path.display())))
        }
        Command::Import { file } => {
            let path = absolute(&file)?;
            let r: BackupResult = client(&dd)?.call(&Request::Import { path })?;
            Ok(Output::new(&r, format!("read {} objects: {} new, {} refused", r.objects, r.stored, r.refused)))
        }
        Command::Publish { out, base_url, everything } => {
            if let Some(u) = &base_url {
                chorus_node::config::check_base_url(u).map_err(|e| Usage(format!("--base-url: {e}")))?;
            }
            let dir = absolute(&out)?;
            let r: chorus_node::web::PublishResult =
                client(&dd)?.call(&Request::Publish { dir, base_url, everything })?;
            let what = if r.everything { "positions, proposals and stances" } else { "positions only" };
            Ok(Output::new(
                &r,
                format!(
                    "wrote the website to {}: {} files, {} bytes, {} positions ({what}){}",
                    r.dir.display(),
                    r.files,
                    r.bytes,
                    r.positions,
                    if r.removed > 0 {
                        format!("; removed {} files of the previous export", r.removed)
                    } else {
                        String::new()
                    }
                ),
            ))
        }
        Command::Devnet(args) => devnet::run(args, json),
        Command::Roster => governance::roster(&client(&dd)?),
        // The client only names the socket; arguments are checked before
        // the node is asked anything, so a usage error exits 2 either way.
        Command::Member(m) => governance::member(&dd, &Client::new(dd.socket_path()), m),
        Command::Charter(c) => governance::charter(&dd, &Client::new(dd.socket_path()), c),
        Command::Delegate(a) => governance::delegate(&dd, &Client::new(dd.socket_path()), a),
        Command::Revoke { delegation, keep } => {
            governance::revoke(&dd, &Client::new(dd.socket_path()), &delegation, &keep)
        }
        Command::RotateKey { drop_past } => governance::rotate_key(&dd, &client(&dd)?, drop_past),
        Command::LeaderKey { file } | Command::Keygen { file } => governance::leader_key(&file),
        Command::TrustKey(t) => governance::trust_key(&dd, &client(&dd)?, t),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir().context("cannot read the current directory")?.join(p))
}

fn init_logging(level: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| {
        eprintln!("warning: log filter {level:?} is invalid; using \"info\"");
        tracing_subscriber::EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

fn read_body(file: Option<&Path>) -> Result<String> {
    let limit = chorus_core::limits::MAX_BODY_BYTES;
    let bytes = match file {
        Some(p) if p == Path::new("-") => read_stdin(limit)?,
        Some(p) => chorus_node::datadir::read_bounded(p, limit)?,
        None if !std::io::stdin().is_terminal() => read_stdin(limit)?,
        None => edit_body()?,
    };
    String::from_utf8(bytes).map_err(|_| anyhow!("the body is not UTF-8 text"))
}

fn read_stdin(limit: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().take(limit as u64 + 1).read_to_end(&mut buf).context("cannot read the body from stdin")?;
    if buf.len() > limit {
        bail!("the body is over the limit of {limit} bytes");
    }
    Ok(buf)
}

fn edit_body() -> Result<Vec<u8>> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .map_err(|_| Usage("no body given: pass --body-file FILE, pipe the body on stdin, or set $EDITOR".into()))?;
    let dir = std::env::temp_dir().join(format!("chorus-body-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create a temporary file for the editor")?;
    let path = dir.join("PROPOSAL.md");
    std::fs::write(&path, b"").context("cannot create a temporary file for the editor")?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    let body = chorus_node::datadir::read_bounded(&path, chorus_core::limits::MAX_BODY_BYTES);
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        bail!("the editor exited with {status}; nothing was proposed");
    }
    let body = body?;
    if body.iter().all(u8::is_ascii_whitespace) {
        bail!("the body is empty; nothing was proposed");
    }
    Ok(body)
}

fn endorse(dd: &DataDir, a: EndorseArgs) -> Result<Output> {
    let c = client(dd)?;
    let signer = governance::stance_signer(dd, a.as_leader.as_ref(), a.delegation.as_deref())?;
    let (_, coalition) = leader::coalition(&c)?;
    let roster = leader::roster(&c)?;
    let p = leader::fetch_checked(&c, &coalition, &a.id)?;
    let stance = if a.object {
        Stance::Object
    } else if a.abstain {
        Stance::Abstain
    } else {
        Stance::Endorse
    };
    eprintln!(
        "You are about to sign, as {}{}:\n  stance      {}\n  proposal    {}\n  title       {}\n  author      {} ({})\n  body sha256 {}{}",
        leader::member_name(&roster, &signer.trust).unwrap_or_else(|| "(not a member)".into()),
        if signer.delegation.is_some() { format!(" (a leader, key {})", signer.key.public().short(12)) } else { String::new() },
        stance,
        p.id,
        p.proposal.title,
        p.author_name,
        p.proposal.author,
        p.body_sha256,
        a.comment.as_ref().map(|c| format!("\n  comment     {c}")).unwrap_or_default()
    );
    if stance == Stance::Endorse {
        eprintln!("An endorsement cannot be withdrawn.");
    }
    if !a.yes && !output::confirm("Sign?").map_err(anyhow::Error::msg)? {
        bail!("not signed; nothing was sent");
    }
    let env = leader::stance_envelope(&coalition, &roster, &signer, p.id, stance, a.comment)?;
    let r = leader::submit(&c, &env)?;
    let mut human = format!("{} recorded: {}", stance, r.id);
    if r.outcome == "waiting" {
        human = format!(
            "{} signed: {}, but not stored yet: your node does not hold the objects it relies on \
             (an admission or a delegation); it stores it when they arrive",
            stance, r.id
        );
    }
    if let Some(adopted) = r.adopted {
        human.push_str(&format!("\nproposal {} is now a position of the coalition", adopted.short(12)));
    }
    Ok(Output::new(&r, human))
}

fn coalition_cmd(dd: &DataDir, c: CoalitionCmd) -> Result<Output> {
    match c {
        CoalitionCmd::Draft { members, name, member, rule, output } => {
            let key = dd.trust_key()?;
            let spec = match members {
                Some(path) => {
                    let bytes = chorus_node::datadir::read_bounded(&path, 16 * 1024 * 1024)?;
                    let text = String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
                    let mut spec = founding::DraftSpec::parse(&text)?;
                    if rule.is_some() {
                        spec.rule = rule;
                    }
                    spec
                }
                None => {
                    let mut list = Vec::new();
                    for m in &member {
                        let (n, k) = m
                            .rsplit_once('=')
                            .ok_or_else(|| Usage(format!("--member {m:?} must be \"Trust name=HEXKEY\"")))?;
                        list.push(founding::MemberSpec {
                            name: n.trim().into(),
                            key: k.trim().into(),
                            external_id: None,
                        });
                    }
                    let me = key.public().to_hex();
                    if !list.iter().any(|m| m.key.trim().eq_ignore_ascii_case(&me)) {
                        let config = Config::load(&dd.config_path())?;
                        list.push(founding::MemberSpec { name: config.trust_name, key: me, external_id: None });
                    }
                    founding::DraftSpec { name: name.unwrap_or_default(), rule, members: list }
                }
            };
            let draft = founding::draft(&spec, &key, chorus_node::daemon::now_ms())?;
            chorus_node::datadir::write_new(&output, draft.envelope.bytes(), 0o644)
                .map_err(|e| anyhow!("{e}").context(format!("{} exists; choose another -o", output.display())))?;
            let info = draft.info();
            let human = format!(
                "{}\nWrote the draft to {}. Send it to each founder to run `chorus coalition sign {}`,\nthen run `chorus coalition finalize` on the signed file(s).",
                describe(&info),
                output.display(),
                output.display()
            );
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Sign { file, output, yes } => {
            let key = dd.trust_key()?;
            let draft = founding::load(&file)?;
            let info = draft.info();
            eprintln!("You are about to sign the founding document of this coalition:\n{}", describe(&info));
            if draft.signed_by(&key.public()) {
                return Ok(Output::new(&info, "your trust has already signed this draft; nothing changed"));
            }
            if !yes && !output::confirm("Sign as a founder?").map_err(anyhow::Error::msg)? {
                bail!("not signed; the draft is unchanged");
            }
            let signed = founding::sign(&draft, &key)?;
            let out = output.unwrap_or(file);
            write_atomic(&out, signed.envelope.bytes(), 0o644)?;
            let info = signed.info();
            let left = info.founders.iter().filter(|f| !f.signed).count();
            let human = if left == 0 {
                format!("signed; every founder has signed. Run `chorus coalition finalize {}`", out.display())
            } else {
                format!("signed and wrote {}; {left} founder(s) still to sign", out.display())
            };
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Finalize { files, output } => {
            let drafts = files.iter().map(|f| founding::load(f)).collect::<Result<Vec<_>, _>>()?;
            let (merged, coalition) = founding::finalize(&drafts)?;
            write_atomic(&output, merged.envelope.bytes(), 0o644)?;
            let info = merged.info();
            let human = format!(
                "{}\nFinal genesis written to {}. Every node joins with `chorus coalition join {}`.\nCoalition id: {}",
                describe(&info),
                output.display(),
                output.display(),
                coalition.id()
            );
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Show { file } => {
            let draft = founding::load(&file)?;
            let info = draft.info();
            Ok(Output::new(&info, describe(&info)))
        }
        CoalitionCmd::Join { file } => {
            dd.require_initialised()?;
            let coalition = founding::load_final(&file)?;
            let config = Config::load(&dd.config_path())?;
            let target = config.genesis_path(dd.root());
            if target.exists() {
                let current = founding::load_final(&target)?;
                if current.id() == coalition.id() {
                    return Ok(Output::new(
                        &serde_json::json!({ "coalition": coalition.id(), "genesis": target }),
                        "already joined",
                    ));
                }
                bail!(
                    "this node already serves coalition {} ({}); use another --data-dir for another coalition",
                    current.name(),
                    current.id()
                );
            }
            let bytes = coalition.genesis_envelope().bytes().to_vec();
            write_atomic(&target, &bytes, 0o600)?;
            let trust = dd.trust_id()?;
            let member = coalition.current_roster().contains(&trust);
            let v = serde_json::json!({ "coalition": coalition.id(), "name": coalition.name(), "genesis": target, "member": member });
            let mut human =
                format!("joined {:?} ({})\nstart the node with `chorus node run`", coalition.name(), coalition.id());
            if !member {
                human.push_str(
                    "\nnote: your trust is not a founder; once the coalition admits it (`chorus member admit`), \
                     peers that hold the admission accept this node and it can propose and endorse",
                );
            }
            Ok(Output { json: v, human })
        }
    }
}

fn describe(info: &founding::DraftInfo) -> String {
    let mut s = format!(
        "coalition {:?}\n  id        {}\n  rule      adopted when more than {} of members endorse ({} of {} now)\n  created   {}\n  founders:\n",
        info.name,
        info.coalition,
        info.rule,
        info.required,
        info.founders.len(),
        time(info.created_at_ms)
    );
    for f in &info.founders {
        s.push_str(&format!(
            "    [{}] {} {}{}\n",
            if f.signed { "signed" } else { "      " },
            f.key,
            f.name,
            f.external_id.as_ref().map(|e| format!(" ({e})")).unwrap_or_default()
        ));
    }
    s.push_str(if info.complete { "  every founder has signed: final" } else { "  not final: founders still to sign" });
    s
}
