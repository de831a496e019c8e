//! `chorus`: one binary for everyone who deals with a Chorus coalition.
//!
//! - Trust IT: `init`, `whoami`, `coalition ...`, `node run`, `status`,
//!   `peers`, `dial`, `export`, `import`, `publish`.
//! - Leaders: `propose` (a draft, a revision), `proposals`, `show`,
//!   `comment`, `amend`, `open-voting`, `withdraw`, `endorse`, `positions`.
//! - Governance: `roster`, `member admit|remove`, `charter amend`,
//!   `member replace-key`, `trust-key install`, `delegate`, `revoke`,
//!   `rotate-key`, `leader-key`, `keygen`.
//! - Keys at rest: `key encrypt|decrypt|show`.
//! - Auditors: `certificate`, `verify` (offline, no node needed).
//! - Everyone's first command: `devnet`.
//!
//! Exit codes: 0 success, 1 failure (or an invalid certificate), 2 usage
//! error. Every command that prints data accepts `--json`. Errors are one
//! line on stderr saying what went wrong and what to do (with `--json`, also
//! `{"error": ..., "code": ...}` on stdout, the code a stable name of the
//! case: see `error::code`). When the node gives no answer the line says
//! which of these it is: no node running, the node stopped during the
//! request, or this OS user may not use it.
//!
//! This file holds the argument tree and the dispatch; each command is in
//! a module of [`commands`].

