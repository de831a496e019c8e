//! The rendered site as a whole: every page well formed and inert with
//! hostile content, every relative link resolving, `Publish::Positions`
//! naming no proposal that is not adopted, certificates verifying, feeds
//! parsing.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use chorus_core::{certificate, Decision};
use chorus_web::{Asset, Publish, Site, SiteConfig};
use common::*;
use sha2::{Digest, Sha256};

fn config(publish: Publish, base_url: Option<&str>) -> SiteConfig {
    SiteConfig { publish, base_url: base_url.map(Into::into) }
}

/// Every path with its asset.
fn render_all(site: &Site) -> BTreeMap<String, Asset> {
    site.paths()
        .into_iter()
        .map(|p| {
            let a = site.get(&p).unwrap_or_else(|| panic!("{p} is listed but not served"));
            (p, a)
        })
        .collect()
}

fn text(a: &Asset) -> &str {
    std::str::from_utf8(&a.body).expect("text assets are UTF-8")
}

#[test]
fn every_page_is_well_formed_and_inert_under_hostile_content() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    for publish in [Publish::Positions, Publish::Everything] {
        let cfg = config(publish, None);
        let site = Site::new(&ledger, &source, &cfg);
        let all = render_all(&site);
        let wasm = chorus_web::wasm_script_name();
        let mut pages = 0;
        for (path, asset) in &all {
            if path.ends_with(".html") {
                assert_eq!(asset.content_type, "text/html; charset=utf-8");
                assert!(!asset.immutable);
                check_page(path, text(asset), &w.coalition.id(), wasm);
                pages += 1;
            }
        }
        assert!(pages >= 7, "{pages}");
        // The hostile texts are shown, escaped.
        let page = text(&all[&format!("proposals/{}.html", w.hostile)]);
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;svg onload=alert(1)&gt;"));
        assert!(page.contains("We object: &lt;img src=x onerror=alert(1)&gt;"));
        assert!(page.contains("&quot;&gt;&lt;svg onload=alert(1)&gt;"), "hostile member name shown");
        assert!(page.contains("<a href=\"https://www.gov.uk/guidance\" rel=\"nofollow noopener\""));
        let index = text(&all["index.html"]);
        assert!(index.contains("<title>Positions — Northern &lt;Schools&gt; &amp; &quot;Coalition&quot;</title>"));
        let members = text(&all["members.html"]);
        assert!(members.contains("New &lt;script&gt;alert('admitted')&lt;/script&gt; Trust"), "admitted member");
        assert!(members.contains("08123456"));
    }
}

