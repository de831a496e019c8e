//! A client of Chromium's DevTools protocol on a pipe, shared by the browser
//! test (`tests/tests/browser.rs`) and chorus-cli's in-browser verification
//! bench (`crates/chorus-cli/benches/browser_verify.rs`).
//!
//! Chromium runs headless with `--remote-debugging-pipe`: requests on its
//! fd 3, answers on fd 4, JSON separated by NUL bytes. No chromedriver, no
//! WebDriver client, no Python package, no debugging port: nothing to match
//! versions with Chromium and nothing listening, so the only thing that must
//! be installed is Chromium itself. The protocol also reports exactly what a
//! page did: uncaught exceptions with their script, dialogs as they open
//! (dismissed at once, so a page never hangs on `alert()`), and console
//! entries with their source (network, security, javascript).
//!
//! Chromium is `$CHORUS_CHROMIUM`, else `chromium` or `chromium-browser` on
//! the PATH (Debian: `apt-get install chromium`). Every wait is bounded;
//! Chromium (its whole process group) is killed on drop.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Longest wait for one DevTools answer.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for a page to load or to show its verdict.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(20);

/// The flags Chromium runs with: headless, no sandbox (CI runs as root), and
/// nothing that reaches for the network on its own (the machine has none).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-default-browser-check",
    "--remote-debugging-pipe",
];

/// How a position page's verdict starts when its certificate verifies.
pub const VALID: &str = "Verified in your browser";
/// How the verdict starts when the certificate does not verify (then the
/// reason, as `chorus verify` gives it).
pub const INVALID: &str = "Verification failed in your browser: ";
/// How the verdict starts when the page could not run the verifier.
pub const UNAVAILABLE: &str = "Could not verify in your browser";

/// Chromium: `$CHORUS_CHROMIUM`, else `chromium` or `chromium-browser` on
/// the PATH.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHORUS_CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// `file://` URL of an absolute path.
pub fn file_url(path: &Path) -> String {
    let path = path.canonicalize().unwrap();
    let mut url = String::from("file://");
    for b in path.to_str().unwrap().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// The verdict paragraph once the page's script has decided.
#[derive(Debug)]
pub struct Verdict {
    /// `#verdict`'s classes.
    pub classes: Vec<String>,
    /// Its text, white space collapsed.
    pub text: String,
    /// Its `data-verify-ms`: the verification itself, as the page timed it.
    pub ms: Option<String>,
}

impl Verdict {
    /// The page's own measure of the verification, for the report.
    pub fn took(&self) -> String {
        self.ms.as_ref().map_or_else(|| "(no data-verify-ms)".into(), |ms| format!("{ms} ms"))
    }
}

/// Reads the verdict: `null` while the page has not decided.
pub const VERDICT_JS: &str = r#"(() => {
  const v = document.getElementById('verdict');
  const s = document.getElementById('verification');
  if (!v) return { missing: true };
  const text = v.textContent.replace(/\s+/g, ' ').trim();
  const decided = ['Verified in your browser', 'Verification failed in your browser: ',
                   'Could not verify in your browser'].some(p => text.startsWith(p));
  if (!decided) return null;
  const ms = v.getAttribute('data-verify-ms') ?? (s && s.getAttribute('data-verify-ms'));
  return { classes: [...v.classList], text, ms };
})()"#;

// ---------------------------------------------------------------------------
// Chromium over the DevTools protocol on a pipe

/// A page's DevTools session.
pub struct Tab {
    /// The page's target id.
    pub target: String,
    /// The session attached to it (flat mode).
    pub session: String,
}

/// A headless Chromium driven over its DevTools pipe; its whole process
/// group is killed on drop.
pub struct Chromium {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    /// Events not yet looked at.
    events: Vec<Value>,
    log: PathBuf,
    /// The browser's product and version, as it reports them.
    pub version: String,
}

