//! Objects of the reserved kinds (PROTOCOL.md 3.4): admitted as opaque
//! objects when their header names this coalition, their time passes the
//! clock rule and a key of the coalition signed them; refused with the
//! named error otherwise; never changing what the ledger derives; never
//! carried by a certificate.

use chorus_core::ingest::NO_CLOCK;
use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, Action, Admission, CertificateError, Envelope, Ingest, Keypair, Kind, Ledger, Member, Object,
    ObjectId, OpaqueHeader, RawSignature, Rejection, Replay, Stance, Verdict,
};
use chorus_proto::v1 as pb;
use prost::Message;

const NOW: u64 = T0 + 1_000_000;
const BALLOT: i32 = 11;

/// A coalition of three with an admitted trust X, a delegate of member 1
/// and a key member 2 rotated to, a position and its stances.
struct Scene {
    f: Fixture,
    x: Keypair,
    delegate: Keypair,
    rotated: Keypair,
    history: Vec<Envelope>,
}

fn scene() -> Scene {
    let f = Fixture::new(3);
    let x = Keypair::from_seed(&[1; 32]);
    let delegate = Keypair::from_seed(&[2; 32]);
    let rotated = Keypair::from_seed(&[3; 32]);
    let t = |i: usize| f.keys[i].public();
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let admit = f.proposal_under(&f.keys[0], t(0), "Admit X", &[], Some(Action::Admit(member)), 1);
    let mut history = vec![admit.clone()];
    history.extend((0..3).map(|i| f.endorsement(i, admit.id(), Stance::Endorse, 2)));
    history.push(f.delegation(&f.keys[1], t(1), delegate.public(), None, 3));
    history.push(f.rotation(&f.keys[2], t(2), rotated.public(), vec![], 4));
    let p = f.proposal(0, "A position", 5, None);
    history.push(p.clone());
    history.push(f.endorsement(0, p.id(), Stance::Endorse, 6));
    history.push(f.stance_by(&x, x.public(), p.id(), Stance::Endorse, 7, None));
    Scene { f, x, delegate, rotated, history }
}

fn ledger_of(f: &Fixture, objects: &[&Envelope]) -> Ledger {
    let mut ledger = Ledger::new(f.coalition.clone());
    for o in objects {
        let v = ledger.validate(o.bytes(), NOW).unwrap_or_else(|e| panic!("{e}"));
        ledger.apply(&v);
    }
    ledger
}

/// Everything the ledger derives except the set of ids held.
fn derived(ledger: &Ledger) -> String {
    let states: Vec<_> = ledger.proposals().iter().map(|(id, _)| ledger.proposal_state(id)).collect();
    let head = ledger.head_version();
    let roster: Vec<_> = ledger.head_roster().map(|(r, _)| r.members().cloned().collect()).unwrap_or_default();
    let governance: Vec<ObjectId> = ledger.adopted_governance().copied().collect();
    format!("{states:?} {:?} {head:?} {roster:?} {governance:?}", ledger.positions())
}

#[test]
fn an_opaque_object_from_any_key_of_the_coalition_is_admitted_and_changes_nothing_derived() {
    let s = scene();
    let before = ledger_of(&s.f, &s.history.iter().collect::<Vec<_>>());
    let signers = [&s.f.keys[0], &s.x, &s.delegate, &s.rotated];
    let opaque: Vec<Envelope> = signers
        .iter()
        .enumerate()
        .map(|(i, k)| s.f.opaque([4, 11, 12, 31][i], k, 10 + i as u64, format!("\x1a\x05tail{i}").as_bytes()))
        .collect();
    let mut after = before.clone();
    for (i, o) in opaque.iter().enumerate() {
        let v = after.validate(o.bytes(), NOW).unwrap_or_else(|e| panic!("{}: {e}", o.kind()));
        assert_eq!(v.kind(), o.kind());
        let Object::Opaque(h) = v.object() else { panic!("an opaque object") };
        assert_eq!((h.coalition, h.created_at_ms), (s.f.id(), T0 + 10 + i as u64));
        assert_eq!((v.coalition(), v.created_at_ms()), (s.f.id(), T0 + 10 + i as u64));
        after.apply(&v);
        assert!(after.contains(&o.id()));
    }
    assert_eq!(after.object_count(), before.object_count() + opaque.len());
    assert_eq!(derived(&after), derived(&before));
    assert_ne!(after.digest(), before.digest(), "the digest covers every id held");
    // The same object again, even re-signed, is the same object.
    let copy = Envelope::sign(opaque[0].kind(), opaque[0].body().to_vec(), &[&s.f.keys[0]]);
    let mut ingest = Ingest::new(s.f.coalition.clone(), 0);
    let all: Vec<_> = s.history.iter().chain(&opaque).chain([&copy]).map(|e| check(&s.f, e)).collect();
    let out = ingest.admit(all, NOW);
    assert_eq!(out.admissions.last(), Some(&Admission::Duplicate { id: opaque[0].id() }));
    assert_eq!(derived(ingest.ledger()), derived(&before));
}

