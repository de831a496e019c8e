//! Member attributes, breadth rules and tallies by attribute (issue 15):
//! (a) bodies with attributes, value sets and breadth rules round-trip, and
//!     values outside the charter's sets are refused where the charter is
//!     known (genesis, admissions and member amendments);
//! (b) a breadth rule is part of adoption, under the ledger and the
//!     certificate verifier alike, and a certificate short of one fails with
//!     its own reason;
//! (c) `amend_member` gives the next roster version the new attributes, and
//!     a value a charter amendment drops reads as not declared;
//! (d) for random rosters, rules and stances, every order of arrival gives
//!     the same breakdown and adoption, and the verifier agrees.

use std::collections::BTreeMap;

use chorus_core::testkit::{member_key, Fixture, T0};
use chorus_core::{
    certificate, Action, AdoptionRule, Attribute, AttributeSets, BreadthRule, BreadthRules, BreadthShortfall,
    CertificateError, Charter, Coalition, Envelope, Genesis, Kind, Ledger, Member, MemberAttributes, ObjectId,
    Rejection, Stance, ValueTally, VoidReason,
};
use proptest::prelude::*;

const NOW: u64 = T0 + 1_000_000;
const REGIONS: [&str; 3] = ["East", "London", "North"];

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn sets() -> AttributeSets {
    AttributeSets {
        regions: s(&REGIONS),
        phases: s(&["primary", "secondary"]),
        trust_types: s(&["multi-academy trust", "single-academy trust"]),
        school_bands: vec![],
    }
}

fn rule(attribute: Attribute, min_distinct: u32, each_of: &[&str]) -> BreadthRule {
    BreadthRule { attribute, min_distinct, each_of: s(each_of) }
}

/// Any single endorsement reaches the fraction; `breadth` decides.
fn charter(breadth: Vec<BreadthRule>) -> Charter {
    Charter {
        positions: AdoptionRule::new(0, 1).unwrap(),
        attributes: sets(),
        breadth: BreadthRules { positions: breadth, ..BreadthRules::default() },
        ..Charter::default()
    }
}

/// Member `i` of six: regions East, East, London, London, North, North;
/// `i` + 1 schools and 100 × (`i` + 1) pupils; phase only for even `i`.
fn attrs(i: usize) -> MemberAttributes {
    MemberAttributes {
        region: Some(REGIONS[i / 2].into()),
        phase: i.is_multiple_of(2).then(|| "primary".into()),
        trust_type: None,
        schools: Some(i as u32 + 1),
        pupils: Some(100 * (i as u32 + 1)),
        labels: vec![format!("la:{i}")],
    }
}

fn ledger_with(f: &Fixture, objects: &[Envelope]) -> Ledger {
    let mut l = Ledger::new(f.coalition.clone());
    for o in objects {
        let v = l.validate(o.bytes(), NOW).expect("valid");
        l.apply(&v);
    }
    l
}

