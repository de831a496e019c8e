//! Atom (RFC 4287) and JSON Feed 1.1 of the newest positions, and under
//! `Publish::Everything` of the newest proposals.
//!
//! Entry ids are `urn:chorus:<object id hex>` in both formats; a feed's id
//! is `urn:chorus:<coalition id hex>:<positions|proposals>`. `published`
//! and `updated` are the proposal's signed `created_at` (nothing later is
//! signed on the proposal itself), and the feed's `updated` is its newest
//! entry's, or the genesis time for an empty feed: no clock. Links are
//! absolute from `SiteConfig::base_url`, else relative to the feed file
//! (`../proposals/<id>.html`); the JSON Feed then omits `home_page_url` and
//! `feed_url`, which the format wants absolute. Each position links its
//! certificate (Atom `enclosure`, JSON Feed `attachments`); each entry's
//! summary gives the tally and the numbers of objections and abstentions, and its content
//! is the proposal's text rendered as on its page. JSON Feed items'
//! `_chorus` also carry `objections` and `abstentions` (the tally's object
//! and abstain counts) and `status` ("adopted", "withdrawn", "draft" or
//! "not_adopted"). Feeds have no clock: "draft" is a draft that opens only
//! when its author opens it; a proposal with a fixed opening time (draft
//! or not) is "not_adopted" and its summary says "Voting opens at T."
//! (the CLI and the API, which read a clock, say "draft" before T and
//! "open" after). For a coalition that
//! uses member attributes (a value set, a breadth rule or a member
//! declaring something) the summary gains a line of breadth and the JSON
//! Feed's `_chorus` carries the tally by attribute (`breakdown`); other
//! coalitions' feeds are unchanged.

use chorus_core::{Breakdown, Decision, ObjectId, Tally};
use serde::Serialize;

use crate::breadth;
use crate::date;
use crate::deliberation;
use crate::markdown;
use crate::{FeedKind, Site, FEED_ENTRIES};

/// Escapes text for XML 1.0 content and attributes, replacing the
/// characters XML 1.0 cannot carry (controls other than tab, newline and
/// carriage return, U+FFFE, U+FFFF) by U+FFFD.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// One feed entry's data.
struct Entry {
    id: ObjectId,
    title: String,
    author: Option<String>,
    created_at_ms: u64,
    adopted: bool,
    /// "withdrawn" or "draft" for a proposal not adopted whose voting
    /// window says so (see [`crate::deliberation::status_word`]).
    status: Option<&'static str>,
    /// The fixed opening time, when voting opens at one not yet reached
    /// by an open-voting (see [`crate::deliberation::fixed_opening`]).
    opens_at_ms: Option<u64>,
    decision: Decision,
    tally: Option<Tally>,
    /// The tally by attribute, for a coalition that uses attributes.
    breakdown: Option<Breakdown>,
    /// Its line of breadth ("Endorsed by 3 of 4 member trusts, from ...").
    breadth: Option<String>,
    content_html: String,
}

/// URLs of the feed: absolute under `base_url`, else relative to `feeds/`.
struct Links {
    base: Option<String>,
}

impl Links {
    fn new(site: &Site) -> Self {
        let base = site.config().base_url.as_ref().map(|b| if b.ends_with('/') { b.clone() } else { format!("{b}/") });
        Links { base }
    }

    /// A path of the site, as the feed links it.
    fn to(&self, path: &str) -> String {
        match &self.base {
            Some(b) => format!("{b}{path}"),
            None => format!("../{path}"),
        }
    }

    fn home(&self) -> String {
        match &self.base {
            Some(b) => b.clone(),
            None => "../index.html".into(),
        }
    }
}

fn names(kind: FeedKind) -> (&'static str, &'static str) {
    match kind {
        FeedKind::Positions => ("positions", "Positions"),
        FeedKind::Proposals => ("proposals", "Proposals"),
    }
}

