//! One module per command, or per family of commands that share their
//! arguments and wording. Each returns an [`Output`](crate::output::Output)
//! for `main` to print; none prints its result itself.

pub(crate) mod backup;
pub(crate) mod certificate;
pub(crate) mod coalition;
pub(crate) mod deliberate;
pub(crate) mod devnet;
pub(crate) mod endorse;
pub(crate) mod governance;
pub(crate) mod init;
pub(crate) mod key;
pub(crate) mod node;
pub(crate) mod observe;
pub(crate) mod peers;
pub(crate) mod proposals;
pub(crate) mod propose;
pub(crate) mod publish;
pub(crate) mod remote;
pub(crate) mod show;
pub(crate) mod status;
pub(crate) mod thread;
pub(crate) mod verify;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chorus_node::control::Client;
use chorus_node::datadir::DataDir;

/// A client for the node of an initialised data directory.
pub(crate) fn client(dd: &DataDir) -> Result<Client> {
    dd.require_initialised()?;
    Ok(Client::new(dd.socket_path()))
}

/// `p` made absolute against the current directory: the node resolves
/// paths in its own working directory, not the caller's.
pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    Ok(std::env::current_dir().context("cannot read the current directory")?.join(p))
}
