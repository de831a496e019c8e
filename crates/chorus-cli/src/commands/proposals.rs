//! `chorus proposals` and `chorus positions`: proposals in a list, with
//! their status and tally.

use anyhow::Result;
use chorus_node::control::{ProposalSummary, Request};
use chorus_node::datadir::DataDir;

use crate::commands::client;
use crate::output::Output;

/// Which proposals to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// Every proposal (`chorus proposals`).
    All,
    /// Adopted proposals only (`chorus positions`).
    Positions,
}

/// One line per proposal: short id, status, tally (with the breadth in
/// short when the coalition has breadth rules or value sets), title and
/// author.
pub(crate) fn list(dd: &DataDir, which: Which) -> Result<Output> {
    let req = match which {
        Which::All => Request::Proposals,
        Which::Positions => Request::Positions,
    };
    let list: Vec<ProposalSummary> = client(dd)?.call(&req)?;
    let human = if list.is_empty() {
        match which {
            Which::All => "no proposals yet",
            Which::Positions => "no positions adopted yet",
        }
        .to_string()
    } else {
        list.iter()
            .map(|p| {
                format!(
                    "{}  {:<9} {}/{} endorse, {} object, {} abstain{}  {}  ({})",
                    p.id.short(12),
                    p.status,
                    p.tally.endorse,
                    p.tally.required,
                    p.tally.object,
                    p.tally.abstain,
                    p.breadth.as_ref().map(|b| format!("; {}", b.line())).unwrap_or_default(),
                    p.title,
                    p.author_name
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output::new(&list, human))
}
