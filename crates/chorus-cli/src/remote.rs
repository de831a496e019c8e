//! Remotes: a node's HTTP API (docs/API.md) used from a leader's own
//! machine, with the coalition pinned by its genesis file.
//!
//! What is checked here, against the pinned genesis: the node's genesis
//! is the pinned one byte for byte; every envelope it serves is verified
//! (form, coalition, signature by the key it names) and its id recomputed
//! from its bytes, so a text that was altered is caught; and a signer is
//! called the author's (or the trust's) own only when it is that trust's
//! founding key in the genesis. What only the node's ledger can tell (the
//! roster after the genesis, keys of admitted trusts, delegations in force,
//! which stances count, the status) is the node's view and labelled so:
//! the leader signs only ids recomputed here, and every node that receives
//! the signed object validates it again. Everything from the node is
//! printed with control and invisible characters escaped
//! ([`crate::output::safe_line`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use chorus_core::{Coalition, Ledger, Object, ObjectId, Proposal, PublicKey};
use chorus_node::control::{MemberInfo, RosterInfo, SubmitOutcome, SubmitResult};
use serde::{Deserialize, Serialize};

use crate::error::Usage;

/// The most a proposal's answer may weigh: one with a stance from each of
/// 10,000 members, base64-encoded, with the node's view, stays under it.
const MAX_PROPOSAL_BYTES: u64 = 16 * 1024 * 1024;
/// The most any other read answer may weigh (a list, the roster, one
/// object): parsed answers take several times their size in memory.
const MAX_ANSWER_BYTES: u64 = 8 * 1024 * 1024;
/// A whole request, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The directory holding remotes: `$CHORUS_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/chorus`, else `~/.config/chorus`.
pub fn config_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("CHORUS_CONFIG_DIR") {
        return d;
    }
    if let Some(d) = var("XDG_CONFIG_HOME") {
        return d.join("chorus");
    }
    var("HOME").map_or_else(|| PathBuf::from("chorus-config"), |h| h.join(".config/chorus"))
}

/// One configured remote, as stored in `<config dir>/remotes/NAME.json`;
/// the pinned genesis is `NAME.genesis` beside it, its exact bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemoteEntry {
    /// The name the leader gave it.
    pub name: String,
    /// The node's base URL, e.g. `https://voice.example.org/`.
    pub url: String,
    /// The pinned coalition id, hex.
    pub coalition: String,
    /// The coalition's name, from the pinned genesis.
    pub coalition_name: String,
}

/// Checks a remote's name: 1 to 64 letters, digits, `-` or `_`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(Usage(format!("remote name {name:?}: use 1 to 64 letters, digits, '-' or '_'")).into());
    }
    Ok(())
}

/// Checks and normalises a node URL: `http` or `https`, with a host, and
/// no query or fragment; the result ends with `/`.
pub fn normalise_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Usage(format!("{url:?} is not an http:// or https:// URL")))?;
    if rest.is_empty() || rest.starts_with('/') || url.contains(['?', '#', ' ']) {
        return Err(Usage(format!("{url:?} is not a node URL like https://voice.example.org/")).into());
    }
    if rest.split('/').next().is_some_and(|authority| authority.contains('@')) {
        return Err(Usage(format!("{url:?} holds a user name or password: the API needs none; leave it out")).into());
    }
    Ok(if url.ends_with('/') { url.to_string() } else { format!("{url}/") })
}

fn remotes_dir() -> PathBuf {
    config_dir().join("remotes")
}

/// Saves a remote with its genesis bytes: new, or replacing one of the
/// same name for the same coalition (a new URL). A remote of that name
/// pinned to another coalition is an error: it is removed first, on
/// purpose.
pub fn save(entry: &RemoteEntry, genesis: &[u8]) -> Result<PathBuf> {
    let dir = remotes_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let json = dir.join(format!("{}.json", entry.name));
    if json.exists() {
        if let Ok(old) = read_entry(&json) {
            if old.coalition != entry.coalition {
                bail!(
                    "remote {:?} is pinned to coalition {:?} ({}); to pin it to another, run `chorus remote remove {}` first",
                    entry.name,
                    old.coalition_name,
                    old.coalition,
                    entry.name
                );
            }
        }
    }
    chorus_node::datadir::write_atomic(&dir.join(format!("{}.genesis", entry.name)), genesis, 0o644)?;
    let text = serde_json::to_vec_pretty(entry).context("cannot encode the remote")?;
    chorus_node::datadir::write_atomic(&json, &text, 0o644)?;
    Ok(json)
}

