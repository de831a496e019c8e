//! The control interface: how the `chorus` command talks to its local node.
//!
//! ## Transport and access
//! A Unix stream socket at `<data dir>/control.sock`. The data directory is
//! mode 0700 and the socket mode 0600, so only the node's OS user (and root)
//! can connect; on top of that the server checks the peer's credentials
//! (`SO_PEERCRED`) and closes connections from any other uid. Nothing
//! listens on the network, so remote hosts cannot reach it at all.
//!
//! ## Protocol
//! One request per connection: the client writes one JSON object on one
//! line (at most [`MAX_REQUEST_BYTES`]), the server answers with one JSON
//! line and closes. Requests are tagged by `cmd`, e.g. `{"cmd":"status"}`
//! or `{"cmd":"show","id":"3fa2"}`; replies are `{"ok":<result>}` or
//! `{"error":"one line saying what went wrong"}`. Binary values (envelopes,
//! certificates) travel as lower-case hex.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chorus_core::ObjectId;
use serde::de::DeserializeOwned;

use crate::error::{NodeError, Result};

mod breadth;

pub use breadth::{attribute_key, attribute_of, thousands, BreadthBrief, BreadthStatusInfo, BreakdownInfo, ValueInfo};

/// Largest request the server reads.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest reply the client reads (a certificate, hex-encoded, fits).
pub const MAX_REPLY_BYTES: usize = 2 * chorus_core::limits::MAX_CERTIFICATE_BYTES + 64 * 1024;

/// A control request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Node, trust, coalition and network summary: [`StatusInfo`].
    Status,
    /// Connected peers: `Vec<PeerInfo>`.
    Peers,
    /// The coalition served: [`CoalitionInfo`].
    Coalition,
    /// Every proposal: `Vec<ProposalSummary>`.
    Proposals,
    /// Adopted proposals: `Vec<ProposalSummary>`.
    Positions,
    /// One proposal in full: [`ProposalDetail`]. `id` may be a unique prefix.
    Show {
        /// Full id or unique hex prefix.
        id: String,
    },
    /// Ingest a signed object and publish it: [`SubmitResult`].
    Submit {
        /// The exact envelope bytes, hex.
        envelope: String,
    },
    /// A position's certificate: [`CertificateResult`].
    Certificate {
        /// Full id or unique hex prefix of the adopted proposal.
        id: String,
    },
    /// Write a backup of every object to `path` (absolute): [`BackupResult`].
    Export {
        /// Destination file; must not exist.
        path: PathBuf,
    },
    /// Write the website as static files into `dir` (absolute):
    /// [`crate::web::PublishResult`].
    Publish {
        /// Destination directory: new, empty, or written by an earlier publish.
        dir: PathBuf,
        /// Public address, for feed links.
        base_url: Option<String>,
        /// Proposals and stances as well as positions.
        everything: bool,
    },
    /// Ingest every object of a backup file at `path` (absolute): [`BackupResult`].
    Import {
        /// Source file.
        path: PathBuf,
    },
    /// The newest roster version the node's objects define: [`RosterInfo`].
    Roster,
    /// Ids of the held objects (not the genesis) signed by `key` (hex),
    /// sorted: `Vec<ObjectId>`. What a key rotation keeps by default.
    SignedBy {
        /// The signing key, hex.
        key: String,
    },
    /// Dial a peer by multiaddr: `()`.
    Dial {
        /// A libp2p multiaddr, with `/p2p/<peer id>`.
        addr: String,
    },
}

/// A control reply.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Success, with the request's result.
    Ok(serde_json::Value),
    /// Failure, one line.
    Error(String),
}

