//! The independent verifier (`tools/verify_certificate.py`, written in
//! Python from PROTOCOL.md alone) against this crate, certificate by
//! certificate: the vectors of the document, the certificates kept in
//! `tests/data/`, certificates of coalitions whose members declare
//! attributes under breadth rules (issue 15: breadth met and not met,
//! `amend_member`, admissions and charter amendments in the proof chain),
//! certificates of deliberation (drafts, voting windows, open-votings,
//! withdrawals, comments, dissent and seals: those the independent
//! verifier's own tests build, `tools/tests/cases.py`, and random histories
//! exported and sealed by a ledger of this crate, see
//! `support/deliberation_cases.rs`), and deterministic mutations of all of
//! them. Both must give the same verdict: for a valid certificate the same
//! result line, the same breakdown by attribute and the same report of
//! objectors, abstainers, silent members, seal and voting window, for an
//! invalid one the same error name and,
//! except for the decoder's wording of a `Malformed` input, the same
//! message. The verifier's own sentence for people ("endorsed by 5 of 8
//! member trusts, from 4 of 4 regions, ...") and its `--vectors` check of
//! the document are run too.
//!
//! Needs `python3` with PyNaCl (`pip install pynacl`). Without them the test
//! says so and passes, unless `CHORUS_REQUIRE_INDEPENDENT_VERIFIER=1` (set
//! by `.ci/run`), which makes their absence a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chorus_core::testkit::{member_key, Fixture, SplitMix, T0};
use chorus_core::{
    certificate, Action, AdoptionRule, Attribute, AttributeSets, BreadthRule, BreadthRules, Charter, Envelope, Genesis,
    Keypair, Kind, Member, MemberAttributes, ObjectId, Stance,
};
use chorus_proto::v1 as pb;
use prost::Message;
use serde_json::Value;

mod support;

#[path = "support/deliberation_cases.rs"]
mod deliberation_cases;

/// Mutations made of each certificate.
const MUTATIONS_PER_CERTIFICATE: usize = 120;

/// Random geneses with attributes, value sets and breadth rules (each gives
/// three certificates), and mutations made of each of their certificates.
const RANDOM_GENESES: usize = 200;
const MUTATIONS_PER_RANDOM_CERTIFICATE: usize = 6;

/// Random governance histories of the attribute coalition, each ending in
/// a position certified with a proof chain.
const RANDOM_HISTORIES: usize = 200;

/// Certificates made of each certificate of deliberation (drafts, voting
/// windows, dissent, seals) by changing its parts and encoding it again.
const EDITS_PER_DELIBERATION: usize = 3;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when `python3` can import PyNaCl.
fn python_with_nacl() -> bool {
    Command::new("python3")
        .args(["-c", "import nacl.signing"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One certificate to judge, with the coalition it is expected to be of.
struct Case {
    name: String,
    bytes: Vec<u8>,
    coalition: Option<ObjectId>,
}

/// The certificate vectors of PROTOCOL.md, expected to be of the vector
/// coalition (as the document verifies them).
fn document_cases() -> Vec<Case> {
    let doc = std::fs::read_to_string(root().join("docs/PROTOCOL.md")).expect("docs/PROTOCOL.md");
    let mut cases = Vec::new();
    let mut coalition = None;
    for line in doc.lines() {
        let Some((name, value)) = line.split_once(": ") else { continue };
        if name == "genesis.id" {
            coalition = value.parse().ok();
        }
        if let Some(cert) = name.strip_prefix("certificate.").filter(|n| !n.contains('.')) {
            let bytes = hex::decode(value).expect("certificate vectors are hex");
            cases.push(Case { name: format!("vector {cert}"), bytes, coalition });
        }
    }
    assert!(cases.len() > 30, "the document's certificate vectors are found");
    cases
}

/// The certificates kept in tests/data, each with the coalition named beside
/// it (`*.coalition` in its directory; the vector coalition otherwise).
fn data_cases(vector_coalition: ObjectId) -> Vec<Case> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&data).expect("tests/data").map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "cert")) {
            let stem = f.file_stem().unwrap().to_string_lossy();
            let named = files.iter().find(|c| {
                c.extension().is_some_and(|e| e == "coalition")
                    && stem.starts_with(c.file_stem().unwrap().to_string_lossy().as_ref())
            });
            let coalition = match named {
                Some(c) => std::fs::read_to_string(c).unwrap().trim().parse().ok(),
                None => Some(vector_coalition),
            };
            let bytes = std::fs::read(f).unwrap();
            cases.push(Case { name: format!("{}", f.strip_prefix(&data).unwrap().display()), bytes, coalition });
        }
    }
    cases
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The value sets of the attribute coalition: four regions, three phases,
/// two trust types, and size bands "1-2", "3-9", "10+".
fn attribute_sets() -> AttributeSets {
    AttributeSets {
        regions: strings(&["East Midlands", "London", "North West", "Yorkshire"]),
        phases: strings(&["all-through", "primary", "secondary"]),
        trust_types: strings(&["multi-academy trust", "single-academy trust"]),
        school_bands: vec![1, 3, 10],
    }
}

fn breadth(attribute: Attribute, min_distinct: u32, each_of: &[&str]) -> BreadthRule {
    BreadthRule { attribute, min_distinct, each_of: strings(each_of) }
}

/// Positions: more than 1/2, from at least 3 regions including London, and
/// an endorser running 10 or more schools. Membership: more than 1/3, from
/// at least 2 phases. Amendments: the default 3/4.
fn attribute_charter() -> Charter {
    Charter {
        positions: AdoptionRule::new(1, 2).expect("1/2 is a rule"),
        membership: AdoptionRule::new(1, 3).expect("1/3 is a rule"),
        attributes: attribute_sets(),
        breadth: BreadthRules {
            positions: vec![breadth(Attribute::Region, 3, &["London"]), breadth(Attribute::SizeBand, 0, &["10+"])],
            membership: vec![breadth(Attribute::Phase, 2, &[])],
            amendments: vec![],
        },
        ..Charter::default()
    }
}

