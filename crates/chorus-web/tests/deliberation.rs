//! Deliberation on the site: a draft's page shows its voting window, the
//! discussion as a thread (replies under their parent, by time, "not
//! counted" marked), the amendments with the revision that takes them up
//! and the revisions; a position's page shows its dissent and the seal
//! line; feeds carry the counts and the status; hostile comment text
//! (markup, bidirectional controls) is shown inert; and under
//! `Publish::Positions` nothing of a proposal that is not adopted appears.

mod common;

use std::collections::BTreeMap;

use chorus_core::testkit::{member_key, Fixture, T0};
use chorus_core::{
    certificate, Amendment, CertificateError, Endorsement, Envelope, Keypair, Kind, ObjectId, ProposalLink, Relation,
    Stance,
};
use chorus_web::{ObjectSource, Publish, Sealer, Site, SiteConfig};
use common::*;

const HOUR: u64 = 3_600_000;
const HOSTILE: &str = "<script>alert('comment')</script> \u{202E}txt.exe\u{202C} <img src=x onerror=alert(2)>";
const REASON: &str = "We object: <b onmouseover=alert(3)>costs</b> \u{2067}rise\u{2069}";

struct Deliberation {
    world: World,
    draft: ObjectId,
    revised: ObjectId,
    withdrawn: ObjectId,
    later: ObjectId,
    first: ObjectId,
    reply: ObjectId,
    nested: ObjectId,
    second: ObjectId,
    amendment: ObjectId,
    uncounted: ObjectId,
    keys: Vec<Keypair>,
}

