//! `chorus propose`: a proposal signed with the trust key, its body read
//! from a file, stdin or the editor.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chorus_node::control::SubmitOutcome;
use chorus_node::datadir::DataDir;

use crate::commands::{backup, client, governance};
use crate::error::Usage;
use crate::leader;
use crate::output::Output;

/// Signs and submits a proposal; prints its id. With `out`, writes the
/// signed proposal to that new file instead of submitting it.
pub(crate) fn run(
    dd: &DataDir,
    title: &str,
    body_file: Option<&Path>,
    closes_in_days: Option<u32>,
    out: Option<&Path>,
) -> Result<Output> {
    let c = client(dd)?;
    let (key, trust) = governance::trust_signer(dd)?;
    let body = read_body(body_file)?;
    let closes = closes_in_days.map(|d| chorus_node::daemon::now_ms() + u64::from(d) * 86_400_000);
    let env = leader::propose_envelope(&c, &key, trust, title, &body, closes, None)?;
    if let Some(out) = out {
        return backup::write_envelope(&env, out);
    }
    let r = leader::submit(&c, &env)?;
    if r.outcome == SubmitOutcome::Waiting {
        eprintln!(
            "note: not stored yet: your node does not hold the objects this relies on; it stores it when they arrive"
        );
    }
    Ok(Output::new(&r, r.id.to_hex()))
}

/// The body from `file` (`-` for stdin); without a file, from stdin when it
/// is not a terminal, else written in `$VISUAL` or `$EDITOR`.
pub(crate) fn read_body(file: Option<&Path>) -> Result<String> {
    let limit = chorus_core::limits::MAX_BODY_BYTES;
    let bytes = match file {
        Some(p) if p == Path::new("-") => read_stdin(limit)?,
        Some(p) => chorus_node::datadir::read_bounded(p, limit)?,
        None if !std::io::stdin().is_terminal() => read_stdin(limit)?,
        None => edit_body()?,
    };
    String::from_utf8(bytes).map_err(|_| anyhow!("the body is not UTF-8 text"))
}

fn read_stdin(limit: usize) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().take(limit as u64 + 1).read_to_end(&mut buf).context("cannot read the body from stdin")?;
    if buf.len() > limit {
        bail!("the body is over the limit of {limit} bytes");
    }
    Ok(buf)
}

fn edit_body() -> Result<Vec<u8>> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .map_err(|_| Usage("no body given: pass --body-file FILE, pipe the body on stdin, or set $EDITOR".into()))?;
    let dir = std::env::temp_dir().join(format!("chorus-body-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create a temporary file for the editor")?;
    let path = dir.join("PROPOSAL.md");
    std::fs::write(&path, b"").context("cannot create a temporary file for the editor")?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"))?;
    let body = chorus_node::datadir::read_bounded(&path, chorus_core::limits::MAX_BODY_BYTES);
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        bail!("the editor exited with {status}; nothing was proposed");
    }
    let body = body?;
    if body.iter().all(u8::is_ascii_whitespace) {
        bail!("the body is empty; nothing was proposed");
    }
    Ok(body)
}