/// What member `i` of eight (in key order) declares; 3 and 7 declare
/// nothing, 5 no region.
fn member_attributes(i: usize) -> MemberAttributes {
    let (region, phase, trust_type, schools, pupils, labels): (_, _, _, _, _, &[&str]) = match i {
        0 => (Some("London"), Some("primary"), Some("multi-academy trust"), Some(12), Some(5400), &["la:Camden"]),
        1 => (Some("London"), Some("secondary"), Some("single-academy trust"), Some(1), Some(900), &[]),
        2 => (
            Some("North West"),
            Some("primary"),
            Some("multi-academy trust"),
            Some(4),
            Some(1800),
            &["la:Bolton", "la:Wigan"],
        ),
        4 => (Some("East Midlands"), Some("all-through"), Some("multi-academy trust"), Some(30), Some(14_000), &[]),
        5 => (None, Some("primary"), None, Some(2), None, &["la:Leeds"]),
        6 => (Some("Yorkshire"), Some("secondary"), Some("single-academy trust"), None, Some(1200), &[]),
        _ => (None, None, None, None, None, &[]),
    };
    MemberAttributes {
        region: region.map(Into::into),
        phase: phase.map(Into::into),
        trust_type: trust_type.map(Into::into),
        schools,
        pupils,
        labels: strings(labels),
    }
}