fn stance(
    f: &Fixture,
    member: usize,
    proposal: ObjectId,
    stance: Stance,
    offset: u64,
    comment: Option<&str>,
) -> Envelope {
    let key = &f.keys[member];
    let e = Endorsement {
        coalition: f.id(),
        proposal,
        trust: key.public(),
        created_at_ms: T0 + offset,
        stance,
        comment: comment.map(Into::into),
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
}

/// Five trusts (majority: 3). Trust 0 publishes a draft; trusts 1 to 4
/// comment (one reply, one reply to the reply, a hostile text), a
/// delegate of trust 4 comments outside its delegation's period (not
/// counted) and trust 1 proposes an amendment. Trust 0 revises the draft
/// taking the amendment up, withdraws the draft, and opens voting on the
/// revision, which trusts 0 to 2 endorse (trust 1 also signed an early
/// endorsement), trust 3 objects with a hostile reason and trust 4
/// abstains. Trust 2 withdraws a proposal of its own; trust 3's draft
/// opens at a fixed time.
fn deliberation() -> Deliberation {
    let f = Fixture::new(5);
    let mut o = vec![];
    let d = f.draft(0, "Draft response", HOUR, None, None);
    let draft = d.id();
    o.push(d);
    let c = |o: &mut Vec<Envelope>, m: usize, text: &str, reply: Option<ObjectId>, at: u64| {
        let e = f.comment(m, draft, text, reply, at);
        let id = e.id();
        o.push(e);
        id
    };
    let first = c(&mut o, 1, HOSTILE, None, 2 * HOUR);
    let second = c(&mut o, 4, "A second, *separate* point.", None, 2 * HOUR + 1);
    let reply = c(&mut o, 2, "A reply to the first.", Some(first), 3 * HOUR);
    let nested = c(&mut o, 3, "A reply to the reply.", Some(reply), 4 * HOUR);
    // A delegate of trust 4, valid for one hour from T0, comments later.
    let leader = member_key(300);
    let delegation = f.delegation(&f.keys[4], f.keys[4].public(), leader.public(), Some(HOUR), 0);
    let did = delegation.id();
    o.push(delegation);
    let late = f.comment_by(
        &leader,
        f.keys[4].public(),
        draft,
        "Outside my delegation.",
        None,
        None,
        4 * HOUR + HOUR / 2,
        Some(did),
    );
    let uncounted = late.id();
    o.push(late);
    let amend = Amendment {
        body: "# Proposed text\n\nShorter. <script>alert(4)</script>".into(),
        title: Some("Better title".into()),
    };
    let a = f.comment_by(&f.keys[1], f.keys[1].public(), draft, "Shorter, please.", None, Some(amend), 5 * HOUR, None);
    let amendment = a.id();
    o.push(a);

    let mut r = f.draft_proposal(0, "Revised response", 6 * HOUR, None, None);
    r.link = Some(ProposalLink { target: draft, relation: Relation::Amends });
    r.amendments = vec![amendment];
    let r = Envelope::sign(Kind::Proposal, r.to_body(), &[&f.keys[0]]);
    let revised = r.id();
    o.push(r);
    o.push(f.withdrawal(0, draft, Some("Replaced by a revised text."), 6 * HOUR));
    o.push(stance(&f, 1, revised, Stance::Endorse, 6 * HOUR + 5, Some("Too early.")));
    o.push(f.open_voting(0, revised, 7 * HOUR));
    for m in 0..3 {
        o.push(stance(&f, m, revised, Stance::Endorse, 8 * HOUR, None));
    }
    o.push(stance(&f, 3, revised, Stance::Object, 8 * HOUR, Some(REASON)));
    o.push(stance(&f, 4, revised, Stance::Abstain, 8 * HOUR, None));

    let w = f.proposal(2, "Withdrawn idea", 9 * HOUR, None);
    let withdrawn = w.id();
    o.push(w);
    o.push(stance(&f, 2, withdrawn, Stance::Endorse, 9 * HOUR, None));
    o.push(f.withdrawal(2, withdrawn, None, 10 * HOUR));

    let l = f.draft(3, "Later draft", 11 * HOUR, Some(100 * HOUR), None);
    let later = l.id();
    o.push(l);

    let keys = f.keys.clone();
    Deliberation {
        world: World::of(f.coalition.clone(), o, f.keys.clone()),
        draft,
        revised,
        withdrawn,
        later,
        first,
        reply,
        nested,
        second,
        amendment,
        uncounted,
        keys,
    }
}

fn render(site: &Site) -> BTreeMap<String, String> {
    site.paths()
        .into_iter()
        .map(|p| {
            let a = site.get(&p).expect("listed paths are served");
            (p, String::from_utf8_lossy(&a.body).into_owned())
        })
        .collect()
}

fn page(site: &Site, id: &ObjectId) -> String {
    String::from_utf8(site.get(&format!("proposals/{id}.html")).expect("a page").body).unwrap()
}

/// The markup between `<section class="NAME"` and its `</section>`.
fn section<'a>(html: &'a str, class: &str) -> &'a str {
    let start = html.find(&format!("<section class=\"{class}\"")).unwrap_or_else(|| panic!("no section {class}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap()]
}

fn everything() -> SiteConfig {
    SiteConfig { publish: Publish::Everything, base_url: None }
}

#[test]
fn a_drafts_page_shows_its_window_thread_amendments_and_revisions() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let html = page(&site, &d.draft);
    check_page("proposals/x.html", &html, &d.world.coalition.id(), chorus_web::wasm_script_name());

    // The window: a draft never opened, withdrawn with a reason.
    assert!(html.contains("Withdrawn by its author at"), "status");
    assert!(html.contains("<dt>Voting</dt>"));
    assert!(html.contains("Not open: the proposal is a draft"));
    assert!(html.contains("<dt>Withdrawn</dt>"));
    assert!(html.contains("Replaced by a revised text."));
    // Revised by, linked.
    assert!(html.contains(&format!(
        "<dt>Revised by</dt><dd><ul class=\"revisions\"><li><a href=\"{}.html\">Revised response</a>",
        d.revised
    )));

    // The thread: the reply inside the first comment's item, the reply to
    // the reply inside the reply's, the second comment after the first.
    let thread = section(&html, "discussion");
    assert!(thread.contains("Discussion (6)"));
    let at = |id: &ObjectId| thread.find(&format!("id=\"comment-{id}\"")).unwrap_or_else(|| panic!("comment {id}"));
    assert!(at(&d.first) < at(&d.reply) && at(&d.reply) < at(&d.nested) && at(&d.nested) < at(&d.second));
    let first_item = &thread[at(&d.first)..at(&d.second)];
    assert_eq!(first_item.matches("<ol class=\"thread\">").count(), 2, "two levels of replies: {first_item}");
    // Oldest first among the top level: first (2h), second (2h+1), then
    // the delegate's (5h) and the amendment (5h).
    assert!(at(&d.second) < at(&d.uncounted) && at(&d.uncounted) < at(&d.amendment));
    // Not counted, with the reason; the others are not marked.
    let uncounted = &thread[at(&d.uncounted)..at(&d.amendment)];
    assert!(uncounted.contains("not counted"), "{uncounted}");
    assert!(uncounted.contains("not signed by a key authorised for its trust"), "{uncounted}");
    assert_eq!(thread.matches("not counted</strong>").count(), 1);
    // Markdown rendered inert.
    assert!(thread.contains("<em>separate</em>"));
    assert!(thread.contains(&format!("href=\"#amendment-{}\"", d.amendment)));

    // The amendment: who, reason, title, collapsed text, taken up by the
    // revision.
    let amendments = section(&html, "amendments");
    assert!(amendments.contains("Amendments (1)"));
    assert!(amendments.contains(&format!("id=\"amendment-{}\"", d.amendment)));
    assert!(amendments.contains("Trust 1"));
    assert!(amendments.contains("Shorter, please."));
    assert!(amendments.contains("Proposed title: <strong>Better title</strong>"));
    assert!(amendments.contains("<details class=\"amendment-text\"><summary>Proposed text ("));
    assert!(amendments.contains("<h3>Proposed text</h3>"));
    assert!(amendments.contains("&lt;script&gt;alert(4)&lt;/script&gt;"));
    assert!(amendments.contains(&format!("Taken up by <a href=\"{}.html\">Revised response</a>.", d.revised)));
}

