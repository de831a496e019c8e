//! `chorus remote add|list|remove`, and the commands a leader runs from
//! their own machine with `--remote NAME`: `proposals`, `positions`,
//! `show`, `roster`, `endorse`, `propose`, `import`. Objects are signed
//! here, after showing what is signed, and handed to the node's HTTP API;
//! no private key ever leaves this machine. See [`crate::remote`] for what
//! is verified.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{Envelope, Kind, Object, PublicKey, SCOPE_STANCES};
use chorus_node::control::{BreakdownInfo, SubmitOutcome};
use chorus_node::datadir::read_secret;
use clap::Subcommand;
use sha2::{Digest, Sha256};

use crate::commands::deliberate::{CommentArgs, SignerArgs};
use crate::commands::{backup, endorse::EndorseArgs, propose};
use crate::error::{Refused, Usage};
use crate::leader::{self, Signer};
use crate::output::{self, indent, safe_line, safe_text, time, Output};
use crate::remote::{self, Remote, Submitted};

/// `chorus remote ...`
#[derive(Subcommand, Debug)]
pub(crate) enum RemoteCmd {
    /// Add (or replace) a remote: a member node's URL, pinned to the
    /// coalition of a genesis file you got from your trust, not from the node.
    Add {
        /// A short name for it, e.g. "oak".
        name: String,
        /// The node's address, e.g. https://voice.example.org/
        url: String,
        /// The coalition's final genesis file.
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
    },
    /// List the remotes.
    List,
    /// Forget a remote.
    Remove {
        /// Its name.
        name: String,
    },
}

