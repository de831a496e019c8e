//! Breadth on the site (issue 15): proposal pages break the tally down by
//! region, phase and size band and show each breadth rule met or not; the
//! members page shows the charter's value sets and every member's declared
//! attributes; feed summaries gain a line of breadth; a coalition without
//! attributes renders none of it; every declared value is escaped.

mod common;

use std::collections::BTreeMap;

use chorus_core::testkit::{member_key, Fixture};
use chorus_core::{
    Action, Attribute, AttributeSets, BreadthRule, BreadthRules, Charter, Envelope, Member, MemberAttributes, ObjectId,
    Stance,
};
use chorus_web::{Publish, Site, SiteConfig};
use common::*;

const HOSTILE_REGION: &str = "<script>alert('region')</script>";
const HOSTILE_LABEL: &str = "<b onmouseover=alert(1)>bold</b>";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn sets(regions: &[&str]) -> AttributeSets {
    AttributeSets {
        regions: s(regions),
        phases: s(&["primary", "secondary"]),
        trust_types: vec![],
        school_bands: vec![],
    }
}

/// Regions (the hostile one sorts first), phases, default size bands; the
/// positions rule needs endorsers from 2 distinct regions and one in the
/// size band 16-30.
fn charter() -> Charter {
    Charter {
        attributes: sets(&[HOSTILE_REGION, "East", "London", "North"]),
        breadth: BreadthRules {
            positions: vec![
                BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] },
                BreadthRule { attribute: Attribute::SizeBand, min_distinct: 0, each_of: s(&["16-30"]) },
            ],
            ..BreadthRules::default()
        },
        ..Charter::default()
    }
}

/// Trust 0: the hostile region, primary, 12 schools, 4,300 pupils, two
/// labels; Trust 1: East, secondary, 20 schools, 10,000 pupils; Trust 2:
/// London only; Trust 3: nothing.
fn attrs(i: usize) -> MemberAttributes {
    match i {
        0 => MemberAttributes {
            region: Some(HOSTILE_REGION.into()),
            phase: Some("primary".into()),
            trust_type: None,
            schools: Some(12),
            pupils: Some(4_300),
            labels: s(&[HOSTILE_LABEL, "la:Leeds"]),
        },
        1 => MemberAttributes {
            region: Some("East".into()),
            phase: Some("secondary".into()),
            schools: Some(20),
            pupils: Some(10_000),
            ..MemberAttributes::default()
        },
        2 => MemberAttributes { region: Some("London".into()), ..MemberAttributes::default() },
        _ => MemberAttributes::default(),
    }
}

struct Breadth {
    world: World,
    /// Adopted: endorsed by trusts 0, 1, 2 (every breadth rule met).
    met: ObjectId,
    /// Not adopted: enough endorsements (0, 2, 3; 1 objects), but no
    /// endorser runs 16 to 30 schools.
    unmet: ObjectId,
    admission: ObjectId,
    amendment: ObjectId,
    charter_amendment: ObjectId,
}

