//! `chorus show`: one proposal in full, its envelope checked here against
//! the coalition before anything is printed, with the node's tally by
//! attribute and breadth rules when the coalition uses them, its voting
//! window, its discussion and amendments, and the texts it revises or that
//! revise it.

use anyhow::{anyhow, bail, Context, Result};
use chorus_node::control::{timing, BreakdownInfo, Request};
use chorus_node::datadir::DataDir;

use crate::commands::{client, deliberate, thread};
use crate::deliberation;
use crate::leader;
use crate::output::{indent, safe_line, time, Output};
use sha2::{Digest, Sha256};

/// The text, every stance and the status of the proposal `id` (or prefix).
pub(crate) fn run(dd: &DataDir, id: &str) -> Result<Output> {
    let c = client(dd)?;
    let (_, coalition) = leader::coalition(&c)?;
    let p = deliberate::fetch_known(&c, &coalition, id)?;
    let d = &p.detail;
    let now = chorus_node::daemon::now_ms();
    // A proposal made as every proposal was before drafts existed (open
    // from the start, never withdrawn, no discussion) prints as it always
    // has.
    let window = deliberation::window(&p);
    let deliberative = p.proposal.draft
        || window.opens_at_ms != Some(0)
        || window.withdrawn_at_ms.is_some()
        || p.proposal.link.is_some()
        || !d.revisions.is_empty();
    let mut h = format!(
        "{}\nid       {}\nauthor   {} ({})\ncreated  {}{}\nstatus   {} - {} of {} endorsements needed ({} members); {} object, {} abstain{}\n{}body sha256 {}\n\n{}\n",
        p.proposal.title,
        p.id,
        p.author_name,
        p.proposal.author,
        time(p.proposal.created_at_ms),
        p.proposal.closes_at_ms.map(|c| format!("\ncloses   {}", time(c))).unwrap_or_default()
            + &if deliberative {
                let mut lines = deliberation::window_lines(&window, p.proposal.draft, now);
                lines.extend(revision_lines(d).lines().map(str::to_string));
                lines.iter().map(|l| format!("\n{l}")).collect::<String>()
            } else {
                String::new()
            },
        d.summary.status,
        d.summary.tally.endorse,
        d.summary.tally.required,
        d.summary.tally.members,
        d.summary.tally.object,
        d.summary.tally.abstain,
        if d.summary.tally.equivocations > 0 {
            format!("; {} trust(s) signed conflicting stances", d.summary.tally.equivocations)
        } else {
            String::new()
        },
        breakdown_text(d.breakdown.as_ref()),
        p.body_sha256,
        indent(&p.proposal.body, 4)
    );
    if deliberative || !d.comments.is_empty() || d.comments_omitted > 0 {
        h.push('\n');
        h.push_str(&thread::thread_text(&d.comments));
        if d.comments_omitted > 0 {
            let n = d.comments_omitted;
            h.push_str(&format!(
                "  {n} more comment{} not shown (a view carries at most 500, counted ones first, members taking turns in time order)\n",
                if n == 1 { "" } else { "s" }
            ));
        }
        h.push_str(&thread::amendments_text(&d.comments));
    }
    h.push_str("\nstances:\n");
    if d.stances.is_empty() {
        h.push_str("  none yet\n");
    }
    for s in &d.stances {
        let count = |t: &str| s.record_timing.iter().filter(|r| r.timing == t).count();
        let (early, late) = (count(timing::EARLY), count(timing::LATE));
        // A trust with no on-time record has no stance: say why.
        let label = s.stance.as_deref().unwrap_or(if early > 0 && late == 0 { "early" } else { "late" });
        let mut marks = String::new();
        if early > 0 {
            marks.push_str(&format!(" [early: {} signed before voting opened, not counted]", records(early)));
        }
        if late > 0 {
            marks.push_str(&format!(" [late: {} signed after voting ended, not counted]", records(late)));
        }
        h.push_str(&format!(
            "  {:<8} {} ({}) {}{}{}{}\n",
            label,
            s.name,
            &s.trust[..12],
            time(s.created_at_ms),
            marks,
            if s.equivocated { " [equivocated]" } else { "" },
            // Signed text, possibly of several lines: each line marked
            // under the stance, so none can pass for another stance line.
            s.comment.as_ref().map(|c| format!("\n{}", indent(&thread::quoted(c), 11))).unwrap_or_default()
        ));
    }
    Ok(Output::new(d, h))
}

/// `chorus show ID --amendment C`: the text amendment `C` of proposal `ID`
/// proposes, its envelope fetched from the node and checked here (its
/// signature, that it is an amendment of this proposal), each line of the
/// member's text marked as in the thread.
pub(crate) fn amendment(dd: &DataDir, id: &str, want: &str) -> Result<Output> {
    let c = client(dd)?;
    let (_, coalition) = leader::coalition(&c)?;
    let p = deliberate::fetch_known(&c, &coalition, id)?;
    let aid = deliberate::resolve_comment(&p, want, true)?;
    let hexed: String = c.call(&Request::Object { id: aid.to_hex() })?;
    let bytes = hex::decode(hexed.trim()).context("the node sent an object that is not hex")?;
    let verified = chorus_core::Ledger::check_signature(&coalition, &bytes)
        .map_err(|e| anyhow!("the node sent an amendment that does not verify: {e}"))?;
    let chorus_core::Object::Comment(comment) = verified.object().clone() else {
        bail!("object {aid} is not a comment");
    };
    if verified.id() != aid || comment.proposal != p.id {
        bail!("the node sent object {} for amendment {aid} of proposal {}", verified.id(), p.id);
    }
    let Some(a) = comment.amendment else { bail!("comment {aid} proposes no text: it is not an amendment") };
    let sha = hex::encode(Sha256::digest(a.body.as_bytes()));
    let title = a.title.as_deref().map(safe_line).unwrap_or_else(|| "(unchanged)".into());
    let human = format!(
        "amendment {aid}
to       {} {}
title    {title}
body sha256 {sha} ({} bytes)

{}
",
        p.id,
        safe_line(&p.proposal.title),
        a.body.len(),
        indent(&thread::quoted(&a.body), 4)
    );
    let json = serde_json::json!({
        "id": aid, "proposal": p.id, "trust": comment.trust, "title": a.title, "body": a.body, "body_sha256": sha,
    });
    Ok(Output { json, human })
}

/// "1 record", "2 records".
fn records(n: usize) -> String {
    format!("{n} record{}", if n == 1 { "" } else { "s" })
}

/// The proposal this one revises and the held revisions of it, one line
/// each (empty when neither).
fn revision_lines(d: &chorus_node::control::ProposalDetail) -> String {
    let mut out = String::new();
    if let Some(r) = d.revises {
        out.push_str(&format!("revises  {r}"));
        if !d.amendments.is_empty() {
            let taken: Vec<String> = d.amendments.iter().map(|a| a.short(12)).collect();
            out.push_str(&format!(", taking up amendments {}", taken.join(", ")));
        }
        out.push('\n');
    }
    for r in &d.revisions {
        out.push_str(&format!("revised by {r}\n"));
    }
    out
}

/// The tally by attribute after the status line (empty for a coalition
/// that declares no attributes and has no breadth rules).
fn breakdown_text(b: Option<&BreakdownInfo>) -> String {
    b.map(|b| b.text("")).unwrap_or_default()
}
