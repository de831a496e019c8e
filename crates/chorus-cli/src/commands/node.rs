//! `chorus node run`: the daemon in the foreground.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chorus_node::config::Config;
use chorus_node::datadir::DataDir;
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
}

/// Runs the node until SIGINT or SIGTERM; returns once it has shut down
/// durably.
pub(crate) fn run(dd: DataDir, cmd: NodeCmd) -> Result<Output> {
    let NodeCmd::Run { config, log_format } = cmd;
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
