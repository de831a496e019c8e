//! A proposal's tally and every member's stance: endorsements,
//! objections and abstentions in the same markup, records outside the
//! voting window marked, and who has not responded. Every value is escaped
//! by maud; members' comments have their bidirectional controls made
//! visible.

use std::collections::BTreeMap;

use chorus_core::{Member, Roster, Stance, StanceRecord, Tally, Timing, TrustStance, VotingWindow};
use maud::{html, Markup};

use crate::deliberation::visible_bidi;
use crate::pages::{short, time};

/// One trust's row in a stance group.
struct Row<'s> {
    trust: &'s TrustStance,
    /// The record shown: the first (by id) on-time record with the
    /// effective stance, or for a trust with only late records its first.
    shown: &'s StanceRecord,
}

fn on_time(w: &VotingWindow, r: &StanceRecord) -> bool {
    matches!(w.timing(r.created_at_ms), Timing::OnTime)
}

/// " (early)" or " (late)" for a record outside the voting window.
fn timing_mark(w: &VotingWindow, r: &StanceRecord) -> &'static str {
    match w.timing(r.created_at_ms) {
        Timing::Early => " (early)",
        Timing::OnTime => "",
        Timing::Late => " (late)",
    }
}

fn stance_rows<'s>(p: &VotingWindow, stances: &'s [TrustStance], stance: Option<Stance>) -> Vec<Row<'s>> {
    let mut rows: Vec<Row> = stances
        .iter()
        .filter(|t| t.stance == stance)
        .filter_map(|t| {
            let shown = match stance {
                Some(s) => t.records.iter().find(|r| r.stance == s && on_time(p, r)),
                None => t.records.first(),
            }?;
            Some(Row { trust: t, shown })
        })
        .collect();
    rows.sort_by(|a, b| (&a.trust.name, a.trust.trust).cmp(&(&b.trust.name, b.trust.trust)));
    rows
}

/// A group of stances: endorsements, objections, abstentions and late
/// records share this markup, so none weighs more than another.
fn stance_group(p: &VotingWindow, id: &str, heading: &str, empty: &str, rows: &[Row]) -> Markup {
    html! {
        section.stance-group aria-labelledby=(id) {
            h3 id=(id) { (heading) " (" (rows.len()) ")" }
            @if rows.is_empty() {
                p.none { (empty) }
            } @else {
                table.stances {
                    thead {
                        tr {
                            th scope="col" { "Member" }
                            th scope="col" { "Signed" }
                            th scope="col" { "Comment" }
                        }
                    }
                    tbody {
                        @for row in rows {
                            tr {
                                th scope="row" {
                                    (row.trust.name)
                                    " " span.trust { (short(&row.trust.trust)) }
                                    @if row.trust.equivocated {
                                        " " strong.flag { "equivocated" }
                                    }
                                }
                                td { (time(row.shown.created_at_ms)) (timing_mark(p, row.shown)) }
                                td {
                                    @if let Some(c) = &row.shown.comment { p.comment dir="auto" { (visible_bidi(c)) } }
                                    @let others: Vec<&StanceRecord> =
                                        row.trust.records.iter().filter(|r| r.id != row.shown.id).collect();
                                    @if !others.is_empty() {
                                        ul.records {
                                            @for r in others {
                                                li {
                                                    "Also signed " strong { (r.stance.name()) } " at " (time(r.created_at_ms))
                                                    @match p.timing(r.created_at_ms) {
                                                        Timing::Early => { " (early, not counted)" }
                                                        Timing::OnTime => {}
                                                        Timing::Late => { " (late, not counted)" }
                                                    }
                                                    @if let Some(c) = &r.comment { ": " span.comment dir="auto" { (visible_bidi(c)) } }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn tally_section(t: &Tally, deliberating: bool) -> Markup {
    html! {
        section.tally aria-labelledby="tally" {
            h2 #tally { "Tally" }
            table.tally {
                caption { "Member trusts by effective stance" }
                thead {
                    tr {
                        th scope="col" { "Endorse" }
                        th scope="col" { "Object" }
                        th scope="col" { "Abstain" }
                        th scope="col" { "Required" }
                        th scope="col" { "Members" }
                        th scope="col" { "Equivocated" }
                        @if deliberating { th scope="col" { "Early records" } }
                        th scope="col" { "Late records" }
                    }
                }
                tbody {
                    tr {
                        td.num { (t.endorse) }
                        td.num { (t.object) }
                        td.num { (t.abstain) }
                        td.num { (t.required) }
                        td.num { (t.members) }
                        td.num { (t.equivocations) }
                        @if deliberating { td.num { (t.early) } }
                        td.num { (t.late) }
                    }
                }
            }
            p.note {
                @if deliberating {
                    "One trust, one voice: a trust's stance is the strongest it signed while voting was open "
                    "(endorse, then object, then abstain); a stance signed before voting opened or after it "
                    "ended is kept and shown, but does not count. "
                } @else {
                    "One trust, one voice: a trust's stance is the strongest it signed by the closing date "
                    "(endorse, then object, then abstain). "
                }
                "A trust that signed different stances is flagged as equivocated."
            }
        }
    }
}

pub(crate) fn stances_section(
    p: &VotingWindow,
    deliberating: bool,
    roster: Option<&Roster>,
    stances: &[TrustStance],
) -> Markup {
    let endorse = stance_rows(p, stances, Some(Stance::Endorse));
    let object = stance_rows(p, stances, Some(Stance::Object));
    let abstain = stance_rows(p, stances, Some(Stance::Abstain));
    let late = stance_rows(p, stances, None);
    let mut silent: Vec<&Member> = roster
        .map(|r| r.members().filter(|m| stances.binary_search_by(|s| s.trust.cmp(&m.key)).is_err()).collect())
        .unwrap_or_default();
    silent.sort_by(|a, b| (&a.name, a.key).cmp(&(&b.name, b.key)));
    // Names alone, unless two members of the roster share one.
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for m in roster.into_iter().flat_map(|r| r.members()) {
        *names.entry(&m.name).or_default() += 1;
    }
    let shared = |m: &Member| names.get(m.name.as_str()).is_some_and(|n| *n > 1);
    html! {
        section.stances aria-labelledby="stances" {
            h2 #stances { "Stances" }
            (stance_group(p, "endorsements", "Endorsements", "No member endorsed.", &endorse))
            (stance_group(p, "objections", "Objections", "No member objected.", &object))
            (stance_group(p, "abstentions", "Abstentions", "No member abstained.", &abstain))
            @if !late.is_empty() {
                @let heading = if deliberating {
                    "Signed only outside the voting window (not counted)"
                } else {
                    "Signed only after the closing date (not counted)"
                };
                (stance_group(p, "late", heading, "", &late))
            }
            section.stance-group aria-labelledby="silent" {
                h3 #silent { "Not responded (" (silent.len()) ")" }
                @if silent.is_empty() {
                    p.none { "Every member responded." }
                } @else {
                    ul.silent {
                        @for m in &silent {
                            li { (m.name) @if shared(m) { " " span.trust { (short(&m.key)) } } }
                        }
                    }
                }
            }
        }
    }
}
