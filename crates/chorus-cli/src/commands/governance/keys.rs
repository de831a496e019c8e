//! `chorus delegate`, `revoke`, `rotate-key`, `trust-key install` and
//! `leader-key`: delegations of stances (or of a node key), their
//! revocation, and the trust's and leaders' keys.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{
    Coalition, Delegation, Envelope, KeyRotation, Keypair, Kind, ObjectId, Revocation, SCOPE_NODE, SCOPE_STANCES,
};
use chorus_node::config::Config;
use chorus_node::control::{Client, Request, SubmitResult};
use chorus_node::daemon::now_ms;
use chorus_node::datadir::keyfile::{self, Passphrases};
use chorus_node::datadir::{read_secret, write_atomic, write_new, write_new_secret, DataDir};
use chorus_node::founding::load_final;
use chorus_node::NodeError;
use clap::{Args, Subcommand};

use crate::commands::backup;
use crate::error::Usage;
use crate::leader;
use crate::output::Output;

use super::{find_member, id_arg, key_arg, trust_signer};

/// `chorus trust-key ...`
#[derive(Subcommand, Debug)]
pub enum TrustKeyCmd {
    /// Install a new trust key once the coalition adopted its replacement
    /// (`chorus member replace-key`); the old key file is kept as a backup.
    Install {
        /// The key file (from `chorus keygen FILE`).
        file: PathBuf,
    },
}

/// `chorus delegate ...`
#[derive(Args, Debug)]
pub struct DelegateArgs {
    /// The leader's public key (from `chorus leader-key`).
    #[arg(long, value_name = "HEX")]
    key: String,
    /// The leader's name.
    #[arg(long)]
    name: String,
    /// The leader's role, e.g. "Chief executive".
    #[arg(long)]
    role: String,
    /// End of the delegation: a number of days from now ("30d") or ms since 1970 [default: no end].
    #[arg(long, value_name = "WHEN")]
    valid_until: Option<String>,
    /// What the key is for: "stances" (a leader), "node" (one of the trust's
    /// node keys, revocable with `chorus revoke`), or "stances,node".
    #[arg(long, default_value = "stances")]
    scope: String,
    /// Write the signed delegation to this new file instead of submitting
    /// it: no running node needed (on the offline kit); `chorus import FILE`
    /// on any member node.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: the coalition's genesis file [default: the one the data
    /// directory's config names].
    #[arg(long, value_name = "FILE", requires = "out")]
    genesis: Option<PathBuf>,
}

/// The coalition an object is signed for: from the genesis file (`genesis`,
/// else the one the config names) when it is written to a file, so no node
/// is needed; else from the running node.
fn coalition_for(dd: &DataDir, client: &Client, to_file: bool, genesis: Option<&Path>) -> Result<Coalition> {
    if !to_file {
        return Ok(leader::coalition(client)?.1);
    }
    let path = match genesis {
        Some(g) => g.to_path_buf(),
        None => Config::load(&dd.config_path())?.genesis_path(dd.root()),
    };
    Ok(load_final(&path)?)
}

/// Submits `env` to the node, or with `out` writes it to that new file.
fn submit_or_write(client: &Client, env: &Envelope, out: Option<&Path>) -> Result<Result<SubmitResult, Output>> {
    match out {
        Some(file) => Ok(Err(backup::write_envelope(env, file)?)),
        None => Ok(Ok(leader::submit(client, env)?)),
    }
}

fn parse_until(s: &str) -> Result<u64> {
    if let Some(days) = s.strip_suffix('d') {
        let d: u64 = days.parse().map_err(|_| Usage(format!("--valid-until {s:?}: say \"30d\" or ms since 1970")))?;
        return Ok(now_ms() + d * 86_400_000);
    }
    s.parse().map_err(|_| Usage(format!("--valid-until {s:?}: say \"30d\" or ms since 1970")).into())
}

fn signed(kind: Kind, body: Vec<u8>, key: &Keypair) -> Envelope {
    Envelope::sign(kind, body, &[key])
}

/// `chorus delegate`: prints the delegation id.
pub fn delegate(dd: &DataDir, client: &Client, a: DelegateArgs) -> Result<Output> {
    let delegate = key_arg("--key", &a.key)?;
    let scope = match a.scope.as_str() {
        "stances" => SCOPE_STANCES,
        "node" => SCOPE_NODE,
        "stances,node" | "node,stances" => SCOPE_STANCES | SCOPE_NODE,
        other => return Err(Usage(format!("--scope {other:?}: say \"stances\", \"node\" or \"stances,node\"")).into()),
    };
    let valid_until_ms = a.valid_until.as_deref().map(parse_until).transpose()?;
    let (key, trust) = trust_signer(dd)?;
    let coalition = coalition_for(dd, client, a.out.is_some(), a.genesis.as_deref())?;
    let now = now_ms();
    let d = Delegation {
        coalition: coalition.id(),
        trust,
        delegate,
        name: a.name,
        role: a.role,
        valid_from_ms: now,
        valid_until_ms,
        scope,
        created_at_ms: now,
    };
    let body = d.to_body();
    Delegation::from_body(&body).map_err(|e| anyhow!("the delegation is not valid: {e}"))?;
    match submit_or_write(client, &signed(Kind::Delegation, body, &key), a.out.as_deref())? {
        Ok(r) => Ok(Output::new(&r, r.id.to_hex())),
        Err(written) => Ok(written),
    }
}

