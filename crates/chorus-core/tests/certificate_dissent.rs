//! Dissent and seals in certificates (PROTOCOL.md 9.2, steps 13a, 13b, 14,
//! 15, 16, 19, 19a and 22): a certificate carries every counted objection
//! and abstention, and a member's seal over every stance it carries, so a
//! stance removed or added afterwards is detected; a stance outside the
//! voting window the carried objects give the proposal fails; and the parts
//! a ledger chooses, and the sealed bytes, do not depend on the order its
//! objects arrived in.

use std::collections::BTreeMap;

use chorus_core::certificate::{self, assemble_full, seal_body, Seal};
use chorus_core::testkit::{member_key, Fixture, T0};
use chorus_core::{
    CertificateError, Delegation, Endorsement, Envelope, Keypair, Kind, Ledger, ObjectId, PublicKey, SealGap, Stance,
    Stances, Untimely, VerifiedAdoption, SCOPE_NODE, SCOPE_STANCES,
};
use chorus_proto::v1 as pb;
use proptest::prelude::*;
use prost::Message;

const NOW: u64 = T0 + 10_000_000;

/// A stance of member `member` with a comment.
fn stance(f: &Fixture, member: usize, p: ObjectId, stance: Stance, offset_ms: u64, comment: Option<&str>) -> Envelope {
    let key = &f.keys[member];
    let e = Endorsement {
        coalition: f.id(),
        proposal: p,
        trust: key.public(),
        created_at_ms: T0 + offset_ms,
        stance,
        comment: comment.map(str::to_owned),
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
}

/// A delegation of member `member`'s trust to `delegate` with `scope`.
fn delegation(f: &Fixture, member: usize, delegate: PublicKey, scope: u32, offset_ms: u64) -> Envelope {
    let d = Delegation {
        coalition: f.id(),
        trust: f.keys[member].public(),
        delegate,
        name: "Node".into(),
        role: "Node of the trust".into(),
        valid_from_ms: T0,
        valid_until_ms: None,
        scope,
        created_at_ms: T0 + offset_ms,
    };
    Envelope::sign(Kind::Delegation, d.to_body(), &[&f.keys[member]])
}

/// The ledger of `objects`, applied in their order, retrying those that
/// wait for others until nothing changes.
fn ledger_of(f: &Fixture, objects: &[&Envelope]) -> Ledger {
    let mut l = Ledger::new(f.coalition.clone());
    let mut pending: Vec<&Envelope> = objects.to_vec();
    loop {
        let before = pending.len();
        pending.retain(|e| match l.validate(e.bytes(), NOW) {
            Ok(v) => {
                l.apply(&v);
                false
            }
            Err(r) if r.awaits_objects() => true,
            Err(r) => panic!("{} refused: {r}", e.id()),
        });
        if pending.len() == before {
            break;
        }
    }
    assert!(pending.is_empty(), "objects still waiting");
    l
}

/// Who seals: the signing key, the trust, the delegation.
struct Sealer<'a> {
    key: &'a Keypair,
    trust: PublicKey,
    delegation: Option<ObjectId>,
}

/// The certificate a node holding `objects` exports for `p`: its ledger's
/// endorsements, dissent and chain, sealed by `sealer` (with what the seal
/// needs in the chain).
fn export(f: &Fixture, objects: &[&Envelope], p: &Envelope, sealer: Option<&Sealer<'_>>) -> Vec<u8> {
    let l = ledger_of(f, objects);
    let by_id: BTreeMap<ObjectId, &Envelope> = objects.iter().map(|e| (e.id(), *e)).collect();
    let get = |ids: Vec<ObjectId>| -> Vec<Envelope> { ids.iter().map(|i| by_id[i].clone()).collect() };
    let ends = l.certificate_endorsements(&p.id()).expect("adopted");
    let dissent = l.certificate_dissent(&p.id()).expect("adopted");
    let mut chain = l.certificate_chain(&p.id()).expect("a chain");
    let seal = sealer.map(|s| {
        chain.extend(l.seal_proof(&p.id(), &s.trust, &s.key.public(), s.delegation.as_ref()).expect("may seal"));
        let stances: Vec<ObjectId> = ends.iter().chain(&dissent).copied().collect();
        Seal::sign(seal_body(&f.id(), &p.id(), &s.trust, s.delegation.as_ref(), &stances), s.key)
    });
    assemble_full(f.coalition.genesis_envelope(), p, &get(ends), &get(dissent), &get(chain), seal)
}

fn verify(bytes: &[u8], f: &Fixture) -> Result<VerifiedAdoption, CertificateError> {
    let one = certificate::verify_with_threads(bytes, Some(f.id()), 1);
    assert_eq!(certificate::verify_with_threads(bytes, None, 2), one);
    one
}

/// Re-encodes `bytes` canonically after `change`.
fn edit(bytes: &[u8], change: impl FnOnce(&mut pb::Certificate)) -> Vec<u8> {
    let mut c = pb::Certificate::decode(bytes).expect("a certificate");
    change(&mut c);
    c.encode_to_vec()
}

const OBJECTION: &str = "Three years' notice is too short for small rural schools.";
const ABSTENTION: &str = "Our board meets after the vote closes.";

/// Five members (3 needed): 0, 1 and 2 endorse, 3 objects with a reason, 4
/// abstains with one.
struct Story {
    f: Fixture,
    p: Envelope,
    ends: Vec<Envelope>,
    objection: Envelope,
    abstention: Envelope,
}

impl Story {
    fn new() -> Story {
        let f = Fixture::new(5);
        let p = f.proposal(0, "Fair funding", 1, None);
        let ends = (0..3).map(|i| stance(&f, i, p.id(), Stance::Endorse, 2, None)).collect();
        let objection = stance(&f, 3, p.id(), Stance::Object, 3, Some(OBJECTION));
        let abstention = stance(&f, 4, p.id(), Stance::Abstain, 4, Some(ABSTENTION));
        Story { f, p, ends, objection, abstention }
    }

    fn objects(&self) -> Vec<&Envelope> {
        let mut o = vec![&self.p, &self.objection, &self.abstention];
        o.extend(&self.ends);
        o
    }

    fn sealed_by_0(&self) -> Vec<u8> {
        let key = &self.f.keys[0];
        export(&self.f, &self.objects(), &self.p, Some(&Sealer { key, trust: key.public(), delegation: None }))
    }
}

