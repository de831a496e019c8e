//! The website end to end, with a real node process: what the node serves
//! is byte for byte what `chorus publish` writes, publishing positions only
//! leaks nothing else, the server is read-only and bounded, and the feeds
//! parse with real feed parsers (Python's `feedparser` for Atom and
//! `fastfeedparser` for Atom and JSON Feed, when installed;
//! `CHORUS_REQUIRE_FEEDPARSER=1` makes their absence a failure, as in CI).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chorus_system_tests::{chorus, found, Nodes};

/// A raw HTTP/1.1 exchange on loopback: status, headers (lower-case names),
/// body.
fn http(addr: SocketAddr, request: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the website");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn get(addr: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    http(addr, &format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"))
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.remove(".chorus-site");
    out
}

fn publish(dir: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["publish", "--out", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    chorus(dir, &args).ok().json()
}

#[test]
fn the_node_serves_what_publish_writes_and_positions_only_leaks_nothing() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let (dirs, _) = found(root, &["Solo Learning Trust"]);
    let dir = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start_with(dir, &[], &[("CHORUS_HTTP_ADDR", "127.0.0.1:0")]);
    nodes.wait_up(dir);
    let status = chorus(dir, &["status", "--json"]).ok().json();
    let website = status["website"].as_str().expect("status names the website").to_string();
    let addr: SocketAddr = website.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();

    // One position (with a comment) and one open proposal (with an objection).
    let body = root.join("body.md");
    std::fs::write(&body, "We call for **fair funding**.\n\n- follows the pupil\n- three years ahead\n").unwrap();
    let adopted = chorus(dir, &["propose", "--title", "Fair funding", "--body-file", body.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    chorus(dir, &["endorse", &adopted[..12], "--yes", "--comment", "Agreed by the board"]).ok();
    std::fs::write(&body, "A draft still under discussion.\n").unwrap();
    let open = chorus(dir, &["propose", "--title", "Open question", "--body-file", body.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    chorus(dir, &["endorse", &open[..12], "--object", "--yes", "--comment", "Not yet"]).ok();
    nodes.eventually("the position on the website", || {
        let (s, _, b) = get(addr, "index.html");
        (s == 200 && String::from_utf8_lossy(&b).contains("Fair funding")).then_some(())
    });

    // The node on loopback publishes everything; `publish --everything`
    // writes the same bytes for every path, and only those paths.
    let everything = root.join("everything");
    let r = publish(dir, &everything, &["--everything"]);
    assert_eq!(r["everything"], true);
    let written = files(&everything);
    assert!(written.len() > 10, "{:?}", written.keys());
    for (path, bytes) in &written {
        let (s, _, served) = get(addr, path);
        assert_eq!(s, 200, "{path}");
        assert!(served == *bytes, "{path}: the node serves other bytes than publish writes");
    }
    assert!(written.keys().any(|p| p.contains(&open)), "everything includes the open proposal");
    // Publishing again on the same objects gives byte-identical files.
    let again = publish(dir, &everything, &["--everything"]);
    assert_eq!(again["removed"], 0);
    assert_eq!(files(&everything), written);

    // Positions only: the open proposal appears nowhere, not even by id.
    let positions = root.join("positions");
    let r = publish(dir, &positions, &["--base-url", "https://voice.example.org/"]);
    assert_eq!((r["everything"].as_bool(), r["positions"].as_u64()), (Some(false), Some(1)));
    let site = files(&positions);
    for (path, bytes) in &site {
        assert!(!path.contains(&open), "{path}");
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(&open) && !text.contains("Open question"), "{path} leaks the open proposal");
    }
    assert!(site.keys().any(|p| p.contains(&adopted)), "the position is published");
    // Re-exporting into the same directory with less removes what is gone.
    let r = publish(dir, &everything, &[]);
    assert!(r["removed"].as_u64().unwrap() > 0);
    assert!(!files(&everything).keys().any(|p| p.contains(&open)));
    // A directory publish did not write is never written into.
    let foreign = root.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let r = chorus(dir, &["publish", "--out", foreign.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not empty"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(foreign.join("notes.txt")).unwrap(), "mine");

    // Read-only and bounded, with the headers a published site needs.
    let (s, h, _) =
        http(addr, &format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"));
    assert_eq!((s, h.get("allow").map(String::as_str)), (405, Some("GET, HEAD")));
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        let (s, _, _) = http(addr, &format!("{method} /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        assert_eq!(s, 405, "{method}");
    }
    let (s, h, b) = http(addr, &format!("HEAD /index.html HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert_eq!((s, b.len()), (200, 0));
    assert!(h["content-length"].parse::<usize>().unwrap() > 0);
    let (s, h, _) = get(addr, "");
    assert_eq!(s, 200);
    assert!(h["content-type"].starts_with("text/html"));
    assert!(h["content-security-policy"].contains("script-src 'self' 'wasm-unsafe-eval'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-cache");
    let etag = h["etag"].clone();
    let (s, _, b) =
        http(addr, &format!("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n"));
    assert_eq!((s, b.len()), (304, 0));
    // The verifier module is named by its content hash: immutable. A
    // position's certificate keeps its address but grows when more members
    // endorse, so it is revalidated by its ETag like a page.
    let script = written.keys().find(|p| p.starts_with("assets/chorus-verify-")).expect("the verifier module");
    let (_, h, _) = get(addr, script);
    assert!(h["cache-control"].contains("immutable"), "{script}: {h:?}");
    let cert = written.keys().find(|p| p.ends_with(".cert")).unwrap();
    let (_, h, _) = get(addr, cert);
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(h["cache-control"] == "no-cache" && h.contains_key("etag"), "{cert}: {h:?}");
    let (s, _, _) = get(addr, "no/such/page.html");
    assert_eq!(s, 404);
    let huge = "x".repeat(64 * 1024);
    let (s, _, _) = http(addr, &format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\nConnection: close\r\n\r\n"));
    assert_eq!(s, 431, "an oversized request head is refused");

    check_feeds(&positions, &adopted);
}

/// The feeds of a positions-only export, read by a real feed parser.
fn check_feeds(site: &Path, position: &str) {
    // Atom through feedparser (the classic parser, which does not read JSON
    // Feed), JSON Feed through fastfeedparser; both feeds through the
    // latter as well, so each is read by two parsers or checked by hand.
    let script = r#"
import json, sys, feedparser, fastfeedparser
out = {}
def entries(items, enclosures):
    return [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link"), "date": e.get("published"),
             "attachments": enclosures(e)} for e in items]
for name in ("positions.atom", "positions.json"):
    path = sys.argv[1] + "/feeds/" + name
    text = open(path, encoding="utf-8").read()
    fast = fastfeedparser.parse(text)
    out["fast " + name] = entries(fast.entries, lambda e: [x["url"] for x in (e.get("enclosures") or [])]
                                  + [l["href"] for l in e.get("links", []) if l.get("rel") == "enclosure"])
    if name.endswith(".json"):
        f = json.loads(text)
        assert f["version"] == "https://jsonfeed.org/version/1.1", f["version"]
    else:
        d = feedparser.parse(path)
        assert not d.bozo, d.bozo_exception
        out[name] = entries(d.entries, lambda e: [l.href for l in e.links if l.get("rel") == "enclosure"])
print(json.dumps(out))
"#;
    let has_parser =
        Command::new("python3").args(["-c", "import feedparser, fastfeedparser"]).status().is_ok_and(|s| s.success());
    if !has_parser {
        let required = std::env::var("CHORUS_REQUIRE_FEEDPARSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "python3 with feedparser and fastfeedparser is required (pip install feedparser fastfeedparser)"
        );
        eprintln!("skipped the feed parser check: pip install feedparser fastfeedparser to run it");
        return;
    }
    let out = Command::new("python3").args(["-c", script]).arg(site).output().unwrap();
    assert!(out.status.success(), "feedparser: {}", String::from_utf8_lossy(&out.stderr));
    let feeds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in ["positions.atom", "fast positions.atom", "fast positions.json"] {
        let entries = feeds[name].as_array().unwrap();
        assert_eq!(entries.len(), 1, "{name}: one position");
        let e = &entries[0];
        assert!(e["id"].as_str().unwrap().contains(position), "{name}: the id is the object id: {e}");
        assert_eq!(e["title"], "Fair funding", "{name}");
        let link = e["link"].as_str().unwrap();
        assert!(link.starts_with("https://voice.example.org/") && link.contains(position), "{name}: {link}");
        assert!(e["date"].as_str().is_some_and(|d| d.starts_with("20")), "{name}: {e}");
        let attachments: Vec<&str> = e["attachments"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
        assert!(
            attachments.iter().any(|a| a.starts_with("https://voice.example.org/") && a.ends_with(".cert")),
            "{name}: the certificate is linked: {attachments:?}"
        );
    }
    let _: PathBuf = site.to_path_buf();
}