/// A proposal by member 0 and endorsements by `endorsers`.
fn endorsed(f: &Fixture, endorsers: &[usize]) -> (Envelope, Vec<Envelope>) {
    let p = f.proposal(0, "Breadth", 1, None);
    let ends = endorsers.iter().map(|&i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
    (p, ends)
}

#[test]
fn genesis_with_attributes_round_trips() {
    let c = charter(vec![rule(Attribute::Region, 2, &["London"]), rule(Attribute::SizeBand, 0, &["2-5"])]);
    let f = Fixture::with_charter(6, c.clone(), attrs);
    let g = f.coalition.genesis();
    assert_eq!(g.charter, c);
    assert_eq!(g.founders[3].attributes, attrs(3));
    let body = g.to_body();
    assert_eq!(Genesis::from_body(&body).unwrap(), *g);
    assert_eq!(f.coalition.genesis_envelope().body(), &body[..]);
}

fn genesis_error(charter: Charter, attributes: impl Fn(usize) -> MemberAttributes) -> Rejection {
    let keys = [member_key(0)];
    let g = Genesis {
        name: "G".into(),
        charter,
        founders: vec![Member {
            key: keys[0].public(),
            name: "T".into(),
            external_id: None,
            attributes: attributes(0),
        }],
        created_at_ms: T0,
        nonce: vec![],
    };
    let env = Envelope::sign(Kind::Genesis, g.to_body(), &[&keys[0]]);
    Coalition::from_genesis(env.bytes(), 1).unwrap_err()
}

#[test]
fn genesis_values_must_be_in_the_charters_sets() {
    let mars = |_| MemberAttributes { region: Some("Mars".into()), ..MemberAttributes::default() };
    let e = genesis_error(charter(vec![]), mars);
    assert_eq!(e.name(), "InvalidField");
    assert!(e.to_string().starts_with("member region: founder "), "{e}");
    assert!(e.to_string().contains("\"Mars\", which is not one of the charter's regions"), "{e}");

    let e = genesis_error(charter(vec![rule(Attribute::Region, 0, &["West"])]), |_| MemberAttributes::default());
    assert!(e.to_string().starts_with("positions breadth rule: each_of names \"West\""), "{e}");
    let e = genesis_error(charter(vec![rule(Attribute::Phase, 3, &[])]), |_| MemberAttributes::default());
    assert!(e.to_string().contains("needs 3 distinct phases, but the charter defines only 2"), "{e}");
    let e = genesis_error(charter(vec![rule(Attribute::SizeBand, 0, &["7-9"])]), |_| MemberAttributes::default());
    assert!(e.to_string().contains("not one of the charter's size bands"), "{e}");
    let e = genesis_error(charter(vec![rule(Attribute::TrustType, 0, &[])]), |_| MemberAttributes::default());
    assert!(e.to_string().contains("requires nothing"), "{e}");
    let nine: Vec<BreadthRule> = (0..9).map(|_| rule(Attribute::Region, 1, &[])).collect();
    let e = genesis_error(charter(nine), |_| MemberAttributes::default());
    assert!(e.to_string().contains("9 breadth rules, over the limit of 8"), "{e}");
}

#[test]
fn distinct_values_decide_adoption() {
    let f = Fixture::with_charter(6, charter(vec![rule(Attribute::Region, 3, &[])]), attrs);
    // East, East, London: two regions.
    let (p, ends) = endorsed(&f, &[0, 1, 2]);
    let mut objects = vec![p.clone()];
    objects.extend(ends.iter().cloned());
    let l = ledger_with(&f, &objects);
    let t = l.tally(&p.id()).unwrap();
    assert_eq!((t.endorse, t.required), (3, 1));
    assert!(!l.is_adopted(&p.id()));
    assert_eq!(
        t.breadth_shortfall(),
        Some(BreadthShortfall::TooFewDistinct { attribute: Attribute::Region, need: 3, have: 2 })
    );
    // The verifier says the same, with its own reason.
    let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
    let e = certificate::verify(&cert, Some(f.id())).unwrap_err();
    assert_eq!(e.name(), "Breadth");
    assert!(e.to_string().starts_with("breadth: needs endorsers from at least 3 distinct regions, has 2"), "{e}");

    // North too: adopted.
    objects.push(f.endorsement(5, p.id(), Stance::Endorse, 3));
    let l = ledger_with(&f, &objects);
    assert!(l.is_adopted(&p.id()));
    let b = l.breakdown(&p.id()).unwrap();
    assert!(b.breadth_met());
    assert_eq!(b.endorser_values(Attribute::Region), 3);
    let row = |value: Option<&str>, endorse, silent| ValueTally {
        value: value.map(Into::into),
        endorse,
        object: 0,
        abstain: 0,
        silent,
    };
    assert_eq!(
        b.region,
        [row(Some("East"), 2, 0), row(Some("London"), 1, 1), row(Some("North"), 1, 1), row(None, 0, 0)]
    );
    assert_eq!(b.phase, [row(Some("primary"), 2, 1), row(Some("secondary"), 0, 0), row(None, 2, 1)]);
    assert_eq!(b.trust_type.last().unwrap(), &row(None, 4, 2));
    // Schools 1, 2, 3, 6: bands "1", "2-5" (three), "6-15".
    let bands: Vec<(Option<&str>, usize)> = b.size_band.iter().map(|r| (r.value.as_deref(), r.endorse)).collect();
    assert_eq!(
        bands,
        [(Some("1"), 1), (Some("2-5"), 2), (Some("6-15"), 1), (Some("16-30"), 0), (Some("31+"), 0), (None, 0)]
    );
    assert_eq!((b.endorser_schools, b.endorsers_declaring_schools), (12, 4));
    assert_eq!((b.endorser_pupils, b.endorsers_declaring_pupils), (1200, 4));
    let json = serde_json::to_value(&b).unwrap();
    assert_eq!(json["region"][3]["value"], serde_json::Value::Null);
    assert_eq!(json["breadth"][0]["met"], true);

    let chosen = l.certificate_endorsements(&p.id()).unwrap();
    assert_eq!(chosen.len(), 4);
    let all: Vec<Envelope> = objects[1..].to_vec();
    let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &all);
    let v = certificate::verify(&cert, Some(f.id())).unwrap();
    assert_eq!(v.breakdown, b, "only endorsements, so the same breakdown");
}

