//! `chorus comment`, `chorus amend`, `chorus open-voting` and `chorus
//! withdraw`: the discussion of a proposal and its author's notices. Each
//! checks the proposal here (its envelope verified against the coalition),
//! refuses what cannot count before anything is signed, shows what is
//! about to be signed and asks (unless `--yes`), then signs and submits it
//! (or writes it to `--out`).

use std::path::PathBuf;

use anyhow::Result;
use chorus_core::{Amendment, Coalition, Envelope, Keypair, Kind, ObjectId, PublicKey};
use chorus_node::control::{Client, ProposalDetail, Request, SubmitOutcome, SubmitResult};
use chorus_node::daemon::now_ms;
use chorus_node::datadir::DataDir;
use chorus_node::NodeError;
use clap::Args;
use sha2::{Digest, Sha256};

use crate::commands::{backup, client, governance, propose};
use crate::deliberation::{self, Voting};
use crate::error::Refusal;
use crate::leader::{self, CheckedProposal};
use crate::output::{self, indent, safe_line, safe_text, time, Output};

/// Arguments of `chorus comment`.
#[derive(Args, Debug)]
pub(crate) struct CommentArgs {
    /// Proposal id or unique prefix.
    pub(crate) id: String,
    /// The comment (Markdown, may span lines); `-` reads it from stdin.
    pub(crate) text: String,
    /// Reply to this comment (id or unique prefix).
    #[arg(long, value_name = "COMMENT")]
    pub(crate) reply_to: Option<String>,
    #[command(flatten)]
    pub(crate) sign: SignArgs,
}

/// Arguments of `chorus amend`.
#[derive(Args, Debug)]
pub(crate) struct AmendArgs {
    /// Proposal id or unique prefix (a draft).
    pub(crate) id: String,
    /// The proposed new body, Markdown (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) body_file: PathBuf,
    /// A proposed new title (default: the title stays).
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// Why, in a few words (shown with the amendment).
    #[arg(long)]
    pub(crate) reason: Option<String>,
    #[command(flatten)]
    pub(crate) sign: SignArgs,
}

/// Who signs a stance, a comment or an amendment, and whether to ask
/// first.
#[derive(Args, Debug)]
pub(crate) struct SignerArgs {
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub(crate) yes: bool,
    /// Sign as a leader with this key file (see `chorus delegate`), not with the trust key.
    #[arg(long, value_name = "KEYFILE", requires = "delegation")]
    pub(crate) as_leader: Option<PathBuf>,
    /// The delegation that lets the leader sign for your trust.
    #[arg(long, value_name = "ID", requires = "as_leader")]
    pub(crate) delegation: Option<String>,
}

/// How a comment or an amendment is signed and where it goes.
#[derive(Args, Debug)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Write the signed object to FILE (new) instead of submitting it;
    /// import it on any member node with `chorus import FILE`.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// Arguments of `chorus open-voting`.
#[derive(Args, Debug)]
pub(crate) struct OpenVotingArgs {
    /// Proposal id or unique prefix (one of your trust's).
    pub(crate) id: String,
    #[command(flatten)]
    pub(crate) send: SendArgs,
}

/// Arguments of `chorus withdraw`.
#[derive(Args, Debug)]
pub(crate) struct WithdrawArgs {
    /// Proposal id or unique prefix (one of your trust's).
    pub(crate) id: String,
    /// Why, shown with the withdrawal.
    #[arg(long)]
    pub(crate) reason: Option<String>,
    #[command(flatten)]
    pub(crate) send: SendArgs,
}

/// Confirmation and destination of an author's notice.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub(crate) yes: bool,
    /// Write the signed object to FILE (new) instead of submitting it;
    /// import it on any member node with `chorus import FILE`.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// What a deliberation command did: the node's answer, with the kind of