/// Node summary.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StatusInfo {
    /// libp2p peer id of this node.
    pub node_id: String,
    /// This node's key, hex (its peer id embeds it); see PROTOCOL.md 12.5.
    #[serde(default)]
    pub node_key: String,
    /// Addresses the node listens on.
    pub listen: Vec<String>,
    /// This trust's display name.
    pub trust_name: String,
    /// This trust's key, hex.
    pub trust_key: String,
    /// True when the trust is a member of the coalition.
    pub member: bool,
    /// Coalition id.
    pub coalition: ObjectId,
    /// Coalition name.
    pub coalition_name: String,
    /// Connected peers.
    pub peers: usize,
    /// Member peers the node tries to stay connected to (`target_peers`);
    /// 0 from a node that does not say.
    #[serde(default)]
    pub target_peers: usize,
    /// Objects held, genesis included.
    pub objects: u64,
    /// Proposals known.
    pub proposals: usize,
    /// Positions adopted.
    pub positions: usize,
    /// When the last sync round with a peer completed, ms since 1970.
    pub last_sync_ms: Option<u64>,
    /// Software version.
    pub version: String,
    /// Where the website is served (`http://ip:port/`), if it is.
    #[serde(default)]
    pub website: Option<String>,
    /// Peers that show this node a different history from the one they
    /// announce (PROTOCOL.md 13); empty when none does.
    #[serde(default)]
    pub split_views: Vec<SplitViewInfo>,
}

/// A peer whose split view the network reports (PROTOCOL.md 13).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitViewInfo {
    /// libp2p peer id.
    pub peer_id: String,
    /// The member trust it proved to speak for, hex.
    pub trust: Option<String>,
    /// That trust's name from the roster.
    pub trust_name: Option<String>,
    /// A short stable name of the evidence: `withheld`, `other_coalition`
    /// or `unsupported_roster`.
    pub reason: String,
    /// What contradicts its head, one line.
    pub evidence: String,
    /// Consecutive sessions with evidence.
    pub sessions: u32,
}

impl SplitViewInfo {
    /// The line `chorus status` prints.
    pub fn line(&self) -> String {
        let trust = self.trust_name.as_deref().or(self.trust.as_deref()).unwrap_or("unknown");
        format!("split view: peer {} (trust {trust}) {} ({} sessions)", self.peer_id, self.evidence, self.sessions)
    }
}

/// A connected peer.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PeerInfo {
    /// libp2p peer id.
    pub peer_id: String,
    /// Known addresses.
    pub addrs: Vec<String>,
    /// The member trust it proved to speak for, hex; `None` for a stranger.
    pub trust: Option<String>,
    /// That trust's name from the roster.
    pub trust_name: Option<String>,
}

/// One member of the roster.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MemberInfo {
    /// Display name.
    pub name: String,
    /// Trust key, hex.
    pub key: String,
    /// External identifier.
    pub external_id: Option<String>,
    /// The key the trust's signatures start from, hex: its trust id unless
    /// an adopted key replacement named another (PROTOCOL.md 12.3).
    #[serde(default)]
    pub root_key: String,
    /// What the trust declares about itself (empty from an older node).
    #[serde(default, skip_serializing_if = "AttributesInfo::is_empty")]
    pub attributes: AttributesInfo,
}

/// A member's attributes (issue 15): `None` and an empty list mean not
/// declared. The same values as [`chorus_core::MemberAttributes`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributesInfo {
    /// Region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Trust type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_type: Option<String>,
    /// Number of schools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schools: Option<u32>,
    /// Number of pupils.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pupils: Option<u32>,
    /// Free labels, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

impl AttributesInfo {
    /// True when nothing is declared.
    pub fn is_empty(&self) -> bool {
        *self == AttributesInfo::default()
    }
}

impl From<&chorus_core::MemberAttributes> for AttributesInfo {
    fn from(a: &chorus_core::MemberAttributes) -> Self {
        AttributesInfo {
            region: a.region.clone(),
            phase: a.phase.clone(),
            trust_type: a.trust_type.clone(),
            schools: a.schools,
            pupils: a.pupils,
            labels: a.labels.clone(),
        }
    }
}

impl From<&AttributesInfo> for chorus_core::MemberAttributes {
    fn from(a: &AttributesInfo) -> Self {
        chorus_core::MemberAttributes {
            region: a.region.clone(),
            phase: a.phase.clone(),
            trust_type: a.trust_type.clone(),
            schools: a.schools,
            pupils: a.pupils,
            labels: a.labels.clone(),
        }
    }
}

