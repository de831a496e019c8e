//! The HTML pages. Every value is escaped by maud; the only `PreEscaped`
//! content is fixed markup of this module and the output of
//! [`crate::markdown::render`].

use chorus_core::{
    Action, AdoptionRule, Attribute, Charter, Decision, Member, ObjectId, Proposal, PublicKey, Relation, Roster,
    RuleKind, Tally, VotingWindow,
};

use maud::{html, Markup, PreEscaped};
use sha2::{Digest, Sha256};

use crate::date;
use crate::{assets, breadth, deliberation, dissent, markdown, stances, Publish, Site};

/// Where a page sits: the site root or one directory down.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    Root,
    Sub,
}

impl Depth {
    fn up(self) -> &'static str {
        match self {
            Depth::Root => "",
            Depth::Sub => "../",
        }
    }
}

/// The navigation entry of the page, if any.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Positions,
    Members,
    Verify,
    None,
}

struct Page {
    depth: Depth,
    title: String,
    nav: Nav,
    /// Loads the in-browser verifier at the end of the body.
    verifier: bool,
}

fn layout(site: &Site, page: Page, main: Markup) -> String {
    let coalition = site.ledger().coalition();
    let up = page.depth.up();
    let nav_link = |target: Nav, href: &str, text: &str| {
        html! {
            @if page.nav == target {
                li { a href={ (up) (href) } aria-current="page" { (text) } }
            } @else {
                li { a href={ (up) (href) } { (text) } }
            }
        }
    };
    let positions_nav =
        if site.config().publish == Publish::Everything { "Positions and proposals" } else { "Positions" };
    html! {
        (PreEscaped("<!doctype html>\n"))
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) " — " (coalition.name()) }
                link rel="stylesheet" href={ (up) "assets/style.css" };
                link rel="alternate" type="application/atom+xml" title="Positions (Atom)" href={ (up) "feeds/positions.atom" };
                link rel="alternate" type="application/feed+json" title="Positions (JSON Feed)" href={ (up) "feeds/positions.json" };
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    p.site-name { a href={ (up) "index.html" } { (coalition.name()) } }
                    nav aria-label="Site" {
                        ul {
                            (nav_link(Nav::Positions, "index.html", positions_nav))
                            (nav_link(Nav::Members, "members.html", "Members"))
                            (nav_link(Nav::Verify, "verify.html", "Verify a certificate"))
                        }
                    }
                }
                main #main {
                    (main)
                }
                footer.site {
                    p {
                        "This site belongs to the coalition " strong { (coalition.name()) }
                        ", id " code.id { (coalition.id()) } "."
                    }
                    p {
                        "It shows what the coalition's members signed, as their nodes hold it. "
                        "Each position has a certificate that anyone can verify offline."
                    }
                    p.feeds {
                        "Feeds: "
                        a href={ (up) "feeds/positions.atom" } { "positions (Atom)" } ", "
                        a href={ (up) "feeds/positions.json" } { "positions (JSON Feed)" }
                        @if site.config().publish == Publish::Everything {
                            ", " a href={ (up) "feeds/proposals.atom" } { "proposals (Atom)" }
                            ", " a href={ (up) "feeds/proposals.json" } { "proposals (JSON Feed)" }
                        }
                        "."
                    }
                }
                @if page.verifier {
                    script src={ (up) "assets/" (assets::wasm_script_name()) } {}
                    script src={ (up) "assets/verify.js" } {}
                }
            }
        }
    }
    .into_string()
}

/// `<time>` of a signed time.
pub(crate) fn time(ms: u64) -> Markup {
    html! { time datetime=(date::rfc3339(ms)) { (date::human(ms)) } }
}

/// "more than 1/2".
fn rule_text(rule: AdoptionRule) -> String {
    format!("more than {}/{}", rule.numerator, rule.denominator)
}

pub(crate) fn proposal_href(depth: Depth, id: &ObjectId) -> String {
    match depth {
        Depth::Root => format!("proposals/{id}.html"),
        Depth::Sub => format!("{id}.html"),
    }
}

/// The name of a trust in `roster`, else in the coalition's newest roster.
pub(crate) fn trust_name(site: &Site, roster: Option<&Roster>, trust: &PublicKey) -> Option<String> {
    roster
        .and_then(|r| r.get(trust.as_bytes()))
        .or_else(|| site.ledger().head_roster().and_then(|(r, _)| r.get(trust.as_bytes())))
        .map(|m| m.name.clone())
}

