//! # chorus-web: the coalition's read-only website, rendered from the ledger
//!
//! A pure function from the ledger's state (and the exact stored envelopes)
//! to a set of files: no I/O, no clock, no randomness, no async runtime.
//! The node serves [`Site::get`] per request; `chorus publish` writes every
//! path of [`Site::paths`] to a directory. Both give the same bytes for the
//! same ledger state.
//!
//! ## The site
//!
//! | path | what |
//! |---|---|
//! | `index.html` | the coalition's positions (adopted proposals, governance decisions included), newest first, with tallies; under [`Publish::Everything`] also every other proposal |
//! | `proposals/<id>.html` | a proposal: text, author, dates, its voting window (below), decision and rule, revisions, amendments, the discussion, tally, breadth (below), every member's stance (endorsements and objections with equal weight), abstentions, equivocations, records outside the window, who has not responded; for a position its dissent, its certificate and the in-browser verification |
//! | `members.html` | the newest roster: names, external ids, trust ids; the charter's rules with their breadth rules; when the coalition uses attributes, the charter's value sets and size bands and every member's declared attributes |
//! | `verify.html` | verify any certificate file in the browser |
//! | `certificates/<id>.cert` | the certificate of a position, as `chorus verify` reads it |
//! | `certificates/<id>.cert.js` | the same bytes in base64 for pages opened from `file://` |
//! | `feeds/positions.atom`, `feeds/positions.json` | Atom and JSON Feed 1.1 of the newest positions |
//! | `feeds/proposals.atom`, `feeds/proposals.json` | the same for every proposal (only under [`Publish::Everything`]) |
//! | `assets/style.css`, `assets/verify.js`, `assets/<verifier script>` | stylesheet and the in-browser verifier |
//!
//! Under [`Publish::Positions`] a proposal that is not adopted has no page
//! and is named nowhere: not on the index, in a feed, or as the target of
//! a link from a position. (A position that amends or supersedes one still
//! carries its id in its own signed bytes, hence in its certificate.)
//!
//! Every link is relative and pages are at most one directory deep, so the
//! exported site works from any sub-path of any static host and from
//! `file://`. Pages carry no inline script, style or event handler and no
//! third-party URL: they work under the CSP
//! `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src
//! 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action
//! 'none'; frame-ancestors 'none'`, and read well without JavaScript.
//!
//! ## Breadth
//!
//! A coalition that uses member attributes (its charter declares a value
//! set, its own size bands or a breadth rule, or a member declares
//! something) gets a "Breadth" section on each tallied proposal's page,
//! from [`chorus_core::Ledger::breakdown`]: one line ("Endorsed by 3 of 4
//! member trusts, from 3 of 9 regions, running 41 schools with 19,200
//! pupils"), each breadth rule of the rule the proposal is adopted under,
//! met or not met in words, a table by each attribute in use (every value
//! of the charter's set in set order, then "not declared") with endorse,
//! object, abstain, not responded and total, and the endorsers' schools
//! and pupils with how many declared them. Feed summaries gain the same
//! line and JSON Feed items carry the breakdown in `_chorus.breakdown`.
//! Other coalitions' pages and feeds are unchanged. Tables scroll sideways
//! inside a labelled, focusable region on a narrow screen; no script.
//!
//! ## Deliberation
//!
//! A proposal that is a draft, has a fixed opening time or has an
//! open-voting or withdrawal held says so on its page: "Voting" (not open,
//! opens at, opened by its author at, open from the start) and
//! "Withdrawn" (when, and the author's reason), and its status reads
//! "Draft: voting has not opened", "Voting opens at <time>" ("Published
//! as a draft; voting opens at <time>" for a draft) or "Withdrawn by its
//! author at <time>" in place of "Not adopted" (on the index too, and
//! "Withdrawn"/"Draft"/"Voting opens at <time>" in feed summaries). No clock: a fixed opening is
//! told as a time. Stances signed outside the window are marked early or
//! late and counted in the tally's "Early records" column. The
//! "Discussion" section shows every comment held as a thread (replies
//! under the comment they answer, oldest first at every level, at most
//! six levels deep, deeper ones flat and naming their parent; a reply to
//! a comment not held is shown at the top, saying so); a comment that is
//! not counted as its member's is marked "not counted", with the reason,
//! never dropped. "Amendments" lists each amendment with its member, its
//! reason, the title it proposes, its text collapsed (`details`), and the
//! revisions that take it up; "Revised by" and "Takes up" link the
//! revisions both ways. Comments, amendment texts and reasons are
//! Markdown through the same renderer as bodies, and every member's text
//! (stance comments too) has its bidirectional control characters shown
//! as `[U+202E]`, so that it cannot reorder the page around it. All of it
//! appears only on the page of a proposal the site publishes, so under
//! [`Publish::Positions`] nothing of a draft that is not adopted appears.
//!
//! A position's "Dissent" section gives the certificate's account: the
//! objections (with reasons) and abstentions it carries
//! ([`chorus_core::Ledger::certificate_dissent`]), how many members did
//! not respond, and the seal line: "Dissent known to <trust>'s node" when
//! the site seals its certificates (see [`ObjectSource::sealer`]), else
//! "Dissent not recorded: this certificate carries no seal". Certificates
//! carry the dissent entries and, with a sealer, the seal. The
//! verification block holds `ul#verdict-dissent`, which the in-browser
//! verifier fills with the dissent it verified (beside `#verdict`, whose
//! contract is unchanged).
//!
//! ## Choices
//!
//! - **Templates: [`maud`].** Templates are Rust code checked at compile
//!   time, and every interpolated value is HTML-escaped unless wrapped in
//!   `PreEscaped`, which this crate does in exactly one place: the output of
//!   the Markdown renderer, whose own output is checked to be inert
//!   (`markdown` module). No template files, no runtime template errors, no
//!   template state; rendering is plain string building, fast enough to
//!   render a 3,000-stance page per request. (`askama` escapes by default
//!   too, but its templates live in separate files with their own syntax;
//!   with one crate and a handful of pages, maud keeps the markup next to
//!   the data it shows.)
//! - **Markdown: `pulldown-cmark`**, CommonMark with tables and
//!   strikethrough; raw HTML shown as text, links only to `http`, `https`
//!   and `mailto` with `rel="nofollow noopener"`, images never loaded
//!   (module `markdown`).
//! - **Dates**: signed times in UTC by a small formatter tested over four
//!   centuries (module `date`): `2026-01-01 09:30 UTC` for people, RFC 3339
//!   in `datetime` attributes and feeds. Whether a proposal is open or closed
//!   depends on a clock, so the site never says: it says "not adopted" and
//!   shows the closing date.
//! - **Feeds** carry the newest [`FEED_ENTRIES`] entries. Entry ids are
//!   `urn:chorus:<object id hex>`; `published` and `updated` are the signed
//!   `created_at`, and a feed's `updated` is its newest entry's (the
//!   genesis time when it has none). Links are absolute from
//!   [`SiteConfig::base_url`]; without one they are relative to the feed
//!   file (`../proposals/<id>.html`), which most readers resolve against
//!   the feed's own URL, and the JSON Feed omits `home_page_url` and
//!   `feed_url`, which must be absolute. JSON Feed items also carry a
//!   `_chorus` extension: proposal id, adopted, decision and tally (and
//!   the breakdown, for a coalition that uses attributes), `objections`
//!   and `abstentions` (the tally's counts) and `status` ("adopted",
//!   "withdrawn", "draft" or "not_adopted"). Summaries give the numbers
//!   of objections and abstentions.
//!
//! ## Determinism
//!
//! Everything shown is read from the ledger, whose state is a function of
//! the set of objects applied (PROTOCOL.md section 8), through ordered maps
//! and sorted lists; this crate adds no hash map, clock or randomness, and
//! every list it renders has an explicit total order (by `created_at` then
//! id, or by name then trust id). Certificates are assembled from the
//! envelopes the ledger chooses, exactly as `chorus-store` does, so they
//! are the node's certificates byte for byte. A test applies the same
//! objects in random orders and compares every path's bytes.
//!
//! ## What the caller must know
//!
//! - [`ObjectSource`] must return the exact stored envelope of every object
//!   the ledger applied. If one is missing, the certificate of the position
//!   that needs it is not available ([`Site::get`] returns `None` for it and
//!   its page says so) although [`Site::paths`] still lists it.
//! - A certificate is sealed only when [`ObjectSource::sealer`] names a
//!   member trust and a key that may seal for it under the ledger (its
//!   trust key, or a node key with a node-scope delegation of it held);
//!   otherwise it is served unsealed, as every certificate was before
//!   dissent was recorded.
//! - [`Asset::immutable`] is true only for the verifier script, whose name
//!   carries a hash of its content. A certificate's bytes are *not* fixed
//!   by its name: endorsements arriving after adoption are added to it (the
//!   certificate carries every endorsing member), and under governance a
//!   revocation can withdraw stances. So certificates must be revalidated
//!   like pages (an `ETag` of the bytes' hash suits every asset).
//! - Rendering a position's page assembles its certificate (to show its
//!   SHA-256), so it reads every chosen endorsement from the
//!   [`ObjectSource`]. With 3,000 members that is most of the page's time
//!   (see `benches/render.rs`); cache rendered files per ledger state.
//! - Every certificate carries the coalition's genesis, every founder's
//!   signature included (about 440 KiB for 3,000 founders), so a static
//!   export of a large coalition is mostly certificates and their
//!   `.cert.js` copies.

