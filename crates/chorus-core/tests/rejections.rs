//! One test per refusal: every `Rejection` a decoder, body parser, genesis or
//! validation can return, and every `CertificateError`, each asserted as the
//! exact variant (and index, where it has one) together with its verdict.

use chorus_core::limits::*;
use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, CertificateError, Coalition, Endorsement, Envelope, Genesis, KeyError, Keypair, Kind, Ledger,
    ObjectId, Proposal, Rejection, Stance, Verdict, VerifiedObject,
};
use chorus_proto::v1 as pb;
use prost::Message;

const NOW: u64 = T0 + 60_000;

/// Named mutations of a message, each expected to break the named field.
type Cases<M> = Vec<(&'static str, Box<dyn Fn(&mut M)>)>;

fn proto(env: &Envelope) -> pb::Envelope {
    pb::Envelope::decode(env.bytes()).expect("our own envelopes decode")
}

fn invalid_field(r: &Rejection) -> &'static str {
    match r {
        Rejection::InvalidField { field, .. } => field,
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

/// Asserts a rejection is the given variant shape and says `Reject`.
#[track_caller]
fn rejected(r: Result<impl std::fmt::Debug, Rejection>) -> Rejection {
    let e = r.expect_err("must be refused");
    assert!(!e.to_string().is_empty());
    e
}

/// The production path (PROTOCOL.md 12.8) with nothing held but the
/// genesis: what a node that has just joined decides.
fn validate(c: &Coalition, bytes: &[u8], now_ms: u64) -> Result<VerifiedObject, Rejection> {
    Ledger::new(c.clone()).validate(bytes, now_ms)
}

// ---------------------------------------------------------------- fixtures

fn proposal_pb(f: &Fixture, author: usize) -> pb::Proposal {
    pb::Proposal {
        coalition: f.id().0.to_vec(),
        roster: f.id().0.to_vec(),
        author: f.keys[author].public().as_bytes().to_vec(),
        created_at_ms: T0 + 1,
        closes_at_ms: 0,
        title: "Fund school meals".into(),
        body: "We resolve.".into(),
        link: None,
        ..Default::default()
    }
}

fn endorsement_pb(f: &Fixture, member: usize, proposal: ObjectId) -> pb::Endorsement {
    pb::Endorsement {
        coalition: f.id().0.to_vec(),
        proposal: proposal.0.to_vec(),
        trust: f.keys[member].public().as_bytes().to_vec(),
        created_at_ms: T0 + 2,
        stance: pb::Stance::Endorse as i32,
        comment: String::new(),
        ..Default::default()
    }
}

fn signed(kind: Kind, body: &impl Message, key: &Keypair) -> Envelope {
    Envelope::sign(kind, body.encode_to_vec(), &[key])
}

fn genesis_pb(keys: &[Keypair]) -> pb::Genesis {
    let mut founders: Vec<pb::Member> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| pb::Member {
            trust_key: k.public().as_bytes().to_vec(),
            name: format!("Trust {i}"),
            external_id: String::new(),
            attributes: None,
        })
        .collect();
    founders.sort_by(|a, b| a.trust_key.cmp(&b.trust_key));
    pb::Genesis { name: "Coalition".into(), charter: None, founders, created_at_ms: T0, nonce: vec![] }
}

fn keys(n: u32) -> Vec<Keypair> {
    let mut k: Vec<Keypair> = (0..n).map(chorus_core::testkit::member_key).collect();
    k.sort_by_key(|k| *k.public().as_bytes());
    k
}

fn genesis_env(g: &pb::Genesis, signers: &[Keypair]) -> Envelope {
    let refs: Vec<&Keypair> = signers.iter().collect();
    Envelope::sign(Kind::Genesis, g.encode_to_vec(), &refs)
}

fn from_genesis(g: &pb::Genesis, signers: &[Keypair]) -> Result<Coalition, Rejection> {
    Coalition::from_genesis(genesis_env(g, signers).bytes(), 1)
}

// ---------------------------------------------------------------- Envelope::decode

#[test]
fn envelope_over_the_genesis_bound_is_too_large() {
    let big = vec![0u8; MAX_GENESIS_ENVELOPE_BYTES + 1];
    let e = rejected(Envelope::decode(&big));
    assert_eq!(
        e,
        Rejection::TooLarge {
            what: "envelope",
            size: MAX_GENESIS_ENVELOPE_BYTES + 1,
            limit: MAX_GENESIS_ENVELOPE_BYTES
        }
    );
    assert_eq!(e.verdict(), Verdict::Reject);
}

#[test]
fn non_genesis_envelope_over_its_bound_is_too_large() {
    let k = Keypair::from_seed(&[1; 32]);
    let env = Envelope::sign(Kind::Endorsement, vec![b'x'; MAX_ENVELOPE_BYTES], &[&k]);
    let size = env.bytes().len();
    assert_eq!(
        Envelope::decode(env.bytes()),
        Err(Rejection::TooLarge { what: "envelope", size, limit: MAX_ENVELOPE_BYTES })
    );
}

#[test]
fn undecodable_envelope_is_malformed() {
    for bytes in [&[0xffu8; 8][..], &[0x12, 0x05, 1][..], &[0x80][..]] {
        let e = rejected(Envelope::decode(bytes));
        assert!(matches!(e, Rejection::Malformed { what: "envelope", .. }), "{e:?}");
        assert_eq!(e.verdict(), Verdict::Reject);
    }
}

#[test]
fn non_canonical_envelopes_are_refused() {
    let k = Keypair::from_seed(&[1; 32]);
    let env = Envelope::sign(Kind::Proposal, vec![1, 2, 3], &[&k]);
    let nc = Err(Rejection::NonCanonical { what: "envelope" });
    // Unknown field appended.
    let mut extra = env.bytes().to_vec();
    extra.extend_from_slice(&[0x78, 0x01]);
    assert_eq!(Envelope::decode(&extra), nc);
    // Non-minimal varint for kind: 0x82 0x00 is 2 written in two bytes.
    let mut padded = vec![0x08, 0x82, 0x00];
    padded.extend_from_slice(&env.bytes()[2..]);
    assert_eq!(Envelope::decode(&padded), nc);
    // Fields out of order: body before kind.
    let body_field = &env.bytes()[2..7];
    let mut swapped = body_field.to_vec();
    swapped.extend_from_slice(&env.bytes()[..2]);
    swapped.extend_from_slice(&env.bytes()[7..]);
    assert_eq!(Envelope::decode(&swapped), nc);
    // A default value written out: an empty body field.
    let empty = Envelope::sign(Kind::Proposal, vec![], &[&k]);
    let mut with_empty = empty.bytes()[..2].to_vec();
    with_empty.extend_from_slice(&[0x12, 0x00]);
    with_empty.extend_from_slice(&empty.bytes()[2..]);
    assert_eq!(Envelope::decode(&with_empty), nc);
}

#[test]
fn unknown_kinds_are_ignored() {
    let k = Keypair::from_seed(&[1; 32]);
    for kind in [0, 32, 1000, -1] {
        let mut msg = proto(&Envelope::sign(Kind::Proposal, vec![1], &[&k]));
        msg.kind = kind;
        let e = rejected(Envelope::decode(&msg.encode_to_vec()));
        assert_eq!(e, Rejection::UnknownKind(kind));
        assert_eq!(e.verdict(), Verdict::Ignore);
    }
    // The reserved kinds 4 and 8-31 are not unknown (PROTOCOL.md 3.4): they
    // decode, and a body without the common header is rejected.
    let f = Fixture::new(2);
    for kind in [4, 8, 31] {
        let mut msg = proto(&Envelope::sign(Kind::Proposal, vec![1], &[&k]));
        msg.kind = kind;
        assert_eq!(Envelope::decode(&msg.encode_to_vec()).map(|e| e.kind().wire()), Ok(kind));
        let e = rejected(Ledger::new(f.coalition.clone()).validate(&msg.encode_to_vec(), NOW));
        assert!(matches!(e, Rejection::InvalidField { field: "header coalition", .. }), "{e:?}");
        assert_eq!(e.verdict(), Verdict::Reject);
    }
}

#[test]
fn wrong_signature_counts_are_refused() {
    let a = Keypair::from_seed(&[1; 32]);
    let b = Keypair::from_seed(&[2; 32]);
    let two = Envelope::sign(Kind::Endorsement, vec![9], &[&a, &b]);
    assert_eq!(
        Envelope::decode(two.bytes()),
        Err(Rejection::SignatureCount { kind: Kind::Endorsement, expected: 1, found: 2 })
    );
    let none = Envelope::assemble(Kind::Proposal, vec![9], vec![]);
    assert_eq!(
        Envelope::decode(none.bytes()),
        Err(Rejection::SignatureCount { kind: Kind::Proposal, expected: 1, found: 0 })
    );
    let none = Envelope::assemble(Kind::Genesis, vec![9], vec![]);
    assert_eq!(
        Envelope::decode(none.bytes()),
        Err(Rejection::SignatureCount { kind: Kind::Genesis, expected: 1, found: 0 })
    );
}

#[test]
fn unsorted_or_repeated_signers_are_refused() {
    let ks = keys(3);
    let env = genesis_env(&genesis_pb(&ks), &ks);
    let mut msg = proto(&env);
    msg.signatures.swap(1, 2);
    assert_eq!(Envelope::decode(&msg.encode_to_vec()), Err(Rejection::SignaturesNotSorted { index: 2 }));
    let mut msg = proto(&env);
    msg.signatures[1] = msg.signatures[0].clone();
    assert_eq!(Envelope::decode(&msg.encode_to_vec()), Err(Rejection::SignaturesNotSorted { index: 1 }));
}

#[test]
fn signature_and_signer_lengths_are_checked() {
    let k = Keypair::from_seed(&[1; 32]);
    let env = Envelope::sign(Kind::Endorsement, vec![9], &[&k]);
    let mut msg = proto(&env);
    msg.signatures[0].signature.push(0);
    assert_eq!(Envelope::decode(&msg.encode_to_vec()), Err(Rejection::SignatureLength { index: 0, len: 65 }));
    let mut msg = proto(&env);
    msg.signatures[0].signer.truncate(31);
    assert_eq!(
        Envelope::decode(&msg.encode_to_vec()),
        Err(Rejection::BadKey { field: "envelope signer", error: KeyError::Length(31) })
    );
}

// ---------------------------------------------------------------- Coalition::from_genesis

#[test]
fn a_valid_genesis_founds_a_coalition() {
    let ks = keys(3);
    let c = from_genesis(&genesis_pb(&ks), &ks).unwrap();
    assert_eq!(c.current_roster().len(), 3);
}

#[test]
fn genesis_must_be_a_genesis() {
    let f = Fixture::new(2);
    let p = f.proposal(0, "x", 1, None);
    let e = rejected(Coalition::from_genesis(p.bytes(), 1));
    assert_eq!(invalid_field(&e), "kind");
}

#[test]
fn genesis_missing_a_founder_countersignature_is_refused() {
    let ks = keys(4);
    let g = genesis_pb(&ks);
    let e = rejected(from_genesis(&g, &ks[..3]));
    assert_eq!(e, Rejection::SignatureCount { kind: Kind::Genesis, expected: 4, found: 3 });
}

#[test]
fn genesis_with_an_extra_countersignature_is_refused() {
    let ks = keys(4);
    let g = genesis_pb(&ks[..3]);
    let e = rejected(from_genesis(&g, &ks));
    assert_eq!(e, Rejection::SignatureCount { kind: Kind::Genesis, expected: 3, found: 4 });
}

#[test]
fn genesis_countersigned_by_a_non_founder_is_refused() {
    let ks = keys(4);
    let g = genesis_pb(&ks[..3]);
    let signers = [ks[0].clone(), ks[1].clone(), ks[3].clone()];
    let e = rejected(from_genesis(&g, &signers));
    assert_eq!(invalid_field(&e), "genesis signatures");
}

#[test]
fn genesis_with_unsorted_countersignatures_is_refused() {
    let ks = keys(3);
    let mut msg = proto(&genesis_env(&genesis_pb(&ks), &ks));
    msg.signatures.reverse();
    assert_eq!(Coalition::from_genesis(&msg.encode_to_vec(), 1), Err(Rejection::SignaturesNotSorted { index: 1 }));
}

#[test]
fn genesis_with_a_bad_countersignature_is_refused() {
    let ks = keys(80);
    let mut msg = proto(&genesis_env(&genesis_pb(&ks), &ks));
    msg.signatures[70].signature[5] ^= 1;
    for threads in [1, 2] {
        assert_eq!(
            Coalition::from_genesis(&msg.encode_to_vec(), threads),
            Err(Rejection::BadSignature { signer: ks[70].public().to_hex() })
        );
    }
}

#[test]
fn genesis_over_its_bound_is_too_large() {
    let ks = keys(1);
    let mut g = genesis_pb(&ks);
    g.nonce = vec![7; MAX_GENESIS_ENVELOPE_BYTES];
    let env = genesis_env(&g, &ks);
    let size = env.bytes().len();
    assert_eq!(
        Coalition::from_genesis(env.bytes(), 1),
        Err(Rejection::TooLarge { what: "envelope", size, limit: MAX_GENESIS_ENVELOPE_BYTES })
    );
}

#[test]
fn genesis_field_bounds() {
    let ks = keys(2);
    let cases: Cases<pb::Genesis> = vec![
        ("coalition name", Box::new(|g| g.name.clear())),
        ("coalition name", Box::new(|g| g.name = "n".repeat(MAX_NAME_BYTES + 1))),
        ("coalition name", Box::new(|g| g.name = "two\nlines".into())),
        ("nonce", Box::new(|g| g.nonce = vec![1; MAX_NONCE_BYTES + 1])),
        ("member name", Box::new(|g| g.founders[1].name.clear())),
        ("member name", Box::new(|g| g.founders[1].name = "é".repeat(MAX_NAME_BYTES / 2 + 1))),
        ("member external id", Box::new(|g| g.founders[0].external_id = "9".repeat(MAX_EXTERNAL_ID_BYTES + 1))),
        ("founders", Box::new(|g| g.founders.swap(0, 1))),
        ("founders", Box::new(|g| g.founders[1] = g.founders[0].clone())),
        ("founders", Box::new(|g| g.founders.clear())),
        ("genesis created_at_ms", Box::new(|g| g.created_at_ms = 0)),
        (
            "adoption rule denominator",
            Box::new(|g| {
                g.charter = Some(pb::Charter {
                    positions: Some(pb::AdoptionRule { numerator: 0, denominator: 0, breadth: vec![] }),
                    ..Default::default()
                })
            }),
        ),
        (
            "adoption rule denominator",
            Box::new(|g| {
                g.charter = Some(pb::Charter {
                    positions: Some(pb::AdoptionRule {
                        numerator: 1,
                        denominator: MAX_RULE_DENOMINATOR + 1,
                        breadth: vec![],
                    }),
                    ..Default::default()
                })
            }),
        ),
        (
            "adoption rule numerator",
            Box::new(|g| {
                g.charter = Some(pb::Charter {
                    positions: Some(pb::AdoptionRule { numerator: 3, denominator: 2, breadth: vec![] }),
                    ..Default::default()
                })
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut g = genesis_pb(&ks);
        mutate(&mut g);
        let e = rejected(Genesis::from_body(&g.encode_to_vec()));
        assert_eq!(invalid_field(&e), field, "{e}");
        // The same refusal through the whole genesis path.
        assert_eq!(from_genesis(&g, &ks).unwrap_err(), e);
        assert_eq!(e.verdict(), Verdict::Reject);
    }
    // Exactly at the bounds is fine.
    let mut g = genesis_pb(&ks);
    g.name = "n".repeat(MAX_NAME_BYTES);
    g.nonce = vec![1; MAX_NONCE_BYTES];
    g.founders[0].external_id = "9".repeat(MAX_EXTERNAL_ID_BYTES);
    g.founders[1].name = "m".repeat(MAX_NAME_BYTES);
    assert!(from_genesis(&g, &ks).is_ok());
}

#[test]
fn genesis_with_too_many_founders_is_refused() {
    // The count is checked before any key is parsed, so placeholders do.
    let founders = (0..=MAX_MEMBERS as u32)
        .map(|i| pb::Member {
            trust_key: i.to_be_bytes().to_vec(),
            name: "t".into(),
            external_id: String::new(),
            attributes: None,
        })
        .collect();
    let g = pb::Genesis { name: "Big".into(), charter: None, founders, created_at_ms: T0, nonce: vec![] };
    let e = rejected(Genesis::from_body(&g.encode_to_vec()));
    assert_eq!(invalid_field(&e), "founders");
    assert!(e.to_string().contains("10001"), "{e}");
}

#[test]
fn genesis_founder_keys_must_be_acceptable() {
    let ks = keys(2);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut non_canonical = [0xffu8; 32];
    non_canonical[31] = 0x7f;
    non_canonical[0] = 0xee;
    for (bad, want) in [
        (identity.to_vec(), KeyError::SmallOrder(hex::encode(identity))),
        (non_canonical.to_vec(), KeyError::NonCanonical(hex::encode(non_canonical))),
        (vec![1; 31], KeyError::Length(31)),
    ] {
        let mut g = genesis_pb(&ks);
        g.founders[0].trust_key = bad;
        assert_eq!(
            Genesis::from_body(&g.encode_to_vec()),
            Err(Rejection::BadKey { field: "member trust key", error: want })
        );
    }
}

#[test]
fn genesis_body_must_be_canonical() {
    let ks = keys(1);
    let mut body = genesis_pb(&ks).encode_to_vec();
    body.extend_from_slice(&[0x30, 0x01]); // field 6 (reserved), varint
    assert_eq!(Genesis::from_body(&body), Err(Rejection::NonCanonical { what: "genesis body" }));
    let e = rejected(Genesis::from_body(&[0x0a, 0x05, b'a']));
    assert!(matches!(e, Rejection::Malformed { what: "genesis body", .. }), "{e:?}");
    let env = Envelope::sign(Kind::Genesis, body, &[&ks[0]]);
    assert_eq!(Coalition::from_genesis(env.bytes(), 1), Err(Rejection::NonCanonical { what: "genesis body" }));
}

// ---------------------------------------------------------------- Ledger::validate

#[test]
fn own_genesis_is_accepted_and_a_foreign_one_refused() {
    let f = Fixture::new(3);
    let g = f.coalition.genesis_envelope();
    assert_eq!(validate(&f.coalition, g.bytes(), NOW).unwrap().id(), f.id());
    let other = Fixture::new(4);
    let e = rejected(validate(&f.coalition, other.coalition.genesis_envelope().bytes(), NOW));
    assert_eq!(e, Rejection::ForeignGenesis(other.id()));
    assert_eq!(e.verdict(), Verdict::Reject);
}

#[test]
fn objects_of_another_coalition_are_refused() {
    let f = Fixture::new(3);
    let other = Fixture::new(4);
    let p = other.proposal(0, "Elsewhere", 1, None);
    assert_eq!(
        validate(&f.coalition, p.bytes(), NOW),
        Err(Rejection::WrongCoalition { expected: f.id(), found: other.id() })
    );
    // Reported as such even when the signer is not one of our members.
    let e = other.endorsement(3, p.id(), Stance::Endorse, 2);
    assert_eq!(
        validate(&f.coalition, e.bytes(), NOW),
        Err(Rejection::WrongCoalition { expected: f.id(), found: other.id() })
    );
}

#[test]
fn unknown_roster_is_ignored() {
    let f = Fixture::new(3);
    let mut p = proposal_pb(&f, 0);
    let version = chorus_core::version_id(&f.id(), &[ObjectId([9; 32])]);
    p.roster_heads = vec![vec![9; 32]];
    p.roster = version.0.to_vec();
    let e = rejected(validate(&f.coalition, signed(Kind::Proposal, &p, &f.keys[0]).bytes(), NOW));
    assert_eq!(e, Rejection::UnknownRoster(version));
    assert_eq!(e.verdict(), Verdict::Ignore);
    // A roster id that is not the version id of its heads is invalid for
    // everyone, so rejected.
    p.roster = vec![9; 32];
    let e = rejected(validate(&f.coalition, signed(Kind::Proposal, &p, &f.keys[0]).bytes(), NOW));
    assert!(matches!(e, Rejection::InvalidField { field: "roster", .. }), "{e:?}");
}

#[test]
fn non_members_cannot_propose_or_endorse() {
    // Under the ledger (PROTOCOL.md 12.8 V6) an outsider is a trust with no
    // known key: its genuinely signed objects are deferred (Ignore), never
    // admitted, until a held admission names it.
    let f = Fixture::new(3);
    let outsider = Keypair::from_seed(&[42; 32]);
    let unknown = Rejection::UnknownSigner { key: outsider.public().to_hex(), trust: outsider.public().to_hex() };
    let mut p = proposal_pb(&f, 0);
    p.author = outsider.public().as_bytes().to_vec();
    let proposal = signed(Kind::Proposal, &p, &outsider);
    let e = rejected(validate(&f.coalition, proposal.bytes(), NOW));
    assert_eq!(e, unknown);
    assert_eq!(e.verdict(), Verdict::Ignore);
    assert!(e.awaits_objects());

    let mut en = endorsement_pb(&f, 0, ObjectId([1; 32]));
    en.trust = outsider.public().as_bytes().to_vec();
    let endorsement = signed(Kind::Endorsement, &en, &outsider);
    let e = rejected(validate(&f.coalition, endorsement.bytes(), NOW));
    assert_eq!(e, unknown);

    // Once an admission of the outsider is held (adopted or not), both pass.
    let member = chorus_core::Member {
        key: outsider.public(),
        name: "New".into(),
        external_id: None,
        attributes: Default::default(),
    };
    let admit =
        f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit", &[], Some(chorus_core::Action::Admit(member)), 1);
    let mut ledger = Ledger::new(f.coalition.clone());
    ledger.apply(&ledger.validate(admit.bytes(), NOW).unwrap());
    assert!(ledger.validate(endorsement.bytes(), NOW).is_ok());
    assert!(ledger.validate(proposal.bytes(), NOW).is_ok());
}

#[test]
fn signer_must_be_a_known_key_of_the_trust_the_body_names() {
    // The first edition required the signer to be the member named
    // (SignerMismatch); under the ledger it must be a known key of the trust
    // named (12.8 V6), else UnknownSigner (Ignore: a rotation may make it one).
    let f = Fixture::new(3);
    let p = proposal_pb(&f, 0);
    let e = rejected(validate(&f.coalition, signed(Kind::Proposal, &p, &f.keys[1]).bytes(), NOW));
    assert_eq!(e, Rejection::UnknownSigner { key: f.keys[1].public().to_hex(), trust: f.keys[0].public().to_hex() });
    assert_eq!(e.verdict(), Verdict::Ignore);
    let en = endorsement_pb(&f, 2, ObjectId([1; 32]));
    let e = rejected(validate(&f.coalition, signed(Kind::Endorsement, &en, &f.keys[0]).bytes(), NOW));
    assert_eq!(e, Rejection::UnknownSigner { key: f.keys[0].public().to_hex(), trust: f.keys[2].public().to_hex() });

    // A stance under a delegation must be signed by the delegate it names.
    let delegate = Keypair::from_seed(&[43; 32]);
    let d = f.delegation(&f.keys[2], f.keys[2].public(), delegate.public(), None, 1);
    let mut ledger = Ledger::new(f.coalition.clone());
    ledger.apply(&ledger.validate(d.bytes(), NOW).unwrap());
    let by_other = f.stance_by(&f.keys[0], f.keys[2].public(), ObjectId([1; 32]), Stance::Endorse, 2, Some(d.id()));
    let e = rejected(ledger.validate(by_other.bytes(), NOW));
    assert_eq!(
        e,
        Rejection::SignerMismatch {
            field: "delegate",
            signer: f.keys[0].public().to_hex(),
            named: delegate.public().to_hex()
        }
    );
    assert_eq!(e.verdict(), Verdict::Reject);
}

#[test]
fn bad_signatures_are_refused() {
    let f = Fixture::new(3);
    for env in [f.proposal(1, "x", 1, None), f.endorsement(2, ObjectId([1; 32]), Stance::Object, 1)] {
        let mut msg = proto(&env);
        msg.signatures[0].signature[40] ^= 0x10;
        let signer = hex::encode(&msg.signatures[0].signer);
        let e = rejected(validate(&f.coalition, &msg.encode_to_vec(), NOW));
        assert_eq!(e, Rejection::BadSignature { signer });
        assert_eq!(e.verdict(), Verdict::Reject);
    }
}

#[test]
fn objects_from_the_future_are_deferred_not_punished() {
    let f = Fixture::new(3);
    let now = T0;
    let at_limit = f.proposal(0, "ok", MAX_CLOCK_SKEW_MS, None);
    assert!(validate(&f.coalition, at_limit.bytes(), now).is_ok());
    let ahead = f.proposal(0, "ahead", MAX_CLOCK_SKEW_MS + 1, None);
    let e = rejected(validate(&f.coalition, ahead.bytes(), now));
    assert_eq!(e, Rejection::FromTheFuture { created_at_ms: T0 + MAX_CLOCK_SKEW_MS + 1, now_ms: now });
    assert_eq!(e.verdict(), Verdict::Ignore);
    // Admitted once the clock catches up.
    assert!(validate(&f.coalition, ahead.bytes(), now + 1).is_ok());
    let en = f.endorsement(1, ahead.id(), Stance::Endorse, MAX_CLOCK_SKEW_MS + 1);
    let e = rejected(validate(&f.coalition, en.bytes(), now));
    assert_eq!(e.verdict(), Verdict::Ignore);
    assert!(matches!(e, Rejection::FromTheFuture { .. }));
}

#[test]
fn proposal_field_bounds() {
    let f = Fixture::new(3);
    let cases: Cases<pb::Proposal> = vec![
        ("title", Box::new(|p| p.title.clear())),
        ("title", Box::new(|p| p.title = "t".repeat(MAX_TITLE_BYTES + 1))),
        ("title", Box::new(|p| p.title = "a\ttab".into())),
        ("body", Box::new(|p| p.body = "b".repeat(MAX_BODY_BYTES + 1))),
        ("body", Box::new(|p| p.body = "escape \u{1b}[2J".into())),
        ("proposal created_at_ms", Box::new(|p| p.created_at_ms = 0)),
        ("closes_at_ms", Box::new(|p| p.closes_at_ms = p.created_at_ms - 1)),
        ("link relation", Box::new(|p| p.link = Some(pb::ProposalLink { target: vec![1; 32], relation: 0 }))),
        ("link relation", Box::new(|p| p.link = Some(pb::ProposalLink { target: vec![1; 32], relation: 3 }))),
        ("link target", Box::new(|p| p.link = Some(pb::ProposalLink { target: vec![1; 31], relation: 1 }))),
        ("coalition", Box::new(|p| p.coalition = vec![])),
        ("roster", Box::new(|p| p.roster.push(0))),
    ];
    for (field, mutate) in cases {
        let mut p = proposal_pb(&f, 0);
        mutate(&mut p);
        let e = rejected(Proposal::from_body(&p.encode_to_vec()));
        assert_eq!(invalid_field(&e), field, "{e}");
        assert_eq!(validate(&f.coalition, signed(Kind::Proposal, &p, &f.keys[0]).bytes(), NOW), Err(e));
    }
    // At the bounds: accepted; closing exactly at creation is allowed.
    let mut p = proposal_pb(&f, 0);
    p.title = "t".repeat(MAX_TITLE_BYTES);
    p.body = "b\n\tc\r\n".repeat(MAX_BODY_BYTES / 6);
    p.closes_at_ms = p.created_at_ms;
    p.link = Some(pb::ProposalLink { target: vec![1; 32], relation: 2 });
    assert!(validate(&f.coalition, signed(Kind::Proposal, &p, &f.keys[0]).bytes(), NOW).is_ok());
}

#[test]
fn proposal_author_must_be_a_key() {
    let f = Fixture::new(3);
    let mut p = proposal_pb(&f, 0);
    p.author = vec![0; 33];
    assert_eq!(
        Proposal::from_body(&p.encode_to_vec()),
        Err(Rejection::BadKey { field: "author", error: KeyError::Length(33) })
    );
}

#[test]
fn endorsement_field_bounds() {
    let f = Fixture::new(3);
    let proposal = ObjectId([5; 32]);
    let cases: Cases<pb::Endorsement> = vec![
        ("comment", Box::new(|e| e.comment = "c".repeat(MAX_COMMENT_BYTES + 1))),
        ("comment", Box::new(|e| e.comment = "bell\u{7}".into())),
        ("stance", Box::new(|e| e.stance = 0)),
        ("stance", Box::new(|e| e.stance = 4)),
        ("stance", Box::new(|e| e.stance = -1)),
        ("proposal", Box::new(|e| e.proposal = vec![1; 16])),
        ("coalition", Box::new(|e| e.coalition = vec![1; 33])),
        ("endorsement created_at_ms", Box::new(|e| e.created_at_ms = 0)),
    ];
    for (field, mutate) in cases {
        let mut en = endorsement_pb(&f, 1, proposal);
        mutate(&mut en);
        let e = rejected(Endorsement::from_body(&en.encode_to_vec()));
        assert_eq!(invalid_field(&e), field, "{e}");
        assert_eq!(validate(&f.coalition, signed(Kind::Endorsement, &en, &f.keys[1]).bytes(), NOW), Err(e));
    }
    let mut en = endorsement_pb(&f, 1, proposal);
    en.comment = "c".repeat(MAX_COMMENT_BYTES);
    assert!(validate(&f.coalition, signed(Kind::Endorsement, &en, &f.keys[1]).bytes(), NOW).is_ok());
    let mut en = endorsement_pb(&f, 1, proposal);
    en.trust = vec![0; 3];
    assert_eq!(
        Endorsement::from_body(&en.encode_to_vec()),
        Err(Rejection::BadKey { field: "trust", error: KeyError::Length(3) })
    );
}

#[test]
fn bodies_must_be_canonical() {
    let f = Fixture::new(3);
    let mut body = proposal_pb(&f, 0).encode_to_vec();
    body.extend_from_slice(&[0x78, 0x01]); // field 15 (reserved)
    let nc = Rejection::NonCanonical { what: "proposal body" };
    assert_eq!(Proposal::from_body(&body), Err(nc.clone()));
    let env = Envelope::sign(Kind::Proposal, body, &[&f.keys[0]]);
    assert_eq!(validate(&f.coalition, env.bytes(), NOW), Err(nc));

    let mut en = endorsement_pb(&f, 0, ObjectId([1; 32])).encode_to_vec();
    en.extend_from_slice(&[0x78, 0x80, 0x00]); // field 15 (reserved), non-minimal zero
    let nc = Rejection::NonCanonical { what: "endorsement body" };
    assert_eq!(Endorsement::from_body(&en), Err(nc.clone()));
    let env = Envelope::sign(Kind::Endorsement, en, &[&f.keys[0]]);
    assert_eq!(validate(&f.coalition, env.bytes(), NOW), Err(nc));

    for bytes in [&[0xff, 0xff][..], &[0x0a, 0x40, 1][..]] {
        assert!(matches!(Proposal::from_body(bytes), Err(Rejection::Malformed { what: "proposal body", .. })));
        assert!(matches!(Endorsement::from_body(bytes), Err(Rejection::Malformed { what: "endorsement body", .. })));
    }
}

#[test]
fn verdicts_are_reject_except_for_the_three_deferrable_reasons() {
    let ignore = [
        Rejection::UnknownKind(9),
        Rejection::UnknownRoster(ObjectId([0; 32])),
        Rejection::FromTheFuture { created_at_ms: 2, now_ms: 1 },
    ];
    for r in ignore {
        assert_eq!(r.verdict(), Verdict::Ignore, "{r}");
    }
    let reject = [
        Rejection::TooLarge { what: "x", size: 2, limit: 1 },
        Rejection::Malformed { what: "x", detail: String::new() },
        Rejection::NonCanonical { what: "x" },
        Rejection::SignatureCount { kind: Kind::Proposal, expected: 1, found: 2 },
        Rejection::SignaturesNotSorted { index: 1 },
        Rejection::SignatureLength { index: 0, len: 1 },
        Rejection::BadKey { field: "x", error: KeyError::Length(1) },
        Rejection::BadSignature { signer: String::new() },
        Rejection::InvalidField { field: "x", reason: String::new() },
        Rejection::WrongCoalition { expected: ObjectId([0; 32]), found: ObjectId([1; 32]) },
        Rejection::NotAMember { key: String::new() },
        Rejection::SignerMismatch { field: "x", signer: String::new(), named: String::new() },
        Rejection::ForeignGenesis(ObjectId([0; 32])),
    ];
    for r in reject {
        assert_eq!(r.verdict(), Verdict::Reject, "{r}");
    }
}

// ---------------------------------------------------------------- certificates

struct CertParts {
    version: u32,
    genesis: Option<pb::Envelope>,
    proposal: Option<pb::Envelope>,
    endorsements: Vec<pb::Envelope>,
}

impl CertParts {
    /// A valid certificate of `f`: proposal by member 0, endorsed by members
    /// 0..n in trust order.
    fn new(f: &Fixture, proposal: &Envelope, n: usize) -> Self {
        CertParts {
            version: 1,
            genesis: Some(proto(f.coalition.genesis_envelope())),
            proposal: Some(proto(proposal)),
            endorsements: (0..n).map(|i| proto(&f.endorsement(i, proposal.id(), Stance::Endorse, 2))).collect(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        pb::Certificate {
            version: self.version,
            genesis: self.genesis.clone(),
            proposal: self.proposal.clone(),
            endorsements: self.endorsements.clone(),
            chain: vec![],
            dissent: vec![],
            seal: None,
        }
        .encode_to_vec()
    }

    fn verify(&self) -> Result<chorus_core::VerifiedAdoption, CertificateError> {
        let bytes = self.bytes();
        let one = certificate::verify_with_threads(&bytes, None, 1);
        assert_eq!(one, certificate::verify_with_threads(&bytes, None, 2), "verdict must not depend on threads");
        one
    }
}

fn five() -> (Fixture, Envelope) {
    let f = Fixture::new(5);
    let p = f.proposal(0, "Certified", 1, Some(T0 + 1000));
    (f, p)
}

#[test]
fn a_valid_certificate_verifies() {
    let (f, p) = five();
    let pos = CertParts::new(&f, &p, 3).verify().unwrap();
    assert_eq!(pos.proposal_id, p.id());
    assert_eq!(pos.coalition, f.id());
    assert_eq!((pos.members, pos.required, pos.endorsers.len()), (5, 3, 3));
}

#[test]
fn empty_oversized_and_garbage_certificates() {
    assert_eq!(certificate::verify(&[], None), Err(CertificateError::Empty));
    let big = vec![0u8; MAX_CERTIFICATE_BYTES + 1];
    assert_eq!(
        certificate::verify(&big, None),
        Err(CertificateError::TooLarge { size: MAX_CERTIFICATE_BYTES + 1, limit: MAX_CERTIFICATE_BYTES })
    );
    assert!(matches!(certificate::verify(&[0xff; 100], None), Err(CertificateError::Malformed(_))));
    // Pseudo-random bytes (xorshift) never verify, and never panic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [1usize, 2, 7, 64, 1000, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(certificate::verify(&bytes, None).is_err());
    }
}

#[test]
fn truncated_certificates_are_malformed() {
    let (f, p) = five();
    let bytes = CertParts::new(&f, &p, 3).bytes();
    assert!(matches!(certificate::verify(&bytes[..bytes.len() - 1], None), Err(CertificateError::Malformed(_))));
    assert!(matches!(certificate::verify(&bytes[..bytes.len() / 2], None), Err(CertificateError::Malformed(_))));
    for cut in (1..bytes.len()).step_by(37) {
        assert!(certificate::verify(&bytes[..cut], None).is_err(), "cut at {cut}");
    }
}

#[test]
fn non_canonical_certificate_is_refused() {
    let (f, p) = five();
    let mut bytes = CertParts::new(&f, &p, 3).bytes();
    bytes.extend_from_slice(&[0x78, 0x01]); // field 15 (reserved)
    assert_eq!(certificate::verify(&bytes, None), Err(CertificateError::NonCanonical));
}

#[test]
fn unknown_versions_are_refused() {
    let (f, p) = five();
    for v in [0, 2, u32::MAX] {
        let mut c = CertParts::new(&f, &p, 3);
        c.version = v;
        assert_eq!(c.verify(), Err(CertificateError::UnsupportedVersion(v)));
    }
}

#[test]
fn missing_parts_are_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 3);
    c.genesis = None;
    assert_eq!(c.verify(), Err(CertificateError::Missing("genesis")));
    let mut c = CertParts::new(&f, &p, 3);
    c.proposal = None;
    assert_eq!(c.verify(), Err(CertificateError::Missing("proposal")));
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements.clear();
    assert_eq!(
        c.verify(),
        Err(CertificateError::BelowThreshold { rule: chorus_core::RuleKind::Positions, have: 0, need: 3, members: 5 })
    );
}

#[test]
fn wrong_coalition_is_named() {
    let (f, p) = five();
    let other = Fixture::new(2);
    let bytes = CertParts::new(&f, &p, 3).bytes();
    assert_eq!(
        certificate::verify(&bytes, Some(other.id())),
        Err(CertificateError::WrongCoalition { expected: other.id(), found: f.id() })
    );
    assert!(certificate::verify(&bytes, Some(f.id())).is_ok());
}

#[test]
fn bad_genesis_is_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 3);
    c.genesis.as_mut().unwrap().signatures[2].signature[7] ^= 1;
    assert_eq!(
        c.verify(),
        Err(CertificateError::Genesis(Rejection::BadSignature { signer: f.keys[2].public().to_hex() }))
    );
    let mut c = CertParts::new(&f, &p, 3);
    c.genesis.as_mut().unwrap().signatures.pop();
    assert_eq!(
        c.verify(),
        Err(CertificateError::Genesis(Rejection::SignatureCount { kind: Kind::Genesis, expected: 5, found: 4 }))
    );
    // The proposal where the genesis should be.
    let mut c = CertParts::new(&f, &p, 3);
    c.genesis = c.proposal.clone();
    assert!(matches!(c.verify(), Err(CertificateError::Genesis(Rejection::InvalidField { field: "kind", .. }))));
}

#[test]
fn bad_proposal_is_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 3);
    c.proposal.as_mut().unwrap().signatures[0].signature[0] ^= 1;
    assert_eq!(
        c.verify(),
        Err(CertificateError::Proposal(Rejection::BadSignature { signer: f.keys[0].public().to_hex() }))
    );
    // A proposal of another coalition.
    let other = Fixture::new(2);
    let foreign = other.proposal(0, "Elsewhere", 1, None);
    let mut c = CertParts::new(&f, &p, 3);
    c.proposal = Some(proto(&foreign));
    assert_eq!(
        c.verify(),
        Err(CertificateError::Proposal(Rejection::WrongCoalition { expected: f.id(), found: other.id() }))
    );
    // An endorsement where the proposal should be.
    let mut c = CertParts::new(&f, &p, 3);
    c.proposal = Some(c.endorsements[0].clone());
    assert!(matches!(c.verify(), Err(CertificateError::Proposal(Rejection::InvalidField { field: "kind", .. }))));
    // A bad founder signature is reported before a bad proposal.
    let mut c = CertParts::new(&f, &p, 3);
    c.proposal = Some(proto(&foreign));
    c.genesis.as_mut().unwrap().signatures[4].signature[7] ^= 1;
    assert_eq!(
        c.verify(),
        Err(CertificateError::Genesis(Rejection::BadSignature { signer: f.keys[4].public().to_hex() }))
    );
}

