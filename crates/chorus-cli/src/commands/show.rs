//! `chorus show`: one proposal in full, its envelope checked here against
//! the coalition before anything is printed, with the node's tally by
//! attribute and breadth rules when the coalition uses them.

use anyhow::Result;
use chorus_node::control::BreakdownInfo;
use chorus_node::datadir::DataDir;

use crate::commands::client;
use crate::leader;
use crate::output::{indent, time, Output};

/// The text, every stance and the status of the proposal `id` (or prefix).
pub(crate) fn run(dd: &DataDir, id: &str) -> Result<Output> {
    let c = client(dd)?;
    let (_, coalition) = leader::coalition(&c)?;
    let p = leader::fetch_checked(&c, &coalition, id)?;
    let d = &p.detail;
    let mut h = format!(
        "{}\nid       {}\nauthor   {} ({})\ncreated  {}{}\nstatus   {} - {} of {} endorsements needed ({} members); {} object, {} abstain{}\n{}body sha256 {}\n\n{}\n",
        p.proposal.title,
        p.id,
        p.author_name,
        p.proposal.author,
        time(p.proposal.created_at_ms),
        p.proposal.closes_at_ms.map(|c| format!("\ncloses   {}", time(c))).unwrap_or_default(),
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
    h.push_str("\nstances:\n");
    if d.stances.is_empty() {
        h.push_str("  none yet\n");
    }
    for s in &d.stances {
        h.push_str(&format!(
            "  {:<8} {} ({}) {}{}{}\n",
            s.stance.as_deref().unwrap_or("late"),
            s.name,
            &s.trust[..12],
            time(s.created_at_ms),
            if s.equivocated { " [equivocated]" } else { "" },
            s.comment.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
        ));
    }
    Ok(Output::new(d, h))
}

/// The tally by attribute after the status line (empty for a coalition
/// that declares no attributes and has no breadth rules).
fn breakdown_text(b: Option<&BreakdownInfo>) -> String {
    b.map(|b| b.text("")).unwrap_or_default()
}
