//! The test vectors of `docs/PROTOCOL.md`, section 11, regenerated from the
//! code and compared with the document byte for byte.
//!
//! Every vector comes from fixed seeds (the RFC 8032 test keys) and fixed
//! times, so the code and the document must agree exactly; if they do not,
//! either the code changed the protocol or the document is stale. The signing
//! prefix and the id are also recomputed here with `sha2` and
//! `ed25519-dalek` directly, independently of `chorus_core`'s own helpers.
//!
//! To print the vector blocks (e.g. after a deliberate protocol change):
//! `cargo test -p chorus-core --test protocol_vectors -- --ignored --nocapture print_vectors`

use std::collections::BTreeMap;

use chorus_core::{
    certificate, version_id, Action, AdoptionRule, CertificateError, Charter, Coalition, Delegation, Endorsement,
    Envelope, Genesis, KeyRotation, Keypair, Kind, Ledger, Member, Object, ObjectId, OpaqueHeader, Proposal,
    Revocation, Stance, SCOPE_STANCES,
};
use chorus_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};

mod support;

#[path = "protocol_vectors/deliberation.rs"]
mod deliberation;

const DOC: &str = "../../docs/PROTOCOL.md";
const REGENERATE: &str = "cargo test -p chorus-core --test protocol_vectors -- --ignored --nocapture print_vectors";

/// 2026-01-01T00:00:00Z in milliseconds.
const T: u64 = 1_767_225_600_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

/// Secret keys (seeds) of RFC 8032 section 7.1, TEST 1, 2 and 3, and their
/// public keys as the RFC gives them.
const RFC8032: [(&str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    ),
];

/// RFC 8032 section 7.1, TEST 1024 and TEST SHA(abc): seeds and public keys
/// of `key.d` and `key.e`. `key.f` has the seed 32 bytes of 0x66.
const RFC8032_MORE: [(&str, &str); 2] = [
    (
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
    ),
    (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    ),
];

/// The group order l = 2^252 + 27742317777372353535851937790883648493,
/// little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// One group of vectors, printed as one fenced block.
struct Group {
    title: &'static str,
    lines: Vec<(String, String)>,
}

impl Group {
    fn new(title: &'static str) -> Self {
        Group { title, lines: Vec::new() }
    }
    fn put(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.lines.push((name.into(), value.into()));
    }
    fn envelope(&mut self, name: &str, env: &Envelope) {
        self.put(format!("{name}.body"), hex::encode(env.body()));
        self.put(format!("{name}.envelope"), hex::encode(env.bytes()));
        self.put(format!("{name}.id"), env.id().to_hex());
    }
}

/// Everything the vectors are made of, kept for the semantic checks.
struct Objects {
    keys: [Keypair; 3],
    genesis: Envelope,
    proposal: Envelope,
    a: Envelope,
    b: Envelope,
    c_object: Envelope,
    c_late: Envelope,
    closes_at_ms: u64,
}

fn seed(hex_seed: &str) -> [u8; 32] {
    let mut s = [0u8; 32];
    hex::decode_to_slice(hex_seed, &mut s).expect("RFC 8032 seeds are 64 hex characters");
    s
}

