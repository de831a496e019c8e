//! No input makes chorus-core panic: arbitrary bytes, mutations of valid
//! objects, and well-formed protobuf with arbitrary field values, fed to
//! every decoder and validator. (proptest turns a panic into a failure.)

use std::sync::OnceLock;

use chorus_core::testkit::member_key;
use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, Action, Amendment, Coalition, Comment, Delegation, Endorsement, Envelope, Genesis, KeyRotation, Kind,
    Ledger, Member, OpenVoting, Proposal, Revocation, Stance, Withdrawal,
};
use chorus_proto::v1 as pb;
use proptest::prelude::*;
use prost::Message;

const NOW: u64 = T0 + 10_000;

struct Seeds {
    f: Fixture,
    /// Valid encodings of every kind of input.
    samples: Vec<Vec<u8>>,
    /// A ledger holding an adopted admission, a delegation and a rotation.
    ledger: Ledger,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let f = Fixture::new(4);
        let p = f.proposal(1, "Seed", 1, Some(T0 + 1000));
        let e = f.endorsement(2, p.id(), Stance::Endorse, 2);
        let (cert, _) = f.certificate(3);
        let samples = vec![
            f.coalition.genesis_envelope().bytes().to_vec(),
            f.coalition.genesis_envelope().body().to_vec(),
            p.bytes().to_vec(),
            p.body().to_vec(),
            e.bytes().to_vec(),
            e.body().to_vec(),
            cert,
        ];
        let mut samples = samples;
        // Governance: an admission adopted by three of four, a delegation,
        // a rotation, a position under the new version with a delegated and
        // a rotated stance, its chain certificate, and a revocation.
        let x = member_key(50);
        let admit = Action::Admit(Member {
            key: x.public(),
            name: "X".into(),
            external_id: None,
            attributes: Default::default(),
        });
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit", &[], Some(admit), 3);
        let mut objects = vec![g.clone()];
        objects.extend((0..3).map(|i| f.endorsement(i, g.id(), Stance::Endorse, 4)));
        let leader = member_key(51);
        let d = f.delegation(&f.keys[1], f.keys[1].public(), leader.public(), None, 5);
        let k2 = member_key(52);
        let r = f.rotation(&f.keys[2], f.keys[2].public(), k2.public(), vec![objects[3].id()], 6);
        let p2 = f.proposal_under(&x, x.public(), "Position", &[g.id()], None, 7);
        let ends = vec![
            f.stance_by(&x, x.public(), p2.id(), Stance::Endorse, 8, None),
            f.stance_by(&leader, f.keys[1].public(), p2.id(), Stance::Endorse, 8, Some(d.id())),
            f.stance_by(&k2, f.keys[2].public(), p2.id(), Stance::Endorse, 8, None),
        ];
        let rev = f.revocation(&f.keys[1], f.keys[1].public(), d.id(), vec![ends[1].id()], 9);
        objects.extend([d.clone(), r.clone(), p2.clone(), rev.clone()]);
        objects.extend(ends.iter().cloned());
        let mut ingest = chorus_core::Ingest::new(f.coalition.clone(), 0);
        let mut replay = chorus_core::Replay::new(NOW);
        ingest.replay(&mut replay, objects.iter().map(|o| ((), Ledger::check_signature(&f.coalition, o.bytes()))));
        let ledger = ingest.into_ledger();
        assert!(ledger.is_adopted(&p2.id()), "the seed position is adopted");
        let chain: Vec<Envelope> = ledger
            .certificate_chain(&p2.id())
            .expect("adopted")
            .iter()
            .map(|id| objects.iter().find(|o| o.id() == *id).expect("held").clone())
            .collect();
        let gov_cert = certificate::assemble_with_chain(f.coalition.genesis_envelope(), &p2, &ends, &chain);
        assert!(certificate::verify(&gov_cert, Some(f.id())).is_ok());
        for o in [&g, &d, &r, &p2, &rev, &ends[1]] {
            samples.push(o.bytes().to_vec());
            samples.push(o.body().to_vec());
        }
        samples.push(gov_cert);
        // Deliberation: a draft, an amendment, an opening, a withdrawal.
        let draft = f.draft(0, "Seed draft", 10, Some(20), Some(T0 + 1000));
        let amendment = Amendment { body: "Seed body.".into(), title: Some("Seed title".into()) };
        let k = &f.keys[1];
        let amend = f.comment_by(k, k.public(), draft.id(), "Seed comment", None, Some(amendment), 11, None);
        let open = f.open_voting(0, draft.id(), 12);
        let withdrawal = f.withdrawal(0, draft.id(), Some("Seed reason"), 13);
        for o in [&draft, &amend, &open, &withdrawal] {
            samples.push(o.bytes().to_vec());
            samples.push(o.body().to_vec());
        }
        let mut ledger = ledger;
        for o in [&draft, &amend, &open] {
            let v = ledger.validate(o.bytes(), NOW).expect("the seed deliberation is valid");
            ledger.apply(&v);
        }
        Seeds { f, samples, ledger }
    })
}