/// object and the proposal it is about.
#[derive(serde::Serialize)]
struct Done {
    #[serde(flatten)]
    result: SubmitResult,
    /// `comment`, `amendment`, `open_voting` or `withdrawal` (as the
    /// node's views name notices; messages for people say `open-voting`).
    #[serde(serialize_with = "json_kind")]
    kind: &'static str,
    /// The proposal's full id.
    proposal: ObjectId,
    /// Comments and amendments: whether the node counts it as the trust's
    /// (`null` when it could not be asked or the object waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    counted: Option<Option<bool>>,
}

/// A deliberation kind as `--json` names it.
fn json_kind<S: serde::Serializer>(kind: &&'static str, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(if *kind == "open-voting" { chorus_node::control::notice_kind::OPEN_VOTING } else { kind })
}

/// The coalition the node serves, verified from its genesis.
pub(crate) fn coalition_of(c: &Client) -> Result<Coalition> {
    Ok(leader::coalition(c)?.1)
}

/// Fetches and checks proposal `id`; an id the node does not know is a
/// refusal naming it.
pub(crate) fn fetch_known(c: &Client, coalition: &Coalition, id: &str) -> Result<CheckedProposal> {
    fetch_known_with(c, coalition, id, true)
}

/// [`fetch_known`]; without `comments` the node leaves the comments out.
pub(crate) fn fetch_known_with(c: &Client, coalition: &Coalition, id: &str, comments: bool) -> Result<CheckedProposal> {
    match leader::fetch_checked_with(c, coalition, id, comments) {
        Err(e) if is_unknown(&e) => Err(Refusal::new(
            "unknown_proposal",
            format!("no proposal {} is known to this node; check the id with `chorus proposals`", safe_line(id.trim())),
        )
        .into()),
        r => r,
    }
}

fn is_unknown(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<NodeError>(), Some(NodeError::Remote(m)) if m.starts_with("no proposal has an id"))
}

/// The full id of the comment `want` (id or unique prefix of at least 4
/// hex characters) among those the node holds on `p`; with `amendment`,
/// among its amendments only.
pub(crate) fn resolve_comment(p: &CheckedProposal, want: &str, amendment: bool) -> Result<ObjectId> {
    let what = if amendment { "amendment" } else { "comment" };
    let candidates = p.detail.comments.iter().filter(|c| !amendment || c.amendment.is_some());
    let found = unique_comment(want, candidates.map(|c| c.id), what)?;
    // A view carries a bounded part of the discussion: a full id of a
    // comment it left out is taken as given (a reply or an amendment names
    // it; neither is checked to exist).
    let full = || want.trim().to_ascii_lowercase().parse::<ObjectId>().ok();
    match found.or_else(|| full().filter(|_| p.detail.comments_omitted > 0)) {
        Some(id) => Ok(id),
        None => Err(Refusal::new(
            "unknown_comment",
            format!(
                "no {what} {} of proposal {} is known to this node; see the discussion with `chorus show {}`",
                safe_line(want.trim()),
                p.id.short(12),
                p.id.short(12)
            ),
        )
        .into()),
    }
}

/// The one id among `ids` that `want` names (a full id or a prefix of at
/// least 4 hex characters, any case, spaces around ignored): `None` when
/// none does or `want` is not such a prefix, a usage error naming `what`
/// when several do.
pub(crate) fn unique_comment(
    want: &str,
    ids: impl IntoIterator<Item = ObjectId>,
    what: &str,
) -> Result<Option<ObjectId>> {
    let prefix = want.trim().to_ascii_lowercase();
    if prefix.len() < 4 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let matches: Vec<ObjectId> = ids.into_iter().filter(|id| id.to_hex().starts_with(&prefix)).collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        many => {
            Err(crate::error::Usage(format!("{prefix} is the start of {} {what} ids: give more of it", many.len()))
                .into())
        }
    }
}