#[test]
fn bad_endorsement_signature_names_its_index() {
    let (f, p) = five();
    for i in 0..4 {
        let mut c = CertParts::new(&f, &p, 4);
        c.endorsements[i].signatures[0].signature[63] ^= 0x01;
        assert_eq!(
            c.verify(),
            Err(CertificateError::BadSignature { index: i, trust: f.keys[i].public().to_hex() }),
            "index {i}"
        );
    }
    // Two bad: the first is reported.
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[3].signatures[0].signature[1] ^= 1;
    c.endorsements[1].signatures[0].signature[1] ^= 1;
    assert!(matches!(c.verify(), Err(CertificateError::BadSignature { index: 1, .. })));
}

#[test]
fn non_member_endorsement_is_named() {
    let (f, p) = five();
    let outsider = Keypair::from_seed(&[0xff; 32]);
    let e = Endorsement {
        coalition: f.id(),
        proposal: p.id(),
        trust: outsider.public(),
        created_at_ms: T0 + 2,
        stance: Stance::Endorse,
        comment: None,
        delegation: None,
    };
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[1] = proto(&Envelope::sign(Kind::Endorsement, e.to_body(), &[&outsider]));
    // Nothing carried makes the outsider a member: the ingest of PROTOCOL.md
    // 9.2 step 16 leaves its endorsement waiting, which is a missing link.
    let o = outsider.public().to_hex();
    assert_eq!(
        c.verify(),
        Err(CertificateError::MissingLink(format!(
            "what makes {o} a key of trust {o} (an admission, key replacement, rotation or delegation)"
        )))
    );
}

