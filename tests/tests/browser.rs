//! The coalition's website in real headless Chromium (issue 11), against a
//! site served by a running node and against a static export opened from
//! disk (`file://`):
//!
//! 1. a position's page says `Verified in your browser` for its certificate;
//! 2. a certificate with one byte changed gives `Verification failed in your
//!    browser: ` followed by exactly the reason `chorus verify` prints after
//!    `INVALID: `: chosen in `verify.html`'s file input (after the real one,
//!    which verifies), on both sites, and in the export also as its rewritten
//!    `certificates/<id>.cert` and `<id>.cert.js` under the position's page;
//! 3. a proposal whose title, body and comments carry `<script>`,
//!    `<img onerror>`, `javascript:` links and raw HTML shows them as text
//!    and runs none of them: no dialog, `window.__pwned` undefined, the title
//!    unchanged, no `on*` attribute, no `javascript:` URL, no script but the
//!    site's own;
//!
//! and no page raises a JavaScript error, opens a dialog, fails to load one
//! of its files, or has the site's own scripts blocked by its
//! Content-Security-Policy. Other console warnings and errors (a CSP report
//! about markup, say) are printed with the test's summary line, not failed.
//!
//! The coalition is a real `chorus devnet --nodes 3 --dir DIR` (node-0
//! serves the site, everything published); the hostile proposal is made and
//! endorsed with the real CLI against its nodes, and `chorus publish` writes
//! the export.
//!
//! Chromium is driven over the DevTools protocol on a pipe, by the client in
//! `chorus_system_tests::devtools` (shared with chorus-cli's
//! `benches/browser_verify.rs`): no
//! chromedriver, no WebDriver client, no debugging port, only Chromium
//! itself. The protocol reports exactly what the test asserts on: uncaught
//! exceptions with their script, dialogs as they open (dismissed at once),
//! and console entries with their source (network, security, javascript).
//!
//! Chromium is `$CHORUS_CHROMIUM`, else `chromium` or `chromium-browser` on
//! the PATH (Debian: `apt-get install chromium`). Without it, or when the
//! in-browser verifier is not built (`chorus_verify_assets::WASM_BUILT`),
//! the test prints `skipped: ...` and passes, unless
//! `CHORUS_REQUIRE_BROWSER=1` (CI), when it fails. Every wait is bounded;
//! the devnet is stopped (SIGTERM, then SIGKILL) and Chromium (its whole
//! process group) killed on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use chorus_system_tests::devtools::{file_url, find_chromium, Chromium, Tab, Verdict, INVALID, UNAVAILABLE, VALID};
use chorus_system_tests::process::log_file;
use chorus_system_tests::{chorus, cmd, Process};
use serde_json::Value;

/// Longest wait for the devnet to found its coalition and serve the site.
const DEVNET_TIMEOUT: Duration = Duration::from_secs(60);

// The hostile proposal. Each payload, if it ran, would set `window.__pwned`,
// change the title, open a dialog or add a handler or a `javascript:` URL.
const HOSTILE_TITLE: &str = "</title><script>document.title='PWNED';window.__pwned=1;alert(1)</script>";
const HOSTILE_BODY: &str = "\
Inline raw HTML: <img src=x onerror=\"window.__pwned=1;alert('img')\"> and <b onmouseover=\"window.__pwned=1\">bold</b>.

<script>window.__pwned=1;document.title='PWNED';alert('body')</script>

<iframe src=\"javascript:window.top.__pwned=1\"></iframe>

A Markdown link: [click me](javascript:window.__pwned=1), an autolink <javascript:alert(1)> and [data](data:text/html,hi).

A raw link: <a href=\"javascript:alert(2)\">raw link</a>

<svg onload=\"window.__pwned=1\"><circle r=\"1\"/></svg>
";
const HOSTILE_OBJECTION: &str =
    "<a href=\"javascript:window.__pwned=1\">objection link</a> javascript:alert(3) <b onclick=alert(4)>";
const HOSTILE_ENDORSEMENT_1: &str = "<img src=x onerror=alert('comment')> <script>window.__pwned=1</script>";
const HOSTILE_ENDORSEMENT_0: &str = "\"><svg onload=window.__pwned=1> '-alert(5)-' </p><script>alert(6)</script>";