/// `chorus comment ID [--reply-to C] TEXT`.
pub(crate) fn comment(dd: &DataDir, a: CommentArgs) -> Result<Output> {
    let c = client(dd)?;
    let signer = governance::stance_signer(dd, a.sign.signer.as_leader.as_ref(), a.sign.signer.delegation.as_deref())?;
    let coalition = coalition_of(&c)?;
    let p = fetch_known(&c, &coalition, &a.id)?;
    let reply_to = a.reply_to.as_deref().map(|r| resolve_comment(&p, r, false)).transpose()?;
    let text = if a.text == "-" { propose::read_body(Some(std::path::Path::new("-")))? } else { a.text.clone() };
    let roster = leader::roster(&c)?;
    // Every field rule is checked before the prompt; the object is signed,
    // with the time of signing, only once confirmed.
    let body = || deliberation::comment_body(&coalition, &roster, &signer, p.id, &text, reply_to, None);
    body()?;
    let mut shown =
        format!("{}\n  comment on  {}\n  title       {}", as_who(&roster, &signer), p.id, safe_line(&p.proposal.title));
    if let Some(r) = reply_to {
        let parent = p.detail.comments.iter().find(|x| x.id == r);
        shown.push_str(&format!(
            "\n  in reply to {} by {}",
            r.short(12),
            parent.and_then(|x| x.trust_name.as_deref()).map_or_else(|| "(unknown)".into(), safe_line)
        ));
    }
    shown.push_str(&format!("\n  text\n{}", indent(&safe_text(&text), 4)));
    sign_and_send(&c, &p, &body, &signer.key, "comment", shown, &a.sign)
}

/// `chorus amend ID --body-file F [--title T] [--reason TEXT]`: an
/// amendment to a draft, before voting opens.
pub(crate) fn amend(dd: &DataDir, a: AmendArgs) -> Result<Output> {
    let c = client(dd)?;
    let signer = governance::stance_signer(dd, a.sign.signer.as_leader.as_ref(), a.sign.signer.delegation.as_deref())?;
    let coalition = coalition_of(&c)?;
    let p = fetch_known(&c, &coalition, &a.id)?;
    let id = p.id.short(12);
    match deliberation::voting(&p, now_ms()) {
        Voting::NotOpen { .. } => {}
        Voting::Open { since_ms } => {
            let since = if since_ms == 0 { p.proposal.created_at_ms } else { since_ms };
            return Err(Refusal::new(
                "not_draft",
                format!("proposal {id} is not a draft (voting opened at {}); amendments are for drafts", time(since)),
            )
            .into());
        }
        Voting::Withdrawn { at_ms } => {
            return Err(Refusal::new(
                "withdrawn",
                format!("proposal {id} was withdrawn by its author at {}; amendments are for drafts", time(at_ms)),
            )
            .into())
        }
        Voting::Closed { at_ms } => {
            return Err(Refusal::new(
                "closed",
                format!("proposal {id} closed at {}; amendments are for drafts", time(at_ms)),
            )
            .into())
        }
    }
    let text = propose::read_body(Some(&a.body_file))?;
    let title = a.title.clone().filter(|t| !t.is_empty());
    let roster = leader::roster(&c)?;
    let amendment = Amendment { body: text.clone(), title: title.clone() };
    let reason = a.reason.clone().unwrap_or_default();
    // Every field rule is checked before the prompt; signed once confirmed.
    let body =
        || deliberation::comment_body(&coalition, &roster, &signer, p.id, &reason, None, Some(amendment.clone()));
    body()?;
    let shown = format!(
        "{}\n  amendment to {}\n  title        {}\n  new title    {}\n  new body sha256 {} ({} bytes)\n  reason       {}",
        as_who(&roster, &signer),
        p.id,
        safe_line(&p.proposal.title),
        title.as_deref().map_or_else(|| "(unchanged)".into(), safe_line),
        hex::encode(Sha256::digest(text.as_bytes())),
        text.len(),
        if reason.is_empty() { "(none given)".into() } else { safe_line(&reason) }
    );
    sign_and_send(&c, &p, &body, &signer.key, "amendment", shown, &a.sign)
}