/// Certificates of a coalition of eight whose members declare attributes
/// under breadth rules: valid ones, ones above the fraction but short of a
/// breadth rule, and ones whose proof chain amends a member's attributes,
/// admits a member with attributes or amends the charter's sets.
fn attribute_cases() -> Vec<Case> {
    let f = Fixture::with_charter(8, attribute_charter(), member_attributes);
    let genesis = f.coalition.genesis_envelope();
    let id = Some(f.id());
    let mut cases = Vec::new();
    // Each case says what this crate's verdict is (its error name, or "ok"),
    // so that the comparison covers what it claims to.
    let mut case = |name: &str, expected: &str, bytes: Vec<u8>| {
        let verdict = support::verdict_line(&certificate::verify_with_threads(&bytes, id, 1));
        let got = if verdict.starts_with("ok ") { "ok" } else { verdict.split(':').next().unwrap_or_default() };
        assert_eq!(got, expected, "attribute case {name:?}: {verdict}");
        cases.push(Case { name: format!("attributes {name}"), bytes, coalition: id });
    };
    let stances = |p: &Envelope, who: &[usize], stance: Stance, at: u64| -> Vec<Envelope> {
        who.iter().map(|&i| f.endorsement(i, p.id(), stance, at)).collect()
    };
    let endorse = |p: &Envelope, who: &[usize], at: u64| stances(p, who, Stance::Endorse, at);
    // A governance proposal by member 0 under `heads` and its endorsements.
    let governance = |title: &str, heads: &[ObjectId], action: Action, who: &[usize], at: u64| -> Vec<Envelope> {
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), title, heads, Some(action), at);
        let mut out = vec![g.clone()];
        out.extend(endorse(&g, who, at + 1));
        out
    };
    let position = |title: &str, heads: &[ObjectId], at: u64| {
        f.proposal_under(&f.keys[0], f.keys[0].public(), title, heads, None, at)
    };

    // Under the genesis charter: 5 of 8 needed.
    let p = f.proposal(0, "Adopt the regional pay statement", 1, None);
    case(
        "valid: 4 regions, a large trust",
        "ok",
        certificate::assemble(genesis, &p, &endorse(&p, &[0, 2, 3, 4, 6], 2)),
    );
    case("valid: all eight", "ok", certificate::assemble(genesis, &p, &endorse(&p, &[0, 1, 2, 3, 4, 5, 6, 7], 2)));
    case(
        "fraction met, 2 regions of 3",
        "Breadth",
        certificate::assemble(genesis, &p, &endorse(&p, &[1, 3, 5, 6, 7], 2)),
    );
    case(
        "fraction met, no large trust",
        "Breadth",
        certificate::assemble(genesis, &p, &endorse(&p, &[1, 2, 3, 6, 7], 2)),
    );
    case(
        "breadth met, fraction not",
        "BelowThreshold",
        certificate::assemble(genesis, &p, &endorse(&p, &[0, 2, 4, 6], 2)),
    );
    // Stances on the proposal carried in the chain count neither towards
    // the fraction nor towards breadth, and the breakdown shows their
    // members as silent (PROTOCOL.md 9.2 step 21): one set of endorsers, the
    // certificate's own. Each case checks this crate's breakdown first.
    let silent_in_breakdown = |bytes: &[u8], who: &[usize]| {
        let v = certificate::verify_with_threads(bytes, id, 1).expect("valid");
        let endorsers: Vec<_> = v.endorsers.iter().map(|e| e.trust).collect();
        assert!(who.iter().all(|&i| !endorsers.contains(&f.keys[i].public())));
        assert_eq!(v.breakdown.endorsers, v.endorsers.len(), "only the certificate's endorsers");
        for a in Attribute::ALL {
            let rows = v.breakdown.by(a);
            assert_eq!(rows.iter().map(|r| r.object + r.abstain).sum::<usize>(), 0, "{a:?}: no other stance");
            assert_eq!(rows.iter().map(|r| r.endorse).sum::<usize>(), v.endorsers.len(), "{a:?}");
            assert_eq!(rows.iter().map(|r| r.silent).sum::<usize>(), 8 - v.endorsers.len(), "{a:?}");
        }
    };
    // An objection and an abstention in the chain.
    let mut others = stances(&p, &[1], Stance::Object, 3);
    others.extend(stances(&p, &[5], Stance::Abstain, 3));
    let bytes = certificate::assemble_with_chain(genesis, &p, &endorse(&p, &[0, 2, 3, 4, 6], 2), &others);
    silent_in_breakdown(&bytes, &[1, 5]);
    case("valid, with an objection and an abstention in the chain", "ok", bytes);
    // An endorsement of the proposal carried in the chain (1: London) next
    // to the certificate's own endorsements, which meet the rule alone.
    let bytes = certificate::assemble_with_chain(genesis, &p, &endorse(&p, &[0, 2, 3, 4, 6], 2), &endorse(&p, &[1], 2));
    silent_in_breakdown(&bytes, &[1]);
    case("valid, with another endorsement in the chain", "ok", bytes);
    // The certificate's own endorsements (2, 3, 4, 6, 7) reach the fraction
    // and 3 regions but none is from London; the endorsement carried in the
    // chain (0: London) would meet the rule, but does not count.
    let bytes = certificate::assemble_with_chain(genesis, &p, &endorse(&p, &[2, 3, 4, 6, 7], 2), &endorse(&p, &[0], 2));
    let e = certificate::verify_with_threads(&bytes, id, 1).expect_err("short of London");
    assert!(e.to_string().starts_with("breadth: needs an endorser with region \"London\", has none"), "{e}");
    case("no breadth from an endorsement carried in the chain", "Breadth", bytes);
    // amend_member: member 5 declares North West and 40 schools (band
    // "10+"); then 1, 3, 5, 6, 7 meet the position's breadth rules.
    let moved = MemberAttributes {
        region: Some("North West".into()),
        phase: Some("primary".into()),
        schools: Some(40),
        ..MemberAttributes::default()
    };
    let amend = governance(
        "Trust 5 moves",
        &[],
        Action::AmendMember { trust: f.keys[5].public(), attributes: moved },
        &[0, 1, 6],
        10,
    );
    let after = position("Adopt the regional pay statement, second reading", &[amend[0].id()], 20);
    let ends = endorse(&after, &[1, 3, 5, 6, 7], 21);
    case("valid through amend_member", "ok", certificate::assemble_with_chain(genesis, &after, &ends, &amend));
    case(
        "amend_member, one endorsement of the position short",
        "BelowThreshold",
        certificate::assemble_with_chain(genesis, &after, &ends[1..], &amend),
    );
    // The same amendment endorsed from one phase only (1, 6: secondary; 7:
    // none): above 1/3, short of the membership rule's breadth.
    let one_phase = governance(
        "Trust 5 moves",
        &[],
        Action::AmendMember { trust: f.keys[5].public(), attributes: member_attributes(4) },
        &[1, 6, 7],
        10,
    );
    let after_one = position("Adopt it", &[one_phase[0].id()], 20);
    case(
        "amend_member not adopted for want of phases",
        "ChainNotAdopted",
        certificate::assemble_with_chain(genesis, &after_one, &endorse(&after_one, &[0, 2, 3, 4, 6], 21), &one_phase),
    );
    // The amendment itself, certified.
    case("the amend_member itself", "ok", certificate::assemble(genesis, &amend[0], &amend[1..]));
    case(
        "the amend_member itself, one phase",
        "Breadth",
        certificate::assemble(genesis, &one_phase[0], &one_phase[1..]),
    );
    // A later amendment clears member 5's attributes again.
    let clear = governance(
        "Trust 5 clears",
        &[amend[0].id()],
        Action::AmendMember { trust: f.keys[5].public(), attributes: MemberAttributes::default() },
        &[0, 1, 2],
        30,
    );
    let cleared = position("Adopt it, third reading", &[clear[0].id()], 40);
    let mut chain = amend.clone();
    chain.extend(clear.iter().cloned());
    case(
        "cleared by a second amend_member",
        "Breadth",
        certificate::assemble_with_chain(genesis, &cleared, &endorse(&cleared, &[1, 3, 5, 6, 7], 41), &chain),
    );
    case(
        "cleared, other endorsers",
        "ok",
        certificate::assemble_with_chain(genesis, &cleared, &endorse(&cleared, &[0, 1, 2, 4, 6], 41), &chain),
    );
    // Two concurrent amendments of member 5, both adopted, and a position
    // under both: the lower id's attributes count (North West and 40
    // schools, or East Midlands and 3).
    let other =
        MemberAttributes { region: Some("East Midlands".into()), schools: Some(3), ..MemberAttributes::default() };
    let concurrent = governance(
        "Trust 5 moves elsewhere",
        &[],
        Action::AmendMember { trust: f.keys[5].public(), attributes: other },
        &[0, 1, 4],
        11,
    );
    let mut heads = vec![amend[0].id(), concurrent[0].id()];
    heads.sort();
    let both = position("Adopt it under both", &heads, 50);
    let mut chain = amend.clone();
    chain.extend(concurrent.iter().cloned());
    for (who, expected) in [(&[1, 3, 5, 6, 7][..], "ok"), (&[0, 1, 3, 5, 7], "Breadth")] {
        case(
            "concurrent amend_members",
            expected,
            certificate::assemble_with_chain(genesis, &both, &endorse(&both, who, 51), &chain),
        );
    }
    // A value outside the pinned charter's sets is refused.
    let cornwall = MemberAttributes { region: Some("Cornwall".into()), ..MemberAttributes::default() };
    let outside = governance(
        "Trust 5 moves west",
        &[],
        Action::AmendMember { trust: f.keys[5].public(), attributes: cornwall },
        &[0, 1, 6],
        12,
    );
    let after_outside = position("Adopt it", &[outside[0].id()], 20);
    case(
        "amend_member outside the sets",
        "Chain/InvalidField",
        certificate::assemble_with_chain(
            genesis,
            &after_outside,
            &endorse(&after_outside, &[0, 2, 3, 4, 6], 21),
            &outside,
        ),
    );
    case(
        "amend_member outside the sets, itself",
        "Proposal/InvalidField",
        certificate::assemble(genesis, &outside[0], &outside[1..]),
    );
    // Amending a trust that is not a member: void.
    let stranger = member_key(100);
    let void = governance(
        "A stranger moves",
        &[],
        Action::AmendMember { trust: stranger.public(), attributes: MemberAttributes::default() },
        &[0, 1, 6],
        13,
    );
    case("amend_member of a non-member", "ProposalVoid", certificate::assemble(genesis, &void[0], &void[1..]));

    // An admission with attributes: the new member counts with them.
    let newcomer = Member {
        key: stranger.public(),
        name: "Dales Academy Trust".into(),
        external_id: None,
        attributes: MemberAttributes {
            region: Some("Yorkshire".into()),
            schools: Some(15),
            pupils: Some(6000),
            ..MemberAttributes::default()
        },
    };
    let admit = governance("Admit the Dales", &[], Action::Admit(newcomer), &[0, 1, 6], 14);
    let admitted = position("Adopt it with the Dales", &[admit[0].id()], 20);
    let mut ends = endorse(&admitted, &[1, 2, 3, 6, 7], 21);
    ends.push(f.stance_by(&stranger, stranger.public(), admitted.id(), Stance::Endorse, 21, None));
    case(
        "valid with an admitted member's attributes",
        "ok",
        certificate::assemble_with_chain(genesis, &admitted, &ends, &admit),
    );
    let mut bad = member_attributes(0);
    bad.phase = Some("nursery".into());
    let admit_bad = governance(
        "Admit a nursery",
        &[],
        Action::Admit(Member {
            key: member_key(101).public(),
            name: "Nursery Trust".into(),
            external_id: None,
            attributes: bad,
        }),
        &[0, 1, 6],
        15,
    );
    case(
        "admission outside the sets",
        "Proposal/InvalidField",
        certificate::assemble(genesis, &admit_bad[0], &admit_bad[1..]),
    );

    // A charter amendment drops London (and the rule naming it, for 2
    // regions and an endorser of each of primary and secondary): London's
    // members read as not declared from that version on.
    let mut charter = attribute_charter();
    charter.attributes.regions = strings(&["East Midlands", "North West", "Yorkshire"]);
    charter.breadth.positions =
        vec![breadth(Attribute::Region, 2, &[]), breadth(Attribute::Phase, 0, &["primary", "secondary"])];
    let amended = governance("Drop London", &[], Action::AmendCharter(charter), &[0, 1, 2, 3, 4, 5, 6], 16);
    let under = position("Adopt it without London", &[amended[0].id()], 20);
    for (who, expected) in [(&[0, 1, 2, 4, 7][..], "ok"), (&[0, 1, 3, 5, 7], "Breadth"), (&[1, 2, 3, 4, 6], "ok")] {
        case(
            "under an amended charter",
            expected,
            certificate::assemble_with_chain(genesis, &under, &endorse(&under, who, 21), &amended),
        );
    }
    // A charter amendment whose breadth rule names a value outside its own sets.
    let mut wrong = attribute_charter();
    wrong.breadth.positions = vec![breadth(Attribute::Region, 0, &["Cornwall"])];
    let wrong = governance("Name Cornwall", &[], Action::AmendCharter(wrong), &[0, 1, 2, 3, 4, 5, 6], 17);
    case(
        "amended charter naming a value outside its sets",
        "Proposal/InvalidField",
        certificate::assemble(genesis, &wrong[0], &wrong[1..]),
    );

    // A genesis whose founder declares a value outside its charter's sets.
    let keys: Vec<Keypair> = {
        let mut k: Vec<Keypair> = (0..3).map(member_key).collect();
        k.sort_by_key(|k| *k.public().as_bytes());
        k
    };
    let founders = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Member {
            key: k.public(),
            name: format!("Trust {i}"),
            external_id: None,
            attributes: if i == 1 {
                MemberAttributes { trust_type: Some("federation".into()), ..MemberAttributes::default() }
            } else {
                member_attributes(i)
            },
        })
        .collect();
    let body = Genesis {
        name: "Outside coalition".into(),
        charter: attribute_charter(),
        founders,
        created_at_ms: T0,
        nonce: vec![],
    }
    .to_body();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let outside_genesis = Envelope::sign(Kind::Genesis, body, &refs);
    // The genesis is judged first, so any proposal will do.
    case("founder outside the sets", "Genesis/InvalidField", certificate::assemble(&outside_genesis, &p, &[]));
    cases
}

