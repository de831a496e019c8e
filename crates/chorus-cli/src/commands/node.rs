//! `chorus node run`: the daemon in the foreground; `chorus node attest`:
//! the trust's signed statement that a node key speaks for it, made where
//! the trust key is, so the server can run without it.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{Delegation, Envelope, Kind, SCOPE_NODE};
use chorus_node::config::Config;
use chorus_node::datadir::DataDir;
use chorus_node::network::NodeAttestation;
use clap::Subcommand;

use crate::output::Output;

/// `chorus node ...`
#[derive(Subcommand, Debug)]
pub(crate) enum NodeCmd {
    /// Run the daemon in the foreground until SIGINT or SIGTERM.
    Run {
        /// Configuration file [default: <data dir>/config.toml].
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Log format (overrides the config file).
        #[arg(long, value_parser = ["human", "json"])]
        log_format: Option<String>,
    },
    /// Sign an attestation that a node key speaks for this trust, to install
    /// as `node.attestation` in that node's data directory. Run it where the
    /// trust key is; the node then runs without `trust.key`.
    Attest {
        /// The node's public key (hex), as `chorus whoami` prints it on the node.
        #[arg(long, value_name = "HEX")]
        node_key: String,
        /// Days until it expires (1 to 400); renew before then.
        #[arg(long, value_name = "N", default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=400))]
        valid_days: u64,
        /// The file to write (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The coalition's genesis file [default: the one the data directory's config names].
        #[arg(long, value_name = "FILE")]
        genesis: Option<PathBuf>,
        /// Also write a node-scope delegation of the node key, valid as long
        /// as the attestation, to this new file: `chorus import` it on the
        /// node, so the trust can later revoke the node key from here
        /// (`chorus revoke ID --out FILE`).
        #[arg(long, value_name = "FILE")]
        delegation_out: Option<PathBuf>,
    },
}

/// What `chorus node attest` signed.
#[derive(serde::Serialize)]
struct Attested {
    trust: String,
    node_key: String,
    coalition: String,
    expires_at_ms: u64,
    expires: String,
    file: PathBuf,
    /// The node-scope delegation written with `--delegation-out`.
    delegation: Option<chorus_core::ObjectId>,
    delegation_file: Option<PathBuf>,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Signs a node attestation with the trust key of `dd` and writes it to a
/// new file.
fn attest(
    dd: &DataDir,
    node_key: &str,
    valid_days: u64,
    out: &std::path::Path,
    genesis: Option<PathBuf>,
    delegation_out: Option<&std::path::Path>,
) -> Result<Output> {
    let node_key = chorus_node::founding::parse_key(node_key.trim())
        .map_err(|e| anyhow::anyhow!("--node-key {node_key:?} is not a public key: {e}"))?;
    let genesis = match genesis {
        Some(g) => g,
        None => Config::load(&dd.config_path())?.genesis_path(dd.root()),
    };
    let coalition = chorus_node::founding::load_final(&genesis)?;
    let trust_id = dd.trust_id()?;
    let trust_key = dd.trust_key()?;
    let now = chorus_node::daemon::now_ms();
    let expires_at_ms = now + valid_days * DAY_MS;
    let attestation =
        NodeAttestation::issue_for(&trust_key, trust_id, coalition.id(), node_key, now, Some(expires_at_ms));
    let delegation = delegation_out
        .map(|file| {
            if file.exists() {
                bail!("{} exists; nothing was written (choose another --delegation-out)", file.display());
            }
            let d = Delegation {
                coalition: coalition.id(),
                trust: trust_id,
                delegate: node_key,
                name: format!("node {}", node_key.short(16)),
                role: "node".into(),
                valid_from_ms: now,
                valid_until_ms: Some(expires_at_ms),
                scope: SCOPE_NODE,
                created_at_ms: now,
            };
            let body = d.to_body();
            Delegation::from_body(&body).map_err(|e| anyhow!("the node delegation is not valid: {e}"))?;
            Ok((Envelope::sign(Kind::Delegation, body, &[&trust_key]), file))
        })
        .transpose()?;
    chorus_node::datadir::write_new(out, &attestation.to_bytes(), 0o644)
        .with_context(|| format!("{} was not written", out.display()))?;
    if let Some((env, file)) = &delegation {
        chorus_node::datadir::write_new(file, env.bytes(), 0o644)
            .with_context(|| format!("{} was not written (the attestation {} was)", file.display(), out.display()))?;
    }
    let a = Attested {
        trust: trust_id.to_hex(),
        node_key: node_key.to_hex(),
        coalition: coalition.id().to_hex(),
        expires_at_ms,
        expires: crate::output::time(expires_at_ms),
        file: out.to_path_buf(),
        delegation: delegation.as_ref().map(|(env, _)| env.id()),
        delegation_file: delegation.as_ref().map(|(_, f)| f.to_path_buf()),
    };
    let mut human = format!(
        "Attested node key {} for trust {} in coalition {} ({}), until {}.\n\
         Wrote {}: copy it to the node's data directory as node.attestation and restart the node;\n\
         renew before it expires with the same command.",
        a.node_key,
        a.trust,
        a.coalition,
        coalition.name(),
        a.expires,
        out.display()
    );
    if let Some((env, file)) = &delegation {
        human.push_str(&format!(
            "\nDelegated the node key with the node scope until the same date: delegation {}\n\
             Wrote {}: run `chorus import {}` on the node once it runs. Should the server be compromised,\n\
             revoke it here with `chorus revoke {} --out revocation.chorus` and import that on any member node.",
            env.id(),
            file.display(),
            file.display(),
            env.id()
        ));
    }
    Ok(Output::new(&a, human))
}

/// Runs the node until SIGINT or SIGTERM; returns once it has shut down
/// durably.
pub(crate) fn run(dd: DataDir, cmd: NodeCmd) -> Result<Output> {
    let (config, log_format) = match cmd {
        NodeCmd::Run { config, log_format } => (config, log_format),
        NodeCmd::Attest { node_key, valid_days, out, genesis, delegation_out } => {
            return attest(&dd, &node_key, valid_days, &out, genesis, delegation_out.as_deref())
        }
    };
    dd.require_initialised()?;
    let path = config.unwrap_or_else(|| dd.config_path());
    let mut config = Config::load(&path)?;
    if let Some(f) = log_format {
        config.log_format = f;
    }
    run_foreground(dd, config)
}

/// Runs the node of `dd` with `config` until SIGINT or SIGTERM (`chorus
/// node run`, `chorus observe`); returns once it has shut down durably.
pub(crate) fn run_foreground(dd: DataDir, config: Config) -> Result<Output> {
    init_logging(&config.log_level, &config.log_format);
    let kit = DataDir::new(dd.root().join(crate::commands::init::DEFAULT_KIT));
    if kit.trust_key_path().exists() {
        tracing::warn!(
            kit = %kit.root().display(),
            "the offline kit with the encrypted trust key is still on this server; \
             move it to the offline machine and delete it here"
        );
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(chorus_node::daemon::run(dd, config))?;
    Ok(Output { json: serde_json::json!({ "stopped": true }), human: String::new() })
}

/// Logs to stderr with `level` as the filter; an invalid filter falls
/// back to `info` with a warning rather than stopping the node.
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