fn breadth_world() -> Breadth {
    let f = Fixture::with_charter(4, charter(), attrs);
    let mut objects: Vec<Envelope> = vec![];
    let mut push = |e: Envelope| {
        let id = e.id();
        objects.push(e);
        id
    };
    let met = push(f.proposal(0, "Fair funding", 1, None));
    for i in 0..3 {
        push(f.endorsement(i, met, Stance::Endorse, 2));
    }
    let unmet = push(f.proposal(1, "Narrow support", 3, None));
    for i in [0, 2, 3] {
        push(f.endorsement(i, unmet, Stance::Endorse, 4));
    }
    push(f.endorsement(1, unmet, Stance::Object, 4));

    // An admission declaring attributes (membership rule: 3 of 4).
    let newcomer = member_key(100);
    let admit = Action::Admit(Member {
        key: newcomer.public(),
        name: "New Trust".into(),
        external_id: None,
        attributes: MemberAttributes { region: Some("North".into()), schools: Some(3), ..MemberAttributes::default() },
    });
    let k0 = &f.keys[0];
    let admission = push(f.proposal_under(k0, k0.public(), "Admit New Trust", &[], Some(admit), 5));
    for i in 0..3 {
        push(f.endorsement(i, admission, Stance::Endorse, 6));
    }
    let endorse_all = |push: &mut dyn FnMut(Envelope) -> ObjectId, id: ObjectId, offset: u64| {
        for i in 0..3 {
            push(f.endorsement(i, id, Stance::Endorse, offset));
        }
        push(f.stance_by(&newcomer, newcomer.public(), id, Stance::Endorse, offset, None));
    };
    // Trust 3 declares North and its pupils (membership rule: 4 of 5).
    let amend = Action::AmendMember {
        trust: f.keys[3].public(),
        attributes: MemberAttributes { region: Some("North".into()), pupils: Some(900), ..MemberAttributes::default() },
    };
    let amendment = push(f.proposal_under(k0, k0.public(), "Trust 3 declares", &[admission], Some(amend), 7));
    endorse_all(&mut push, amendment, 8);
    // The charter drops North (amendments rule: 4 of 5): both members
    // that declare it now read as not declared.
    let mut dropped = charter();
    dropped.attributes = sets(&[HOSTILE_REGION, "East", "London"]);
    let charter_amendment =
        push(f.proposal_under(k0, k0.public(), "Drop North", &[amendment], Some(Action::AmendCharter(dropped)), 9));
    endorse_all(&mut push, charter_amendment, 10);

    let mut keys = f.keys.clone();
    keys.push(newcomer);
    Breadth {
        world: World::of(f.coalition.clone(), objects, keys),
        met,
        unmet,
        admission,
        amendment,
        charter_amendment,
    }
}

fn everything() -> SiteConfig {
    SiteConfig { publish: Publish::Everything, base_url: None }
}

fn page(site: &Site, path: &str) -> String {
    String::from_utf8(site.get(path).unwrap_or_else(|| panic!("{path} is served")).body).unwrap()
}

/// A breakdown row: value cell, then endorse, object, abstain, not
/// responded, total.
fn row(value: &str, counts: [usize; 5]) -> String {
    let cells: String = counts.iter().map(|n| format!("<td class=\"num\">{n}</td>")).collect();
    format!("<tr><th scope=\"row\">{value}</th>{cells}</tr>")
}

const NOT_DECLARED: &str = "<em>Not declared</em>";
const ESCAPED_REGION: &str = "&lt;script&gt;alert('region')&lt;/script&gt;";

/// The section `<section class="breadth" ...>` of a page.
fn breadth_section(page: &str) -> &str {
    let start = page.find("<section class=\"breadth\"").expect("a breadth section");
    let s = &page[start..];
    // The section holds no nested section.
    &s[..s.find("</section>").unwrap()]
}