/// Text values for random attributes: values of the random sets, and values
/// every body rule refuses (empty, multi-line, 65 bytes, 66 bytes of
/// two-byte characters), quotes, backslashes and a combining accent.
const TEXT: [&str; 16] = [
    "East",
    "London",
    "North West",
    "primary",
    "secondary",
    "multi-academy trust",
    "1",
    "10+",
    "2-5",
    "3-9",
    "",
    "a\nb",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
    "say \"no\" \\ twice",
    "Cafe\u{301}",
];

/// A value of `pool` (the random sets); when `wild`, sometimes any text value.
fn random_text(rng: &mut SplitMix, wild: bool, pool: &[&str]) -> String {
    if wild && rng.chance(4) {
        TEXT[rng.index(TEXT.len())].to_string()
    } else {
        pool[rng.index(pool.len())].to_string()
    }
}

/// 0 to 3 values, sorted with none twice (when `wild`, not always).
fn random_list(rng: &mut SplitMix, wild: bool, pool: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = (0..rng.index(4)).map(|_| random_text(rng, wild, pool)).collect();
    if !(wild && rng.chance(3)) {
        v.sort();
        v.dedup();
    }
    v
}

const REGIONS: [&str; 3] = ["East", "London", "North West"];
const PHASES: [&str; 2] = ["primary", "secondary"];
const TYPES: [&str; 1] = ["multi-academy trust"];
/// Band labels of the default bands, of [1, 3, 10], and one of neither.
const BANDS: [&str; 9] = ["1", "10+", "16-30", "1-2", "2-5", "31+", "3-9", "6-15", "7"];

/// Random attributes; when `wild`, often breaking a body rule.
fn random_attributes(rng: &mut SplitMix, wild: bool) -> Option<pb::MemberAttributes> {
    if rng.chance(4) {
        return None;
    }
    if wild && rng.chance(6) {
        return Some(pb::MemberAttributes::default());
    }
    let count = |rng: &mut SplitMix, max: u32| match rng.index(if wild { 8 } else { 6 }) {
        0 => 0,
        1 => max,
        6 => max + 1,
        _ => 1 + rng.below(40) as u32,
    };
    let a = pb::MemberAttributes {
        region: if rng.chance(4) { String::new() } else { random_text(rng, wild, &REGIONS) },
        phase: if rng.chance(2) { String::new() } else { random_text(rng, wild, &PHASES) },
        trust_type: if rng.chance(2) { String::new() } else { random_text(rng, wild, &TYPES) },
        schools: count(rng, 10_000),
        pupils: count(rng, 10_000_000),
        labels: if rng.chance(2) { Vec::new() } else { random_list(rng, wild, &["la:Leeds", "la:York", "x"]) },
    };
    // Present but empty only when wild.
    (wild || a != pb::MemberAttributes::default()).then_some(a)
}

fn random_sets(rng: &mut SplitMix, wild: bool) -> Option<pb::AttributeSets> {
    if wild && rng.chance(5) {
        return None;
    }
    if wild && rng.chance(8) {
        return Some(pb::AttributeSets::default());
    }
    let all = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let school_bands = match rng.index(if wild { 10 } else { 5 }) {
        0 | 1 => vec![1, 3, 10],
        2 => vec![1, 10_000],
        5 => vec![2, 5],
        6 => vec![1, 1],
        7 => (1..=17).collect(),
        8 => vec![1, 10_001],
        _ => Vec::new(),
    };
    Some(pb::AttributeSets {
        regions: if wild && rng.chance(2) { random_list(rng, wild, &REGIONS) } else { all(&REGIONS) },
        phases: if wild && rng.chance(2) { random_list(rng, wild, &PHASES) } else { all(&PHASES) },
        trust_types: if wild && rng.chance(3) { Vec::new() } else { all(&TYPES) },
        school_bands,
    })
}

/// The values of a set of `sets` (band labels for size band, attribute 4),
/// as the charter defines them; when `wild`, the pools whatever the sets.
fn set_values(sets: &Option<pb::AttributeSets>, attribute: u32, wild: bool) -> Vec<String> {
    let pool = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match (wild, sets, attribute) {
        (true, _, 1) | (_, None, 1) => pool(&REGIONS),
        (true, _, 2) | (_, None, 2) => pool(&PHASES),
        (true, _, 3) | (_, None, 3) => pool(&TYPES),
        (true, _, _) => pool(&BANDS),
        (false, Some(s), 1) => s.regions.clone(),
        (false, Some(s), 2) => s.phases.clone(),
        (false, Some(s), 3) => s.trust_types.clone(),
        (false, s, _) => AttributeSets {
            school_bands: s.as_ref().map(|s| s.school_bands.clone()).unwrap_or_default(),
            ..AttributeSets::default()
        }
        .band_labels(),
    }
}