fn check(f: &Fixture, env: &Envelope) -> Result<chorus_core::SignatureChecked, Rejection> {
    Ledger::check_signature(&f.coalition, env.bytes())
}

fn refusal(ledger: &Ledger, env: &Envelope) -> Rejection {
    ledger.validate(env.bytes(), NOW).expect_err("refused")
}

#[test]
fn each_broken_rule_is_refused_with_its_error() {
    let s = scene();
    let ledger = ledger_of(&s.f, &s.history.iter().collect::<Vec<_>>());
    let k = &s.f.keys[0];
    let header = |coalition: ObjectId, at: u64| OpaqueHeader { coalition, created_at_ms: at }.to_bytes();
    let ballot = Kind::from_wire(BALLOT).unwrap();

    let other = Envelope::sign(ballot, header(ObjectId([9; 32]), T0), &[k]);
    assert!(matches!(refusal(&ledger, &other), Rejection::WrongCoalition { .. }));

    let stranger = Keypair::from_seed(&[4; 32]);
    let e = refusal(&ledger, &s.f.opaque(BALLOT, &stranger, 1, b""));
    assert_eq!(e, Rejection::UnknownSigner { key: stranger.public().to_hex(), trust: String::new() });
    assert_eq!(e.verdict(), Verdict::Ignore);
    assert!(e.awaits_objects());
    assert_eq!(e.to_string(), format!("{} is not a known key of any trust of this coalition", stranger.public()));

    let good = s.f.opaque(BALLOT, k, 1, b"tail");
    let forged = Envelope::assemble(
        ballot,
        good.body().to_vec(),
        vec![RawSignature {
            signer: *k.public().as_bytes(),
            signature: s.f.opaque(BALLOT, k, 2, b"tail").signatures()[0].signature,
        }],
    );
    assert!(matches!(refusal(&ledger, &forged), Rejection::BadSignature { .. }));
    // A forgery is rejected even when it claims a key nobody knows.
    let forged = Envelope::assemble(
        ballot,
        good.body().to_vec(),
        vec![RawSignature { signer: *stranger.public().as_bytes(), signature: good.signatures()[0].signature }],
    );
    assert!(matches!(refusal(&ledger, &forged), Rejection::BadSignature { .. }));
    let weak = Envelope::assemble(
        ballot,
        good.body().to_vec(),
        vec![RawSignature { signer: [0; 32], signature: good.signatures()[0].signature }],
    );
    assert!(matches!(refusal(&ledger, &weak), Rejection::BadKey { field: "envelope signer", .. }));

    let big = s.f.opaque(BALLOT, k, 1, &vec![b'x'; chorus_core::limits::MAX_ENVELOPE_BYTES]);
    assert!(matches!(refusal(&ledger, &big), Rejection::TooLarge { .. }));

    let two = Envelope::sign(ballot, good.body().to_vec(), &[k, &s.f.keys[1]]);
    assert!(matches!(refusal(&ledger, &two), Rejection::SignatureCount { found: 2, expected: 1, .. }));

    let no_header = Envelope::sign(ballot, b"\x1a\x04tail".to_vec(), &[k]);
    assert!(matches!(refusal(&ledger, &no_header), Rejection::InvalidField { field: "header coalition", .. }));
    let no_time = Envelope::sign(ballot, header(s.f.id(), T0)[..34].to_vec(), &[k]);
    assert!(matches!(refusal(&ledger, &no_time), Rejection::InvalidField { field: "header created_at_ms", .. }));
    let mut padded = header(s.f.id(), 1)[..35].to_vec();
    padded.extend_from_slice(&[0x81, 0x00]);
    let padded = Envelope::sign(ballot, padded, &[k]);
    assert_eq!(refusal(&ledger, &padded), Rejection::NonCanonical { what: "object header" });

    let future = s.f.opaque(BALLOT, k, NOW - T0 + 300_001, b"");
    assert!(matches!(refusal(&ledger, &future), Rejection::FromTheFuture { .. }));
    assert!(ledger.validate(future.bytes(), NOW + 1).is_ok(), "admitted once the clock catches up");
    assert!(ledger.validate(s.f.opaque(BALLOT, k, NOW - T0 + 300_000, b"").bytes(), NOW).is_ok());

    for n in [0, 32, 1000] {
        let mut msg = pb::Envelope::decode(good.bytes()).unwrap();
        msg.kind = n;
        assert_eq!(ledger.validate(&msg.encode_to_vec(), NOW), Err(Rejection::UnknownKind(n)));
    }
}