/// "You are about to sign, as TRUST (a leader, key K):".
fn as_who(roster: &chorus_node::control::RosterInfo, signer: &leader::Signer) -> String {
    format!(
        "You are about to sign, as {}{}:",
        leader::member_name(roster, &signer.trust).map_or_else(|| "(not a member)".into(), |n| safe_line(&n)),
        if signer.delegation.is_some() {
            format!(" (a leader, key {})", signer.key.public().short(12))
        } else {
            String::new()
        }
    )
}

/// Shows `shown`, asks, signs the comment or amendment `body` makes with
/// `key` and submits it (or writes it), reporting whether the node counts
/// it as the trust's.
fn sign_and_send(
    c: &Client,
    p: &CheckedProposal,
    body: &dyn Fn() -> Result<Vec<u8>>,
    key: &Keypair,
    kind: &'static str,
    shown: String,
    a: &SignArgs,
) -> Result<Output> {
    eprintln!("{shown}");
    output::sign_or_stop(a.signer.yes, "Sign?")?;
    let env = Envelope::sign(Kind::Comment, body()?, &[key]);
    if let Some(out) = &a.out {
        return backup::write_envelope(&env, out);
    }
    let r = leader::submit(c, &env)?;
    let mut human = format!("{kind} recorded: {}", r.id);
    let counted = if r.outcome == SubmitOutcome::Waiting {
        human = format!(
            "{kind} signed: {}, but not stored yet: your node does not hold the objects it relies on; it stores it when they arrive",
            r.id
        );
        None
    } else {
        // A comment that does not count (a revoked delegation, a trust
        // outside the proposal's roster) is kept and shown as such: say so.
        let d = c.call::<ProposalDetail>(&Request::Show { id: p.id.to_hex(), comments: true }).ok();
        let counted = d.and_then(|d| d.comments.iter().find(|x| x.id == r.id).map(|x| x.counted));
        if counted == Some(false) {
            human.push_str(&format!(
                "\nnote: your node holds the {kind} but does not count it as your trust's (the key or delegation that \
                 signed it may not be in force, or your trust is not in the proposal's roster); `chorus show {}` marks it",
                p.id.short(12)
            ));
        }
        counted
    };
    let done = Done { result: r, kind, proposal: p.id, counted: Some(counted) };
    Ok(Output::new(&done, human))
}

/// Refuses a notice on `p` by a trust other than its author.
fn require_author(p: &CheckedProposal, trust: &PublicKey, what: &str) -> Result<()> {
    if p.proposal.author != *trust {
        return Err(Refusal::new(
            "not_author",
            format!(
                "proposal {} is by {}, not by your trust; only its author can {what} it",
                p.id.short(12),
                safe_line(&p.author_name)
            ),
        )
        .into());
    }
    Ok(())
}