#[test]
fn a_sealed_certificate_reports_objectors_abstainers_and_its_seal() {
    let s = Story::new();
    let v = verify(&s.sealed_by_0(), &s.f).expect("valid");
    assert_eq!(v.endorsers.len(), 3);
    assert_eq!(v.objectors.len(), 1);
    let o = &v.objectors[0];
    assert_eq!((o.trust, o.name.as_str()), (s.f.keys[3].public(), "Trust 3"));
    assert_eq!((o.stance_id, o.created_at_ms, o.comment.as_deref()), (s.objection.id(), T0 + 3, Some(OBJECTION)));
    assert_eq!(v.abstainers.len(), 1);
    assert_eq!((v.abstainers[0].trust, v.abstainers[0].comment.as_deref()), (s.f.keys[4].public(), Some(ABSTENTION)));
    assert!(v.silent.is_empty());
    let seal = v.seal.as_ref().expect("sealed");
    assert_eq!(
        (seal.trust, seal.signer, seal.delegation, seal.stances),
        (s.f.keys[0].public(), s.f.keys[0].public(), None, 5)
    );
    assert_eq!(seal.name, "Trust 0");
    assert_eq!(v.dissent_note(), "dissent known to Trust 0's node");
    assert_eq!(v.window.opens_at_ms, Some(0));
    assert!(v.clone().require_seal().is_ok());
    // Sealing again with the same key gives the same bytes: no time, and
    // ed25519 is deterministic.
    assert_eq!(s.sealed_by_0(), s.sealed_by_0());
}

#[test]
fn a_member_with_no_stance_carried_is_silent() {
    let s = Story::new();
    let mut objects = s.objects();
    objects.retain(|e| e.id() != s.abstention.id());
    let key = &s.f.keys[1];
    let bytes = export(&s.f, &objects, &s.p, Some(&Sealer { key, trust: key.public(), delegation: None }));
    let v = verify(&bytes, &s.f).expect("valid");
    assert_eq!(v.silent, vec![(s.f.keys[4].public(), "Trust 4".to_owned())]);
    assert!(v.abstainers.is_empty());
    assert_eq!(v.seal.map(|x| x.stances), Some(4));
}

#[test]
fn removing_a_dissent_entry_after_sealing_breaks_the_seal() {
    let s = Story::new();
    let bytes = edit(&s.sealed_by_0(), |c| {
        c.dissent.retain(|e| e.body != s.objection.body());
    });
    let err = verify(&bytes, &s.f).expect_err("a stance was removed");
    assert_eq!(err, CertificateError::SealMismatch(SealGap::Removed(s.objection.id())));
    assert_eq!(err.name(), "SealMismatch");
    assert_eq!(
        err.to_string(),
        format!(
            "the seal lists stance {}, which the certificate does not carry: a stance was removed after the certificate was sealed",
            s.objection.id()
        )
    );
}

#[test]
fn adding_a_dissent_entry_after_sealing_breaks_the_seal() {
    let s = Story::new();
    let mut objects = s.objects();
    objects.retain(|e| e.id() != s.abstention.id());
    let key = &s.f.keys[0];
    let sealed = export(&s.f, &objects, &s.p, Some(&Sealer { key, trust: key.public(), delegation: None }));
    let bytes = edit(&sealed, |c| {
        let nested = pb::Envelope::decode(s.abstention.bytes()).expect("an envelope");
        c.dissent.push(nested);
    });
    let err = verify(&bytes, &s.f).expect_err("a stance was added");
    assert_eq!(err, CertificateError::SealMismatch(SealGap::Added(s.abstention.id())));
    assert_eq!(
        err.to_string(),
        format!(
            "the certificate carries stance {}, which its seal does not list: it was added after sealing",
            s.abstention.id()
        )
    );
}

#[test]
fn without_its_seal_a_certificate_verifies_and_says_dissent_is_not_recorded() {
    let s = Story::new();
    let bytes = edit(&s.sealed_by_0(), |c| c.seal = None);
    let v = verify(&bytes, &s.f).expect("valid without a seal");
    assert_eq!(v.seal, None);
    assert_eq!(v.dissent_note(), "dissent not recorded: this certificate carries no seal");
    assert_eq!(v.objectors.len(), 1, "what is carried is still reported");
    assert_eq!(v.require_seal(), Err(CertificateError::Unsealed));
}

#[test]
fn a_seal_by_a_key_that_is_not_the_members_fails() {
    let s = Story::new();
    let outsider = member_key(99);
    let objects = s.objects();
    let l = ledger_of(&s.f, &objects);
    assert!(!l.may_seal(&s.p.id(), &s.f.keys[0].public(), &outsider.public(), None));
    let unsealed = export(&s.f, &objects, &s.p, None);
    let stances: Vec<ObjectId> = s.ends.iter().chain([&s.objection, &s.abstention]).map(Envelope::id).collect();
    for trust in [s.f.keys[0].public(), outsider.public()] {
        let seal = Seal::sign(seal_body(&s.f.id(), &s.p.id(), &trust, None, &stances), &outsider);
        let bytes = edit(&unsealed, |c| {
            c.seal = Some(pb::Seal::decode(seal_bytes(&seal).as_slice()).expect("a seal"));
        });
        let err = verify(&bytes, &s.f).expect_err("not the member's key");
        assert_eq!(
            err.to_string(),
            format!(
                "the seal is signed by {}, which is not a key of member trust {} nor the delegate of a node-scope delegation of it",
                outsider.public(),
                trust
            )
        );
        assert_eq!(err.name(), "SealUnauthorised");
    }
}

/// A seal's proto encoding, taken from a certificate that carries it.
fn seal_bytes(seal: &Seal) -> Vec<u8> {
    let f = Fixture::new(1);
    let p = f.proposal(0, "x", 1, None);
    let c = assemble_full(f.coalition.genesis_envelope(), &p, &[], &[], &[], Some(seal.clone()));
    pb::Certificate::decode(c.as_slice()).expect("decodes").seal.expect("a seal").encode_to_vec()
}