fn random_rule(
    rng: &mut SplitMix,
    wild: bool,
    numerator: u32,
    sets: &Option<pb::AttributeSets>,
) -> Option<pb::AdoptionRule> {
    if rng.chance(2) {
        return None;
    }
    let rules = if wild && rng.chance(10) { 9 } else { rng.index(3) };
    let breadth = (0..rules)
        .map(|_| {
            let attribute = if wild && rng.chance(10) { [0, 5][rng.index(2)] } else { 1 + rng.below(4) as u32 };
            let values = set_values(sets, attribute, wild);
            let pool: Vec<&str> = values.iter().map(String::as_str).collect();
            let each_of = if rng.chance(2) || pool.is_empty() { Vec::new() } else { random_list(rng, wild, &pool) };
            let least = u32::from(each_of.is_empty());
            let most = if wild { 3 } else { pool.len() as u32 };
            pb::BreadthRule {
                attribute,
                min_distinct: if wild && rng.chance(10) { 65 } else { (least + rng.below(3) as u32).min(most) },
                each_of,
            }
        })
        .filter(|r| wild || r.min_distinct > 0 || !r.each_of.is_empty())
        .collect();
    let denominator = if wild && rng.chance(10) { 0 } else { 3 };
    Some(pb::AdoptionRule { numerator, denominator, breadth })
}

fn random_charter(rng: &mut SplitMix, wild: bool) -> Option<pb::Charter> {
    if wild && rng.chance(8) {
        return None;
    }
    let attributes = random_sets(rng, wild);
    Some(pb::Charter {
        positions: random_rule(rng, wild, 1, &attributes),
        membership: random_rule(rng, wild, 1, &attributes),
        amendments: random_rule(rng, wild, 2, &attributes),
        attributes,
        observers: 0,
    })
}

/// Certificates of random geneses whose founders (three) declare random
/// attributes under a random charter, one in four of them drawn "wild",
/// breaking body rules often: for each,
/// a position, an amend_member and an admission with random attributes, each
/// endorsed by all three founders. The bodies are encoded here from the
/// protobuf messages, so they reach the verifiers exactly as drawn.
/// An `Endorse` stance on `proposal` by each of `keys`, signed by the
/// key itself (no delegation), created at `T0 + 2`.
fn endorsements(coalition: ObjectId, proposal: ObjectId, keys: &[Keypair]) -> Vec<Envelope> {
    keys.iter()
        .map(|k| {
            let e = chorus_core::Endorsement {
                coalition,
                proposal,
                trust: k.public(),
                created_at_ms: T0 + 2,
                stance: Stance::Endorse,
                comment: None,
                delegation: None,
            };
            Envelope::sign(Kind::Endorsement, e.to_body(), &[k])
        })
        .collect()
}

fn random_attribute_cases(rng: &mut SplitMix) -> Vec<Case> {
    let mut keys: Vec<Keypair> = (0..3).map(member_key).collect();
    keys.sort_by_key(|k| *k.public().as_bytes());
    let refs: Vec<&Keypair> = keys.iter().collect();
    let mut cases = Vec::new();
    for n in 0..RANDOM_GENESES {
        let wild = rng.chance(4);
        let founders = keys
            .iter()
            .enumerate()
            .map(|(i, k)| pb::Member {
                trust_key: k.public().as_bytes().to_vec(),
                name: format!("Trust {i}"),
                external_id: String::new(),
                attributes: random_attributes(rng, wild),
            })
            .collect();
        let genesis = pb::Genesis {
            name: format!("Random coalition {n}"),
            charter: random_charter(rng, wild),
            founders,
            created_at_ms: T0,
            nonce: Vec::new(),
        };
        let genesis = Envelope::sign(Kind::Genesis, genesis.encode_to_vec(), &refs);
        let coalition = genesis.id();
        let stranger = member_key(1000 + n as u32);
        let (wild_amend, wild_admit) = (rng.chance(4), rng.chance(4));
        let actions = [
            None,
            Some(pb::Action {
                amend_member: Some(pb::AmendMember {
                    trust: keys[rng.index(3)].public().as_bytes().to_vec(),
                    attributes: random_attributes(rng, wild_amend),
                }),
                ..pb::Action::default()
            }),
            Some(pb::Action {
                admit: Some(pb::Member {
                    trust_key: stranger.public().as_bytes().to_vec(),
                    name: "Newcomer".into(),
                    external_id: String::new(),
                    attributes: random_attributes(rng, wild_admit),
                }),
                ..pb::Action::default()
            }),
        ];
        for (i, action) in actions.into_iter().enumerate() {
            let p = pb::Proposal {
                coalition: coalition.as_bytes().to_vec(),
                roster: coalition.as_bytes().to_vec(),
                author: keys[0].public().as_bytes().to_vec(),
                created_at_ms: T0 + 1,
                title: format!("Random proposal {i}"),
                action,
                ..pb::Proposal::default()
            };
            let p = Envelope::sign(Kind::Proposal, p.encode_to_vec(), &[&keys[0]]);
            let ends = endorsements(coalition, p.id(), &keys);
            cases.push(Case {
                name: format!("random genesis {n} proposal {i}"),
                bytes: certificate::assemble(&genesis, &p, &ends),
                coalition: Some(coalition),
            });
        }
    }
    cases
}

/// Typed attributes from the attribute coalition's sets (one in twelve a
/// region outside them).
fn random_typed_attributes(rng: &mut SplitMix) -> MemberAttributes {
    let sets = attribute_sets();
    let pick = |rng: &mut SplitMix, set: &[String]| (!rng.chance(3)).then(|| set[rng.index(set.len())].clone());
    let mut a = MemberAttributes {
        region: pick(rng, &sets.regions),
        phase: pick(rng, &sets.phases),
        trust_type: pick(rng, &sets.trust_types),
        schools: (!rng.chance(3)).then(|| 1 + rng.below(40) as u32),
        pupils: (!rng.chance(3)).then(|| 1 + rng.below(20_000) as u32),
        labels: Vec::new(),
    };
    if rng.chance(12) {
        a.region = Some("Cornwall".into());
    }
    a
}