#[test]
fn endorsement_of_another_coalition_is_named() {
    let (f, p) = five();
    let other = Fixture::new(2);
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[2] = proto(&other.endorsement(0, p.id(), Stance::Endorse, 2));
    assert_eq!(
        c.verify(),
        Err(CertificateError::Endorsement {
            index: 2,
            reason: Rejection::WrongCoalition { expected: f.id(), found: other.id() }
        })
    );
    // A proposal where an endorsement should be.
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[0] = c.proposal.clone().unwrap();
    assert!(matches!(
        c.verify(),
        Err(CertificateError::Endorsement { index: 0, reason: Rejection::InvalidField { field: "kind", .. } })
    ));
}

#[test]
fn duplicate_and_unsorted_trusts_are_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[2] = c.endorsements[1].clone();
    assert_eq!(c.verify(), Err(CertificateError::DuplicateTrust { index: 2, trust: f.keys[1].public().to_hex() }));
    // The same trust twice through two distinct endorsement objects.
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[2] = proto(&f.endorsement(1, p.id(), Stance::Endorse, 3));
    assert!(matches!(c.verify(), Err(CertificateError::DuplicateTrust { index: 2, .. })));
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements.swap(1, 3);
    assert_eq!(c.verify(), Err(CertificateError::NotSorted { index: 2 }));
}

