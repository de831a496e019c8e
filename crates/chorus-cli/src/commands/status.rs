//! `chorus status`: what the local node is and what it holds.

use anyhow::Result;
use chorus_node::control::{Request, StatusInfo};
use chorus_node::datadir::DataDir;

use crate::commands::client;
use crate::output::{time, Output};

/// Node id, trust, coalition, peers, objects, last sync and addresses.
pub(crate) fn run(dd: &DataDir) -> Result<Output> {
    let s: StatusInfo = client(dd)?.call(&Request::Status)?;
    let human = format!(
        "node      {} (key {})\ntrust     {} ({}){}\ncoalition {} ({})\npeers     {} (target {})\nobjects   {} ({} proposals, {} positions)\nlast sync {}\nlisten    {}",
        s.node_id,
        s.node_key,
        s.trust_name,
        s.trust_key,
        if s.member { "" } else { " - not a member" },
        s.coalition_name,
        s.coalition,
        s.peers,
        s.target_peers,
        s.objects,
        s.proposals,
        s.positions,
        s.last_sync_ms.map(time).unwrap_or_else(|| "never".into()),
        s.listen.join(" ")
    );
    let mut human = match &s.website {
        Some(w) => format!("{human}\nwebsite   {w}"),
        None => human,
    };
    for v in &s.split_views {
        human.push('\n');
        human.push_str(&v.line());
    }
    Ok(Output::new(&s, human))
}
