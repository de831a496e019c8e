//! `chorus export` and `chorus import`: every object the node holds, to or
//! from a backup file. The node reads and writes the file itself.

use std::path::Path;

use anyhow::Result;
use chorus_node::control::{BackupResult, Request};
use chorus_node::datadir::DataDir;

use crate::commands::{absolute, client};
use crate::output::Output;

/// Writes a backup to `file`, which must not exist.
pub(crate) fn export(dd: &DataDir, file: &Path) -> Result<Output> {
    let path = absolute(file)?;
    let r: BackupResult = client(dd)?.call(&Request::Export { path })?;
    Ok(Output::new(&r, format!("exported {} objects to {}", r.objects, r.path.display())))
}

/// Ingests every object of the backup `file`; the node validates each and
/// reports how many it refused.
pub(crate) fn import(dd: &DataDir, file: &Path) -> Result<Output> {
    let path = absolute(file)?;
    let r: BackupResult = client(dd)?.call(&Request::Import { path })?;
    Ok(Output::new(&r, format!("read {} objects: {} new, {} refused", r.objects, r.stored, r.refused)))
}
