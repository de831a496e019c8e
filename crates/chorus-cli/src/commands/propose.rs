//! `chorus propose`: a proposal signed with the trust key, its body read
//! from a file, stdin or the editor; as a draft for discussion first, or as
//! the revision of an earlier text (which it then withdraws, when it is the
//! same author's).

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::ObjectId;
use chorus_node::control::{Client, SubmitOutcome, SubmitResult};
use chorus_node::daemon::now_ms;
use chorus_node::datadir::DataDir;
use clap::Args;
use sha2::{Digest, Sha256};

use crate::commands::{backup, client, deliberate, governance};
use crate::error::Usage;
use crate::leader::{self, CheckedProposal, Drafting};
use crate::output::{self, safe_line, time, Output};

/// Arguments of `chorus propose`.
#[derive(Args, Debug)]
pub(crate) struct ProposeArgs {
    /// One-line title.
    #[arg(long)]
    pub(crate) title: String,
    /// Read the markdown body from FILE (`-` for stdin). Without it the
    /// body is read from stdin when piped, or written in $EDITOR.
    #[arg(long, value_name = "FILE")]
    pub(crate) body_file: Option<PathBuf>,
    /// Close the proposal after this many days (default: never closes).
    #[arg(long, value_name = "DAYS")]
    pub(crate) closes_in_days: Option<u32>,
    /// Publish it as a draft, for comments and amendments: voting opens at
    /// --voting-opens, or when you run `chorus open-voting ID`.
    #[arg(long)]
    pub(crate) draft: bool,
    /// When voting opens: days (3 or 3d), hours (12h) or minutes (30m)
    /// from now, or an RFC 3339 time (2027-03-01T09:00:00Z). Stances
    /// signed before then do not count.
    #[arg(long, value_name = "TIME")]
    pub(crate) voting_opens: Option<String>,
    /// This text revises proposal ID (id or unique prefix): it links to it
    /// as amending it, and, when ID is your trust's and not withdrawn, ID
    /// is withdrawn (you are shown both and asked, unless --yes).
    #[arg(long, value_name = "ID")]
    pub(crate) revises: Option<String>,
    /// The amendments of the revised proposal this text takes up: comment
    /// ids or unique prefixes, separated by commas.
    #[arg(long, value_name = "C1,C2", requires = "revises", value_delimiter = ',')]
    pub(crate) takes_up: Vec<String>,
    /// Write the signed proposal to FILE (new) instead of submitting it;
    /// import it on any member node with `chorus import FILE`. The node
    /// is still needed to read the coalition and the roster.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// With --remote: the trust key file to sign with (it stays on this machine).
    #[arg(long, value_name = "FILE")]
    pub(crate) trust_key: Option<PathBuf>,
    /// Do not ask for confirmation (asked with --remote, and before a
    /// revision withdraws the text it revises).
    #[arg(long, short)]
    pub(crate) yes: bool,
}

impl ProposeArgs {
    /// The closing time and the drafting asked for, the times read against
    /// `now`; a usage error for a time that does not parse or an opening
    /// after the closing.
    pub(crate) fn timing(&self, now: u64) -> Result<(Option<u64>, Drafting)> {
        let closes = self.closes_in_days.map(|d| now + u64::from(d) * 86_400_000);
        let opens = match &self.voting_opens {
            None => None,
            Some(t) => Some(crate::when::parse(t, now).map_err(|e| Usage(format!("--voting-opens: {e}")))?),
        };
        // A minute's grace for a time typed as "now"; anything earlier is
        // a mistake, not an opening.
        if let Some(o) = opens.filter(|o| o.saturating_add(60_000) < now) {
            return Err(Usage(format!(
                "--voting-opens {} is in the past: give a later time, or leave it out (without --draft, voting opens at once)",
                time(o)
            ))
            .into());
        }
        if let (Some(o), Some(c)) = (opens, closes) {
            if o > c {
                return Err(Usage(format!(
                    "--voting-opens {} is after the proposal closes ({}): give an earlier opening or a later --closes-in-days",
                    time(o),
                    time(c)
                ))
                .into());
            }
        }
        Ok((closes, Drafting { draft: self.draft, voting_opens_at_ms: opens, ..Drafting::default() }))
    }
}

/// The proposal a revision revises, what it takes up, and whether it is
/// withdrawn with it.
struct Revision {
    old: CheckedProposal,
    amendments: Vec<ObjectId>,
    withdraw: bool,
}