#[test]
fn a_position_page_shows_the_tally_by_attribute_and_each_breadth_rule() {
    let b = breadth_world();
    let ledger = b.world.ledger();
    let source = b.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    assert!(ledger.is_adopted(&b.met) && !ledger.is_adopted(&b.unmet));

    let met = page(&site, &format!("proposals/{}.html", b.met));
    let section = breadth_section(&met);
    assert!(section.contains("<h2 id=\"breadth\">Breadth</h2>"), "{section}");
    assert!(
        section.contains(
            "<p>Endorsed by 3 of 4 member trusts, from 3 of 4 regions and 2 of 2 phases, running at least 32 \
             schools with at least 14,300 pupils; 2 of 2 breadth rules met.</p>"
        ),
        "{section}"
    );
    // Each rule of the positions rule, met, in charter order.
    assert!(section.contains("<th scope=\"row\">Endorsers from at least 2 distinct regions</th><td>3 distinct regions of 4</td><td><strong class=\"met\">Met</strong></td>"), "{section}");
    assert!(section.contains("<th scope=\"row\">An endorser with each size band of &quot;16-30&quot;</th><td>2 distinct size bands of 5</td><td><strong class=\"met\">Met</strong></td>"), "{section}");
    // Region: every value of the set in set order, even at zero, then not
    // declared (Trust 3, silent).
    let region = [
        row(ESCAPED_REGION, [1, 0, 0, 0, 1]),
        row("East", [1, 0, 0, 0, 1]),
        row("London", [1, 0, 0, 0, 1]),
        row("North", [0, 0, 0, 0, 0]),
        row(NOT_DECLARED, [0, 0, 0, 1, 1]),
    ]
    .concat();
    assert!(section.contains(&region), "{section}");
    let phase =
        [row("primary", [1, 0, 0, 0, 1]), row("secondary", [1, 0, 0, 0, 1]), row(NOT_DECLARED, [1, 0, 0, 1, 2])]
            .concat();
    assert!(section.contains(&phase), "{section}");
    let bands = [
        row("1", [0; 5]),
        row("2-5", [0; 5]),
        row("6-15", [1, 0, 0, 0, 1]),
        row("16-30", [1, 0, 0, 0, 1]),
        row("31+", [0; 5]),
        row(NOT_DECLARED, [1, 0, 0, 1, 2]),
    ]
    .concat();
    assert!(section.contains(&bands), "{section}");
    // No trust types are declared: no table for them.
    assert!(!section.contains("by trust type"), "{section}");
    assert!(section.contains("<caption>Member trusts by region and effective stance</caption>"));
    assert!(section.contains("<dt>Endorsers' schools</dt><dd>32 (declared by 2 of the 3 endorsing trusts)</dd>"));
    assert!(section.contains("<dt>Endorsers' pupils</dt><dd>14,300 (declared by 2 of the 3 endorsing trusts)</dd>"));
    assert!(met.contains("so 3 endorsements are required, and its 2 breadth rules must be met (see Breadth).</dd>"));
    // The breadth section sits between the tally and the stances.
    let (tally, breadth, stances) =
        (met.find("id=\"tally\"").unwrap(), met.find("id=\"breadth\"").unwrap(), met.find("id=\"stances\"").unwrap());
    assert!(tally < breadth && breadth < stances);

    // Enough endorsements, but the size band rule is not met.
    let unmet = page(&site, &format!("proposals/{}.html", b.unmet));
    let section = breadth_section(&unmet);
    assert!(section.contains("Endorsed by 3 of 4 member trusts, from 2 of 4 regions and 1 of 2 phases, running at least 12 schools with at least 4,300 pupils; 1 of 2 breadth rules met."), "{section}");
    assert!(section.contains("<td>1 distinct size band of 5; no endorser with \u{201c}16-30\u{201d}</td><td><strong class=\"unmet\">Not met</strong></td>"), "{section}");
    assert!(section.contains(&row("16-30", [0, 1, 0, 0, 1])), "{section}");
    assert!(section.contains(&row(NOT_DECLARED, [2, 0, 0, 0, 2])), "{section}");

    // The admission is under the membership rule, which has no breadth rule.
    let admission = page(&site, &format!("proposals/{}.html", b.admission));
    let section = breadth_section(&admission);
    assert!(section.contains("The membership rule has no breadth rule"), "{section}");
    assert!(!section.contains("breadth-rules"), "{section}");
    assert!(admission.contains("as a member, with trust id"));
    assert!(admission.contains(", declaring region \u{201c}North\u{201d}, 3 schools.</dd>"), "{admission}");
    assert!(admission.contains("of the 4 members endorse, so 3 endorsements are required.</dd>"));
}