#[test]
fn endorsement_of_another_proposal_is_named() {
    let (f, p) = five();
    let q = f.proposal(1, "Another", 1, None);
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[1] = proto(&f.endorsement(1, q.id(), Stance::Endorse, 2));
    assert_eq!(c.verify(), Err(CertificateError::WrongProposal { index: 1, expected: p.id(), found: q.id() }));
}

#[test]
fn objections_and_abstentions_are_not_endorsements() {
    let (f, p) = five();
    for (stance, name) in [(Stance::Object, "object"), (Stance::Abstain, "abstain")] {
        let mut c = CertParts::new(&f, &p, 3);
        c.endorsements[2] = proto(&f.endorsement(2, p.id(), stance, 2));
        assert_eq!(c.verify(), Err(CertificateError::NotAnEndorsement { index: 2, stance: name }));
    }
}

#[test]
fn endorsements_after_closing_are_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[0] = proto(&f.endorsement(0, p.id(), Stance::Endorse, 1001));
    assert_eq!(
        c.verify(),
        Err(CertificateError::AfterClosing { index: 0, created_at_ms: T0 + 1001, closes_at_ms: T0 + 1000 })
    );
    // Exactly at closing counts.
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[0] = proto(&f.endorsement(0, p.id(), Stance::Endorse, 1000));
    assert!(c.verify().is_ok());
}

