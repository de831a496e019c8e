//! Helpers shared by the tests that compare verdicts with the document and
//! with the independent verifier.

use chorus_core::{CertificateError, VerifiedAdoption};

/// The one-line result of PROTOCOL.md section 11 for a valid certificate:
/// `ok coalition=… proposal=… decision=… rule=<name>:<n>/<d> members=…
/// required=… endorsers=<trust ids in certificate order>`.
pub fn result_line(v: &VerifiedAdoption) -> String {
    let endorsers: Vec<String> = v.endorsers.iter().map(|e| e.trust.to_hex()).collect();
    let decision = serde_json::to_value(v.decision).expect("a decision serialises");
    format!(
        "ok coalition={} proposal={} decision={} rule={}:{}/{} members={} required={} endorsers={}",
        v.coalition,
        v.proposal_id,
        decision.as_str().expect("a decision is a name"),
        v.rule.kind.name(),
        v.rule.numerator,
        v.rule.denominator,
        v.members,
        v.required,
        endorsers.join(",")
    )
}

/// The verdict as the independent verifier prints it: the result line, or
/// `<ErrorName>: <message>` on one line.
#[allow(dead_code)] // not every test that includes this module needs it
pub fn verdict_line(r: &Result<VerifiedAdoption, CertificateError>) -> String {
    match r {
        Ok(v) => result_line(v),
        Err(e) => format!("{}: {}", e.name(), e.to_string().replace('\n', " ")),
    }
}