fn objects() -> Objects {
    let keys = RFC8032.map(|(s, _)| Keypair::from_seed(&seed(s)));
    let [a, b, c] = &keys;
    let genesis = Genesis {
        name: "Vector Coalition".into(),
        charter: Charter::with_positions(AdoptionRule::new(3, 5).expect("3/5 is a valid rule")),
        founders: vec![
            Member {
                key: a.public(),
                name: "Northfield Learning Trust".into(),
                external_id: Some("08123456".into()),
                attributes: Default::default(),
            },
            Member {
                key: b.public(),
                name: "Riverside Academies".into(),
                external_id: None,
                attributes: Default::default(),
            },
            Member {
                key: c.public(),
                name: "Hillcrest Schools Partnership".into(),
                external_id: None,
                attributes: Default::default(),
            },
        ],
        created_at_ms: T,
        nonce: b"vectors1".to_vec(),
    };
    let genesis = Envelope::sign(Kind::Genesis, genesis.to_body(), &[a, b, c]);
    let coalition = genesis.id();
    let closes_at_ms = T + 7 * DAY;
    let proposal = Proposal {
        coalition,
        roster: coalition,
        author: a.public(),
        created_at_ms: T + HOUR,
        closes_at_ms: Some(closes_at_ms),
        title: "Adopt the shared attendance policy".into(),
        body: "The member trusts adopt the attendance policy in annex A.\n\nReview in one year.".into(),
        link: None,
        action: None,
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    let proposal = Envelope::sign(Kind::Proposal, proposal.to_body(), &[a]);
    let endorse = |key: &Keypair, at: u64, stance: Stance, comment: Option<&str>| {
        let e = Endorsement {
            coalition,
            proposal: proposal.id(),
            trust: key.public(),
            created_at_ms: at,
            stance,
            comment: comment.map(str::to_owned),
            delegation: None,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
    };
    let ea = endorse(a, T + 2 * HOUR, Stance::Endorse, Some("Agreed by the board on 1 January."));
    let eb = endorse(b, T + 3 * HOUR, Stance::Endorse, None);
    let c_object = endorse(c, T + 4 * HOUR, Stance::Object, Some("We need more time to consult parents."));
    let c_late = endorse(c, closes_at_ms + 1, Stance::Endorse, None);
    Objects { keys, genesis, proposal, a: ea, b: eb, c_object, c_late, closes_at_ms }
}

/// A certificate with the given endorsements in exactly the given order
/// (unlike `certificate::assemble`, which sorts them).
fn raw_certificate(o: &Objects, endorsements: Vec<pb::Envelope>) -> Vec<u8> {
    let nested = |e: &Envelope| pb::Envelope::decode(e.bytes()).expect("vector envelopes decode");
    pb::Certificate {
        version: 1,
        genesis: Some(nested(&o.genesis)),
        proposal: Some(nested(&o.proposal)),
        endorsements,
        chain: vec![],
        dissent: vec![],
        seal: None,
    }
    .encode_to_vec()
}

/// `s + l` for a canonical `s`: the same point equation holds, but `s` is no
/// longer canonical, so the strict rule must refuse it.
fn add_l(sig: &mut [u8]) {
    let mut carry = 0u16;
    for (byte, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + l fits in 32 bytes because s < l < 2^253");
}

/// The stable name of a certificate error, as PROTOCOL.md section 9 gives
/// it.
fn error_code(e: &CertificateError) -> String {
    e.name()
}

/// The certificates of the vectors: one valid, the rest each failing one
/// rule. The valid one is what `certificate::assemble` makes from the
/// endorsements the ledger picks.
fn certificates(o: &Objects) -> Vec<(&'static str, Vec<u8>)> {
    let nested = |e: &Envelope| pb::Envelope::decode(e.bytes()).expect("vector envelopes decode");
    let valid = certificate::assemble(&o.genesis, &o.proposal, &[o.a.clone(), o.b.clone()]);
    let mut malleated = nested(&o.b);
    add_l(&mut malleated.signatures[0].signature);
    let mut noncanonical = valid.clone();
    noncanonical.extend_from_slice(&[0x78, 0x01]); // field 15 (reserved), varint 1
    vec![
        ("valid", valid),
        ("below_threshold", certificate::assemble(&o.genesis, &o.proposal, std::slice::from_ref(&o.a))),
        ("unsorted", raw_certificate(o, vec![nested(&o.a), nested(&o.b)])),
        ("late", certificate::assemble(&o.genesis, &o.proposal, &[o.b.clone(), o.c_late.clone()])),
        ("objection", certificate::assemble(&o.genesis, &o.proposal, &[o.b.clone(), o.c_object.clone()])),
        ("non_canonical_s", raw_certificate(o, vec![malleated, nested(&o.a)])),
        ("reserved_field", noncanonical),
    ]
}

/// The governance vectors (section 11.8): `key.d` is admitted, `key.b`
/// delegates to `key.e`, `key.c` rotates to `key.f`, and a position under the
/// new roster version is endorsed by d, by e for b and by f for c.
struct Governance {
    more: [Keypair; 3],
    admit: Envelope,
    admit_ends: [Envelope; 3],
    delegation: Envelope,
    rotation: Envelope,
    position: Envelope,
    position_ends: [Envelope; 3],
    revocation: Envelope,
}

/// An endorsement of `p` for `trust`, signed by `signer` (the trust itself,
/// a rotated key or a delegate naming `delegation`).
fn endorse(
    coalition: ObjectId,
    signer: &Keypair,
    trust: &Keypair,
    p: &Envelope,
    at: u64,
    delegation: Option<ObjectId>,
) -> Envelope {
    let en = Endorsement {
        coalition,
        proposal: p.id(),
        trust: trust.public(),
        created_at_ms: at,
        stance: Stance::Endorse,
        comment: None,
        delegation,
    };
    Envelope::sign(Kind::Endorsement, en.to_body(), &[signer])
}

fn governance_objects(o: &Objects) -> Governance {
    let [a, b, c] = &o.keys;
    let d = Keypair::from_seed(&seed(RFC8032_MORE[0].0));
    let e = Keypair::from_seed(&seed(RFC8032_MORE[1].0));
    let f = Keypair::from_seed(&[0x66; 32]);
    let coalition = o.genesis.id();
    let admit = Proposal {
        coalition,
        roster: coalition,
        author: a.public(),
        created_at_ms: T + DAY,
        closes_at_ms: None,
        title: "Admit Dales Multi-Academy Trust".into(),
        body: "Dales joins the coalition.".into(),
        link: None,
        action: Some(Action::Admit(Member {
            key: d.public(),
            name: "Dales Multi-Academy Trust".into(),
            external_id: Some("09876543".into()),
            attributes: Default::default(),
        })),
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    let admit = Envelope::sign(Kind::Proposal, admit.to_body(), &[a]);
    let stance = |signer: &Keypair, trust: &Keypair, p: &Envelope, at: u64, delegation: Option<ObjectId>| {
        endorse(coalition, signer, trust, p, at, delegation)
    };
    let admit_ends = [a, b, c].map(|k| stance(k, k, &admit, T + DAY + HOUR, None));
    let delegation = Delegation {
        coalition,
        trust: b.public(),
        delegate: e.public(),
        name: "Priya Shah".into(),
        role: "Chief executive".into(),
        valid_from_ms: T,
        valid_until_ms: Some(T + 90 * DAY),
        scope: SCOPE_STANCES,
        created_at_ms: T + DAY,
    };
    let delegation = Envelope::sign(Kind::Delegation, delegation.to_body(), &[b]);
    let rotation = KeyRotation {
        coalition,
        trust: c.public(),
        new_key: f.public(),
        keep: vec![admit_ends[2].id()],
        created_at_ms: T + 2 * DAY,
    };
    let rotation = Envelope::sign(Kind::KeyRotation, rotation.to_body(), &[c]);
    let heads = vec![admit.id()];
    let position = Proposal {
        coalition,
        roster: version_id(&coalition, &heads),
        author: d.public(),
        created_at_ms: T + 3 * DAY,
        closes_at_ms: Some(T + 10 * DAY),
        title: "Adopt the shared safeguarding policy".into(),
        body: "The member trusts adopt the safeguarding policy in annex B.".into(),
        link: None,
        action: None,
        roster_heads: heads,
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    let position = Envelope::sign(Kind::Proposal, position.to_body(), &[&d]);
    let position_ends = [
        stance(&d, &d, &position, T + 3 * DAY + HOUR, None),
        stance(&e, b, &position, T + 3 * DAY + 2 * HOUR, Some(delegation.id())),
        stance(&f, c, &position, T + 3 * DAY + 3 * HOUR, None),
    ];
    let revocation = Revocation {
        coalition,
        trust: b.public(),
        delegation: delegation.id(),
        keep: vec![position_ends[1].id()],
        created_at_ms: T + 4 * DAY,
    };
    let revocation = Envelope::sign(Kind::Revocation, revocation.to_body(), &[b]);
    Governance { more: [d, e, f], admit, admit_ends, delegation, rotation, position, position_ends, revocation }
}

impl Governance {
    fn all(&self) -> Vec<&Envelope> {
        let mut v = vec![&self.admit, &self.delegation, &self.rotation, &self.position, &self.revocation];
        v.extend(&self.admit_ends);
        v.extend(&self.position_ends);
        v
    }

    /// A ledger that ingested every object, in reverse order, retrying what
    /// it had to defer, as a node would.
    fn ledger(&self, o: &Objects) -> Ledger {
        let coalition = Coalition::from_genesis(o.genesis.bytes(), 1).expect("vector genesis is valid");
        let mut ingest = chorus_core::Ingest::new(coalition.clone(), 0);
        let mut replay = chorus_core::Replay::new(T + 20 * DAY);
        let items = self.all().into_iter().rev().map(|env| ((), Ledger::check_signature(&coalition, env.bytes())));
        let out = ingest.replay(&mut replay, items);
        assert_eq!(out.refused.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>(), Vec::<String>::new());
        assert!(replay.finish().is_empty(), "every governance vector object is admitted eventually");
        ingest.into_ledger()
    }

    /// Certificates: valid, and without the rotation, and without the admission.
    fn certificates(&self, o: &Objects) -> Vec<(&'static str, Vec<u8>)> {
        let ledger = self.ledger(o);
        let chain: Vec<Envelope> = ledger
            .certificate_chain(&self.position.id())
            .expect("the position is adopted")
            .iter()
            .map(|id| self.all().into_iter().find(|e| e.id() == *id).expect("a vector object").clone())
            .collect();
        let without = |id: ObjectId| chain.iter().filter(|e| e.id() != id).cloned().collect::<Vec<_>>();
        let cert = |chain: &[Envelope]| {
            certificate::assemble_with_chain(&o.genesis, &self.position, &self.position_ends, chain)
        };
        vec![
            ("gov_valid", cert(&chain)),
            ("gov_missing_rotation", cert(&without(self.rotation.id()))),
            ("gov_missing_admission", cert(&without(self.admit.id()))),
        ]
    }
}

fn certificate_lines(group: &mut Group, coalition: ObjectId, certs: Vec<(&'static str, Vec<u8>)>) {
    for (name, bytes) in certs {
        group.put(format!("certificate.{name}"), hex::encode(&bytes));
        match certificate::verify_with_threads(&bytes, Some(coalition), 1) {
            Ok(pos) => {
                group.put(format!("certificate.{name}.result"), support::result_line(&pos));
                if !pos.breakdown.breadth.is_empty() {
                    group.put(format!("certificate.{name}.breadth"), breadth_line(&pos.breakdown));
                }
            }
            Err(e) => {
                group.put(format!("certificate.{name}.error"), error_code(&e));
                group.put(format!("certificate.{name}.message"), e.to_string());
            }
        }
    }
}

/// The breadth rules of a verified certificate, in charter order: the
/// rule, the distinct values its endorsers show, the `each_of` values none
/// shows, and whether it is met.
fn breadth_line(b: &chorus_core::Breakdown) -> String {
    b.breadth
        .iter()
        .map(|s| format!("{} distinct={} missing=[{}] met={}", s.rule, s.distinct, s.missing.join(","), s.met))
        .collect::<Vec<_>>()
        .join("; ")
}

fn governance_group(o: &Objects) -> Group {
    let g = governance_objects(o);
    let mut group = Group::new("governance");
    for (name, key) in ["d", "e", "f"].iter().zip(&g.more) {
        group.put(format!("key.{name}.seed"), hex::encode(key.seed()));
        group.put(format!("key.{name}.public"), key.public().to_hex());
    }
    group.envelope("gov.admit", &g.admit);
    for (name, e) in ["a", "b", "c"].iter().zip(&g.admit_ends) {
        group.envelope(&format!("gov.admit.endorsement.{name}"), e);
    }
    group.put("gov.version.id", version_id(&o.genesis.id(), &[g.admit.id()]).to_hex());
    group.envelope("gov.delegation", &g.delegation);
    group.envelope("gov.rotation", &g.rotation);
    group.envelope("gov.position", &g.position);
    for (name, e) in ["d", "e_for_b", "f_for_c"].iter().zip(&g.position_ends) {
        group.envelope(&format!("gov.position.endorsement.{name}"), e);
    }
    group.envelope("gov.revocation", &g.revocation);
    let ledger = g.ledger(o);
    let (heads, version) = ledger.head_version();
    group.put(
        "gov.ledger.head_version",
        format!("{version} heads={}", heads.iter().map(ObjectId::to_hex).collect::<Vec<_>>().join(",")),
    );
    let (roster, charter) = ledger.head_roster().expect("the head version resolves");
    group.put("gov.ledger.roster", roster.members().map(|m| m.key.to_hex()).collect::<Vec<_>>().join(","));
    group.put(
        "gov.ledger.charter",
        format!(
            "positions={}/{} membership={}/{} amendments={}/{}",
            charter.positions.numerator,
            charter.positions.denominator,
            charter.membership.numerator,
            charter.membership.denominator,
            charter.amendments.numerator,
            charter.amendments.denominator
        ),
    );
    let t = ledger.tally(&g.position.id()).expect("the position is tallied");
    group.put(
        "gov.ledger.tally",
        format!(
            "members={} required={} endorse={} object={} abstain={} equivocations={} late={}",
            t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late
        ),
    );
    let chain = ledger.certificate_chain(&g.position.id()).expect("adopted");
    group.put("gov.ledger.certificate_chain", chain.iter().map(ObjectId::to_hex).collect::<Vec<_>>().join(","));
    certificate_lines(&mut group, o.genesis.id(), g.certificates(o));
    group
}

/// Section 11.9: one verification algorithm for every certificate. The
/// rule that applies follows the proposal's action, a void action fails, an
/// object the proof does not need changes no verdict (but an unadopted
/// governance proposal in the chain fails), and the knowledge rules of 12.8
/// name what is wrong or missing.
fn rules_group(o: &Objects) -> Group {
    let g = governance_objects(o);
    let [a, b, c] = &o.keys;
    let [d, e, f] = &g.more;
    let coalition = o.genesis.id();
    let governance = |author: &Keypair, at: u64, title: &str, action: Action| {
        let p = Proposal {
            coalition,
            roster: coalition,
            author: author.public(),
            created_at_ms: at,
            closes_at_ms: None,
            title: title.into(),
            body: String::new(),
            link: None,
            action: Some(action),
            roster_heads: vec![],
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        Envelope::sign(Kind::Proposal, p.to_body(), &[author])
    };
    let stance = |signer: &Keypair, trust: &Keypair, p: &Envelope, at: u64, delegation: Option<ObjectId>| {
        endorse(coalition, signer, trust, p, at, delegation)
    };
    let amend = governance(
        a,
        T + 5 * DAY,
        "Lower the positions rule to a simple majority",
        Action::AmendCharter(Charter::default()),
    );
    let amend_ends = [a, b].map(|k| stance(k, k, &amend, T + 5 * DAY + HOUR, None));
    let remove = governance(a, T + 6 * DAY, "Remove Dales Multi-Academy Trust", Action::Remove(d.public()));
    let remove_ends = [a, b, c].map(|k| stance(k, k, &remove, T + 6 * DAY + HOUR, None));
    // A delegation of trust b signed by f, which is a key of c, not of b.
    let stray = Delegation {
        coalition,
        trust: b.public(),
        delegate: e.public(),
        name: "Priya Shah".into(),
        role: String::new(),
        valid_from_ms: T,
        valid_until_ms: None,
        scope: SCOPE_STANCES,
        created_at_ms: T + 2 * DAY,
    };
    let stray = Envelope::sign(Kind::Delegation, stray.to_body(), &[f]);
    let position_at = T + 3 * DAY + 2 * HOUR;
    let e_for_a = stance(e, a, &g.position, position_at, Some(g.delegation.id()));
    let a_as_delegate_of_b = stance(a, b, &g.position, position_at, Some(g.delegation.id()));
    let e_for_b_stray = stance(e, b, &g.position, position_at, Some(stray.id()));
    let d_on_proposal = stance(d, d, &o.proposal, T + 2 * HOUR, None);
    // A proposal whose roster_heads holds one empty element: canonical (a
    // repeated bytes field writes every element), refused by A6.
    let empty_head = {
        let p = Proposal {
            coalition,
            roster: coalition,
            author: a.public(),
            created_at_ms: T + HOUR,
            closes_at_ms: None,
            title: "Empty head".into(),
            body: String::new(),
            link: None,
            action: None,
            roster_heads: vec![],
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        let mut body = pb::Proposal::decode(p.to_body().as_slice()).expect("decodes");
        body.roster_heads = vec![vec![]];
        Envelope::sign(Kind::Proposal, body.encode_to_vec(), &[a])
    };

    let ledger = g.ledger(o);
    let chain: Vec<Envelope> = ledger
        .certificate_chain(&g.position.id())
        .expect("the position is adopted")
        .iter()
        .map(|id| g.all().into_iter().find(|e| e.id() == *id).expect("a vector object").clone())
        .collect();
    let with = |extra: &[&Envelope], leave_out: &[ObjectId]| {
        let mut v: Vec<Envelope> = chain.iter().filter(|e| !leave_out.contains(&e.id())).cloned().collect();
        v.extend(extra.iter().map(|e| (*e).clone()));
        v
    };
    let [pd, _, pf] = &g.position_ends;
    let position =
        |ends: &[Envelope], chain: &[Envelope]| certificate::assemble_with_chain(&o.genesis, &g.position, ends, chain);
    let plain = |p: &Envelope, ends: &[Envelope], chain: &[Envelope]| {
        certificate::assemble_with_chain(&o.genesis, p, ends, chain)
    };
    let certs = vec![
        ("rule_admit_valid", plain(&g.admit, &g.admit_ends, &[])),
        ("rule_admit_two_of_three", plain(&g.admit, &g.admit_ends[..2], &[])),
        (
            "rule_admit_two_of_three_unneeded_delegation",
            plain(&g.admit, &g.admit_ends[..2], std::slice::from_ref(&g.delegation)),
        ),
        ("rule_amend_two_of_three", plain(&amend, &amend_ends, &[])),
        ("rule_remove_non_member", plain(&remove, &remove_ends, &[])),
        (
            "rule_remove_non_member_unneeded_delegation",
            plain(&remove, &remove_ends, std::slice::from_ref(&g.delegation)),
        ),
        ("chain_unneeded_unadopted", position(&g.position_ends, &with(&[&amend], &[]))),
        ("delegation_of_another_trust", position(&[pd.clone(), e_for_a, pf.clone()], &chain)),
        ("delegate_not_the_signer", position(&[pd.clone(), a_as_delegate_of_b, pf.clone()], &chain)),
        (
            "delegation_signed_by_an_unknown_key",
            position(&[pd.clone(), e_for_b_stray, pf.clone()], &with(&[&stray], &[g.delegation.id()])),
        ),
        ("non_member_endorsement", plain(&o.proposal, &[d_on_proposal, o.b.clone()], &[])),
        ("empty_roster_head", plain(&empty_head, &[], &[])),
    ];
    let mut group = Group::new("one algorithm");
    group.envelope("rules.amend", &amend);
    group.envelope("rules.remove", &remove);
    group.envelope("rules.stray_delegation", &stray);
    certificate_lines(&mut group, coalition, certs);
    group
}

/// Section 11.10: the edges of the encoding rule (section 2), as
/// certificates of a few bytes.
fn encoding_group() -> Group {
    let nested_groups = |n: usize| {
        let mut v = Vec::new();
        for _ in 0..n {
            v.extend([0xa3, 0x01]); // field 20, start group
        }
        for _ in 0..n {
            v.extend([0xa4, 0x01]); // field 20, end group
        }
        v
    };
    let with_version = |rest: &[u8]| {
        let mut v = vec![0x08, 0x01]; // version = 1
        v.extend_from_slice(rest);
        v
    };
    let certs: Vec<(&'static str, Vec<u8>)> = vec![
        ("varint_eleven_bytes", vec![0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        ("varint_over_64_bits", vec![0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]),
        ("varint_not_minimal", vec![0x08, 0x81, 0x00]),
        ("uint32_over_32_bits", vec![0x08, 0x81, 0x80, 0x80, 0x80, 0x10]),
        ("field_number_zero", with_version(&[0x00, 0x01])),
        ("key_over_32_bits", with_version(&[0x80, 0x80, 0x80, 0x80, 0x10, 0x01])),
        ("wire_type_6", with_version(&[0x0e, 0x01])),
        ("wire_type_7", with_version(&[0x0f, 0x01])),
        ("lone_end_group", with_version(&[0xa4, 0x01])),
        ("mismatched_end_group", with_version(&[0xa3, 0x01, 0xac, 0x01])),
        ("unknown_group", with_version(&nested_groups(1))),
        ("unknown_groups_100_deep", with_version(&nested_groups(100))),
        ("unknown_groups_101_deep", with_version(&nested_groups(101))),
        ("defined_field_wrong_wire_type", vec![0x0a, 0x01, 0x01]),
        ("truncated_length", with_version(&[0x12, 0x05, 0x08])),
        ("field_written_twice", with_version(&[0x08, 0x01])),
        // genesis = Envelope { kind = 2^31 }: read as a 32-bit enum it is
        // negative, whose encoding is 10 bytes, not these 5.
        ("enum_not_sign_extended", with_version(&[0x12, 0x06, 0x08, 0x80, 0x80, 0x80, 0x80, 0x08])),
    ];
    let mut group = Group::new("encoding");
    for (name, bytes) in certs {
        group.put(format!("certificate.{name}"), hex::encode(&bytes));
        let e = certificate::verify_with_threads(&bytes, None, 1).expect_err("none of these is a certificate");
        group.put(format!("certificate.{name}.error"), error_code(&e));
    }
    group
}

/// Objects of reserved kinds (section 11.11): a ballot (kind 11) by
/// `key.a` with a tail a v1 node never reads, and a kind-4 object by
/// `key.b` with no tail; both are admitted as opaque objects.
fn opaque_objects(o: &Objects) -> [(&'static str, Envelope); 2] {
    let [a, b, _] = &o.keys;
    let header = |at: u64| OpaqueHeader { coalition: o.genesis.id(), created_at_ms: at }.to_bytes();
    let mut ballot = header(T + 5 * HOUR);
    let text = "A ballot a v1 node keeps without reading it.";
    ballot.extend_from_slice(&[0x1a, text.len() as u8]);
    ballot.extend_from_slice(text.as_bytes());
    let kind = |n| Kind::from_wire(n).expect("a reserved kind");
    [
        ("opaque.ballot", Envelope::sign(kind(11), ballot, &[a])),
        ("opaque.kind_4", Envelope::sign(kind(4), header(T + 6 * HOUR), &[b])),
    ]
}

fn opaque_group(o: &Objects) -> Group {
    let mut group = Group::new("opaque");
    let coalition = Coalition::from_genesis(o.genesis.bytes(), 1).expect("vector genesis is valid");
    let mut ledger = Ledger::new(coalition);
    let before = ledger.positions();
    for (name, env) in opaque_objects(o) {
        group.put(format!("{name}.kind"), env.kind().wire().to_string());
        group.envelope(name, &env);
        let v = ledger.validate(env.bytes(), T + DAY).expect("the opaque vectors are admitted");
        let Object::Opaque(h) = v.object() else { panic!("{name} is an opaque object") };
        group.put(format!("{name}.sync_key"), format!("{} {}", h.created_at_ms, v.id()));
        ledger.apply(&v);
    }
    assert_eq!(ledger.positions(), before);
    // The valid certificate with the ballot in its chain: a certificate
    // carries no opaque object (9.2, 9.3).
    let valid = certificate::assemble(&o.genesis, &o.proposal, &[o.a.clone(), o.b.clone()]);
    let mut with_opaque = pb::Certificate::decode(valid.as_slice()).expect("the valid certificate decodes");
    let [(_, ballot), _] = opaque_objects(o);
    with_opaque.chain.push(pb::Envelope::decode(ballot.bytes()).expect("vector envelopes decode"));
    certificate_lines(&mut group, o.genesis.id(), vec![("opaque_in_chain", with_opaque.encode_to_vec())]);
    group
}

fn generate() -> Vec<Group> {
    let o = objects();
    let mut keys = Group::new("keys");
    for (name, key) in ["a", "b", "c"].iter().zip(&o.keys) {
        keys.put(format!("key.{name}.seed"), hex::encode(key.seed()));
        keys.put(format!("key.{name}.public"), key.public().to_hex());
    }
    let mut genesis = Group::new("genesis");
    genesis.envelope("genesis", &o.genesis);
    let mut proposal = Group::new("proposal");
    proposal.envelope("proposal", &o.proposal);
    let mut endorsements = Group::new("endorsements");
    endorsements.envelope("endorsement.a", &o.a);
    endorsements.envelope("endorsement.b", &o.b);
    endorsements.envelope("endorsement.c_object", &o.c_object);
    endorsements.envelope("endorsement.c_late", &o.c_late);

    let mut ledger = Group::new("ledger");
    let (tally, picked) = ledger_outcome(&o);
    ledger.put("ledger.tally", tally);
    ledger.put("ledger.certificate_endorsements", picked);

    let mut certs = Group::new("certificates");
    certificate_lines(&mut certs, o.genesis.id(), certificates(&o));
    let governance = governance_group(&o);
    let rules = rules_group(&o);
    let encoding = encoding_group();
    let opaque = opaque_group(&o);
    let attributes = attributes_group(&o);
    let deliberation = deliberation::group(&o);
    vec![
        keys,
        genesis,
        proposal,
        endorsements,
        ledger,
        certs,
        governance,
        rules,
        encoding,
        opaque,
        attributes,
        deliberation,
    ]
}

/// Feeds every object through ingest and the ledger, as a node would.
fn ledger_outcome(o: &Objects) -> (String, String) {
    let coalition = Coalition::from_genesis(o.genesis.bytes(), 1).expect("vector genesis is valid");
    let mut ledger = Ledger::new(coalition.clone());
    let now = o.closes_at_ms + HOUR;
    for env in [&o.c_late, &o.b, &o.c_object, &o.proposal, &o.a] {
        let v = ledger.validate(env.bytes(), now).expect("vector objects pass ingest");
        ledger.apply(&v);
    }
    let id = o.proposal.id();
    let t = ledger.tally(&id).expect("the proposal is known");
    let tally = format!(
        "members={} required={} endorse={} object={} abstain={} equivocations={} late={}",
        t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late
    );
    let picked = ledger.certificate_endorsements(&id).expect("the proposal is adopted");
    (tally, picked.iter().map(ObjectId::to_hex).collect::<Vec<_>>().join(","))
}

fn render(groups: &[Group]) -> String {
    let mut out = String::new();
    for g in groups {
        out.push_str("```vectors\n");
        out.push_str(&format!("# {}\n", g.title));
        for (name, value) in &g.lines {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push_str("```\n\n");
    }
    out
}

/// Every `name: value` line of every ```` ```vectors ```` block of the document.
fn parse_doc(doc: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for (n, line) in doc.lines().enumerate() {
        let trimmed = line.trim_end();
        if !inside {
            inside = trimmed == "```vectors";
            continue;
        }
        if trimmed == "```" {
            inside = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, value) = trimmed
            .split_once(": ")
            .ok_or_else(|| format!("line {}: expected `name: value`, got {trimmed:?}", n + 1))?;
        if out.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(format!("line {}: vector {name} appears twice", n + 1));
        }
    }
    Ok(out)
}

fn read_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Member attributes, value sets and breadth rules (PROTOCOL.md 11.12): a
/// coalition of the same keys whose charter has value sets and a positions
/// rule of more than 1/3 with "endorsers from at least 2 distinct regions",
/// a position endorsed by a (London) and b (Yorkshire), a member amendment
/// giving c a region, adopted by all three, and a second position pinned
/// to the version it makes, endorsed by a and c. Certificates: a and b
/// (valid), a and c under the genesis version (c declares no region: fails
/// on breadth), a and c under the amended version (valid, the amendment in
/// the chain), and a genesis declaring a region outside the set.
fn attributes_group(o: &Objects) -> Group {
    use chorus_core::{Attribute, AttributeSets, BreadthRule, BreadthRules, MemberAttributes};
    let [a, b, c] = &o.keys;
    let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let charter = Charter {
        positions: AdoptionRule::new(1, 3).expect("1/3 is a valid rule"),
        attributes: AttributeSets {
            regions: text(&["London", "North West", "Yorkshire"]),
            phases: text(&["primary", "secondary"]),
            trust_types: text(&["multi-academy trust", "single-academy trust"]),
            school_bands: vec![],
        },
        breadth: BreadthRules {
            positions: vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }],
            ..BreadthRules::default()
        },
        ..Charter::default()
    };
    let member = |k: &Keypair, name: &str, attributes: MemberAttributes| Member {
        key: k.public(),
        name: name.into(),
        external_id: None,
        attributes,
    };
    let genesis_body = Genesis {
        name: "Vector Coalition with attributes".into(),
        charter,
        founders: vec![
            member(
                a,
                "Northfield Learning Trust",
                MemberAttributes {
                    region: Some("London".into()),
                    phase: Some("primary".into()),
                    trust_type: Some("multi-academy trust".into()),
                    schools: Some(12),
                    pupils: Some(5400),
                    labels: text(&["la:Camden"]),
                },
            ),
            member(
                b,
                "Riverside Academies",
                MemberAttributes {
                    region: Some("Yorkshire".into()),
                    phase: Some("secondary".into()),
                    schools: Some(3),
                    pupils: Some(2100),
                    ..MemberAttributes::default()
                },
            ),
            member(c, "Hillcrest Schools Partnership", MemberAttributes::default()),
        ],
        created_at_ms: T,
        nonce: b"vectors2".to_vec(),
    };
    let genesis = Envelope::sign(Kind::Genesis, genesis_body.to_body(), &[a, b, c]);
    let coalition = genesis.id();
    let proposal = |title: &str, at: u64, action: Option<Action>| {
        let p = Proposal {
            coalition,
            roster: coalition,
            author: a.public(),
            created_at_ms: at,
            closes_at_ms: None,
            title: title.into(),
            body: String::new(),
            link: None,
            action,
            roster_heads: vec![],
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        Envelope::sign(Kind::Proposal, p.to_body(), &[a])
    };
    let position = proposal("Adopt the regional pay statement", T + HOUR, None);
    let amend = proposal(
        "Hillcrest declares its region",
        T + 2 * HOUR,
        Some(Action::AmendMember {
            trust: c.public(),
            attributes: MemberAttributes { region: Some("North West".into()), ..MemberAttributes::default() },
        }),
    );
    let endorse = |key: &Keypair, p: &Envelope, at: u64| {
        let e = Endorsement {
            coalition,
            proposal: p.id(),
            trust: key.public(),
            created_at_ms: at,
            stance: Stance::Endorse,
            comment: None,
            delegation: None,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
    };
    let ends = [a, b, c].map(|k| endorse(k, &position, T + 3 * HOUR));
    let amend_ends = [a, b, c].map(|k| endorse(k, &amend, T + 3 * HOUR));
    // A position pinned to the version the amendment makes, where c's
    // region counts.
    let amended_version = version_id(&coalition, &[amend.id()]);
    let pinned = Proposal {
        coalition,
        roster: amended_version,
        author: a.public(),
        created_at_ms: T + 4 * HOUR,
        closes_at_ms: None,
        title: "Adopt the regional pay statement, second reading".into(),
        body: String::new(),
        link: None,
        action: None,
        roster_heads: vec![amend.id()],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    let pinned = Envelope::sign(Kind::Proposal, pinned.to_body(), &[a]);
    let pinned_ends = [a, c].map(|k| endorse(k, &pinned, T + 5 * HOUR));
    let mut group = Group::new("attributes");
    group.envelope("attr.genesis", &genesis);
    group.envelope("attr.position", &position);
    for (name, e) in ["a", "b", "c"].iter().zip(&ends) {
        group.envelope(&format!("attr.position.endorsement.{name}"), e);
    }
    group.envelope("attr.amend_member", &amend);
    for (name, e) in ["a", "b", "c"].iter().zip(&amend_ends) {
        group.envelope(&format!("attr.amend_member.endorsement.{name}"), e);
    }
    group.put("attr.amended_version.id", amended_version.to_hex());
    group.envelope("attr.pinned", &pinned);
    for (name, e) in ["a", "c"].iter().zip(&pinned_ends) {
        group.envelope(&format!("attr.pinned.endorsement.{name}"), e);
    }
    let coalition_v = Coalition::from_genesis(genesis.bytes(), 1).expect("the attribute genesis is valid");
    let mut ledger = Ledger::new(coalition_v);
    for env in [&position, &ends[0], &ends[1], &amend] {
        let v = ledger.validate(env.bytes(), T + DAY).expect("vector objects pass ingest");
        ledger.apply(&v);
    }
    let b = ledger.breakdown(&position.id()).expect("the position is tallied");
    let rows = |attribute| {
        b.by(attribute)
            .iter()
            .map(|r| format!("{}={}", r.value.as_deref().unwrap_or("-"), r.endorse))
            .collect::<Vec<_>>()
            .join(",")
    };
    group.put(
        "attr.ledger.breakdown",
        format!(
            "adopted={} region={} size_band={} schools={} pupils={}",
            ledger.is_adopted(&position.id()),
            rows(Attribute::Region),
            rows(Attribute::SizeBand),
            b.endorser_schools,
            b.endorser_pupils
        ),
    );
    let stances = |attribute| {
        b.by(attribute)
            .iter()
            .map(|r| {
                let value = r.value.as_deref().unwrap_or("-");
                format!("{value}:{}/{}/{}/{}", r.endorse, r.object, r.abstain, r.silent)
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    group.put(
        "attr.ledger.breakdown.stances",
        Attribute::ALL
            .iter()
            .map(|&a| format!("{}=[{}]", a.plural().replace(' ', "_"), stances(a)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let cert = |ends: &[&Envelope]| {
        let ends: Vec<Envelope> = ends.iter().map(|e| (*e).clone()).collect();
        certificate::assemble(&genesis, &position, &ends)
    };
    let mut chain = vec![amend.clone()];
    chain.extend(amend_ends.iter().cloned());
    let amended = certificate::assemble_with_chain(&genesis, &pinned, &pinned_ends, &chain);
    // The same genesis, but c declares a region the charter does not list.
    let mut outside = genesis_body.clone();
    outside.founders[2].attributes.region = Some("Cornwall".into());
    let outside = Envelope::sign(Kind::Genesis, outside.to_body(), &o.keys.iter().collect::<Vec<_>>());
    let outside = certificate::assemble(&outside, &position, &[ends[0].clone(), ends[1].clone()]);
    let certs = vec![
        ("attr_valid", cert(&[&ends[0], &ends[1]])),
        ("attr_breadth", cert(&[&ends[0], &ends[2]])),
        ("attr_amended_valid", amended),
        ("attr_founder_outside_set", outside),
    ];
    certificate_lines(&mut group, coalition, certs);
    group
}

#[test]
#[ignore = "prints the attribute vectors (PROTOCOL.md 11.12) alone; run with --ignored --nocapture"]
fn print_attribute_vectors() {
    print!("{}", render(&[attributes_group(&objects())]));
}

/// The attribute vectors hold what section 11.12 says they hold.
#[test]
fn attribute_vectors_say_what_they_claim() {
    let g = attributes_group(&objects());
    let get = |n: &str| g.lines.iter().find(|(name, _)| name == n).map(|(_, v)| v.clone()).expect(n);
    assert!(get("certificate.attr_valid.result").starts_with("ok "));
    assert!(get("certificate.attr_valid.breadth").ends_with("distinct=2 missing=[] met=true"));
    assert_eq!(get("certificate.attr_breadth.error"), "Breadth");
    assert!(get("certificate.attr_amended_valid.result").starts_with("ok "));
    assert_eq!(get("certificate.attr_founder_outside_set.error"), "Genesis/InvalidField");
    assert!(get("attr.ledger.breakdown").starts_with("adopted=true region=London=1,North West=0,Yorkshire=1,-=0"));
}

#[test]
#[ignore = "prints the vector blocks for docs/PROTOCOL.md; run with --ignored --nocapture"]
fn print_vectors() {
    print!("{}", render(&generate()));
}

#[test]
fn document_vectors_match_the_code() {
    let generated = generate();
    let doc = parse_doc(&read_doc()).unwrap_or_else(|e| panic!("docs/PROTOCOL.md: {e}"));
    let mut problems = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (name, value) in generated.iter().flat_map(|g| &g.lines) {
        names.insert(name.clone());
        match doc.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(v) if v != value => problems.push(format!("differs: {name}\n  doc:  {v}\n  code: {value}")),
            Some(_) => {}
        }
    }
    for name in doc.keys().filter(|n| !names.contains(*n)) {
        problems.push(format!("in the document but not generated: {name}"));
    }
    assert!(
        problems.is_empty(),
        "docs/PROTOCOL.md test vectors do not match the code:\n{}\n\nIf the protocol change is deliberate, print the \
         blocks with\n  {REGENERATE}\nand replace the ```vectors blocks of section 11 with them.",
        problems.join("\n")
    );
}

/// The signing input and the id, recomputed from the document's hex with
/// nothing but SHA-256 and ed25519: what an auditor would do.
#[test]
fn ids_and_signatures_check_independently() {
    let doc = parse_doc(&read_doc()).expect("vector blocks parse");
    let get = |name: &str| -> Vec<u8> {
        let v = doc.get(name).unwrap_or_else(|| panic!("vector {name} is missing; regenerate with {REGENERATE}"));
        hex::decode(v).unwrap_or_else(|e| panic!("vector {name} is not hex: {e}"))
    };
    for ((_, public), name) in RFC8032.iter().zip(["a", "b", "c"]) {
        assert_eq!(hex::encode(get(&format!("key.{name}.public"))), *public, "key.{name} is RFC 8032's");
    }
    let objects = [
        ("genesis", "genesis"),
        ("proposal", "proposal"),
        ("endorsement.a", "endorsement"),
        ("endorsement.b", "endorsement"),
        ("endorsement.c_object", "endorsement"),
        ("endorsement.c_late", "endorsement"),
        ("gov.admit", "proposal"),
        ("gov.admit.endorsement.a", "endorsement"),
        ("gov.admit.endorsement.b", "endorsement"),
        ("gov.admit.endorsement.c", "endorsement"),
        ("gov.delegation", "delegation"),
        ("gov.rotation", "key-rotation"),
        ("gov.position", "proposal"),
        ("gov.position.endorsement.d", "endorsement"),
        ("gov.position.endorsement.e_for_b", "endorsement"),
        ("gov.position.endorsement.f_for_c", "endorsement"),
        ("gov.revocation", "revocation"),
        ("opaque.ballot", "ballot"),
        ("opaque.kind_4", "kind-4"),
        ("attr.genesis", "genesis"),
        ("attr.position", "proposal"),
        ("attr.position.endorsement.a", "endorsement"),
        ("attr.position.endorsement.b", "endorsement"),
        ("attr.position.endorsement.c", "endorsement"),
        ("attr.amend_member", "proposal"),
        ("attr.amend_member.endorsement.a", "endorsement"),
        ("attr.amend_member.endorsement.b", "endorsement"),
        ("attr.amend_member.endorsement.c", "endorsement"),
        ("attr.pinned", "proposal"),
        ("attr.pinned.endorsement.a", "endorsement"),
        ("attr.pinned.endorsement.c", "endorsement"),
        ("delib.draft", "proposal"),
        ("delib.comment", "comment"),
        ("delib.reply", "comment"),
        ("delib.amendment", "comment"),
        ("delib.draft.endorsement.a", "endorsement"),
        ("delib.stray_open_voting", "kind-13"),
        ("delib.draft.withdrawal", "kind-14"),
        ("delib.revision", "proposal"),
        ("delib.revision.open_voting", "kind-13"),
        ("delib.revision.objection.c", "endorsement"),
        ("delib.withdrawn.withdrawal", "kind-14"),
    ];
    for (name, kind) in objects {
        let body = get(&format!("{name}.body"));
        let mut input = format!("chorus/v1/{kind}\n").into_bytes();
        input.extend_from_slice(&body);
        let id: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(id.to_vec(), get(&format!("{name}.id")), "{name}.id is SHA-256 of the prefixed body");
        if kind == "genesis" {
            // Founders sign the genesis-id prefix and the id, not the body.
            input = b"chorus/v1/genesis-id\n".to_vec();
            input.extend_from_slice(&id);
        }

        let env = pb::Envelope::decode(get(&format!("{name}.envelope")).as_slice()).expect("envelope decodes");
        assert_eq!(env.body, body, "{name}.envelope carries {name}.body verbatim");
        assert_eq!(env.encode_to_vec(), get(&format!("{name}.envelope")), "{name}.envelope is canonical");
        assert!(!env.signatures.is_empty());
        for s in &env.signatures {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&s.signer.as_slice().try_into().expect("32 bytes"))
                .expect("signer is a point");
            let sig = ed25519_dalek::Signature::from_slice(&s.signature).expect("64 bytes");
            key.verify_strict(&input, &sig).unwrap_or_else(|e| panic!("{name}: signature does not verify: {e}"));
        }
        if kind == "genesis" {
            assert_eq!(env.kind, 1);
            assert_eq!(env.signatures.len(), 3, "every founder countersigns");
        }
    }
    for kind in Kind::ALL {
        assert_eq!(kind.signing_prefix(), format!("chorus/v1/{}\n", kind.name()).as_bytes());
    }
    for ((_, public), name) in RFC8032_MORE.iter().zip(["d", "e"]) {
        assert_eq!(hex::encode(get(&format!("key.{name}.public"))), *public, "key.{name} is RFC 8032's");
    }
    // The roster version id: SHA-256 of the prefix, the coalition id and
    // the one head.
    let mut input = b"chorus/v1/roster\n".to_vec();
    input.extend_from_slice(&get("genesis.id"));
    input.extend_from_slice(&get("gov.admit.id"));
    let version: [u8; 32] = Sha256::digest(&input).into();
    assert_eq!(version.to_vec(), get("gov.version.id"));
    let mut input = b"chorus/v1/roster\n".to_vec();
    input.extend_from_slice(&get("attr.genesis.id"));
    input.extend_from_slice(&get("attr.amend_member.id"));
    let version: [u8; 32] = Sha256::digest(&input).into();
    assert_eq!(version.to_vec(), get("attr.amended_version.id"));
}

/// The certificates in the document verify, or fail, exactly as documented.
#[test]
fn document_certificates_verify_as_documented() {
    let doc = parse_doc(&read_doc()).expect("vector blocks parse");
    let main: ObjectId = doc["genesis.id"].parse().expect("genesis.id is an id");
    let attr: ObjectId = doc["attr.genesis.id"].parse().expect("attr.genesis.id is an id");
    let names: Vec<&str> =
        doc.keys().filter_map(|k| k.strip_prefix("certificate.")).filter(|k| !k.contains('.')).collect();
    assert!(names.contains(&"valid") && names.len() >= 2, "a valid and an invalid certificate are documented");
    for name in names {
        // 11.12: the attribute certificates are of their own coalition.
        let coalition = if name.starts_with("attr_") { attr } else { main };
        let bytes = hex::decode(&doc[&format!("certificate.{name}")]).expect("certificate is hex");
        for threads in [1, 4] {
            match certificate::verify_with_threads(&bytes, Some(coalition), threads) {
                Ok(pos) => {
                    let result = doc.get(&format!("certificate.{name}.result"));
                    assert!(
                        result.is_some_and(|r| r.starts_with("ok ")),
                        "{name} verifies but is documented as {result:?}"
                    );
                    assert_eq!(pos.coalition, coalition);
                }
                Err(e) => {
                    assert_eq!(doc.get(&format!("certificate.{name}.error")), Some(&error_code(&e)), "{name}");
                    // The encoding vectors (11.10) give no message: the
                    // decoder's wording is free.
                    if let Some(message) = doc.get(&format!("certificate.{name}.message")) {
                        assert_eq!(message, &e.to_string(), "{name}");
                    }
                }
            }
        }
    }
}

#[test]
fn the_ledger_picks_the_certificate_endorsements() {
    let o = objects();
    let (_, picked) = ledger_outcome(&o);
    // b's key sorts before a's, so b's endorsement comes first.
    assert_eq!(picked, format!("{},{}", o.b.id(), o.a.id()));
    let valid = certificate::assemble(&o.genesis, &o.proposal, &[o.a.clone(), o.b.clone()]);
    assert_eq!(
        valid,
        raw_certificate(
            &o,
            vec![pb::Envelope::decode(o.b.bytes()).unwrap(), pb::Envelope::decode(o.a.bytes()).unwrap()]
        )
    );
}