#[test]
fn too_few_endorsements_are_below_threshold() {
    let (f, p) = five();
    assert_eq!(
        CertParts::new(&f, &p, 2).verify(),
        Err(CertificateError::BelowThreshold { rule: chorus_core::RuleKind::Positions, have: 2, need: 3, members: 5 })
    );
    assert!(CertParts::new(&f, &p, 5).verify().is_ok());
}

#[test]
fn every_structural_fault_is_reported_before_any_bad_signature() {
    // PROTOCOL.md 9.2: the form of everything carried (steps 11-14) comes
    // before the signatures (step 15), whatever their order.
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[0].signatures[0].signature[9] ^= 1;
    c.endorsements[3] = c.endorsements[2].clone();
    assert!(matches!(c.verify(), Err(CertificateError::DuplicateTrust { index: 3, .. })));
    // Without the structural fault, the bad signature is reported.
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[0].signatures[0].signature[9] ^= 1;
    assert!(matches!(c.verify(), Err(CertificateError::BadSignature { index: 0, .. })));
    let mut c = CertParts::new(&f, &p, 4);
    c.endorsements[3].signatures[0].signature[9] ^= 1;
    c.endorsements[1] = c.endorsements[0].clone();
    assert!(matches!(c.verify(), Err(CertificateError::DuplicateTrust { index: 1, .. })));
}

