//! What `deploy/` says agrees with what is built and run: every metric the
//! Prometheus alert rules and the Grafana dashboard query is one a real
//! `chorus node run` serves on `/metrics`, of the type the query treats it
//! as, with the labels and label values the node writes; the Dockerfile
//! builds with the workspace's `rust-version`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use chorus_node::control::{Client, Request};
use chorus_node::datadir::DataDir;
use chorus_system_tests::{found, Nodes};

/// The workspace root (this package is `tests/` in it).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Series Prometheus itself makes for every scrape target.
const PROMETHEUS_SERIES: &[&str] = &["up", "scrape_duration_seconds", "scrape_samples_scraped"];
/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// The PromQL expressions of the alert rules: each `expr:` value, on its
/// line or in the block scalar (`|`, `>-`...) indented below it.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else { continue };
        let value = value.trim();
        if !value.starts_with(['|', '>']) {
            exprs.push(value.to_string());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .map(|l| l.trim())
            .collect();
        exprs.push(block.join(" "));
    }
    exprs
}

/// Every `"expr"` of the dashboard's panel targets.
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("every panel has targets") {
            exprs.push(target["expr"].as_str().expect("a target's expr").to_string());
        }
    }
    exprs
}

/// What a PromQL expression refers to.
#[derive(Debug, Default)]
struct Uses {
    /// Series names.
    metrics: BTreeSet<String>,
    /// Series names inside a range function (`rate(x[5m])`): counters.
    ranged: BTreeSet<String>,
    /// Label names in selectors and `by (...)`.
    labels: BTreeSet<String>,
    /// `label="value"` or `label=~"a|b"` matchers, values split at `|`.
    values: Vec<(String, String)>,
}

const PROMQL_WORDS: &[&str] = &[
    "sum",
    "by",
    "without",
    "and",
    "or",
    "unless",
    "rate",
    "increase",
    "resets",
    "changes",
    "max",
    "min",
    "avg",
    "count",
    "label_values",
    "offset",
    "on",
    "ignoring",
    "printf",
    "time",
];
const RANGE_FUNCTIONS: &[&str] = &["rate", "increase", "resets", "irate", "delta"];

/// A scan of a PromQL expression, enough for the expressions of `deploy/`:
/// identifiers outside strings are series names unless they are PromQL
/// words, or label names inside `{...}` and `by (...)`; matchers are read
/// from inside `{...}`.
fn scan(expr: &str) -> Uses {
    let mut uses = Uses::default();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut last_word = String::new();
    let mut pending_range_function = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            let end = chars[i..].iter().position(|&c| c == '}').expect("closing brace") + i;
            let inside: String = chars[i + 1..end].iter().collect();
            for matcher in inside.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let op = matcher.find(['=', '!']).expect("a matcher has an operator");
                let label = matcher[..op].trim().to_string();
                let value = matcher[op..].trim_start_matches(['=', '!', '~']).trim().trim_matches('"');
                uses.labels.insert(label.clone());
                for v in value.split('|') {
                    uses.values.push((label.clone(), v.to_string()));
                }
            }
            i = end + 1;
        } else if c == '(' && (last_word == "by" || last_word == "without") {
            let end = chars[i..].iter().position(|&c| c == ')').expect("closing parenthesis") + i;
            let inside: String = chars[i + 1..end].iter().collect();
            uses.labels.extend(inside.split(',').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()));
            last_word.clear();
            i = end + 1;
        } else if c == '[' {
            // A range or a duration: skip it.
            i += chars[i..].iter().position(|&c| c == ']').expect("closing bracket") + 1;
        } else if c == '"' {
            i += chars[i + 1..].iter().position(|&c| c == '"').expect("closing quote") + 2;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if RANGE_FUNCTIONS.contains(&word.as_str()) {
                pending_range_function = true;
            } else if !PROMQL_WORDS.contains(&word.as_str()) && !word.starts_with('$') {
                if pending_range_function {
                    uses.ranged.insert(word.clone());
                    pending_range_function = false;
                }
                uses.metrics.insert(word.clone());
            }
            last_word = word;
        } else if c == '$' {
            // A Grafana variable ($instance): not a name.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            if !c.is_whitespace() && c != '(' {
                last_word.clear();
            }
            i += 1;
        }
    }
    uses
}