/// Every entry point that takes bytes from outside.
fn feed(bytes: &[u8]) {
    let s = seeds();
    let _ = Envelope::decode(bytes);
    let _ = Ledger::new(s.f.coalition.clone()).validate(bytes, NOW);
    let _ = Ledger::new(s.f.coalition.clone()).validate(bytes, 0);
    let _ = Ledger::new(s.f.coalition.clone()).validate(bytes, u64::MAX);
    let _ = Coalition::from_genesis(bytes, 1);
    let _ = Coalition::from_genesis(bytes, 2);
    let _ = certificate::verify_with_threads(bytes, None, 1);
    let _ = certificate::verify_with_threads(bytes, Some(s.f.id()), 2);
    let _ = Genesis::from_body(bytes);
    let _ = Proposal::from_body(bytes);
    let _ = Endorsement::from_body(bytes);
    let _ = Ledger::new(s.f.coalition.clone()).validate_many(&[bytes, bytes], NOW, 2);
    let _ = Delegation::from_body(bytes);
    let _ = Revocation::from_body(bytes);
    let _ = KeyRotation::from_body(bytes);
    let _ = Comment::from_body(bytes);
    let _ = OpenVoting::from_body(bytes);
    let _ = Withdrawal::from_body(bytes);
    if let Ok(v) = s.ledger.validate(bytes, NOW) {
        let mut ledger = s.ledger.clone();
        ledger.apply(&v);
        let _ = ledger.head_version();
        let _ = ledger.positions();
        let ids: Vec<_> = ledger.proposals().into_iter().map(|(id, _)| id).collect();
        for id in ids {
            let _ = (ledger.voting_window(&id), ledger.comments(&id), ledger.notices(&id), ledger.revisions(&id));
            let _ = (ledger.status(&id, NOW), ledger.proposal_state(&id), ledger.digest());
        }
    }
    let _ = s.ledger.validate(bytes, u64::MAX);
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
    Duplicate(prop::sample::Index, prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        2 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<prop::sample::Index>().prop_map(Mutation::Delete),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn mutate(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if v.is_empty() {
            v.push(0);
        }
        match m {
            Mutation::Flip(i, x) => {
                let i = i.index(v.len());
                v[i] ^= x;
            }
            Mutation::Insert(i, b) => v.insert(i.index(v.len() + 1), *b),
            Mutation::Delete(i) => {
                v.remove(i.index(v.len()));
            }
            Mutation::Truncate(i) => v.truncate(i.index(v.len())),
            Mutation::Duplicate(a, b) => {
                let (a, b) = (a.index(v.len()), b.index(v.len()));
                let (lo, hi) = (a.min(b), a.max(b));
                let part = v[lo..hi].to_vec();
                v.splice(hi..hi, part);
            }
        }
    }
    v
}

/// Arbitrary bytes up to 32 bytes, biased to the lengths fields expect.
fn field_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..40), prop::collection::vec(any::<u8>(), 32..=32), Just(vec![]),]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-z\n\t\u{0}-\u{1f}]{0,300}", Just(String::new())]
}

