//! `chorus endorse`: a trust's stance on a proposal, signed with the trust
//! key or by a leader under a delegation, after showing what is signed.

use std::path::PathBuf;

use anyhow::Result;
use chorus_core::Stance;
use chorus_node::control::{ProposalDetail, Request, SubmitOutcome};
use chorus_node::datadir::DataDir;
use clap::Args;

use crate::commands::deliberate::SignerArgs;
use crate::commands::{backup, client, deliberate, governance};
use crate::deliberation;
use crate::leader;
use crate::output::{self, safe_line, Output};

/// Arguments of `chorus endorse`.
#[derive(Args, Debug)]
pub(crate) struct EndorseArgs {
    /// Proposal id or unique prefix.
    pub(crate) id: String,
    /// Record an objection instead.
    #[arg(long, conflicts_with = "abstain")]
    pub(crate) object: bool,
    /// Record an abstention instead.
    #[arg(long)]
    pub(crate) abstain: bool,
    /// A comment signed with the stance.
    #[arg(long)]
    pub(crate) comment: Option<String>,
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Write the signed stance to FILE (new) instead of submitting it;
    /// import it on any member node with `chorus import FILE`. The node is
    /// still needed to read the proposal and the roster.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

impl EndorseArgs {
    /// The stance asked for: endorse unless `--object` or `--abstain`.
    pub(crate) fn stance(&self) -> Stance {
        if self.object {
            Stance::Object
        } else if self.abstain {
            Stance::Abstain
        } else {
            Stance::Endorse
        }
    }
}

/// Shows what is about to be signed, asks (unless `--yes`), signs the
/// stance and submits it (or writes it to `--out`).
pub(crate) fn run(dd: &DataDir, a: EndorseArgs) -> Result<Output> {
    let c = client(dd)?;
    let signer = governance::stance_signer(dd, a.signer.as_leader.as_ref(), a.signer.delegation.as_deref())?;
    let (_, coalition) = leader::coalition(&c)?;
    let roster = leader::roster(&c)?;
    let p = deliberate::fetch_known_with(&c, &coalition, &a.id, false)?;
    // A stance signed before voting opens (or after a withdrawal) would be
    // kept but never count: refuse it before anything is signed.
    if let Some(refusal) = deliberation::stance_refusal(&p, chorus_node::daemon::now_ms()) {
        return Err(refusal.into());
    }
    let stance = a.stance();
    eprintln!(
        "You are about to sign, as {}{}:\n  stance      {}\n  proposal    {}\n  title       {}\n  author      {} ({})\n  body sha256 {}{}",
        leader::member_name(&roster, &signer.trust).map_or_else(|| "(not a member)".into(), |n| safe_line(&n)),
        if signer.delegation.is_some() { format!(" (a leader, key {})", signer.key.public().short(12)) } else { String::new() },
        stance,
        p.id,
        // Text from the network and the command line, one line each, so
        // that nothing in it can rewrite what is shown before signing.
        safe_line(&p.proposal.title),
        safe_line(&p.author_name),
        p.proposal.author,
        p.body_sha256,
        a.comment.as_ref().map(|c| format!("\n  comment     {}", safe_line(c))).unwrap_or_default()
    );
    eprintln!("{}", deliberation::STANCE_IS_FINAL);
    output::sign_or_stop(a.signer.yes, "Sign?")?;
    let env = leader::stance_envelope(&coalition, &roster, &signer, p.id, stance, a.comment)?;
    if let Some(out) = &a.out {
        return backup::write_envelope(&env, out);
    }
    let r = leader::submit(&c, &env)?;
    let mut human = format!("{} recorded: {}", stance, r.id);
    if r.outcome == SubmitOutcome::Waiting {
        human = format!(
            "{} signed: {}, but not stored yet: your node does not hold the objects it relies on \
             (an admission or a delegation); it stores it when they arrive",
            stance, r.id
        );
    }
    if let Some(adopted) = r.adopted {
        human.push_str(&format!("\nproposal {} is now a position of the coalition", adopted.short(12)));
    }
    let mut out = Output::new(&r, human);
    if r.outcome != SubmitOutcome::Waiting {
        // Stored is not counted: a stance under a revoked or ended
        // delegation, signed with a key no longer the trust's, or of a
        // trust outside the proposal's roster is kept but does not count,
        // and only the node's ledger knows. Ask it, and say so.
        let verdict = c.call::<ProposalDetail>(&Request::Show { id: p.id.to_hex(), comments: false }).ok().map(|d| {
            let stances: Vec<_> = d.stances.into_iter().map(|s| (s.trust, s.stance, s.records)).collect();
            leader::counted(&signer.trust.to_hex(), &r.id, stance, &stances)
        });
        leader::report_counted(&mut out, verdict, "your node", stance, r.id, signer.delegation.is_some())?;
    }
    Ok(out)
}