/// Arguments of `chorus revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The delegation id.
    delegation: String,
    /// A stance signed under the delegation that still counts; repeat.
    #[arg(long, value_name = "ID")]
    keep: Vec<String>,
    /// Write the signed revocation to this new file instead of submitting
    /// it: no running node needed (on the offline kit, e.g. to revoke a
    /// compromised server's node key); `chorus import FILE` on any member node.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: the coalition's genesis file [default: the one the data
    /// directory's config names].
    #[arg(long, value_name = "FILE", requires = "out")]
    genesis: Option<PathBuf>,
}

/// `chorus revoke`.
pub fn revoke(dd: &DataDir, client: &Client, a: RevokeArgs) -> Result<Output> {
    let delegation = id_arg("delegation", &a.delegation)?;
    let mut keep: Vec<ObjectId> = a.keep.iter().map(|k| id_arg("--keep", k)).collect::<Result<_>>()?;
    let (key, trust) = trust_signer(dd)?;
    let coalition = coalition_for(dd, client, a.out.is_some(), a.genesis.as_deref())?;
    keep.sort();
    keep.dedup();
    let r = Revocation { coalition: coalition.id(), trust, delegation, keep, created_at_ms: now_ms() };
    let body = r.to_body();
    Revocation::from_body(&body).map_err(|e| anyhow!("the revocation is not valid: {e}"))?;
    match submit_or_write(client, &signed(Kind::Revocation, body, &key), a.out.as_deref())? {
        Ok(r) => Ok(Output::new(&r, format!("revoked {}: {}", delegation.short(12), r.id))),
        Err(written) => Ok(written),
    }
}

/// `chorus rotate-key`: a new trust key, the rotation signed with the old
/// one. The old key file is kept as `trust.key.<ms>.old`; `trust.id` is
/// written so the node keeps speaking for the same trust.
pub fn rotate_key(dd: &DataDir, client: &Client, drop_past: bool) -> Result<Output> {
    let (old, trust) = trust_signer(dd)?;
    let (_, coalition) = leader::coalition(client)?;
    // By default everything the old key signed stands (PROTOCOL.md 12.6:
    // only what a rotation keeps counts once a key is superseded).
    let mut keep: Vec<ObjectId> =
        if drop_past { Vec::new() } else { client.call(&Request::SignedBy { key: old.public().to_hex() })? };
    keep.sort();
    let limit = 2048;
    if keep.len() > limit {
        bail!("the old key signed {} objects, over the {limit} a rotation can keep; ask for help", keep.len());
    }
    let new = Keypair::generate();
    let pending = dd.root().join("trust.key.new");
    if pending.exists() {
        bail!("{} exists from an interrupted rotation; check it, then remove it", pending.display());
    }
    // The new key is on disk before anything is signed with the old.
    write_new_secret(&pending, &new.seed())?;
    let r = KeyRotation { coalition: coalition.id(), trust, new_key: new.public(), keep, created_at_ms: now_ms() };
    let body = r.to_body();
    let result = KeyRotation::from_body(&body)
        .map_err(|e| anyhow!("the rotation is not valid: {e}"))
        .and_then(|_| leader::submit(client, &signed(Kind::KeyRotation, body, &old)));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e);
        }
    };
    if !dd.trust_id_path().exists() {
        write_atomic(&dd.trust_id_path(), format!("{trust}\n").as_bytes(), 0o600)?;
    }
    let backup = dd.root().join(format!("trust.key.{}.old", now_ms()));
    let was_encrypted = keep_old_trust_key(dd, &backup)?;
    std::fs::rename(&pending, dd.trust_key_path()).with_context(|| {
        format!("the rotation is stored but {} could not replace the trust key; rename it by hand", pending.display())
    })?;
    let v = serde_json::json!({
        "rotation": r.id, "trust": trust, "new_key": new.public(), "old_key": old.public(), "backup": backup,
    });
    let human = format!(
        "rotated the key of trust {trust} to {}\nrotation {}\nold key kept in {} (store it offline, then delete it)\nrestart the node to sign with the new key{}",
        new.public(),
        r.id,
        backup.display(),
        unencrypted_note(dd, was_encrypted)
    );
    Ok(Output { json: v, human })
}

