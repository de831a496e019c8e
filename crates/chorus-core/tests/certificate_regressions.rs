//! Certificates kept as files: ones an earlier verifier judged wrongly, and
//! ones earlier versions produced, which must keep verifying (nothing
//! already signed changes meaning).

use chorus_core::{certificate, CertificateError, Decision, ObjectId, RuleKind, VoidReason};

/// The coalition of PROTOCOL.md's test vectors (section 11.2).
const VECTOR_COALITION: &str = "f7829ab691ed8e3e41b534a520d0417becb9906bc6924419195289e265d3eb49";
/// `key.d` of section 11.8: not a member of the genesis roster.
const KEY_D: &str = "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e";

fn read(dir: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn coalition() -> ObjectId {
    VECTOR_COALITION.parse().expect("a coalition id")
}

/// Verified with and without the expected coalition, on one and on two
/// threads: the verdict must not depend on either.
fn verdict(dir: &str, name: &str) -> Result<chorus_core::VerifiedAdoption, CertificateError> {
    let bytes = read(dir, name);
    let one = certificate::verify_with_threads(&bytes, Some(coalition()), 1);
    assert_eq!(certificate::verify_with_threads(&bytes, Some(coalition()), 2), one, "{name}");
    assert_eq!(certificate::verify_with_threads(&bytes, None, 1), one, "{name}");
    one
}

/// Governance proposals under the genesis roster with an empty chain were
/// once judged by the positions rule (1/2 here 3/5) with no void check, and
/// passed; the same certificate with one unneeded delegation in its chain
/// failed. Both twins must now fail, for the same reason.
#[test]
fn governance_certificates_once_misverified_fail_with_their_reason_and_twins_agree() {
    let dir = "misverified";
    for (name, expected) in [
        (
            "vector-admit-2of3",
            CertificateError::BelowThreshold { rule: RuleKind::Membership, have: 2, need: 3, members: 3 },
        ),
        (
            "vector-amend-charter-2of3",
            CertificateError::BelowThreshold { rule: RuleKind::Amendments, have: 2, need: 3, members: 3 },
        ),
    ] {
        assert_eq!(verdict(dir, &format!("{name}.cert")), Err(expected.clone()), "{name}");
        assert_eq!(verdict(dir, &format!("{name}+unneeded-delegation.cert")), Err(expected), "{name} twin");
    }
    let name = "vector-remove-non-member-3of3";
    let single = verdict(dir, &format!("{name}.cert"));
    let twin = verdict(dir, &format!("{name}+unneeded-delegation.cert"));
    assert_eq!(single, twin);
    match single {
        Err(CertificateError::ProposalVoid { reason: VoidReason::ActionNotApplicable(why), .. }) => {
            assert!(why.contains(KEY_D) && why.contains("not a member"), "{why}");
        }
        other => panic!("a removal of a non-member is void, got {other:?}"),
    }
}

/// Certificates made by the commit before the single verification
/// algorithm (8589824): a position under the genesis roster and one under a
/// later roster version with a proof chain.
#[test]
fn certificates_made_by_earlier_versions_still_verify() {
    let v = verdict("earlier", "vector-valid-8589824.cert").expect("verifies");
    assert_eq!(v.decision, Decision::Position);
    assert_eq!((v.rule.kind, v.rule.numerator, v.rule.denominator), (RuleKind::Positions, 3, 5));
    assert_eq!((v.members, v.required, v.endorsers.len()), (3, 2, 2));
    assert_eq!(v.roster_version, coalition());
    let v = verdict("earlier", "vector-gov_valid-8589824.cert").expect("verifies");
    assert_eq!(v.decision, Decision::Position);
    assert_eq!((v.members, v.required, v.endorsers.len()), (4, 3, 3));
    assert_ne!(v.roster_version, coalition());
}

/// Certificates exported by real node processes (see tests/data/real).
#[test]
fn certificates_made_by_real_nodes_verify_and_say_what_they_prove() {
    let coalition = |name: &str| -> ObjectId {
        String::from_utf8(read("real", name)).expect("text").trim().parse().expect("a coalition id")
    };
    let verify = |name: &str, c: ObjectId| {
        let bytes = read("real", name);
        let one = certificate::verify_with_threads(&bytes, Some(c), 1);
        assert_eq!(certificate::verify_with_threads(&bytes, Some(c), 2), one, "{name}");
        one.unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let devnet = verify("devnet-position.cert", coalition("devnet.coalition"));
    assert_eq!((devnet.decision, devnet.rule.kind), (Decision::Position, RuleKind::Positions));
    let g = coalition("governance.coalition");
    let admission = verify("governance-admission.cert", g);
    assert_eq!((admission.decision, admission.rule.kind), (Decision::Admission, RuleKind::Membership));
    let rule = chorus_core::AdoptionRule::new(admission.rule.numerator, admission.rule.denominator).expect("a rule");
    assert_eq!(admission.required, rule.required(admission.members));
    let position = verify("governance-position.cert", g);
    assert_eq!(position.decision, Decision::Position);
    assert_ne!(position.roster_version, g, "pinned to a later roster version");
    verify("governance-revoked-later.cert", g);
}

/// True when every value of `before` is in `now`, at the same place: an
/// object may have gained keys, nothing else changed.
fn still_says(before: &serde_json::Value, now: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (before, now) {
        (Value::Object(b), Value::Object(n)) => b.iter().all(|(k, v)| n.get(k).is_some_and(|m| still_says(v, m))),
        (Value::Array(b), Value::Array(n)) => b.len() == n.len() && b.iter().zip(n).all(|(v, m)| still_says(v, m)),
        (b, n) => b == n,
    }
}

/// Certificates made by the version before dissent was recorded (commit
/// c3f09f2, see tests/data/before-dissent): no dissent, no seal. They
/// verify as that version verified them (every value of its `chorus verify
/// --json` report is in the new one; the new one only adds keys), say
/// that dissent is not recorded, and fail only when a seal is required.
#[test]
fn certificates_made_before_dissent_was_recorded_verify_as_before() {
    for (name, coalition, breadth) in
        [("devnet-3-breadth", "devnet-3", true), ("devnet-5-breadth", "devnet-5", true), ("solo-leader", "solo", false)]
    {
        let c: ObjectId = String::from_utf8(read("before-dissent", &format!("{coalition}.coalition")))
            .expect("text")
            .trim()
            .parse()
            .expect("a coalition id");
        let bytes = read("before-dissent", &format!("{name}.cert"));
        let v = certificate::verify_with_threads(&bytes, Some(c), 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(certificate::verify_with_threads(&bytes, Some(c), 2).as_ref(), Ok(&v), "{name}");
        assert_eq!((v.decision, v.rule.kind), (Decision::Position, RuleKind::Positions), "{name}");
        assert_eq!(!v.breakdown.breadth.is_empty(), breadth, "{name}: breadth rules");
        let before: serde_json::Value =
            serde_json::from_slice(&read("before-dissent", &format!("{name}.verify.json"))).expect("json");
        let now = serde_json::to_value(&v).expect("serialises");
        for (key, value) in before.as_object().expect("an object") {
            if key != "valid" {
                assert!(still_says(value, &now[key]), "{name}: {key} differs from the report of c3f09f2");
            }
        }
        assert_eq!(v.seal, None, "{name}");
        assert!(v.objectors.is_empty() && v.abstainers.is_empty(), "{name}");
        assert_eq!(v.silent.len(), v.members - v.endorsers.len(), "{name}");
        assert_eq!(v.window.opens_at_ms, Some(0), "{name}: open from the start");
        assert_eq!(v.window.closes_at_ms, v.proposal.closes_at_ms, "{name}");
        assert_eq!(v.dissent_note(), "dissent not recorded: this certificate carries no seal");
        assert_eq!(v.require_seal(), Err(CertificateError::Unsealed), "{name}");
    }
}

/// The certificates real nodes made before dissent was recorded (see
/// tests/data/real) report no seal either.
#[test]
fn real_certificates_made_before_dissent_report_it_not_recorded() {
    for (name, c) in [
        ("devnet-position.cert", "devnet.coalition"),
        ("governance-position.cert", "governance.coalition"),
        ("governance-admission.cert", "governance.coalition"),
        ("governance-revoked-later.cert", "governance.coalition"),
    ] {
        let c: ObjectId = String::from_utf8(read("real", c)).expect("text").trim().parse().expect("an id");
        let v = certificate::verify_with_threads(&read("real", name), Some(c), 1).expect(name);
        assert_eq!(v.seal, None, "{name}");
        assert!(v.objectors.is_empty() && v.abstainers.is_empty(), "{name}");
        assert_eq!(v.dissent_note(), "dissent not recorded: this certificate carries no seal");
    }
}