#[test]
fn an_opaque_object_waits_for_what_makes_its_signer_known() {
    let s = scene();
    let by_x = s.f.opaque(BALLOT, &s.x, 20, b"by x");
    let by_delegate = s.f.opaque(11, &s.delegate, 21, b"");
    let mut ingest = Ingest::new(s.f.coalition.clone(), 16);
    let first = ingest.admit([check(&s.f, &by_x), check(&s.f, &by_delegate)], NOW);
    assert!(first.admissions.iter().all(|a| matches!(a, Admission::Refused(Rejection::UnknownSigner { .. }))));
    assert_eq!(ingest.waiting().len(), 2);
    ingest.admit(s.history.iter().map(|e| check(&s.f, e)), NOW);
    assert!(ingest.ledger().contains(&by_x.id()) && ingest.ledger().contains(&by_delegate.id()));
    // A replay without a clock, in any order, admits the same set.
    let mut reversed: Vec<&Envelope> = s.history.iter().chain([&by_x, &by_delegate]).collect();
    reversed.reverse();
    let mut replayed = Ingest::new(s.f.coalition.clone(), 0);
    let mut replay = Replay::new(NO_CLOCK);
    let out = replayed.replay(&mut replay, reversed.iter().map(|e| (e.id(), check(&s.f, e))));
    assert!(out.refused.is_empty());
    assert!(replay.finish().is_empty());
    assert_eq!(replayed.ledger().digest(), ingest.ledger().digest());
}

#[test]
fn a_certificate_carrying_an_opaque_object_is_refused_as_before() {
    let f = Fixture::new(3);
    let (cert, _) = f.certificate(2);
    let opaque = f.opaque(BALLOT, &f.keys[0], 3, b"");
    let mut c = pb::Certificate::decode(cert.as_slice()).unwrap();
    c.chain.push(pb::Envelope::decode(opaque.bytes()).unwrap());
    let e = certificate::verify(&c.encode_to_vec(), Some(f.id())).unwrap_err();
    assert_eq!(e, CertificateError::Chain { index: 0, reason: Rejection::UnknownKind(BALLOT) });
    let mut c = pb::Certificate::decode(cert.as_slice()).unwrap();
    c.endorsements[0] = pb::Envelope::decode(opaque.bytes()).unwrap();
    let e = certificate::verify(&c.encode_to_vec(), Some(f.id())).unwrap_err();
    assert_eq!(e, CertificateError::Endorsement { index: 0, reason: Rejection::UnknownKind(BALLOT) });
}

#[test]
fn keys_of_the_coalition_are_exactly_the_known_keys_and_delegates() {
    let s = scene();
    let mut ledger = ledger_of(&s.f, &s.history.iter().collect::<Vec<_>>());
    let t = |i: usize| s.f.keys[i].public();
    let replacement = Keypair::from_seed(&[5; 32]);
    let stranger = Keypair::from_seed(&[6; 32]);
    let strangers_new = Keypair::from_seed(&[8; 32]);
    for k in [&s.f.keys[0], &s.f.keys[2], &s.x, &s.delegate, &s.rotated] {
        assert!(ledger.is_coalition_key(&k.public()), "{}", k.public());
    }
    for k in [&replacement, &stranger, &strangers_new] {
        assert!(!ledger.is_coalition_key(&k.public()));
    }
    // A held replacement of a member's key (adopted or not) names a key of
    // the coalition; one of a trust nobody admitted names none.
    let replace = |trust, new_key, offset| {
        let action = Action::ReplaceKey { trust, new_key };
        s.f.proposal_under(&s.f.keys[0], t(0), "Replace", &[], Some(action), offset)
    };
    for env in [replace(t(1), replacement.public(), 30), replace(stranger.public(), strangers_new.public(), 31)] {
        let v = ledger.validate(env.bytes(), NOW).unwrap();
        ledger.apply(&v);
    }
    assert!(ledger.is_coalition_key(&replacement.public()));
    assert!(!ledger.is_coalition_key(&strangers_new.public()));
    assert!(!ledger.is_coalition_key(&stranger.public()));
    // Revoking a delegation takes power from stances, not the key from the
    // coalition: the set only grows.
    let delegation = &s.history[4];
    assert_eq!(delegation.kind(), Kind::Delegation);
    let revocation = s.f.revocation(&s.f.keys[1], t(1), delegation.id(), vec![], 32);
    let v = ledger.validate(revocation.bytes(), NOW).unwrap();
    ledger.apply(&v);
    assert!(ledger.is_coalition_key(&s.delegate.public()));
    assert!(ledger.validate(s.f.opaque(BALLOT, &s.delegate, 33, b"").bytes(), NOW).is_ok());
}
