//! Node configuration: `config.toml` in the data directory, every value
//! overridable by an environment variable.
//!
//! | key | environment | default |
//! |---|---|---|
//! | `trust_name` | `CHORUS_TRUST_NAME` | set by `chorus init` |
//! | `role` | `CHORUS_ROLE` (`member`/`observer`) | `member`; `observer` from `chorus init --observer` |
//! | `genesis` | `CHORUS_GENESIS` | `genesis.chorus` (relative to the data dir) |
//! | `listen` | `CHORUS_LISTEN` (comma separated) | `/ip4/0.0.0.0/tcp/7700`, `/ip4/0.0.0.0/udp/7700/quic-v1` |
//! | `bootstrap` | `CHORUS_BOOTSTRAP` (comma separated) | none |
//! | `mdns` | `CHORUS_MDNS` (`true`/`false`) | `false` |
//! | `cache_mb` | `CHORUS_CACHE_MB` | 64 |
//! | `log_level` | `CHORUS_LOG` | `info` |
//! | `log_format` | `CHORUS_LOG_FORMAT` (`human`/`json`) | `human` |
//! | `metrics_addr` | `CHORUS_METRICS_ADDR` (loopback `ip:port`, empty = off) | off |
//! | `http_addr` | `CHORUS_HTTP_ADDR` (`ip:port`, or a port alone for loopback; empty = off) | off |
//! | `publish` | `CHORUS_PUBLISH` (`positions`/`everything`) | `everything` on a loopback `http_addr`, else `positions` |
//! | `base_url` | `CHORUS_BASE_URL` (absolute `http(s)://…/`, for feed links) | none (relative links) |
//! | `sync_interval_ms` | `CHORUS_SYNC_INTERVAL_MS` | 60000 |
//! | `heartbeat_ms` | `CHORUS_HEARTBEAT_MS` | 1000 |
//! | `target_peers` | `CHORUS_TARGET_PEERS` | 24 |
//! | `api_submits_per_minute` | `CHORUS_API_SUBMITS_PER_MINUTE` | 60 (per client address) |
//! | `api_submits_per_minute_per_signer` | `CHORUS_API_SUBMITS_PER_MINUTE_PER_SIGNER` | 30 |
//! | `api_submit_burst` | `CHORUS_API_SUBMIT_BURST` | 20 (submissions at once after a pause) |
//! | `api_submits_per_minute_total` | `CHORUS_API_SUBMITS_PER_MINUTE_TOTAL` | 600 (all clients together, after a burst of 5 × `api_submit_burst`) |
//!
//! The data directory itself is chosen by `--data-dir` or `CHORUS_DATA_DIR`.
//! Unknown keys in the file are an error, so a typo is not silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::{NodeError, Result};

/// The node-wide submission bucket holds this many times `api_submit_burst`.
pub const TOTAL_BURST_FACTOR: u32 = 5;

/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// The `role` of a member trust's node.
pub const ROLE_MEMBER: &str = "member";
/// The `role` of an observer's node.
pub const ROLE_OBSERVER: &str = "observer";