#[test]
fn hostile_comment_text_is_inert_and_bidi_controls_are_visible() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let wasm = chorus_web::wasm_script_name();
    for (path, body) in render(&site) {
        if path.ends_with(".cert") {
            // The signed bytes, as signed.
            continue;
        }
        if path.ends_with(".html") {
            check_page(&path, &body, &d.world.coalition.id(), wasm);
        }
        for c in ['\u{202E}', '\u{202C}', '\u{2067}', '\u{2069}'] {
            assert!(!body.contains(c), "{path} carries a raw bidi control U+{:04X}", c as u32);
        }
        assert!(!body.contains("<script>alert"), "{path}");
        assert!(!body.contains("<img src=x"), "{path}");
        assert!(!body.contains("<b onmouseover"), "{path}");
    }
    let html = page(&site, &d.draft);
    assert!(html.contains(
        "&lt;script&gt;alert('comment')&lt;/script&gt; [U+202E]txt.exe[U+202C] &lt;img src=x onerror=alert(2)&gt;"
    ));
    let position = page(&site, &d.revised);
    assert!(position.contains("We object: &lt;b onmouseover=alert(3)&gt;costs&lt;/b&gt; [U+2067]rise[U+2069]"));
}

#[test]
fn a_revisions_page_links_the_draft_and_the_amendments_it_takes_up_and_marks_early_records() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let html = page(&site, &d.revised);
    assert!(html.contains("Opened by its author at"));
    assert!(html.contains(&format!("<dt>Amends</dt><dd><a href=\"{}.html\">Draft response</a>", d.draft)));
    assert!(html.contains("<dt>Takes up</dt>"));
    assert!(html.contains(&format!("href=\"{}.html#amendment-{}\"", d.draft, d.amendment)));
    // Trust 1's early endorsement: kept, marked, not counted.
    assert!(html.contains("(early, not counted)"), "early record");
    assert!(html.contains("<th scope=\"col\">Early records</th>"));
}