#[test]
fn removing_an_endorsement_a_breadth_rule_needs_fails_the_certificate() {
    let c = charter(vec![rule(Attribute::Region, 0, &["London", "North"])]);
    let f = Fixture::with_charter(6, c, attrs);
    let (p, ends) = endorsed(&f, &[0, 2, 4]);
    let mut objects = vec![p.clone()];
    objects.extend(ends.iter().cloned());
    let l = ledger_with(&f, &objects);
    assert!(l.is_adopted(&p.id()));
    let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
    let v = certificate::verify(&cert, Some(f.id())).unwrap();
    assert_eq!(v.endorsers.len(), 3);
    assert!(v.breakdown.breadth_met());
    // Without the one from North: above the fraction, short of the rule.
    let short = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends[..2]);
    let e = certificate::verify(&short, Some(f.id())).unwrap_err();
    match &e {
        CertificateError::Breadth { shortfall, breadth, .. } => {
            assert_eq!(*shortfall, BreadthShortfall::Missing { attribute: Attribute::Region, value: "North".into() });
            assert_eq!(breadth.each_of, s(&["London", "North"]));
        }
        other => panic!("expected a breadth failure, got {other}"),
    }
    assert!(e.to_string().starts_with("breadth: needs an endorser with region \"North\", has none"), "{e}");
    // Without East, nothing the rule needs is gone: still valid.
    let enough = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends[1..]);
    assert!(certificate::verify(&enough, Some(f.id())).is_ok());
}