/// `chorus trust-key install FILE`: makes the key in FILE this trust's
/// signing key, once the node's newest roster names it as the trust's root
/// key (an adopted `member replace-key`). The old key file is kept as
/// `trust.key.<ms>.old`; `trust.id` keeps naming the same trust.
pub fn trust_key(dd: &DataDir, client: &Client, cmd: TrustKeyCmd) -> Result<Output> {
    let TrustKeyCmd::Install { file } = cmd;
    let new = read_secret(&file)?;
    let trust = dd.trust_id()?;
    let current = dd.trust_key()?;
    if current.public() == new.public() {
        let v = serde_json::json!({ "trust": trust, "key": new.public(), "installed": false });
        return Ok(Output { json: v, human: "this key is already the trust key; nothing changed".into() });
    }
    let roster = leader::roster(client)?;
    let member = find_member(&roster, &trust)
        .ok_or_else(|| anyhow!("trust {trust} is not a member of the node's newest roster; nothing installed"))?;
    if member.root_key != new.public().to_hex() {
        bail!(
            "the node's newest roster does not name {} as the key of trust {trust} (it names {}); \
             a member proposes `chorus member replace-key {trust} --key {}` and the coalition adopts it first",
            new.public(),
            member.root_key,
            new.public()
        );
    }
    let pending = dd.root().join("trust.key.new");
    if pending.exists() {
        bail!("{} exists from an interrupted rotation or installation; check it, then remove it", pending.display());
    }
    write_new_secret(&pending, &new.seed())?;
    if !dd.trust_id_path().exists() {
        write_atomic(&dd.trust_id_path(), format!("{trust}\n").as_bytes(), 0o600)?;
    }
    let backup = dd.root().join(format!("trust.key.{}.old", now_ms()));
    let was_encrypted = keep_old_trust_key(dd, &backup)?;
    std::fs::rename(&pending, dd.trust_key_path())
        .with_context(|| format!("{} could not replace the trust key; rename it by hand", pending.display()))?;
    // The rename itself is durable before the command reports success.
    std::fs::File::open(dd.root()).and_then(|d| d.sync_all()).context("cannot sync the data directory")?;
    let v = serde_json::json!({
        "trust": trust, "key": new.public(), "old_key": current.public(), "backup": backup, "installed": true,
    });
    let human = format!(
        "installed {} as the key of trust {trust}\nold key kept in {} (its signatures no longer count; store it offline, then delete it)\nrestart the node to sign with the new key{}",
        new.public(),
        backup.display(),
        unencrypted_note(dd, was_encrypted)
    );
    Ok(Output { json: v, human })
}

/// Copies the trust key file, byte for byte (so an encrypted key stays
/// encrypted), to the new file `backup`; true when it is encrypted.
fn keep_old_trust_key(dd: &DataDir, backup: &Path) -> Result<bool> {
    let content = keyfile::read_private(&dd.trust_key_path())?;
    write_new(backup, &content, 0o600)?;
    Ok(keyfile::is_encrypted(&content))
}

/// What to say when an encrypted trust key was replaced by a plain one.
fn unencrypted_note(dd: &DataDir, was_encrypted: bool) -> String {
    if !was_encrypted {
        return String::new();
    }
    format!(
        "\nthe old key file was encrypted; the new one is not: run `chorus key encrypt {}`",
        dd.trust_key_path().display()
    )
}

/// `chorus leader-key FILE` and `chorus keygen FILE`: a new key written to
/// a new file; prints its public key (for `chorus delegate --key` or
/// `chorus member replace-key --key`). Unless `unencrypted`, the file is
/// encrypted with a new passphrase (from the terminal, asked twice, or from
/// `CHORUS_PASSPHRASE_FILE` / `CHORUS_PASSPHRASE`).
pub fn leader_key(file: &Path, unencrypted: bool) -> Result<Output> {
    if file.exists() {
        // Before a passphrase is asked for nothing.
        return Err(NodeError::KeyExists(file.to_path_buf()).into());
    }
    let passphrases = Passphrases::from_env();
    if !unencrypted && passphrases.source().is_none() {
        bail!(
            "{} is to be encrypted and needs a new passphrase; give it with CHORUS_PASSPHRASE_FILE=FILE \
             (a file only you can read) or run in a terminal, or pass --unencrypted",
            file.display()
        );
    }
    let key = Keypair::generate();
    let source = if unencrypted {
        write_new_secret(file, &key.seed())?;
        None
    } else {
        let (passphrase, source) = passphrases.new_passphrase(file)?;
        write_new(file, &keyfile::encrypt_key(&key, passphrase)?, 0o600)?;
        Some(source)
    };
    let v = serde_json::json!({
        "file": file, "key": key.public(), "encrypted": source.is_some(),
        "passphrase_from": source.as_ref().map(|s| s.name()),
    });
    Ok(Output { json: v, human: key.public().to_hex() })
}
