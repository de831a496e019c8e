//! `chorus verify`: a certificate verified offline, as an auditor runs it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use chorus_core::ObjectId;

use crate::error::{Invalid, Usage};
use crate::output::{self, Output};

/// `chorus verify FILE [--coalition ID]`: the certificate checked offline,
/// with the reader's report or one line naming what is wrong (exit 1).
pub(crate) fn run(file: &Path, coalition: Option<&str>, json: bool) -> Result<Output> {
    let expected: Option<ObjectId> = match coalition {
        None => None,
        Some(s) => Some(s.parse().map_err(|_| {
            Usage(format!("--coalition {s:?} is not a coalition id (64 hex characters, from `chorus status`)"))
        })?),
    };
    // One byte over the limit is read so that an oversized file is reported
    // by the verifier itself, naming the limit, without reading it all; the
    // size reported is then the file's own (PROTOCOL.md 9.2, step 2).
    let limit = chorus_core::limits::MAX_CERTIFICATE_BYTES;
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let file_size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    let mut bytes = Vec::new();
    f.take(limit as u64 + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {}", file.display()))?;
    let result = match file_size {
        Some(size) if bytes.len() > limit => {
            Err(chorus_core::CertificateError::TooLarge { size: usize::try_from(size).unwrap_or(usize::MAX), limit })
        }
        _ => chorus_core::certificate::verify(&bytes, expected),
    };
    match result {
        Ok(v) => {
            let human = verified_text(&v);
            let mut j = serde_json::to_value(&v).unwrap_or_default();
            if let Some(o) = j.as_object_mut() {
                o.insert("valid".into(), true.into());
            }
            Ok(Output { json: j, human })
        }
        Err(e) => {
            let line = format!("{e}").replace('\n', " ");
            if json {
                output::print_stdout(&format!(
                    "{}\n",
                    serde_json::json!({ "valid": false, "code": e.name(), "error": line })
                ))?;
            }
            eprintln!("INVALID: {line}");
            Err(Invalid.into())
        }
    }
}

/// What a verified certificate proves, for people: what was decided, under
/// which rule, by whom.
fn verified_text(v: &chorus_core::VerifiedAdoption) -> String {
    use chorus_core::{Action, Decision};
    let what = match (&v.decision, &v.proposal.action) {
        (Decision::Position, _) => format!("{:?} is a position of {:?}", v.proposal.title, v.coalition_name),
        (_, Some(Action::Admit(m))) => {
            format!("{:?} admitted {:?} ({}) to {:?}", v.proposal.title, m.name, m.key, v.coalition_name)
        }
        (_, Some(Action::Remove(t))) => {
            format!("{:?} removed trust {} from {:?}", v.proposal.title, t, v.coalition_name)
        }
        (_, Some(Action::ReplaceKey { trust, new_key })) => format!(
            "{:?} replaced the root key of trust {} with {} in {:?}",
            v.proposal.title, trust, new_key, v.coalition_name
        ),
        (_, Some(Action::AmendCharter(c))) => format!(
            "{:?} amended the charter of {:?}: positions {}/{}, membership {}/{}, amendments {}/{}",
            v.proposal.title,
            v.coalition_name,
            c.positions.numerator,
            c.positions.denominator,
            c.membership.numerator,
            c.membership.denominator,
            c.amendments.numerator,
            c.amendments.denominator
        ),
        (_, Some(Action::AmendMember { trust, .. })) => {
            format!("{:?} amended the attributes of trust {} in {:?}", v.proposal.title, trust, v.coalition_name)
        }
        (d, None) => format!("{:?}: a {} of {:?}", v.proposal.title, d.noun(), v.coalition_name),
    };
    let names: Vec<&str> = v.endorsers.iter().map(|e| e.name.as_str()).collect();
    format!(
        "VALID: {what}\n  decision  {}\n  rule      {}: more than {}/{} of the members\n  coalition {}\n  proposal  {}\n  roster    {}\n  author    {}\n  endorsed by {} of {} members ({} needed): {}",
        v.decision.noun(),
        v.rule.kind.name(),
        v.rule.numerator,
        v.rule.denominator,
        v.coalition,
        v.proposal_id,
        v.roster_version,
        v.author_name,
        v.endorsers.len(),
        v.members,
        v.required,
        names.join(", ")
    )
}