fn entries(site: &Site, kind: FeedKind) -> Vec<Entry> {
    let ledger = site.ledger();
    let ids = match kind {
        FeedKind::Positions => ledger.positions(),
        FeedKind::Proposals => site.published_proposals(),
    };
    ids.iter()
        .rev()
        .take(FEED_ENTRIES)
        .filter_map(|id| {
            let p = ledger.proposal(id)?;
            let author = ledger
                .roster(&p.roster)
                .and_then(|r| r.get(p.author.as_bytes()))
                .or_else(|| ledger.head_roster().and_then(|(r, _)| r.get(p.author.as_bytes())))
                .map(|m| m.name.clone());
            let breakdown = match (ledger.roster(&p.roster), ledger.charter(&p.roster)) {
                (Some(r), Some(c)) if breadth::shown(c, r) => ledger.breakdown(id),
                _ => None,
            };
            let breadth =
                breakdown.as_ref().zip(ledger.charter(&p.roster)).map(|(b, c)| breadth::line(b, &c.attributes));
            let adopted = ledger.is_adopted(id);
            let window = if adopted { None } else { ledger.voting_window(id) };
            let status = window.as_ref().and_then(deliberation::status_word);
            let opens_at_ms = window.as_ref().and_then(deliberation::fixed_opening);
            Some(Entry {
                id: *id,
                title: p.title.clone(),
                author,
                created_at_ms: p.created_at_ms,
                adopted,
                status,
                opens_at_ms,
                decision: Decision::of(p.action.as_ref()),
                tally: ledger.tally(id),
                breakdown,
                breadth,
                content_html: markdown::render(&p.body),
            })
        })
        .collect()
}

/// "Adopted position. 12 endorse, 3 object, 1 abstain of 20 members (11
/// required). 3 objections, 1 abstention." ("Withdrawn" or "Draft" in
/// place of "Not adopted" when the voting window says so), and for a coalition that uses attributes a
/// second line of breadth: "Endorsed by 12 of 20 member trusts, from 7 of 9
/// regions, running 140 schools with 61,000 pupils."
fn summary(e: &Entry) -> String {
    let mut out = tally_summary(e);
    if let Some(line) = &e.breadth {
        out.push('\n');
        out.push_str(line);
        out.push('.');
    }
    out
}

fn tally_summary(e: &Entry) -> String {
    let mut out = tally_line(e);
    if let Some(o) = e.opens_at_ms {
        out.push_str(&format!(" Voting opens at {}.", crate::date::human(o)));
    }
    out
}

fn tally_line(e: &Entry) -> String {
    let status = if e.adopted { "Adopted" } else { e.status.unwrap_or("Not adopted") };
    match &e.tally {
        Some(t) => format!(
            "{status} {}. {} endorse, {} object, {} abstain of {} members ({} required). {} {}, {} {}.",
            e.decision.noun(),
            t.endorse,
            t.object,
            t.abstain,
            t.members,
            t.required,
            t.object,
            if t.object == 1 { "objection" } else { "objections" },
            t.abstain,
            if t.abstain == 1 { "abstention" } else { "abstentions" }
        ),
        None => format!("{status} {}. Not counted under its roster version: no tally.", e.decision.noun()),
    }
}

/// The feed's `updated`: its newest entry's time, else the genesis time.
fn updated(site: &Site, entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.created_at_ms).max().unwrap_or_else(|| site.ledger().coalition().genesis().created_at_ms)
}

