//! Issue 11's figure: the in-browser verification of a 3,000-endorsement
//! certificate in headless Chromium (target: under 1 s), beside
//! `chorus verify` on the same file and the native verifier in-process, all
//! measured in the same run and interleaved (the machine is shared and
//! noisy).
//!
//! A coalition of 3,000 founding trusts adopts one position endorsed by all
//! of them (`chorus_core::testkit::Fixture`, a `Ledger`); `chorus_web::Site`
//! renders the files its page needs (the page, `assets/*`, the certificate's
//! `.cert` and `.cert.js`) into a temporary directory. Then, [`RUNS`] times
//! each, round-robin:
//!
//! - the page in headless Chromium from `file://` (the certificate comes
//!   from its `.cert.js` script) and over a loopback HTTP server on
//!   127.0.0.1 serving that directory with the node's Content-Security-Policy
//!   and `Cache-Control: no-store` (the certificate is fetched, and every
//!   visit loads every file again: a first visit each time), each in a fresh
//!   tab: the page's own `data-verify-ms` (the verification call in
//!   WebAssembly alone), its `data-total-ms` (from verify.js starting, so
//!   module instantiation and the certificate's load included), and the
//!   wall time from `Page.navigate` to the verdict seen by this process
//!   (the page's load and parse included). The verdict must start with
//!   `Verified in your browser`, and no page may raise a JavaScript error,
//!   fail to load a file or have the site's scripts blocked;
//! - `chorus verify FILE --coalition ID` as a process, wall time (process
//!   start and reading the file included; it verifies with every core);
//! - `chorus_core::certificate::verify_with_threads` in this process with 1
//!   and with 2 threads.
//!
//! The `chorus` binary is `env!("CARGO_BIN_EXE_chorus")`: Cargo sets it for
//! benches as for integration tests, and builds the binary with the bench
//! profile first, so it is `target/release/chorus`, the same code as this
//! bench's.
//!
//! Chromium is driven by the DevTools client `chorus_system_tests::devtools`
//! (`$CHORUS_CHROMIUM`, else `chromium` or `chromium-browser` on the PATH).
//! Without Chromium, or when the in-browser verifier is not built
//! (`chorus_verify_assets::WASM_BUILT`, which needs the
//! `wasm32-unknown-unknown` target), the bench prints `skipped: ...` and
//! exits successfully.
//!
//! `cargo bench -p chorus-cli --bench browser_verify`

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chorus_core::certificate;
use chorus_core::testkit::Fixture;
use chorus_core::{Envelope, Ledger, ObjectId, Stance};
use chorus_system_tests::devtools::{file_url, find_chromium, Chromium, Tab, PAGE_TIMEOUT, VALID, VERDICT_JS};
use chorus_web::{ObjectSource, Publish, Site, SiteConfig};
use serde_json::{json, Value};

/// Member trusts, every one of them endorsing the position.
const MEMBERS: u32 = 3_000;
/// Measurements of each kind.
const RUNS: usize = 5;
/// Issue 11's target for the in-browser verification.
const TARGET_MS: f64 = 1_000.0;

struct Objects(BTreeMap<ObjectId, Envelope>);

impl ObjectSource for Objects {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        self.0.get(id).cloned()
    }
}

/// The position's files, written under `dir`.
struct Position {
    coalition: ObjectId,
    id: String,
    /// The page, relative to the site's root.
    page: String,
    /// `certificates/<id>.cert`.
    cert: PathBuf,
}