mod commands;
mod deliberation;
mod error;
mod leader;
mod output;
mod remote;
mod when;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chorus_node::control::Client;
use chorus_node::datadir::{default_data_dir, DataDir};
use clap::{Parser, Subcommand};
use commands::{
    backup, certificate, coalition, deliberate, devnet, endorse, governance, init, key, node, peers, proposals,
    propose, publish, remote as remote_cmd, show, status, verify,
};
use error::{Invalid, Usage};
use output::{emit, Output};

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
    /// Work through a member node's HTTP API (see `chorus remote add`)
    /// instead of the local node: proposals, positions, show, roster,
    /// endorse, comment, propose and import. Keys stay on this machine. Give it
    /// before the command: `chorus --remote oak proposals`.
    #[arg(long, env = "CHORUS_REMOTE", value_name = "NAME")]
    remote: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the node's data directory, node key and config; the trust key
    /// goes encrypted to an offline kit (--trust-key-here keeps it here).
    Init(init::InitArgs),
    /// Print this trust's public key (give it to the coalition's founders).
    Whoami,
    /// Found a coalition offline: draft, sign, finalize, show, join.
    #[command(subcommand)]
    Coalition(coalition::CoalitionCmd),
    /// Run the node daemon.
    #[command(subcommand)]
    Node(node::NodeCmd),
    /// Follow a coalition without being a member: make an observer's data
    /// directory if needed (`init --observer`), then run it in the foreground.
    Observe(commands::observe::ObserveArgs),
    /// Node id, trust, coalition, peers, objects and last sync.
    Status,
    /// Connected peers.
    Peers,
    /// Connect to a peer now (a multiaddr ending in /p2p/<peer id>).
    Dial {
        /// The peer's address.
        addr: String,
    },
    /// Put a proposal to the coalition (or a draft, for discussion first);
    /// prints its id.
    Propose(propose::ProposeArgs),
    /// List proposals with their status and tally.
    Proposals,
    /// Show a proposal in full: text, voting window, discussion, every stance, status.
    Show {
        /// Proposal id or unique prefix.
        id: String,
        /// Print the text this amendment of the proposal proposes (id or
        /// unique prefix), checked here against its signature.
        #[arg(long, value_name = "COMMENT")]
        amendment: Option<String>,
    },
    /// Sign your trust's stance on a proposal (endorse unless told otherwise).
    Endorse(endorse::EndorseArgs),
    /// Comment on a proposal, or reply to a comment.
    Comment(deliberate::CommentArgs),
    /// Propose a new text for a draft (an amendment), before voting opens.
    Amend(deliberate::AmendArgs),
    /// Open voting on your trust's draft now.
    OpenVoting(deliberate::OpenVotingArgs),
    /// Withdraw your trust's proposal: no stance signed after it counts.
    Withdraw(deliberate::WithdrawArgs),
    /// List adopted positions.
    Positions,
    /// Export a position's certificate.
    Certificate {
        /// Proposal id or unique prefix.
        id: String,
        /// Where to write it.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Write it without dissent and seal, in the form verifiers of
        /// earlier versions accept (while members upgrade); its report then
        /// says dissent is not recorded.
        #[arg(long)]
        no_seal: bool,
    },
    /// Verify a certificate offline (no node, no network).
    Verify {
        /// The certificate file.
        file: PathBuf,
        /// Require this coalition id (recommended: get it from your own node or the coalition's charter).
        #[arg(long, value_name = "ID")]
        coalition: Option<String>,
        /// Fail unless the certificate carries a member's seal, which records
        /// every objection and abstention its node held.
        #[arg(long)]
        require_seal: bool,
    },
    /// Write a backup of every object the node holds.
    Export {
        /// A new file.
        file: PathBuf,
    },
    /// Ingest every object of a backup file, or one signed object written
    /// with `--out` (by endorse, propose, comment, amend, open-voting or
    /// withdraw).
    Import {
        /// The backup file (from `chorus export`), or a file holding one
        /// object's exact envelope bytes.
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
    /// Propose admitting, amending (attributes) or removing a member trust, or replacing its lost key.
    #[command(subcommand)]
    Member(governance::MemberCmd),
    /// Propose new adoption rules.
    #[command(subcommand)]
    Charter(governance::CharterCmd),
    /// Delegate your trust's stances to a leader's key; prints the delegation id.
    Delegate(governance::DelegateArgs),
    /// Revoke a delegation; stances it signed stop counting unless kept.
    Revoke(governance::RevokeArgs),
    /// Replace your trust key by a new one (the old key signs the rotation and is kept as a backup).
    RotateKey {
        /// Keep nothing the old key signed (default: keep everything it signed).
        #[arg(long)]
        drop_past: bool,
    },
    /// Create a key file for a leader (delegate), encrypted with a new
    /// passphrase; prints its public key.
    #[command(after_help = key::PASSPHRASE_HELP)]
    LeaderKey {
        /// A new file for the key.
        file: PathBuf,
        /// Write the key unencrypted: anyone who can read the file can sign with it.
        #[arg(long)]
        unencrypted: bool,
    },
    /// Create a key file (e.g. a replacement trust key); prints its public key.
    Keygen {
        /// A new file for the key.
        file: PathBuf,
    },
    /// Encrypt, decrypt or show a key file (trust, node or leader key).
    #[command(subcommand, after_help = key::PASSPHRASE_HELP)]
    Key(key::KeyCmd),
    /// Install a replacement trust key adopted by the coalition.
    #[command(subcommand)]
    TrustKey(governance::TrustKeyCmd),
    /// Member nodes used from this machine over HTTP: add, list, remove.
    #[command(subcommand)]
    Remote(remote_cmd::RemoteCmd),
}

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
            let msg = error::one_line(&e);
            if json {
                let body = serde_json::json!({ "error": msg, "code": error::code(&e) });
                let _ = output::print_stdout(&format!("{body}\n"));
            }
            eprintln!("error: {msg}");
            ExitCode::from(if e.is::<Usage>() { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> Result<Output> {
    if let Some(name) = cli.remote.as_deref().filter(|n| !n.is_empty()) {
        return run_remote(name, cli.command);
    }
    let dd = DataDir::new(cli.data_dir.unwrap_or_else(default_data_dir));
    let json = cli.json;
    match cli.command {
        Command::Init(a) => init::init(&dd, a),
        Command::Whoami => init::whoami(&dd),
        Command::Coalition(c) => coalition::run(&dd, c),
        Command::Node(n) => node::run(dd, n),
        Command::Observe(a) => commands::observe::run(dd, a),
        Command::Status => status::run(&dd),
        Command::Peers => peers::list(&dd),
        Command::Dial { addr } => peers::dial(&dd, addr),
        Command::Propose(a) => propose::run(&dd, a),
        Command::Proposals => proposals::list(&dd, proposals::Which::All),
        Command::Positions => proposals::list(&dd, proposals::Which::Positions),
        Command::Show { id, amendment: None } => show::run(&dd, &id),
        Command::Show { id, amendment: Some(a) } => show::amendment(&dd, &id, &a),
        Command::Endorse(a) => endorse::run(&dd, a),
        Command::Comment(a) => deliberate::comment(&dd, a),
        Command::Amend(a) => deliberate::amend(&dd, a),
        Command::OpenVoting(a) => deliberate::open_voting(&dd, a),
        Command::Withdraw(a) => deliberate::withdraw(&dd, a),
        Command::Certificate { id, output, no_seal } => certificate::export(&dd, id, &output, !no_seal),
        Command::Verify { file, coalition, require_seal } => {
            verify::run(&file, coalition.as_deref(), require_seal, json)
        }
        Command::Export { file } => backup::export(&dd, &file),
        Command::Import { file } => backup::import(&dd, &file),
        Command::Publish { out, base_url, everything } => publish::run(&dd, &out, base_url, everything),
        Command::Devnet(args) => devnet::run(args, json),
        Command::Roster => governance::roster(&commands::client(&dd)?),
        // The client only names the socket; arguments are checked before
        // the node is asked anything, so a usage error exits 2 either way.
        Command::Member(m) => governance::member(&dd, &Client::new(dd.socket_path()), m),
        Command::Charter(c) => governance::charter(&dd, &Client::new(dd.socket_path()), c),
        Command::Delegate(a) => governance::delegate(&dd, &Client::new(dd.socket_path()), a),
        Command::Revoke(a) => governance::revoke(&dd, &Client::new(dd.socket_path()), a),
        Command::RotateKey { drop_past } => governance::rotate_key(&dd, &commands::client(&dd)?, drop_past),
        Command::LeaderKey { file, unencrypted } => governance::leader_key(&file, unencrypted),
        // A replacement trust key is installed as trust.key, plain as
        // `init` writes it; `chorus key encrypt` protects either.
        Command::Keygen { file } => governance::leader_key(&file, true),
        Command::Key(k) => key::run(k),
        Command::TrustKey(t) => governance::trust_key(&dd, &commands::client(&dd)?, t),
        Command::Remote(r) => remote_cmd::run(r),
    }
}

/// The commands that work through a remote node's HTTP API.
fn run_remote(name: &str, command: Command) -> Result<Output> {
    let r = || remote_cmd::open(name);
    match command {
        Command::Proposals => remote_cmd::proposals(&r()?, false),
        Command::Positions => remote_cmd::proposals(&r()?, true),
        Command::Show { id, amendment: None } => remote_cmd::show(&r()?, &id),
        Command::Show { amendment: Some(_), .. } => Err(Usage(
            "show --amendment works on a member node; through a remote, fetch the amendment's object at \
             /api/v1/objects/ID"
                .into(),
        )
        .into()),
        Command::Roster => remote_cmd::roster(&r()?),
        Command::Endorse(a) => remote_cmd::endorse(&r()?, a),
        Command::Comment(a) => remote_cmd::comment(&r()?, a),
        Command::Propose(a) if a.out.is_none() => remote_cmd::propose(&r()?, a),
        Command::Import { file } => remote_cmd::import(&r()?, &file),
        Command::Remote(c) => remote_cmd::run(c),
        _ => Err(Usage(format!(
            "this command does not work with --remote {name}: run it on the node (or without --remote); with \
             --remote: proposals, positions, show, roster, endorse, comment, propose (without --out or --revises) and \
             import (--remote may come from CHORUS_REMOTE)"
        ))
        .into()),
    }
}