/// A node's configuration after the file and the environment are merged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Display name of this trust, used when drafting a coalition.
    pub trust_name: String,
    /// `member` (a member trust's node) or `observer` (a node that follows
    /// the coalition without being a member's node, PROTOCOL.md 14.9: it
    /// holds no trust key and never signs, publishes or accepts objects to
    /// submit; `chorus init --observer` writes it).
    pub role: String,
    /// The coalition's final genesis file, relative to the data directory.
    pub genesis: PathBuf,
    /// libp2p multiaddrs to listen on.
    pub listen: Vec<String>,
    /// libp2p multiaddrs (with `/p2p/<peer id>`) dialled at start.
    pub bootstrap: Vec<String>,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Store cache size in MiB.
    pub cache_mb: u64,
    /// Log filter (`tracing` env-filter syntax).
    pub log_level: String,
    /// `human` or `json`.
    pub log_format: String,
    /// Loopback address serving `/metrics` and `/health`; `None` disables.
    pub metrics_addr: Option<SocketAddr>,
    /// Address serving the coalition's read-only website; `None` disables.
    pub http_addr: Option<SocketAddr>,
    /// What the website publishes: `positions` or `everything`. `None`:
    /// everything on a loopback address (members reading their own node),
    /// positions only on any other.
    pub publish: Option<String>,
    /// The website's public address, for the absolute links feeds need.
    pub base_url: Option<String>,
    /// Interval between anti-entropy sync rounds with peers.
    pub sync_interval_ms: u64,
    /// Gossip heartbeat interval.
    pub heartbeat_ms: u64,
    /// Member peers the node stays connected to: below this it redials
    /// known members and bootstrap peers (`NetLimits::target_peers`).
    pub target_peers: u64,
    /// Objects one client address (an IPv6 /64) may POST to the HTTP API
    /// per minute, after a burst of `api_submit_burst`.
    pub api_submits_per_minute: u32,
    /// Objects one signing key may have POSTed per minute, from any address.
    pub api_submits_per_minute_per_signer: u32,
    /// Submissions allowed at once, per address and per signer, after a pause.
    pub api_submit_burst: u32,
    /// Objects all clients together may POST to the HTTP API per minute,
    /// after a burst of five times `api_submit_burst`: what bounds a client
    /// that cycles through more addresses or keys than are remembered.
    pub api_submits_per_minute_total: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            trust_name: String::new(),
            role: ROLE_MEMBER.into(),
            genesis: PathBuf::from("genesis.chorus"),
            listen: vec!["/ip4/0.0.0.0/tcp/7700".into(), "/ip4/0.0.0.0/udp/7700/quic-v1".into()],
            bootstrap: vec![],
            mdns: false,
            cache_mb: 64,
            log_level: "info".into(),
            log_format: "human".into(),
            metrics_addr: None,
            http_addr: None,
            publish: None,
            base_url: None,
            sync_interval_ms: 60_000,
            heartbeat_ms: 1_000,
            target_peers: 24,
            api_submits_per_minute: 60,
            api_submits_per_minute_per_signer: 30,
            api_submit_burst: 20,
            api_submits_per_minute_total: 600,
        }
    }
}

/// Checks a trust display name as the protocol will (single line, 1 to 128 bytes).
pub fn check_trust_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > chorus_core::limits::MAX_NAME_BYTES || name.chars().any(char::is_control)
    {
        return Err(NodeError::Config(format!(
            "trust name {name:?} must be a single line of 1 to {} bytes",
            chorus_core::limits::MAX_NAME_BYTES
        )));
    }
    Ok(())
}