#[test]
fn statuses_draft_and_withdrawn_on_the_index_and_in_feeds() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let index = String::from_utf8(site.get("index.html").unwrap().body).unwrap();
    assert!(index.contains("Withdrawn by its author at"));
    // A draft with a fixed opening: no clock, so the time is told.
    assert!(index.contains("Published as a draft; voting opens at"), "{index}");
    assert!(!index.contains("Draft until"));
    assert!(page(&site, &d.later).contains("<dt>Voting</dt><dd class=\"window\">Opens at"));
    assert!(page(&site, &d.withdrawn).contains("Withdrawn by its author at"));

    let atom = String::from_utf8(site.get("feeds/proposals.atom").unwrap().body).unwrap();
    assert!(atom.contains("Withdrawn position. 1 endorse, 0 object, 0 abstain of 5 members (3 required). 0 objections, 0 abstentions."), "{atom}");
    assert!(atom.contains("Not adopted position.") && atom.contains(" Voting opens at 2026-"), "{atom}");
    let positions = String::from_utf8(site.get("feeds/positions.atom").unwrap().body).unwrap();
    assert!(
        positions.contains(
            "Adopted position. 3 endorse, 1 object, 1 abstain of 5 members (3 required). 1 objection, 1 abstention."
        ),
        "{positions}"
    );

    let json: serde_json::Value = serde_json::from_slice(&site.get("feeds/proposals.json").unwrap().body).unwrap();
    let item = |id: &ObjectId| {
        json["items"].as_array().unwrap().iter().find(|i| i["_chorus"]["proposal"] == id.to_hex()).unwrap().clone()
    };
    let revised = item(&d.revised);
    assert_eq!(revised["_chorus"]["objections"], 1);
    assert_eq!(revised["_chorus"]["abstentions"], 1);
    assert_eq!(revised["_chorus"]["status"], "adopted");
    // The keys that were there before keep their values.
    assert_eq!(revised["_chorus"]["adopted"], true);
    assert_eq!(revised["_chorus"]["tally"]["object"], 1);
    assert_eq!(item(&d.withdrawn)["_chorus"]["status"], "withdrawn");
    // A fixed opening is no status without a clock; the summary tells it.
    assert_eq!(item(&d.later)["_chorus"]["status"], "not_adopted");
    assert!(item(&d.later)["summary"].as_str().unwrap().contains(" Voting opens at "), "{}", item(&d.later));
    assert_eq!(item(&d.draft)["_chorus"]["status"], "withdrawn");
}

/// A source that seals with member 0's trust key.
struct Sealing<'a> {
    objects: BTreeMap<ObjectId, Envelope>,
    trust: chorus_core::PublicKey,
    keys: &'a [Keypair],
}

impl ObjectSource for Sealing<'_> {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        self.objects.get(id).cloned()
    }
    fn sealer(&self) -> Option<Sealer<'_>> {
        Some(Sealer { trust: self.trust, keys: self.keys })
    }
}

