//! A position's dissent: the members who objected (with their reasons),
//! those who abstained and those with no stance (who "did not respond"
//! only when the certificate is sealed: without a seal nothing vouches
//! that no stance was left out), as the position's certificate records
//! them ([`chorus_core::Ledger::certificate_dissent`]), and whether the
//! certificate's seal vouches that nothing was left out.
//!
//! Objections and endorsements have the same markup and weight on the
//! page (the stances section lists both in full); this section is the
//! certificate's account of dissent, so that a reader sees what a
//! downloaded certificate proves without verifying it. Every value is
//! escaped by maud, reasons with their bidirectional controls made
//! visible.

use std::collections::{BTreeMap, BTreeSet};

use chorus_core::{ObjectId, PublicKey, Roster, Stance, StanceRecord, TrustStance};
use maud::{html, Markup};

use crate::deliberation::visible_bidi;
use crate::pages::{short, time, trust_name};
use crate::{Exported, Site};

/// One dissenting member as the certificate carries it.
struct Dissenter<'s> {
    trust: &'s TrustStance,
    record: &'s StanceRecord,
}

/// The dissent entries of the certificate, in trust order: the records
/// [`chorus_core::Ledger::certificate_dissent`] names, looked up in the
/// proposal's stances.
fn dissenters<'s>(ids: &[ObjectId], stances: &'s [TrustStance]) -> Vec<Dissenter<'s>> {
    let wanted: BTreeSet<&ObjectId> = ids.iter().collect();
    // One pass over the records, whatever the number of members.
    let mut found: BTreeMap<ObjectId, Dissenter<'s>> = BTreeMap::new();
    for t in stances {
        for record in t.records.iter().filter(|r| wanted.contains(&r.id)) {
            found.insert(record.id, Dissenter { trust: t, record });
        }
    }
    ids.iter().filter_map(|id| found.remove(id)).collect()
}

/// The seal line: "Dissent known to <trust>'s node: …" or "Dissent not
/// recorded: this certificate carries no seal."
pub(crate) fn seal_line(site: &Site, roster: Option<&Roster>, sealer: Option<&PublicKey>) -> Markup {
    html! {
        @match sealer {
            Some(trust) => {
                "Dissent known to "
                strong { (trust_name(site, roster, trust).unwrap_or_else(|| "a member".into())) }
                "'s node: its seal on the certificate lists every stance the certificate carries, so a stance "
                "removed or added afterwards makes the certificate fail verification."
            }
            None => {
                "Dissent not recorded: this certificate carries no seal, so nothing shows whether a stance "
                "was left out of it."
            }
        }
    }
}

/// The "Dissent" section of a position's page. `stances` are the
/// proposal's stances (every member that signed one), `exported` its
/// certificate as the site serves it.
pub(crate) fn section(
    site: &Site,
    id: &ObjectId,
    roster: Option<&Roster>,
    stances: &[TrustStance],
    exported: Option<&Exported>,
) -> Markup {
    let ids = site.ledger().certificate_dissent(id).unwrap_or_default();
    let all = dissenters(&ids, stances);
    let objectors: Vec<&Dissenter> = all.iter().filter(|d| d.record.stance == Stance::Object).collect();
    let abstainers: Vec<&Dissenter> = all.iter().filter(|d| d.record.stance == Stance::Abstain).collect();
    let (silent, outside) = silent_members(roster, stances);
    let sealer = exported.and_then(|e| e.sealed_by.as_ref());
    html! {
        section.dissent aria-labelledby="dissent" {
            h2 #dissent { "Dissent" }
            p.dissent-summary {
                (objectors.len()) @if objectors.len() == 1 { " objection, " } @else { " objections, " }
                (abstainers.len()) @if abstainers.len() == 1 { " abstention; " } @else { " abstentions; " }
                (silent) @if silent == 1 { " member" } @else { " members" }
                @if sealer.is_some() { " did not respond" } @else { " with no stance carried" }
                @if silent > outside {
                    " (named under " a href="#silent" { "Not responded" }
                    @if outside > 0 { ", and under " a href="#late" { "signed only outside the voting window" } }
                    ")"
                } @else if outside > 0 {
                    " (named under " a href="#late" { "signed only outside the voting window" } ")"
                }
                "."
            }
            @if !objectors.is_empty() {
                h3 #dissent-objections { "Objected" }
                ul.dissenters {
                    @for d in &objectors { (dissenter(d)) }
                }
            }
            @if !abstainers.is_empty() {
                h3 #dissent-abstentions { "Abstained" }
                ul.dissenters {
                    @for d in &abstainers { (dissenter(d)) }
                }
            }
            @if exported.is_some() {
                p.seal { (seal_line(site, roster, sealer)) }
            }
        }
    }
}

/// Members of `roster` with no stance that counts (as the verifier's
/// report counts them: no stance carried), and how many of those signed
/// records that are all early or late.
fn silent_members(roster: Option<&Roster>, stances: &[TrustStance]) -> (usize, usize) {
    let Some(r) = roster else { return (0, 0) };
    let (mut silent, mut outside) = (0, 0);
    for m in r.members() {
        match stances.binary_search_by(|s| s.trust.cmp(&m.key)) {
            Err(_) => silent += 1,
            Ok(i) if stances[i].stance.is_none() => {
                silent += 1;
                outside += 1;
            }
            Ok(_) => {}
        }
    }
    (silent, outside)
}

fn dissenter(d: &Dissenter) -> Markup {
    html! {
        li {
            strong { (d.trust.name) } " " span.trust { (short(&d.trust.trust)) }
            " · " (time(d.record.created_at_ms))
            @match &d.record.comment {
                Some(c) => { p.comment dir="auto" { (visible_bidi(c)) } }
                None => { " · " span.none { "no reason given" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::Fixture;

    #[test]
    fn a_member_whose_records_are_all_outside_the_window_did_not_respond() {
        let f = Fixture::new(3);
        let roster = f.coalition.current_roster();
        let record =
            |n: u8| StanceRecord { id: ObjectId([n; 32]), stance: Stance::Object, created_at_ms: 1, comment: None };
        let mut stances: Vec<TrustStance> = (0..2)
            .map(|i| TrustStance {
                trust: f.keys[i].public(),
                name: format!("m{i}"),
                stance: Some(Stance::Endorse),
                equivocated: false,
                records: vec![record(i as u8)],
            })
            .collect();
        // Member 1 signed only early (or late) records: no stance.
        stances[1].stance = None;
        stances.sort_by_key(|t| t.trust);
        // Member 2 signed nothing.
        assert_eq!(silent_members(Some(roster), &stances), (2, 1));
        assert_eq!(silent_members(None, &stances), (0, 0));
    }
}
