//! `chorus export` and `chorus import`: every object the node holds, to or
//! from a backup file. The node reads and writes the file itself. `chorus
//! import` also takes a file holding one signed object (the exact envelope
//! bytes, as `--out` of endorse, propose, comment, amend, open-voting and
//! withdraw writes it).

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use chorus_core::limits::MAX_ENVELOPE_BYTES;
use chorus_core::{Envelope, Kind};
use chorus_node::control::{BackupResult, Request};
use chorus_node::datadir::DataDir;

use crate::commands::{absolute, client};
use crate::leader;
use crate::output::Output;

/// Writes a backup to `file`, which must not exist.
pub(crate) fn export(dd: &DataDir, file: &Path) -> Result<Output> {
    let path = absolute(file)?;
    let r: BackupResult = client(dd)?.call(&Request::Export { path })?;
    Ok(Output::new(&r, format!("exported {} objects to {}", r.objects, r.path.display())))
}

/// Ingests every object of the backup `file`; the node validates each and
/// reports how many it refused. A file that decodes as one envelope is
/// submitted as that one object instead.
pub(crate) fn import(dd: &DataDir, file: &Path) -> Result<Output> {
    let path = absolute(file)?;
    let head = read_head(&path)?;
    let single = if head.len() <= MAX_ENVELOPE_BYTES { Some(Envelope::decode(&head)) } else { None };
    if let Some(Ok(env)) = single {
        let r = leader::submit(&client(dd)?, &env)?;
        let human = format!("read 1 signed {} object: {} {}", kind_word(env.kind()), r.id, r.outcome);
        return Ok(Output::new(&r, human));
    }
    let r: BackupResult = match client(dd)?.call(&Request::Import { path: path.clone() }) {
        Ok(r) => r,
        Err(e) => match single {
            Some(Err(why)) => {
                return Err(anyhow!(
                    "{} is neither a chorus export ({e}) nor one signed object ({why})",
                    path.display()
                ))
            }
            _ => return Err(e.into()),
        },
    };
    Ok(Output::new(&r, format!("read {} objects: {} new, {} refused", r.objects, r.stored, r.refused)))
}

/// The first `MAX_ENVELOPE_BYTES + 1` bytes of `path`: enough to tell one
/// envelope from a longer file.
fn read_head(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut buf = Vec::new();
    f.take(MAX_ENVELOPE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(buf)
}

/// A kind as people call it: its signing name, except for the kinds whose
/// signing name was fixed before they were defined (`kind-13`, `kind-14`).
pub(crate) fn kind_word(kind: Kind) -> String {
    match kind {
        Kind::OpenVoting => "open-voting".into(),
        Kind::Withdrawal => "withdrawal".into(),
        other => other.to_string(),
    }
}

/// A kind as `--json` output names it: as the node's views do
/// (`open_voting`), the signing name for the other kinds.
pub(crate) fn kind_key(kind: Kind) -> String {
    match kind {
        Kind::OpenVoting => "open_voting".into(),
        other => kind_word(other),
    }
}

/// What `--out` wrote.
#[derive(serde::Serialize)]
struct WrittenObject {
    id: chorus_core::ObjectId,
    kind: String,
    file: std::path::PathBuf,
}

/// Writes a signed object's exact envelope bytes to `file`, which must not
/// exist (the object is signed public data: the file is world-readable).
pub(crate) fn write_envelope(env: &Envelope, file: &Path) -> Result<Output> {
    let path = absolute(file)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))?;
    f.write_all(env.bytes()).and_then(|_| f.sync_all()).with_context(|| format!("cannot write {}", path.display()))?;
    let written = WrittenObject { id: env.id(), kind: kind_key(env.kind()), file: path };
    let human = format!(
        "signed {} {} written to {}\nimport it on any member node with `chorus import {}`",
        kind_word(env.kind()),
        written.id,
        written.file.display(),
        written.file.display()
    );
    Ok(Output::new(&written, human))
}
