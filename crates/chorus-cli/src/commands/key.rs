//! `chorus key encrypt | decrypt | show FILE`: a key file's protection at
//! rest (the formats and passphrase sources are in
//! `chorus_node::datadir::keyfile`).
//!
//! An encrypted key file is an age file and nothing else, so `show` of an
//! encrypted file asks for its passphrase: no public key is kept in the
//! clear beside it, which would be one more file to keep in step.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use chorus_node::datadir::keyfile::{self, KeyFile, Passphrases};
use chorus_node::datadir::write_atomic;
use clap::Subcommand;

use crate::output::Output;

/// How the passphrase sources are described in `--help`.
pub const PASSPHRASE_HELP: &str = "\
Passphrases come from the first of:
  CHORUS_PASSPHRASE_FILE=FILE  a file holding the passphrase on one line, readable by you
                               alone (chmod 600); for unattended use. Anyone who can read
                               the file and the key can sign with the key.
  CHORUS_PASSPHRASE=...        the passphrase itself: the riskiest. Any process of the same
                               user can read it (/proc/PID/environ), and typed on a command
                               line it stays in the shell's history.
  the terminal                 asked without echo, when stdin is a terminal.";

/// `chorus key ...`
#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Encrypt a key file with a new passphrase (asked twice at the
    /// terminal); the file is replaced in place (mode 0600) and keeps its key.
    #[command(after_help = PASSPHRASE_HELP)]
    Encrypt {
        /// A plain key file: a trust, node or leader key.
        file: PathBuf,
    },
    /// Decrypt a key file in place: afterwards anyone who can read the file
    /// can sign with its key.
    #[command(after_help = PASSPHRASE_HELP)]
    Decrypt {
        /// An encrypted key file.
        file: PathBuf,
    },
    /// Print a key file's public key and whether it is encrypted (an
    /// encrypted file is opened with its passphrase to find its key).
    #[command(after_help = PASSPHRASE_HELP)]
    Show {
        /// A key file, plain or encrypted.
        file: PathBuf,
    },
}

/// Runs a `chorus key` command.
pub fn run(cmd: KeyCmd) -> Result<Output> {
    match cmd {
        KeyCmd::Encrypt { file } => encrypt(&file),
        KeyCmd::Decrypt { file } => decrypt(&file),
        KeyCmd::Show { file } => show(&file),
    }
}

fn encrypted(file: &Path) -> Result<bool> {
    Ok(keyfile::is_encrypted(&keyfile::read_private(file)?))
}

fn encrypt(file: &Path) -> Result<Output> {
    if encrypted(file)? {
        bail!(
            "{} is already encrypted; nothing changed (to change its passphrase, `chorus key decrypt` it, then encrypt it again)",
            file.display()
        );
    }
    let key = keyfile::read_key_file(file, &Passphrases::none())?.keypair;
    let (passphrase, source) = Passphrases::from_env().new_passphrase(file)?;
    let sealed = keyfile::encrypt_key(&key, passphrase)?;
    write_atomic(file, &sealed, 0o600)?;
    let v = serde_json::json!({
        "file": file, "key": key.public(), "encrypted": true, "passphrase_from": source.name(),
    });
    let human = format!(
        "{} is encrypted with the passphrase from {source}; key {}\n\
         without the passphrase the key is lost: keep the passphrase, apart from the file",
        file.display(),
        key.public()
    );
    Ok(Output { json: v, human })
}

fn decrypt(file: &Path) -> Result<Output> {
    if !encrypted(file)? {
        bail!("{} is not encrypted; nothing changed", file.display());
    }
    let KeyFile { keypair: key, opened_with } = keyfile::read_key_file(file, &Passphrases::from_env())?;
    write_atomic(file, &key.seed(), 0o600)?;
    let v = serde_json::json!({
        "file": file, "key": key.public(), "encrypted": false,
        "passphrase_from": opened_with.as_ref().map(|s| s.name()),
    });
    let human = format!(
        "{} is now UNPROTECTED: stored unencrypted, anyone who can read it can sign as {}\n\
         encrypt it again with `chorus key encrypt {}`",
        file.display(),
        key.public(),
        file.display()
    );
    Ok(Output { json: v, human })
}

fn show(file: &Path) -> Result<Output> {
    let KeyFile { keypair: key, opened_with } = keyfile::read_key_file(file, &Passphrases::from_env())?;
    let v = serde_json::json!({
        "file": file, "key": key.public(), "encrypted": opened_with.is_some(),
        "passphrase_from": opened_with.as_ref().map(|s| s.name()),
    });
    let state = match &opened_with {
        Some(source) => format!("encrypted with a passphrase (age); opened with the passphrase from {source}"),
        None => {
            format!("not encrypted: anyone who can read it can sign with it (`chorus key encrypt {}`)", file.display())
        }
    };
    Ok(Output { json: v, human: format!("{}\n{}: {state}", key.public(), file.display()) })
}