#[test]
fn the_scanner_reads_names_labels_and_values() {
    let u = scan(r#"sum by (instance, reason) (rate(a_total{job="x", reason=~"p|q"}[5m])) * 60 > 2 and b == 0"#);
    assert_eq!(u.metrics, BTreeSet::from(["a_total".to_string(), "b".to_string()]));
    assert_eq!(u.ranged, BTreeSet::from(["a_total".to_string()]));
    assert_eq!(u.labels, BTreeSet::from(["instance".to_string(), "job".to_string(), "reason".to_string()]));
    assert!(u.values.contains(&("reason".into(), "q".into())), "{:?}", u.values);
    let block = "  - alert: A\n    expr: |\n      up == 0\n      and b\n    for: 2m\n  - alert: B\n    expr: c > 1\n";
    assert_eq!(rule_exprs(block), ["up == 0 and b", "c > 1"]);
}

/// What a scrape says: sample name to type (`counter`, `gauge`...), and the
/// label names seen on samples.
struct Scrape {
    types: BTreeMap<String, String>,
    labels: BTreeSet<String>,
}

/// Reads OpenMetrics text: `# TYPE name type` declares a family (whose
/// counter samples end in `_total`), and sample lines show labels.
fn parse_scrape(text: &str) -> Scrape {
    let mut types = BTreeMap::new();
    let mut labels = BTreeSet::new();
    for line in text.lines() {
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            let mut parts = decl.split_whitespace();
            let (name, kind) = (parts.next().expect("a name"), parts.next().expect("a type"));
            let sample = if kind == "counter" { format!("{name}_total") } else { name.to_string() };
            types.insert(sample, kind.to_string());
        } else if !line.starts_with('#') {
            if let (Some(open), Some(close)) = (line.find('{'), line.find('}')) {
                for pair in line[open + 1..close].split(',') {
                    labels.insert(pair.split('=').next().unwrap_or("").to_string());
                }
            }
        }
    }
    Scrape { types, labels }
}

/// `GET path` on `addr`, the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    // One write, though the node reads a head sent in pieces as well
    // (chorus-node's metrics tests).
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "GET {path}: {reply}");
    reply.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

/// The metrics address a node logged (`serving /metrics ... bound=...`).
fn logged_metrics_addr(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("serving /metrics"))?;
    let at = line.find("127.0.0.1:")?;
    let addr: String = line[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    Some(addr)
}

/// The refusal reasons the node writes as the `reason` label: the string
/// arms of `reason_name` in chorus-node's metrics module.
fn refusal_reasons() -> BTreeSet<String> {
    let source = read("crates/chorus-node/src/metrics.rs");
    let body = source.split("pub fn reason_name").nth(1).expect("reason_name in metrics.rs");
    let body = &body[..body.find("\n}\n").expect("end of reason_name")];
    let reasons: BTreeSet<String> =
        body.split("=> \"").skip(1).filter_map(|s| s.split('"').next()).map(String::from).collect();
    assert!(reasons.contains("bad_signature"), "reasons read from metrics.rs: {reasons:?}");
    reasons
}