#[test]
fn a_positions_page_shows_its_dissent_and_the_seal_line() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = everything();

    // Unsealed: dissent is not recorded.
    let site = Site::new(&ledger, &source, &cfg);
    let html = page(&site, &d.revised);
    let dissent = section(&html, "dissent");
    assert!(dissent.contains("1 objection, 1 abstention; 0 members with no stance carried."), "{dissent}");
    assert!(!dissent.contains("did not respond"), "only a seal vouches for that: {dissent}");
    assert!(dissent.contains("<h3 id=\"dissent-objections\">Objected</h3>"));
    assert!(dissent.contains("Trust 3"));
    assert!(dissent.contains("We object: &lt;b onmouseover"));
    assert!(dissent.contains("<h3 id=\"dissent-abstentions\">Abstained</h3>"));
    assert!(dissent.contains("Trust 4"));
    assert!(dissent.contains("no reason given"));
    assert!(dissent.contains("Dissent not recorded: this certificate carries no seal"));
    assert!(html.contains("<ul id=\"verdict-dissent\" class=\"verdict-dissent\""));
    let cert = site.get(&format!("certificates/{}.cert", d.revised)).unwrap().body;
    let v = certificate::verify(&cert, Some(d.world.coalition.id())).expect("the served certificate verifies");
    assert_eq!(v.objectors.len(), 1);
    assert_eq!(v.objectors[0].comment.as_deref(), Some(REASON));
    assert_eq!(v.abstainers.len(), 1);
    assert!(v.seal.is_none());

    // Sealed by trust 0's key: the page says whose node, the certificate
    // carries the seal, and without the objection it fails.
    let sealing = Sealing { objects: source.clone(), trust: d.keys[0].public(), keys: &d.keys[..1] };
    let site = Site::new(&ledger, &sealing, &cfg);
    let html = page(&site, &d.revised);
    let dissent = section(&html, "dissent");
    assert!(dissent.contains("Dissent known to <strong>Trust 0</strong>'s node"));
    assert!(dissent.contains("1 objection, 1 abstention; 0 members did not respond."), "{dissent}");
    let sealed = site.get(&format!("certificates/{}.cert", d.revised)).unwrap().body;
    let v = certificate::verify(&sealed, Some(d.world.coalition.id())).expect("the sealed certificate verifies");
    let seal = v.seal.as_ref().expect("sealed");
    assert_eq!((seal.trust, seal.stances), (d.keys[0].public(), 5));
    // The same parts without the objection, the seal kept.
    let parts = |ids: &[ObjectId]| ids.iter().map(|i| source[i].clone()).collect::<Vec<_>>();
    let ends = parts(&ledger.certificate_endorsements(&d.revised).unwrap());
    let dissent_ids = ledger.certificate_dissent(&d.revised).unwrap();
    assert_eq!(dissent_ids.len(), 2);
    let kept: Vec<ObjectId> =
        dissent_ids.iter().copied().filter(|i| source[i].id() != v.objectors[0].stance_id).collect();
    let chain = parts(&ledger.certificate_chain(&d.revised).unwrap());
    let mut stances: Vec<ObjectId> = ledger.certificate_endorsements(&d.revised).unwrap();
    stances.extend(&dissent_ids);
    let body = certificate::seal_body(&d.world.coalition.id(), &d.revised, &d.keys[0].public(), None, &stances);
    let seal = certificate::Seal::sign(body, &d.keys[0]);
    let whole = certificate::assemble_full(
        d.world.coalition.genesis_envelope(),
        &source[&d.revised],
        &ends,
        &parts(&dissent_ids),
        &chain,
        Some(seal.clone()),
    );
    assert_eq!(whole, sealed, "the site's certificate is the one the parts make");
    let cut = certificate::assemble_full(
        d.world.coalition.genesis_envelope(),
        &source[&d.revised],
        &ends,
        &parts(&kept),
        &chain,
        Some(seal),
    );
    let e = certificate::verify(&cut, None).expect_err("a stance removed after sealing");
    assert!(matches!(e, CertificateError::SealMismatch { .. }), "{e:?}");
}

#[test]
fn under_positions_only_nothing_of_an_unadopted_proposal_appears() {
    let d = deliberation();
    let ledger = d.world.ledger();
    let source = d.world.source();
    let cfg = SiteConfig { publish: Publish::Positions, base_url: None };
    let site = Site::new(&ledger, &source, &cfg);
    let all = render(&site);
    assert!(site.get(&format!("proposals/{}.html", d.draft)).is_none());
    for (path, body) in &all {
        for secret in [
            "Draft response",
            "A reply to the first.",
            "Shorter, please.",
            "Better title",
            "Replaced by a revised text.",
            "Withdrawn idea",
            "Later draft",
        ] {
            assert!(!body.contains(secret), "{path} shows {secret:?}");
        }
        for id in [d.draft, d.withdrawn, d.later] {
            assert!(!body.contains(&id.to_hex()), "{path} names {id}");
        }
    }
    // The position still says what it takes up, without a link.
    let html = page(&site, &d.revised);
    assert!(html.contains("<dt>Takes up</dt>"));
    assert!(!html.contains("#amendment-"));
}