#[test]
fn oversized_nested_envelopes_are_named() {
    let (f, p) = five();
    let mut c = CertParts::new(&f, &p, 3);
    c.endorsements[1].body.extend(std::iter::repeat_n(b'x', MAX_ENVELOPE_BYTES));
    assert!(matches!(c.verify(), Err(CertificateError::Endorsement { index: 1, reason: Rejection::TooLarge { .. } })));
}

#[test]
fn every_key_error_is_named() {
    // y = 2 has no x on the curve: (y^2 - 1) / (d y^2 + 1) is not a square.
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    assert_eq!(chorus_core::PublicKey::from_bytes(&off_curve), Err(KeyError::NotOnCurve(hex::encode(off_curve))));
    let mut g = genesis_pb(&keys(1));
    g.founders[0].trust_key = off_curve.to_vec();
    assert_eq!(
        Genesis::from_body(&g.encode_to_vec()),
        Err(Rejection::BadKey { field: "member trust key", error: KeyError::NotOnCurve(hex::encode(off_curve)) })
    );
    assert_eq!("zz".parse::<chorus_core::PublicKey>(), Err(KeyError::Hex));
    assert_eq!(chorus_core::PublicKey::from_bytes(&[]), Err(KeyError::Length(0)));
}

#[test]
fn forgeries_are_rejected_even_when_dated_ahead_or_on_an_unknown_roster() {
    // An Ignore verdict is only given to objects whose signature verifies;
    // otherwise a peer could label forgeries that way and never be penalised.
    let f = Fixture::new(3);
    let ahead = f.proposal(0, "ahead", MAX_CLOCK_SKEW_MS + 1, None);
    let mut p = proposal_pb(&f, 0);
    p.roster_heads = vec![vec![9; 32]];
    p.roster = chorus_core::version_id(&f.id(), &[ObjectId([9; 32])]).0.to_vec();
    let unknown = signed(Kind::Proposal, &p, &f.keys[0]);
    let e_ahead = f.endorsement(1, ahead.id(), Stance::Endorse, MAX_CLOCK_SKEW_MS + 1);
    for env in [ahead, unknown, e_ahead] {
        let mut msg = proto(&env);
        msg.signatures[0].signature[3] ^= 1;
        let e = rejected(validate(&f.coalition, &msg.encode_to_vec(), T0));
        assert!(matches!(e, Rejection::BadSignature { .. }), "{e:?}");
        assert_eq!(e.verdict(), Verdict::Reject);
    }
}

