//! The results the control requests answer with, as they travel (JSON):
//! the node's status and peers, the roster with its members' attributes
//! and the charter's value sets and breadth rules, proposals in a list and
//! in full with their tallies and stances, and what submitting, a
//! certificate request, an export or an import did. Each [`super::Request`]
//! variant names the one it answers with.

use std::path::PathBuf;

use chorus_core::ObjectId;

use super::{
    attribute_key, attribute_of, BreadthBrief, BreakdownInfo, CommentInfo, NoticeInfo, RecordTiming, WindowInfo,
};

fn role_member() -> String {
    crate::config::ROLE_MEMBER.into()
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
    /// This trust's key, hex (an observer's node: its node key).
    pub trust_key: String,
    /// "member" (a member trust's node) or "observer" (a node that follows
    /// the coalition without being a member's node, PROTOCOL.md 14.9);
    /// "member" from an older node.
    #[serde(default = "role_member")]
    pub role: String,
    /// True when the trust is a member of the coalition (never for an observer).
    pub member: bool,
    /// Coalition id.
    pub coalition: ObjectId,
    /// Coalition name.
    pub coalition_name: String,
    /// Connected peers.
    pub peers: usize,
    /// Connected observers (PROTOCOL.md 14.9), never among `peers`' members;
    /// 0 from an older node.
    #[serde(default)]
    pub observers: usize,
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
    /// True for an observer (PROTOCOL.md 14.9): it follows the coalition
    /// and is never a member's node; false from an older node.
    #[serde(default)]
    pub observer: bool,
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

/// The charter's value sets and breadth rules (issue 15) and its observer
/// access, as the control interface carries them; empty (default bands, no
/// rules, observers "positions") from an older node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// Who may follow the coalition without being a member's node
    /// (PROTOCOL.md 14.9): "positions", "everything" or "none"
    /// ([`crate::observer::access_name`]); "positions" from an older node.
    #[serde(default = "crate::observer::default_access_name")]
    pub observers: String,
}

impl Default for CharterSetsInfo {
    fn default() -> Self {
        CharterSetsInfo {
            regions: Vec::new(),
            phases: Vec::new(),
            trust_types: Vec::new(),
            school_bands: Vec::new(),
            positions_breadth: Vec::new(),
            membership_breadth: Vec::new(),
            amendments_breadth: Vec::new(),
            observers: crate::observer::default_access_name(),
        }
    }
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
            observers: crate::observer::access_name(c.observers).into(),
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
    /// Stance records signed after the vote ended (closing time or
    /// withdrawal; not counted).
    pub late: usize,
    /// Stance records signed before voting opened (not counted); 0 from
    /// an older node.
    #[serde(default)]
    pub early: usize,
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
            early: t.early,
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
    /// `adopted`, `open`, `closed`, `draft` (voting has not opened) or
    /// `withdrawn` (by its author, without adoption).
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
    /// Ids of the trust's records the node counts (authorised under the
    /// proposal's roster version, early, on time or late), sorted; the
    /// same list as the HTTP API's `node_view.stances[].records`. A record
    /// of the trust the node holds but does not list here does not count
    /// (a revoked or ended delegation, a key no longer the trust's). Empty
    /// from nodes older than this field.
    #[serde(default)]
    pub records: Vec<ObjectId>,
    /// The same records, in the same order, each with its stance, signing
    /// time and timing under the voting window (`early`, `on_time`,
    /// `late`): only on-time records count towards the stance. Empty from
    /// an older node.
    #[serde(default)]
    pub record_timing: Vec<RecordTiming>,
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
    /// Published as a draft (PROTOCOL.md 6.4): voting opens at
    /// `voting_opens_at_ms` or by the author's open-voting object.
    #[serde(default)]
    pub draft: bool,
    /// The fixed opening time the proposal carries, if any.
    #[serde(default)]
    pub voting_opens_at_ms: Option<u64>,
    /// The voting window as the node derives it; `None` from an older
    /// node.
    #[serde(default)]
    pub window: Option<WindowInfo>,
    /// Comments and amendments on the proposal, by (creation time, id),
    /// counted or not.
    #[serde(default)]
    pub comments: Vec<CommentInfo>,
    /// Comments held but left out of `comments`: past the bound every view
    /// shares ([`chorus_web::discussion`]: at most 500, counted comments
    /// first, taking turns between trusts in time order, within a size
    /// budget), or all of them when the request asked for none.
    #[serde(default)]
    pub comments_omitted: usize,
    /// The author's open-voting and withdrawal objects, by (creation time,
    /// id), counted or not: every counted one, then the others, at most
    /// 100 in all.
    #[serde(default)]
    pub notices: Vec<NoticeInfo>,
    /// Notices held but left out of `notices`.
    #[serde(default)]
    pub notices_omitted: usize,
    /// Held proposals that revise this one (their link targets it with
    /// relation amends), by (creation time, id). A proposal that
    /// supersedes this one is not listed.
    #[serde(default)]
    pub revisions: Vec<ObjectId>,
    /// The proposal this one links to (revises or supersedes), if any.
    #[serde(default)]
    pub revises: Option<ObjectId>,
    /// The amendments (comment ids) this text takes up, as signed.
    #[serde(default)]
    pub amendments: Vec<ObjectId>,
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

impl SubmitResult {
    /// How the error answering a `Submit` request begins when the node
    /// refused the object (it is invalid or not authorised), as opposed to
    /// the node failing to read or store it; the reason follows after `: `.
    pub const REFUSED: &'static str = "the node refused the object";
}

/// A certificate.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CertificateResult {
    /// The position's proposal id.
    pub proposal: ObjectId,
    /// The certificate bytes, hex.
    pub certificate: String,
    /// True when it carries a seal (a member's node attests its dissent);
    /// false from a node that did not say.
    #[serde(default)]
    pub sealed: bool,
    /// Why it carries none, when it does not.
    #[serde(default)]
    pub unsealed_reason: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stance_from_an_older_node_parses_without_records() {
        let old =
            r#"{"trust":"ab","name":"Oak","stance":"endorse","equivocated":false,"comment":null,"created_at_ms":5}"#;
        let s: StanceInfo = serde_json::from_str(old).unwrap();
        assert!(s.records.is_empty() && s.record_timing.is_empty());
        let id = ObjectId([7; 32]);
        let back: StanceInfo =
            serde_json::from_value(serde_json::to_value(StanceInfo { records: vec![id], ..s }).unwrap()).unwrap();
        assert_eq!(back.records, vec![id]);
    }

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
}
