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
//! 4. breadth (issue 15): the devnet's trusts declare regions and its
//!    charter asks for endorsers from two, so its position's verdict goes on
//!    with the breadth the certificate proves and each breadth rule, one
//!    `span.verdict-breadth` a line, in exactly the words `chorus verify`
//!    prints after `breadth` and `breadth rule`; and a second coalition
//!    (one node, founded with the library: two trusts in the East, one in
//!    the North, positions needing endorsers from two regions) shows its
//!    adopted position's breadth the same way, while a certificate of two
//!    East trusts (enough endorsements, one region), chosen in its
//!    `verify.html`, is `Verification failed in your browser: ` with the
//!    breadth reason `chorus verify` gives, and no breadth lines;
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

use chorus_core::{
    Attribute, BreadthRule, Charter, Endorsement, Envelope, Genesis, Keypair, Kind, Member, MemberAttributes, ObjectId,
    Proposal, Stance,
};
use chorus_node::datadir::DataDir;
use chorus_system_tests::devtools::{file_url, find_chromium, Chromium, Tab, Verdict, INVALID, UNAVAILABLE, VALID};
use chorus_system_tests::process::log_file;
use chorus_system_tests::{chorus, cmd, Nodes, Process};
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

    // 4. The breadth the devnet's position proves, as `chorus verify` words it.
    let devnet_breadth = breadth_lines(
        &chorus(&nowhere, &["verify", cert_path.to_str().unwrap(), "--coalition", &coalition]).ok().stdout,
    );
    assert!(!devnet_breadth.is_empty(), "the devnet's trusts declare regions: chorus verify prints their breadth");
    let (mut regional_nodes, regional) = start_regional(root);

    let mut browser = Chromium::launch(&chromium, root).unwrap_or_else(|e| panic!("Chromium: {e}"));
    let mut failures: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut timings: Vec<String> = Vec::new();

    let sites = [("served", website.clone()), ("static", file_url(&site) + "/")];
    for (kind, base) in &sites {
        // 1. The position verifies.
        let page = format!("{base}proposals/{position}.html");
        let v = browser.visit(&page, &mut failures, &mut notes, |b, tab| shown(b, tab, None));
        if let Some(v) = v {
            check_verdict(&mut failures, kind, "position page", &v, Expect::Valid(Some(&devnet_breadth)));
            timings.push(format!("{kind} position {}", v.verdict.took()));
        }

        // 3. The hostile proposal: verified (its title goes through the
        //    verdict too), and inert.
        let page = format!("{base}proposals/{hostile}.html");
        let seen = browser.visit(&page, &mut failures, &mut notes, |b, tab| {
            let v = shown(b, tab, None)?;
            Ok((v, inertness(b, tab)?))
        });
        if let Some((v, inert)) = seen {
            check_verdict(&mut failures, kind, "hostile proposal", &v, Expect::Valid(None));
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
            let good = shown(b, tab, None)?;
            b.choose_file(tab, &flipped_path)?;
            let bad = shown(b, tab, Some(&good.verdict.text))?;
            Ok((good, bad))
        });
        if let Some((good, bad)) = seen {
            check_verdict(
                &mut failures,
                kind,
                "verify.html, the real certificate",
                &good,
                Expect::Valid(Some(&devnet_breadth)),
            );
            check_verdict(
                &mut failures,
                kind,
                "verify.html, one byte changed",
                &bad,
                Expect::Invalid(&expected_failure),
            );
            timings.push(format!("{kind} verify.html {}", good.verdict.took()));
        }
    }

    // 4. The regional coalition: its position's breadth, and a certificate
    //    without the breadth in its verify.html.
    let page = format!("{}proposals/{}.html", regional.website, regional.position);
    if let Some(v) = browser.visit(&page, &mut failures, &mut notes, |b, tab| shown(b, tab, None)) {
        check_verdict(&mut failures, "regional", "position page", &v, Expect::Valid(Some(&regional.breadth)));
    }
    let page = format!("{}verify.html", regional.website);
    let seen = browser.visit(&page, &mut failures, &mut notes, |b, tab| {
        b.choose_file(tab, &regional.cert)?;
        let good = shown(b, tab, None)?;
        b.choose_file(tab, &regional.east_only)?;
        let bad = shown(b, tab, Some(&good.verdict.text))?;
        Ok((good, bad))
    });
    if let Some((good, bad)) = seen {
        let what = "verify.html, the position's certificate";
        check_verdict(&mut failures, "regional", what, &good, Expect::Valid(Some(&regional.breadth)));
        let what = "verify.html, a certificate from one region";
        check_verdict(&mut failures, "regional", what, &bad, Expect::Invalid(&regional.failure));
    }

    // 2. The export whose certificate files were rewritten.
    let page = format!("{}/proposals/{position}.html", file_url(&tampered_site));
    if let Some(v) = browser.visit(&page, &mut failures, &mut notes, |b, tab| shown(b, tab, None)) {
        check_verdict(
            &mut failures,
            "static",
            "position page, one byte changed",
            &v,
            Expect::Invalid(&expected_failure),
        );
    }
    browser.close();
    regional_nodes.terminate(&regional.dir);

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