#![deny(missing_docs)]

mod assets;
mod breadth;
pub mod date;
mod deliberation;
pub mod discussion;
mod dissent;
mod feeds;
mod markdown;
mod pages;
mod stances;

use chorus_core::{certificate, Envelope, Ledger, ObjectId, PublicKey};

pub use assets::{wasm_script, wasm_script_name};

/// Entries in each feed: the newest ones.
pub const FEED_ENTRIES: usize = 100;

/// Exact stored envelopes by id (the node's store, or a map in tests),
/// and who seals the certificates the site serves.
pub trait ObjectSource {
    /// The stored envelope with this id, if held.
    fn envelope(&self, id: &ObjectId) -> Option<Envelope>;

    /// The member trust this site's node seals certificates for, and the
    /// keys it may seal with (see [`Sealer`]). `None` (the default): every
    /// certificate is served unsealed, and positions' pages say that
    /// dissent is not recorded.
    fn sealer(&self) -> Option<Sealer<'_>> {
        None
    }

    /// The certificate of adopted proposal `id` as the source exports it
    /// on its other paths (a node's control interface), so the site serves
    /// the same bytes; `None` (the default) lets the site assemble it from
    /// [`ObjectSource::envelope`] and [`ObjectSource::sealer`] by the same
    /// rule.
    fn certificate(&self, _id: &ObjectId) -> Option<SourcedCertificate> {
        None
    }
}

