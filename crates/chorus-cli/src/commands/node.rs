//! `chorus node run`: the daemon in the foreground; `chorus node attest`:
//! the trust's signed statement that a node key speaks for it, made where
//! the trust key is, so the server can run without it.

use std::path::PathBuf;

use anyhow::{Context, Result};
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
    chorus_node::datadir::write_new(out, &attestation.to_bytes(), 0o644)
        .with_context(|| format!("{} was not written", out.display()))?;
    let a = Attested {
        trust: trust_id.to_hex(),
        node_key: node_key.to_hex(),
        coalition: coalition.id().to_hex(),
        expires_at_ms,
        expires: crate::output::time(expires_at_ms),
        file: out.to_path_buf(),
    };
    let human = format!(
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
    Ok(Output::new(&a, human))
}

/// Runs the node until SIGINT or SIGTERM; returns once it has shut down
/// durably.
pub(crate) fn run(dd: DataDir, cmd: NodeCmd) -> Result<Output> {
    let (config, log_format) = match cmd {
        NodeCmd::Run { config, log_format } => (config, log_format),
        NodeCmd::Attest { node_key, valid_days, out, genesis } => {
            return attest(&dd, &node_key, valid_days, &out, genesis)
        }
    };
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
