//! Observers (PROTOCOL.md 14.9): `chorus init --observer` makes a data
//! directory that follows a coalition without being a member's node, and
//! `chorus observe` makes one if needed and runs it in the foreground.
//!
//! An observer's node holds the genesis and a node key, no trust key: it
//! proves only its node key, stores and verifies what members' nodes serve
//! it (what the charter's observer access allows), serves the website and
//! the control socket's reads, and never signs or publishes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use chorus_node::config::Config;
use chorus_node::datadir::{DataDir, ObserverInitReport};
use chorus_node::observer::{access_text, parse_access};

use crate::error::Usage;
use crate::output::Output;

/// Arguments of `chorus observe`.
#[derive(clap::Args, Debug)]
pub(crate) struct ObserveArgs {
    /// The coalition's final genesis file (as `chorus coalition finalize`
    /// wrote it; ask a member for it).
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// A member's node to follow, as a multiaddr ending in /p2p/<peer id>
    /// (`chorus status` on that node lists them); repeat for more.
    #[arg(long, value_name = "ADDR", required = true)]
    bootstrap: Vec<String>,
    /// Serve the website on this address (a port alone means loopback),
    /// e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    web: Option<String>,
    /// Listen for peers on these multiaddrs instead of the configured ones;
    /// repeat [default: the config file's `listen`].
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
}

/// `--web`: an ip:port, or a port alone for loopback.
fn web_addr(v: &str) -> Result<std::net::SocketAddr> {
    let v = v.trim();
    if let Ok(port) = v.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    v.parse().map_err(|_| {
        Usage(format!("--web {v:?} is not an ip:port such as 127.0.0.1:8080 (or a port alone, for loopback)")).into()
    })
}

/// `chorus init --observer --genesis FILE [--bootstrap ADDR]...`.
pub(crate) fn init(dd: &DataDir, genesis: &Path, bootstrap: &[String]) -> Result<Output> {
    chorus_node::network::check_addrs("--bootstrap", bootstrap).map_err(Usage)?;
    let coalition = chorus_node::founding::load_final(genesis)?;
    let r = dd.init_observer(&coalition, bootstrap)?;
    Ok(Output::new(&r, created(&r, bootstrap.is_empty())))
}

/// What `init --observer` made, and what to do next.
fn created(r: &ObserverInitReport, no_bootstrap: bool) -> String {
    let access = parse_access(&r.observers).map(access_text).unwrap_or("unknown");
    let mut h = format!(
        "Created an observer of {:?} ({}) in {}\n\
         Node key: {}   (the only thing this node proves; it holds no trust key and signs nothing)\n\
         The genesis charter admits observers: {access}\n",
        r.coalition_name,
        r.coalition,
        r.data_dir.display(),
        r.node_key
    );
    if no_bootstrap {
        h.push_str(&format!(
            "Next: name a member's node to follow as `bootstrap` in {}, then `chorus node run`\n\
             (or run `chorus observe --genesis FILE --bootstrap ADDR`).",
            r.config.display()
        ));
    } else {
        h.push_str("Next: chorus node run   (or chorus observe ... to run it now)");
    }
    h
}

/// `chorus observe`: makes the observer's data directory unless it exists
/// (refusing a member's node or another coalition's observer), then runs it
/// in the foreground with `--bootstrap`, `--web` and `--listen` applied
/// over its configuration.
pub(crate) fn run(dd: DataDir, a: ObserveArgs) -> Result<Output> {
    chorus_node::network::check_addrs("--bootstrap", &a.bootstrap).map_err(Usage)?;
    chorus_node::network::check_addrs("--listen", &a.listen).map_err(Usage)?;
    let coalition = chorus_node::founding::load_final(&a.genesis)?;
    let web = a.web.as_deref().map(web_addr).transpose()?;
    if dd.is_initialised() || dd.config_path().exists() {
        if !dd.is_observer() {
            bail!(
                "{} holds a member's node, not an observer's; choose another --data-dir for the observer",
                dd.root().display()
            );
        }
    } else {
        let r = dd.init_observer(&coalition, &a.bootstrap)?;
        eprintln!("{}", created(&r, false).lines().take(3).collect::<Vec<_>>().join("\n"));
    }
    let mut config = Config::load(&dd.config_path())?;
    let held = chorus_node::founding::load_final(&config.genesis_path(dd.root()))?;
    if held.id() != coalition.id() {
        bail!(
            "{} observes coalition {:?} ({}), not {:?} ({}); use another --data-dir for another coalition",
            dd.root().display(),
            held.name(),
            held.id(),
            coalition.name(),
            coalition.id()
        );
    }
    config.bootstrap = a.bootstrap;
    if web.is_some() {
        config.http_addr = web;
    }
    if !a.listen.is_empty() {
        config.listen = a.listen;
    }
    config.check()?;
    crate::commands::node::run_foreground(dd, config)
}
