//! `chorus init` and `chorus whoami`: the node's data directory and keys,
//! and the trust key to give to the coalition's founders.
//!
//! By default `init` makes the offline layout: the server's data directory
//! gets the node key and the trust's id, and the trust key goes, encrypted,
//! to an offline kit that the operator moves off the server
//! (`chorus_node::datadir::DataDir::init_offline`). `--trust-key-here`
//! keeps the trust key, unencrypted, in the data directory.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use chorus_node::config::Config;
use chorus_node::datadir::keyfile::{Passphrases, PASSPHRASE_FILE_VAR};
use chorus_node::datadir::{DataDir, InitReport};
use chorus_node::NodeError;

use crate::commands::absolute;
use crate::error::Usage;
use crate::output::Output;

/// The offline kit's directory inside the data directory when
/// `--offline-dir` is not given: the one place a server's service user can
/// always write (`/var/lib/chorus`'s parent belongs to root), and where a
/// kit left behind is found again (`chorus node run` warns about it).
pub(crate) const DEFAULT_KIT: &str = "offline-trust-key";

/// Arguments of `chorus init`.
#[derive(clap::Args, Debug)]
#[command(after_help = crate::commands::key::PASSPHRASE_HELP)]
pub(crate) struct InitArgs {
    /// Display name of your trust, e.g. "Oak Valley Academy Trust".
    #[arg(long, required_unless_present = "observer")]
    name: Option<String>,
    /// Make an observer's node instead (PROTOCOL.md 14.9): it follows the
    /// coalition of --genesis without being a member's node, with a node
    /// key and no trust key; `chorus node run` runs it.
    #[arg(long, requires = "genesis", conflicts_with_all = ["name", "trust_key_here", "offline_dir", "trust_id"])]
    observer: bool,
    /// With --observer: the coalition's final genesis file.
    #[arg(long, value_name = "FILE", requires = "observer")]
    genesis: Option<PathBuf>,
    /// With --observer: a member's node to follow (a multiaddr ending in
    /// /p2p/<peer id>), written to the config's `bootstrap`; repeat.
    #[arg(long, value_name = "ADDR", requires = "observer")]
    bootstrap: Vec<String>,
    /// Where to write the offline kit: the trust key, encrypted with a new
    /// passphrase, with the trust id and a copy of the config; a data
    /// directory for the offline machine, moved off this server
    /// [default: <data dir>/offline-trust-key].
    #[arg(long, value_name = "DIR", conflicts_with = "trust_key_here")]
    offline_dir: Option<PathBuf>,
    /// Keep the trust key UNENCRYPTED in the data directory, beside the
    /// node key (no offline kit): for demonstrations and tests only; anyone
    /// who reaches the server's files can then sign as your trust.
    #[arg(long)]
    trust_key_here: bool,
    /// Make only a node for an existing trust (its id, from `chorus whoami`
    /// on the offline kit): a new node key and no trust key. For a server
    /// rebuilt after a compromise, or a second node of the trust; attest it
    /// from the kit.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["trust_key_here", "offline_dir"])]
    trust_id: Option<String>,
}