/// Every configured remote, by name.
pub fn list() -> Result<Vec<RemoteEntry>> {
    let dir = remotes_dir();
    let Ok(read) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in read.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            // One damaged file does not hide the others.
            match read_entry(&path) {
                Ok(e) if path.file_stem().and_then(|s| s.to_str()) == Some(e.name.as_str()) => out.push(e),
                Ok(_) => eprintln!("warning: {} names another remote: remove it and add it again", path.display()),
                Err(e) => eprintln!("warning: {}", crate::error::one_line(&e)),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn read_entry(path: &Path) -> Result<RemoteEntry> {
    let bytes = chorus_node::datadir::read_bounded(path, 64 * 1024)?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a remote: remove it and add it again", path.display()))
}

/// Removes a remote; an error when there is none of that name.
pub fn remove(name: &str) -> Result<()> {
    check_name(name)?;
    let dir = remotes_dir();
    let json = dir.join(format!("{name}.json"));
    if !json.exists() {
        bail!("there is no remote {name:?}; `chorus remote list` shows them");
    }
    std::fs::remove_file(&json).with_context(|| format!("cannot remove {}", json.display()))?;
    let _ = std::fs::remove_file(dir.join(format!("{name}.genesis")));
    Ok(())
}

/// A configured remote, ready to use: its entry, the pinned coalition
/// (verified from the pinned genesis bytes), and an HTTP agent.
pub struct Remote {
    /// The stored entry.
    pub entry: RemoteEntry,
    /// The pinned coalition.
    pub coalition: Coalition,
    genesis: Vec<u8>,
    agent: ureq::Agent,
}

/// What a node answered to a submitted object.
pub enum Submitted {
    /// Stored, already held, or waiting for what it relies on.
    Accepted(SubmitResult),
    /// Refused for good, with the node's reason and its short code.
    Refused {
        /// The ledger's reason.
        reason: String,
        /// The reason's label (`bad_signature`, `unknown_signer`, ...).
        code: String,
    },
}

/// A proposal served by a remote, verified here.
pub struct RemoteProposal {
    /// The id, recomputed from the envelope bytes.
    pub id: ObjectId,
    /// The proposal as signed.
    pub proposal: Proposal,
    /// The key that signed it.
    pub signer: PublicKey,
    /// True when that key is the author's own founding key in the pinned
    /// genesis; otherwise whether it is a key of the author is the
    /// node's view.
    pub signer_is_author: bool,
    /// Every stance envelope the node served, verified here: (trust key,
    /// stance name, comment, signing time, signing key).
    pub stances: Vec<RemoteStance>,
    /// The node's view (`node_view` of the answer), unverified.
    pub node_view: serde_json::Value,
}

/// One stance record served with a proposal, verified here.
#[derive(Clone, Debug, Serialize)]
pub struct RemoteStance {
    /// The record's id.
    pub id: ObjectId,
    /// The trust it is for, hex.
    pub trust: String,
    /// `endorse`, `object` or `abstain`.
    pub stance: String,
    /// The comment signed with it.
    pub comment: Option<String>,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// The delegation it was signed under, if any.
    pub delegation: Option<ObjectId>,
    /// The key that signed it, hex.
    pub signer: String,
    /// True when that key is the trust's own founding key in the pinned
    /// genesis; otherwise (a leader's key, an admitted trust's key, a
    /// rotated key) that it may sign for the trust is the node's view.
    pub signer_is_trust: bool,
}

#[derive(Deserialize)]
struct EnvelopeJson {
    id: String,
    envelope: String,
}

#[derive(Deserialize)]
struct ProposalAnswer {
    id: String,
    proposal: EnvelopeJson,
    stances: Vec<EnvelopeJson>,
    node_view: serde_json::Value,
}

#[derive(Deserialize)]
struct RosterAnswer {
    coalition: String,
    version: String,
    heads: Vec<String>,
    members: Vec<RosterMember>,
    rules: RosterRules,
    required: usize,
    /// Absent from nodes of versions before attributes.
    #[serde(default)]
    sets: chorus_node::control::CharterSetsInfo,
}

#[derive(Deserialize)]
struct RosterMember {
    trust: String,
    name: String,
    root_key: String,
    external_id: Option<String>,
    #[serde(default)]
    attributes: chorus_node::control::AttributesInfo,
}

#[derive(Deserialize)]
struct RosterRules {
    positions: String,
    membership: String,
    amendments: String,
}

fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .http_status_as_error(false)
        // An answer comes from the URL pinned, never from elsewhere.
        .max_redirects(0)
        .user_agent(concat!("chorus/", env!("CARGO_PKG_VERSION")))
        .build();
    ureq::Agent::new_with_config(config)
}

fn decode_b64(what: &str, s: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| anyhow!("{what} is not base64"))
}