#[test]
fn a_seal_by_the_delegate_of_a_node_scope_delegation_verifies() {
    let s = Story::new();
    let node = member_key(200);
    let d = delegation(&s.f, 2, node.public(), SCOPE_NODE, 5);
    let mut objects = s.objects();
    objects.push(&d);
    let l = ledger_of(&s.f, &objects);
    let trust = s.f.keys[2].public();
    assert_eq!(l.seal_delegation(&s.p.id(), &trust, &node.public()), Some(d.id()));
    let sealer = Sealer { key: &node, trust, delegation: Some(d.id()) };
    let bytes = export(&s.f, &objects, &s.p, Some(&sealer));
    let v = verify(&bytes, &s.f).expect("valid");
    let seal = v.seal.expect("sealed");
    assert_eq!((seal.trust, seal.signer, seal.delegation), (trust, node.public(), Some(d.id())));

    // Without the delegation in the chain, the link is missing.
    let bytes = edit(&bytes, |c| c.chain.retain(|e| e.body != d.body()));
    assert_eq!(verify(&bytes, &s.f), Err(CertificateError::MissingLink(format!("delegation {}", d.id()))));
}

#[test]
fn a_delegation_of_stances_only_or_a_revoked_one_does_not_let_its_delegate_seal() {
    let s = Story::new();
    let node = member_key(200);
    let trust = s.f.keys[2].public();
    let stances_only = delegation(&s.f, 2, node.public(), SCOPE_STANCES, 5);
    let revoked = delegation(&s.f, 2, node.public(), SCOPE_NODE | SCOPE_STANCES, 6);
    let revocation = s.f.revocation(&s.f.keys[2], trust, revoked.id(), vec![], 7);
    let mut objects = s.objects();
    objects.extend([&stances_only, &revoked, &revocation]);
    let l = ledger_of(&s.f, &objects);
    assert_eq!(l.seal_delegation(&s.p.id(), &trust, &node.public()), None);
    let unsealed = export(&s.f, &objects, &s.p, None);
    let stance_ids: Vec<ObjectId> = s.ends.iter().chain([&s.objection, &s.abstention]).map(Envelope::id).collect();
    for d in [&stances_only, &revoked] {
        let seal = Seal::sign(seal_body(&s.f.id(), &s.p.id(), &trust, Some(&d.id()), &stance_ids), &node);
        let bytes = edit(&unsealed, |c| {
            c.seal = Some(pb::Seal::decode(seal_bytes(&seal).as_slice()).expect("a seal"));
            for extra in [&stances_only, &revoked, &revocation] {
                c.chain.push(pb::Envelope::decode(extra.bytes()).expect("an envelope"));
            }
            c.chain.sort_by_key(|e| ObjectId::compute(Kind::from_wire(e.kind).expect("a kind"), &e.body));
        });
        let err = verify(&bytes, &s.f).expect_err("may not seal");
        assert!(matches!(err, CertificateError::SealUnauthorised { .. }), "{err}");
    }
}

/// `unsealed` with a seal by `key` for `trust` over `stances`.
fn resealed(
    f: &Fixture,
    unsealed: &[u8],
    p: ObjectId,
    trust: PublicKey,
    key: &Keypair,
    stances: &[ObjectId],
) -> Vec<u8> {
    let seal = Seal::sign(seal_body(&f.id(), &p, &trust, None, stances), key);
    edit(unsealed, |c| c.seal = Some(pb::Seal::decode(seal_bytes(&seal).as_slice()).expect("a seal")))
}

/// The message step 22 gives when `signer` seals for `trust`.
fn unauthorised(signer: PublicKey, trust: PublicKey) -> CertificateError {
    CertificateError::SealUnauthorised { signer: signer.to_hex(), trust: trust.to_hex() }
}

#[test]
fn a_key_rotated_away_from_cannot_seal_and_the_key_rotated_to_can() {
    let f = Fixture::new(5);
    let trust = f.keys[2].public();
    let new = member_key(300);
    // Member 2 rotates to a new key, then endorses with it: the certificate
    // carries the rotation, so its ledger knows the old key is no longer
    // the trust's current one.
    let rotation = f.rotation(&f.keys[2], trust, new.public(), vec![], 1);
    let p = f.proposal(0, "Fair funding", 2, None);
    let mut ends: Vec<Envelope> = (0..2).map(|i| stance(&f, i, p.id(), Stance::Endorse, 3, None)).collect();
    ends.push(f.stance_by(&new, trust, p.id(), Stance::Endorse, 3, None));
    let objection = stance(&f, 3, p.id(), Stance::Object, 4, Some(OBJECTION));
    let mut objects = vec![&rotation, &p, &objection];
    objects.extend(&ends);
    let l = ledger_of(&f, &objects);
    assert!(!l.may_seal(&p.id(), &trust, &trust, None), "rotated away from");
    assert!(l.may_seal(&p.id(), &trust, &new.public(), None), "rotated to");
    assert_eq!(l.seal_proof(&p.id(), &trust, &new.public(), None), Some(vec![rotation.id()]));

    let sealed = export(&f, &objects, &p, Some(&Sealer { key: &new, trust, delegation: None }));
    let v = verify(&sealed, &f).expect("sealed by the current key");
    assert_eq!(v.seal.map(|s| (s.trust, s.signer)), Some((trust, new.public())));

    // The objection stripped and the certificate re-sealed with the key
    // rotated away from: refused.
    let stripped = edit(&sealed, |c| c.dissent.clear());
    let stances: Vec<ObjectId> = ends.iter().map(Envelope::id).collect();
    let bytes = resealed(&f, &stripped, p.id(), trust, &f.keys[2], &stances);
    assert_eq!(verify(&bytes, &f), Err(unauthorised(trust, trust)));
    // Re-sealed with the current key, it verifies: a member may seal what
    // its node holds, and the seal names who did.
    let bytes = resealed(&f, &stripped, p.id(), trust, &new, &stances);
    assert!(verify(&bytes, &f).is_ok());
}

#[test]
fn a_trust_id_whose_key_was_replaced_cannot_seal() {
    let f = Fixture::new(5);
    let trust = f.keys[2].public();
    let new = member_key(301);
    let g = f.proposal_under(
        &f.keys[0],
        f.keys[0].public(),
        "Replace a lost key",
        &[],
        Some(chorus_core::Action::ReplaceKey { trust, new_key: new.public() }),
        1,
    );
    let g_ends: Vec<Envelope> = (0..5).map(|i| stance(&f, i, g.id(), Stance::Endorse, 2, None)).collect();
    let p = f.proposal_under(&f.keys[0], f.keys[0].public(), "Fair funding", &[g.id()], None, 3);
    let mut ends: Vec<Envelope> = (0..2).map(|i| stance(&f, i, p.id(), Stance::Endorse, 4, None)).collect();
    ends.push(f.stance_by(&new, trust, p.id(), Stance::Endorse, 4, None));
    let objection = stance(&f, 3, p.id(), Stance::Object, 5, Some(OBJECTION));
    let mut objects = vec![&g, &p, &objection];
    objects.extend(&g_ends);
    objects.extend(&ends);
    let l = ledger_of(&f, &objects);
    assert!(l.is_adopted(&p.id()));
    assert!(!l.may_seal(&p.id(), &trust, &trust, None), "the trust id is no longer its root key");
    assert!(l.may_seal(&p.id(), &trust, &new.public(), None));

    let sealed = export(&f, &objects, &p, Some(&Sealer { key: &new, trust, delegation: None }));
    assert!(verify(&sealed, &f).is_ok());
    let stripped = edit(&sealed, |c| c.dissent.clear());
    let stances: Vec<ObjectId> = ends.iter().map(Envelope::id).collect();
    let bytes = resealed(&f, &stripped, p.id(), trust, &f.keys[2], &stances);
    assert_eq!(verify(&bytes, &f), Err(unauthorised(trust, trust)));
}