fn main() {
    if !chorus_verify_assets::WASM_BUILT {
        println!(
            "skipped: browser_verify: the in-browser verifier is not built (chorus_verify_assets::WASM_BUILT is \
             false; it needs the wasm32-unknown-unknown target: rustup target add wasm32-unknown-unknown)"
        );
        return;
    }
    let Some(chromium) = find_chromium() else {
        println!(
            "skipped: browser_verify: Chromium not found ($CHORUS_CHROMIUM, or chromium / chromium-browser on the \
             PATH; Debian: apt-get install chromium)"
        );
        return;
    };

    let tmp = tempfile::tempdir().expect("temp dir");
    let site_dir = tmp.path().join("site");
    let position = build(&site_dir);
    let bytes = std::fs::read(&position.cert).expect("read the certificate");
    let coalition_hex = position.coalition.to_hex();
    let file_page = format!("{}/{}", file_url(&site_dir), position.page);
    let http_page = format!("{}{}", serve(site_dir.clone()).expect("loopback HTTP server"), position.page);
    let chorus = env!("CARGO_BIN_EXE_chorus");
    let nowhere = tmp.path().join("no-node");

    let mut browser = Chromium::launch(&chromium, tmp.path()).unwrap_or_else(|e| panic!("Chromium: {e}"));
    let page_size = std::fs::metadata(site_dir.join(&position.page)).map_or(0, |m| m.len());
    let wasm_size = std::fs::metadata(site_dir.join("assets").join(chorus_verify_assets::wasm_script_name()))
        .map_or(0, |m| m.len());
    println!("browser_verify: {MEMBERS}-endorsement certificate of position {}", position.id);
    println!(
        "  certificate {} bytes, page {} bytes, module script {} bytes; {}; chorus = {chorus}; {} cores",
        bytes.len(),
        page_size,
        wasm_size,
        browser.version,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );

    let mut file = BrowserRuns::default();
    let mut http = BrowserRuns::default();
    let (mut cli, mut native1, mut native2) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for run in 0..RUNS {
        eprintln!("run {}/{RUNS}", run + 1);
        for (runs, url) in [(&mut file, &file_page), (&mut http, &http_page)] {
            match browser_run(&mut browser, url, &mut failures, &mut notes) {
                Some(s) => runs.push(s),
                None => panic!("{url}: no verdict:\n  {}", failures.join("\n  ")),
            }
        }

        let t = Instant::now();
        let out = verify_command(chorus, &nowhere, &position.cert, &coalition_hex).output().expect("run chorus verify");
        cli.push(ms(t.elapsed()));
        assert!(
            out.status.success(),
            "chorus verify failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if run == 0 {
            let said = String::from_utf8_lossy(&out.stdout);
            println!("  chorus verify says: {}", said.lines().next().unwrap_or_default());
        }

        for (threads, samples) in [(1, &mut native1), (2, &mut native2)] {
            let t = Instant::now();
            let v = certificate::verify_with_threads(&bytes, Some(position.coalition), threads).expect("valid");
            samples.push(ms(t.elapsed()));
            assert_eq!(v.endorsers.len(), MEMBERS as usize, "every member endorses");
        }
    }
    browser.close();
    assert!(failures.is_empty(), "failures in Chromium:\n  {}", failures.join("\n  "));

    println!("  {RUNS} runs each, interleaved; median and min, then every sample in run order (ms):");
    let rows: [(&str, &[f64]); 11] = [
        ("Chromium file://, data-verify-ms (verification)", &file.verify),
        ("Chromium file://, data-total-ms (from verify.js)", &file.total),
        ("Chromium file://, navigation to verdict, in page", &file.in_page),
        ("Chromium file://, navigation to verdict, wall", &file.wall),
        ("Chromium http://127.0.0.1, data-verify-ms", &http.verify),
        ("Chromium http://127.0.0.1, data-total-ms", &http.total),
        ("Chromium http://127.0.0.1, navigation to verdict, in page", &http.in_page),
        ("Chromium http://127.0.0.1, navigation to verdict, wall", &http.wall),
        ("chorus verify (process, every core), wall", &cli),
        ("verify_with_threads(.., 1), in process", &native1),
        ("verify_with_threads(.., 2), in process", &native2),
    ];
    for (label, xs) in rows {
        let (median, min) = stats(xs);
        let all: Vec<String> = xs.iter().map(|x| format!("{x:.1}")).collect();
        println!("  {label:<58} median {median:>7.1}  min {min:>7.1}  [{}]", all.join(", "));
    }
    let (n1_median, n1_min) = stats(&native1);
    println!("  ratio to verify_with_threads(.., 1), of medians (of mins):");
    let ratios: [(&str, &[f64]); 5] = [
        ("Chromium file://, data-verify-ms", &file.verify),
        ("Chromium http://127.0.0.1, data-verify-ms", &http.verify),
        ("Chromium file://, navigation to verdict, wall", &file.wall),
        ("Chromium http://127.0.0.1, navigation to verdict, wall", &http.wall),
        ("chorus verify (process, every core), wall", &cli),
    ];
    for (label, xs) in ratios {
        let (median, min) = stats(xs);
        println!("  {label:<58} {:>6.2}x ({:.2}x)", median / n1_median, min / n1_min);
    }
    let worst = stats(&file.verify).0.max(stats(&http.verify).0);
    let worst_wall = stats(&file.wall).0.max(stats(&http.wall).0);
    println!(
        "  target (in-browser verification under {TARGET_MS:.0} ms): {} (median data-verify-ms at most {worst:.1} ms; \
         navigation to verdict at most {worst_wall:.1} ms)",
        if worst < TARGET_MS { "met" } else { "NOT met" },
    );
    if !notes.is_empty() {
        println!("  browser console (not failures): {}", notes.join(" | "));
    }
}