/// A charter for an amendment: the attribute charter with some regions
/// dropped, other bands, and a breadth rule for positions that its sets
/// allow.
fn random_typed_charter(rng: &mut SplitMix) -> Charter {
    let mut c = attribute_charter();
    c.attributes.regions.retain(|_| !rng.chance(3));
    c.attributes.school_bands = [vec![], vec![1, 3, 10], vec![1, 20]][rng.index(3)].clone();
    let regions = c.attributes.regions.len() as u32;
    c.breadth.positions = match rng.index(4) {
        0 => Vec::new(),
        1 if regions > 0 => vec![breadth(Attribute::Region, 1 + rng.below(u64::from(regions)) as u32, &[])],
        2 => vec![breadth(Attribute::Phase, 0, &["primary"])],
        _ => vec![breadth(Attribute::SizeBand, 2, &[])],
    };
    c
}

/// Heads for a new proposal: none, one earlier governance proposal, or two
/// that are not in each other's closure.
fn random_heads(rng: &mut SplitMix, gov: &[(ObjectId, BTreeSet<ObjectId>)]) -> Vec<ObjectId> {
    if gov.is_empty() || rng.chance(4) {
        return Vec::new();
    }
    let (a, ca) = &gov[rng.index(gov.len())];
    let (b, cb) = &gov[rng.index(gov.len())];
    let mut heads = vec![*a];
    if rng.chance(3) && a != b && !ca.contains(b) && !cb.contains(a) {
        heads.push(*b);
    }
    heads.sort();
    heads
}

/// Random governance histories of the attribute coalition (member
/// amendments, charter amendments dropping regions, admissions with
/// attributes, removals; pinned in chains and in concurrent branches, each
/// endorsed by a random part of the coalition), each ending in a position
/// under random heads with random endorsers, certified with the closure of
/// its heads as proof chain (sometimes every governance object).
fn random_history_cases(rng: &mut SplitMix) -> Vec<Case> {
    let f = Fixture::with_charter(8, attribute_charter(), member_attributes);
    let genesis = f.coalition.genesis_envelope();
    let mut cases = Vec::new();
    for n in 0..RANDOM_HISTORIES {
        let mut gov: Vec<(ObjectId, BTreeSet<ObjectId>)> = Vec::new();
        let mut objects: BTreeMap<ObjectId, Vec<Envelope>> = BTreeMap::new();
        let mut admitted: Vec<Keypair> = Vec::new();
        for k in 0..1 + rng.index(4) {
            let heads = random_heads(rng, &gov);
            let (action, share) = match rng.index(6) {
                0..=2 => (
                    Action::AmendMember {
                        trust: f.keys[rng.index(8)].public(),
                        attributes: random_typed_attributes(rng),
                    },
                    3,
                ),
                3 => (Action::AmendCharter(random_typed_charter(rng)), 12),
                4 => {
                    let key = member_key(10_000 + (n * 8 + k) as u32);
                    let m = Member {
                        key: key.public(),
                        name: format!("Admitted {n}.{k}"),
                        external_id: None,
                        attributes: random_typed_attributes(rng),
                    };
                    admitted.push(key);
                    (Action::Admit(m), 3)
                }
                _ => (Action::Remove(f.keys[1 + rng.index(7)].public()), 3),
            };
            let at = 10 * (k as u64 + 1);
            let g = f.proposal_under(&f.keys[0], f.keys[0].public(), &format!("G{n}.{k}"), &heads, Some(action), at);
            let mut carried = vec![g.clone()];
            // Each member endorses with chance 1 - 1/share.
            carried.extend(
                (0..8).filter(|_| !rng.chance(share)).map(|i| f.endorsement(i, g.id(), Stance::Endorse, at + 1)),
            );
            let mut closure: BTreeSet<ObjectId> = BTreeSet::from([g.id()]);
            for h in &heads {
                closure.extend(gov.iter().find(|(id, _)| id == h).map(|(_, c)| c.clone()).unwrap_or_default());
            }
            objects.insert(g.id(), carried);
            gov.push((g.id(), closure));
        }
        let heads = random_heads(rng, &gov);
        let p = f.proposal_under(&f.keys[0], f.keys[0].public(), &format!("Position {n}"), &heads, None, 100);
        let mut ends: Vec<Envelope> =
            (0..8).filter(|_| !rng.chance(5)).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 101)).collect();
        for key in admitted.iter().filter(|_| rng.chance(2)) {
            ends.push(f.stance_by(key, key.public(), p.id(), Stance::Endorse, 101, None));
        }
        let in_chain: BTreeSet<ObjectId> = if rng.chance(5) {
            gov.iter().map(|(id, _)| *id).collect()
        } else {
            heads
                .iter()
                .flat_map(|h| gov.iter().find(|(id, _)| id == h).map(|(_, c)| c.clone()).unwrap_or_default())
                .collect()
        };
        let chain: Vec<Envelope> = in_chain.iter().flat_map(|id| objects[id].iter().cloned()).collect();
        cases.push(Case {
            name: format!("random history {n}"),
            bytes: certificate::assemble_with_chain(genesis, &p, &ends, &chain),
            coalition: Some(f.id()),
        });
    }
    cases
}