/// The charter's value sets and breadth rules (issue 15), as the control
/// interface carries them; empty (default bands, no rules) from an older
/// node.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CharterSetsInfo {
    /// Regions, sorted.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Phases, sorted.
    #[serde(default)]
    pub phases: Vec<String>,
    /// Trust types, sorted.
    #[serde(default)]
    pub trust_types: Vec<String>,
    /// Lower bounds of the size bands as carried (empty: the default bands).
    #[serde(default)]
    pub school_bands: Vec<u32>,
    /// Breadth rules of the positions rule.
    #[serde(default)]
    pub positions_breadth: Vec<BreadthRuleInfo>,
    /// Breadth rules of the membership rule.
    #[serde(default)]
    pub membership_breadth: Vec<BreadthRuleInfo>,
    /// Breadth rules of the amendments rule.
    #[serde(default)]
    pub amendments_breadth: Vec<BreadthRuleInfo>,
}

/// One breadth rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreadthRuleInfo {
    /// "region", "phase", "trust_type" or "size_band".
    pub attribute: String,
    /// Distinct declared values the endorsers must show.
    pub min_distinct: u32,
    /// Values at least one endorser each must declare.
    #[serde(default)]
    pub each_of: Vec<String>,
}

impl From<&chorus_core::BreadthRule> for BreadthRuleInfo {
    fn from(b: &chorus_core::BreadthRule) -> Self {
        BreadthRuleInfo {
            attribute: attribute_key(b.attribute).into(),
            min_distinct: b.min_distinct,
            each_of: b.each_of.clone(),
        }
    }
}

impl BreadthRuleInfo {
    /// The rule, `None` when the attribute is not one of the four.
    pub fn to_rule(&self) -> Option<chorus_core::BreadthRule> {
        let attribute = attribute_of(&self.attribute)?;
        Some(chorus_core::BreadthRule { attribute, min_distinct: self.min_distinct, each_of: self.each_of.clone() })
    }
}

impl From<&chorus_core::Charter> for CharterSetsInfo {
    fn from(c: &chorus_core::Charter) -> Self {
        let rules = |r: &[chorus_core::BreadthRule]| r.iter().map(BreadthRuleInfo::from).collect();
        CharterSetsInfo {
            regions: c.attributes.regions.clone(),
            phases: c.attributes.phases.clone(),
            trust_types: c.attributes.trust_types.clone(),
            school_bands: c.attributes.school_bands.clone(),
            positions_breadth: rules(&c.breadth.positions),
            membership_breadth: rules(&c.breadth.membership),
            amendments_breadth: rules(&c.breadth.amendments),
        }
    }
}

/// The coalition a node serves.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CoalitionInfo {
    /// Coalition id.
    pub id: ObjectId,
    /// Name.
    pub name: String,
    /// Current roster version (the coalition id in protocol v1).
    pub roster: ObjectId,
    /// Adoption rule "n/d".
    pub rule: String,
    /// Endorsements needed with the current roster.
    pub required: usize,
    /// Members, sorted by key.
    pub members: Vec<MemberInfo>,
    /// The final genesis envelope, hex.
    pub genesis: String,
}

/// The newest roster version (PROTOCOL.md section 12): its members and
/// charter, and the heads a new proposal pins.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RosterInfo {
    /// Coalition id.
    pub coalition: ObjectId,
    /// Roster version id (the coalition id until a governance proposal is adopted).
    pub version: ObjectId,
    /// The adopted governance proposals that name the version (sorted; empty for the genesis roster).
    pub heads: Vec<ObjectId>,
    /// Members, sorted by key.
    pub members: Vec<MemberInfo>,
    /// Rule for ordinary proposals, "n/d".
    pub positions: String,
    /// Rule for admissions, removals and key replacements, "n/d".
    pub membership: String,
    /// Rule for charter amendments, "n/d".
    pub amendments: String,
    /// Endorsements an ordinary proposal needs under this version.
    pub required: usize,
    /// The charter's value sets and breadth rules (empty from an older node).
    #[serde(default)]
    pub sets: CharterSetsInfo,
}