#[test]
fn the_members_page_shows_the_value_sets_and_every_declared_attribute() {
    let b = breadth_world();
    let ledger = b.world.ledger();
    assert!(ledger.is_adopted(&b.amendment) && ledger.is_adopted(&b.charter_amendment));
    let source = b.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let members = page(&site, "members.html");
    // The newest charter's sets: North was dropped.
    assert!(members.contains("<h2 id=\"attributes\">Member attributes</h2>"), "{members}");
    assert!(
        members.contains(&format!(
            "<dt>Regions</dt><dd><ul class=\"values\"><li>{ESCAPED_REGION}</li><li>East</li><li>London</li></ul></dd>"
        )),
        "{members}"
    );
    assert!(members.contains("<dt>Phases</dt><dd><ul class=\"values\"><li>primary</li><li>secondary</li></ul></dd>"));
    assert!(members.contains("<dt>Trust types</dt><dd>none defined</dd>"));
    assert!(members.contains("<dt>Size bands (schools)</dt><dd><ul class=\"values\"><li>1</li><li>2-5</li><li>6-15</li><li>16-30</li><li>31+</li></ul><p class=\"note\">The default bands.</p></dd>"));
    // The charter's rules carry their breadth rules.
    assert!(
        members.contains(
            "(3 of 5 now), with each of these breadth rules met:<ul class=\"rules\"><li>endorsers from at least 2 \
         distinct regions</li><li>an endorser with each size band of &quot;16-30&quot;</li></ul>"
        ),
        "{members}"
    );
    assert!(members.contains("(4 of 5 now).</dd>"), "the membership rule has no breadth rule");
    // Every member's attributes; North now counts as not declared.
    let table = &members[members.find("<h2 id=\"declared\">").expect("declared attributes")..];
    let out = "North <span class=\"note\">(not in the charter's set: counts as not declared)</span>";
    assert!(table.contains(&format!("<th scope=\"row\">New Trust</th><td>{out}</td><td></td><td></td><td class=\"num\">3</td><td>2-5</td><td class=\"num\"></td><td></td></tr>")), "{table}");
    assert!(table.contains(&format!("<th scope=\"row\">Trust 3</th><td>{out}</td><td></td><td></td><td class=\"num\"></td><td></td><td class=\"num\">900</td><td></td></tr>")), "{table}");
    assert!(table.contains(&format!(
        "<th scope=\"row\">Trust 0</th><td>{ESCAPED_REGION}</td><td>primary</td><td></td><td class=\"num\">12</td>\
         <td>6-15</td><td class=\"num\">4,300</td><td><ul class=\"labels\"><li>&lt;b onmouseover=alert(1)&gt;bold&lt;/b&gt;</li><li>la:Leeds</li></ul></td></tr>"
    )), "{table}");
    assert!(table.contains("<th scope=\"row\">Trust 2</th><td>London</td>"));

    // The governance pages say what they change.
    let amendment = page(&site, &format!("proposals/{}.html", b.amendment));
    assert!(amendment.contains(") with: region \u{201c}North\u{201d}, 900 pupils.</dd>"), "{amendment}");
    let charter = page(&site, &format!("proposals/{}.html", b.charter_amendment));
    assert!(
        charter.contains(&format!(
            "<li>regions: <ul class=\"values\"><li>{ESCAPED_REGION}</li><li>East</li><li>London</li></ul></li>"
        )),
        "{charter}"
    );
    assert!(
        charter.contains(
            "<li>breadth of positions: <ul class=\"rules\"><li>endorsers from at least 2 distinct regions</li>"
        ),
        "{charter}"
    );
}

#[test]
fn every_page_and_the_atom_feeds_escape_declared_values() {
    let b = breadth_world();
    let ledger = b.world.ledger();
    let source = b.world.source();
    let wasm = chorus_web::wasm_script_name();
    for publish in [Publish::Positions, Publish::Everything] {
        let cfg = SiteConfig { publish, base_url: None };
        let site = Site::new(&ledger, &source, &cfg);
        for path in site.paths().into_iter().filter(|p| !p.starts_with("assets/") && !p.starts_with("certificates/")) {
            let body = String::from_utf8(site.get(&path).unwrap().body).unwrap();
            if path.ends_with(".html") {
                check_page(&path, &body, &b.world.coalition.id(), wasm);
            }
            // A JSON Feed carries text in JSON strings (the breakdown's
            // values as declared, like titles); readers escape it.
            if path.ends_with(".json") {
                continue;
            }
            assert!(!body.contains("<script>alert"), "{path} carries the region unescaped");
            assert!(!body.contains("<b onmouseover"), "{path} carries a label unescaped");
        }
    }
}