/// A field's key and length prefix, then its bytes.
fn field(number: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, &mut out);
    prost::encoding::encode_varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Certificates whose genesis charter carries `school_bands` (the one
/// packed repeated field) or other new fields written in ways a canonical
/// encoder never writes them, each with the verdict this crate gives: the
/// encoding rule of PROTOCOL.md 2 applied to the new fields.
fn encoding_cases() -> Vec<Case> {
    let mut keys: Vec<Keypair> = (0..3).map(member_key).collect();
    keys.sort_by_key(|k| *k.public().as_bytes());
    let refs: Vec<&Keypair> = keys.iter().collect();
    // (name, the AttributeSets field 4 as written, a founder's attributes
    // message as written, expected verdict)
    let variants: [(&str, &[u8], &[u8], &str); 12] = [
        ("packed bands", &[0x22, 3, 1, 3, 10], &[], "ok"),
        ("unpacked bands", &[0x20, 1, 0x20, 3, 0x20, 10], &[], "Genesis/NonCanonical"),
        ("bands in two packed runs", &[0x22, 1, 1, 0x22, 2, 3, 10], &[], "Genesis/NonCanonical"),
        ("a band as a non-minimal varint", &[0x22, 4, 1, 3, 0x8a, 0], &[], "Genesis/NonCanonical"),
        ("an empty packed run", &[0x22, 0], &[], "Genesis/NonCanonical"),
        ("a band above 2^32", &[0x22, 7, 1, 3, 0x80, 0x80, 0x80, 0x80, 0x10], &[], "Genesis/NonCanonical"),
        ("a band varint past its run", &[0x22, 2, 1, 0x83], &[], "Genesis/Malformed"),
        ("bands as fixed32", &[0x25, 1, 0, 0, 0], &[], "Genesis/Malformed"),
        ("present empty attributes", &[0x22, 3, 1, 3, 10], &[0x22, 0], "Genesis/InvalidField"),
        ("attributes with schools 0 written", &[0x22, 3, 1, 3, 10], &[0x22, 2, 0x20, 0], "Genesis/NonCanonical"),
        ("attributes with an empty region written", &[0x22, 3, 1, 3, 10], &[0x22, 2, 0x0a, 0], "Genesis/NonCanonical"),
        ("attributes twice", &[0x22, 3, 1, 3, 10], &[0x22, 2, 0x20, 1, 0x22, 2, 0x28, 1], "Genesis/NonCanonical"),
    ];
    let mut cases = Vec::new();
    for (name, bands, attributes) in variants.iter().map(|(n, b, a, _)| (n, b, a)) {
        let sets = pb::AttributeSets { regions: strings(&["East", "London"]), ..pb::AttributeSets::default() };
        let mut sets = sets.encode_to_vec();
        sets.extend_from_slice(bands);
        let charter = pb::Charter {
            positions: Some(pb::AdoptionRule { numerator: 1, denominator: 2, breadth: vec![] }),
            ..pb::Charter::default()
        };
        let mut charter = charter.encode_to_vec();
        charter.extend(field(4, &sets));
        let mut body = field(1, b"Encoding coalition");
        body.extend(field(2, &charter));
        for (i, k) in keys.iter().enumerate() {
            let mut member = pb::Member {
                trust_key: k.public().as_bytes().to_vec(),
                name: format!("Trust {i}"),
                ..pb::Member::default()
            }
            .encode_to_vec();
            if i == 0 {
                member.extend_from_slice(attributes);
            }
            body.extend(field(3, &member));
        }
        body.extend(pb::Genesis { created_at_ms: T0, ..pb::Genesis::default() }.encode_to_vec());
        let genesis = Envelope::sign(Kind::Genesis, body, &refs);
        let coalition = genesis.id();
        let p = pb::Proposal {
            coalition: coalition.as_bytes().to_vec(),
            roster: coalition.as_bytes().to_vec(),
            author: keys[0].public().as_bytes().to_vec(),
            created_at_ms: T0 + 1,
            title: "Encoded".into(),
            ..pb::Proposal::default()
        };
        let p = Envelope::sign(Kind::Proposal, p.encode_to_vec(), &[&keys[0]]);
        let ends = endorsements(coalition, p.id(), &keys[..2]);
        cases.push(Case {
            name: format!("encoding: {name}"),
            bytes: certificate::assemble(&genesis, &p, &ends),
            coalition: Some(coalition),
        });
    }
    for (c, (_, _, _, expected)) in cases.iter().zip(&variants) {
        let verdict = support::verdict_line(&certificate::verify_with_threads(&c.bytes, c.coalition, 1));
        let got = if verdict.starts_with("ok ") { "ok" } else { verdict.split(':').next().unwrap_or_default() };
        assert_eq!(got, *expected, "{}: {verdict}", c.name);
    }
    cases
}

/// Bit flips, byte changes, truncations, deletions, insertions and
/// duplicated runs, one to three at a time.
fn mutate(bytes: &[u8], rng: &mut SplitMix) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..1 + rng.index(3) {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        let at = rng.index(b.len());
        match rng.index(6) {
            0 => b[at] ^= 1 << rng.index(8),
            1 => b[at] = rng.next() as u8,
            2 => b.truncate(at),
            3 => {
                let end = (at + 1 + rng.index(40)).min(b.len());
                b.drain(at..end);
            }
            4 => {
                let n = 1 + rng.index(4);
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, fill);
            }
            _ => {
                let end = (at + 1 + rng.index(64)).min(b.len());
                let run = b[at..end].to_vec();
                b.splice(at..at, run);
            }
        }
    }
    b
}

/// Errors whose message carries the protobuf decoder's own wording.
fn decoder_wording(line: &str) -> bool {
    line.split(':').next().is_some_and(|name| name == "Malformed" || name.ends_with("/Malformed"))
}

/// False (after saying so) when python3 with PyNaCl is missing and not
/// required.
fn verifier_available() -> bool {
    if python_with_nacl() {
        return true;
    }
    let required = std::env::var("CHORUS_REQUIRE_INDEPENDENT_VERIFIER").is_ok_and(|v| v == "1");
    assert!(!required, "python3 with PyNaCl is required (pip install pynacl)");
    eprintln!("skipped: python3 with PyNaCl not found (pip install pynacl to run this comparison)");
    false
}