#[test]
fn position_page_shows_every_stance_and_the_verification_block() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    let cfg = config(Publish::Positions, None);
    let site = Site::new(&ledger, &source, &cfg);
    let id = w.hostile;
    let page = String::from_utf8(site.get(&format!("proposals/{id}.html")).unwrap().body).unwrap();
    let cert = site.get(&format!("certificates/{id}.cert")).unwrap();
    let c = w.coalition.id();
    let block = format!(
        "<section id=\"verification\" data-certificate=\"../certificates/{id}.cert\" \
         data-certificate-script=\"../certificates/{id}.cert.js\" data-certificate-id=\"{id}\" \
         data-coalition=\"{c}\"><h2>Verification</h2><p id=\"verdict\" class=\"verdict pending\">"
    );
    assert!(page.contains(&block), "{page}");
    let verdict = &page[page.find(&block).unwrap() + block.len()..];
    let verdict = &verdict[..verdict.find("</p>").expect("the verdict closes")];
    // Beside the verdict, the list the verifier fills with the dissent.
    assert!(page.contains(
        "</p><ul id=\"verdict-dissent\" class=\"verdict-dissent\" aria-label=\"Dissent the certificate records\"></ul></section>"
    ));
    assert!(verdict.contains(&format!("chorus verify {id}.cert --coalition {c}")), "{verdict}");
    let wasm = chorus_web::wasm_script_name();
    assert!(page.ends_with(&format!(
        "<script src=\"../assets/{wasm}\"></script><script src=\"../assets/verify.js\"></script></body></html>"
    )));
    // Certificate link, size and SHA-256.
    assert!(page.contains(&format!("href=\"../certificates/{id}.cert\"")));
    assert!(page.contains(&hex::encode(Sha256::digest(&cert.body))));
    // Endorsements and objections in the same markup, with reasons.
    for (heading, n) in [("Endorsements", 3), ("Objections", 1), ("Abstentions", 1), ("Not responded", 0)] {
        assert!(page.contains(&format!("{heading} ({n})</h3>")), "{heading}");
    }
    let group = |id: &str| {
        let start = page.find(&format!("<h3 id=\"{id}\">")).unwrap();
        let s = &page[start..];
        s[..s.find("</section>").unwrap()].to_string()
    };
    let (endorse, object) = (group("endorsements"), group("objections"));
    let shape = |s: &str| s.matches('<').count() - s.matches("<p class=\"comment\" dir=\"auto\">").count() * 2;
    assert!(object.contains("We object: &lt;img"));
    assert!(endorse.contains("Agreed."));
    assert!(endorse.starts_with("<h3 id=\"endorsements\">") && object.starts_with("<h3 id=\"objections\">"));
    assert!(shape(&endorse) > 0 && shape(&object) > 0);
    assert!(page.contains("<dt>Rule</dt><dd>The positions rule: adopted when more than 1/2 of the 5 members endorse, so 3 endorsements are required.</dd>"));
    // The equivocation and the late record on the revised text.
    let revised = String::from_utf8(site.get(&format!("proposals/{}.html", w.adopted[1])).unwrap().body).unwrap();
    assert!(revised.contains("equivocated"));
    assert!(revised.contains("Signed only after the closing date (not counted) (1)"));
    assert!(revised.contains("Also signed <strong>object</strong>"));
    assert!(revised.contains("a proposal this site does not publish"));
    // The admission: membership rule, the action, an objection.
    let admission = String::from_utf8(site.get(&format!("proposals/{}.html", w.adopted[2])).unwrap().body).unwrap();
    assert!(admission.contains("The membership rule: adopted when more than 2/3 of the 5 members endorse, so 4"));
    assert!(admission.contains("Admits <strong>New &lt;script&gt;"));
    assert!(admission.contains("Objections (1)"));
    // Under the new roster: six members, one stance by a delegate.
    let later = String::from_utf8(site.get(&format!("proposals/{}.html", w.adopted[3])).unwrap().body).unwrap();
    assert!(later.contains("of the 6 members endorse, so 4 endorsements"));
    assert!(later.contains("Endorsements (4)"));
    assert!(later.contains("Not responded (1)"));
}

#[test]
fn verify_page_has_the_file_input_drop_zone_and_scripts() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    let cfg = config(Publish::Positions, None);
    let site = Site::new(&ledger, &source, &cfg);
    let page = String::from_utf8(site.get("verify.html").unwrap().body).unwrap();
    let c = w.coalition.id();
    assert!(page.contains(&format!(
        "<section id=\"verification\" data-coalition=\"{c}\"><h2>Verification</h2><p id=\"verdict\" class=\"verdict pending\">"
    )));
    assert!(page.contains("<input type=\"file\" id=\"certificate-file\" accept=\".cert\">"));
    assert!(page.contains("<label for=\"certificate-file\">"));
    assert!(page.contains("<div id=\"drop-zone\">"));
    let wasm = chorus_web::wasm_script_name();
    assert!(page.ends_with(&format!(
        "<script src=\"assets/{wasm}\"></script><script src=\"assets/verify.js\"></script></body></html>"
    )));
}