fn proposal_pb() -> impl Strategy<Value = pb::Proposal> {
    (
        field_bytes(),
        field_bytes(),
        field_bytes(),
        any::<u64>(),
        any::<u64>(),
        text(),
        text(),
        prop::option::of((field_bytes(), any::<i32>())),
        (any::<u64>(), any::<bool>(), prop::collection::vec(field_bytes(), 0..3)),
    )
        .prop_map(
            |(
                coalition,
                roster,
                author,
                created_at_ms,
                closes_at_ms,
                title,
                body,
                link,
                (opens, draft, amendments),
            )| {
                pb::Proposal {
                    coalition,
                    roster,
                    author,
                    created_at_ms,
                    closes_at_ms,
                    title,
                    body,
                    link: link.map(|(target, relation)| pb::ProposalLink { target, relation }),
                    voting_opens_at_ms: opens,
                    draft,
                    amendments,
                    ..Default::default()
                }
            },
        )
}

fn comment_pb() -> impl Strategy<Value = pb::Comment> {
    (
        (field_bytes(), any::<u64>(), field_bytes(), field_bytes(), field_bytes()),
        text(),
        field_bytes(),
        prop::option::of((text(), text())),
    )
        .prop_map(|((coalition, created_at_ms, proposal, trust, delegation), text, reply_to, amendment)| {
            pb::Comment {
                coalition,
                created_at_ms,
                proposal,
                trust,
                delegation,
                text,
                reply_to,
                amendment: amendment.map(|(body, title)| pb::Amendment { body, title }),
            }
        })
}

fn withdrawal_pb() -> impl Strategy<Value = pb::Withdrawal> {
    (field_bytes(), any::<u64>(), field_bytes(), field_bytes(), text()).prop_map(
        |(coalition, created_at_ms, proposal, author, reason)| pb::Withdrawal {
            coalition,
            created_at_ms,
            proposal,
            author,
            reason,
        },
    )
}