/// The independent verifier run with `args`: its exit success and stdout.
fn run_verifier(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let out = Command::new("python3")
        .arg(root().join("tools/verify_certificate.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.stderr.is_empty(),
        "the independent verifier wrote to stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), String::from_utf8(out.stdout).expect("UTF-8"))
}

#[test]
fn the_independent_verifier_agrees_with_this_crate_on_every_certificate() {
    if !verifier_available() {
        return;
    }
    let mut cases = document_cases();
    let vector_coalition = cases[0].coalition.expect("genesis.id comes before the certificates");
    cases.extend(data_cases(vector_coalition));
    cases.extend(attribute_cases());
    cases.extend(encoding_cases());
    let mut rng = SplitMix(0x5eed_c0de);
    let script = deliberation_cases::script_cases();
    let mut edited = deliberation_cases::edits(&script, EDITS_PER_DELIBERATION, &mut rng);
    cases.extend(script);
    let bases = cases.len();
    for i in 0..bases {
        for m in 0..MUTATIONS_PER_CERTIFICATE {
            let bytes = mutate(&cases[i].bytes, &mut rng);
            // Every other mutation is judged without an expected coalition.
            let coalition = if m % 2 == 0 { cases[i].coalition } else { None };
            cases.push(Case { name: format!("{} mutation {m}", cases[i].name), bytes, coalition });
        }
    }
    let mut random = random_attribute_cases(&mut rng);
    random.extend(random_history_cases(&mut rng));
    let deliberations = deliberation_cases::random_deliberation_cases(&mut rng);
    edited.extend(deliberation_cases::edits(&deliberations, EDITS_PER_DELIBERATION, &mut rng));
    random.extend(deliberations);
    let drawn = random.len();
    for c in random {
        for m in 0..MUTATIONS_PER_RANDOM_CERTIFICATE {
            let bytes = mutate(&c.bytes, &mut rng);
            cases.push(Case { name: format!("{} mutation {m}", c.name), bytes, coalition: c.coalition });
        }
        cases.push(c);
    }
    let edits = edited.len();
    cases.extend(edited);

    let mut input = Vec::new();
    for c in &cases {
        let coalition = c.coalition.map_or("-".to_string(), |c| c.to_hex());
        let hex = if c.bytes.is_empty() { "-".to_string() } else { hex::encode(&c.bytes) };
        writeln!(input, "{hex} {coalition}").unwrap();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let batch = dir.path().join("batch.txt");
    std::fs::write(&batch, &input).unwrap();
    let (ok, stdout) = run_verifier(&["--batch".as_ref(), batch.as_os_str(), "--json".as_ref()]);
    assert!(ok, "the independent verifier failed");
    let theirs: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("one JSON verdict per line")).collect();
    assert_eq!(theirs.len(), cases.len(), "one verdict per certificate");

    let mut differences = Vec::new();
    let mut valid = 0;
    for (c, their) in cases.iter().zip(&theirs) {
        let result = certificate::verify_with_threads(&c.bytes, c.coalition, 1);
        let ours = support::verdict_line(&result);
        let their_line = match (their["result"].as_str(), their["code"].as_str(), their["error"].as_str()) {
            (Some(line), _, _) => line.to_owned(),
            (None, Some(code), Some(error)) => format!("{code}: {error}"),
            _ => format!("unreadable verdict {their}"),
        };
        valid += usize::from(ours.starts_with("ok "));
        let same = if decoder_wording(&ours) {
            their_line.split(':').next() == ours.split(':').next()
        } else {
            their_line == ours
        };
        if !same {
            differences.push(format!("{}\n  rust:   {ours}\n  python: {their_line}", c.name));
        } else if let Ok(v) = &result {
            // Valid for both: the same breakdown by attribute, field by field.
            let breakdown = serde_json::to_value(&v.breakdown).expect("a breakdown serialises");
            if their["breakdown"] != breakdown {
                differences
                    .push(format!("{} (breakdown)\n  rust:   {breakdown}\n  python: {}", c.name, their["breakdown"]));
            }
            // And the same report of what it carries besides.
            let report = &their["report"];
            for (key, ours) in [
                ("objectors", serde_json::to_value(&v.objectors)),
                ("abstainers", serde_json::to_value(&v.abstainers)),
                ("silent", serde_json::to_value(&v.silent)),
                ("seal", serde_json::to_value(&v.seal)),
                ("window", serde_json::to_value(v.window)),
                ("dissent", Ok(Value::String(v.dissent_note()))),
            ] {
                let ours = ours.expect("a report serialises");
                if report[key] != ours {
                    differences.push(format!("{} ({key})\n  rust:   {ours}\n  python: {}", c.name, report[key]));
                }
            }
        }
    }
    eprintln!(
        "{} certificates ({bases} kept, {drawn} drawn at random, {edits} certificates of deliberation with their \
         parts changed, the rest mutations of them): {valid} valid, {} differences",
        cases.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "the independent verifier and chorus-core disagree on {} certificates:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// The verifier's sentence for people and its breadth lines (worded as
/// `chorus verify` words them), for a certificate of the attribute
/// coalition that 0, 2, 3, 4 and 6 endorse; none for a coalition without
/// attributes.
#[test]
fn the_independent_verifier_prints_the_breadth_of_a_certificate() {
    if !verifier_available() {
        return;
    }
    let f = Fixture::with_charter(8, attribute_charter(), member_attributes);
    let p = f.proposal(0, "Adopt the regional pay statement", 1, None);
    let ends: Vec<Envelope> = [0, 2, 3, 4, 6].iter().map(|&i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
    let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
    let ours = certificate::verify(&cert, Some(f.id())).expect("valid");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("breadth.cert");
    std::fs::write(&file, &cert).unwrap();
    let id = f.id().to_hex();
    let (ok, out) = run_verifier(&[file.as_os_str(), "--coalition".as_ref(), id.as_ref()]);
    assert!(ok, "valid: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], support::result_line(&ours));
    assert_eq!(
        &lines[1..],
        [
            "breadth      endorsed by 5 of 8 member trusts, from 4 of 4 regions, running 46 schools with 22,400 pupils",
            "breadth rule from at least 3 of 4 regions, including \"London\": 4, met",
            "breadth rule an endorser from each of \"10+\" (size bands): met",
        ]
    );
    // Without attributes or breadth rules, the result line alone.
    let (plain, _) = Fixture::new(3).certificate(2);
    std::fs::write(&file, &plain).unwrap();
    let (ok, out) = run_verifier(&[file.as_os_str()]);
    assert!(ok);
    assert_eq!(out.lines().count(), 1, "{out}");
    std::fs::write(&file, &cert).unwrap();
    // --json: the verdict, the sentence and the breakdown.
    let (ok, out) = run_verifier(&[file.as_os_str(), "--json".as_ref()]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["valid"], true);
    assert_eq!(v["summary"].as_str(), lines[1].strip_prefix("breadth      "));
    assert_eq!(v["breakdown"], serde_json::to_value(&ours.breakdown).unwrap());
    // Above the fraction, short of a breadth rule: exit 1, the breadth reason.
    let short: Vec<Envelope> = [1, 3, 5, 6, 7].iter().map(|&i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
    std::fs::write(&file, certificate::assemble(f.coalition.genesis_envelope(), &p, &short)).unwrap();
    let (ok, out) = run_verifier(&[file.as_os_str(), "--json".as_ref()]);
    assert!(!ok);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((v["valid"].as_bool(), v["code"].as_str()), (Some(false), Some("Breadth")));
    assert_eq!(
        v["error"].as_str(),
        Some(
            "breadth: needs endorsers from at least 3 distinct regions, has 2 (breadth rule of the positions rule: \
             endorsers from at least 3 distinct regions, including \"London\")"
        )
    );
}

/// Every vector of PROTOCOL.md section 11, the attribute vectors included,
/// passes the independent verifier's own check (`--vectors`).
#[test]
fn the_independent_verifier_passes_the_documents_vectors() {
    if !verifier_available() {
        return;
    }
    let doc = root().join("docs/PROTOCOL.md");
    let (ok, out) = run_verifier(&["--vectors".as_ref(), doc.as_os_str()]);
    assert!(ok, "the document's vectors fail the independent verifier:\n{out}");
}