impl Chromium {
    /// Starts Chromium with a fresh profile under `root`.
    pub fn launch(exe: &Path, root: &Path) -> Result<Chromium, String> {
        let profile = root.join("chromium-profile");
        let log = root.join("chromium.log");
        std::fs::create_dir_all(&profile).map_err(|e| e.to_string())?;
        // The shell moves our pipes to the descriptors the protocol uses
        // (3: requests, 4: answers) and then becomes Chromium.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#)
            .arg(exe)
            .args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).map_err(|e| e.to_string())?)
            // Its own process group, so that drop ends every helper process.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(output);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                let Ok(v) = serde_json::from_slice::<Value>(&buf) else { continue };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut c = Chromium { child, input, messages, next_id: 0, events: Vec::new(), log, version: String::new() };
        let v = c.call(None, "Browser.getVersion", json!({}))?;
        c.version = v["product"].as_str().unwrap_or("Chromium").to_string();
        Ok(c)
    }

    /// Sends a command without waiting for its answer; its id.
    pub fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<u64, String> {
        self.next_id += 1;
        let mut msg = json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.input
            .write_all(&bytes)
            .and_then(|()| self.input.flush())
            .map_err(|e| format!("cannot write to Chromium ({e}); {}", self.log_tail()))?;
        Ok(self.next_id)
    }

    /// Sends a command and waits for its answer; events that arrive
    /// meanwhile are kept, and dialogs are dismissed as they open.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.send(session, method, params)?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let msg = match self.messages.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer within {} s", CALL_TIMEOUT.as_secs()))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: Chromium closed its pipe; {}", self.log_tail()))
                }
            };
            if msg.get("method").is_some() {
                if msg["method"] == "Page.javascriptDialogOpening" {
                    let s = msg["sessionId"].as_str().map(String::from);
                    self.send(s.as_deref(), "Page.handleJavaScriptDialog", json!({ "accept": false }))?;
                }
                self.events.push(msg);
            } else if msg["id"].as_u64() == Some(id) {
                return match msg.get("error") {
                    Some(e) => Err(format!("{method}: {e}")),
                    None => Ok(msg["result"].clone()),
                };
            }
        }
    }

    /// The end of Chromium's own log, for messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains("dbus")).collect();
        format!("its log ends: {}", lines[lines.len().saturating_sub(8)..].join("\n"))
    }

    /// Opens a tab on `about:blank` with the Page, Runtime and Log domains
    /// enabled.
    pub fn open_tab(&mut self) -> Result<Tab, String> {
        let t = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }))?;
        let target = t["targetId"].as_str().ok_or("no targetId")?.to_string();
        let a = self.call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true }))?;
        let session = a["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            self.call(Some(&session), domain, json!({}))?;
        }
        Ok(Tab { target, session })
    }

    /// Closes `tab` (errors ignored: the browser may be gone).
    pub fn close_tab(&mut self, tab: &Tab) {
        let _ = self.call(None, "Target.closeTarget", json!({ "targetId": tab.target }));
    }

    /// Evaluates `expr` in the page (awaiting a promise); its value as JSON.
    pub fn eval(&mut self, tab: &Tab, expr: &str) -> Result<Value, String> {
        let r = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("evaluation failed: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Polls `expr` every 50 ms until it gives something other than `null`
    /// (errors while the page changes count as `null`).
    pub fn wait_for(&mut self, tab: &Tab, what: &str, expr: &str) -> Result<Value, String> {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        let mut last = String::from("nothing yet");
        loop {
            match self.eval(tab, expr) {
                Ok(Value::Null) => {}
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
            if Instant::now() >= deadline {
                return Err(format!("{what} did not happen within {} s (last: {last})", PAGE_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Loads `url` in `tab` and waits until the document has loaded.
    pub fn navigate(&mut self, tab: &Tab, url: &str) -> Result<(), String> {
        let r = self.call(Some(&tab.session), "Page.navigate", json!({ "url": url }))?;
        if let Some(e) = r.get("errorText").and_then(Value::as_str) {
            return Err(format!("cannot load {url}: {e}"));
        }
        // Every visit starts from a fresh tab on about:blank.
        let loaded = "location.href !== 'about:blank' && document.readyState === 'complete' ? true : null";
        self.wait_for(tab, "the page loading", loaded)?;
        Ok(())
    }

    /// The page's verdict, once decided (and different from `previous`).
    pub fn verdict(&mut self, tab: &Tab, previous: Option<&str>) -> Result<Verdict, String> {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let v = self.wait_for(tab, "a verdict", VERDICT_JS)?;
            if v["missing"] == true {
                return Err("the page has no element with id \"verdict\"".into());
            }
            let verdict = Verdict {
                classes: v["classes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                text: v["text"].as_str().unwrap_or_default().to_string(),
                ms: v["ms"].as_str().map(String::from),
            };
            if previous != Some(verdict.text.as_str()) {
                return Ok(verdict);
            }
            if Instant::now() >= deadline {
                return Err(format!("the verdict stayed {:?} within {} s", verdict.text, PAGE_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Chooses `file` in the page's `#certificate-file` input (which
    /// fires its `input` and `change` events, as a person choosing does).
    pub fn choose_file(&mut self, tab: &Tab, file: &Path) -> Result<(), String> {
        let r = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({ "expression": "document.getElementById('certificate-file')" }),
        )?;
        let object = r["result"]["objectId"].as_str().ok_or("the page has no element with id \"certificate-file\"")?;
        let object = object.to_string();
        self.call(
            Some(&tab.session),
            "DOM.setFileInputFiles",
            json!({ "files": [file.to_str().unwrap()], "objectId": object }),
        )?;
        Ok(())
    }

    /// Opens `url` in a new tab, runs `check`, then reviews what the page
    /// reported: uncaught exceptions, dialogs, failed loads and Content
    /// Security Policy violations of the site's own scripts are failures;
    /// other console entries are notes.
    pub fn visit<T>(
        &mut self,
        url: &str,
        failures: &mut Vec<String>,
        notes: &mut Vec<String>,
        check: impl FnOnce(&mut Chromium, &Tab) -> Result<T, String>,
    ) -> Option<T> {
        self.in_new_tab(url, failures, notes, |b, tab| {
            b.navigate(tab, url)?;
            check(b, tab)
        })
    }

    /// As [`Chromium::visit`], but `run` loads `url` itself (in the fresh
    /// tab, on `about:blank`), so that it can time the load.
    pub fn in_new_tab<T>(
        &mut self,
        url: &str,
        failures: &mut Vec<String>,
        notes: &mut Vec<String>,
        run: impl FnOnce(&mut Chromium, &Tab) -> Result<T, String>,
    ) -> Option<T> {
        let tab = match self.open_tab() {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{url}: cannot open a tab: {e}"));
                return None;
            }
        };
        let out = run(self, &tab);
        // One more round trip, so that events the page sent before it are in.
        let _ = self.eval(&tab, "0");
        let (mine, others): (Vec<Value>, Vec<Value>) =
            std::mem::take(&mut self.events).into_iter().partition(|e| e["sessionId"] == tab.session.as_str());
        self.events = others;
        self.close_tab(&tab);
        let page = url.rsplit_once('/').map_or(url, |(_, p)| p);
        for e in &mine {
            review_event(e, url, page, failures, notes);
        }
        match out {
            Ok(v) => Some(v),
            Err(e) => {
                failures.push(format!("{url}: {e}"));
                None
            }
        }
    }

    /// Asks Chromium to quit and waits (5 s at most) for it to close its
    /// end of the pipe. The process is reaped only on drop, after its group
    /// is killed, so the group's id cannot have been reused meanwhile.
    pub fn close(&mut self) {
        if self.send(None, "Browser.close", json!({})).is_err() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        // Its last answers and events, until the pipe closes.
        while Instant::now() < deadline
            && self.messages.recv_timeout(deadline.saturating_duration_since(Instant::now())).is_ok()
        {}
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The whole process group: the browser and its helpers.
        let _ =
            Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sorts one DevTools event of a visit to `url` (`page`, its last path
/// segment, in notes) into failures (uncaught exceptions, dialogs, failed
/// loads, the site's own scripts blocked) and notes (other console warnings
/// and errors).
pub fn review_event(e: &Value, url: &str, page: &str, failures: &mut Vec<String>, notes: &mut Vec<String>) {
    let p = &e["params"];
    match e["method"].as_str().unwrap_or_default() {
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let what = d["exception"]["description"].as_str().or(d["text"].as_str()).unwrap_or("?");
            failures.push(format!(
                "{url}: JavaScript error: {what} (at {}:{})",
                d["url"].as_str().unwrap_or("?"),
                d["lineNumber"].as_u64().map_or(0, |l| l + 1)
            ));
        }
        "Page.javascriptDialogOpening" => failures.push(format!(
            "{url}: a script opened a dialog ({} {:?})",
            p["type"].as_str().unwrap_or("?"),
            p["message"].as_str().unwrap_or_default()
        )),
        "Log.entryAdded" => {
            let entry = &p["entry"];
            let (level, source) = (entry["level"].as_str().unwrap_or(""), entry["source"].as_str().unwrap_or(""));
            let text = entry["text"].as_str().unwrap_or_default();
            let at = entry["url"].as_str().unwrap_or_default();
            let line = format!("{page}: [{source} {level}] {text} {at}");
            let csp = source == "security" || source == "violation" || text.contains("Content Security Policy");
            let site_script = at.contains("/assets/") || text.contains("/assets/") || text.contains("WebAssembly");
            if at.ends_with("/favicon.ico") {
                // Chromium asks every http site for one; the site has none.
            } else if level == "error" && source == "network" {
                failures.push(format!("{url}: a file failed to load: {text} {at}"));
            } else if level == "error" && (source == "javascript" || (csp && site_script)) {
                failures.push(format!("{url}: {text} {at}"));
            } else if level == "error" || level == "warning" {
                notes.push(line);
            }
        }
        "Runtime.consoleAPICalled" => {
            let kind = p["type"].as_str().unwrap_or_default();
            if kind == "error" || kind == "assert" || kind == "warning" {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a["value"].as_str().map(String::from).unwrap_or_else(|| a["description"].to_string()))
                    .collect();
                notes.push(format!("{page}: console.{kind}: {}", args.join(" ")));
            }
        }
        _ => {}
    }
}