#[test]
fn stances_carried_in_the_chain_count_neither_for_breadth_nor_in_the_breakdown() {
    let c = charter(vec![rule(Attribute::Region, 0, &["London", "North"])]);
    let f = Fixture::with_charter(6, c, attrs);
    let genesis = f.coalition.genesis_envelope();
    let p = f.proposal(0, "Breadth", 1, None);
    let stance = |i: usize, s: Stance| f.endorsement(i, p.id(), s, 2);
    // East and London endorse in the certificate; North's endorsement is
    // carried in the chain only. A node holding all three adopts, but the
    // certificate's own endorsements miss North (PROTOCOL.md 9.2 step 21).
    let own = [stance(0, Stance::Endorse), stance(2, Stance::Endorse)];
    let north = stance(4, Stance::Endorse);
    let node = ledger_with(&f, &[p.clone(), own[0].clone(), own[1].clone(), north.clone()]);
    assert!(node.is_adopted(&p.id()));
    let cert = certificate::assemble_with_chain(genesis, &p, &own, std::slice::from_ref(&north));
    match certificate::verify(&cert, Some(f.id())).unwrap_err() {
        CertificateError::Breadth { shortfall, .. } => {
            assert_eq!(shortfall, BreadthShortfall::Missing { attribute: Attribute::Region, value: "North".into() })
        }
        other => panic!("expected a breadth failure, got {other}"),
    }

    // With North's endorsement its own, valid; the chain carries another
    // North endorsement, an objection and an abstention on the proposal,
    // and the breakdown shows only the certificate's three endorsers.
    let own = [stance(0, Stance::Endorse), stance(2, Stance::Endorse), north];
    let chain = [stance(5, Stance::Endorse), stance(1, Stance::Object), stance(3, Stance::Abstain)];
    let cert = certificate::assemble_with_chain(genesis, &p, &own, &chain);
    let v = certificate::verify(&cert, Some(f.id())).unwrap();
    assert_eq!(v.endorsers.len(), 3);
    let mut only_own = vec![p.clone()];
    only_own.extend(own.iter().cloned());
    assert_eq!(v.breakdown, ledger_with(&f, &only_own).breakdown(&p.id()).unwrap());
    let row =
        |value: &str, endorse, silent| ValueTally { value: Some(value.into()), endorse, object: 0, abstain: 0, silent };
    assert_eq!(v.breakdown.region[..3], [row("East", 1, 1), row("London", 1, 1), row("North", 1, 1)]);
    assert_eq!(v.breakdown.endorsers, 3);
    assert_eq!(v.breakdown.breadth[0].distinct, 3);
    // A node holding everything counts them all.
    let mut everything = only_own;
    everything.extend(chain.iter().cloned());
    let b = ledger_with(&f, &everything).breakdown(&p.id()).unwrap();
    assert_eq!((b.endorsers, b.region[0].object, b.region[1].abstain, b.region[2].endorse), (4, 1, 1, 2));
}

/// A governance proposal by member 0 under `heads`, endorsed by all six.
fn governance(f: &Fixture, action: Action, heads: &[ObjectId], at: u64) -> Vec<Envelope> {
    let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "G", heads, Some(action), at);
    let mut out = vec![g.clone()];
    out.extend((0..6).map(|i| f.endorsement(i, g.id(), Stance::Endorse, at + 1)));
    out
}

#[test]
fn amend_member_makes_a_new_roster_version() {
    let f = Fixture::with_charter(6, charter(vec![]), attrs);
    let trust = f.keys[5].public();
    let new = MemberAttributes { region: Some("London".into()), schools: Some(40), ..MemberAttributes::default() };
    let objects = governance(&f, Action::AmendMember { trust, attributes: new.clone() }, &[], 10);
    let l = ledger_with(&f, &objects);
    assert!(l.is_adopted(&objects[0].id()));
    let (roster, _) = l.head_roster().unwrap();
    assert_eq!(roster.get(trust.as_bytes()).unwrap().attributes, new);
    assert_eq!(roster.get(f.keys[4].public().as_bytes()).unwrap().attributes, attrs(4));
    // The genesis version keeps the old ones.
    assert_eq!(l.roster(&f.id()).unwrap().get(trust.as_bytes()).unwrap().attributes, attrs(5));
    // A later amendment with no attributes clears them.
    let heads = [objects[0].id()];
    let clear = governance(&f, Action::AmendMember { trust, attributes: MemberAttributes::default() }, &heads, 20);
    let mut all = objects.clone();
    all.extend(clear);
    let l = ledger_with(&f, &all);
    assert!(l.head_roster().unwrap().0.get(trust.as_bytes()).unwrap().attributes.is_empty());
    // Its certificate proves a member amendment under the membership rule.
    let g = &all[7];
    let chain: Vec<Envelope> = objects.clone();
    let cert = certificate::assemble_with_chain(f.coalition.genesis_envelope(), g, &all[8..], &chain);
    let v = certificate::verify(&cert, Some(f.id())).unwrap();
    assert_eq!(v.decision, chorus_core::Decision::MemberAmendment);
    assert_eq!(v.rule.kind, chorus_core::RuleKind::Membership);
}