/// The second coalition, for breadth (4.): its node, serving everything.
struct Regional {
    /// The node's data directory (Oak Trust's).
    dir: PathBuf,
    /// Its website, ending in `/`.
    website: String,
    /// The adopted position, endorsed by Oak (East) and Ash (North).
    position: String,
    /// Its certificate.
    cert: PathBuf,
    /// What the page must show after the verdict, from `chorus verify`.
    breadth: Vec<String>,
    /// A certificate endorsed by Oak and Elm, both in the East.
    east_only: PathBuf,
    /// Its verdict: `INVALID` and the reason `chorus verify` prints.
    failure: String,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Founds, with the library, a coalition of three trusts (Oak and Elm in
/// the East, Ash in the North, each declaring schools and pupils) whose
/// positions need endorsers from two of its three regions; starts Oak's
/// node on 127.0.0.1 serving its website with everything published; has a
/// position adopted by Oak and Ash; and assembles a certificate of another
/// proposal endorsed by Oak and Elm alone (the fraction, not the breadth).
fn start_regional(root: &Path) -> (Nodes, Regional) {
    let base = root.join("regional");
    let names = ["Oak Trust", "Elm Trust", "Ash Trust"];
    let dirs: Vec<PathBuf> = names.iter().map(|n| base.join(n.split(' ').next().unwrap())).collect();
    for (d, name) in dirs.iter().zip(names) {
        chorus(d, &["init", "--name", name, "--trust-key-here"]).ok();
    }
    let keys: Vec<Keypair> = dirs.iter().map(|d| DataDir::new(d).trust_key().unwrap()).collect();
    let mut charter = Charter::default();
    charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
    charter.breadth.positions = vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
    let declared = [("East", 12, 6_000), ("East", 3, 1_200), ("North", 40, 191_000)];
    let mut founders: Vec<Member> = keys
        .iter()
        .zip(names.iter().zip(declared))
        .map(|(k, (name, (region, schools, pupils)))| Member {
            key: k.public(),
            name: name.to_string(),
            external_id: None,
            attributes: MemberAttributes {
                region: Some(region.to_string()),
                schools: Some(schools),
                pupils: Some(pupils),
                ..MemberAttributes::default()
            },
        })
        .collect();
    founders.sort_by_key(|m| *m.key.as_bytes());
    let genesis = Genesis {
        name: "Regional Coalition".into(),
        charter,
        founders,
        created_at_ms: now_ms(),
        nonce: (1..=16).collect(),
    };
    let refs: Vec<&Keypair> = keys.iter().collect();
    let genesis = Envelope::sign(Kind::Genesis, genesis.to_body(), &refs);
    let coalition = genesis.id();
    let genesis_file = base.join("genesis.chorus");
    std::fs::write(&genesis_file, genesis.bytes()).unwrap();
    let oak = &dirs[0];
    chorus(oak, &["coalition", "join", genesis_file.to_str().unwrap()]).ok();

    let mut nodes = Nodes::new();
    let website = nodes.start_serving_website(oak).trim_end_matches('/').to_string() + "/";

    let endorsement = |i: usize, proposal: ObjectId| {
        let e = Endorsement {
            coalition,
            proposal,
            trust: keys[i].public(),
            created_at_ms: now_ms(),
            stance: Stance::Endorse,
            comment: None,
            delegation: None,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[&keys[i]])
    };
    let body = base.join("body.md");
    std::fs::write(&body, "We ask the region's councils to fund school transport.\n").unwrap();
    let r = chorus(oak, &["propose", "--title", "Two regions", "--body-file", body.to_str().unwrap(), "--json"]).ok();
    let position = r.json()["id"].as_str().expect("propose --json gives the id").to_string();
    let id: ObjectId = position.parse().unwrap();
    for (n, i) in [0, 2].into_iter().enumerate() {
        let file = base.join(format!("stance-{n}.chorus"));
        std::fs::write(&file, endorsement(i, id).bytes()).unwrap();
        chorus(oak, &["import", file.to_str().unwrap()]).ok();
    }
    nodes.eventually("the regional position adopted", || {
        let r = chorus(oak, &["show", &position, "--json"]);
        (r.code == 0 && r.json()["status"] == "adopted").then_some(())
    });

    let nowhere = base.join("no-node");
    let cert = base.join("two-regions.cert");
    chorus(oak, &["certificate", &position, "-o", cert.to_str().unwrap()]).ok();
    let verified = chorus(&nowhere, &["verify", cert.to_str().unwrap(), "--coalition", &coalition.to_hex()]).ok();
    let breadth = breadth_lines(&verified.stdout);
    assert_eq!(
        breadth,
        [
            "Breadth proven: endorsed by 2 of 3 member trusts, from 2 of 3 regions, running 52 schools with 197,000 \
             pupils.",
            "Breadth rule: from at least 2 of 3 regions: 2, met.",
        ],
        "{}",
        verified.stdout
    );

    // Oak and Elm, both in the East: 2 of 3 endorse, from one region.
    let proposal = Proposal {
        coalition,
        roster: coalition,
        author: keys[0].public(),
        created_at_ms: now_ms(),
        closes_at_ms: None,
        title: "East only".into(),
        body: "We ask the East's councils to fund school transport.\n".into(),
        link: None,
        action: None,
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    let proposal = Envelope::sign(Kind::Proposal, proposal.to_body(), &[&keys[0]]);
    let ends = [endorsement(0, proposal.id()), endorsement(1, proposal.id())];
    let east_only = base.join("east-only.cert");
    std::fs::write(&east_only, chorus_core::certificate::assemble(&genesis, &proposal, &ends)).unwrap();
    let r = chorus(&nowhere, &["verify", east_only.to_str().unwrap(), "--coalition", &coalition.to_hex()]);
    assert_eq!(r.code, 1, "a certificate from one region must be invalid: {} {}", r.stdout, r.stderr);
    let reason = r.stderr.trim().strip_prefix("INVALID: ").expect("INVALID: <reason>").to_string();
    assert!(reason.starts_with("breadth: needs endorsers from at least 2 distinct regions, has 1"), "{reason}");
    let failure = format!("{INVALID}{reason}");
    (nodes, Regional { dir: oak.clone(), website, position, cert, breadth, east_only, failure })
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

#[derive(Clone, Copy)]
enum Expect<'a> {
    /// Valid; with `Some(lines)`, followed by exactly these breadth lines
    /// (`None`: not checked).
    Valid(Option<&'a [String]>),
    /// Invalid with exactly this text, and no breadth lines.
    Invalid(&'a str),
}

/// A verdict and what `#verdict` holds besides its text.
#[derive(Debug)]
struct Shown {
    verdict: Verdict,
    /// `#verdict`'s child elements: tag, class, number of child elements,
    /// text.
    elements: Vec<(String, String, u64, String)>,
}

impl Shown {
    /// The breadth lines: the text of each `span.verdict-breadth`.
    fn lines(&self) -> Vec<String> {
        self.elements.iter().filter(|e| e.0 == "span").map(|e| e.3.clone()).collect()
    }
}

/// The verdict, once decided (and different from `previous`), and the
/// elements inside it.
fn shown(b: &mut Chromium, tab: &Tab, previous: Option<&str>) -> Result<Shown, String> {
    let verdict = b.verdict(tab, previous)?;
    let v = b.eval(tab, VERDICT_ELEMENTS_JS)?;
    let elements = v
        .as_array()
        .ok_or_else(|| format!("#verdict's elements: {v}"))?
        .iter()
        .map(|e| {
            let s = |i: usize| e[i].as_str().unwrap_or_default().to_string();
            (s(0), s(1), e[2].as_u64().unwrap_or(u64::MAX), s(3))
        })
        .collect();
    Ok(Shown { verdict, elements })
}

/// `#verdict`'s child elements as [tag, class, child elements, text].
const VERDICT_ELEMENTS_JS: &str = r#"Array.from(document.getElementById('verdict').children).map(
  e => [e.tagName.toLowerCase(), e.className, e.children.length, e.textContent])"#;

/// The lines `chorus verify` prints after `breadth` and `breadth rule`, as
/// the page shows them: "Breadth proven: endorsed by ....", "Breadth rule:
/// from at least ....".
fn breadth_lines(verify_stdout: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for l in verify_stdout.lines() {
        if let Some(rest) = l.strip_prefix("  breadth rule ") {
            lines.push(format!("Breadth rule: {rest}."));
        } else if let Some(rest) = l.strip_prefix("  breadth   ") {
            lines.push(format!("Breadth proven: {rest}."));
        }
    }
    lines
}

fn check_verdict(failures: &mut Vec<String>, kind: &str, what: &str, shown: &Shown, expect: Expect) {
    let v = &shown.verdict;
    let has = |c: &str| v.classes.iter().any(|x| x == c);
    if v.text.starts_with(UNAVAILABLE) {
        failures.push(format!("{kind} {what}: the page could not run the verifier: {v:?}"));
        return;
    }
    let want_lines: &[String] = match expect {
        Expect::Valid(lines) => {
            if !v.text.starts_with(VALID) || !has("verdict") || !has("valid") {
                failures.push(format!("{kind} {what}: expected {VALID:?} (class \"verdict valid\"), got {v:?}"));
            }
            match lines {
                Some(lines) => lines,
                None => &[],
            }
        }
        Expect::Invalid(text) => {
            if v.text != text || !has("verdict") || !has("invalid") {
                failures.push(format!("{kind} {what}: expected {text:?} (class \"verdict invalid\"), got {v:?}"));
            }
            &[]
        }
    };
    let unchecked = matches!(expect, Expect::Valid(None));
    if !unchecked {
        // Each line after a <br>, in a span holding text alone, and read
        // after the sentence.
        let shape: Vec<(&str, &str, u64)> = shown.elements.iter().map(|e| (e.0.as_str(), e.1.as_str(), e.2)).collect();
        let want_shape: Vec<(&str, &str, u64)> =
            want_lines.iter().flat_map(|_| [("br", "", 0), ("span", "verdict-breadth", 0)]).collect();
        if shown.lines() != want_lines || shape != want_shape {
            failures.push(format!(
                "{kind} {what}: expected the breadth lines {want_lines:?} (each a <br> then a span.verdict-breadth), \
                 got {:?}",
                shown.elements
            ));
        }
        let tail = want_lines.iter().map(|l| format!(" {l}")).collect::<String>();
        if !v.text.ends_with(&tail) {
            failures.push(format!("{kind} {what}: the verdict's text does not end with {tail:?}: {:?}", v.text));
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