/// `chorus open-voting ID`: the author opens voting on a draft now.
pub(crate) fn open_voting(dd: &DataDir, a: OpenVotingArgs) -> Result<Output> {
    let c = client(dd)?;
    let (key, trust) = governance::trust_signer(dd)?;
    let coalition = coalition_of(&c)?;
    let p = fetch_known_with(&c, &coalition, &a.id, false)?;
    require_author(&p, &trust, "open voting on")?;
    let id = p.id.short(12);
    match deliberation::voting(&p, now_ms()) {
        Voting::NotOpen { .. } => {}
        Voting::Open { since_ms: 0 } => {
            return Err(
                Refusal::new("voting_open", format!("voting on {id} is already open (since it was proposed)")).into()
            )
        }
        Voting::Open { since_ms } => {
            return Err(Refusal::new(
                "voting_open",
                format!("voting on {id} is already open (since {})", time(since_ms)),
            )
            .into())
        }
        Voting::Withdrawn { at_ms } => {
            return Err(Refusal::new(
                "withdrawn",
                format!("proposal {id} was withdrawn at {}; voting cannot open", time(at_ms)),
            )
            .into())
        }
        Voting::Closed { at_ms } => {
            return Err(
                Refusal::new("closed", format!("proposal {id} closed at {}; voting cannot open", time(at_ms))).into()
            )
        }
    }
    let body = || deliberation::open_voting_body(&coalition, trust, p.id);
    body()?;
    let shown = format!(
        "You are about to sign, as the author ({}):\n  open voting on {}\n  title          {}\n  body sha256    {}\nStances signed from now on count; the text is final (a changed text is a new proposal: `chorus propose --revises {id}`).",
        safe_line(&p.author_name),
        p.id,
        safe_line(&p.proposal.title),
        p.body_sha256
    );
    notice(&c, &p, (&body, Kind::OpenVoting, &key), "open-voting", &shown, &a.send)
}

/// `chorus withdraw ID [--reason TEXT]`: the author withdraws a proposal.
pub(crate) fn withdraw(dd: &DataDir, a: WithdrawArgs) -> Result<Output> {
    let c = client(dd)?;
    let (key, trust) = governance::trust_signer(dd)?;
    let coalition = coalition_of(&c)?;
    let p = fetch_known_with(&c, &coalition, &a.id, false)?;
    require_author(&p, &trust, "withdraw")?;
    let id = p.id.short(12);
    if p.detail.summary.status == "adopted" {
        return Err(Refusal::new(
            "already_position",
            format!("proposal {id} is already a position; a withdrawal cannot undo it"),
        )
        .into());
    }
    if let Some(at) = deliberation::window(&p).withdrawn_at_ms {
        return Err(Refusal::new("withdrawn", format!("proposal {id} was already withdrawn at {}", time(at))).into());
    }
    let body = || deliberation::withdrawal_body(&coalition, trust, p.id, a.reason.clone());
    body()?;
    let shown = format!(
        "You are about to sign, as the author ({}):\n  withdraw  {}\n  title     {}\n  reason    {}\nNo stance on it signed after the withdrawal counts; stances signed before keep their effect.",
        safe_line(&p.author_name),
        p.id,
        safe_line(&p.proposal.title),
        a.reason.as_deref().filter(|r| !r.is_empty()).map_or_else(|| "(none given)".into(), safe_line)
    );
    notice(&c, &p, (&body, Kind::Withdrawal, &key), "withdrawal", &shown, &a.send)
}

/// What an author's notice is made of: its body (signed at the time it is
/// called), its kind and the key that signs it.
type Notice<'a> = (&'a dyn Fn() -> Result<Vec<u8>>, Kind, &'a Keypair);

/// Shows, asks, signs, and submits (or writes) an author's notice.
fn notice(
    c: &Client,
    p: &CheckedProposal,
    (body, object_kind, key): Notice<'_>,
    kind: &'static str,
    shown: &str,
    a: &SendArgs,
) -> Result<Output> {
    eprintln!("{shown}");
    output::sign_or_stop(a.yes, "Sign?")?;
    let env = Envelope::sign(object_kind, body()?, &[key]);
    if let Some(out) = &a.out {
        return backup::write_envelope(&env, out);
    }
    let r = leader::submit(c, &env)?;
    let human = match (r.outcome, kind) {
        (SubmitOutcome::Waiting, _) => format!(
            "{kind} signed: {}, but not stored yet: your node does not hold the objects it relies on; it stores it when they arrive",
            r.id
        ),
        (_, "open-voting") => format!("voting on {} is open: {}", p.id.short(12), r.id),
        _ => format!("proposal {} is withdrawn: {}", p.id.short(12), r.id),
    };
    Ok(Output::new(&Done { result: r, kind, proposal: p.id, counted: None }, human))
}