/// What `propose --revises` did besides proposing.
#[derive(serde::Serialize)]
struct Proposed {
    #[serde(flatten)]
    result: SubmitResult,
    /// The proposal revised, when `--revises`.
    #[serde(skip_serializing_if = "Option::is_none")]
    revises: Option<ObjectId>,
    /// The amendments taken up, sorted.
    #[serde(skip_serializing_if = "Option::is_none")]
    amendments: Option<Vec<ObjectId>>,
    /// The withdrawal of the revised proposal, when one was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    withdrawal: Option<Option<SubmitResult>>,
}

/// Signs and submits a proposal; prints its id. With `out`, writes the
/// signed proposal to that new file instead of submitting it. With
/// `--revises`, also withdraws the revised proposal when it is this
/// trust's and not withdrawn yet, after showing both and asking.
pub(crate) fn run(dd: &DataDir, a: ProposeArgs) -> Result<Output> {
    if a.trust_key.is_some() {
        return Err(Usage("--trust-key goes with --remote; the local node signs with its trust key".into()).into());
    }
    let c = client(dd)?;
    let (key, trust) = governance::trust_signer(dd)?;
    let (closes, mut drafting) = a.timing(now_ms())?;
    if let Some(note) = upgrade_note(&drafting) {
        eprintln!("{note}");
    }
    let revision = match &a.revises {
        None => None,
        Some(id) => Some(revision(&c, id, &a.takes_up, &trust)?),
    };
    if let Some(r) = &revision {
        drafting.revises = Some(r.old.id);
        drafting.amendments = r.amendments.clone();
    }
    let body = read_body(a.body_file.as_deref())?;
    let Some(r) = revision else {
        let env = leader::propose_envelope(&c, &key, trust, fields(&a.title, &body, closes, &drafting))?;
        if let Some(out) = &a.out {
            return backup::write_envelope(&env, out);
        }
        let res = leader::submit(&c, &env)?;
        note_waiting(res.outcome);
        return Ok(Output::new(&res, res.id.to_hex()));
    };
    if let Some(out) = &a.out {
        if r.withdraw {
            eprintln!(
                "note: {} is not withdrawn with --out; once the revision is imported, run `chorus withdraw {}`",
                r.old.id.short(12),
                r.old.id
            );
        }
        let env = leader::propose_envelope(&c, &key, trust, fields(&a.title, &body, closes, &drafting))?;
        return backup::write_envelope(&env, out);
    }
    // Two objects are signed: both are shown, and nothing is signed before
    // the answer.
    if r.withdraw {
        eprintln!(
            "You are about to sign, as the author ({}):\n  a revision  {}\n  body sha256 {}\n  voting      {}\n  closes      {}\n  revising    {} {}\n  taking up   {}\n  and the withdrawal of {}, with the reason \"{} <the revision's id>\": no stance on it signed after the withdrawal counts; stances signed before keep their effect",
            trust.short(12),
            safe_line(&a.title),
            hex::encode(Sha256::digest(body.as_bytes())),
            voting_line(&drafting),
            closes.map_or_else(|| "never".to_string(), output::time),
            r.old.id,
            safe_line(&r.old.proposal.title),
            if r.amendments.is_empty() {
                "no amendment".to_string()
            } else {
                r.amendments.iter().map(|x| x.short(12)).collect::<Vec<_>>().join(", ")
            },
            r.old.id.short(12),
            WITHDRAWAL_REASON
        );
        output::sign_or_stop(a.yes, "Sign both?")?;
    }
    let env = leader::propose_envelope(&c, &key, trust, fields(&a.title, &body, closes, &drafting))?;
    let res = leader::submit(&c, &env)?;
    note_waiting(res.outcome);
    let mut human = format!("{}\nrevises {}", res.id, r.old.id);
    let withdrawal = if r.withdraw && res.outcome == SubmitOutcome::Waiting {
        // A withdrawal must not take effect while the text replacing the
        // proposal is not held: it could leave members with neither.
        human.push_str(&format!(
            "\n{} is not withdrawn: the node does not hold the revision yet (it waits for the objects it relies on); \
             once `chorus show {}` finds it, run `chorus withdraw {} --reason \"{} {}\"`",
            r.old.id.short(12),
            res.id.short(12),
            r.old.id,
            WITHDRAWAL_REASON,
            res.id
        ));
        Some(None)
    } else if r.withdraw {
        let reason = format!("{WITHDRAWAL_REASON} {}", res.id);
        let sent = deliberate::coalition_of(&c)
            .and_then(|coalition| {
                crate::deliberation::withdrawal_envelope(&coalition, &key, trust, r.old.id, Some(reason))
            })
            .and_then(|w| leader::submit(&c, &w));
        let wr = sent.with_context(|| {
            format!(
                "the revision {} is {}, but withdrawing {} failed; run `chorus withdraw {}`",
                res.id, res.outcome, r.old.id, r.old.id
            )
        })?;
        human.push_str(&format!("\nwithdrew {} (withdrawal {})", r.old.id, wr.id));
        Some(Some(wr))
    } else {
        human.push_str(&format!("\n{} is not withdrawn: {}", r.old.id.short(12), why_not_withdrawn(&r.old, &trust)));
        Some(None)
    };
    let proposed = Proposed { result: res, revises: Some(r.old.id), amendments: Some(r.amendments), withdrawal };
    Ok(Output::new(&proposed, human))
}