impl Config {
    /// The commented file `chorus init` writes.
    pub fn template(trust_name: &str) -> String {
        let name = toml::Value::String(trust_name.to_string()).to_string();
        format!(
            r#"# Chorus node configuration.
# Every value can be overridden by the environment variable named beside it.
# Relative paths are relative to the data directory.

# Display name of this trust, used when drafting a coalition. (CHORUS_TRUST_NAME)
trust_name = {name}

# "member": the node of a member trust (it signs as the trust through its
# attestation or trust key). "observer": a node that follows the coalition
# without being a member's node (`chorus init --observer`): it proves only
# its node key, stores and verifies what members' nodes send it (what the
# charter's observer access allows), serves it, and never signs, publishes
# or takes objects to submit. (CHORUS_ROLE)
role = "member"

# The coalition's final genesis; `chorus coalition join FILE` puts it here. (CHORUS_GENESIS)
genesis = "genesis.chorus"

# Network addresses to listen on (libp2p multiaddrs). (CHORUS_LISTEN, comma separated)
listen = ["/ip4/0.0.0.0/tcp/7700", "/ip4/0.0.0.0/udp/7700/quic-v1"]

# Peers to dial at start, e.g. "/ip4/203.0.113.7/tcp/7700/p2p/12D3Koo...".
# (CHORUS_BOOTSTRAP, comma separated)
bootstrap = []

# Find peers on the local network. (CHORUS_MDNS)
mdns = false

# Store cache in MiB. (CHORUS_CACHE_MB)
cache_mb = 64

# Log filter, e.g. "info" or "chorus_net=debug,info". (CHORUS_LOG)
log_level = "info"
# "human" or "json". (CHORUS_LOG_FORMAT)
log_format = "human"

# Serve /metrics and /health on this loopback address, e.g. "127.0.0.1:9480".
# Leave commented out to disable. (CHORUS_METRICS_ADDR)
# metrics_addr = "127.0.0.1:9480"

# Serve the coalition's read-only website (positions, proposals, feeds,
# certificates verified in the reader's browser) on this address. A port
# alone means loopback, e.g. "127.0.0.1:8080"; put a TLS reverse proxy in
# front to publish it. Leave commented out to disable. (CHORUS_HTTP_ADDR)
# http_addr = "127.0.0.1:8080"
# What the website shows: "positions" (adopted positions only) or
# "everything" (open proposals and stances too). Default: everything on a
# loopback address, positions only on any other. (CHORUS_PUBLISH)
# publish = "positions"
# The website's public address, used for the absolute links in its feeds.
# (CHORUS_BASE_URL)
# base_url = "https://voice.example.org/"

# Milliseconds between sync rounds with peers. (CHORUS_SYNC_INTERVAL_MS)
sync_interval_ms = 60000
# Gossip heartbeat in milliseconds. (CHORUS_HEARTBEAT_MS)
heartbeat_ms = 1000

# Member peers to stay connected to; below this the node redials the
# members it knew and its bootstrap peers every few seconds. (CHORUS_TARGET_PEERS)
target_peers = 24

# The website's server also takes signed objects at POST /api/v1/objects
# (docs/API.md), limited per client address, per signing key and for all
# clients together: so many a minute after a burst (for all together, five
# times the burst). (CHORUS_API_SUBMITS_PER_MINUTE,
# CHORUS_API_SUBMITS_PER_MINUTE_PER_SIGNER, CHORUS_API_SUBMIT_BURST,
# CHORUS_API_SUBMITS_PER_MINUTE_TOTAL)
api_submits_per_minute = 60
api_submits_per_minute_per_signer = 30
api_submit_burst = 20
api_submits_per_minute_total = 600
"#
        )
    }

    /// The commented file `chorus init --observer` writes: [`Config::template`]
    /// with `role = "observer"`, no trust name, and `bootstrap` set to
    /// `bootstrap` (the members' nodes to follow).
    pub fn observer_template(bootstrap: &[String]) -> String {
        let list = toml::Value::Array(bootstrap.iter().cloned().map(toml::Value::String).collect()).to_string();
        Self::template("")
            .replace("role = \"member\"\n", "role = \"observer\"\n")
            .replace("bootstrap = []\n", &format!("bootstrap = {list}\n"))
    }