#[test]
fn genesis_with_more_signatures_than_members_allowed_is_refused() {
    let k = Keypair::from_seed(&[1; 32]);
    let sig = proto(&Envelope::sign(Kind::Genesis, vec![1], &[&k])).signatures[0].clone();
    let signatures = (0..=MAX_MEMBERS as u32)
        .map(|i| {
            let mut s = sig.clone();
            s.signer[..4].copy_from_slice(&i.to_be_bytes());
            s
        })
        .collect();
    let msg = pb::Envelope { kind: Kind::Genesis.wire(), body: vec![1], signatures };
    assert_eq!(
        Envelope::decode(&msg.encode_to_vec()),
        Err(Rejection::SignatureCount { kind: Kind::Genesis, expected: MAX_MEMBERS, found: MAX_MEMBERS + 1 })
    );
}

#[test]
fn certificate_proposal_on_an_unknown_roster_is_named() {
    let (f, _) = five();
    let mut p = proposal_pb(&f, 0);
    let version = chorus_core::version_id(&f.id(), &[ObjectId([9; 32])]);
    p.roster_heads = vec![vec![9; 32]];
    p.roster = version.0.to_vec();
    let unknown = signed(Kind::Proposal, &p, &f.keys[0]);
    let c = CertParts::new(&f, &unknown, 3);
    // A proposal under a later roster version needs its proof chain
    // (PROTOCOL.md 12.9); the head it names is missing.
    assert_eq!(c.verify(), Err(CertificateError::MissingLink(format!("governance proposal {}", ObjectId([9; 32])))));
}