/// Counts for a proposal.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TallyInfo {
    /// Roster size.
    pub members: usize,
    /// Endorsements needed.
    pub required: usize,
    /// Endorsing trusts.
    pub endorse: usize,
    /// Objecting trusts.
    pub object: usize,
    /// Abstaining trusts.
    pub abstain: usize,
    /// Trusts that signed different stances.
    pub equivocations: usize,
    /// Stances signed after closing (not counted).
    pub late: usize,
}

impl From<chorus_core::Tally> for TallyInfo {
    fn from(t: chorus_core::Tally) -> Self {
        TallyInfo {
            members: t.members,
            required: t.required,
            endorse: t.endorse,
            object: t.object,
            abstain: t.abstain,
            equivocations: t.equivocations,
            late: t.late,
        }
    }
}

/// A proposal in a list.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ProposalSummary {
    /// Proposal id.
    pub id: ObjectId,
    /// Title.
    pub title: String,
    /// Author's trust key, hex.
    pub author: String,
    /// Author's name from the roster.
    pub author_name: String,
    /// Creation time, ms since 1970.
    pub created_at_ms: u64,
    /// Closing time, if any.
    pub closes_at_ms: Option<u64>,
    /// `adopted`, `open` or `closed`.
    pub status: String,
    /// Counts.
    pub tally: TallyInfo,
    /// Breadth in short (rules met, regions of the endorsers), only when
    /// the charter of the proposal's roster version has breadth rules or
    /// value sets; left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breadth: Option<BreadthBrief>,
}

/// One trust's stance on a proposal.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StanceInfo {
    /// Trust key, hex.
    pub trust: String,
    /// Name from the roster.
    pub name: String,
    /// Effective stance (`endorse`, `object`, `abstain`), if any on time.
    pub stance: Option<String>,
    /// True when the trust signed more than one stance.
    pub equivocated: bool,
    /// Latest comment, if any.
    pub comment: Option<String>,
    /// Signing time of the effective record, ms since 1970.
    pub created_at_ms: u64,
}

/// A proposal in full.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ProposalDetail {
    /// Summary fields.
    #[serde(flatten)]
    pub summary: ProposalSummary,
    /// Full markdown body.
    pub body: String,
    /// SHA-256 of the body text, hex.
    pub body_sha256: String,
    /// Every stance, sorted by trust key.
    pub stances: Vec<StanceInfo>,
    /// The proposal envelope exactly as stored, hex; a client can verify it
    /// itself against the genesis.
    pub envelope: String,
    /// The tally by attribute (region, phase, trust type, size band) under
    /// the proposal's roster version, with its breadth rules; `None` from a
    /// node that does not tally the proposal (or does not say).
    #[serde(default)]
    pub breakdown: Option<BreakdownInfo>,
}

/// What the node did with a submitted object. On the wire (and in the
/// CLI's `--json` output) it is the lower-case name: `"stored"`,
/// `"duplicate"` or `"waiting"`. A refused object is not an outcome: the
/// reply is an error saying why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// New, and durable before the reply was sent.
    Stored,
    /// Already held; offered to the peers again.
    Duplicate,
    /// Signed correctly, but the node does not hold yet the objects it
    /// relies on (an admission, a delegation, a rotation, a roster
    /// version): it keeps it in memory, stores it when those arrive, and
    /// has offered it to its peers, which may hold them.
    Waiting,
}

impl SubmitOutcome {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            SubmitOutcome::Stored => "stored",
            SubmitOutcome::Duplicate => "duplicate",
            SubmitOutcome::Waiting => "waiting",
        }
    }
}

impl std::fmt::Display for SubmitOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What submitting an object did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubmitResult {
    /// The object id.
    pub id: ObjectId,
    /// Whether it was stored, already held, or waits for what it relies on.
    pub outcome: SubmitOutcome,
    /// A proposal this object made a position (only when `stored`).
    pub adopted: Option<ObjectId>,
}

/// A certificate.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CertificateResult {
    /// The position's proposal id.
    pub proposal: ObjectId,
    /// The certificate bytes, hex.
    pub certificate: String,
}