/// A certificate an [`ObjectSource`] assembled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedCertificate {
    /// The certificate bytes.
    pub bytes: Vec<u8>,
    /// The trust whose node sealed it, if it is sealed.
    pub sealed_by: Option<PublicKey>,
}

/// Who seals the certificates the site serves (PROTOCOL.md 9); with no
/// key that may seal, a certificate is served unsealed.
pub use chorus_core::certificate::Sealer;

/// A position's certificate as the site serves it.
pub(crate) struct Exported {
    pub bytes: Vec<u8>,
    /// The trust whose node sealed it, if it is sealed.
    pub sealed_by: Option<PublicKey>,
}

impl ObjectSource for std::collections::BTreeMap<ObjectId, Envelope> {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        self.get(id).cloned()
    }
}

/// What the coalition publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Only positions (adopted proposals, governance decisions included).
    Positions,
    /// Every proposal, adopted or not.
    Everything,
}

/// How the site is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteConfig {
    /// What the coalition publishes.
    pub publish: Publish,
    /// The site's absolute URL (e.g. `https://voice.example.org/`), for
    /// feeds; a missing trailing `/` is added. Without it feeds use
    /// relative links.
    pub base_url: Option<String>,
}

/// One file of the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// The bytes.
    pub body: Vec<u8>,
    /// The media type, with `charset=utf-8` for text.
    pub content_type: &'static str,
    /// True when the content under this path never changes (its name
    /// carries a hash of it), so it may be cached forever.
    pub immutable: bool,
}