// ---------------------------------------------------------------------------
// The position

/// Founds a coalition of [`MEMBERS`] trusts, adopts one proposal endorsed by
/// all of them, and writes the files its page needs under `dir`.
fn build(dir: &Path) -> Position {
    let t = Instant::now();
    let f = Fixture::new(MEMBERS);
    let mut ledger = Ledger::new(f.coalition.clone());
    let mut objects = BTreeMap::new();
    let proposal = f.proposal(0, "A position endorsed by every member", 1, None);
    let pid = proposal.id();
    let mut all = vec![proposal];
    all.extend((0..MEMBERS as usize).map(|m| f.endorsement(m, pid, Stance::Endorse, 2 + m as u64)));
    for env in all {
        let v = ledger.validate(env.bytes(), u64::MAX).expect("fixture objects are valid");
        ledger.apply(&v);
        objects.insert(env.id(), env);
    }
    assert!(ledger.is_adopted(&pid), "the position is adopted");
    let objects = Objects(objects);
    let config = SiteConfig { publish: Publish::Everything, base_url: None };
    let site = Site::new(&ledger, &objects, &config);

    let id = pid.to_hex();
    let page = format!("proposals/{id}.html");
    let cert = format!("certificates/{id}.cert");
    let cert_js = format!("certificates/{id}.cert.js");
    let wanted: Vec<String> = site
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("assets/") || [&page, &cert, &cert_js].contains(&p))
        .collect();
    for p in [&page, &cert, &cert_js] {
        assert!(wanted.contains(p), "the site lists {p}");
    }
    for p in &wanted {
        let asset = site.get(p).unwrap_or_else(|| panic!("the site lists {p} but has no such file"));
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
        std::fs::write(&path, &asset.body).expect("write");
    }
    eprintln!(
        "built the coalition, the position and {} files ({}) in {:.1} s",
        wanted.len(),
        wanted.join(", "),
        t.elapsed().as_secs_f64()
    );
    Position { coalition: f.id(), id, page, cert: dir.join(cert) }
}

// ---------------------------------------------------------------------------
// In Chromium

/// One visit's figures, in milliseconds.
struct BrowserRun {
    verify: f64,
    total: f64,
    in_page: f64,
    wall: f64,
}

#[derive(Default)]
struct BrowserRuns {
    verify: Vec<f64>,
    total: Vec<f64>,
    in_page: Vec<f64>,
    wall: Vec<f64>,
}

impl BrowserRuns {
    fn push(&mut self, r: BrowserRun) {
        self.verify.push(r.verify);
        self.total.push(r.total);
        self.in_page.push(r.in_page);
        self.wall.push(r.wall);
    }
}