/// What an export or import did.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BackupResult {
    /// The file.
    pub path: PathBuf,
    /// Objects written, or objects read.
    pub objects: u64,
    /// On import: objects new to this node.
    pub stored: u64,
    /// On import: objects refused.
    pub refused: u64,
}

/// Where in a control request an I/O error happened: it decides what the
/// error means (see [`NoAnswer::classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting to the socket: nothing reached the node.
    Connect,
    /// Writing the request: the node had accepted the connection.
    Send,
    /// Reading the reply: the node had the request.
    Receive,
}

/// Why a control request got no complete answer. Each case points the
/// operator somewhere different, and has a stable name for `--json`
/// ([`NoAnswer::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// No node is listening: no socket file, or one left over by a node
    /// that is gone (connection refused). Nothing was carried out.
    NotRunning,
    /// The node accepted the connection, then closed it before a full
    /// reply: it stopped (or crashed) while handling the request, which may
    /// or may not have been carried out.
    Stopped,
    /// This OS user may not use the socket: the operating system refused
    /// the connection, or the node closed it because it serves only the
    /// user it runs as.
    PermissionDenied,
    /// Anything else, e.g. no answer within the client's timeout.
    Other,
}

impl NoAnswer {
    /// What an I/O error of kind `kind` at `stage` means.
    pub fn classify(stage: Stage, kind: std::io::ErrorKind) -> NoAnswer {
        use std::io::ErrorKind as K;
        match (stage, kind) {
            (_, K::PermissionDenied) => NoAnswer::PermissionDenied,
            (Stage::Connect, K::NotFound | K::ConnectionRefused) => NoAnswer::NotRunning,
            (Stage::Send | Stage::Receive, K::BrokenPipe | K::ConnectionReset | K::UnexpectedEof) => NoAnswer::Stopped,
            _ => NoAnswer::Other,
        }
    }

    /// The stable machine-readable name (the `code` of a `--json` error).
    pub fn code(self) -> &'static str {
        match self {
            NoAnswer::NotRunning => "node_not_running",
            NoAnswer::Stopped => "node_stopped_during_request",
            NoAnswer::PermissionDenied => "permission_denied",
            NoAnswer::Other => "node_unreachable",
        }
    }
}

