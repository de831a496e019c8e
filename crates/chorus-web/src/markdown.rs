//! Proposal bodies: untrusted Markdown rendered to HTML that cannot run
//! anything or load anything.
//!
//! `pulldown-cmark` parses CommonMark with two extensions (tables,
//! strikethrough; no footnotes, task lists, math, heading attributes or
//! metadata blocks). Its event stream is then rewritten before its HTML
//! writer sees it:
//! - raw HTML (`Event::Html`, `Event::InlineHtml`) becomes text, so it is
//!   escaped and shown as written; an HTML block is shown as preformatted
//!   text;
//! - a link is kept only when its destination starts with `http://`,
//!   `https://` or `mailto:` (ASCII case-insensitive); it is written by this
//!   module, escaped, with `rel="nofollow noopener"` (and no `target`).
//!   Any other link (`javascript:`, `data:`, relative, fragment, ...) keeps
//!   only its text;
//! - an image is never loaded: it becomes a link to its source (same rule)
//!   reading "Image: " and its alt text, or the alt text alone;
//! - headings move two levels down (`#` is `h3`), so a body never competes
//!   with the page's own `h1` and `h2`;
//! - table columns lose their alignment, which would be a `style`
//!   attribute (refused by the site's CSP).
//!
//! The only attributes written from the body are therefore `href` and
//! `title` of those links (escaped here) and the `class="language-…"` of a
//! fenced code block (escaped by pulldown-cmark); all text goes through
//! pulldown-cmark's escaping.

use pulldown_cmark::{Alignment, CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Escapes text for an HTML body or a double- or single-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// True when a link destination may be followed: `http://`, `https://` or
/// `mailto:`, ASCII case-insensitive, with nothing before the scheme.
pub fn allowed_link(dest: &str) -> bool {
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| dest.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme)))
}

fn anchor(dest: &str, title: &str, class: Option<&str>) -> String {
    let mut a = format!("<a href=\"{}\" rel=\"nofollow noopener\"", escape(dest));
    if !title.is_empty() {
        a.push_str(&format!(" title=\"{}\"", escape(title)));
    }
    if let Some(class) = class {
        a.push_str(&format!(" class=\"{class}\""));
    }
    a.push('>');
    a
}

fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// Renders untrusted Markdown to safe HTML (see the module docs).
pub fn render(markdown: &str) -> String {
    let events: Vec<Event> =
        Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).collect();
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    // For every open link or image: whether it was written as an anchor.
    let mut open: Vec<bool> = Vec::new();
    let mut anchors = 0usize;
    for (i, event) in events.iter().enumerate() {
        match event {
            Event::Html(s) | Event::InlineHtml(s) => out.push(Event::Text(s.clone())),
            Event::Start(Tag::HtmlBlock) => out.push(Event::Start(Tag::CodeBlock(CodeBlockKind::Indented))),
            Event::End(TagEnd::HtmlBlock) => out.push(Event::End(TagEnd::CodeBlock)),
            Event::Start(Tag::Heading { level, .. }) => {
                out.push(Event::Start(Tag::Heading { level: lower(*level), id: None, classes: vec![], attrs: vec![] }))
            }
            Event::End(TagEnd::Heading(level)) => out.push(Event::End(TagEnd::Heading(lower(*level)))),
            // Column alignment would be written as a style attribute, which
            // the site's CSP refuses: columns keep the default alignment.
            Event::Start(Tag::Table(columns)) => {
                out.push(Event::Start(Tag::Table(vec![Alignment::None; columns.len()])))
            }
            Event::Start(Tag::Link { dest_url, title, .. }) => {
                // No anchor inside an anchor (an image inside a link).
                let write = anchors == 0 && allowed_link(dest_url);
                if write {
                    out.push(Event::Html(anchor(dest_url, title, None).into()));
                    anchors += 1;
                }
                open.push(write);
            }
            Event::Start(Tag::Image { dest_url, title, .. }) => {
                let write = anchors == 0 && allowed_link(dest_url);
                if write {
                    out.push(Event::Html(anchor(dest_url, title, Some("image")).into()));
                    anchors += 1;
                    let alt = !matches!(events.get(i + 1), Some(Event::End(TagEnd::Image)));
                    out.push(Event::Text(CowStr::Borrowed(if alt { "Image: " } else { "Image" })));
                }
                open.push(write);
            }
            Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => {
                if open.pop() == Some(true) {
                    out.push(Event::Html(CowStr::Borrowed("</a>")));
                    anchors -= 1;
                }
            }
            // Not produced with the options above; shown as text if ever.
            Event::FootnoteReference(s) => out.push(Event::Text(format!("[^{s}]").into())),
            Event::InlineMath(s) | Event::DisplayMath(s) => out.push(Event::Text(s.clone())),
            Event::TaskListMarker(done) => out.push(Event::Text(if *done { "[x] " } else { "[ ] " }.into())),
            Event::Start(
                Tag::FootnoteDefinition(_)
                | Tag::MetadataBlock(_)
                | Tag::DefinitionList
                | Tag::DefinitionListTitle
                | Tag::DefinitionListDefinition
                | Tag::Superscript
                | Tag::Subscript,
            )
            | Event::End(
                TagEnd::FootnoteDefinition
                | TagEnd::MetadataBlock(_)
                | TagEnd::DefinitionList
                | TagEnd::DefinitionListTitle
                | TagEnd::DefinitionListDefinition
                | TagEnd::Superscript
                | TagEnd::Subscript,
            ) => {}
            other => out.push(other.clone()),
        }
    }
    let mut html = String::with_capacity(markdown.len() * 5 / 4 + 16);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tag the renderer may write, and every attribute.
    const TAGS: &[&str] = &[
        "p",
        "h3",
        "h4",
        "h5",
        "h6",
        "em",
        "strong",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "hr",
        "br",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    ];

    /// Checks rendered HTML tag by tag: known tags only, attributes only
    /// href (allowed scheme), rel, title, class and start; text holds no
    /// `<`.
    pub(crate) fn assert_inert(html: &str) {
        let mut rest = html;
        while let Some(i) = rest.find('<') {
            rest = &rest[i + 1..];
            let end = rest.find('>').unwrap_or_else(|| panic!("unclosed tag in {html}"));
            let tag = &rest[..end];
            rest = &rest[end + 1..];
            let tag = tag.trim_start_matches('/').trim_end_matches('/');
            let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(TAGS.contains(&name.as_str()), "tag {name:?} in {html}");
            for (attr, value) in attributes(&tag[name.len()..]) {
                match attr.as_str() {
                    "href" => assert!(allowed_link(&unescape(&value)), "href {value:?} in {html}"),
                    "rel" => assert_eq!(value, "nofollow noopener"),
                    "title" | "start" => {}
                    "class" => assert!(value == "image" || value.starts_with("language-"), "class {value:?}"),
                    _ => panic!("attribute {attr:?} in {html}"),
                }
            }
        }
    }

    fn unescape(s: &str) -> String {
        s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    }

    /// Attributes of a tag written by a well-behaved writer: `name="value"`
    /// pairs separated by spaces; a value never holds a raw `"`.
    fn attributes(mut s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return out;
            }
            let eq = s.find('=').unwrap_or_else(|| panic!("attribute without value: {s:?}"));
            let name = s[..eq].to_string();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "attribute name {name:?}");
            let after = &s[eq + 1..];
            assert!(after.starts_with('"'), "unquoted attribute {name}: {after:?}");
            let close = after[1..].find('"').expect("closing quote");
            out.push((name, after[1..1 + close].to_string()));
            s = &after[close + 2..];
        }
    }

    const HOSTILE: &[&str] = &[
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "\"><svg onload=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](jav&#x61;script:alert(1))",
        "[click]( javascript:alert(1))",
        "[click](<javascript:alert(1)>)",
        "<javascript:alert(1)>",
        "<JAVASCRIPT:alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox)",
        "[x](https://example.org \"a\\\" onmouseover=\\\"alert(1)\")",
        "[x](https://example.org 'it''s \"quoted\" <b>')",
        "[x](https://example.org\" onclick=\"alert(1))",
        "[x](<https://example.org/\"onclick=alert(1)//>)",
        "![alt\" onerror=\"alert(1)](https://example.org/x.png)",
        "![](javascript:alert(1))",
        "[![alt](https://example.org/i.png)](https://example.org)",
        "<div onclick=\"alert(1)\">\n*hi*\n</div>",
        "<!-- comment --><style>body{display:none}</style>",
        "```\"><script>alert(1)</script>\ncode\n```",
        "```js\" onload=\"x\n</code></pre><script>alert(1)</script>\n```",
        "| a | b |\n|---|:-:|\n| <script> | [x](javascript:y) |",
        "# <img src=x onerror=alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[ref]\n\n[ref]: javascript:alert(1) \"t\"",
        "&lt;script&gt; &#60;script&#62; \\<script>",
        "<svg><script>alert(1)</script></svg>",
        "line<br>break <iframe src=https://evil.example></iframe>",
    ];

    #[test]
    fn hostile_markdown_is_inert() {
        for h in HOSTILE {
            let html = render(h);
            assert_inert(&html);
            let lower = html.to_ascii_lowercase();
            assert!(!lower.contains("<script"), "{h:?} gave {html}");
            assert!(!lower.contains("<img"), "{h:?} gave {html}");
            assert!(!lower.contains("<svg"), "{h:?} gave {html}");
            assert!(!lower.contains("<iframe"), "{h:?} gave {html}");
        }
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        assert_eq!(
            render("<script>alert(1)</script>"),
            "<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre>\n"
        );
        assert_eq!(render("a <b onclick=x>b</b>"), "<p>a &lt;b onclick=x&gt;b&lt;/b&gt;</p>\n");
    }

    #[test]
    fn links_keep_only_allowed_schemes() {
        assert_eq!(
            render("[gov](https://www.gov.uk/x?a=1&b=2 \"The \\\"guidance\\\"\")"),
            "<p><a href=\"https://www.gov.uk/x?a=1&amp;b=2\" rel=\"nofollow noopener\" \
             title=\"The &quot;guidance&quot;\">gov</a></p>\n"
        );
        assert_eq!(
            render("<MAILTO:clerk@example.org>"),
            "<p><a href=\"MAILTO:clerk@example.org\" rel=\"nofollow noopener\">MAILTO:clerk@example.org</a></p>\n"
        );
        assert_eq!(render("[x](javascript:alert(1))"), "<p>x</p>\n");
        assert_eq!(render("<javascript:alert(1)>"), "<p>javascript:alert(1)</p>\n");
        assert_eq!(render("[rel](other.html) [frag](#top)"), "<p>rel frag</p>\n");
        for ok in ["http://a", "HTTPS://a", "mailto:a@b"] {
            assert!(allowed_link(ok));
        }
        for bad in ["javascript:x", " https://a", "http:a", "//evil", "data:x", "", "ftp://a", "https:/a"] {
            assert!(!allowed_link(bad), "{bad}");
        }
    }

    #[test]
    fn images_are_not_loaded() {
        assert_eq!(
            render("![a chart](https://example.org/c.png)"),
            "<p><a href=\"https://example.org/c.png\" rel=\"nofollow noopener\" class=\"image\">Image: a chart</a></p>\n"
        );
        assert_eq!(render("![a chart](c.png)"), "<p>a chart</p>\n");
        assert_eq!(
            render("![](https://example.org/c.png)"),
            "<p><a href=\"https://example.org/c.png\" rel=\"nofollow noopener\" class=\"image\">Image</a></p>\n"
        );
        // An image inside a link: one anchor, the alt text inside it.
        assert_eq!(
            render("[![logo](https://example.org/l.png)](https://example.org)"),
            "<p><a href=\"https://example.org\" rel=\"nofollow noopener\">logo</a></p>\n"
        );
    }

    #[test]
    fn headings_move_down_and_markdown_still_works() {
        assert_eq!(render("# A\n## B\n#### D"), "<h3>A</h3>\n<h4>B</h4>\n<h6>D</h6>\n");
        let html = render("*a* **b** ~~c~~ `d`\n\n- e\n- f\n\n| x | z |\n|:-:|--:|\n| y | w |\n");
        assert!(html.contains("<em>a</em> <strong>b</strong> <del>c</del> <code>d</code>"), "{html}");
        assert!(html.contains("<ul>\n<li>e</li>"), "{html}");
        assert!(html.contains("<th>x</th>"), "{html}");
        assert_inert(&html);
    }

    #[test]
    fn escape_covers_attribute_and_body() {
        assert_eq!(
            escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }
}
