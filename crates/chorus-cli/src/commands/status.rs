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
        "node      {} (key {})\n{}coalition {} ({})\npeers     {} (target {}){}\nobjects   {} ({} proposals, {} positions)\nlast sync {}\nlisten    {}",
        s.node_id,
        s.node_key,
        if s.role == chorus_node::config::ROLE_OBSERVER {
            "role      observer (follows the coalition; signs and publishes nothing)\n".to_string()
        } else {
            format!("trust     {} ({}){}\n", s.trust_name, s.trust_key, if s.member { "" } else { " - not a member" })
        },
        s.coalition_name,
        s.coalition,
        s.peers,
        s.target_peers,
        match s.observers {
            0 => String::new(),
            1 => ", 1 observer".into(),
            n => format!(", {n} observers"),
        },
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