#[test]
fn a_node_scope_delegation_granted_by_a_key_rotated_away_from_does_not_let_its_delegate_seal() {
    let s = Story::new();
    let trust = s.f.keys[2].public();
    let node = member_key(200);
    let new = member_key(302);
    // Granted by the old key, which the rotation (signed after) does not
    // keep it: the delegation no longer speaks for the trust.
    let d = delegation(&s.f, 2, node.public(), SCOPE_NODE, 5);
    let rotation = s.f.rotation(&s.f.keys[2], trust, new.public(), vec![s.ends[2].id()], 6);
    let mut objects = s.objects();
    objects.extend([&d, &rotation]);
    let l = ledger_of(&s.f, &objects);
    assert!(!l.may_seal(&s.p.id(), &trust, &node.public(), Some(&d.id())));
    assert_eq!(l.seal_delegation(&s.p.id(), &trust, &node.public()), None);
    // Kept by the rotation, it still does.
    let kept = s.f.rotation(&s.f.keys[2], trust, new.public(), vec![s.ends[2].id(), d.id()], 6);
    let mut objects = s.objects();
    objects.extend([&d, &kept]);
    let l = ledger_of(&s.f, &objects);
    assert_eq!(l.seal_delegation(&s.p.id(), &trust, &node.public()), Some(d.id()));
    let sealer = Sealer { key: &node, trust, delegation: Some(d.id()) };
    assert!(verify(&export(&s.f, &objects, &s.p, Some(&sealer)), &s.f).is_ok());
}

/// Certificates of the story without a seal, with `dissent` replaced.
fn with_dissent(s: &Story, dissent: &[&Envelope]) -> Vec<u8> {
    let unsealed = export(&s.f, &s.objects(), &s.p, None);
    edit(&unsealed, |c| {
        c.dissent = dissent.iter().map(|e| pb::Envelope::decode(e.bytes()).expect("an envelope")).collect();
    })
}

#[test]
fn dissent_entries_are_checked_for_their_form() {
    let s = Story::new();
    let f = &s.f;
    // A trust that also endorses.
    let also = stance(f, 1, s.p.id(), Stance::Object, 5, None);
    let err = verify(&with_dissent(&s, &[&also]), f).unwrap_err();
    assert_eq!(err.to_string(), format!("dissent 0 counts trust {}, which also endorses", f.keys[1].public()));
    assert_eq!(err.name(), "DuplicateTrust");
    // Stance endorse.
    let endorse = stance(f, 3, s.p.id(), Stance::Endorse, 5, None);
    let err = verify(&with_dissent(&s, &[&endorse]), f).unwrap_err();
    assert_eq!(err, CertificateError::NotDissent { index: 0, stance: "endorse" });
    assert_eq!(err.to_string(), "dissent 0 has stance endorse; an endorsement goes in `endorsements`");
    // Not sorted by trust, and one trust twice.
    let (a, b) = if f.keys[3].public() < f.keys[4].public() {
        (&s.objection, &s.abstention)
    } else {
        (&s.abstention, &s.objection)
    };
    assert_eq!(verify(&with_dissent(&s, &[a, b]), f).map(|v| v.objectors.len()), Ok(1));
    let err = verify(&with_dissent(&s, &[b, a]), f).unwrap_err();
    assert_eq!(err, CertificateError::DissentNotSorted { index: 1 });
    assert_eq!(err.to_string(), "dissent 1 is out of order (dissent must be sorted by trust key)");
    let again = stance(f, 3, s.p.id(), Stance::Abstain, 6, None);
    let err = verify(&with_dissent(&s, &[&s.objection, &again]), f).unwrap_err();
    assert_eq!(err.to_string(), format!("dissent 1 counts trust {} a second time", f.keys[3].public()));
    // Another proposal.
    let q = f.proposal(1, "Other", 1, None);
    let other = stance(f, 3, q.id(), Stance::Object, 5, None);
    let err = verify(&with_dissent(&s, &[&other]), f).unwrap_err();
    assert_eq!(err.to_string(), format!("dissent 0 is for proposal {}, not {}", q.id(), s.p.id()));
    // Not an endorsement object at all.
    let err = verify(&with_dissent(&s, &[&q]), f).unwrap_err();
    assert_eq!(err.to_string(), "dissent 0 is invalid: kind: expected an endorsement, got a proposal");
    assert_eq!(err.name(), "Dissent/InvalidField");
    // A bad signature.
    let mut forged = pb::Envelope::decode(s.objection.bytes()).expect("an envelope");
    forged.signatures[0].signature[0] ^= 1;
    let bytes = edit(&with_dissent(&s, &[]), |c| c.dissent = vec![forged]);
    let err = verify(&bytes, f).unwrap_err();
    assert_eq!(err.name(), "Dissent/BadSignature");
}

#[test]
fn a_dissent_entry_that_is_not_its_trusts_effective_stance_fails() {
    let s = Story::new();
    let f = &s.f;
    // Trust 3 objected and abstained: its effective stance is object; a
    // certificate whose chain carries the objection and whose dissent
    // carries the abstention contradicts itself.
    let abstain3 = stance(f, 3, s.p.id(), Stance::Abstain, 4, None);
    let bytes = edit(&with_dissent(&s, &[&abstain3]), |c| {
        c.chain.push(pb::Envelope::decode(s.objection.bytes()).expect("an envelope"));
    });
    let err = verify(&bytes, f).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("dissent 0 records trust {} as abstain, but its effective stance is object", f.keys[3].public())
    );
    assert_eq!(err.name(), "DissentInconsistent");
}