/// `chorus init --name NAME`: creates the data directory and the keys (the
/// trust key in an encrypted offline kit unless `--trust-key-here`) and
/// says what to do next.
pub(crate) fn init(dd: &DataDir, a: InitArgs) -> Result<Output> {
    if let (true, Some(genesis)) = (a.observer, &a.genesis) {
        return crate::commands::observe::init(dd, genesis, &a.bootstrap);
    }
    let name = a.name.unwrap_or_default();
    if let Some(hex) = &a.trust_id {
        let trust = chorus_node::founding::parse_key(hex.trim())
            .map_err(|e| Usage(format!("--trust-id {hex:?} is not a trust id: {e}")))?;
        let r = dd.init_node(&name, trust)?;
        let human = format!(
            "Created a node of trust {} ({:?}) in {}, with no trust key\n\
             Node key: {}\n\n\
             Next, on the offline machine with the kit (docs/QUICKSTART.md, \"The key ceremony\", steps 4 and 5):\n  \
             chorus --data-dir KIT node attest --node-key {} --valid-days 90 \\\n    \
             --out node.attestation --delegation-out node-delegation.chorus\n\
             then here: chorus coalition join genesis.chorus, copy node.attestation into {}, chorus node run,\n\
             and chorus import node-delegation.chorus",
            r.trust_key,
            r.trust_name,
            r.data_dir.display(),
            r.node_key,
            r.node_key,
            r.data_dir.display()
        );
        return Ok(Output::new(&r, human));
    }
    if a.trust_key_here {
        let r = dd.init(&name)?;
        let human = format!(
            "Created a node for {:?} in {}\n\
             Trust key: {}\n\
             The trust key is stored UNENCRYPTED in {} (--trust-key-here: for demonstrations and tests).\n\n\
             Next: give your trust key to the coalition's founders, then either\n  \
             chorus coalition draft ...   (if you are founding the coalition), or\n  \
             chorus coalition sign FILE   (to countersign a draft you received), and finally\n  \
             chorus coalition join genesis.chorus && chorus node run",
            r.trust_name,
            r.data_dir.display(),
            r.trust_key,
            dd.trust_key_path().display()
        );
        return Ok(Output::new(&r, human));
    }
    for p in [dd.trust_key_path(), dd.node_key_path()] {
        if p.exists() {
            return Err(NodeError::KeyExists(p).into());
        }
    }
    let passphrases = Passphrases::from_env();
    if passphrases.source().is_none() {
        bail!(
            "chorus init writes the trust key encrypted and needs a new passphrase: give it with \
             {PASSPHRASE_FILE_VAR}=FILE (a file only you can read) or run in a terminal; nothing was created \
             (--trust-key-here keeps the key unencrypted on this machine, for demonstrations and tests)"
        );
    }
    let root = absolute(dd.root())?;
    let dd = DataDir::new(&root);
    let kit = match a.offline_dir {
        Some(d) => absolute(&d)?,
        None => root.join(DEFAULT_KIT),
    };
    let r = dd.init_offline(&name, &DataDir::new(&kit), &passphrases)?;
    Ok(Output::new(&r, next_steps(&r, &kit)))
}

/// What to do after `init` in the offline layout: the key ceremony, in
/// order (docs/QUICKSTART.md tells it at length).
fn next_steps(r: &InitReport, kit: &Path) -> String {
    let (dir, kit) = (r.data_dir.display(), kit.display());
    format!(
        "Created a node for {name:?} in {dir}\n\
         Trust key: {trust}   (give it to the coalition's founders)\n\
         Node key:  {node}\n\
         The trust key is NOT in {dir}: it is encrypted with your passphrase in the offline kit {kit}\n\
         (without the passphrase the key is lost: keep the passphrase apart from the kit).\n\n\
         Next (docs/QUICKSTART.md, \"The key ceremony\"):\n  \
         1. Move the kit to the offline machine (a USB stick), check it there with\n     \
         `chorus --data-dir KIT whoami`, then delete it here: rm -r {kit}\n  \
         2. On the offline machine, found or join the coalition with the kit:\n     \
         chorus --data-dir KIT coalition draft ... | coalition sign FILE | coalition finalize ...\n     \
         chorus --data-dir KIT coalition join genesis.chorus\n  \
         3. Still there, attest this node and delegate its key with the node scope:\n     \
         chorus --data-dir KIT node attest --node-key {node} --valid-days 90 \\\n       \
         --out node.attestation --delegation-out node-delegation.chorus\n  \
         4. Back on this server: copy genesis.chorus and node.attestation here, then\n     \
         chorus coalition join genesis.chorus && cp node.attestation {dir}/\n     \
         chorus node run   (then, with the node running) chorus import node-delegation.chorus\n  \
         5. Renew before the attestation expires (the node warns 14 days ahead): step 3 again, then copy\n     \
         node.attestation here and restart the node.",
        name = r.trust_name,
        trust = r.trust_key,
        node = r.node_key,
    )
}

/// `chorus whoami`: this trust's public key and name, and this node's
/// public key (what `chorus node attest --node-key` takes); an offline kit
/// has no node key.
pub(crate) fn whoami(dd: &DataDir) -> Result<Output> {
    if dd.is_observer() {
        let node_key = chorus_core::Keypair::from_seed(&dd.node_key_seed()?).public();
        let v = serde_json::json!({ "role": "observer", "trust_key": null, "node_key": node_key.to_hex() });
        return Ok(Output { json: v, human: format!("an observer (no trust)\nnode key: {node_key}") });
    }
    let trust = dd.trust_id()?;
    let config = Config::load(&dd.config_path())?;
    let node_key = if dd.node_key_path().exists() {
        Some(chorus_core::Keypair::from_seed(&dd.node_key_seed()?).public())
    } else {
        None
    };
    let v = serde_json::json!({
        "trust_name": config.trust_name,
        "trust_key": trust.to_hex(),
        "node_key": node_key.map(|k| k.to_hex()),
    });
    let node = match node_key {
        Some(k) => format!("node key: {k}"),
        None => "no node key here (an offline kit)".into(),
    };
    Ok(Output { json: v, human: format!("{} {}\n{node}", trust, config.trust_name) })
}
