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
    let silent = roster
        .map(|r| r.members().filter(|m| stances.binary_search_by(|s| s.trust.cmp(&m.key)).is_err()).count())
        .unwrap_or(0);
    let sealer = exported.and_then(|e| e.sealed_by.as_ref());
    html! {
        section.dissent aria-labelledby="dissent" {
            h2 #dissent { "Dissent" }
            p.dissent-summary {
                (objectors.len()) @if objectors.len() == 1 { " objection, " } @else { " objections, " }
                (abstainers.len()) @if abstainers.len() == 1 { " abstention; " } @else { " abstentions; " }
                (silent) @if silent == 1 { " member" } @else { " members" }
                @if sealer.is_some() { " did not respond" } @else { " with no stance carried" }
                @if silent > 0 { " (named under " a href="#silent" { "Not responded" } ")" }
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