#[test]
fn a_dissent_entry_after_closing_fails_at_its_form() {
    let f = Fixture::new(5);
    let p = f.proposal(0, "Closing", 1, Some(T0 + 100));
    let ends: Vec<Envelope> = (0..3).map(|i| stance(&f, i, p.id(), Stance::Endorse, 2, None)).collect();
    let late = stance(&f, 3, p.id(), Stance::Object, 101, None);
    let bytes = assemble_full(f.coalition.genesis_envelope(), &p, &ends, &[late], &[], None);
    let err = verify(&bytes, &f).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("dissent 0 was signed at {} ms, after the proposal closed at {} ms", T0 + 101, T0 + 100)
    );
    assert_eq!(err.name(), "AfterClosing");
}

/// A draft by member 0 whose voting opens at `T0 + 100` (the fixture
/// takes the opening as an offset from `T0`).
fn draft_opening_at_100(f: &Fixture) -> Envelope {
    f.draft(0, "Draft", 1, Some(100), None)
}

#[test]
fn stances_before_voting_opened_fail_with_the_opening_time() {
    let f = Fixture::new(5);
    let p = draft_opening_at_100(&f);
    let ends: Vec<Envelope> = (0..3).map(|i| stance(&f, i, p.id(), Stance::Endorse, 100, None)).collect();
    let early = stance(&f, 3, p.id(), Stance::Object, 50, Some(OBJECTION));
    let bytes = assemble_full(f.coalition.genesis_envelope(), &p, &ends, std::slice::from_ref(&early), &[], None);
    let err = verify(&bytes, &f).unwrap_err();
    assert_eq!(
        err,
        CertificateError::NotOnTime {
            stances: Stances::Dissent,
            index: 0,
            created_at_ms: T0 + 50,
            untimely: Untimely::BeforeOpening(T0 + 100)
        }
    );
    assert_eq!(
        err.to_string(),
        format!("dissent 0 was signed at {} ms, before voting opened at {} ms", T0 + 50, T0 + 100)
    );
    assert_eq!(err.name(), "NotOnTime");
    // An early endorsement, likewise; a ledger never picks it.
    let mut early_ends = ends.clone();
    early_ends[1] = stance(&f, 1, p.id(), Stance::Endorse, 99, None);
    let bytes = assemble_full(f.coalition.genesis_envelope(), &p, &early_ends, &[], &[], None);
    assert_eq!(
        verify(&bytes, &f).unwrap_err().to_string(),
        format!("endorsement 1 was signed at {} ms, before voting opened at {} ms", T0 + 99, T0 + 100)
    );
    let mut objects: Vec<&Envelope> = vec![&p, &early];
    objects.extend(&ends);
    let l = ledger_of(&f, &objects);
    assert_eq!(l.certificate_dissent(&p.id()), Some(vec![]));
}

#[test]
fn a_draft_opened_by_its_author_carries_the_opening_in_its_chain() {
    let f = Fixture::new(5);
    let p = f.draft(0, "Opened", 1, None, None);
    let open = f.open_voting(0, p.id(), 10);
    let ends: Vec<Envelope> = (0..3).map(|i| stance(&f, i, p.id(), Stance::Endorse, 20, None)).collect();
    let objection = stance(&f, 4, p.id(), Stance::Object, 20, Some(OBJECTION));
    let mut objects: Vec<&Envelope> = vec![&p, &open, &objection];
    objects.extend(&ends);
    let l = ledger_of(&f, &objects);
    assert_eq!(l.certificate_chain(&p.id()), Some(vec![open.id()]));
    let key = &f.keys[4];
    let bytes = export(&f, &objects, &p, Some(&Sealer { key, trust: key.public(), delegation: None }));
    let v = verify(&bytes, &f).expect("valid");
    assert_eq!((v.window.opens_at_ms, v.window.opened_by), (Some(T0 + 10), Some(open.id())));
    assert_eq!(v.seal.map(|s| s.trust), Some(key.public()), "an objector may seal");
    // Without the opening, nothing carried opens the draft.
    let bytes = edit(&bytes, |c| c.chain.clear());
    let err = verify(&bytes, &f).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "endorsement 0 was signed at {} ms, before voting opened (the proposal is a draft and nothing carried opens it)",
            T0 + 20
        )
    );
}

#[test]
fn a_stance_after_the_author_withdrew_fails() {
    let f = Fixture::new(5);
    let p = f.proposal(0, "Withdrawn later", 1, None);
    let ends: Vec<Envelope> = (0..3).map(|i| stance(&f, i, p.id(), Stance::Endorse, 2, None)).collect();
    let withdrawal = f.withdrawal(0, p.id(), Some("superseded"), 10);
    let objection = stance(&f, 3, p.id(), Stance::Object, 20, Some(OBJECTION));
    let mut objects: Vec<&Envelope> = vec![&p, &withdrawal, &objection];
    objects.extend(&ends);
    let l = ledger_of(&f, &objects);
    // Adopted before the withdrawal: it stays adopted; the later objection
    // counts for nothing and is not carried.
    assert_eq!(l.certificate_dissent(&p.id()), Some(vec![]));
    assert_eq!(l.certificate_chain(&p.id()), Some(vec![withdrawal.id()]));
    let bytes = export(&f, &objects, &p, None);
    let v = verify(&bytes, &f).expect("valid");
    assert_eq!((v.window.withdrawn_at_ms, v.window.withdrawn_by), (Some(T0 + 10), Some(withdrawal.id())));
    let bytes = edit(&bytes, |c| c.dissent = vec![pb::Envelope::decode(objection.bytes()).expect("an envelope")]);
    let err = verify(&bytes, &f).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("dissent 0 was signed at {} ms, after the author withdrew the proposal at {} ms", T0 + 20, T0 + 10)
    );
}