#[test]
fn admissions_and_amendments_must_use_the_pinned_charters_values() {
    let f = Fixture::with_charter(6, charter(vec![]), attrs);
    let l = Ledger::new(f.coalition.clone());
    let mars = MemberAttributes { region: Some("Mars".into()), ..MemberAttributes::default() };
    let x = member_key(100);
    let admit = Member { key: x.public(), name: "X".into(), external_id: None, attributes: mars.clone() };
    for action in [Action::Admit(admit), Action::AmendMember { trust: f.keys[1].public(), attributes: mars.clone() }] {
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "G", &[], Some(action), 10);
        let e = l.validate(g.bytes(), NOW).unwrap_err();
        assert_eq!(e.name(), "InvalidField");
        assert!(e.to_string().contains("\"Mars\", which is not one of the charter's regions"), "{e}");
    }
    // Under a version whose charter adds the region, the same is valid.
    let mut wider = charter(vec![]);
    wider.attributes.regions = s(&["East", "London", "Mars", "North"]);
    let amend = governance(&f, Action::AmendCharter(wider), &[], 10);
    let mut objects = amend.clone();
    let g = f.proposal_under(
        &f.keys[0],
        f.keys[0].public(),
        "G",
        &[amend[0].id()],
        Some(Action::AmendMember { trust: f.keys[1].public(), attributes: mars }),
        20,
    );
    objects.push(g.clone());
    let l = ledger_with(&f, &objects);
    assert!(l.proposal(&g.id()).is_some());
    // An amendment of a non-member is void.
    let stranger = Action::AmendMember { trust: x.public(), attributes: MemberAttributes::default() };
    let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "G", &[], Some(stranger), 30);
    let l = ledger_with(&f, std::slice::from_ref(&g));
    assert!(matches!(l.void_reason(&g.id()), Some(VoidReason::ActionNotApplicable(r)) if r.contains("not a member")));
}

#[test]
fn a_value_dropped_from_the_set_reads_as_not_declared() {
    let f = Fixture::with_charter(6, charter(vec![]), attrs);
    let mut narrower = charter(vec![]);
    narrower.attributes.regions = s(&["East", "London"]);
    let amend = governance(&f, Action::AmendCharter(narrower), &[], 10);
    let p = f.proposal_under(&f.keys[0], f.keys[0].public(), "P", &[amend[0].id()], None, 20);
    let mut objects = amend;
    objects.push(p.clone());
    objects.extend((0..6).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 21)));
    let l = ledger_with(&f, &objects);
    let b = l.breakdown(&p.id()).unwrap();
    let regions: Vec<(Option<&str>, usize)> = b.region.iter().map(|r| (r.value.as_deref(), r.endorse)).collect();
    assert_eq!(regions, [(Some("East"), 2), (Some("London"), 2), (None, 2)]);
    // The members still carry what they declared.
    assert_eq!(l.head_roster().unwrap().0.get(f.keys[5].public().as_bytes()).unwrap().attributes, attrs(5));
}

#[test]
fn ledgers_without_breadth_rules_serialise_tallies_as_before() {
    let f = Fixture::new(3);
    let (p, ends) = endorsed(&f, &[0, 1]);
    let mut objects = vec![p.clone()];
    objects.extend(ends);
    let l = ledger_with(&f, &objects);
    let json = serde_json::to_value(l.tally(&p.id()).unwrap()).unwrap();
    assert!(json.get("breadth").is_none(), "{json}");
    let b = l.breakdown(&p.id()).unwrap();
    assert_eq!(b.region, [ValueTally { value: None, endorse: 2, silent: 1, ..ValueTally::default() }]);
    assert!(b.breadth.is_empty());
}

/// One random case: a roster with attributes, a rule, stances.
#[derive(Clone, Debug)]
struct Case {
    /// Per member: region index (3 = none), phase index (2 = none),
    /// schools (0 = none), pupils (0 = none), stance (0 none, 1 endorse,
    /// 2 object, 3 abstain).
    members: Vec<(usize, usize, u32, u32, u8)>,
    numerator: u32,
    denominator: u32,
    /// (attribute 0 region, 1 phase, 2 size band; min_distinct; each_of mask)
    rules: Vec<(usize, u32, u8)>,
}