/// A client for one node's control socket.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client { socket: socket.into(), timeout: Duration::from_secs(120) }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request and decodes the result.
    pub fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let value = self.call_value(request)?;
        serde_json::from_value(value).map_err(|e| NodeError::Protocol(format!("unexpected reply: {e}")))
    }

    /// Sends one request and returns the raw result. When the node gives no
    /// complete answer the error is [`NodeError::NoAnswer`], saying which
    /// [`NoAnswer`] case it is and what to do.
    pub fn call_value(&self, request: &Request) -> Result<serde_json::Value> {
        let failed = |stage: Stage| {
            move |e: std::io::Error| {
                let failure = NoAnswer::classify(stage, e.kind());
                let detail = match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut if stage == Stage::Receive => {
                        format!(
                            "no answer within {} s; it may be overloaded or stuck: check its log",
                            self.timeout.as_secs()
                        )
                    }
                    _ => e.to_string(),
                };
                if failure == NoAnswer::Stopped {
                    return self.closed_early(request, stage, &detail);
                }
                self.no_answer(failure, self.explain(request, failure, stage, &detail))
            }
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(failed(Stage::Connect))?;
        stream.set_read_timeout(Some(self.timeout)).map_err(failed(Stage::Connect))?;
        let mut line = serde_json::to_vec(request).map_err(|e| NodeError::Protocol(e.to_string()))?;
        line.push(b'\n');
        stream.write_all(&line).map_err(failed(Stage::Send))?;
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        (&mut stream).take(MAX_REPLY_BYTES as u64 + 1).read_to_end(&mut buf).map_err(failed(Stage::Receive))?;
        if buf.len() > MAX_REPLY_BYTES {
            return Err(NodeError::Protocol(format!("reply over {MAX_REPLY_BYTES} bytes")));
        }
        if buf.is_empty() {
            return Err(self.closed_early(request, Stage::Receive, "it closed the connection without answering"));
        }
        match serde_json::from_slice::<Reply>(&buf) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Error(e)) => Err(NodeError::Remote(e)),
            // The node ends every reply with a line break: a reply cut
            // short is a node that stopped while writing it.
            Err(_) if !buf.ends_with(b"\n") => {
                let detail = format!("its reply broke off after {} bytes", buf.len());
                Err(self
                    .no_answer(NoAnswer::Stopped, self.explain(request, NoAnswer::Stopped, Stage::Receive, &detail)))
            }
            Err(e) => Err(NodeError::Protocol(format!("unreadable reply: {e}"))),
        }
    }

    fn no_answer(&self, failure: NoAnswer, message: String) -> NodeError {
        NodeError::NoAnswer { failure, socket: self.socket.clone(), message }
    }

    /// The node accepted the connection and closed it before a byte of
    /// reply (`detail` says how the client saw it): it either refused this
    /// OS user (the server closes connections from any uid but the socket
    /// owner's, possibly before reading the request) or stopped.
    fn closed_early(&self, request: &Request, stage: Stage, detail: &str) -> NodeError {
        let owner = std::fs::metadata(&self.socket).ok().map(|m| m.uid());
        match (owner, own_uid()) {
            (Some(owner), Some(me)) if owner != me => self.no_answer(
                NoAnswer::PermissionDenied,
                format!(
                    "the node closed the connection without answering: it serves only its own OS user (uid {owner}, \
                     the owner of {}) and you are uid {me}; run the command as that user",
                    self.socket.display()
                ),
            ),
            (Some(_), Some(_)) => {
                self.no_answer(NoAnswer::Stopped, self.explain(request, NoAnswer::Stopped, stage, detail))
            }
            _ => {
                let message = format!(
                    "{} (or, if you are not the OS user the node runs as, it refused you: it serves only its own \
                     OS user)",
                    self.explain(request, NoAnswer::Stopped, stage, detail)
                );
                self.no_answer(NoAnswer::Stopped, message)
            }
        }
    }

    /// The message for `failure` at `stage` of `request`: what happened
    /// (`detail`, the operating system's words) and what to do.
    fn explain(&self, request: &Request, failure: NoAnswer, stage: Stage, detail: &str) -> String {
        let socket = self.socket.display();
        let data_dir = self.socket.parent().unwrap_or(Path::new(".")).display();
        match failure {
            NoAnswer::NotRunning => {
                let why = if self.socket.exists() {
                    format!("{socket} is left over from a node that is no longer running ({detail})")
                } else {
                    format!("there is no control socket at {socket}")
                };
                format!(
                    "no node is running for data directory {data_dir}: {why}; start it with \
                     `chorus node run --data-dir {data_dir}` (or `systemctl start chorus` under the packaged unit)"
                )
            }
            NoAnswer::Stopped => {
                let mut m = format!(
                    "the node stopped while handling the request ({detail}); check its log (the output of \
                     `chorus node run`, or `journalctl -u chorus` under the packaged unit) for why. The request \
                     may or may not have been carried out: once the node runs again, check with `chorus status`"
                );
                if let Request::Submit { envelope } = request {
                    let decoded = hex::decode(envelope).ok().and_then(|b| chorus_core::Envelope::decode(&b).ok());
                    let id = decoded.map(|e| format!(" {}", e.id())).unwrap_or_default();
                    m.push_str(&format!(
                        "; the object{id} may already be stored: submitting the same signed object again is safe \
                         (the node keeps one copy per object id), but running the command again signs a new \
                         object, so look for this one first (`chorus proposals`, `chorus show ID`)"
                    ));
                }
                m
            }
            NoAnswer::PermissionDenied => {
                let owner = std::fs::metadata(&self.socket)
                    .or_else(|_| std::fs::metadata(self.socket.parent().unwrap_or(Path::new("."))))
                    .map(|m| format!(" (uid {})", m.uid()))
                    .unwrap_or_default();
                format!(
                    "cannot reach the node at {socket}: {detail}: the node serves only its own OS user{owner}, \
                     the owner of data directory {data_dir}; run the command as that user"
                )
            }
            NoAnswer::Other if stage == Stage::Connect => format!(
                "cannot reach the node at {socket}: {detail}; is `chorus node run` running with this data directory?"
            ),
            NoAnswer::Other => format!("the node at {socket} gave no answer: {detail}"),
        }
    }
}