impl Remote {
    /// Loads remote `name` and verifies its pinned genesis.
    pub fn load(name: &str) -> Result<Remote> {
        check_name(name)?;
        let dir = remotes_dir();
        let json = dir.join(format!("{name}.json"));
        if !json.exists() {
            return Err(Usage(format!(
                "there is no remote {name:?}: add it with `chorus remote add {name} URL --genesis FILE`"
            ))
            .into());
        }
        let entry = read_entry(&json)?;
        let genesis_path = dir.join(format!("{name}.genesis"));
        let coalition = chorus_node::founding::load_final(&genesis_path)?;
        if coalition.id().to_hex() != entry.coalition {
            bail!(
                "{} does not match the coalition pinned in {}: add the remote again",
                genesis_path.display(),
                json.display()
            );
        }
        let genesis = coalition.genesis_envelope().bytes().to_vec();
        Ok(Remote { entry, coalition, genesis, agent: agent() })
    }

    /// A remote not yet saved: `url` with the coalition of `genesis`.
    pub fn new(name: &str, url: &str, coalition: Coalition) -> Result<Remote> {
        check_name(name)?;
        let url = normalise_url(url)?;
        let entry = RemoteEntry {
            name: name.to_string(),
            url,
            coalition: coalition.id().to_hex(),
            coalition_name: coalition.name().to_string(),
        };
        let genesis = coalition.genesis_envelope().bytes().to_vec();
        Ok(Remote { entry, coalition, genesis, agent: agent() })
    }

    /// The pinned genesis's exact bytes.
    pub fn genesis_bytes(&self) -> &[u8] {
        &self.genesis
    }

    fn url(&self, path: &str) -> String {
        format!("{}api/v1/{path}", self.entry.url)
    }