/// Loads `url` in a fresh tab and waits for its verdict, which must be
/// `Verified in your browser`.
fn browser_run(
    browser: &mut Chromium,
    url: &str,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Option<BrowserRun> {
    browser.in_new_tab(url, failures, notes, |b, tab| {
        let t = Instant::now();
        let r = b.call(Some(&tab.session), "Page.navigate", json!({ "url": url }))?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            return Err(format!("cannot load {url}: {e}"));
        }
        let v = wait_for_verdict(b, tab)?;
        let wall = ms(t.elapsed());
        let text = v["text"].as_str().unwrap_or_default();
        let valid = v["classes"].as_array().is_some_and(|c| c.iter().any(|c| c == "valid"));
        if !text.starts_with(VALID) || !valid {
            return Err(format!("expected {VALID:?} (class \"verdict valid\"), got {v}"));
        }
        let number = |k: &str| {
            v[k].as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .or_else(|| v[k].as_f64())
                .ok_or_else(|| format!("the verdict has no {k}: {v}"))
        };
        Ok(BrowserRun { verify: number("ms")?, total: number("total")?, in_page: number("at")?, wall })
    })
}

/// Waits, in the page, for `#verdict` to be decided (a mutation observer, so
/// the moment is not rounded to a polling interval), and returns what
/// [`VERDICT_JS`] reads with `total` (`data-total-ms`) and `at` (the page's
/// `performance.now()` then: milliseconds since its navigation started).
/// Evaluations that reach `about:blank` before the navigation commits, or a
/// context the navigation destroys, are retried.
fn wait_for_verdict(b: &mut Chromium, tab: &Tab) -> Result<Value, String> {
    let expr = format!(
        r#"new Promise(resolve => {{
  if (location.href === 'about:blank') {{ resolve('blank'); return; }}
  const read = () => {{
    const r = {VERDICT_JS};
    if (!r || r.missing) return null;
    r.total = document.getElementById('verdict').getAttribute('data-total-ms');
    r.at = performance.now();
    return r;
  }};
  const now = read();
  if (now) {{ resolve(now); return; }}
  let timer = null;
  const observer = new MutationObserver(() => check());
  const check = () => {{
    const r = read();
    if (r) {{ observer.disconnect(); clearInterval(timer); resolve(r); }}
  }};
  observer.observe(document, {{ subtree: true, childList: true, characterData: true, attributes: true }});
  timer = setInterval(check, 25);
}})"#
    );
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let last = match b.eval(tab, &expr) {
            Ok(v) if v.is_object() => return Ok(v),
            Ok(v) => v.to_string(),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(format!("no verdict within {} s (last: {last})", PAGE_TIMEOUT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------
// A loopback HTTP server for the directory

/// Serves the files under `root` on 127.0.0.1 (a port the system picks),
/// one request per connection, until the process exits; returns its URL.
fn serve(root: PathBuf) -> std::io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let url = format!("http://{}/", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let _ = respond(&root, stream);
            });
        }
    });
    Ok(url)
}

fn respond(root: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut words = request.split_whitespace();
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split(['?', '#']).next().unwrap_or_default().trim_start_matches('/');
    let safe = !path.is_empty() && path.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    let found = (method == "GET" && safe)
        .then(|| root.join(path))
        .and_then(|p| std::fs::read(&p).ok().map(|body| (content_type(&p), body)));
    let (status, content_type, body) = match found {
        Some((t, body)) => ("200 OK", t, body),
        None => ("404 Not Found", "text/plain; charset=utf-8", b"not found\n".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Content-Security-Policy: {}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len(),
        chorus_node::web::CONTENT_SECURITY_POLICY,
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    stream.flush()
}

/// As the node's website types the site's files.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "application/javascript",
        _ => "application/octet-stream",
    }
}

// ---------------------------------------------------------------------------
// Figures

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Median and minimum.
fn stats(xs: &[f64]) -> (f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

/// `chorus --data-dir NOWHERE verify CERT --coalition ID`, with no
/// `CHORUS_*` variable of this environment.
fn verify_command(chorus: &str, nowhere: &Path, cert: &Path, coalition: &str) -> Command {
    let mut c = Command::new(chorus);
    c.arg("--data-dir").arg(nowhere).arg("verify").arg(cert).args(["--coalition", coalition]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CHORUS_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}