/// Tally cells of a table row: endorse, object, abstain, required of members.
fn tally_cells(tally: Option<&Tally>) -> Markup {
    html! {
        @match tally {
            Some(t) => {
                td.num { (t.endorse) }
                td.num { (t.object) }
                td.num { (t.abstain) }
                td.num { (t.required) " of " (t.members) }
            }
            None => { td.num { "–" } td.num { "–" } td.num { "–" } td.num { "–" } }
        }
    }
}

/// Why a proposal is not adopted, without a clock.
fn not_adopted(site: &Site, id: &ObjectId, p: &Proposal) -> Markup {
    let ledger = site.ledger();
    html! {
        @if ledger.tally(id).is_none() {
            @match ledger.void_reason(id) {
                Some(reason) => { "Not counted: " (reason.to_string()) }
                None => { "Not counted: its roster version is not known here" }
            }
        } @else if let Some(status) = ledger.voting_window(id).and_then(|w| deliberation::status(p, &w)) {
            (status)
        } @else {
            "Not adopted"
            @match p.closes_at_ms {
                Some(c) => { "; stances signed by " (time(c)) " count" }
                None => { "; no closing date" }
            }
        }
    }
}

fn proposals_table(site: &Site, ids: &[ObjectId], caption: &str, adopted: bool) -> Markup {
    let ledger = site.ledger();
    html! {
        table.proposals {
            caption { (caption) }
            thead {
                tr {
                    th scope="col" { "Title" }
                    th scope="col" { "Decision" }
                    th scope="col" { "Proposed" }
                    @if !adopted { th scope="col" { "Status" } }
                    th scope="col" class="num" { "Endorse" }
                    th scope="col" class="num" { "Object" }
                    th scope="col" class="num" { "Abstain" }
                    th scope="col" class="num" { "Required" }
                }
            }
            tbody {
                @for id in ids {
                    @if let Some(p) = ledger.proposal(id) {
                        tr {
                            th scope="row" { a href=(proposal_href(Depth::Root, id)) { (p.title) } }
                            td { (Decision::of(p.action.as_ref()).noun()) }
                            td { (time(p.created_at_ms)) }
                            @if !adopted { td { (not_adopted(site, id, p)) } }
                            (tally_cells(ledger.tally(id).as_ref()))
                        }
                    }
                }
            }
        }
    }
}

/// `index.html`.
pub(crate) fn index(site: &Site) -> String {
    let ledger = site.ledger();
    let coalition = ledger.coalition();
    let mut positions = ledger.positions();
    positions.reverse();
    let others: Vec<ObjectId> = match site.config().publish {
        Publish::Positions => vec![],
        Publish::Everything => {
            ledger.proposals().into_iter().rev().map(|(id, _)| id).filter(|id| !ledger.is_adopted(id)).collect()
        }
    };
    let main = html! {
        h1 { (coalition.name()) }
        p.lead {
            "The positions of this coalition of school trusts: proposals that enough of its members endorsed, "
            "each with a certificate that anyone can verify."
        }
        p { "Coalition id: " code.id { (coalition.id()) } }
        section aria-labelledby="positions" {
            h2 #positions { "Positions (" (positions.len()) ")" }
            @if positions.is_empty() {
                p { "The coalition has not adopted a position yet." }
            } @else {
                (proposals_table(site, &positions, "Adopted proposals, newest first", true))
            }
        }
        @if site.config().publish == Publish::Everything {
            section aria-labelledby="others" {
                h2 #others { "Other proposals (" (others.len()) ")" }
                p {
                    "Proposals that are not adopted, newest first. A proposal with a closing date counts "
                    "stances signed by then; one without a closing date can be adopted at any time."
                }
                @if others.is_empty() {
                    p { "None." }
                } @else {
                    (proposals_table(site, &others, "Proposals not adopted, newest first", false))
                }
            }
        }
    };
    layout(site, Page { depth: Depth::Root, title: "Positions".into(), nav: Nav::Positions, verifier: false }, main)
}

/// `members.html`.
pub(crate) fn members(site: &Site) -> String {
    let ledger = site.ledger();
    let (_, version) = ledger.head_version();
    let main = html! {
        h1 { "Members" }
        @match ledger.head_roster() {
            None => p { "The newest roster version is not known here." }
            Some((roster, charter)) => {
                p {
                    "The coalition's newest roster version, " code.id { (version) } ", has "
                    (roster.len()) " member trusts."
                }
                (charter_list(charter, roster.len()))
                @if breadth::shown(charter, roster) {
                    (breadth::charter_sets(charter))
                }
                (members_table(roster))
                @if roster.members().any(|m| !m.attributes.is_empty()) {
                    (breadth::members_table(&sorted_members(roster), &charter.attributes))
                }
            }
        }
    };
    layout(site, Page { depth: Depth::Root, title: "Members".into(), nav: Nav::Members, verifier: false }, main)
}