/// Mostly endorsements, so that both the fraction and breadth decide.
fn stance() -> impl Strategy<Value = u8> {
    prop_oneof![3 => Just(1u8), 1 => Just(0u8), 1 => Just(2u8), 1 => Just(3u8)]
}

fn case() -> impl Strategy<Value = Case> {
    let member = (0usize..4, 0usize..3, prop_oneof![Just(0u32), 1u32..40], 0u32..5000, stance());
    (
        prop::collection::vec(member, 2..9),
        (1u32..5).prop_flat_map(|d| (0..=d, Just(d))),
        prop::collection::vec((0usize..3, 0u32..4, any::<u8>()), 0..3),
    )
        .prop_map(|(members, (numerator, denominator), rules)| Case { members, numerator, denominator, rules })
}

impl Case {
    fn charter(&self) -> Charter {
        let attributes = sets();
        let breadth = self
            .rules
            .iter()
            .filter_map(|&(a, min, mask)| {
                let attribute = [Attribute::Region, Attribute::Phase, Attribute::SizeBand][a];
                let values = attributes.values(attribute);
                let min = min.min(values.len() as u32);
                let mut each_of: Vec<String> =
                    values.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, v)| v.clone()).collect();
                // Sorted by bytes, like every list of values ("16-30" < "2-5").
                each_of.sort();
                (min > 0 || !each_of.is_empty()).then_some(BreadthRule { attribute, min_distinct: min, each_of })
            })
            .collect();
        Charter {
            positions: AdoptionRule::new(self.numerator, self.denominator).unwrap(),
            attributes,
            breadth: BreadthRules { positions: breadth, ..BreadthRules::default() },
            ..Charter::default()
        }
    }

    fn attributes(&self, i: usize) -> MemberAttributes {
        let (r, p, schools, pupils, _) = self.members[i];
        MemberAttributes {
            region: REGIONS.get(r).map(|v| v.to_string()),
            phase: ["primary", "secondary"].get(p).map(|v| v.to_string()),
            trust_type: None,
            schools: (schools > 0).then_some(schools),
            pupils: (pupils > 0).then_some(pupils),
            labels: vec![],
        }
    }

    /// Adoption by the rule's definition, from the model alone.
    fn adopted(&self, c: &Charter) -> bool {
        let endorsers: Vec<usize> = (0..self.members.len()).filter(|&i| self.members[i].4 == 1).collect();
        if endorsers.len() < c.positions.required(self.members.len()) {
            return false;
        }
        c.breadth.positions.iter().all(|b| {
            let values: std::collections::BTreeSet<String> =
                endorsers.iter().filter_map(|&i| c.attributes.value_of(&self.attributes(i), b.attribute)).collect();
            values.len() >= b.min_distinct as usize && b.each_of.iter().all(|v| values.contains(v))
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn breakdown_and_adoption_do_not_depend_on_order(c in case(), seeds in prop::collection::vec(any::<u64>(), 3)) {
        let charter = c.charter();
        let n = c.members.len();
        let f = Fixture::with_charter(n as u32, charter.clone(), |i| c.attributes(i));
        let p = f.proposal(0, "Random", 1, None);
        let stance = |s: u8| [Stance::Endorse, Stance::Object, Stance::Abstain][usize::from(s) - 1];
        let stances: Vec<Envelope> = (0..n)
            .filter(|&i| c.members[i].4 > 0)
            .map(|i| f.endorsement(i, p.id(), stance(c.members[i].4), 2))
            .collect();
        let mut objects = vec![p.clone()];
        objects.extend(stances.iter().cloned());
        let reference = ledger_with(&f, &objects);
        let want = reference.breakdown(&p.id()).unwrap();
        prop_assert_eq!(reference.is_adopted(&p.id()), c.adopted(&charter));
        prop_assert_eq!(want.breadth_met() && want.endorsers >= reference.tally(&p.id()).unwrap().required,
            reference.is_adopted(&p.id()));
        prop_assert_eq!(reference.tally(&p.id()), reference.recount(&p.id()));
        for seed in seeds {
            // Any order, the proposal possibly after its stances.
            let mut order = objects.clone();
            let mut rng = chorus_core::testkit::SplitMix(seed);
            for i in (1..order.len()).rev() {
                order.swap(i, rng.index(i + 1));
            }
            let l = ledger_with(&f, &order);
            prop_assert_eq!(l.breakdown(&p.id()).unwrap(), want.clone());
            prop_assert_eq!(l.is_adopted(&p.id()), reference.is_adopted(&p.id()));
            prop_assert_eq!(l.tally(&p.id()), reference.tally(&p.id()));
            prop_assert_eq!(l.digest(), reference.digest());
        }
        // The verifier agrees: every endorsement carried.
        let ends: Vec<Envelope> = (0..n)
            .filter(|&i| c.members[i].4 == 1)
            .map(|i| f.endorsement(i, p.id(), Stance::Endorse, 2))
            .collect();
        let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
        let verdict = certificate::verify_with_threads(&cert, Some(f.id()), 1);
        match verdict {
            Ok(v) => {
                prop_assert!(reference.is_adopted(&p.id()));
                prop_assert_eq!(&v.breakdown.breadth, &want.breadth);
                prop_assert_eq!(v.breakdown.endorser_schools, want.endorser_schools);
                prop_assert_eq!(v.breakdown.endorser_pupils, want.endorser_pupils);
                for a in Attribute::ALL {
                    let e = |b: &chorus_core::Breakdown| b.by(a).iter().map(|r| r.endorse).collect::<Vec<_>>();
                    prop_assert_eq!(e(&v.breakdown), e(&want));
                }
                prop_assert_eq!(reference.certificate_endorsements(&p.id()).unwrap().len(), v.endorsers.len());
            }
            Err(CertificateError::BelowThreshold { .. }) => {
                prop_assert!(!reference.is_adopted(&p.id()));
                prop_assert!(want.endorsers < reference.tally(&p.id()).unwrap().required);
            }
            Err(CertificateError::Breadth { shortfall, .. }) => {
                prop_assert!(!reference.is_adopted(&p.id()));
                prop_assert!(!want.breadth_met());
                prop_assert_eq!(Some(shortfall), reference.tally(&p.id()).unwrap().breadth_shortfall());
            }
            Err(e) => prop_assert!(false, "unexpected verdict {}", e),
        }
    }
}

#[test]
fn amendments_bodies_round_trip() {
    let f = Fixture::with_charter(6, charter(vec![rule(Attribute::Region, 1, &[])]), attrs);
    let full = MemberAttributes {
        region: Some("North".into()),
        phase: Some("secondary".into()),
        trust_type: Some("single-academy trust".into()),
        schools: Some(10_000),
        pupils: Some(10_000_000),
        labels: s(&["constituency:Leeds Central", "la:Leeds"]),
    };
    let mut map = BTreeMap::new();
    for action in [
        Action::AmendMember { trust: f.keys[2].public(), attributes: full.clone() },
        Action::AmendMember { trust: f.keys[2].public(), attributes: MemberAttributes::default() },
        Action::AmendCharter(charter(vec![
            rule(Attribute::SizeBand, 2, &["31+"]),
            rule(Attribute::Phase, 0, &["primary"]),
        ])),
        Action::Admit(Member {
            key: member_key(9).public(),
            name: "N".into(),
            external_id: None,
            attributes: full.clone(),
        }),
    ] {
        let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "G", &[], Some(action.clone()), 5);
        let parsed = chorus_core::Proposal::from_body(g.body()).unwrap();
        assert_eq!(parsed.action.as_ref(), Some(&action));
        assert_eq!(parsed.to_body(), g.body());
        let v = Ledger::new(f.coalition.clone()).validate(g.bytes(), NOW).expect("valid");
        map.insert(v.id(), action);
    }
    assert_eq!(map.len(), 4);
}
