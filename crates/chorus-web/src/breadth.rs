//! Breadth: the members' declared attributes, the charter's value sets and
//! breadth rules, and a proposal's tally broken down by attribute
//! ([`chorus_core::Breakdown`]), as page sections and as one line of text.
//!
//! A coalition that uses none of this (no value set, no breadth rule, no
//! member declaring anything) gets none of it: [`shown`] is false and the
//! pages and feeds read exactly as before. Every value is escaped by maud.

use chorus_core::{
    Attribute, AttributeSets, BreadthRule, Breakdown, Charter, Member, MemberAttributes, Roster, RuleKind,
};
use maud::{html, Markup};

/// True when the coalition uses attributes under this version: the
/// charter declares a value set, custom size bands or a breadth rule, or a
/// member declares something.
pub(crate) fn shown(charter: &Charter, roster: &Roster) -> bool {
    !charter.attributes.is_empty()
        || [RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments]
            .into_iter()
            .any(|k| !charter.breadth.of(k).is_empty())
        || roster.members().any(|m| !m.attributes.is_empty())
}

/// The attributes worth a table for a proposal adopted under `kind`: a
/// region, phase or trust type whose set the charter declares, the size
/// band when the charter sets its bands or a member declares its schools,
/// and any attribute a breadth rule of `kind` counts.
fn tabled(charter: &Charter, roster: &Roster, kind: RuleKind) -> Vec<Attribute> {
    let sets = &charter.attributes;
    Attribute::ALL
        .into_iter()
        .filter(|&a| {
            let declared = match a {
                Attribute::SizeBand => {
                    !sets.school_bands.is_empty() || roster.members().any(|m| m.attributes.schools.is_some())
                }
                _ => sets.len(a) > 0,
            };
            declared || charter.breadth.of(kind).iter().any(|r| r.attribute == a)
        })
        .collect()
}

pub(crate) use chorus_core::thousands;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// "Endorsed by 3 of 4 member trusts, from 3 of 9 regions, running 41
/// schools with 19,200 pupils; 1 of 1 breadth rules met" (no final full
/// stop). Regions, phases and trust types are named when their set is
/// declared; schools and pupils when an endorser declares them ("at least"
/// when some endorsers do not); the breadth rules when the rule has some.
pub(crate) fn line(b: &Breakdown, sets: &AttributeSets) -> String {
    let mut out = format!(
        "Endorsed by {} of {}",
        thousands(b.endorsers as u64),
        plural(b.members as u64, "member trust", "member trusts")
    );
    let spread: Vec<String> = [Attribute::Region, Attribute::Phase, Attribute::TrustType]
        .into_iter()
        .filter(|&a| sets.len(a) > 0)
        .map(|a| {
            format!(
                "{} of {} {}",
                b.endorser_values(a),
                sets.len(a),
                if sets.len(a) == 1 { a.name() } else { a.plural() }
            )
        })
        .collect();
    if !spread.is_empty() {
        out.push_str(", from ");
        out.push_str(&and_list(&spread));
    }
    let at_least = |declaring: usize| if declaring < b.endorsers { "at least " } else { "" };
    if b.endorsers_declaring_schools > 0 {
        out.push_str(&format!(
            ", running {}{}",
            at_least(b.endorsers_declaring_schools),
            plural(b.endorser_schools, "school", "schools")
        ));
    }
    if b.endorsers_declaring_pupils > 0 {
        let join = if b.endorsers_declaring_schools > 0 { " with " } else { ", with " };
        out.push_str(&format!(
            "{join}{}{}",
            at_least(b.endorsers_declaring_pupils),
            plural(b.endorser_pupils, "pupil", "pupils")
        ));
    }
    if !b.breadth.is_empty() {
        let met = b.breadth.iter().filter(|s| s.met).count();
        out.push_str(&format!("; {met} of {} met", plural(b.breadth.len() as u64, "breadth rule", "breadth rules")));
    }
    out
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Name of an attribute with a capital, for headings.
fn title(a: Attribute) -> &'static str {
    match a {
        Attribute::Region => "Region",
        Attribute::Phase => "Phase",
        Attribute::TrustType => "Trust type",
        Attribute::SizeBand => "Size band (schools)",
    }
}