fn endorsement_pb() -> impl Strategy<Value = pb::Endorsement> {
    (field_bytes(), field_bytes(), field_bytes(), any::<u64>(), any::<i32>(), text()).prop_map(
        |(coalition, proposal, trust, created_at_ms, stance, comment)| pb::Endorsement {
            coalition,
            proposal,
            trust,
            created_at_ms,
            stance,
            comment,
            ..Default::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        feed(&bytes);
    }

    #[test]
    fn mutated_valid_inputs_never_panic(
        which in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let s = seeds();
        let seed = s.samples[which.index(s.samples.len())].clone();
        feed(&mutate(seed, &muts));
    }

    /// Well-formed envelopes whose bodies carry arbitrary field values, signed
    /// by a member (so validation gets past the envelope to every field rule)
    /// or by nobody in particular.
    #[test]
    fn arbitrary_field_values_never_panic(
        p in proposal_pb(),
        e in endorsement_pb(),
        signer in 0usize..4,
        point_at_us in any::<bool>(),
    ) {
        let s = seeds();
        let (mut p, mut e) = (p, e);
        if point_at_us {
            // Aim the ids at this coalition so later rules are reached.
            p.coalition = s.f.id().0.to_vec();
            p.roster = s.f.id().0.to_vec();
            p.author = s.f.keys[signer].public().as_bytes().to_vec();
            e.coalition = s.f.id().0.to_vec();
            e.trust = s.f.keys[signer].public().as_bytes().to_vec();
        }
        let key = &s.f.keys[signer];
        let pe = Envelope::sign(Kind::Proposal, p.encode_to_vec(), &[key]);
        let ee = Envelope::sign(Kind::Endorsement, e.encode_to_vec(), &[key]);
        feed(pe.bytes());
        feed(ee.bytes());
        // And inside a certificate, in every slot.
        let g = pb::Envelope::decode(s.f.coalition.genesis_envelope().bytes()).unwrap();
        let pp = pb::Envelope::decode(pe.bytes()).unwrap();
        let ep = pb::Envelope::decode(ee.bytes()).unwrap();
        for (proposal, ends) in [(pp.clone(), vec![ep.clone()]), (ep.clone(), vec![pp.clone(), ep])] {
            let cert = pb::Certificate { version: 1, genesis: Some(g.clone()), proposal: Some(proposal), endorsements: ends, chain: vec![], dissent: vec![], seal: None };
            let _ = certificate::verify_with_threads(&cert.encode_to_vec(), None, 1);
        }
    }

    /// Comment, open-voting and withdrawal bodies with arbitrary field
    /// values, signed by a member, about held proposals or not.
    #[test]
    fn arbitrary_deliberation_fields_never_panic(
        c in comment_pb(),
        w in withdrawal_pb(),
        signer in 0usize..4,
        point_at_us in any::<bool>(),
        at_held in any::<bool>(),
    ) {
        let s = seeds();
        let (mut c, mut w) = (c, w);
        if point_at_us {
            c.coalition = s.f.id().0.to_vec();
            c.trust = s.f.keys[signer].public().as_bytes().to_vec();
            w.coalition = s.f.id().0.to_vec();
            w.author = s.f.keys[signer].public().as_bytes().to_vec();
            if c.created_at_ms == 0 {
                c.created_at_ms = T0;
            }
        }
        if at_held {
            let held = s.ledger.proposals()[0].0 .0.to_vec();
            c.proposal = held.clone();
            w.proposal = held;
        }
        let o = pb::OpenVoting {
            coalition: w.coalition.clone(),
            created_at_ms: w.created_at_ms,
            proposal: w.proposal.clone(),
            author: w.author.clone(),
        };
        let key = &s.f.keys[signer];
        feed(Envelope::sign(Kind::Comment, c.encode_to_vec(), &[key]).bytes());
        feed(Envelope::sign(Kind::Withdrawal, w.encode_to_vec(), &[key]).bytes());
        feed(Envelope::sign(Kind::OpenVoting, o.encode_to_vec(), &[key]).bytes());
    }

    /// Arbitrary genesis bodies, countersigned by their own (parseable)
    /// founder keys, so `from_genesis` reaches its signature checks.
    #[test]
    fn arbitrary_genesis_bodies_never_panic(
        name in text(),
        founders in prop::collection::vec((0u32..6, text(), text()), 0..5),
        created_at_ms in any::<u64>(),
        nonce in field_bytes(),
        rule in prop::option::of((any::<u32>(), any::<u32>())),
    ) {
        let keys: Vec<_> = founders.iter().map(|(k, _, _)| chorus_core::testkit::member_key(*k)).collect();
        let g = pb::Genesis {
            name,
            charter: rule.map(|(numerator, denominator)| pb::Charter {
                positions: Some(pb::AdoptionRule { numerator, denominator, breadth: vec![] }),
                ..Default::default()
            }),
            founders: founders
                .iter()
                .zip(&keys)
                .map(|((_, name, external_id), k)| pb::Member {
                    trust_key: k.public().as_bytes().to_vec(),
                    name: name.clone(),
                    external_id: external_id.clone(),
                    attributes: None,
                })
                .collect(),
            created_at_ms,
            nonce,
        };
        let refs: Vec<_> = keys.iter().collect();
        let env = Envelope::sign(Kind::Genesis, g.encode_to_vec(), &refs);
        feed(env.bytes());
        if let Ok(c) = Coalition::from_genesis(env.bytes(), 1) {
            // A valid one must validate as its own genesis.
            prop_assert!(Ledger::new(c.clone()).validate(env.bytes(), NOW).is_ok());
        }
    }
}