    /// True when the node runs as an observer (`role = "observer"`).
    pub fn is_observer(&self) -> bool {
        self.role == ROLE_OBSERVER
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| NodeError::Config(e.to_string().trim().replace('\n', " ")))
    }

    /// Loads `file`, then applies environment overrides from the process
    /// environment.
    pub fn load(file: &Path) -> Result<Self> {
        let bytes = crate::datadir::read_bounded(file, MAX_CONFIG_BYTES)?;
        let text =
            String::from_utf8(bytes).map_err(|_| NodeError::Config(format!("{} is not UTF-8 text", file.display())))?;
        let mut config = Self::parse(&text).map_err(|e| NodeError::Config(format!("{}: {e}", file.display())))?;
        config.apply_env(|k| std::env::var(k).ok())?;
        config.check()?;
        Ok(config)
    }

    /// Applies `CHORUS_*` overrides read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<()> {
        let list = |s: String| -> Vec<String> {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
        };
        let num = |k: &str, v: String| -> Result<u64> {
            v.trim().parse().map_err(|_| NodeError::Config(format!("{k}={v:?} is not a whole number")))
        };
        if let Some(v) = get("CHORUS_TRUST_NAME") {
            self.trust_name = v;
        }
        if let Some(v) = get("CHORUS_ROLE") {
            self.role = v.trim().to_string();
        }
        if let Some(v) = get("CHORUS_GENESIS") {
            self.genesis = v.into();
        }
        if let Some(v) = get("CHORUS_LISTEN") {
            self.listen = list(v);
        }
        if let Some(v) = get("CHORUS_BOOTSTRAP") {
            self.bootstrap = list(v);
        }
        if let Some(v) = get("CHORUS_MDNS") {
            self.mdns = match v.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" | "" => false,
                _ => return Err(NodeError::Config(format!("CHORUS_MDNS={v:?} is not true or false"))),
            };
        }
        if let Some(v) = get("CHORUS_CACHE_MB") {
            self.cache_mb = num("CHORUS_CACHE_MB", v)?;
        }
        if let Some(v) = get("CHORUS_LOG") {
            self.log_level = v;
        }
        if let Some(v) = get("CHORUS_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("CHORUS_METRICS_ADDR") {
            self.metrics_addr = if v.trim().is_empty() {
                None
            } else {
                Some(v.trim().parse().map_err(|_| {
                    NodeError::Config(format!("CHORUS_METRICS_ADDR={v:?} is not an ip:port such as 127.0.0.1:9480"))
                })?)
            };
        }
        if let Some(v) = get("CHORUS_HTTP_ADDR") {
            self.http_addr = parse_http_addr(&v)?;
        }
        if let Some(v) = get("CHORUS_PUBLISH") {
            self.publish = (!v.trim().is_empty()).then(|| v.trim().to_string());
        }
        if let Some(v) = get("CHORUS_BASE_URL") {
            self.base_url = (!v.trim().is_empty()).then(|| v.trim().to_string());
        }
        if let Some(v) = get("CHORUS_SYNC_INTERVAL_MS") {
            self.sync_interval_ms = num("CHORUS_SYNC_INTERVAL_MS", v)?;
        }
        if let Some(v) = get("CHORUS_HEARTBEAT_MS") {
            self.heartbeat_ms = num("CHORUS_HEARTBEAT_MS", v)?;
        }
        if let Some(v) = get("CHORUS_TARGET_PEERS") {
            self.target_peers = num("CHORUS_TARGET_PEERS", v)?;
        }
        let rate = |k: &str, v: String| -> Result<u32> {
            u32::try_from(num(k, v.clone())?).map_err(|_| NodeError::Config(format!("{k}={v:?} is too large")))
        };
        if let Some(v) = get("CHORUS_API_SUBMITS_PER_MINUTE") {
            self.api_submits_per_minute = rate("CHORUS_API_SUBMITS_PER_MINUTE", v)?;
        }
        if let Some(v) = get("CHORUS_API_SUBMITS_PER_MINUTE_PER_SIGNER") {
            self.api_submits_per_minute_per_signer = rate("CHORUS_API_SUBMITS_PER_MINUTE_PER_SIGNER", v)?;
        }
        if let Some(v) = get("CHORUS_API_SUBMIT_BURST") {
            self.api_submit_burst = rate("CHORUS_API_SUBMIT_BURST", v)?;
        }
        if let Some(v) = get("CHORUS_API_SUBMITS_PER_MINUTE_TOTAL") {
            self.api_submits_per_minute_total = rate("CHORUS_API_SUBMITS_PER_MINUTE_TOTAL", v)?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn check(&self) -> Result<()> {
        if let Some(a) = self.metrics_addr {
            if !a.ip().is_loopback() {
                return Err(NodeError::Config(format!(
                    "metrics_addr {a} is not a loopback address; metrics are served on 127.0.0.1 or ::1 only \
                     (put a reverse proxy in front to expose them)"
                )));
            }
        }
        if self.role != ROLE_MEMBER && self.role != ROLE_OBSERVER {
            return Err(NodeError::Config(format!("role {:?} must be \"member\" or \"observer\"", self.role)));
        }
        if let Some(p) = &self.publish {
            if p != "positions" && p != "everything" {
                return Err(NodeError::Config(format!("publish {p:?} must be \"positions\" or \"everything\"")));
            }
        }
        if let Some(u) = &self.base_url {
            check_base_url(u)?;
        }
        if self.log_format != "human" && self.log_format != "json" {
            return Err(NodeError::Config(format!("log_format {:?} must be \"human\" or \"json\"", self.log_format)));
        }
        if self.sync_interval_ms == 0 || self.heartbeat_ms == 0 {
            return Err(NodeError::Config("sync_interval_ms and heartbeat_ms must be above 0".into()));
        }
        if !(1..=10_000).contains(&self.target_peers) {
            return Err(NodeError::Config(format!("target_peers {} must be 1 to 10000", self.target_peers)));
        }
        Ok(())
    }

    /// Whether the website publishes everything (else positions only).
    pub fn publishes_everything(&self) -> bool {
        match self.publish.as_deref() {
            Some(p) => p == "everything",
            None => self.http_addr.is_some_and(|a| a.ip().is_loopback()),
        }
    }

    /// The HTTP API's submission limits.
    pub fn submit_limits(&self) -> crate::api::SubmitLimits {
        use crate::api::ratelimit::Rate;
        crate::api::SubmitLimits {
            per_address: Rate { per_minute: self.api_submits_per_minute, burst: self.api_submit_burst },
            per_signer: Rate { per_minute: self.api_submits_per_minute_per_signer, burst: self.api_submit_burst },
            total: Rate {
                per_minute: self.api_submits_per_minute_total,
                burst: self.api_submit_burst.saturating_mul(TOTAL_BURST_FACTOR),
            },
        }
    }

    /// The genesis path, resolved against the data directory.
    pub fn genesis_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.genesis)
    }
}

