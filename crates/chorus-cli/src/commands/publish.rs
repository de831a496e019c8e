//! `chorus publish`: the coalition's website written as static files by
//! the node, from its objects.

use std::path::Path;

use anyhow::Result;
use chorus_node::control::Request;
use chorus_node::datadir::DataDir;
use chorus_node::web::PublishResult;

use crate::commands::{absolute, client};
use crate::error::Usage;
use crate::output::Output;

/// Writes the site into `out`; `base_url` is checked here first, so a bad
/// one is a usage error (exit 2).
pub(crate) fn run(dd: &DataDir, out: &Path, base_url: Option<String>, everything: bool) -> Result<Output> {
    if let Some(u) = &base_url {
        chorus_node::config::check_base_url(u).map_err(|e| Usage(format!("--base-url: {e}")))?;
    }
    let dir = absolute(out)?;
    let r: PublishResult = client(dd)?.call(&Request::Publish { dir, base_url, everything })?;
    let what = if r.everything { "positions, proposals and stances" } else { "positions only" };
    let mut human = format!(
        "wrote the website to {}: {} files, {} bytes, {} positions ({what}){}",
        r.dir.display(),
        r.files,
        r.bytes,
        r.positions,
        if r.removed > 0 { format!("; removed {} files of the previous export", r.removed) } else { String::new() }
    );
    if let Some(why) = r.unsealed_reason.as_deref().filter(|_| !r.sealed) {
        human.push_str(&format!(
            "\nwarning: some certificates are not sealed, so they do not attest who objected or abstained: {}",
            crate::output::safe_line(why)
        ));
    }
    Ok(Output::new(&r, human))
}