    /// `GET /api/v1/<path>` as JSON, at most `MAX_ANSWER_BYTES`; `Ok(None)` on 404.
    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        self.get_bounded(path, MAX_ANSWER_BYTES)
    }

    /// `GET /api/v1/<path>` as JSON, at most `limit` bytes; `Ok(None)` on 404.
    fn get_bounded<T: serde::de::DeserializeOwned>(&self, path: &str, limit: u64) -> Result<Option<T>> {
        let url = self.url(path);
        let mut resp = self.agent.get(&url).call().map_err(|e| {
            anyhow!("cannot reach {url}: {e}; check the address (`chorus remote list`) and that the node runs")
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| anyhow!("cannot read the answer of {url}: {e}"))?;
        match status {
            200 => serde_json::from_slice(&body).map(Some).map_err(|e| {
                anyhow!("{url} answered with JSON this version does not read ({e}): is it a Chorus node?")
            }),
            404 => Ok(None),
            300..=399 => Err(anyhow!("{url} redirects elsewhere ({status}); use the address it redirects to")),
            _ => Err(anyhow!("{url} answered {status}: {}", error_message(&body))),
        }
    }

    /// Checks that the node serves the pinned coalition: its genesis is
    /// the pinned genesis byte for byte.
    pub fn check_coalition(&self) -> Result<()> {
        #[derive(Deserialize)]
        struct CoalitionAnswer {
            id: String,
            name: String,
            genesis: EnvelopeJson,
        }
        let url = &self.entry.url;
        let c: CoalitionAnswer = self.get("coalition")?.ok_or_else(|| {
            anyhow!("{url} does not serve the Chorus API (no /api/v1/coalition): is it a node with http_addr set?")
        })?;
        let bytes = decode_b64("the node's genesis", &c.genesis.envelope)?;
        if bytes != self.genesis {
            bail!(
                "the node at {url} serves coalition {} ({:?}), not {} ({:?}) pinned for remote {:?}: check the URL, \
                 or add the remote again with the right genesis file",
                c.id,
                c.name,
                self.entry.coalition,
                self.entry.coalition_name,
                self.entry.name
            );
        }
        Ok(())
    }

    /// The proposals the node lists (its view: ids, titles, status).
    pub fn proposals(&self) -> Result<serde_json::Value> {
        let v: serde_json::Value = self.get("proposals")?.ok_or_else(|| anyhow!("the node does not list proposals"))?;
        if !v["proposals"].is_array() {
            bail!("the node's proposal list has no \"proposals\" array");
        }
        Ok(v)
    }

    /// The full id of the proposal `id_or_prefix` names among those the
    /// node lists.
    pub fn resolve(&self, id_or_prefix: &str) -> Result<ObjectId> {
        let want = id_or_prefix.trim().to_ascii_lowercase();
        if let Ok(id) = want.parse::<ObjectId>() {
            return Ok(id);
        }
        if want.is_empty() || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Usage(format!("{id_or_prefix:?} is not a proposal id or a prefix of one (hex)")).into());
        }
        let list = self.proposals()?;
        let ids: Vec<&str> = list["proposals"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["id"].as_str())
            .filter(|id| id.starts_with(&want))
            .collect();
        match ids.as_slice() {
            [one] => one.parse().map_err(|_| anyhow!("the node listed a proposal id that is not one: {one:?}")),
            [] => bail!("the node lists no proposal whose id starts with {want}"),
            _ => Err(Usage(format!("{want} is the start of {} proposal ids: give more of it", ids.len())).into()),
        }
    }

    /// Fetches proposal `id` and verifies it and its stances against the
    /// pinned coalition. Any envelope that does not verify is an error
    /// saying that nothing was signed.
    pub fn proposal(&self, id: ObjectId) -> Result<RemoteProposal> {
        let url = &self.entry.url;
        let a: ProposalAnswer = self
            .get_bounded(&format!("proposals/{id}"), MAX_PROPOSAL_BYTES)?
            .ok_or_else(|| anyhow!("the node at {url} holds no proposal {id} (or does not publish it)"))?;
        let refuse = |what: String| anyhow!("the node at {url} sent {what}; nothing was signed");
        if a.id != id.to_hex() || a.proposal.id != a.id {
            return Err(refuse(format!("proposal {} when asked for {id}", a.proposal.id)));
        }
        let bytes = decode_b64("the proposal envelope", &a.proposal.envelope).map_err(|e| refuse(e.to_string()))?;
        let checked = Ledger::check_signature(&self.coalition, &bytes).map_err(|e| {
            refuse(format!("a proposal {id} that does not verify against coalition {} ({e})", self.entry.coalition))
        })?;
        if checked.id() != id {
            return Err(refuse(format!(
                "a proposal whose bytes hash to {}, not to the id {id} it was asked for: it was altered",
                checked.id()
            )));
        }
        let Object::Proposal(proposal) = checked.object().clone() else {
            return Err(refuse(format!("an object that is not a proposal for id {id}")));
        };
        let signer = signer_of(&bytes).map_err(|e| refuse(e.to_string()))?;
        let signer_is_author = signer == proposal.author && self.is_founder(&signer);
        let mut stances = Vec::new();
        for s in &a.stances {
            let b = decode_b64("a stance envelope", &s.envelope).map_err(|e| refuse(e.to_string()))?;
            let c = Ledger::check_signature(&self.coalition, &b)
                .map_err(|e| refuse(format!("stance {} that does not verify ({e})", s.id)))?;
            let Object::Endorsement(e) = c.object() else {
                return Err(refuse(format!("object {} that is not a stance among the stances", s.id)));
            };
            if e.proposal != id || c.id().to_hex() != s.id {
                return Err(refuse(format!("stance {} that is not on proposal {id} or not under its id", s.id)));
            }
            let signer = signer_of(&b).map_err(|e| refuse(e.to_string()))?;
            stances.push(RemoteStance {
                id: c.id(),
                trust: e.trust.to_hex(),
                stance: e.stance.to_string(),
                comment: e.comment.clone(),
                created_at_ms: e.created_at_ms,
                delegation: e.delegation,
                signer: signer.to_hex(),
                signer_is_trust: signer == e.trust && self.is_founder(&signer),
            });
        }
        Ok(RemoteProposal { id, proposal, signer, signer_is_author, stances, node_view: a.node_view })
    }

    /// True when `key` is a founding member's key in the pinned genesis.
    fn is_founder(&self, key: &PublicKey) -> bool {
        self.coalition.roster(&self.coalition.id()).is_some_and(|r| r.contains(key))
    }

    /// The newest roster version as the node reports it (its view), for
    /// the pinned coalition.
    pub fn roster(&self) -> Result<RosterInfo> {
        let r: RosterAnswer = self.get("roster")?.ok_or_else(|| anyhow!("the node serves no roster"))?;
        if r.coalition != self.entry.coalition {
            bail!(
                "the node at {} sent the roster of coalition {}, not {}",
                self.entry.url,
                r.coalition,
                self.entry.coalition
            );
        }
        let id = |s: &str| s.parse::<ObjectId>().map_err(|_| anyhow!("the node's roster holds {s:?}, not an id"));
        Ok(RosterInfo {
            coalition: id(&r.coalition)?,
            version: id(&r.version)?,
            heads: r.heads.iter().map(|h| id(h)).collect::<Result<_>>()?,
            members: r
                .members
                .into_iter()
                .map(|m| MemberInfo {
                    name: m.name,
                    key: m.trust,
                    external_id: m.external_id,
                    root_key: m.root_key,
                    attributes: m.attributes,
                })
                .collect(),
            positions: r.rules.positions,
            membership: r.rules.membership,
            amendments: r.rules.amendments,
            required: r.required,
            sets: r.sets,
        })
    }

    /// An object the node serves by id, verified against the pinned
    /// coalition; `Ok(None)` when the node does not serve it.
    pub fn object(&self, id: ObjectId) -> Result<Option<Object>> {
        let Some(e): Option<EnvelopeJson> = self.get(&format!("objects/{id}"))? else { return Ok(None) };
        let bytes = decode_b64("the object's envelope", &e.envelope)?;
        let c = Ledger::check_signature(&self.coalition, &bytes)
            .map_err(|err| anyhow!("the node at {} sent object {id} that does not verify ({err})", self.entry.url))?;
        if c.id() != id {
            bail!("the node at {} sent an object that is not {id}: it was altered", self.entry.url);
        }
        Ok(Some(c.object().clone()))
    }

    /// `POST /api/v1/objects` with an envelope's exact bytes.
    pub fn submit(&self, envelope: &[u8]) -> Result<Submitted> {
        let url = self.url("objects");
        let mut resp = self
            .agent
            .post(&url)
            .content_type("application/octet-stream")
            .send(envelope)
            .map_err(|e| anyhow!("cannot reach {url}: {e}; nothing was submitted"))?;
        let status = resp.status().as_u16();
        let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.body_mut().with_config().limit(1024 * 1024).read_to_vec().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        match status {
            200..=202 => {
                let outcome = match json["outcome"].as_str() {
                    Some("stored") => SubmitOutcome::Stored,
                    Some("duplicate") => SubmitOutcome::Duplicate,
                    Some("waiting") => SubmitOutcome::Waiting,
                    _ => bail!("{url} answered {status} without an outcome"),
                };
                let id = json["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| anyhow!("{url} answered without an id"))?;
                let adopted = json["adopted"].as_str().and_then(|s| s.parse().ok());
                Ok(Submitted::Accepted(SubmitResult { id, outcome, adopted }))
            }
            422 => Ok(Submitted::Refused {
                reason: json["reason"].as_str().unwrap_or("no reason given").to_string(),
                code: json["code"].as_str().unwrap_or("refused").to_string(),
            }),
            429 => bail!(
                "the node at {} is rate limiting submissions: try again in {} seconds",
                self.entry.url,
                retry.unwrap_or_else(|| "a few".into())
            ),
            _ => bail!("{url} answered {status}: {}", error_message(&body)),
        }
    }
}

/// The key that signed an envelope (its first signature), already
/// verified by `Ledger::check_signature`.
fn signer_of(bytes: &[u8]) -> Result<PublicKey> {
    let env = chorus_core::Envelope::decode(bytes).map_err(|e| anyhow!("{e}"))?;
    PublicKey::from_bytes(&env.signatures()[0].signer).map_err(|e| anyhow!("{e}"))
}

/// The `message` of an API error body, or the start of the body.
fn error_message(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    match json["message"].as_str().or_else(|| json["reason"].as_str()) {
        Some(m) => m.to_string(),
        None => String::from_utf8_lossy(&body[..body.len().min(200)]).replace('\n', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_end_with_a_slash() {
        assert_eq!(normalise_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080/");
        assert_eq!(normalise_url("https://voice.example.org/").unwrap(), "https://voice.example.org/");
        assert_eq!(normalise_url("https://x.org/chorus").unwrap(), "https://x.org/chorus/");
        for bad in ["ftp://x", "x.org", "http://", "http:///x", "http://x/?a=b", "http://x/#f"] {
            assert!(normalise_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(check_name("oak-trust_1").is_ok());
        for bad in ["", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