/// Text that must be visible, as written, on the hostile proposal's page.
const HOSTILE_TEXTS: &[&str] = &[
    HOSTILE_TITLE,
    "<img src=x onerror=\"window.__pwned=1;alert('img')\">",
    "<b onmouseover=\"window.__pwned=1\">bold</b>",
    "<script>window.__pwned=1;document.title='PWNED';alert('body')</script>",
    "<iframe src=\"javascript:window.top.__pwned=1\"></iframe>",
    "click me",
    "javascript:alert(1)",
    "<a href=\"javascript:alert(2)\">raw link</a>",
    "<svg onload=\"window.__pwned=1\"><circle r=\"1\"/></svg>",
    HOSTILE_OBJECTION,
    HOSTILE_ENDORSEMENT_1,
    HOSTILE_ENDORSEMENT_0,
];

#[test]
fn the_website_verifies_certificates_and_runs_no_untrusted_script_in_chromium() {
    let started = Instant::now();
    if !chorus_verify_assets::WASM_BUILT {
        return skip_or_fail(
            "the in-browser verifier is not built (chorus_verify_assets::WASM_BUILT is false; \
             it needs the wasm32-unknown-unknown target)",
        );
    }
    let Some(chromium) = find_chromium() else {
        return skip_or_fail(
            "Chromium not found ($CHORUS_CHROMIUM, or chromium / chromium-browser on the PATH; \
             Debian: apt-get install chromium)",
        );
    };

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let nowhere = root.join("no-node");

    // A real coalition: three nodes, node-0 serving its website.
    let (mut devnet, website) = start_devnet(root);
    let nodes: Vec<PathBuf> = (0..3).map(|i| root.join("net").join(format!("node-{i}"))).collect();
    let coalition = chorus(&nodes[0], &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    let positions = chorus(&nodes[0], &["positions", "--json"]).ok().json();
    let position = positions[0]["id"].as_str().expect("the devnet adopted a position").to_string();

    // The hostile proposal, through the CLI: proposed on node-0, an objection
    // from node-2 and endorsements from node-1 and node-0, each commented.
    let body = root.join("hostile.md");
    std::fs::write(&body, HOSTILE_BODY).unwrap();
    let hostile = chorus(&nodes[0], &["propose", "--title", HOSTILE_TITLE, "--body-file", body.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(hostile.len(), 64, "propose prints the id: {hostile}");
    for (node, stance, comment) in
        [(2, "--object", HOSTILE_OBJECTION), (1, "", HOSTILE_ENDORSEMENT_1), (0, "", HOSTILE_ENDORSEMENT_0)]
    {
        devnet.eventually(&format!("the hostile proposal reaching node-{node}"), || {
            (chorus(&nodes[node], &["show", &hostile, "--json"]).code == 0).then_some(())
        });
        let mut args = vec!["endorse", hostile.as_str(), "--yes", "--comment", comment];
        if !stance.is_empty() {
            args.push(stance);
        }
        chorus(&nodes[node], &args).ok();
    }
    devnet.eventually("node-0 holding the hostile proposal adopted, with its three stances", || {
        let r = chorus(&nodes[0], &["show", &hostile, "--json"]);
        let j = (r.code == 0).then(|| r.json())?;
        (j["status"] == "adopted" && j["stances"].as_array()?.len() == 3).then_some(())
    });

    // The static export, twice: one kept, one to tamper with.
    let site = root.join("site");
    let tampered_site = root.join("site-tampered");
    for out in [&site, &tampered_site] {
        chorus(&nodes[0], &["publish", "--out", out.to_str().unwrap(), "--everything"]).ok();
    }

    // One byte of the position's certificate changed; the reason is the CLI's.
    let cert_path = site.join("certificates").join(format!("{position}.cert"));
    let original = std::fs::read(&cert_path).unwrap();
    let mut flipped = original.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let flipped_path = root.join("flipped.cert");
    std::fs::write(&flipped_path, &flipped).unwrap();
    let r = chorus(&nowhere, &["verify", flipped_path.to_str().unwrap(), "--coalition", &coalition]);
    assert_eq!(r.code, 1, "the changed certificate must be invalid: {} {}", r.stdout, r.stderr);
    let reason = r
        .stderr
        .trim()
        .strip_prefix("INVALID: ")
        .unwrap_or_else(|| panic!("chorus verify prints INVALID: <reason>: {:?}", r.stderr))
        .to_string();
    let expected_failure = format!("{INVALID}{reason}");
    rewrite_exported_certificate(&tampered_site, &position, &original, &flipped);

    let mut browser = Chromium::launch(&chromium, root).unwrap_or_else(|e| panic!("Chromium: {e}"));
    let mut failures: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut timings: Vec<String> = Vec::new();

    let sites = [("served", website.clone()), ("static", file_url(&site) + "/")];
    for (kind, base) in &sites {
        // 1. The position verifies.
        let page = format!("{base}proposals/{position}.html");
        let v = browser.visit(&page, &mut failures, &mut notes, |b, tab| b.verdict(tab, None));
        if let Some(v) = v {
            check_verdict(&mut failures, kind, "position page", &v, Expect::Valid);
            timings.push(format!("{kind} position {}", v.took()));
        }

        // 3. The hostile proposal: verified (its title goes through the
        //    verdict too), and inert.
        let page = format!("{base}proposals/{hostile}.html");
        let seen = browser.visit(&page, &mut failures, &mut notes, |b, tab| {
            let v = b.verdict(tab, None)?;
            Ok((v, inertness(b, tab)?))
        });
        if let Some((v, inert)) = seen {
            check_verdict(&mut failures, kind, "hostile proposal", &v, Expect::Valid);
            check_inert(&mut failures, kind, "hostile proposal", &inert, HOSTILE_TEXTS);
            if !inert.title.contains(HOSTILE_TITLE) {
                failures.push(format!("{kind} hostile proposal: the title is not shown as text: {:?}", inert.title));
            }
        }
        let page = format!("{base}index.html");
        if let Some(inert) = browser.visit(&page, &mut failures, &mut notes, inertness) {
            check_inert(&mut failures, kind, "index", &inert, &[HOSTILE_TITLE]);
        }

        // 2. verify.html: the real certificate, then the changed one, chosen
        //    with the file input.
        let page = format!("{base}verify.html");
        let seen = browser.visit(&page, &mut failures, &mut notes, |b, tab| {
            b.choose_file(tab, &cert_path)?;
            let good = b.verdict(tab, None)?;
            b.choose_file(tab, &flipped_path)?;
            let bad = b.verdict(tab, Some(&good.text))?;
            Ok((good, bad))
        });
        if let Some((good, bad)) = seen {
            check_verdict(&mut failures, kind, "verify.html, the real certificate", &good, Expect::Valid);
            check_verdict(
                &mut failures,
                kind,
                "verify.html, one byte changed",
                &bad,
                Expect::Invalid(&expected_failure),
            );
            timings.push(format!("{kind} verify.html {}", good.took()));
        }
    }

    // 2. The export whose certificate files were rewritten.
    let page = format!("{}/proposals/{position}.html", file_url(&tampered_site));
    if let Some(v) = browser.visit(&page, &mut failures, &mut notes, |b, tab| b.verdict(tab, None)) {
        check_verdict(
            &mut failures,
            "static",
            "position page, one byte changed",
            &v,
            Expect::Invalid(&expected_failure),
        );
    }
    browser.close();

    say(&format!(
        "browser test: {} in {:.1} s ({}){}",
        browser.version,
        started.elapsed().as_secs_f64(),
        timings.join(", "),
        if notes.is_empty() {
            String::new()
        } else {
            format!("; browser console (not failures): {}", notes.join(" | "))
        }
    ));
    assert!(
        failures.is_empty(),
        "{} failure(s) in Chromium:\n  {}\n(expected failure text: {expected_failure:?})",
        failures.len(),
        failures.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Skipping

fn required() -> bool {
    std::env::var("CHORUS_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Writes a line to the real standard error, past the test harness's
/// capture, so that a skip shows in `cargo test` output.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn skip_or_fail(reason: &str) {
    if required() {
        panic!("CHORUS_REQUIRE_BROWSER=1 but {reason}");
    }
    say(&format!("skipped: browser test: {reason} (CHORUS_REQUIRE_BROWSER=1 makes this a failure)"));
}

// ---------------------------------------------------------------------------
// The coalition

/// Starts `chorus devnet --nodes 3 --dir ROOT/net` and waits for the line
/// of its output that gives node-0's website; returns the process (stopped
/// on drop) and the site's URL.
fn start_devnet(root: &Path) -> (Process, String) {
    let log = root.join("devnet.log");
    let child = cmd(&root.join("no-node"))
        .args(["devnet", "--nodes", "3", "--dir"])
        .arg(root.join("net"))
        .stdout(Stdio::piped())
        .stderr(log_file(&log))
        .spawn()
        .expect("spawn chorus devnet");
    let mut devnet = Process::adopt("chorus devnet", child, &log);
    let stdout = devnet.child_mut().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + DEVNET_TIMEOUT;
    let mut seen = String::new();
    loop {
        let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(e) => {
                let why = if e == RecvTimeoutError::Timeout { "did not serve its website in time" } else { "exited" };
                panic!("chorus devnet {why}\nstdout:\n{seen}\nstderr:\n{}", devnet.log_tail());
            }
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("node-0's website") {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")) {
                return (devnet, url.to_string());
            }
        }
    }
}

/// Rewrites an export's `certificates/<id>.cert` and `<id>.cert.js` with
/// `changed` in place of `original` (base64 in the script).
fn rewrite_exported_certificate(site: &Path, id: &str, original: &[u8], changed: &[u8]) {
    let certs = site.join("certificates");
    let cert = certs.join(format!("{id}.cert"));
    assert_eq!(std::fs::read(&cert).unwrap(), original, "both exports carry the same certificate");
    std::fs::write(&cert, changed).unwrap();
    let script = certs.join(format!("{id}.cert.js"));
    let js = std::fs::read_to_string(&script).unwrap();
    let (old, new) = (base64(original), base64(changed));
    assert_eq!(js.matches(&old).count(), 1, "{} carries the certificate in base64 once: {js:.200}", script.display());
    std::fs::write(&script, js.replace(&old, &new)).unwrap();
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// What the pages show

enum Expect<'a> {
    Valid,
    Invalid(&'a str),
}

fn check_verdict(failures: &mut Vec<String>, kind: &str, what: &str, v: &Verdict, expect: Expect) {
    let has = |c: &str| v.classes.iter().any(|x| x == c);
    if v.text.starts_with(UNAVAILABLE) {
        failures.push(format!("{kind} {what}: the page could not run the verifier: {v:?}"));
        return;
    }
    match expect {
        Expect::Valid => {
            if !v.text.starts_with(VALID) || !has("verdict") || !has("valid") {
                failures.push(format!("{kind} {what}: expected {VALID:?} (class \"verdict valid\"), got {v:?}"));
            }
        }
        Expect::Invalid(text) => {
            if v.text != text || !has("verdict") || !has("invalid") {
                failures.push(format!("{kind} {what}: expected {text:?} (class \"verdict invalid\"), got {v:?}"));
            }
        }
    }
    if v.ms.is_none() {
        failures.push(format!("{kind} {what}: the verdict has no data-verify-ms"));
    }
}

/// What a page shows and runs, for the checks on untrusted text.
#[derive(Debug)]
struct Inertness {
    /// Elements or attributes that must not be there.
    bad: Vec<String>,
    title: String,
    pwned: String,
    text: String,
}

/// What `tab` shows and runs.
fn inertness(b: &mut Chromium, tab: &Tab) -> Result<Inertness, String> {
    let v = b.eval(tab, INERTNESS_JS)?;
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Ok(Inertness {
        bad: v["bad"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect(),
        title: s("title"),
        pwned: s("pwned"),
        text: s("text"),
    })
}

fn check_inert(failures: &mut Vec<String>, kind: &str, what: &str, p: &Inertness, texts: &[&str]) {
    for b in &p.bad {
        failures.push(format!("{kind} {what}: {b}"));
    }
    if p.pwned != "undefined" {
        failures.push(format!("{kind} {what}: a payload ran: window.__pwned is {}", p.pwned));
    }
    if p.title == "PWNED" {
        failures.push(format!("{kind} {what}: a payload ran: document.title is {:?}", p.title));
    }
    for t in texts {
        if !p.text.contains(t) {
            failures.push(format!("{kind} {what}: {t:?} is not visible as text"));
        }
    }
}

/// Everything on a page that would let untrusted text run or load
/// something, and its visible text.
const INERTNESS_JS: &str = r#"(() => {
  const bad = [];
  const short = e => e.outerHTML.slice(0, 160);
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.attributes) {
      const n = a.name.toLowerCase();
      if (n.startsWith('on')) bad.push(`an ${n} attribute: ${short(e)}`);
      if (/^(href|src|action|formaction|xlink:href|data|poster|srcset|background)$/.test(n)
          && /^\s*(javascript|vbscript|data):/i.test(a.value)) bad.push(`a ${n} to run or inline: ${short(e)}`);
    }
  }
  for (const a of document.querySelectorAll('a[href^="javascript:" i]')) bad.push(`a javascript: link: ${short(a)}`);
  for (const s of document.scripts) {
    const src = s.getAttribute('src');
    if (!src || !/^(\.\.\/)?(assets|certificates)\/[A-Za-z0-9._-]+\.js$/.test(src) || s.text.trim() !== '')
      bad.push(`a script that is not the site's own: ${short(s)}`);
  }
  for (const i of document.images)
    if (!/^(\.\.\/)?assets\//.test(i.getAttribute('src') || '')) bad.push(`an image from the text: ${short(i)}`);
  for (const e of document.querySelectorAll('iframe, frame, object, embed, base, meta[http-equiv]'))
    bad.push(`an element from the text: ${short(e)}`);
  return { bad, title: document.title, pwned: String(typeof window.__pwned === 'undefined' ? 'undefined' : window.__pwned),
           text: document.body.innerText };
})()"#;
