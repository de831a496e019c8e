//! `chorus verify`: a certificate verified offline, as an auditor runs it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use chorus_core::ObjectId;

use crate::error::{Invalid, Usage};
use crate::output::{self, Output};

/// `chorus verify FILE [--coalition ID] [--require-seal]`: the certificate
/// checked offline, with the reader's report (who endorsed, who objected
/// and why, who abstained, who did not respond (sealed) or has no stance
/// carried (unsealed), and whose node's record of dissent it carries) or
/// one line naming what is wrong (exit 1).
///
/// `--json`: the core's report, plus `valid`, `sealed` (bool),
/// `dissent_note`, and `silent`, always present: the members with no
/// stance carried, each `{trust, name}`. `did_not_respond` is an alias of
/// `silent` present only when `sealed` is true (only a seal vouches that
/// they did not respond).
pub(crate) fn run(file: &Path, coalition: Option<&str>, require_seal: bool, json: bool) -> Result<Output> {
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
    let result = if require_seal { result.and_then(chorus_core::VerifiedAdoption::require_seal) } else { result };
    match result {
        Ok(v) => {
            let human = verified_text(&v);
            let mut j = serde_json::to_value(&v).unwrap_or_default();
            if let Some(o) = j.as_object_mut() {
                o.insert("valid".into(), true.into());
                o.insert("sealed".into(), v.seal.is_some().into());
                o.insert("dissent_note".into(), v.dissent_note().into());
                // `silent` (the core's name) always lists the members with
                // no stance carried, as {trust, name}; only a seal vouches
                // that they did not respond, so the alias `did_not_respond`
                // is present exactly when `sealed` is true.
                let silent: Vec<_> =
                    v.silent.iter().map(|(t, n)| serde_json::json!({ "trust": t, "name": n })).collect();
                if v.seal.is_some() {
                    o.insert("did_not_respond".into(), silent.clone().into());
                }
                o.insert("silent".into(), silent.into());
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
    let mut text = format!(
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
    );
    text.push_str(&breadth_text(&v.breakdown));
    text.push_str(&dissent_text(v));
    text
}

/// Who did not endorse, after the breadth: each objector and abstainer
/// with the reason it signed, the members with no stance carried ("did
/// not respond" only when sealed: without a seal nothing says the
/// certificate carries every stance), and the seal line saying whose
/// node's record of dissent this is. Names and reasons are signed text
/// from members: one line each, escaped.
fn dissent_text(v: &chorus_core::VerifiedAdoption) -> String {
    let mut out = String::new();
    if v.seal.is_none() && v.objectors.is_empty() && v.abstainers.is_empty() {
        // Nothing records who objected: the members who did not endorse
        // may have objected, abstained or not responded.
        return format!("\n  seal      {}", v.dissent_note());
    }
    for (label, list) in [("objected", &v.objectors), ("abstained", &v.abstainers)] {
        out.push_str(&format!("\n  {label}  {}", list.len()));
        for d in list {
            out.push_str(&format!(
                "\n    {} ({}) {}{}",
                output::safe_line(&d.name),
                d.trust.short(12),
                output::time(d.created_at_ms),
                d.comment
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(": {}", output::safe_line(c)))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!("\n  {}  {}", silent_label(v), v.silent.len()));
    if !v.silent.is_empty() {
        let names: Vec<String> = v.silent.iter().map(|(_, n)| output::safe_line(n)).collect();
        out.push_str(&format!(": {}", names.join(", ")));
    }
    match &v.seal {
        Some(s) => out.push_str(&format!(
            "\n  seal      {} (sealed by key {}{}, {} stances)",
            output::safe_line(&v.dissent_note()),
            s.signer.short(12),
            s.delegation.map(|d| format!(" under node delegation {}", d.short(12))).unwrap_or_default(),
            s.stances
        )),
        None => out.push_str(&format!("\n  seal      {}", v.dissent_note())),
    }
    out
}

/// What the members with no stance carried are called: "did not respond"
/// when a seal vouches that the certificate carries every stance its
/// sealer's node held, else only "no stance carried".
fn silent_label(v: &chorus_core::VerifiedAdoption) -> &'static str {
    if v.seal.is_some() {
        "did not respond"
    } else {
        "no stance carried"
    }
}

/// The breadth a certificate proves, after the endorsers: "endorsed by 34
/// of 52 member trusts, from 8 of 9 regions, running 412 schools with
/// 198,000 pupils" and each breadth rule with its count (all met, or the
/// certificate would not verify). Empty for a coalition that declares no
/// attributes and has no breadth rules, so such certificates print as they
/// always have.
fn breadth_text(b: &chorus_core::Breakdown) -> String {
    if !b.uses_attributes() {
        return String::new();
    }
    let mut out = format!("\n  breadth   {}", b.endorsed_line());
    for l in b.rule_lines() {
        out.push_str(&format!("\n  breadth rule {l}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::Fixture;
    use chorus_core::{Attribute, BreadthRule, Charter, MemberAttributes};

    #[test]
    fn a_certificate_without_attributes_prints_no_breadth() {
        let (cert, _) = Fixture::new(3).certificate(2);
        let v = chorus_core::certificate::verify(&cert, None).unwrap();
        let text = verified_text(&v);
        assert!(!text.contains("breadth"), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[lines.len() - 2].starts_with("  endorsed by 2 of 3 members (2 needed): "), "{text}");
        // A certificate made before dissent was recorded says so, and
        // nothing about who objected.
        assert_eq!(lines[lines.len() - 1], "  seal      dissent not recorded: this certificate carries no seal");
    }

    #[test]
    fn a_sealed_certificate_prints_its_dissent_escaped() {
        let (cert, _) = Fixture::new(3).certificate(2);
        let mut v = chorus_core::certificate::verify(&cert, None).unwrap();
        let (trust, name) = v.silent[0].clone();
        v.silent.clear();
        v.objectors.push(chorus_core::Dissenter {
            trust,
            name: name.clone(),
            stance_id: ObjectId([1; 32]),
            created_at_ms: 1_767_225_600_000,
            comment: Some("too soon\u{1b}[2J".into()),
        });
        v.seal = Some(chorus_core::SealInfo {
            trust: v.endorsers[0].trust,
            name: "Sealer".into(),
            signer: v.endorsers[0].trust,
            delegation: None,
            stances: 3,
        });
        let text = verified_text(&v);
        assert!(
            text.contains(&format!(
                "\n  objected  1\n    {name} ({}) 2026-01-01 00:00 UTC: too soon\\u{{1b}}[2J\n  abstained  0\n  did not respond  0\n",
                trust.short(12)
            )),
            "{text}"
        );
        assert!(text.ends_with(&format!(
            "\n  seal      dissent known to Sealer's node (sealed by key {}, 3 stances)",
            v.endorsers[0].trust.short(12)
        )));
    }

    /// A certificate of five members where 0, 1 and 2 endorse, 3 objects
    /// and 4 has no stance carried, sealed by member 0 or not, written to a
    /// file in `dir`.
    fn with_an_objection(dir: &Path, sealed: bool) -> std::path::PathBuf {
        use chorus_core::certificate::{assemble_full, seal_body, Seal};
        use chorus_core::{Envelope, Stance};
        let f = Fixture::new(5);
        let p = f.proposal(0, "Certified", 1, None);
        let ends: Vec<Envelope> = (0..3).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
        let objection = f.endorsement(3, p.id(), Stance::Object, 3);
        let seal = sealed.then(|| {
            let ids: Vec<ObjectId> = ends.iter().chain([&objection]).map(Envelope::id).collect();
            Seal::sign(seal_body(&f.id(), &p.id(), &f.keys[0].public(), None, &ids), &f.keys[0])
        });
        let bytes = assemble_full(f.coalition.genesis_envelope(), &p, &ends, &[objection], &[], seal);
        let path = dir.join(if sealed { "sealed.cert" } else { "unsealed.cert" });
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn only_a_sealed_certificate_says_a_member_did_not_respond() {
        let dir = tempfile::tempdir().unwrap();
        let unsealed = run(&with_an_objection(dir.path(), false), None, false, true).unwrap();
        assert!(unsealed.human.contains("\n  abstained  0\n  no stance carried  1: Trust 4\n"), "{}", unsealed.human);
        assert!(!unsealed.human.contains("did not respond"), "{}", unsealed.human);
        assert_eq!(unsealed.json["silent"][0]["name"], "Trust 4", "{}", unsealed.json);
        assert!(unsealed.json.get("did_not_respond").is_none(), "{}", unsealed.json);

        let sealed = run(&with_an_objection(dir.path(), true), None, true, true).unwrap();
        assert!(sealed.human.contains("\n  abstained  0\n  did not respond  1: Trust 4\n"), "{}", sealed.human);
        assert_eq!(sealed.json["did_not_respond"][0]["name"], "Trust 4", "{}", sealed.json);
        assert_eq!(sealed.json["silent"], sealed.json["did_not_respond"], "{}", sealed.json);
    }

    #[test]
    fn a_certificate_with_attributes_prints_its_breadth() {
        let mut charter = Charter::default();
        charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
        charter.breadth.positions =
            vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
        let regions = ["East", "North", "West"];
        let f = Fixture::with_charter(3, charter, |i| MemberAttributes {
            region: Some(regions[i].into()),
            schools: Some(400 + i as u32),
            pupils: Some(99_000 + i as u32 * 1_000),
            ..MemberAttributes::default()
        });
        let (cert, _) = f.certificate(2);
        let v = chorus_core::certificate::verify(&cert, None).unwrap();
        let text = verified_text(&v);
        assert!(
            text.contains(
                "\n  breadth   endorsed by 2 of 3 member trusts, from 2 of 3 regions, running 801 schools with 199,000 pupils"
            ),
            "{text}"
        );
        assert!(text.contains("\n  breadth rule from at least 2 of 3 regions: 2, met\n"), "{text}");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["breakdown"]["endorser_pupils"], 199_000, "{json}");
        assert_eq!(json["breakdown"]["breadth"][0]["met"], true, "{json}");
    }
}