#[test]
fn a_governance_draft_in_the_chain_carries_its_opening() {
    let f = Fixture::new(3);
    let newcomer = member_key(400);
    let admit = chorus_core::Action::Admit(chorus_core::Member {
        key: newcomer.public(),
        name: "Newcomer Trust".into(),
        external_id: None,
        attributes: Default::default(),
    });
    let g = chorus_core::Proposal {
        coalition: f.id(),
        roster: f.id(),
        author: f.keys[0].public(),
        created_at_ms: T0 + 1,
        closes_at_ms: None,
        title: "Admit the newcomer".into(),
        body: String::new(),
        link: None,
        action: Some(admit),
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: true,
        amendments: vec![],
    };
    let g = Envelope::sign(Kind::Proposal, g.to_body(), &[&f.keys[0]]);
    let open = f.open_voting(0, g.id(), 5);
    let g_ends: Vec<Envelope> = (0..3).map(|i| stance(&f, i, g.id(), Stance::Endorse, 6, None)).collect();
    let p = f.proposal_under(&f.keys[1], f.keys[1].public(), "After the admission", &[g.id()], None, 10);
    let p_ends: Vec<Envelope> = [0, 1, 2]
        .iter()
        .map(|&i| f.stance_by(&f.keys[i], f.keys[i].public(), p.id(), Stance::Endorse, 11, None))
        .collect();
    let objection = f.stance_by(&newcomer, newcomer.public(), p.id(), Stance::Object, 12, None);
    let mut objects: Vec<&Envelope> = vec![&g, &open, &p, &objection];
    objects.extend(&g_ends);
    objects.extend(&p_ends);
    let l = ledger_of(&f, &objects);
    let chain = l.certificate_chain(&p.id()).expect("a chain");
    assert!(chain.contains(&open.id()) && chain.contains(&g.id()), "the governance draft and its opening");
    let key = &newcomer;
    let bytes = export(&f, &objects, &p, Some(&Sealer { key, trust: key.public(), delegation: None }));
    let v = verify(&bytes, &f).expect("valid");
    assert_eq!(v.objectors.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["Newcomer Trust"]);
    assert_eq!(v.seal.map(|s| s.name), Some("Newcomer Trust".to_owned()), "an admitted member may seal");
    // Without the opening, the draft's endorsements are early: it is not
    // adopted by what is carried.
    let bytes = edit(&bytes, |c| c.chain.retain(|e| e.body != open.body()));
    assert_eq!(verify(&bytes, &f), Err(CertificateError::ChainNotAdopted(g.id())));
}

/// Every object of a history with a draft opened by its author, stances
/// on and around the window's edges (one by a delegate), a withdrawal and
/// a comment, and a node-scope delegation to seal with.
struct History {
    f: Fixture,
    p: Envelope,
    objects: Vec<Envelope>,
    node: Keypair,
    node_delegation: ObjectId,
}

fn history() -> &'static History {
    static H: std::sync::OnceLock<History> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let f = Fixture::new(7);
        let p = f.draft(0, "History", 1, Some(100), None);
        let leader = member_key(300);
        let node = member_key(301);
        let lead = f.delegation(&f.keys[5], f.keys[5].public(), leader.public(), None, 3);
        let nd = delegation(&f, 1, node.public(), SCOPE_NODE, 4);
        let objects = vec![
            p.clone(),
            f.open_voting(0, p.id(), 50),
            stance(&f, 0, p.id(), Stance::Endorse, 50, None),
            stance(&f, 1, p.id(), Stance::Endorse, 49, None),
            stance(&f, 1, p.id(), Stance::Endorse, 60, None),
            stance(&f, 2, p.id(), Stance::Object, 70, Some(OBJECTION)),
            stance(&f, 2, p.id(), Stance::Abstain, 71, None),
            stance(&f, 3, p.id(), Stance::Endorse, 80, None),
            stance(&f, 3, p.id(), Stance::Object, 81, None),
            stance(&f, 4, p.id(), Stance::Abstain, 90, Some(ABSTENTION)),
            f.stance_by(&leader, f.keys[5].public(), p.id(), Stance::Object, 95, Some(lead.id())),
            lead,
            stance(&f, 6, p.id(), Stance::Endorse, 150, None),
            f.withdrawal(0, p.id(), None, 200),
            stance(&f, 4, p.id(), Stance::Object, 201, None),
            f.comment(6, p.id(), "Why withdraw?", None, 202),
            nd.clone(),
        ];
        History { node_delegation: nd.id(), f, p, objects, node }
    })
}

/// A ledger's endorsements, dissent and chain for a proposal, and the
/// sealed certificate bytes.
type Exported = (Option<Vec<ObjectId>>, Option<Vec<ObjectId>>, Option<Vec<ObjectId>>, Vec<u8>);

/// What a node holding the history's objects, applied in `order`, exports.
fn exported(order: &[usize]) -> Exported {
    let h = history();
    let objects: Vec<&Envelope> = order.iter().map(|&i| &h.objects[i]).collect();
    let l = ledger_of(&h.f, &objects);
    let id = h.p.id();
    let sealer = Sealer { key: &h.node, trust: h.f.keys[1].public(), delegation: Some(h.node_delegation) };
    let bytes = export(&h.f, &objects, &h.p, Some(&sealer));
    (l.certificate_endorsements(&id), l.certificate_dissent(&id), l.certificate_chain(&id), bytes)
}

#[test]
fn the_history_exports_a_certificate_that_verifies() {
    let h = history();
    let all: Vec<usize> = (0..h.objects.len()).collect();
    let (ends, dissent, _, bytes) = exported(&all);
    assert_eq!(ends.map(|e| e.len()), Some(4), "members 0, 1, 3 and 6");
    assert_eq!(dissent.map(|d| d.len()), Some(3), "members 2, 4 and 5 (4's objection is late)");
    let v = verify(&bytes, &h.f).expect("valid");
    assert_eq!((v.objectors.len(), v.abstainers.len(), v.silent.len()), (2, 1, 0));
    assert_eq!(
        v.objectors.iter().find(|o| o.trust == h.f.keys[2].public()).and_then(|o| o.comment.as_deref()),
        Some(OBJECTION)
    );
    assert_eq!(v.window.withdrawn_at_ms, Some(T0 + 200));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The parts a ledger chooses, and the sealed certificate, are the same
    /// for any order of applying the same objects, repeats included.
    #[test]
    fn the_exported_certificate_does_not_depend_on_arrival_order(
        order in Just((0..history().objects.len()).collect::<Vec<usize>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..history().objects.len(), 0..4),
    ) {
        let all: Vec<usize> = (0..history().objects.len()).collect();
        let expected = exported(&all);
        let mut shuffled = order.clone();
        shuffled.extend(repeats);
        prop_assert_eq!(exported(&shuffled), expected);
    }

    /// The same for random histories: a draft (with or without a fixed
    /// opening) or a proposal open from the start, maybe opened by its
    /// author, stances of every kind at times on and around the window's
    /// edges, maybe a withdrawal; applied in two random orders with
    /// repeats. When the proposal is adopted the sealed certificate is the
    /// same, and it verifies with the dissent the ledger chose.
    #[test]
    fn random_histories_export_the_same_certificate_in_any_order(
        seed in any::<u64>(),
        first in Just((0..12usize).collect::<Vec<usize>>()).prop_shuffle(),
        second in Just((0..12usize).collect::<Vec<usize>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..12usize, 0..4),
    ) {
        let f = random_fixture();
        let objects = random_history(f, seed);
        let pick = |order: &[usize]| -> Vec<&Envelope> {
            order.iter().filter_map(|&i| objects.get(i)).collect()
        };
        let mut with_repeats = second.clone();
        with_repeats.extend(repeats);
        let (a, b) = (pick(&first), pick(&with_repeats));
        let (la, lb) = (ledger_of(f, &a), ledger_of(f, &b));
        let p = &objects[0];
        prop_assert_eq!(la.digest(), lb.digest());
        prop_assert_eq!(la.certificate_endorsements(&p.id()), lb.certificate_endorsements(&p.id()));
        prop_assert_eq!(la.certificate_dissent(&p.id()), lb.certificate_dissent(&p.id()));
        prop_assert_eq!(la.certificate_chain(&p.id()), lb.certificate_chain(&p.id()));
        if la.is_adopted(&p.id()) {
            let key = &f.keys[6];
            let sealer = Sealer { key, trust: key.public(), delegation: None };
            let bytes = export(f, &a, p, Some(&sealer));
            prop_assert_eq!(&export(f, &b, p, Some(&sealer)), &bytes);
            let v = verify(&bytes, f);
            prop_assert!(v.is_ok(), "{:?}", v);
            let v = v.unwrap();
            prop_assert_eq!(
                v.objectors.len() + v.abstainers.len(),
                la.certificate_dissent(&p.id()).map_or(0, |d| d.len())
            );
        }
    }
}