/// The effective uid of this process: the owner of `/proc/self` (Linux);
/// `None` where that cannot be read.
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Parses a full id or a hex prefix (at least 4 characters) into a matcher.
pub fn parse_prefix(s: &str) -> std::result::Result<String, String> {
    let p = s.trim().to_ascii_lowercase();
    if p.len() < 4 || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not an id: give the full 64-character id or a unique prefix of at least 4 hex characters"
        ));
    }
    Ok(p)
}

/// Resolves a prefix among `ids`: exactly one must match.
pub fn resolve_prefix(
    prefix: &str,
    ids: impl IntoIterator<Item = ObjectId>,
    what: &str,
) -> std::result::Result<ObjectId, String> {
    let p = parse_prefix(prefix)?;
    let matches: Vec<ObjectId> = ids.into_iter().filter(|id| id.to_hex().starts_with(&p)).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no {what} has an id starting with {p}; list them with `chorus proposals`")),
        many => Err(format!(
            "{p} is ambiguous: {} {what}s start with it ({}...); give more characters",
            many.len(),
            many.iter().take(3).map(|i| i.short(12)).collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_view_line_names_the_peer_its_trust_and_the_evidence() {
        let mut v = SplitViewInfo {
            peer_id: "12D3KooWExample".into(),
            trust: Some("ab".repeat(32)),
            trust_name: Some("Oakfield".into()),
            reason: "withheld".into(),
            evidence: "withholds objects: announced 210, showed 200".into(),
            sessions: 2,
        };
        assert_eq!(
            v.line(),
            "split view: peer 12D3KooWExample (trust Oakfield) withholds objects: announced 210, showed 200 (2 sessions)"
        );
        v.trust_name = None;
        assert!(v.line().contains(&format!("(trust {})", "ab".repeat(32))));
        // The JSON form (`chorus status --json`) round-trips.
        let status: serde_json::Value = serde_json::json!({"split_views": [v]});
        let back: Vec<SplitViewInfo> = serde_json::from_value(status["split_views"].clone()).unwrap();
        assert_eq!(back, vec![v]);
    }

    #[test]
    fn requests_are_tagged_json() {
        let r: Request = serde_json::from_str(r#"{"cmd":"show","id":"3fa2"}"#).unwrap();
        assert_eq!(r, Request::Show { id: "3fa2".into() });
        assert_eq!(serde_json::to_string(&Request::Status).unwrap(), r#"{"cmd":"status"}"#);
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"rm -rf"}"#).is_err());
    }

    #[test]
    fn submit_outcomes_keep_their_wire_names() {
        for (outcome, name) in [
            (SubmitOutcome::Stored, "stored"),
            (SubmitOutcome::Duplicate, "duplicate"),
            (SubmitOutcome::Waiting, "waiting"),
        ] {
            assert_eq!(serde_json::to_value(outcome).unwrap(), serde_json::json!(name));
            assert_eq!(outcome.to_string(), name);
        }
        let id = ObjectId([0xab; 32]);
        let r = SubmitResult { id, outcome: SubmitOutcome::Waiting, adopted: None };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, format!(r#"{{"id":"{id}","outcome":"waiting","adopted":null}}"#));
        assert_eq!(serde_json::from_str::<SubmitResult>(&line).unwrap(), r);
        let unknown = line.replace("waiting", "maybe");
        assert!(serde_json::from_str::<SubmitResult>(&unknown).is_err());
    }

    #[test]
    fn prefixes_resolve_like_git() {
        let a = ObjectId([0xab; 32]);
        let b = ObjectId([0xac; 32]);
        assert_eq!(resolve_prefix("abab", [a, b], "proposal"), Ok(a));
        assert!(resolve_prefix("a", [a, b], "proposal").unwrap_err().contains("at least 4"));
        assert!(resolve_prefix("ffff", [a, b], "proposal").unwrap_err().contains("no proposal"));
        let a2 = ObjectId([
            0xab, 0xab, 0xab, 0xab, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        ]);
        assert!(resolve_prefix("abab", [a, a2], "proposal").unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn io_errors_map_to_what_the_operator_should_look_at() {
        use std::io::ErrorKind as K;
        let cases = [
            (Stage::Connect, K::NotFound, NoAnswer::NotRunning),
            (Stage::Connect, K::ConnectionRefused, NoAnswer::NotRunning),
            (Stage::Connect, K::PermissionDenied, NoAnswer::PermissionDenied),
            (Stage::Send, K::BrokenPipe, NoAnswer::Stopped),
            (Stage::Send, K::ConnectionReset, NoAnswer::Stopped),
            (Stage::Receive, K::ConnectionReset, NoAnswer::Stopped),
            (Stage::Receive, K::UnexpectedEof, NoAnswer::Stopped),
            (Stage::Receive, K::WouldBlock, NoAnswer::Other),
            (Stage::Receive, K::TimedOut, NoAnswer::Other),
            // A refused connection after connecting is not "no node".
            (Stage::Receive, K::ConnectionRefused, NoAnswer::Other),
            (Stage::Connect, K::BrokenPipe, NoAnswer::Other),
        ];
        for (stage, kind, want) in cases {
            assert_eq!(NoAnswer::classify(stage, kind), want, "{stage:?} {kind:?}");
        }
        let codes =
            [NoAnswer::NotRunning, NoAnswer::Stopped, NoAnswer::PermissionDenied, NoAnswer::Other].map(NoAnswer::code);
        assert_eq!(codes, ["node_not_running", "node_stopped_during_request", "permission_denied", "node_unreachable"]);
    }

    fn failure(e: NodeError) -> (NoAnswer, String) {
        match e {
            NodeError::NoAnswer { failure, message, .. } => (failure, message),
            other => panic!("expected no answer, got {other}"),
        }
    }

    #[test]
    fn a_missing_or_stale_socket_is_no_node_running() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        assert_eq!(f, NoAnswer::NotRunning);
        assert!(m.contains("no node is running") && m.contains("no control socket at"), "{m}");
        assert!(m.contains("chorus node run"), "{m}");
        // A listener dropped without unlinking: what a killed node leaves.
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        assert_eq!(f, NoAnswer::NotRunning);
        assert!(m.contains("left over from a node that is no longer running"), "{m}");
    }

    /// A server that reads the request, writes `reply` and closes.
    fn serve_once(socket: &Path, reply: &'static [u8]) -> std::thread::JoinHandle<()> {
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut line = Vec::new();
            let _ = s.read_to_end(&mut line);
            let _ = s.write_all(reply);
        })
    }

    #[test]
    fn a_node_that_closes_mid_request_stopped_during_it() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let server = serve_once(&socket, b"");
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        server.join().unwrap();
        // The socket is ours, so the node did not refuse our uid.
        assert_eq!(f, NoAnswer::Stopped);
        assert!(m.contains("stopped while handling the request") && m.contains("may or may not"), "{m}");
        assert!(!m.contains("own OS user"), "{m}");

        std::fs::remove_file(&socket).unwrap();
        let server = serve_once(&socket, br#"{"ok":{"id":"#);
        let proposal = chorus_core::testkit::Fixture::new(1).proposal(0, "t", 0, None);
        let envelope = hex::encode(proposal.bytes());
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Submit { envelope }).unwrap_err());
        server.join().unwrap();
        assert_eq!(f, NoAnswer::Stopped);
        assert!(m.contains("broke off after 12 bytes"), "{m}");
        assert!(m.contains("submitting the same signed object again is safe"), "{m}");
        assert!(m.contains(&proposal.id().to_string()), "{m}");
    }

    #[test]
    fn a_complete_reply_is_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let server = serve_once(&socket, b"{\"error\":\"no such proposal\"}\n");
        let e = Client::new(&socket).call_value(&Request::Status).unwrap_err();
        server.join().unwrap();
        assert!(matches!(e, NodeError::Remote(ref m) if m == "no such proposal"), "{e}");
    }
}