/// `chorus remote add|list|remove`.
pub(crate) fn run(cmd: RemoteCmd) -> Result<Output> {
    match cmd {
        RemoteCmd::Add { name, url, genesis } => {
            remote::check_name(&name)?;
            remote::normalise_url(&url)?;
            let coalition = chorus_node::founding::load_final(&genesis)?;
            let r = Remote::new(&name, &url, coalition)?;
            r.check_coalition()?;
            let path = remote::save(&r.entry, r.genesis_bytes())?;
            let human = format!(
                "remote {} is {}, coalition {:?} ({})\nsaved in {}\ntry: chorus --remote {} proposals",
                r.entry.name,
                r.entry.url,
                r.entry.coalition_name,
                r.entry.coalition,
                path.display(),
                r.entry.name
            );
            Ok(Output::new(&r.entry, human))
        }
        RemoteCmd::List => {
            let all = remote::list()?;
            let human = if all.is_empty() {
                "no remotes: add one with `chorus remote add NAME URL --genesis FILE`".to_string()
            } else {
                all.iter()
                    .map(|r| {
                        format!(
                            "{}  {}  {} ({})",
                            r.name,
                            safe_line(&r.url),
                            safe_line(&r.coalition_name),
                            r.coalition.get(..12).unwrap_or(&r.coalition)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            Ok(Output::new(&all, human))
        }
        RemoteCmd::Remove { name } => {
            remote::remove(&name)?;
            Ok(Output { json: serde_json::json!({ "removed": name }), human: format!("removed remote {name}") })
        }
    }
}

/// A remote loaded and checked: the node serves the pinned coalition.
pub(crate) fn open(name: &str) -> Result<Remote> {
    let r = Remote::load(name)?;
    r.check_coalition()?;
    Ok(r)
}

/// `chorus --remote NAME proposals|positions`.
pub(crate) fn proposals(r: &Remote, positions_only: bool) -> Result<Output> {
    let mut list = r.proposals()?;
    if positions_only {
        if let Some(items) = list["proposals"].as_array_mut() {
            items.retain(|p| p["status"] == "adopted");
        }
    }
    let items = list["proposals"].as_array().cloned().unwrap_or_default();
    let human = if items.is_empty() {
        if positions_only {
            "no positions adopted yet"
        } else {
            "no proposals yet (or the node publishes positions only)"
        }
        .to_string()
    } else {
        items
            .iter()
            .map(|p| {
                format!(
                    "{}  {:<9} {}  ({})",
                    safe_line(p["id"].as_str().unwrap_or("?").get(..12).unwrap_or("?")),
                    safe_line(p["status"].as_str().unwrap_or("?")),
                    safe_line(p["title"].as_str().unwrap_or("")),
                    safe_line(p["author_name"].as_str().unwrap_or(""))
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output { json: list, human })
}

/// `chorus --remote NAME show ID`: the proposal and its stances, every
/// envelope verified here; the tally is the node's view.
pub(crate) fn show(r: &Remote, id: &str) -> Result<Output> {
    let p = r.proposal(r.resolve(id)?)?;
    let roster = r.roster()?;
    let name = |key: &str| {
        roster.members.iter().find(|m| m.key == key).map_or("(not in the node's roster)".into(), |m| safe_line(&m.name))
    };
    let author = p.proposal.author.to_hex();
    let tally = &p.node_view["tally"];
    let mut h = format!(
        "{}\nid       {}\nauthor   {} ({})\nsigned   {}\ncreated  {}{}\nbody sha256 {}\nnode's view: {} - {} of {} endorsements needed; {} object, {} abstain\n{}\n{}\n",
        safe_line(&p.proposal.title),
        p.id,
        name(&author),
        author,
        proposal_signer(&p),
        time(p.proposal.created_at_ms),
        p.proposal.closes_at_ms.map(|c| format!("\ncloses   {}", time(c))).unwrap_or_default(),
        hex::encode(Sha256::digest(p.proposal.body.as_bytes())),
        safe_line(p.node_view["status"].as_str().unwrap_or("?")),
        tally["endorse"],
        tally["required"],
        tally["object"],
        tally["abstain"],
        node_breakdown(&p.node_view),
        indent(&p.proposal.body, 4)
    );
    // The window and the discussion are the node's view: its comments are
    // not served as signed objects here.
    let window = crate::deliberation::window_of_view(&p.node_view, &p.proposal);
    let comments: Vec<chorus_node::control::CommentInfo> =
        serde_json::from_value(p.node_view["comments"].clone()).unwrap_or_default();
    if p.proposal.draft || window.opens_at_ms != Some(0) || window.withdrawn_at_ms.is_some() || !comments.is_empty() {
        for line in crate::deliberation::window_lines(&window, p.proposal.draft, chorus_node::daemon::now_ms()) {
            h.push_str(&format!("node's view, {line}\n"));
        }
        h.push_str("node's view, ");
        h.push_str(&crate::commands::thread::thread_text(&comments));
        h.push_str(&crate::commands::thread::amendments_text(&comments));
    }
    h.push_str("\nstances (signatures verified here; * signed by the trust's founding key, else by a key the node says may sign for it):\n");
    if p.stances.is_empty() {
        h.push_str("  none yet\n");
    }
    for s in &p.stances {
        h.push_str(&format!(
            "  {:<8}{} {} ({}) {}{}\n",
            s.stance,
            if s.signer_is_trust { "*" } else { " " },
            name(&s.trust),
            &s.trust[..12],
            time(s.created_at_ms),
            // Signed text, possibly of several lines: each line marked
            // under the stance, so none can pass for another stance line.
            s.comment.as_ref().map(|c| format!("\n{}", indent(&super::thread::quoted(c), 11))).unwrap_or_default()
        ));
    }
    let json = serde_json::json!({
        "id": p.id,
        "proposal": p.proposal,
        "signer": p.signer,
        "signer_is_author": p.signer_is_author,
        "stances": p.stances,
        "node_view": p.node_view,
    });
    Ok(Output { json, human: h })
}

/// The node's tally by attribute and breadth rules, labelled as its view,
/// every value it sent escaped; empty when it sends none (an older node)
/// or there is nothing beyond the plain tally.
fn node_breakdown(node_view: &serde_json::Value) -> String {
    let Some(b) = node_view.get("breakdown").filter(|b| !b.is_null()) else { return String::new() };
    match serde_json::from_value::<BreakdownInfo>(b.clone()) {
        Ok(b) => b.map_text(safe_line).text("node's view, "),
        Err(_) => "node's view, tally by attribute: not readable (the node sent it in another form)\n".into(),
    }
}

/// `chorus --remote NAME roster`: the node's view of the newest roster.
pub(crate) fn roster(r: &Remote) -> Result<Output> {
    let roster = r.roster()?;
    Ok(Output::new(&roster, leader::roster_text(&roster)))
}

/// `chorus --remote NAME endorse ID --as-leader KEY --delegation D`: the
/// leader's delegation is read from the node and checked against the key,
/// the proposal verified, the stance shown, confirmed, signed here and
/// submitted.
pub(crate) fn endorse(r: &Remote, a: EndorseArgs) -> Result<Output> {
    let signer = leader_signer(r, &a.signer)?;
    let trust = signer.trust;
    let p = r.proposal(r.resolve(&a.id)?)?;
    let now = chorus_node::daemon::now_ms();
    if let Some(closes) = p.proposal.closes_at_ms.filter(|c| *c < now) {
        bail!(
            "proposal {} closed on {}: a stance now would be late and not count; nothing was signed",
            p.id.short(12),
            time(closes)
        );
    }
    let window = crate::deliberation::window_of_view(&p.node_view, &p.proposal);
    if let Some(refusal) = crate::deliberation::stance_refusal_at(p.id, &window, p.proposal.draft, now) {
        return Err(refusal.into());
    }
    let roster = r.roster()?;
    let stance = a.stance();
    // Every field rule is checked before the prompt, so that a mistake
    // (a comment too long) is reported before the leader confirms.
    let body = leader::stance_body(&r.coalition, &roster, &signer, p.id, stance, a.comment.clone())?;
    let node_says = "(not in the node's roster)";
    let prompt = format!(
        "You are about to sign, as {} (a leader, key {}), through remote {} ({}):\n  stance      {}\n  proposal    {}\n  title       {}\n  author      {} ({})\n  signed      {}\n  body sha256 {}{}",
        leader::member_name(&roster, &trust).map_or(node_says.into(), |n| safe_line(&n)),
        signer.key.public().short(12),
        safe_line(&r.entry.name),
        safe_line(&r.entry.url),
        stance,
        p.id,
        safe_line(&p.proposal.title),
        leader::member_name(&roster, &p.proposal.author).map_or(node_says.into(), |n| safe_line(&n)),
        p.proposal.author,
        proposal_signer(&p),
        hex::encode(Sha256::digest(p.proposal.body.as_bytes())),
        a.comment.as_ref().map(|c| format!("\n  comment     {}", safe_line(c))).unwrap_or_default()
    );
    eprintln!("{prompt}");
    if !p.signer_is_author {
        eprintln!(
            "Note: the proposal is signed by key {}, not by its author's founding key; that this key speaks for the \
             author is the node's word. Read the text with `chorus --remote {} show {}` if in doubt.",
            p.signer,
            safe_line(&r.entry.name),
            p.id
        );
    }
    eprintln!("{}", crate::deliberation::STANCE_IS_FINAL);
    output::sign_or_stop(a.signer.yes, "Sign?")?;
    let env = Envelope::sign(chorus_core::Kind::Endorsement, body, &[&signer.key]);
    if let Some(out) = &a.out {
        return backup::write_envelope(&env, out);
    }
    let mut out = submitted(r, &env, &stance.to_string())?;
    // Stored is not counted: a stance under a delegation that was revoked
    // (or of a trust outside the proposal's roster) is kept but does not
    // count, and only the node's ledger knows. Ask it, and say so.
    if out.json["outcome"] != SubmitOutcome::Waiting.name() {
        let verdict = r
            .proposal(p.id)
            .ok()
            .map(|q| leader::counted(&trust.to_hex(), &env.id(), stance, &node_stances(&q.node_view)));
        leader::report_counted(&mut out, verdict, "the node", stance, env.id(), true)?;
    }
    Ok(out)
}

/// `chorus --remote NAME comment ID TEXT --as-leader KEY --delegation D
/// [--reply-to C]`: a comment signed here by a leader, after checking the
/// delegation and the proposal as `endorse` does.
pub(crate) fn comment(r: &Remote, a: CommentArgs) -> Result<Output> {
    let signer = leader_signer(r, &a.sign.signer)?;
    let trust = signer.trust;
    let p = r.proposal(r.resolve(&a.id)?)?;
    let reply_to = match a.reply_to.as_deref() {
        None => None,
        Some(want) => Some(node_comment(&p, want)?),
    };
    let text = if a.text == "-" { propose::read_body(Some(Path::new("-")))? } else { a.text.clone() };
    let roster = r.roster()?;
    // Every field rule is checked before the prompt; signed once confirmed.
    let body = || crate::deliberation::comment_body(&r.coalition, &roster, &signer, p.id, &text, reply_to, None);
    body()?;
    eprintln!(
        "You are about to sign, as {} (a leader, key {}), through remote {} ({}):\n  comment on  {}\n  title       {}{}\n  text\n{}",
        leader::member_name(&roster, &trust).map_or("(not in the node's roster)".into(), |n| safe_line(&n)),
        signer.key.public().short(12),
        safe_line(&r.entry.name),
        safe_line(&r.entry.url),
        p.id,
        safe_line(&p.proposal.title),
        reply_to.map(|c| format!("\n  in reply to {c}")).unwrap_or_default(),
        indent(&safe_text(&text), 4)
    );
    output::sign_or_stop(a.sign.signer.yes, "Sign?")?;
    let env = Envelope::sign(chorus_core::Kind::Comment, body()?, &[&signer.key]);
    if let Some(out) = &a.sign.out {
        return backup::write_envelope(&env, out);
    }
    submitted(r, &env, "comment")
}

/// The full id of the comment `want` (id or unique prefix) among those the
/// node's view of the proposal lists.
fn node_comment(p: &remote::RemoteProposal, want: &str) -> Result<chorus_core::ObjectId> {
    let listed = p.node_view["comments"].as_array().into_iter().flatten();
    let ids = listed.filter_map(|c| c["id"].as_str()?.parse().ok());
    crate::commands::deliberate::unique_comment(want, ids, "comment")?.ok_or_else(|| {
        crate::error::Refusal::new(
            "unknown_comment",
            format!(
                "no comment {} of proposal {} is known to the node; see the discussion with `chorus --remote NAME show {}`",
                safe_line(want.trim()),
                p.id.short(12),
                p.id.short(12)
            ),
        )
        .into()
    })
}

/// The node view's `stances` as `(trust, effective stance, counted
/// records)`; a record id that does not parse is left out.
fn node_stances(node_view: &serde_json::Value) -> Vec<(String, Option<String>, Vec<chorus_core::ObjectId>)> {
    let stances = node_view["stances"].as_array().into_iter().flatten();
    stances
        .filter_map(|s| {
            let records = s["records"].as_array().into_iter().flatten();
            Some((
                s["trust"].as_str()?.to_string(),
                s["stance"].as_str().map(str::to_string),
                records.filter_map(|r| r.as_str()?.parse().ok()).collect(),
            ))
        })
        .collect()
}

/// Who signed a proposal, as far as can be checked here.
fn proposal_signer(p: &remote::RemoteProposal) -> String {
    if p.signer_is_author {
        "by the author's founding key (checked against the genesis)".into()
    } else {
        format!("by key {} (that it is the author's: the node's view)", p.signer.short(12))
    }
}

/// The leader `--as-leader KEYFILE --delegation ID` name, the only way to
/// sign through a remote (the trust key stays on its own machine): the key
/// read from its file and the trust of the delegation the node serves,
/// checked by [`delegated_trust`].
fn leader_signer(r: &Remote, s: &SignerArgs) -> Result<Signer> {
    let (Some(key_file), Some(delegation)) = (s.as_leader.as_ref(), s.delegation.as_deref()) else {
        return Err(Usage(
            "with --remote, sign as a leader: --as-leader KEYFILE --delegation ID (the trust key stays on its own machine)"
                .into(),
        )
        .into());
    };
    let delegation: chorus_core::ObjectId = delegation
        .trim()
        .parse()
        .map_err(|_| Usage(format!("--delegation {delegation:?} is not an object id (64 hex characters)")))?;
    let key = read_secret(key_file)?;
    let trust = delegated_trust(r, delegation, key.public())?;
    Ok(Signer { key, trust, delegation: Some(delegation) })
}

/// The trust a leader's delegation is from, after checking, on the
/// delegation the node serves, that it names this key, covers stances and
/// has not ended.
fn delegated_trust(r: &Remote, delegation: chorus_core::ObjectId, key: PublicKey) -> Result<PublicKey> {
    let Some(object) = r.object(delegation)? else {
        bail!(
            "the node at {} does not serve delegation {delegation}: it may not hold it yet (try again once it has \
             synced), or it publishes positions only (use a node that publishes everything)",
            r.entry.url
        );
    };
    let Object::Delegation(d) = object else { bail!("{delegation} is not a delegation") };
    if d.delegate != key {
        bail!(
            "delegation {} is for key {}, not for your key {key}: check --as-leader and --delegation",
            delegation.short(12),
            d.delegate
        );
    }
    if d.scope & SCOPE_STANCES == 0 {
        bail!("delegation {} does not let its key sign stances (its scope is the node's); ask your trust for a stances delegation", delegation.short(12));
    }
    let now = chorus_node::daemon::now_ms();
    if let Some(until) = d.valid_until_ms {
        if until < now {
            bail!("delegation {} ended on {}; ask your trust for a new one", delegation.short(12), time(until));
        }
    }
    if d.valid_from_ms > now {
        bail!("delegation {} starts on {}; sign after that", delegation.short(12), time(d.valid_from_ms));
    }
    Ok(d.trust)
}

/// `chorus --remote NAME propose --trust-key FILE`: a proposal (or a
/// draft) signed here with the trust key (kept on this machine), after
/// showing it.
pub(crate) fn propose(r: &Remote, a: propose::ProposeArgs) -> Result<Output> {
    if a.revises.is_some() {
        return Err(Usage(
            "propose --revises works on a member node (it reads the amendments and may withdraw the revised text); \
             run it there, or without --remote"
                .into(),
        )
        .into());
    }
    let file = a.trust_key.as_deref().ok_or_else(|| {
        Usage("with --remote, propose needs --trust-key FILE: proposals are signed with the trust's key".into())
    })?;
    let (closes, drafting) = a.timing(chorus_node::daemon::now_ms())?;
    let key = read_secret(file)?;
    let roster = r.roster()?;
    let trust = key.public();
    let body = propose::read_body(a.body_file.as_deref())?;
    // Every field rule is checked before the prompt; signed once confirmed.
    let proposal =
        leader::proposal_body(&r.coalition, &roster, trust, propose::fields(&a.title, &body, closes, &drafting))?;
    let voting = propose::voting_line(&drafting);
    eprintln!(
        "You are about to sign, as {} ({}), through remote {}:\n  proposal    {}\n  body sha256 {}\n  voting      {}\n  closes      {}\n  roster      version {} ({} adopted governance proposals; the node's view)",
        leader::member_name(&roster, &trust).map(|n| safe_line(&n)).unwrap_or_default(),
        trust.short(12),
        safe_line(&r.entry.name),
        safe_line(&a.title),
        hex::encode(Sha256::digest(body.as_bytes())),
        voting,
        closes.map_or_else(|| "never".to_string(), time),
        roster.version.short(12),
        roster.heads.len()
    );
    output::sign_or_stop(a.yes, "Sign?")?;
    let env = Envelope::sign(Kind::Proposal, proposal, &[&key]);
    submitted(r, &env, "proposal")
}

/// `chorus --remote NAME import FILE`: hands one signed object (from
/// `--out`) to the node.
pub(crate) fn import(r: &Remote, file: &Path) -> Result<Output> {
    let bytes =
        chorus_node::datadir::read_bounded(file, chorus_core::limits::MAX_ENVELOPE_BYTES).with_context(|| {
            "with --remote, import takes one signed object (a backup goes to a node's own `chorus import`)"
        })?;
    let env = Envelope::decode(&bytes).map_err(|e| anyhow!("{} is not a signed object: {e}", file.display()))?;
    submitted(r, &env, &backup::kind_word(env.kind()))
}

/// Submits an envelope and words the node's answer.
fn submitted(r: &Remote, env: &Envelope, what: &str) -> Result<Output> {
    match r.submit(env.bytes())? {
        Submitted::Refused { reason, code } => {
            Err(Refused(format!("the node at {} refused the {what} ({code}): {reason}", r.entry.url)).into())
        }
        Submitted::Accepted(res) => {
            if res.id != env.id() {
                bail!(
                    "the node at {} answered for object {}, not for the {what} sent ({})",
                    r.entry.url,
                    res.id,
                    env.id()
                );
            }
            let mut human = match res.outcome {
                SubmitOutcome::Stored => format!("{what} recorded: {}", res.id),
                SubmitOutcome::Duplicate => format!("{what} already held by the node: {}", res.id),
                SubmitOutcome::Waiting => format!(
                    "{what} signed: {}, but the node does not store it yet: it lacks the objects it relies on",
                    res.id
                ),
            };
            if let Some(adopted) = res.adopted {
                human.push_str(&format!(
                    "\nproposal {} is now a position of the coalition (the node says)",
                    adopted.short(12)
                ));
            }
            Ok(Output::new(&res, human))
        }
    }
}