/// Seven members (4 needed) for the random histories.
fn random_fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| Fixture::new(7))
}

/// Twelve objects: the proposal first (a draft with an opening at 100, a
/// draft with none, or open from the start), an open-voting at 50 or 150,
/// a withdrawal at 200 or 400, and nine stances of six members (each at
/// least once) at times drawn from the edges (49, 50, 100, 150, 200, 201,
/// 300, 400, 401).
fn random_history(f: &Fixture, seed: u64) -> Vec<Envelope> {
    let mut rng = chorus_core::testkit::SplitMix(seed);
    let p = match rng.below(3) {
        0 => f.draft(0, "Random", 1, Some(100), None),
        1 => f.draft(0, "Random", 1, None, None),
        _ => f.proposal(0, "Random", 1, None),
    };
    let times = [49, 50, 100, 150, 200, 201, 300, 400, 401];
    let stances = [Stance::Endorse, Stance::Endorse, Stance::Endorse, Stance::Object, Stance::Abstain];
    let mut objects = vec![
        p.clone(),
        f.open_voting(0, p.id(), if rng.chance(2) { 50 } else { 150 }),
        f.withdrawal(0, p.id(), None, if rng.chance(2) { 200 } else { 400 }),
    ];
    for i in 0..9 {
        // Each of the six members signs at least once.
        let member = if i < 6 { i } else { rng.index(6) };
        let stance_of = stances[rng.index(stances.len())];
        let at = times[rng.index(times.len())];
        objects.push(stance(f, member, p.id(), stance_of, at, Some("A reason.")));
    }
    objects
}

/// The certificates of the tests above (valid ones and one of each
/// failure), by name, with their coalitions.
fn cases() -> Vec<(String, Vec<u8>, ObjectId)> {
    let s = Story::new();
    let f = &s.f;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let sealed = s.sealed_by_0();
    out.push(("sealed".into(), sealed.clone()));
    out.push(("removed".into(), edit(&sealed, |c| c.dissent.retain(|e| e.body != s.objection.body()))));
    out.push(("unsealed".into(), edit(&sealed, |c| c.seal = None)));
    let outsider = member_key(99);
    let stances: Vec<ObjectId> = s.ends.iter().chain([&s.objection, &s.abstention]).map(Envelope::id).collect();
    let seal = Seal::sign(seal_body(&f.id(), &s.p.id(), &f.keys[0].public(), None, &stances), &outsider);
    let seal = pb::Seal::decode(seal_bytes(&seal).as_slice()).expect("a seal");
    out.push(("outsider seal".into(), edit(&sealed, |c| c.seal = Some(seal))));
    let node = member_key(200);
    let d = delegation(f, 2, node.public(), SCOPE_NODE, 5);
    let mut objects = s.objects();
    objects.push(&d);
    let sealer = Sealer { key: &node, trust: f.keys[2].public(), delegation: Some(d.id()) };
    out.push(("node seal".into(), export(f, &objects, &s.p, Some(&sealer))));
    let also = stance(f, 1, s.p.id(), Stance::Object, 5, None);
    out.push(("also endorses".into(), with_dissent(&s, &[&also])));
    let endorse = stance(f, 3, s.p.id(), Stance::Endorse, 5, None);
    out.push(("endorse in dissent".into(), with_dissent(&s, &[&endorse])));
    out.push(("two dissent".into(), with_dissent(&s, &[&s.objection, &s.abstention])));
    out.push(("two dissent swapped".into(), with_dissent(&s, &[&s.abstention, &s.objection])));
    let abstain3 = stance(f, 3, s.p.id(), Stance::Abstain, 4, None);
    out.push((
        "inconsistent".into(),
        edit(&with_dissent(&s, &[&abstain3]), |c| {
            c.chain.push(pb::Envelope::decode(s.objection.bytes()).expect("an envelope"))
        }),
    ));
    let mut all: Vec<(String, Vec<u8>, ObjectId)> = out.into_iter().map(|(n, b)| (n, b, f.id())).collect();

    let g = Fixture::new(5);
    let p = g.draft(0, "Opened", 1, None, None);
    let open = g.open_voting(0, p.id(), 10);
    let ends: Vec<Envelope> = (0..3).map(|i| stance(&g, i, p.id(), Stance::Endorse, 20, None)).collect();
    let objection = stance(&g, 4, p.id(), Stance::Object, 20, Some(OBJECTION));
    let mut objects: Vec<&Envelope> = vec![&p, &open, &objection];
    objects.extend(&ends);
    let key = &g.keys[4];
    let opened = export(&g, &objects, &p, Some(&Sealer { key, trust: key.public(), delegation: None }));
    all.push(("draft opened".into(), opened.clone(), g.id()));
    all.push(("draft never opened".into(), edit(&opened, |c| c.chain.clear()), g.id()));
    let early = stance(&g, 3, p.id(), Stance::Object, 5, None);
    let bytes = edit(&opened, |c| c.dissent.insert(0, pb::Envelope::decode(early.bytes()).expect("an envelope")));
    all.push(("early dissent".into(), bytes, g.id()));

    // A withdrawal signed before the stances, carried: they do not count.
    let w = g.withdrawal(0, p.id(), Some("superseded"), 15);
    let bytes = edit(&export(&g, &objects, &p, None), |c| {
        c.chain.push(pb::Envelope::decode(w.bytes()).expect("an envelope"));
        c.chain.sort_by_key(|e| ObjectId::compute(Kind::from_wire(e.kind).expect("a kind"), &e.body));
    });
    all.push(("withdrawn before the stances".into(), bytes, g.id()));
    let h = history();
    let everything: Vec<usize> = (0..h.objects.len()).collect();
    all.push(("history".into(), exported(&everything).3, h.f.id()));
    all
}