#[test]
fn alert_rules_and_dashboard_query_only_what_a_node_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let (dirs, _genesis) = found(tmp.path(), &["Oak Trust", "Elm Trust"]);
    let mut nodes = Nodes::new();
    nodes.start_with(&dirs[0], &[], &[("CHORUS_METRICS_ADDR", "127.0.0.1:0")]);
    let first = nodes.wait_listening(&dirs[0]);
    nodes.start(&dirs[1], &first);
    nodes.wait_peers(&dirs[0], 1);
    // The refusal counter appears on the first refusal (a family without
    // series is not written): one object the node refuses, through its
    // control socket as the CLI submits one.
    let refused =
        Client::new(DataDir::new(&dirs[0]).socket_path()).call_value(&Request::Submit { envelope: "00".into() });
    assert!(refused.is_err(), "a one-byte object is refused: {refused:?}");
    let log = dirs[0].with_file_name("node-0.log");
    let addr = nodes.eventually("node-0 logging its metrics address", || logged_metrics_addr(&log));
    assert_eq!(http_get(&addr, "/health").trim(), "ok");
    let text = http_get(&addr, "/metrics");
    let scrape = parse_scrape(&text);
    assert!(scrape.types.contains_key("chorus_peers"), "{text}");
    assert!(text.contains("chorus_objects_refused_total{reason=\"malformed\"} 1"), "{text}");

    let rules = read("deploy/prometheus/chorus-alerts.yml");
    let rule_exprs = rule_exprs(&rules);
    let alerts = rules.lines().filter(|l| l.trim_start().starts_with("- alert:")).count();
    assert_eq!(rule_exprs.len(), alerts, "every alert has one expr");
    for key in ["severity:", "summary:", "description:"] {
        let n = rules.lines().filter(|l| l.trim_start().starts_with(key)).count();
        assert_eq!(n, alerts, "every alert has a {key}");
    }
    let dashboard: serde_json::Value = serde_json::from_str(&read("deploy/grafana/chorus-dashboard.json")).unwrap();
    let mut exprs: Vec<(&str, String)> = rule_exprs.into_iter().map(|e| ("alert rule", e)).collect();
    exprs.extend(dashboard_exprs(&dashboard).into_iter().map(|e| ("dashboard", e)));
    let variable = dashboard["templating"]["list"][0]["query"]["query"].as_str().expect("the instance variable");
    // label_values(SELECTOR, LABEL): the selector is PromQL, the label is
    // one of the target's.
    let (selector, label) = variable
        .strip_prefix("label_values(")
        .and_then(|v| v.strip_suffix(')'))
        .and_then(|v| v.rsplit_once(','))
        .expect("the instance variable is label_values(selector, label)");
    assert!(TARGET_LABELS.contains(&label.trim()), "the dashboard's variable lists {label}");
    exprs.push(("dashboard variable", selector.to_string()));

    let reasons = refusal_reasons();
    let mut used = BTreeSet::new();
    for (place, expr) in &exprs {
        let uses = scan(expr);
        for metric in &uses.metrics {
            assert!(
                scrape.types.contains_key(metric) || PROMETHEUS_SERIES.contains(&metric.as_str()),
                "the {place} `{expr}` uses {metric}, which the node does not serve:\n{text}"
            );
            used.insert(metric.clone());
        }
        for metric in &uses.ranged {
            assert_eq!(
                scrape.types.get(metric).map(String::as_str),
                Some("counter"),
                "the {place} `{expr}` takes a rate of {metric}, which is not a counter"
            );
        }
        for label in &uses.labels {
            assert!(
                TARGET_LABELS.contains(&label.as_str()) || label == "reason" || scrape.labels.contains(label),
                "the {place} `{expr}` uses the label {label}, which no series has"
            );
        }
        for (label, value) in &uses.values {
            match label.as_str() {
                "reason" => assert!(reasons.contains(value), "the {place} `{expr}`: no refusal reason {value}"),
                "job" => assert_eq!(value, "chorus", "the {place} `{expr}`: the scrape job is `chorus`"),
                _ => {}
            }
        }
    }
    // The rules and the dashboard together watch every metric the node has.
    for metric in scrape.types.keys() {
        assert!(used.contains(metric), "{metric} is served but neither alerted on nor shown on the dashboard");
    }
}

/// `major.minor` of a version string (`1.89`, `1.89.0`).
fn major_minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or_else(|_| panic!("version {version}")));
    (parts.next().expect("major"), parts.next().expect("minor"))
}

/// The Docker image builds with the workspace's `rust-version`: every
/// `FROM rust:` line pins a version (not `latest` or a bare `1`) whose
/// major.minor is the `rust-version` of `[workspace.package]`, so the
/// image builds with what the workspace says it needs and tests with.
#[test]
fn the_dockerfile_builds_with_the_workspace_rust_version() {
    let manifest = read("Cargo.toml");
    let package = manifest.split("[workspace.package]").nth(1).expect("[workspace.package]");
    let line = package.lines().find(|l| l.trim_start().starts_with("rust-version")).expect("rust-version");
    let wanted = major_minor(line.split('"').nth(1).expect("a quoted rust-version"));

    let dockerfile = read("deploy/Dockerfile");
    let images: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .filter_map(|from| from.split_whitespace().next()?.strip_prefix("rust:"))
        .collect();
    assert!(!images.is_empty(), "deploy/Dockerfile builds FROM a rust: image");
    for tag in images {
        let version = tag.split('-').next().unwrap_or("");
        assert!(
            version.split('.').count() >= 2 && version.chars().all(|c| c.is_ascii_digit() || c == '.'),
            "rust:{tag} is not pinned to a major.minor version"
        );
        assert_eq!(
            major_minor(version),
            wanted,
            "deploy/Dockerfile builds with rust:{tag}, the workspace's rust-version is {}.{}",
            wanted.0,
            wanted.1
        );
    }
}