/// `feeds/<kind>.atom`.
pub(crate) fn atom(site: &Site, kind: FeedKind) -> String {
    let coalition = site.ledger().coalition();
    let (file, label) = names(kind);
    let links = Links::new(site);
    let entries = entries(site, kind);
    let self_href = match &links.base {
        Some(b) => format!("{b}feeds/{file}.atom"),
        None => format!("{file}.atom"),
    };
    let mut out = String::with_capacity(1024 + entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!("  <id>urn:chorus:{}:{file}</id>\n", coalition.id()));
    out.push_str(&format!("  <title>{} — {label}</title>\n", xml(coalition.name())));
    out.push_str(&format!("  <updated>{}</updated>\n", date::rfc3339(updated(site, &entries))));
    out.push_str(&format!("  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n", xml(&self_href)));
    out.push_str(&format!("  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n", xml(&links.home())));
    out.push_str(&format!("  <author><name>{}</name></author>\n", xml(coalition.name())));
    out.push_str("  <generator>Chorus</generator>\n");
    for e in &entries {
        out.push_str("  <entry>\n");
        out.push_str(&format!("    <id>urn:chorus:{}</id>\n", e.id));
        out.push_str(&format!("    <title type=\"text\">{}</title>\n", xml(&e.title)));
        let t = date::rfc3339(e.created_at_ms);
        out.push_str(&format!("    <published>{t}</published>\n    <updated>{t}</updated>\n"));
        if let Some(a) = &e.author {
            out.push_str(&format!("    <author><name>{}</name></author>\n", xml(a)));
        }
        let page = links.to(&format!("proposals/{}.html", e.id));
        out.push_str(&format!("    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n", xml(&page)));
        if e.adopted {
            let cert = links.to(&format!("certificates/{}.cert", e.id));
            out.push_str(&format!(
                "    <link rel=\"enclosure\" type=\"application/octet-stream\" title=\"Certificate\" href=\"{}\"/>\n",
                xml(&cert)
            ));
        }
        out.push_str(&format!("    <summary type=\"text\">{}</summary>\n", xml(&summary(e))));
        out.push_str(&format!("    <content type=\"html\">{}</content>\n", xml(&e.content_html)));
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<String>,
    description: String,
    authors: Vec<Author<'a>>,
    language: &'static str,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: String,
    url: String,
    title: &'a str,
    content_html: &'a str,
    summary: String,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    /// Extension (JSON Feed 1.1: keys starting with `_`).
    _chorus: ChorusItem<'a>,
}

#[derive(Serialize)]
struct Attachment {
    url: String,
    mime_type: &'static str,
    title: &'static str,
}

#[derive(Serialize)]
struct ChorusItem<'a> {
    proposal: String,
    adopted: bool,
    decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    tally: Option<&'a Tally>,
    /// Member trusts whose effective stance is object (with a tally).
    #[serde(skip_serializing_if = "Option::is_none")]
    objections: Option<usize>,
    /// Member trusts whose effective stance is abstain (with a tally).
    #[serde(skip_serializing_if = "Option::is_none")]
    abstentions: Option<usize>,
    /// "adopted", "withdrawn", "draft" or "not_adopted": whether it is a
    /// position, else what its voting window says (no clock: a proposal
    /// past its closing date, or with a fixed opening time, is
    /// "not_adopted"; "draft" is a draft only its author can open).
    status: &'static str,
    /// The tally by attribute (only for a coalition that uses attributes).
    #[serde(skip_serializing_if = "Option::is_none")]
    breakdown: Option<&'a Breakdown>,
}

/// `feeds/<kind>.json`.
pub(crate) fn json(site: &Site, kind: FeedKind) -> String {
    let coalition = site.ledger().coalition();
    let (file, label) = names(kind);
    let links = Links::new(site);
    let entries = entries(site, kind);
    let items = entries
        .iter()
        .map(|e| {
            let t = date::rfc3339(e.created_at_ms);
            Item {
                id: format!("urn:chorus:{}", e.id),
                url: links.to(&format!("proposals/{}.html", e.id)),
                title: &e.title,
                content_html: &e.content_html,
                summary: summary(e),
                date_published: t.clone(),
                date_modified: t,
                authors: e.author.as_deref().map(|name| Author { name }).into_iter().collect(),
                attachments: if e.adopted {
                    vec![Attachment {
                        url: links.to(&format!("certificates/{}.cert", e.id)),
                        mime_type: "application/octet-stream",
                        title: "Certificate",
                    }]
                } else {
                    vec![]
                },
                _chorus: ChorusItem {
                    proposal: e.id.to_hex(),
                    adopted: e.adopted,
                    decision: e.decision,
                    tally: e.tally.as_ref(),
                    objections: e.tally.as_ref().map(|t| t.object),
                    abstentions: e.tally.as_ref().map(|t| t.abstain),
                    status: match (e.adopted, e.status) {
                        (true, _) => "adopted",
                        (false, Some("Withdrawn")) => "withdrawn",
                        (false, Some("Draft")) => "draft",
                        (false, _) => "not_adopted",
                    },
                    breakdown: e.breakdown.as_ref(),
                },
            }
        })
        .collect();
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: format!("{} — {label}", coalition.name()),
        home_page_url: links.base.clone(),
        feed_url: links.base.as_ref().map(|b| format!("{b}feeds/{file}.json")),
        description: format!(
            "The newest {} of the coalition {} (id {}), at most {FEED_ENTRIES}.",
            file,
            coalition.name(),
            coalition.id()
        ),
        authors: vec![Author { name: coalition.name() }],
        language: "en",
        items,
    };
    let mut out = serde_json::to_string_pretty(&feed).expect("a feed serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_and_replaces_what_xml_cannot_carry() {
        assert_eq!(xml("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
        assert_eq!(xml("a\u{0}b\u{1b}c\u{FFFE}d\u{FFFF}e\tf\ng"), "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\tf\ng");
        assert_eq!(xml("]]> <![CDATA[ x"), "]]&gt; &lt;![CDATA[ x");
    }
}