/// A table that scrolls sideways on a narrow screen rather than overflow
/// the page; focusable so that it scrolls from the keyboard too.
fn scroll(label: &str, table: Markup) -> Markup {
    html! {
        div.table-scroll role="region" aria-label=(label) tabindex="0" { (table) }
    }
}

/// The "Breadth" section of a proposal's page: the summary line, each
/// breadth rule of its rule with met or not met, the tally by each
/// attribute worth a table, and the endorsers' schools and pupils.
pub(crate) fn section(b: &Breakdown, charter: &Charter, roster: &Roster) -> Markup {
    let sets = &charter.attributes;
    let kind = b.rule;
    // Totals only for what some member declares.
    let schools = roster.members().any(|m| m.attributes.schools.is_some());
    let pupils = roster.members().any(|m| m.attributes.pupils.is_some());
    html! {
        section.breadth aria-labelledby="breadth" {
            h2 #breadth { "Breadth" }
            p { (line(b, sets)) "." }
            @if b.breadth.is_empty() {
                p.note { "The " (kind.name()) " rule has no breadth rule: the number of endorsements alone decides." }
            } @else {
                (scroll("Breadth rules", html! {
                    table.breadth-rules {
                        caption { "Breadth rules of the " (kind.name()) " rule: every one must be met for adoption" }
                        thead {
                            tr {
                                th scope="col" { "Rule" }
                                th scope="col" { "Endorsers show" }
                                th scope="col" { "Status" }
                            }
                        }
                        tbody {
                            @for s in &b.breadth {
                                @let a = s.rule.attribute;
                                tr {
                                    th scope="row" { (capitalised(&s.rule.to_string())) }
                                    td {
                                        (s.distinct) " distinct " (if s.distinct == 1 { a.name() } else { a.plural() })
                                        " of " (sets.len(a))
                                        @if !s.missing.is_empty() {
                                            "; no endorser with " (quoted(&s.missing))
                                        }
                                    }
                                    td {
                                        @if s.met { strong.met { "Met" } } @else { strong.unmet { "Not met" } }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
            @for a in tabled(charter, roster, kind) {
                (scroll(&format!("Tally by {}", a.name()), html! {
                    table.breakdown {
                        caption { "Member trusts by " (a.name()) " and effective stance" }
                        thead {
                            tr {
                                th scope="col" { (title(a)) }
                                th scope="col" class="num" { "Endorse" }
                                th scope="col" class="num" { "Object" }
                                th scope="col" class="num" { "Abstain" }
                                th scope="col" class="num" { "Not responded" }
                                th scope="col" class="num" { "Total" }
                            }
                        }
                        tbody {
                            @for row in b.by(a) {
                                tr {
                                    th scope="row" {
                                        @match &row.value {
                                            Some(v) => { (v) }
                                            None => { em { "Not declared" } }
                                        }
                                    }
                                    td.num { (row.endorse) }
                                    td.num { (row.object) }
                                    td.num { (row.abstain) }
                                    td.num { (row.silent) }
                                    td.num { (row.members()) }
                                }
                            }
                        }
                    }
                }))
            }
            @if b.endorsers > 0 && (schools || pupils) {
                dl.facts {
                    @if schools {
                        dt { "Endorsers' schools" }
                        dd { (thousands(b.endorser_schools)) " (declared by " (b.endorsers_declaring_schools) " of the " (b.endorsers) " endorsing trusts)" }
                    }
                    @if pupils {
                        dt { "Endorsers' pupils" }
                        dd { (thousands(b.endorser_pupils)) " (declared by " (b.endorsers_declaring_pupils) " of the " (b.endorsers) " endorsing trusts)" }
                    }
                }
            }
            p.note {
                "Each member's attributes are as declared at its admission or last amendment, read under the "
                "charter of the proposal's roster version: a value outside the charter's sets counts as not declared."
            }
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `"a", "b"`.
fn quoted(values: &[String]) -> String {
    values.iter().map(|v| format!("\u{201c}{v}\u{201d}")).collect::<Vec<_>>().join(", ")
}

/// The charter's value sets and size bands, for the members page (shown
/// only when [`shown`]; the charter's rules, breadth rules included, are
/// listed beside it).
pub(crate) fn charter_sets(charter: &Charter) -> Markup {
    let sets = &charter.attributes;
    html! {
        section aria-labelledby="attributes" {
            h2 #attributes { "Member attributes" }
            p {
                "Members may declare a region, phase and trust type from the charter's sets, their number of "
                "schools (which gives their size band) and of pupils. Proposal pages break tallies down by them."
            }
            dl.facts {
                @for a in [Attribute::Region, Attribute::Phase, Attribute::TrustType] {
                    dt { (capitalised(a.plural())) }
                    dd { (values_list(&sets.values(a))) }
                }
                dt { "Size bands (schools)" }
                dd {
                    (values_list(&sets.values(Attribute::SizeBand)))
                    @if sets.school_bands.is_empty() { p.note { "The default bands." } }
                }
            }
        }
    }
}

/// The values of a set as a list (a value may hold a comma), or "none
/// defined".
pub(crate) fn values_list(values: &[String]) -> Markup {
    html! {
        @if values.is_empty() {
            "none defined"
        } @else {
            ul.values { @for v in values { li { (v) } } }
        }
    }
}

/// The breadth rules of one rule, in words.
pub(crate) fn rules_text(rules: &[BreadthRule]) -> Markup {
    html! {
        @if rules.is_empty() {
            "no breadth rule"
        } @else if rules.len() == 1 {
            (rules[0].to_string())
        } @else {
            ul.rules { @for r in rules { li { (r.to_string()) } } }
        }
    }
}

/// A member's declared attributes in words ("region London, 12 schools"),
/// or "nothing declared".
pub(crate) fn attributes_text(a: &MemberAttributes) -> String {
    if a.is_empty() {
        return "nothing declared".into();
    }
    let mut parts = vec![];
    for attribute in [Attribute::Region, Attribute::Phase, Attribute::TrustType] {
        if let Some(v) = a.text(attribute) {
            parts.push(format!("{} \u{201c}{v}\u{201d}", attribute.name()));
        }
    }
    if let Some(s) = a.schools {
        parts.push(plural(s.into(), "school", "schools"));
    }
    if let Some(p) = a.pupils {
        parts.push(plural(p.into(), "pupil", "pupils"));
    }
    if !a.labels.is_empty() {
        parts.push(format!("labels {}", quoted(&a.labels)));
    }
    parts.join(", ")
}

/// The members' declared attributes, for the members page (only when some
/// member declares something).
pub(crate) fn members_table(members: &[&Member], sets: &AttributeSets) -> Markup {
    // A declared value the charter's set no longer holds counts as not
    // declared; say so beside it.
    let value = |m: &Member, a: Attribute| -> Markup {
        html! {
            @if let Some(v) = m.attributes.text(a) {
                (v)
                @if !sets.contains(a, v) { " " span.note { "(not in the charter's set: counts as not declared)" } }
            }
        }
    };
    html! {
        section aria-labelledby="declared" {
            h2 #declared { "Declared attributes" }
            (scroll("Declared attributes", html! {
                table.attributes {
                    caption { "What each member trust declares, by name; blank is not declared" }
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Region" }
                            th scope="col" { "Phase" }
                            th scope="col" { "Trust type" }
                            th scope="col" class="num" { "Schools" }
                            th scope="col" { "Size band" }
                            th scope="col" class="num" { "Pupils" }
                            th scope="col" { "Labels" }
                        }
                    }
                    tbody {
                        @for m in members {
                            tr {
                                th scope="row" { (m.name) }
                                td { (value(m, Attribute::Region)) }
                                td { (value(m, Attribute::Phase)) }
                                td { (value(m, Attribute::TrustType)) }
                                td.num { @if let Some(s) = m.attributes.schools { (thousands(s.into())) } }
                                td { @if let Some(s) = m.attributes.schools { @if let Some(b) = sets.band_of(s) { (b) } } }
                                td.num { @if let Some(p) = m.attributes.pupils { (thousands(p.into())) } }
                                td {
                                    @if !m.attributes.labels.is_empty() {
                                        ul.labels { @for l in &m.attributes.labels { li { (l) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        for (n, s) in [(0, "0"), (7, "7"), (999, "999"), (1000, "1,000"), (19_200, "19,200"), (1_234_567, "1,234,567")]
        {
            assert_eq!(thousands(n), s);
        }
    }

    #[test]
    fn and_list_joins() {
        let s = |v: &[&str]| and_list(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["a"]), "a");
        assert_eq!(s(&["a", "b"]), "a and b");
        assert_eq!(s(&["a", "b", "c"]), "a, b and c");
    }
}
