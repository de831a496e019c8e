//! `chorus certificate`: a position's certificate written to a file.

use std::path::Path;

use anyhow::{Context, Result};
use chorus_node::control::{CertificateResult, Request};
use chorus_node::datadir::{write_atomic, DataDir};

use crate::commands::client;
use crate::output::Output;

/// Writes the certificate of the adopted proposal `id` (or prefix) to
/// `output`, replacing it atomically.
pub(crate) fn export(dd: &DataDir, id: String, output: &Path) -> Result<Output> {
    let r: CertificateResult = client(dd)?.call(&Request::Certificate { id })?;
    let bytes = hex::decode(&r.certificate).context("the node sent a certificate that is not hex")?;
    write_atomic(output, &bytes, 0o644)?;
    let v = serde_json::json!({ "proposal": r.proposal, "file": output, "bytes": bytes.len() });
    Ok(Output { json: v, human: format!("wrote the certificate of {} to {}", r.proposal, output.display()) })
}