/// Flips, inserts or deletes a byte, or cuts the tail, at a random place.
fn mutate(bytes: &[u8], rng: &mut chorus_core::testkit::SplitMix) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let at = rng.index(b.len());
    match rng.below(4) {
        0 => b[at] ^= 1 << rng.below(8),
        1 => b.insert(at, rng.below(256) as u8),
        2 => {
            b.remove(at);
        }
        _ => b[at] = b[at].wrapping_add(1),
    }
    b
}

/// The independent verifier (tools/verify_certificate.py, written from
/// PROTOCOL.md alone) gives the same verdict, and for a valid certificate
/// the same objectors, abstainers, silent members, seal and window, on the
/// certificates of these tests and on mutations of them. Skipped without
/// python3 and PyNaCl unless `CHORUS_REQUIRE_INDEPENDENT_VERIFIER=1`.
#[test]
fn the_independent_verifier_agrees_on_dissent_and_seals() {
    use std::process::{Command, Stdio};
    let available = Command::new("python3")
        .args(["-c", "import nacl.signing"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        let required = std::env::var("CHORUS_REQUIRE_INDEPENDENT_VERIFIER").is_ok_and(|v| v == "1");
        assert!(!required, "python3 with PyNaCl is required (pip install pynacl)");
        eprintln!("skipped: python3 with PyNaCl not found");
        return;
    }
    let mut cases = cases();
    let mut rng = chorus_core::testkit::SplitMix(0x0d15_5e27);
    for i in 0..cases.len() {
        for m in 0..40 {
            let bytes = mutate(&cases[i].1, &mut rng);
            cases.push((format!("{} mutation {m}", cases[i].0), bytes, cases[i].2));
        }
    }
    let input: String = cases.iter().map(|(_, b, c)| format!("{} {}\n", hex::encode(b), c.to_hex())).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let batch = dir.path().join("batch.txt");
    std::fs::write(&batch, input).expect("written");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("python3")
        .arg(root.join("tools/verify_certificate.py"))
        .args(["--batch".as_ref(), batch.as_os_str(), "--json".as_ref()])
        .output()
        .expect("python3 runs");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON verdict per line"))
        .collect();
    assert_eq!(theirs.len(), cases.len());
    let mut differences = Vec::new();
    let mut valid = 0;
    for ((name, bytes, c), their) in cases.iter().zip(&theirs) {
        let ours = certificate::verify_with_threads(bytes, Some(*c), 1);
        let (our_code, our_error) = match &ours {
            Ok(_) => (None, None),
            Err(e) => (Some(e.name()), Some(e.to_string())),
        };
        let their_code = their["code"].as_str().map(str::to_owned);
        let malformed = our_code.as_deref().is_some_and(|n| n == "Malformed" || n.ends_with("/Malformed"));
        let same_error = our_code == their_code && (malformed || our_error.as_deref() == their["error"].as_str());
        if !same_error {
            differences
                .push(format!("{name}: rust {our_code:?} {our_error:?}, python {their_code:?} {}", their["error"]));
            continue;
        }
        if let Ok(v) = ours {
            valid += 1;
            let report = &their["report"];
            let pairs = [
                ("objectors", serde_json::to_value(&v.objectors).unwrap()),
                ("abstainers", serde_json::to_value(&v.abstainers).unwrap()),
                ("silent", serde_json::to_value(&v.silent).unwrap()),
                ("seal", serde_json::to_value(&v.seal).unwrap()),
                ("window", serde_json::to_value(v.window).unwrap()),
                ("dissent", serde_json::Value::String(v.dissent_note())),
            ];
            for (key, value) in pairs {
                if report[key] != value {
                    differences.push(format!("{name} ({key}): rust {value}, python {}", report[key]));
                }
            }
        }
    }
    eprintln!("{} certificates, {valid} valid for both", cases.len());
    assert!(valid >= 6, "the valid cases stay valid");
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
}

/// The certificates the independent verifier's own tests build
/// (tools/tests/cases.py, one per rule and error of deliberation in 9.2,
/// written from PROTOCOL.md alone) get from this crate the verdict those
/// tests expect. Skipped without python3 and PyNaCl unless
/// `CHORUS_REQUIRE_INDEPENDENT_VERIFIER=1`.
#[test]
fn the_independent_verifiers_deliberation_cases_get_their_verdicts() {
    use std::process::{Command, Stdio};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tools/tests/cases.py");
    let available = script.exists()
        && Command::new("python3")
            .args(["-c", "import nacl.signing"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !available {
        let required = std::env::var("CHORUS_REQUIRE_INDEPENDENT_VERIFIER").is_ok_and(|v| v == "1");
        assert!(!required, "python3 with PyNaCl and tools/tests/cases.py are required");
        eprintln!("skipped: python3 with PyNaCl or tools/tests/cases.py not found");
        return;
    }
    let out = Command::new("python3").arg(&script).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut differences = Vec::new();
    let mut count = 0;
    for line in String::from_utf8(out.stdout).expect("UTF-8").lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let [hex_bytes, coalition, name, expected] = fields[..] else { panic!("unreadable line {line}") };
        let bytes = hex::decode(hex_bytes).expect("hex");
        let coalition = (coalition != "-").then(|| coalition.parse::<ObjectId>().expect("an id"));
        let ours = match certificate::verify_with_threads(&bytes, coalition, 1) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.name(),
        };
        count += 1;
        if ours != expected {
            differences.push(format!("{name}: expected {expected}, this crate says {ours}"));
        }
    }
    assert!(count >= 50, "only {count} cases");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
