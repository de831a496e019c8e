//! `chorus init` and `chorus whoami`: the node's data directory and keys,
//! and the trust key to give to the coalition's founders.

use anyhow::Result;
use chorus_node::config::Config;
use chorus_node::datadir::DataDir;

use crate::output::Output;

/// Arguments of `chorus init`.
#[derive(clap::Args, Debug)]
pub(crate) struct InitArgs {
    /// Display name of your trust, e.g. "Oak Valley Academy Trust".
    #[arg(long)]
    name: String,
}

/// `chorus init --name NAME`: creates the data directory, the trust and
/// node keys and a commented config, and says what to do next.
pub(crate) fn init(dd: &DataDir, a: InitArgs) -> Result<Output> {
    let r = dd.init(&a.name)?;
    let human = format!(
        "Created a node for {:?} in {}\n\
         Trust key: {}\n\n\
         Next: give your trust key to the coalition's founders, then either\n  \
         chorus coalition draft ...   (if you are founding the coalition), or\n  \
         chorus coalition sign FILE   (to countersign a draft you received), and finally\n  \
         chorus coalition join genesis.chorus && chorus node run",
        r.trust_name,
        r.data_dir.display(),
        r.trust_key
    );
    Ok(Output::new(&r, human))
}

/// `chorus whoami`: this trust's public key and name, and this node's
/// public key (what `chorus node attest --node-key` takes).
pub(crate) fn whoami(dd: &DataDir) -> Result<Output> {
    let trust = dd.trust_id()?;
    let config = Config::load(&dd.config_path())?;
    let node_key = chorus_core::Keypair::from_seed(&dd.node_key_seed()?).public();
    let v = serde_json::json!({
        "trust_name": config.trust_name,
        "trust_key": trust.to_hex(),
        "node_key": node_key.to_hex(),
    });
    Ok(Output { json: v, human: format!("{} {}\nnode key: {}", trust, config.trust_name, node_key) })
}
