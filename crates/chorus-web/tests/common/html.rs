//! Checks of rendered pages shared by the tests: well formed the way maud
//! and the Markdown renderer write them, inert (no inline script, style or
//! handler, no third-party URL but followed links with `rel="nofollow
//! noopener"`), with only the tags and attributes the site uses.

use chorus_core::ObjectId;

/// A tag of a page: name, attributes, whether it closes.
#[derive(Debug)]
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub closing: bool,
}

/// The tags of a page, checked to be written the way maud and the Markdown
/// renderer write them: every attribute `name="value"`, no `<` in text.
pub fn tags(html: &str) -> Vec<Tag> {
    let body = html.strip_prefix("<!doctype html>\n").expect("starts with <!doctype html>");
    let mut out = vec![];
    let mut rest = body;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("tag closes");
        let raw = &rest[..end];
        rest = &rest[end + 1..];
        let closing = raw.starts_with('/');
        let raw = raw.trim_start_matches('/').trim_end_matches('/');
        let name: String = raw.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        assert!(!name.is_empty(), "not a tag: <{raw}>");
        let mut attrs = vec![];
        let mut s = &raw[name.len()..];
        loop {
            s = s.trim_start();
            if s.is_empty() {
                break;
            }
            let eq = s.find('=').unwrap_or_else(|| panic!("attribute without value in <{raw}>"));
            let attr = &s[..eq];
            assert!(attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "attribute name {attr:?}");
            let v = s[eq + 1..].strip_prefix('"').unwrap_or_else(|| panic!("unquoted attribute in <{raw}>"));
            let close = v.find('"').expect("closing quote");
            attrs.push((attr.to_string(), v[..close].to_string()));
            s = &v[close + 1..];
        }
        out.push(Tag { name, attrs, closing });
    }
    out
}

pub const ALLOWED_TAGS: &[&str] = &[
    "html",
    "head",
    "meta",
    "title",
    "link",
    "body",
    "a",
    "header",
    "nav",
    "ul",
    "ol",
    "li",
    "main",
    "footer",
    "p",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "span",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "br",
    "table",
    "caption",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "time",
    "section",
    "article",
    "dl",
    "dt",
    "dd",
    "div",
    "label",
    "input",
    "script",
    "details",
    "summary",
];
pub const ALLOWED_ATTRS: &[&str] = &[
    "lang",
    "charset",
    "name",
    "content",
    "rel",
    "href",
    "type",
    "title",
    "class",
    "id",
    "aria-current",
    "aria-label",
    "aria-labelledby",
    "role",
    "tabindex",
    "scope",
    "datetime",
    "download",
    "for",
    "accept",
    "src",
    "data-certificate",
    "data-certificate-script",
    "data-certificate-id",
    "data-coalition",
    "start",
    "style",
    "dir",
];

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Checks one page: structure, no inline script, style or handler, no
/// third-party URL except followed links with `rel="nofollow noopener"`.
pub fn check_page(path: &str, html: &str, coalition: &ObjectId, wasm: &str) {
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{path}");
    assert!(html.contains("<meta charset=\"utf-8\">"), "{path}");
    assert!(html.contains("<meta name=\"viewport\""), "{path}");
    for t in ["<title>", "<header", "<nav", "<main", "<footer"] {
        assert!(html.contains(t), "{path} lacks {t}");
    }
    let footer = &html[html.find("<footer").unwrap()..];
    assert!(footer.contains(&coalition.to_hex()), "{path}: footer names the coalition id");
    let up = if path.contains('/') { "../" } else { "" };
    let mut scripts = vec![];
    for tag in tags(html) {
        assert!(ALLOWED_TAGS.contains(&tag.name.as_str()), "{path}: tag {:?}", tag.name);
        for (name, value) in &tag.attrs {
            assert!(ALLOWED_ATTRS.contains(&name.as_str()), "{path}: attribute {name:?} on {}", tag.name);
            let value = unescape(value);
            match name.as_str() {
                "href" if value.contains(':') => {
                    assert!(
                        value.starts_with("https://") || value.starts_with("http://") || value.starts_with("mailto:")
                    );
                    let rel = tag.attrs.iter().find(|(n, _)| n == "rel").map(|(_, v)| v.as_str());
                    assert_eq!(rel, Some("nofollow noopener"), "{path}: external link without rel");
                }
                "src" => {
                    assert_eq!(tag.name, "script");
                    scripts.push(value);
                }
                _ => {}
            }
        }
        if tag.name == "link" {
            let href = tag.attrs.iter().find(|(n, _)| n == "href").map(|(_, v)| v.clone()).unwrap_or_default();
            assert!(!href.contains(':'), "{path}: head link to another site {href}");
        }
        if tag.name == "script" && !tag.closing {
            assert!(tag.attrs.iter().any(|(n, _)| n == "src"), "{path}: inline script");
        }
    }
    // Scripts have no content, and are exactly the verifier's two.
    for s in html.match_indices("<script").map(|(i, _)| &html[i..]) {
        let end = s.find('>').unwrap();
        assert!(s[end + 1..].starts_with("</script>"), "{path}: a script with content");
    }
    if !scripts.is_empty() {
        assert_eq!(scripts, [format!("{up}assets/{wasm}"), format!("{up}assets/verify.js")], "{path}");
        assert!(html.ends_with("</script></body></html>"), "{path}: scripts end the body");
    }
}