#[test]
fn feeds_carry_a_line_of_breadth_and_the_breakdown() {
    let b = breadth_world();
    let ledger = b.world.ledger();
    let source = b.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let atom = page(&site, "feeds/positions.atom");
    let line = "Endorsed by 3 of 4 member trusts, from 3 of 4 regions and 2 of 2 phases, running at least 32 schools \
                with at least 14,300 pupils";
    let tally =
        "Adopted position. 3 endorse, 0 object, 0 abstain of 4 members (3 required). 0 objections, 0 abstentions.";
    assert!(atom.contains(&format!("{tally}\n{line}; 2 of 2 breadth rules met.</summary>")), "{atom}");
    // The admission's rule has no breadth rule: the line has no verdict.
    assert!(atom.contains(&format!("0 objections, 0 abstentions.\n{line}.</summary>")), "{atom}");
    assert!(!atom.contains("<script>alert"));

    let json: serde_json::Value = serde_json::from_slice(&site.get("feeds/proposals.json").unwrap().body).unwrap();
    let items = json["items"].as_array().unwrap();
    let item = |id: &ObjectId| items.iter().find(|i| i["_chorus"]["proposal"] == id.to_hex()).unwrap();
    let met = item(&b.met);
    assert!(met["summary"].as_str().unwrap().ends_with(&format!("\n{line}; 2 of 2 breadth rules met.")));
    let breakdown = &met["_chorus"]["breakdown"];
    assert_eq!(breakdown["members"], 4);
    assert_eq!(breakdown["endorsers"], 3);
    assert_eq!(breakdown["region"][0]["value"], HOSTILE_REGION);
    assert_eq!(breakdown["region"][4]["value"], serde_json::Value::Null);
    assert_eq!(breakdown["endorser_pupils"], 14_300);
    let unmet = item(&b.unmet);
    let rules = unmet["_chorus"]["breakdown"]["breadth"].as_array().unwrap();
    assert_eq!(rules.iter().map(|r| r["met"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false]);
    assert_eq!(rules[1]["missing"][0], "16-30");
}

#[test]
fn a_coalition_without_attributes_has_no_breadth_anywhere() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    for base in [None, Some("https://voice.example.org/")] {
        let cfg = SiteConfig { publish: Publish::Everything, base_url: base.map(Into::into) };
        let site = Site::new(&ledger, &source, &cfg);
        for path in site.paths().into_iter().filter(|p| !p.starts_with("assets/") && !p.starts_with("certificates/")) {
            let body = String::from_utf8(site.get(&path).unwrap().body).unwrap();
            for absent in [
                "id=\"breadth\"",
                "id=\"attributes\"",
                "id=\"declared\"",
                "breadth rule",
                "Endorsed by",
                "\"breakdown\"",
                "Not declared",
                "table-scroll",
            ] {
                assert!(!body.contains(absent), "{path} shows {absent:?}");
            }
        }
    }
    // Nor a coalition whose charter declares nothing and whose members
    // declare nothing, made by the testkit.
    let f = Fixture::new(3);
    let p = f.proposal(0, "Plain", 1, None);
    let mut objects = vec![p.clone()];
    objects.extend((0..2).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 2)));
    let w = World::of(f.coalition.clone(), objects, f.keys.clone());
    let ledger = w.ledger();
    assert!(ledger.is_adopted(&p.id()));
    let source = w.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let page = page(&site, &format!("proposals/{}.html", p.id()));
    assert!(!page.contains("Breadth") && !page.contains("breadth"), "{page}");
    assert!(ledger.breakdown(&p.id()).is_some(), "the core has a breakdown; the site does not show it");
}

#[test]
fn any_order_of_arrival_renders_the_same_breadth() {
    let b = breadth_world();
    let source = b.world.source();
    let cfg = everything();
    let render = |order: &[usize]| -> BTreeMap<String, Vec<u8>> {
        let ledger = b.world.ledger_in_order(order);
        let site = Site::new(&ledger, &source, &cfg);
        site.paths().into_iter().map(|p| (p.clone(), site.get(&p).unwrap().body)).collect()
    };
    let n = b.world.objects.len();
    let forward: Vec<usize> = (0..n).collect();
    let backward: Vec<usize> = (0..n).rev().collect();
    // Odd positions first, then even ones.
    let interleaved: Vec<usize> = (0..n).filter(|i| i % 2 == 1).chain((0..n).filter(|i| i % 2 == 0)).collect();
    let want = render(&forward);
    assert_eq!(render(&backward), want);
    assert_eq!(render(&interleaved), want);
}