/// `CHORUS_HTTP_ADDR`: `ip:port`, a port alone (loopback), or empty (off).
fn parse_http_addr(v: &str) -> Result<Option<SocketAddr>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(port) = v.parse::<u16>() {
        return Ok(Some(SocketAddr::from(([127, 0, 0, 1], port))));
    }
    v.parse().map(Some).map_err(|_| {
        NodeError::Config(format!(
            "CHORUS_HTTP_ADDR={v:?} is not an ip:port such as 127.0.0.1:8080 (or a port alone, for loopback)"
        ))
    })
}

/// A base URL for feeds: absolute http(s), ending in `/`, no query or
/// fragment, no control characters or spaces.
pub fn check_base_url(u: &str) -> Result<()> {
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 512
        && u.ends_with('/')
        && u.split("://").nth(1).is_some_and(|rest| rest.len() > 1)
        && !u.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '"' | '<' | '>'));
    if !ok {
        return Err(NodeError::Config(format!(
            "base_url {u:?} must be an absolute http:// or https:// address ending in '/', \
             such as \"https://voice.example.org/\""
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults_with_name() {
        let c = Config::parse(&Config::template("Oak \"Valley\" Trust")).unwrap();
        assert_eq!(c, Config { trust_name: "Oak \"Valley\" Trust".into(), ..Config::default() });
    }

    #[test]
    fn the_observer_template_marks_the_role_and_names_the_bootstrap_peers() {
        let peers = vec!["/ip4/127.0.0.1/tcp/7700/p2p/12D3KooW".to_string()];
        let c = Config::parse(&Config::observer_template(&peers)).unwrap();
        assert!(c.is_observer());
        assert_eq!(c, Config { role: ROLE_OBSERVER.into(), bootstrap: peers, ..Config::default() });
        assert!(!Config::default().is_observer());
        let mut c = Config::default();
        c.apply_env(|k| (k == "CHORUS_ROLE").then(|| " observer ".to_string())).unwrap();
        assert!(c.is_observer());
        c.role = "watcher".into();
        assert!(c.check().unwrap_err().to_string().contains("role \"watcher\" must be \"member\" or \"observer\""));
    }

    #[test]
    fn the_website_publishes_positions_only_unless_loopback_or_told() {
        let mut c = Config { http_addr: Some("0.0.0.0:80".parse().unwrap()), ..Config::default() };
        assert!(!c.publishes_everything());
        c.publish = Some("everything".into());
        assert!(c.publishes_everything());
        c.publish = Some("all".into());
        assert!(c.check().unwrap_err().to_string().contains("publish"));
        for bad in ["voice.example.org", "https://x.org", "javascript:alert(1)/", "https://x.org/?a/", "https:///"] {
            let c = Config { base_url: Some(bad.into()), ..Config::default() };
            assert!(c.check().is_err(), "{bad}");
        }
        assert!(parse_http_addr("nonsense").is_err());
        assert_eq!(parse_http_addr(" ").unwrap(), None);
    }

    #[test]
    fn environment_overrides_every_value() {
        let mut c = Config::default();
        let env = |k: &str| {
            Some(
                match k {
                    "CHORUS_LISTEN" => "/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2",
                    "CHORUS_MDNS" => "true",
                    "CHORUS_CACHE_MB" => "8",
                    "CHORUS_METRICS_ADDR" => "127.0.0.1:9000",
                    "CHORUS_GENESIS" => "/tmp/g",
                    "CHORUS_HTTP_ADDR" => "8080",
                    "CHORUS_BASE_URL" => "https://voice.example.org/",
                    "CHORUS_TARGET_PEERS" => "4",
                    "CHORUS_API_SUBMITS_PER_MINUTE" => "6",
                    "CHORUS_API_SUBMITS_PER_MINUTE_PER_SIGNER" => "3",
                    "CHORUS_API_SUBMIT_BURST" => "2",
                    "CHORUS_API_SUBMITS_PER_MINUTE_TOTAL" => "9",
                    _ => return None,
                }
                .to_string(),
            )
        };
        c.apply_env(env).unwrap();
        assert_eq!(c.listen.len(), 2);
        assert!(c.mdns);
        assert_eq!(c.cache_mb, 8);
        assert_eq!(c.target_peers, 4);
        assert_eq!((c.api_submits_per_minute, c.api_submits_per_minute_per_signer, c.api_submit_burst), (6, 3, 2));
        assert_eq!(c.api_submits_per_minute_total, 9);
        assert_eq!(c.submit_limits().total, crate::api::ratelimit::Rate { per_minute: 9, burst: 10 });
        assert_eq!(c.genesis_path(Path::new("/data")), PathBuf::from("/tmp/g"));
        assert_eq!(c.http_addr, Some("127.0.0.1:8080".parse().unwrap()));
        assert!(c.publishes_everything(), "members read everything on their own loopback node");
        c.check().unwrap();
        let bad = c.apply_env(|k| (k == "CHORUS_CACHE_MB").then(|| "lots".to_string()));
        assert!(bad.unwrap_err().to_string().contains("CHORUS_CACHE_MB"));
    }

    #[test]
    fn typos_and_public_metrics_are_refused() {
        assert!(Config::parse("mdsn = true").is_err());
        let c = Config { metrics_addr: Some("0.0.0.0:9000".parse().unwrap()), ..Config::default() };
        assert!(c.check().unwrap_err().to_string().contains("loopback"));
        let c = Config::parse("target_peers = 0").unwrap();
        assert!(c.check().unwrap_err().to_string().contains("target_peers"));
    }
}