fn charter_list(charter: &Charter, members: usize) -> Markup {
    html! {
        section aria-labelledby="charter" {
            h2 #charter { "Charter" }
            dl.facts {
                @for kind in [RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments] {
                    @let rule = charter.rule(kind);
                    @let (label, what) = rule_label(kind);
                    dt { (label) }
                    dd {
                        (what) " are adopted when " (rule_text(rule)) " of the members endorse ("
                        (rule.required(members)) " of " (members) " now)"
                        @match charter.breadth.of(kind) {
                            [] => { "." }
                            [one] => { ", with " (one.to_string()) "." }
                            rules => {
                                ", with each of these breadth rules met:"
                                ul.rules { @for r in rules { li { (r.to_string()) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rule_label(kind: RuleKind) -> (&'static str, &'static str) {
    match kind {
        RuleKind::Positions => ("Positions", "Positions"),
        RuleKind::Membership => ("Membership", "Admissions, removals and key replacements"),
        RuleKind::Amendments => ("Amendments", "Charter amendments"),
    }
}

/// The roster's members by name, then trust id.
fn sorted_members(roster: &Roster) -> Vec<&Member> {
    let mut members: Vec<&Member> = roster.members().collect();
    members.sort_by(|a, b| (&a.name, a.key).cmp(&(&b.name, b.key)));
    members
}

fn members_table(roster: &Roster) -> Markup {
    let members = sorted_members(roster);
    let replaced = members.iter().any(|m| roster.root_key(&m.key) != Some(m.key));
    html! {
        section aria-labelledby="roster" {
            h2 #roster { "Roster" }
            table.members {
                caption { "Member trusts, by name" }
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "External id" }
                        th scope="col" { "Trust id" }
                        @if replaced { th scope="col" { "Current root key" } }
                    }
                }
                tbody {
                    @for m in &members {
                        tr {
                            th scope="row" { (m.name) }
                            td { @if let Some(x) = &m.external_id { (x) } }
                            td { code.id { (m.key) } }
                            @if replaced {
                                td {
                                    @match roster.root_key(&m.key) {
                                        Some(k) if k != m.key => { code.id { (k) } }
                                        _ => { "the trust id" }
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

/// The no-JavaScript text of a verdict: how to verify with the CLI.
fn verify_by_hand(file: &str, coalition: &ObjectId) -> Markup {
    html! {
        "To verify a certificate yourself, download it and run "
        code { "chorus verify " (file) " --coalition " (coalition) }
        " (no node or network needed). This page verifies it in your browser when JavaScript and "
        "WebAssembly are available."
    }
}

/// `verify.html`.
pub(crate) fn verify(site: &Site) -> String {
    let coalition = site.ledger().coalition().id();
    let main = html! {
        h1 { "Verify a certificate" }
        p.lead {
            "A certificate proves, with the members' signatures, that this coalition adopted a proposal. "
            "Choose or drop a certificate file to check it here: nothing is uploaded."
        }
        div #drop-zone {
            label for="certificate-file" { "Certificate file (.cert)" }
            input type="file" id="certificate-file" accept=".cert";
            p.hint { "or drop the file here" }
        }
        section id="verification" data-coalition=(coalition) {
            h2 { "Verification" }
            p id="verdict" class="verdict pending" { (verify_by_hand("FILE.cert", &coalition)) }
            ul id="verdict-dissent" class="verdict-dissent" aria-label="Dissent the certificate records" {}
        }
    };
    layout(
        site,
        Page { depth: Depth::Root, title: "Verify a certificate".into(), nav: Nav::Verify, verifier: true },
        main,
    )
}

pub(crate) fn short(key: &PublicKey) -> String {
    key.to_hex()[..16].to_string()
}

/// What a governance action does, in words.
fn action_text(site: &Site, roster: Option<&Roster>, action: &Action) -> Markup {
    let name = |t: &PublicKey| trust_name(site, roster, t).unwrap_or_else(|| "a trust".into());
    html! {
        @match action {
            Action::Admit(m) => {
                "Admits " strong { (m.name) } " as a member, with trust id " code.id { (m.key) }
                @if let Some(x) = &m.external_id { " (external id " (x) ")" }
                @if !m.attributes.is_empty() { ", declaring " (breadth::attributes_text(&m.attributes)) }
                "."
            }
            Action::Remove(t) => { "Removes " strong { (name(t)) } " (trust id " code.id { (t) } ") from the roster." }
            Action::ReplaceKey { trust, new_key } => {
                "Replaces the root key of " strong { (name(trust)) } " (trust id " code.id { (trust) } ") with "
                code.id { (new_key) } "."
            }
            Action::AmendCharter(c) => {
                "Sets the charter: positions " (rule_text(c.positions)) ", membership " (rule_text(c.membership))
                ", amendments " (rule_text(c.amendments)) " of the members."
                @let sets = &c.attributes;
                @let breadth = [RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments]
                    .into_iter()
                    .filter(|k| !c.breadth.of(*k).is_empty())
                    .collect::<Vec<_>>();
                @if !sets.is_empty() || !breadth.is_empty() {
                    ul.rules {
                        @for a in [Attribute::Region, Attribute::Phase, Attribute::TrustType, Attribute::SizeBand] {
                            @let values = sets.values(a);
                            @if !values.is_empty() && (a != Attribute::SizeBand || !sets.school_bands.is_empty()) {
                                li { (a.plural()) ": " (breadth::values_list(&values)) }
                            }
                        }
                        @for k in breadth {
                            li { "breadth of " (k.name()) ": " (breadth::rules_text(c.breadth.of(k))) }
                        }
                    }
                }
            }
            Action::AmendMember { trust, attributes } => {
                "Replaces the attributes of " strong { (name(trust)) } " (trust id " code.id { (trust) } ")"
                @if attributes.is_empty() { ", clearing every attribute." } @else { " with: " (breadth::attributes_text(attributes)) "." }
            }
        }
    }
}

/// `proposals/<id>.html`.
pub(crate) fn proposal(site: &Site, id: &ObjectId) -> String {
    let ledger = site.ledger();
    let Some(p) = ledger.proposal(id) else { return String::new() };
    let state = ledger.proposal_state(id);
    let tally = state.as_ref().map(|s| &s.tally);
    let adopted = tally.is_some_and(|t| t.adopted());
    let roster = ledger.roster(&p.roster);
    let charter = ledger.charter(&p.roster);
    let decision = Decision::of(p.action.as_ref());
    let kind = RuleKind::of(p.action.as_ref());
    let coalition = ledger.coalition().id();
    let certificate = if adopted { site.certificate(id) } else { None };
    let author = trust_name(site, roster, &p.author);
    let window = ledger.voting_window(id).unwrap_or_else(|| VotingWindow::open_from_start(p.closes_at_ms));
    let deliberating = deliberation::uses_window(p, &window);
    // Only the part of the discussion every view carries (the shared
    // bound), chosen before anything is rendered.
    let comments = ledger.comments(id);
    let selection = crate::discussion::select_comments(&comments);
    let comments_omitted = selection.omitted;
    let comments = selection.take(comments);
    // The breakdown only for a coalition that uses attributes.
    let breakdown = match (roster, charter) {
        (Some(r), Some(c)) if breadth::shown(c, r) => ledger.breakdown(id),
        _ => None,
    };
    let main = html! {
        article.proposal {
            header {
                p.kind {
                    @match (adopted, decision) {
                        (true, Decision::Position) => { "Position" }
                        (false, Decision::Position) => { "Proposal" }
                        (true, d) => { "Governance decision · " (d.noun()) }
                        (false, d) => { "Governance proposal · " (d.noun()) }
                    }
                }
                h1 { (p.title) }
                p.status {
                    @if adopted {
                        strong.adopted { "Adopted" } " by the coalition."
                        @if window.withdrawn_at_ms.is_some() {
                            " Its author withdrew it afterwards, which leaves it adopted."
                        }
                    } @else {
                        strong.not-adopted { (not_adopted(site, id, p)) } "."
                    }
                }
            }
            dl.facts {
                dt { "Proposed by" }
                dd {
                    (author.as_deref().unwrap_or("a trust not in the roster")) " "
                    code.id { (p.author) }
                }
                dt { "Proposed" } dd { (time(p.created_at_ms)) }
                dt { "Closing date" }
                dd {
                    @match p.closes_at_ms {
                        Some(c) => { (time(c)) " (stances signed later do not count)" }
                        None => { "None: the proposal never closes" }
                    }
                }
                @if deliberating { (deliberation::window_facts(site, id, p, &window)) }
                dt { "Decision" } dd { (decision.noun()) }
                @if let Some(action) = &p.action {
                    dt { "Action" } dd { (action_text(site, roster, action)) }
                }
                dt { "Rule" }
                dd {
                    @match (charter, tally) {
                        (Some(c), Some(t)) => {
                            "The " (kind.name()) " rule: adopted when " (rule_text(c.rule(kind)))
                            " of the " (t.members) " members endorse, so " (t.required) " endorsements are required"
                            @match c.breadth.of(kind).len() {
                                0 => {}
                                1 => { ", and its breadth rule must be met (see Breadth)" }
                                n => { ", and its " (n) " breadth rules must be met (see Breadth)" }
                            }
                            "."
                        }
                        (Some(c), None) => { "The " (kind.name()) " rule: " (rule_text(c.rule(kind))) " of the members." }
                        _ => { "The " (kind.name()) " rule of a roster version not known here." }
                    }
                }
                dt { "Roster version" } dd { code.id { (p.roster) } }
                @if let Some(link) = p.link {
                    dt { (match link.relation { Relation::Amends => "Amends", Relation::Supersedes => "Supersedes" }) }
                    dd {
                        @if site.published(&link.target) {
                            @let title = ledger.proposal(&link.target).map(|t| t.title.as_str()).unwrap_or("");
                            a href=(proposal_href(Depth::Sub, &link.target)) { (title) }
                        } @else if site.config().publish == Publish::Everything {
                            "proposal " code.id { (link.target) } " (not held here)"
                        } @else {
                            "a proposal this site does not publish"
                        }
                    }
                }
                @if !p.amendments.is_empty() {
                    dt { "Takes up" }
                    dd { (deliberation::taken_up(site, p)) }
                }
                (deliberation::revised_by(site, id))
                dt { "Proposal id" } dd { code.id { (id) } }
            }
            section.text aria-labelledby="text" {
                h2 #text { "Text" }
                @if p.body.trim().is_empty() {
                    p.none { "This proposal has no text beyond its title." }
                } @else {
                    div.body { (PreEscaped(markdown::render(&p.body))) }
                }
            }
            (deliberation::amendments(site, id, roster, &comments))
            (deliberation::discussion(site, roster, &comments, comments_omitted))
            (deliberation::ignored_notices(site, id))
            @if let Some(state) = &state {
                (stances::tally_section(&state.tally, deliberating))
                @if let (Some(r), Some(c), Some(b)) = (roster, charter, &breakdown) {
                    (breadth::section(b, c, r))
                }
                @if adopted {
                    (dissent::section(site, id, roster, &state.stances, certificate.as_ref()))
                }
                (stances::stances_section(&window, deliberating, roster, &state.stances))
            }
            @if adopted {
                (certificate_section(id, &coalition, certificate.as_ref().map(|c| c.bytes.as_slice())))
            }
        }
    };
    let title = if adopted { "Position" } else { "Proposal" };
    let page = Page {
        depth: Depth::Sub,
        title: format!("{}: {}", title, p.title),
        nav: Nav::None,
        verifier: adopted && certificate.is_some(),
    };
    layout(site, page, main)
}

fn certificate_section(id: &ObjectId, coalition: &ObjectId, certificate: Option<&[u8]>) -> Markup {
    let file = format!("{id}.cert");
    html! {
        section.certificate aria-labelledby="certificate" {
            h2 #certificate { "Certificate" }
            @match certificate {
                Some(bytes) => {
                    p {
                        a href={ "../certificates/" (file) } download=(file) { "Download the certificate" }
                        " (" (bytes.len()) " bytes). It carries the coalition's genesis, this proposal and the "
                        "endorsements that adopted it, with every signature."
                    }
                    p { "Certificate SHA-256: " code.id { (hex::encode(Sha256::digest(bytes))) } }
                }
                None => {
                    p { "The certificate is not available here: this node lacks an object it needs." }
                }
            }
        }
        @if certificate.is_some() {
            section id="verification" data-certificate={ "../certificates/" (file) }
                data-certificate-script={ "../certificates/" (file) ".js" } data-certificate-id=(id)
                data-coalition=(coalition) {
                h2 { "Verification" }
                p id="verdict" class="verdict pending" { (verify_by_hand(&file, coalition)) }
                ul id="verdict-dissent" class="verdict-dissent" aria-label="Dissent the certificate records" {}
            }
        }
    }
}