/// The reason a revision's withdrawal of the text it revises gives,
/// followed by the revision's id.
const WITHDRAWAL_REASON: &str = "replaced by its revision";

/// How voting on a new proposal opens, as prompts say it.
pub(crate) fn voting_line(drafting: &Drafting) -> String {
    match (drafting.draft, drafting.voting_opens_at_ms) {
        (_, Some(t)) => format!("opens {}{}", output::time(t), if drafting.draft { " (a draft)" } else { "" }),
        (true, None) => "a draft: opens when you open it (`chorus open-voting`)".to_string(),
        (false, None) => "open from now".to_string(),
    }
}

/// The one note for a proposal that uses drafting (a draft or a fixed
/// opening time): nodes of earlier versions refuse it, so it reaches only
/// members whose nodes run this version.
pub(crate) fn upgrade_note(drafting: &Drafting) -> Option<&'static str> {
    (drafting.draft || drafting.voting_opens_at_ms.is_some()).then_some(
        "note: a draft or a fixed voting opening is new in this version of chorus: members' nodes must run it \
         (older nodes refuse such a proposal and do not pass it on)",
    )
}

fn note_waiting(outcome: SubmitOutcome) {
    if outcome == SubmitOutcome::Waiting {
        eprintln!(
            "note: not stored yet: your node does not hold the objects this relies on; it stores it when they arrive"
        );
    }
}

/// Why a revised proposal is not withdrawn with its revision.
fn why_not_withdrawn(old: &CheckedProposal, trust: &chorus_core::PublicKey) -> String {
    if old.proposal.author != *trust {
        format!("it is {}'s, not your trust's", safe_line(&old.author_name))
    } else if crate::deliberation::window(old).withdrawn_at_ms.is_some() {
        "it was withdrawn already".into()
    } else {
        "it is already a position".into()
    }
}

/// The proposal `id` revises, checked here, with the amendments named in
/// `takes_up` resolved among its own (sorted, no id twice).
fn revision(c: &Client, id: &str, takes_up: &[String], trust: &chorus_core::PublicKey) -> Result<Revision> {
    let coalition = deliberate::coalition_of(c)?;
    let old = deliberate::fetch_known(c, &coalition, id)?;
    let mut amendments = Vec::with_capacity(takes_up.len());
    for want in takes_up.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let found = deliberate::resolve_comment(&old, want, true)?;
        amendments.push(found);
    }
    amendments.sort();
    amendments.dedup();
    if amendments.len() > chorus_core::limits::MAX_AMENDMENTS {
        return Err(Usage(format!(
            "--takes-up names {} amendments; a revision takes up at most {}",
            amendments.len(),
            chorus_core::limits::MAX_AMENDMENTS
        ))
        .into());
    }
    let withdraw = old.proposal.author == *trust
        && crate::deliberation::window(&old).withdrawn_at_ms.is_none()
        && old.detail.summary.status != "adopted";
    Ok(Revision { old, amendments, withdraw })
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

/// The fields of a position `chorus propose` signs (no governance action).
pub(crate) fn fields<'a>(
    title: &'a str,
    body: &'a str,
    closes_at_ms: Option<u64>,
    drafting: &'a Drafting,
) -> leader::ProposalFields<'a> {
    leader::ProposalFields { title, body, closes_at_ms, action: None, drafting }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_say_how_voting_opens_and_drafting_notes_the_upgrade() {
        let open = Drafting::default();
        assert_eq!(voting_line(&open), "open from now");
        assert_eq!(upgrade_note(&open), None);
        let draft = Drafting { draft: true, ..Drafting::default() };
        assert!(voting_line(&draft).starts_with("a draft: opens when you open it"));
        let fixed = Drafting { voting_opens_at_ms: Some(1_800_000_000_000), ..Drafting::default() };
        assert!(voting_line(&fixed).starts_with("opens 20") && !voting_line(&fixed).contains("draft"));
        for d in [&draft, &fixed] {
            let note = upgrade_note(d).unwrap();
            assert!(note.starts_with("note: ") && note.contains("members' nodes must run it"), "{note}");
        }
    }
}
