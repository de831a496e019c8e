//! `chorus certificate`: a position's certificate written to a file.

use std::path::Path;

use anyhow::{Context, Result};
use chorus_node::control::{CertificateResult, Request};
use chorus_node::datadir::{write_atomic, DataDir};

use crate::commands::client;
use crate::output::{safe_line, Output};

/// Writes the certificate of the adopted proposal `id` (or prefix) to
/// `output`, replacing it atomically; sealed when `seal` and the node can
/// seal it, else unsealed with one `warning:` line saying why (none when
/// an unsealed certificate was asked for).
pub(crate) fn export(dd: &DataDir, id: String, output: &Path, seal: bool) -> Result<Output> {
    let r: CertificateResult = client(dd)?.call(&Request::Certificate { id, seal })?;
    let bytes = hex::decode(&r.certificate).context("the node sent a certificate that is not hex")?;
    write_atomic(output, &bytes, 0o644)?;
    let v = serde_json::json!({
        "proposal": r.proposal,
        "file": output,
        "bytes": bytes.len(),
        "sealed": r.sealed,
        "unsealed_reason": r.unsealed_reason,
    });
    let mut human = format!("wrote the certificate of {} to {}", r.proposal, output.display());
    if !seal {
        human.push_str(" (without dissent and seal, as earlier versions make it)");
    } else if let Some(w) = unsealed_warning(&r) {
        human.push('\n');
        human.push_str(&w);
    }
    Ok(Output { json: v, human })
}

/// The one `warning:` line for a certificate the node could not seal.
pub(crate) fn unsealed_warning(r: &CertificateResult) -> Option<String> {
    if r.sealed {
        return None;
    }
    let why = r.unsealed_reason.as_deref().map(safe_line).unwrap_or_else(|| "the node did not say why".into());
    Some(format!("warning: the certificate is not sealed, so it does not attest who objected or abstained: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::ObjectId;

    #[test]
    fn an_unsealed_certificate_gets_one_warning_line() {
        let mut r = CertificateResult {
            proposal: ObjectId([1; 32]),
            certificate: String::new(),
            sealed: true,
            unsealed_reason: None,
        };
        assert_eq!(unsealed_warning(&r), None);
        r.sealed = false;
        r.unsealed_reason = Some("no key\nof the trust".into());
        let w = unsealed_warning(&r).unwrap();
        assert!(w.starts_with("warning: ") && !w.contains('\n'), "{w}");
    }
}