#[test]
fn a_long_chain_of_replies_nests_only_so_deep() {
    let f = Fixture::new(3);
    let d = f.draft(0, "Deep", HOUR, None, None);
    let draft = d.id();
    let mut o = vec![d];
    let mut parent = None;
    let mut ids = vec![];
    for i in 0..20u64 {
        let c = f.comment((i % 3) as usize, draft, &format!("Reply number {i}."), parent, 2 * HOUR + i);
        parent = Some(c.id());
        ids.push(c.id());
        o.push(c);
    }
    let world = World::of(f.coalition.clone(), o, f.keys.clone());
    let ledger = world.ledger();
    let source = world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let html = page(&site, &draft);
    check_page("proposals/x.html", &html, &world.coalition.id(), chorus_web::wasm_script_name());
    let thread = section(&html, "discussion");
    // Depth of <ol> nesting: the top-level list and at most six levels of
    // replies (chorus-web's limit).
    let (mut depth, mut deepest) = (0usize, 0usize);
    for (i, _) in thread.match_indices("<ol") {
        let closes = thread[..i].matches("</ol>").count();
        depth = thread[..i].matches("<ol").count() + 1 - closes;
        deepest = deepest.max(depth);
    }
    assert_eq!(deepest, 1 + 6, "nested {deepest} deep");
    let _ = depth;
    // Every reply shown once, in order, the flattened ones naming their parent.
    let at: Vec<usize> = ids.iter().map(|id| thread.find(&format!("id=\"comment-{id}\"")).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]));
    assert!(thread.contains(&format!("replies to <a href=\"#comment-{}\">comment ", ids[18])));
}

#[test]
fn any_order_of_arrival_renders_the_same_bytes() {
    let d = deliberation();
    let n = d.world.objects.len();
    let render_in = |order: &[usize]| {
        let ledger = d.world.ledger_in_order(order);
        let source = d.world.source();
        let sealing = Sealing { objects: source, trust: d.keys[0].public(), keys: &d.keys[..1] };
        let cfg = everything();
        let site = Site::new(&ledger, &sealing, &cfg);
        site.paths().into_iter().map(|p| (p.clone(), site.get(&p).unwrap().body)).collect::<BTreeMap<_, _>>()
    };
    let want = render_in(&(0..n).collect::<Vec<_>>());
    let mut orders: Vec<Vec<usize>> = vec![(0..n).rev().collect()];
    for step in [3, 7, 11] {
        // A fixed permutation: i * step mod n, for steps prime to n.
        if (0..n).map(|i| i * step % n).collect::<std::collections::BTreeSet<_>>().len() == n {
            orders.push((0..n).map(|i| i * step % n).collect());
        }
    }
    orders.push((0..n).map(|i| (i + n / 2) % n).collect());
    for order in orders {
        assert_eq!(render_in(&order), want, "order {order:?}");
    }
}

/// A flood of comments by one member: the page shows the bound every view
/// shares, the other members' comments among it, and says how many more
/// there are.
#[test]
fn a_flood_of_comments_is_bounded_and_says_how_many_are_not_shown() {
    let f = Fixture::new(3);
    let d = f.draft(0, "Flooded", HOUR, None, None);
    let draft = d.id();
    let mut o = vec![d];
    for n in 0..520 {
        o.push(f.comment(1, draft, "x", None, HOUR + 1 + n));
    }
    o.push(f.comment(2, draft, "A genuine comment, signed last.", None, 2 * HOUR));
    let world = common::World::of(f.coalition.clone(), o, f.keys.clone());
    let ledger = world.ledger();
    let source = world.source();
    let cfg = everything();
    let site = Site::new(&ledger, &source, &cfg);
    let html = page(&site, &draft);
    let discussion = section(&html, "discussion");
    assert!(discussion.contains("A genuine comment, signed last."));
    assert!(discussion.contains("21 more comments not shown."), "{discussion}");
    assert_eq!(discussion.matches("<article class=\"comment\"").count(), chorus_web::discussion::MAX_COMMENTS_SHOWN);
}
