//! `chorus peers` and `chorus dial`: the node's connections.

use anyhow::Result;
use chorus_node::control::{PeerInfo, Request};
use chorus_node::datadir::DataDir;

use crate::commands::client;
use crate::output::Output;

/// `chorus peers`: connected peers, each with the member trust it proved
/// to speak for, or as an observer or a stranger.
pub(crate) fn list(dd: &DataDir) -> Result<Output> {
    let peers: Vec<PeerInfo> = client(dd)?.call(&Request::Peers)?;
    let human = if peers.is_empty() {
        "no peers connected".to_string()
    } else {
        peers
            .iter()
            .map(|p| {
                let who = match &p.trust_name {
                    Some(name) => name.clone(),
                    None if p.observer => "observer (follows the coalition; not a member's node)".into(),
                    None => "stranger (membership not proved)".into(),
                };
                format!("{}  {}  {}", p.peer_id, who, p.addrs.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    Ok(Output::new(&peers, human))
}

/// `chorus dial ADDR`: asks the node to connect to a peer now.
pub(crate) fn dial(dd: &DataDir, addr: String) -> Result<Output> {
    client(dd)?.call_value(&Request::Dial { addr: addr.clone() })?;
    Ok(Output { json: serde_json::json!({ "dialed": addr }), human: format!("dialing {addr}") })
}