/// Resolves `href` from the page at `from` to a site path, or `None` for a
/// link that leaves the site or stays on the page.
fn resolve(from: &str, href: &str) -> Option<String> {
    if href.starts_with('#')
        || href.starts_with("https://")
        || href.starts_with("http://")
        || href.starts_with("mailto:")
    {
        return None;
    }
    assert!(!href.contains(':') && !href.starts_with('/'), "{from}: not relative: {href}");
    let href = href.split('#').next().unwrap();
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in href.split('/') {
        match seg {
            ".." => assert!(parts.pop().is_some(), "{from}: {href} leaves the site"),
            "." | "" => {}
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Every link target of a text asset: HTML `href`, `src` and the
/// verification block's data attributes, Atom `href`, JSON Feed urls.
fn links(path: &str, body: &str) -> Vec<String> {
    let mut out = vec![];
    let attrs = ["href=\"", "src=\"", "data-certificate=\"", "data-certificate-script=\""];
    for a in attrs {
        for (i, _) in body.match_indices(a) {
            // `href="` inside `data-...` is not a separate attribute here.
            if a == "href=\"" && body[..i].ends_with('-') {
                continue;
            }
            let v = &body[i + a.len()..];
            out.push(unescape(&v[..v.find('"').unwrap()]));
        }
    }
    if path.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        for item in v["items"].as_array().unwrap() {
            out.push(item["url"].as_str().unwrap().to_string());
            for a in item["attachments"].as_array().into_iter().flatten() {
                out.push(a["url"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[test]
fn every_relative_link_resolves_to_a_path_of_the_site() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    for publish in [Publish::Positions, Publish::Everything] {
        let cfg = config(publish, None);
        let site = Site::new(&ledger, &source, &cfg);
        let all = render_all(&site);
        let paths: BTreeSet<&String> = all.keys().collect();
        let mut checked = 0;
        for (path, asset) in &all {
            if !(path.ends_with(".html") || path.ends_with(".atom") || path.ends_with(".json")) {
                continue;
            }
            assert!(path.matches('/').count() <= 1, "{path} is more than one directory deep");
            for link in links(path, text(asset)) {
                if let Some(target) = resolve(path, &link) {
                    assert!(paths.contains(&target), "{path} links {link}, which the site lacks");
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "{checked}");
    }
}

#[test]
fn positions_only_never_names_a_proposal_that_is_not_adopted() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    for base in [None, Some("https://voice.example.org")] {
        let cfg = config(Publish::Positions, base);
        let site = Site::new(&ledger, &source, &cfg);
        let all = render_all(&site);
        for id in &w.unadopted {
            assert!(!ledger.is_adopted(id));
            for (path, asset) in &all {
                assert!(!path.contains(&id.to_hex()), "{path}");
                let body = String::from_utf8_lossy(&asset.body);
                assert!(!body.contains(&id.to_hex()), "{path} names {id}");
                assert!(!body.contains(SECRET), "{path} shows a title or comment of a proposal not adopted");
            }
            for p in [
                format!("proposals/{id}.html"),
                format!("certificates/{id}.cert"),
                format!("certificates/{id}.cert.js"),
            ] {
                assert!(site.get(&p).is_none(), "{p}");
            }
        }
        assert!(site.get("feeds/proposals.atom").is_none() && site.get("feeds/proposals.json").is_none());
        for id in &w.adopted {
            assert!(all.contains_key(&format!("proposals/{id}.html")));
            assert!(all.contains_key(&format!("certificates/{id}.cert")));
        }
        let certs = all.keys().filter(|p| p.ends_with(".cert")).count();
        assert_eq!(certs, w.adopted.len());
    }
    // Under Everything they are all there, without a clock-based status.
    let cfg = config(Publish::Everything, None);
    let site = Site::new(&ledger, &source, &cfg);
    let index = String::from_utf8(site.get("index.html").unwrap().body).unwrap();
    for id in &w.unadopted {
        assert!(index.contains(&format!("proposals/{id}.html")));
        assert!(site.get(&format!("proposals/{id}.html")).is_some());
        assert!(site.get(&format!("certificates/{id}.cert")).is_none());
    }
    assert!(index.contains("Not adopted; stances signed by <time datetime=\"2026-01-01T06:00:00Z\">"));
    assert!(index.contains("Not adopted; no closing date"));
    assert!(index.contains("Not counted: its author "), "the void proposal");
    let void = w.unadopted.last().unwrap();
    let page = String::from_utf8(site.get(&format!("proposals/{void}.html")).unwrap().body).unwrap();
    assert!(page.contains("is not a member under that version") && !page.contains("id=\"tally\""));
    for word in [">Open<", ">Closed<", " open<", " closed<"] {
        assert!(!index.contains(word), "{word}");
    }
}

#[test]
fn certificates_verify_and_match_their_pages() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    let cfg = config(Publish::Positions, None);
    let site = Site::new(&ledger, &source, &cfg);
    for id in &w.adopted {
        let cert = site.get(&format!("certificates/{id}.cert")).unwrap();
        assert_eq!(cert.content_type, "application/octet-stream");
        let proof = certificate::verify(&cert.body, Some(w.coalition.id())).expect("certificate verifies");
        assert_eq!(proof.proposal_id, *id);
        let script = site.get(&format!("certificates/{id}.cert.js")).unwrap();
        assert_eq!(script.content_type, "application/javascript");
        let js = String::from_utf8(script.body).unwrap();
        let prefix = format!(
            "window.chorusCertificates = window.chorusCertificates || {{}}; window.chorusCertificates[\"{id}\"] = \""
        );
        let b64 = js.strip_prefix(&prefix).and_then(|s| s.strip_suffix("\";\n")).expect("script shape");
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), cert.body);
    }
    // The admission is proven as an admission; the later position carries
    // its chain (the admission and the delegation).
    let admission = site.get(&format!("certificates/{}.cert", w.adopted[2])).unwrap();
    let proof = certificate::verify(&admission.body, None).unwrap();
    assert_eq!(proof.decision, Decision::Admission);
    let later = site.get(&format!("certificates/{}.cert", w.adopted[3])).unwrap();
    let proof = certificate::verify(&later.body, None).unwrap();
    assert_eq!((proof.members, proof.required, proof.endorsers.len()), (6, 4, 4));
    // A source that lacks an object: no certificate, and the page says so.
    let mut partial = w.source();
    let chosen = ledger.certificate_endorsements(&w.hostile).unwrap();
    partial.remove(&chosen[0]);
    let site = Site::new(&ledger, &partial, &cfg);
    assert!(site.get(&format!("certificates/{}.cert", w.hostile)).is_none());
    let page = String::from_utf8(site.get(&format!("proposals/{}.html", w.hostile)).unwrap().body).unwrap();
    assert!(page.contains("The certificate is not available here"));
    assert!(!page.contains("<script") && !page.contains("id=\"verification\""));
}

/// What the feed tests read from an Atom document.
#[derive(Default)]
struct Atom {
    ids: Vec<String>,
    titles: Vec<String>,
    enclosures: Vec<String>,
}

/// Parses an Atom document with quick-xml (well-formedness: every element
/// closed by its own name, attributes well formed, entities known), and
/// collects entry ids, entry titles and enclosure links.
fn parse_atom(xml: &str) -> Atom {
    use quick_xml::events::Event;
    use quick_xml::XmlVersion::Explicit1_0 as V;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Atom::default();
    // Open elements, each with the text gathered in it.
    let mut open: Vec<(String, String)> = vec![];
    let mut roots = 0;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well formed: {e}")) {
            Event::Start(e) => {
                if open.is_empty() {
                    roots += 1;
                }
                open.push((e.name().as_ref().to_string(), String::new()));
            }
            Event::End(e) => {
                let (name, text) = open.pop().expect("an end tag closes an open element");
                assert_eq!(name, e.name().as_ref());
                let parent = open.last().map(|(n, _)| n.as_str());
                match (parent, name.as_str()) {
                    (Some("entry"), "id") => out.ids.push(text),
                    (Some("entry"), "title") => out.titles.push(text),
                    _ => {}
                }
            }
            Event::Empty(e) => {
                let mut attrs = BTreeMap::new();
                for a in e.attributes() {
                    let a = a.expect("well-formed attribute");
                    attrs
                        .insert(a.key.as_ref().to_string(), a.normalized_value(V).expect("known entities").to_string());
                }
                if e.name().as_ref() == "link" && attrs.get("rel").map(String::as_str) == Some("enclosure") {
                    assert_eq!(attrs["type"], "application/octet-stream");
                    out.enclosures.push(attrs["href"].clone());
                }
            }
            Event::Text(t) => match open.last_mut() {
                Some((_, text)) => text.push_str(&t.xml_content(V)),
                None => assert!(t.trim().is_empty(), "text outside the root"),
            },
            Event::GeneralRef(r) => {
                let c = match r.xml_content(V).as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    other => r.resolve_char_ref().ok().flatten().unwrap_or_else(|| panic!("unknown entity {other}")),
                };
                open.last_mut().expect("no reference outside the root").1.push(c);
            }
            Event::Eof => break,
            Event::Decl(_) => assert_eq!(roots, 0),
            Event::CData(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => panic!("unexpected markup"),
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    assert_eq!(roots, 1, "one root element");
    out
}

#[test]
fn feeds_parse_and_say_what_they_must() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    for base in [None, Some("https://voice.example.org/sub")] {
        let cfg = config(Publish::Everything, base);
        let site = Site::new(&ledger, &source, &cfg);
        for (name, entries) in [("positions", w.adopted.len()), ("proposals", w.adopted.len() + w.unadopted.len())] {
            let atom = site.get(&format!("feeds/{name}.atom")).unwrap();
            assert_eq!(atom.content_type, "application/atom+xml");
            let xml = String::from_utf8(atom.body).unwrap();
            let feed = parse_atom(&xml);
            let (ids, titles) = (feed.ids, feed.titles);
            for href in &feed.enclosures {
                assert!(href.ends_with(".cert"));
                match base {
                    Some(_) => assert!(href.starts_with("https://voice.example.org/sub/certificates/")),
                    None => assert!(href.starts_with("../certificates/")),
                }
            }
            let enclosures = feed.enclosures.len();
            assert_eq!(ids.len(), entries, "{name}");
            assert_eq!(enclosures, w.adopted.len(), "{name}");
            assert!(ids.iter().all(|i| i.starts_with("urn:chorus:") && i.len() == 11 + 64));
            assert!(titles.iter().any(|t| t == HOSTILE_TITLE), "{titles:?}");
            assert!(xml.contains("1 object, 1 abstain of 5 members (3 required). 1 objection, 1 abstention."));
            // The feed's updated is its newest entry's published.
            let updated = xml.split("<updated>").nth(1).unwrap().split('<').next().unwrap();
            let first = xml.split("<published>").nth(1).unwrap().split('<').next().unwrap();
            assert_eq!(updated, first);

            let json = site.get(&format!("feeds/{name}.json")).unwrap();
            assert_eq!(json.content_type, "application/feed+json");
            let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
            assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
            let items = v["items"].as_array().unwrap();
            assert_eq!(items.len(), entries);
            assert_eq!(items[0]["date_published"].as_str().unwrap(), updated);
            let with_cert = items.iter().filter(|i| i["attachments"].is_array()).count();
            assert_eq!(with_cert, w.adopted.len());
            assert_eq!(base.is_some(), v.get("home_page_url").is_some());
            for item in items {
                let id = item["id"].as_str().unwrap();
                assert!(id.starts_with("urn:chorus:"));
                let summary = item["summary"].as_str().unwrap();
                match item["_chorus"].get("tally") {
                    Some(t) => assert!(summary.contains(&format!("{} objection", t["object"])), "{summary}"),
                    None => assert!(summary.contains("Not counted"), "{summary}"),
                }
                assert_eq!(item["_chorus"]["proposal"].as_str().unwrap(), &id[11..]);
            }
        }
    }
}

#[test]
fn paths_and_get_agree_and_nothing_else_is_served() {
    let w = world();
    let ledger = w.ledger();
    let source = w.source();
    let cfg = config(Publish::Everything, None);
    let site = Site::new(&ledger, &source, &cfg);
    let paths = site.paths();
    let mut sorted = paths.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(paths, sorted);
    assert_eq!(site.get(""), site.get("index.html"));
    let id = w.hostile.to_hex();
    for bad in [
        "/index.html".to_string(),
        "index.htm".into(),
        "../index.html".into(),
        "proposals/".into(),
        format!("proposals/{}.html", id.to_uppercase()),
        format!("proposals/{id}.htm"),
        format!("proposals/{id}"),
        format!("proposals/../certificates/{id}.cert"),
        format!("certificates/{}.cert", "0".repeat(64)),
        format!("proposals/{}.html", "0".repeat(64)),
        "assets/".into(),
        "assets/other.js".into(),
        "assets/../index.html".into(),
        "feeds/other.atom".into(),
    ] {
        assert!(site.get(&bad).is_none(), "{bad}");
    }
    let wasm = site.get(&format!("assets/{}", chorus_web::wasm_script_name())).unwrap();
    assert!(wasm.immutable);
    assert_eq!(wasm.body, chorus_web::wasm_script().as_bytes());
    let js = site.get("assets/verify.js").unwrap();
    assert_eq!(js.body, chorus_verify_assets::VERIFY_JS.as_bytes());
    let css = String::from_utf8(site.get("assets/style.css").unwrap().body).unwrap();
    assert!(css.contains("@media print"));
    assert!(!css.contains("http://") && !css.contains("https://") && !css.contains("@import"));
}

/// Why certificates are not `immutable`: the bytes under one name grow
/// when a member endorses after adoption (a certificate carries every
/// endorsing member), so a copy cached for ever would disagree with the
/// page's SHA-256.
#[test]
fn a_certificate_changes_when_a_member_endorses_after_adoption() {
    let w = world();
    let mut source = w.source();
    let cfg = config(Publish::Positions, None);
    let mut ledger = w.ledger();
    let path = format!("certificates/{}.cert", w.hostile);
    let early = Site::new(&ledger, &source, &cfg).get(&path).unwrap();
    assert!(!early.immutable);
    // The member that abstained endorses a day later.
    let late = w.stance(4, w.hostile, chorus_core::Stance::Endorse, 24 * 3_600_000);
    ledger.apply(&ledger.validate(late.bytes(), NOW).unwrap());
    source.insert(late.id(), late);
    let site = Site::new(&ledger, &source, &cfg);
    let grown = site.get(&path).unwrap();
    assert_ne!(early.body, grown.body);
    let proof = |c: &[u8]| certificate::verify(c, Some(w.coalition.id())).unwrap().endorsers.len();
    assert_eq!((proof(&early.body), proof(&grown.body)), (3, 4));
    let page = String::from_utf8(site.get(&format!("proposals/{}.html", w.hostile)).unwrap().body).unwrap();
    assert!(page.contains(&hex::encode(Sha256::digest(&grown.body))));
}