pub(crate) const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "application/javascript";
const ATOM: &str = "application/atom+xml";
const JSON_FEED: &str = "application/feed+json";
const CERTIFICATE: &str = "application/octet-stream";

impl Asset {
    fn new(body: impl Into<Vec<u8>>, content_type: &'static str) -> Self {
        Asset { body: body.into(), content_type, immutable: false }
    }
}

/// The website of one ledger state. Cheap to build; renders only what is
/// asked.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    ledger: &'a Ledger,
    objects: &'a dyn ObjectSource,
    config: &'a SiteConfig,
}

/// Which feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeedKind {
    Positions,
    Proposals,
}

impl<'a> Site<'a> {
    /// The site of `ledger`, reading envelopes from `objects`.
    pub fn new(ledger: &'a Ledger, objects: &'a dyn ObjectSource, config: &'a SiteConfig) -> Self {
        Site { ledger, objects, config }
    }

    /// The file at `path`, relative to the site root (`""` is
    /// `index.html`), or `None` when the site has no such file.
    pub fn get(&self, path: &str) -> Option<Asset> {
        let path = if path.is_empty() { "index.html" } else { path };
        let everything = self.config.publish == Publish::Everything;
        Some(match path {
            "index.html" => Asset::new(pages::index(self), HTML),
            "members.html" => Asset::new(pages::members(self), HTML),
            "verify.html" => Asset::new(pages::verify(self), HTML),
            "assets/style.css" => Asset::new(assets::STYLE_CSS, CSS),
            "assets/verify.js" => Asset::new(assets::verify_js(), JS),
            "feeds/positions.atom" => Asset::new(feeds::atom(self, FeedKind::Positions), ATOM),
            "feeds/positions.json" => Asset::new(feeds::json(self, FeedKind::Positions), JSON_FEED),
            "feeds/proposals.atom" if everything => Asset::new(feeds::atom(self, FeedKind::Proposals), ATOM),
            "feeds/proposals.json" if everything => Asset::new(feeds::json(self, FeedKind::Proposals), JSON_FEED),
            _ => {
                if let Some(name) = path.strip_prefix("assets/") {
                    if name == assets::wasm_script_name() {
                        return Some(Asset { body: assets::wasm_script().into(), content_type: JS, immutable: true });
                    }
                    return None;
                }
                if let Some(id) = path.strip_prefix("proposals/").and_then(|p| p.strip_suffix(".html")) {
                    let id = parse_id(id)?;
                    return self.published(&id).then(|| Asset::new(pages::proposal(self, &id), HTML));
                }
                let name = path.strip_prefix("certificates/")?;
                if let Some(id) = name.strip_suffix(".cert.js") {
                    let id = parse_id(id)?;
                    return Some(Asset::new(certificate_script(&id, &self.certificate(&id)?.bytes), JS));
                }
                let id = parse_id(name.strip_suffix(".cert")?)?;
                return Some(Asset::new(self.certificate(&id)?.bytes, CERTIFICATE));
            }
        })
    }

    /// Every path of the site, sorted (for a static export).
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = [
            "index.html",
            "members.html",
            "verify.html",
            "assets/style.css",
            "assets/verify.js",
            "feeds/positions.atom",
            "feeds/positions.json",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        paths.push(format!("assets/{}", assets::wasm_script_name()));
        if self.config.publish == Publish::Everything {
            paths.push("feeds/proposals.atom".into());
            paths.push("feeds/proposals.json".into());
        }
        for id in self.published_proposals() {
            paths.push(format!("proposals/{id}.html"));
            if self.ledger.is_adopted(&id) {
                paths.push(format!("certificates/{id}.cert"));
                paths.push(format!("certificates/{id}.cert.js"));
            }
        }
        paths.sort();
        paths
    }

    /// True when the site has a page for this proposal.
    pub(crate) fn published(&self, id: &ObjectId) -> bool {
        match self.config.publish {
            Publish::Positions => self.ledger.is_adopted(id),
            Publish::Everything => self.ledger.proposal(id).is_some(),
        }
    }

    /// Proposals with a page, oldest first by (created_at, id).
    pub(crate) fn published_proposals(&self) -> Vec<ObjectId> {
        match self.config.publish {
            Publish::Positions => self.ledger.positions(),
            Publish::Everything => self.ledger.proposals().into_iter().map(|(id, _)| id).collect(),
        }
    }

    /// The certificate of an adopted proposal, from the exact stored
    /// envelopes the ledger chooses (as `chorus-store` builds it): its
    /// endorsements, its dissent, its proof chain and, when the source
    /// seals it, the seal (and the delegation the seal names).
    pub(crate) fn certificate(&self, id: &ObjectId) -> Option<Exported> {
        if !self.ledger.is_adopted(id) {
            return None;
        }
        if let Some(c) = self.objects.certificate(id) {
            return Some(Exported { bytes: c.bytes, sealed_by: c.sealed_by });
        }
        let endorsements = self.ledger.certificate_endorsements(id)?;
        let dissent = self.ledger.certificate_dissent(id)?;
        let chain = self.ledger.certificate_chain(id)?;
        let fetch = |ids: &[ObjectId]| ids.iter().map(|i| self.objects.envelope(i)).collect::<Option<Vec<_>>>();
        let mut links = fetch(&chain)?;
        let proposal = self.objects.envelope(id)?;
        let ends = fetch(&endorsements)?;
        let dissenting = fetch(&dissent)?;
        let mut stances: Vec<ObjectId> = endorsements.iter().chain(&dissent).copied().collect();
        stances.sort();
        let coalition = self.ledger.coalition();
        let mut seal = None;
        if let Some(sealer) = self.objects.sealer() {
            if let Some((s, _, proof)) = sealer.seal(self.ledger, id, &stances) {
                // What the seal's signer needs to be authorised by the
                // certificate alone; a seal it cannot carry is left out.
                if let Some(extra) = fetch(&proof) {
                    links.extend(extra);
                    seal = Some((s, sealer.trust));
                }
            }
        }
        let sealed_by = seal.as_ref().map(|(_, t)| *t);
        let bytes = certificate::assemble_full(
            coalition.genesis_envelope(),
            &proposal,
            &ends,
            &dissenting,
            &links,
            seal.map(|(s, _)| s),
        );
        Some(Exported { bytes, sealed_by })
    }

    pub(crate) fn ledger(&self) -> &'a Ledger {
        self.ledger
    }

    pub(crate) fn config(&self) -> &'a SiteConfig {
        self.config
    }
}

/// A proposal id as the site writes it: 64 lower-case hex digits.
fn parse_id(s: &str) -> Option<ObjectId> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    s.parse().ok()
}

/// `certificates/<id>.cert.js`: the certificate for pages opened from
/// `file://`, where a script may not fetch a file (the format the
/// in-browser verifier reads, defined beside it).
fn certificate_script(id: &ObjectId, cert: &[u8]) -> String {
    chorus_verify_assets::certificate_script(&id.to_hex(), cert)
}
