//! Typed bodies of v1 objects, with the field rules of PROTOCOL.md.
//!
//! Parsing (`from_body`) checks everything that can be checked on the body
//! alone: canonical encoding, lengths, required fields, enum values. Rules
//! that need context (membership, coalition, signatures) live in
//! [`crate::Coalition`].

use chorus_proto::v1 as pb;
use prost::Message;

use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::*;

fn text(field: &'static str, s: &str, min: usize, max: usize, single_line: bool) -> Result<(), Rejection> {
    if s.len() < min {
        return Err(Rejection::InvalidField { field, reason: "must not be empty".into() });
    }
    if s.len() > max {
        return Err(Rejection::InvalidField {
            field,
            reason: format!("is {} bytes, over the limit of {max}", s.len()),
        });
    }
    // Bodies keep newlines and tabs; titles and names are single lines. No
    // other control characters anywhere, so nothing can hide from a reader.
    let bad = s.chars().find(|&c| c.is_control() && (single_line || (c != '\n' && c != '\t' && c != '\r')));
    if let Some(c) = bad {
        return Err(Rejection::InvalidField {
            field,
            reason: format!("contains control character U+{:04X}", c as u32),
        });
    }
    Ok(())
}

fn key(field: &'static str, bytes: &[u8]) -> Result<PublicKey, Rejection> {
    PublicKey::from_bytes(bytes).map_err(|error| Rejection::BadKey { field, error })
}

fn id(field: &'static str, bytes: &[u8]) -> Result<ObjectId, Rejection> {
    ObjectId::from_slice(bytes)
        .ok_or_else(|| Rejection::InvalidField { field, reason: format!("must be 32 bytes, is {}", bytes.len()) })
}

fn time(field: &'static str, t: u64) -> Result<u64, Rejection> {
    if t == 0 {
        return Err(Rejection::InvalidField { field, reason: "must be set (milliseconds since 1970)".into() });
    }
    Ok(t)
}

/// A member trust of a roster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// The trust's root key.
    pub key: PublicKey,
    /// Display name.
    pub name: String,
    /// External identifier such as a company number.
    pub external_id: Option<String>,
}

impl Member {
    fn from_proto(m: pb::Member) -> Result<Self, Rejection> {
        text("member name", &m.name, 1, MAX_NAME_BYTES, true)?;
        text("member external id", &m.external_id, 0, MAX_EXTERNAL_ID_BYTES, true)?;
        Ok(Member {
            key: key("member trust key", &m.trust_key)?,
            name: m.name,
            external_id: (!m.external_id.is_empty()).then_some(m.external_id),
        })
    }

    fn to_proto(&self) -> pb::Member {
        pb::Member {
            trust_key: self.key.as_bytes().to_vec(),
            name: self.name.clone(),
            external_id: self.external_id.clone().unwrap_or_default(),
        }
    }
}

/// When a proposal is adopted: more than `numerator/denominator` of the
/// roster endorse it, never more than the whole roster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdoptionRule {
    /// Fraction numerator.
    pub numerator: u32,
    /// Fraction denominator, at least 1.
    pub denominator: u32,
}

impl Default for AdoptionRule {
    /// More than half of the members.
    fn default() -> Self {
        AdoptionRule { numerator: 1, denominator: 2 }
    }
}

impl AdoptionRule {
    /// A checked rule.
    pub fn new(numerator: u32, denominator: u32) -> Result<Self, Rejection> {
        if denominator == 0 || denominator > MAX_RULE_DENOMINATOR {
            return Err(Rejection::InvalidField {
                field: "adoption rule denominator",
                reason: format!("must be between 1 and {MAX_RULE_DENOMINATOR}"),
            });
        }
        if numerator > denominator {
            return Err(Rejection::InvalidField {
                field: "adoption rule numerator",
                reason: "must not exceed the denominator".into(),
            });
        }
        Ok(AdoptionRule { numerator, denominator })
    }

    /// Endorsements needed among `members`: `floor(members * n / d) + 1`,
    /// capped at `members`.
    pub fn required(&self, members: usize) -> usize {
        let m = members as u64;
        let need = m * u64::from(self.numerator) / u64::from(self.denominator) + 1;
        need.min(m) as usize
    }
}

/// The coalition's rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Charter {
    /// Rule for ordinary proposals (default: more than 1/2).
    pub positions: AdoptionRule,
    /// Rule for admitting, removing or replacing the key of a member
    /// (default: more than 2/3).
    pub membership: AdoptionRule,
    /// Rule for amending the charter (default: more than 3/4).
    pub amendments: AdoptionRule,
}

impl Default for Charter {
    fn default() -> Self {
        Charter {
            positions: AdoptionRule::default(),
            membership: Charter::DEFAULT_MEMBERSHIP,
            amendments: Charter::DEFAULT_AMENDMENTS,
        }
    }
}

fn rule_from_proto(r: Option<pb::AdoptionRule>, default: AdoptionRule) -> Result<AdoptionRule, Rejection> {
    match r {
        None => Ok(default),
        Some(r) => AdoptionRule::new(r.numerator, r.denominator),
    }
}

fn rule_to_proto(r: AdoptionRule, default: AdoptionRule) -> Option<pb::AdoptionRule> {
    (r != default).then_some(pb::AdoptionRule { numerator: r.numerator, denominator: r.denominator })
}

impl Charter {
    /// Default membership rule: more than two thirds.
    pub const DEFAULT_MEMBERSHIP: AdoptionRule = AdoptionRule { numerator: 2, denominator: 3 };
    /// Default amendment rule: more than three quarters.
    pub const DEFAULT_AMENDMENTS: AdoptionRule = AdoptionRule { numerator: 3, denominator: 4 };

    /// A charter with this positions rule and default governance rules.
    pub fn with_positions(positions: AdoptionRule) -> Self {
        Charter { positions, ..Charter::default() }
    }

    pub(crate) fn from_proto(c: Option<pb::Charter>) -> Result<Self, Rejection> {
        let Some(c) = c else { return Ok(Charter::default()) };
        Ok(Charter {
            positions: rule_from_proto(c.positions, AdoptionRule::default())?,
            membership: rule_from_proto(c.membership, Charter::DEFAULT_MEMBERSHIP)?,
            amendments: rule_from_proto(c.amendments, Charter::DEFAULT_AMENDMENTS)?,
        })
    }

    /// Only rules that differ from their default are written; a charter
    /// whose rules are all defaults is absent.
    pub(crate) fn to_proto(&self) -> Option<pb::Charter> {
        if *self == Charter::default() {
            return None;
        }
        Some(self.to_proto_present())
    }

    fn to_proto_present(&self) -> pb::Charter {
        pb::Charter {
            positions: rule_to_proto(self.positions, AdoptionRule::default()),
            membership: rule_to_proto(self.membership, Charter::DEFAULT_MEMBERSHIP),
            amendments: rule_to_proto(self.amendments, Charter::DEFAULT_AMENDMENTS),
        }
    }
}

/// The founding document of a coalition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Genesis {
    /// Coalition display name.
    pub name: String,
    /// Rules.
    pub charter: Charter,
    /// Founding members, sorted by key, no key twice.
    pub founders: Vec<Member>,
    /// Creation time, ms since 1970.
    pub created_at_ms: u64,
    /// Distinguishes otherwise equal geneses.
    pub nonce: Vec<u8>,
}

impl Genesis {
    /// Parses and checks a genesis body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        Self::from_body_with_threads(body, 1)
    }

    /// As [`Genesis::from_body`], parsing founder keys (a point decompression
    /// each) on up to `threads` threads when there are many. The verdict,
    /// including which founder a refusal names, is the sequential one.
    pub(crate) fn from_body_with_threads(body: &[u8], threads: usize) -> Result<Self, Rejection> {
        let g: pb::Genesis = decode_canonical(body, "genesis body")?;
        text("coalition name", &g.name, 1, MAX_NAME_BYTES, true)?;
        if g.founders.is_empty() || g.founders.len() > MAX_MEMBERS {
            return Err(Rejection::InvalidField {
                field: "founders",
                reason: format!("must list 1 to {MAX_MEMBERS} members, lists {}", g.founders.len()),
            });
        }
        if g.nonce.len() > MAX_NONCE_BYTES {
            return Err(Rejection::InvalidField {
                field: "nonce",
                reason: format!("must be at most {MAX_NONCE_BYTES} bytes"),
            });
        }
        let mut founders = Vec::with_capacity(g.founders.len());
        for m in parse_members(g.founders, threads) {
            let m = m?;
            if founders.last().is_some_and(|p: &Member| p.key >= m.key) {
                return Err(Rejection::InvalidField {
                    field: "founders",
                    reason: format!("must be sorted by trust key with no key twice (at {})", m.key),
                });
            }
            founders.push(m);
        }
        Ok(Genesis {
            name: g.name,
            charter: Charter::from_proto(g.charter)?,
            founders,
            created_at_ms: time("genesis created_at_ms", g.created_at_ms)?,
            nonce: g.nonce,
        })
    }

    /// The canonical body encoding. Founders are sorted here, so a genesis
    /// built in any order encodes the same way.
    pub fn to_body(&self) -> Vec<u8> {
        let mut founders: Vec<pb::Member> = self.founders.iter().map(Member::to_proto).collect();
        founders.sort_by(|a, b| a.trust_key.cmp(&b.trust_key));
        pb::Genesis {
            name: self.name.clone(),
            charter: self.charter.to_proto(),
            founders,
            created_at_ms: self.created_at_ms,
            nonce: self.nonce.clone(),
        }
        .encode_to_vec()
    }
}

/// Below this many members, threads cost more than they save.
const PARALLEL_MEMBERS: usize = 256;

/// [`Member::from_proto`] of every member, in order. Parses all of them even
/// if an early one fails, so the caller must take the first error in order.
fn parse_members(members: Vec<pb::Member>, threads: usize) -> Vec<Result<Member, Rejection>> {
    crate::parallel::map_in_threads(members, threads, PARALLEL_MEMBERS, Member::from_proto)
}

/// How a proposal relates to an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relation {
    /// A revised text of the target.
    Amends,
    /// Replaces the target.
    Supersedes,
}

/// A link from a proposal to an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProposalLink {
    /// The earlier proposal.
    pub target: ObjectId,
    /// How this one relates to it.
    pub relation: Relation,
}

/// What a governance proposal does once adopted (PROTOCOL.md 12.2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Admit a trust; its key becomes its trust id.
    Admit(Member),
    /// Remove the member trust with this trust id.
    Remove(PublicKey),
    /// Replace a member trust's root key.
    ReplaceKey {
        /// Trust id.
        trust: PublicKey,
        /// The new root key.
        new_key: PublicKey,
    },
    /// Replace the charter by this one.
    AmendCharter(Charter),
}

impl Action {
    /// The trust the action is about, if any.
    pub fn trust(&self) -> Option<&PublicKey> {
        match self {
            Action::Admit(m) => Some(&m.key),
            Action::Remove(t) => Some(t),
            Action::ReplaceKey { trust, .. } => Some(trust),
            Action::AmendCharter(_) => None,
        }
    }

    fn from_proto(a: pb::Action) -> Result<Self, Rejection> {
        let set = usize::from(a.admit.is_some())
            + usize::from(!a.remove.is_empty())
            + usize::from(a.replace_key.is_some())
            + usize::from(a.amend_charter.is_some());
        if set != 1 {
            return Err(Rejection::InvalidField {
                field: "action",
                reason: "must set exactly one of admit, remove, replace_key, amend_charter".into(),
            });
        }
        if let Some(m) = a.admit {
            return Ok(Action::Admit(Member::from_proto(m)?));
        }
        if !a.remove.is_empty() {
            return Ok(Action::Remove(key("remove", &a.remove)?));
        }
        if let Some(r) = a.replace_key {
            let trust = key("replace trust", &r.trust)?;
            let new_key = key("replace new key", &r.new_key)?;
            if trust == new_key {
                return Err(Rejection::InvalidField {
                    field: "replace new key",
                    reason: "must differ from the trust id".into(),
                });
            }
            return Ok(Action::ReplaceKey { trust, new_key });
        }
        Ok(Action::AmendCharter(Charter::from_proto(a.amend_charter)?))
    }

    fn to_proto(&self) -> pb::Action {
        let mut a = pb::Action::default();
        match self {
            Action::Admit(m) => a.admit = Some(m.to_proto()),
            Action::Remove(t) => a.remove = t.as_bytes().to_vec(),
            Action::ReplaceKey { trust, new_key } => {
                a.replace_key =
                    Some(pb::KeyReplacement { trust: trust.as_bytes().to_vec(), new_key: new_key.as_bytes().to_vec() })
            }
            Action::AmendCharter(c) => a.amend_charter = Some(c.to_proto_present()),
        }
        a
    }
}

/// Prefix of a roster version id (PROTOCOL.md 12.3).
pub const ROSTER_VERSION_PREFIX: &[u8] = b"chorus/v1/roster\n";

/// The id of the roster version with these heads (sorted, no id twice): the
/// coalition id when there are none, else SHA-256 of the prefix, the
/// coalition id and the heads.
pub fn version_id(coalition: &CoalitionId, heads: &[ObjectId]) -> ObjectId {
    use sha2::{Digest, Sha256};
    if heads.is_empty() {
        return *coalition;
    }
    let mut h = Sha256::new();
    h.update(ROSTER_VERSION_PREFIX);
    h.update(coalition.as_bytes());
    for head in heads {
        h.update(head.as_bytes());
    }
    ObjectId(h.finalize().into())
}

/// A strictly ascending list of ids, at most `max`.
fn sorted_ids(field: &'static str, list: &[Vec<u8>], max: usize) -> Result<Vec<ObjectId>, Rejection> {
    let bad = || Rejection::InvalidField { field, reason: format!("must list at most {max} ids, sorted, none twice") };
    if list.len() > max {
        return Err(bad());
    }
    let mut out: Vec<ObjectId> = Vec::with_capacity(list.len());
    for b in list {
        let i = id(field, b)?;
        if out.last().is_some_and(|p| *p >= i) {
            return Err(bad());
        }
        out.push(i);
    }
    Ok(out)
}

/// A text put to the coalition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Proposal {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Roster version voted under.
    pub roster: ObjectId,
    /// Proposing trust.
    pub author: PublicKey,
    /// Creation time, ms since 1970.
    pub created_at_ms: u64,
    /// Closing time, if any.
    pub closes_at_ms: Option<u64>,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Optional link.
    pub link: Option<ProposalLink>,
    /// Governance action, if this is a governance proposal.
    pub action: Option<Action>,
    /// Heads of the roster version voted under (empty: the genesis roster).
    pub roster_heads: Vec<ObjectId>,
}

impl Proposal {
    /// Parses and checks a proposal body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let p: pb::Proposal = decode_canonical(body, "proposal body")?;
        text("title", &p.title, 1, MAX_TITLE_BYTES, true)?;
        text("body", &p.body, 0, MAX_BODY_BYTES, false)?;
        let created_at_ms = time("proposal created_at_ms", p.created_at_ms)?;
        let closes_at_ms = (p.closes_at_ms != 0).then_some(p.closes_at_ms);
        if closes_at_ms.is_some_and(|c| c < created_at_ms) {
            return Err(Rejection::InvalidField { field: "closes_at_ms", reason: "is before created_at_ms".into() });
        }
        let link = match p.link {
            None => None,
            Some(l) => {
                let relation = match pb::LinkRelation::try_from(l.relation) {
                    Ok(pb::LinkRelation::Amends) => Relation::Amends,
                    Ok(pb::LinkRelation::Supersedes) => Relation::Supersedes,
                    _ => {
                        return Err(Rejection::InvalidField {
                            field: "link relation",
                            reason: format!("{} is not amends (1) or supersedes (2)", l.relation),
                        })
                    }
                };
                Some(ProposalLink { target: id("link target", &l.target)?, relation })
            }
        };
        let coalition = id("coalition", &p.coalition)?;
        let roster = id("roster", &p.roster)?;
        let author = key("author", &p.author)?;
        let action = p.action.map(Action::from_proto).transpose()?;
        let roster_heads = sorted_ids("roster heads", &p.roster_heads, MAX_ROSTER_HEADS)?;
        if roster != version_id(&coalition, &roster_heads) {
            return Err(Rejection::InvalidField {
                field: "roster",
                reason: "is not the version id of roster_heads".into(),
            });
        }
        Ok(Proposal {
            coalition,
            roster,
            author,
            created_at_ms,
            closes_at_ms,
            title: p.title,
            body: p.body,
            link,
            action,
            roster_heads,
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Proposal {
            coalition: self.coalition.0.to_vec(),
            roster: self.roster.0.to_vec(),
            author: self.author.as_bytes().to_vec(),
            created_at_ms: self.created_at_ms,
            closes_at_ms: self.closes_at_ms.unwrap_or(0),
            title: self.title.clone(),
            body: self.body.clone(),
            link: self.link.map(|l| pb::ProposalLink {
                target: l.target.0.to_vec(),
                relation: match l.relation {
                    Relation::Amends => pb::LinkRelation::Amends as i32,
                    Relation::Supersedes => pb::LinkRelation::Supersedes as i32,
                },
            }),
            action: self.action.as_ref().map(Action::to_proto),
            roster_heads: self.roster_heads.iter().map(|h| h.0.to_vec()).collect(),
        }
        .encode_to_vec()
    }
}

/// A member trust's stance on a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stance {
    /// For. Counts towards adoption.
    Endorse,
    /// Against, on the record.
    Object,
    /// Present, neither for nor against.
    Abstain,
}

impl Stance {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Stance::Endorse => "endorse",
            Stance::Object => "object",
            Stance::Abstain => "abstain",
        }
    }

    fn wire(self) -> i32 {
        match self {
            Stance::Endorse => pb::Stance::Endorse as i32,
            Stance::Object => pb::Stance::Object as i32,
            Stance::Abstain => pb::Stance::Abstain as i32,
        }
    }
}

impl std::fmt::Display for Stance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One trust's signed stance on one proposal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endorsement {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// The proposal.
    pub proposal: ObjectId,
    /// The trust whose stance this is.
    pub trust: PublicKey,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// The stance.
    pub stance: Stance,
    /// Optional comment.
    pub comment: Option<String>,
    /// The delegation under which a delegate signed this stance, if any.
    pub delegation: Option<ObjectId>,
}

impl Endorsement {
    /// Parses and checks an endorsement body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        Self::from_body_with(body, |_, b| key("trust", b))
    }

    /// As [`Endorsement::from_body`], resolving the trust field with
    /// `trust_key(coalition, trust_bytes)`, so a caller that knows the roster
    /// can check the coalition first and need not decompress the point again.
    pub(crate) fn from_body_with(
        body: &[u8],
        trust_key: impl FnOnce(CoalitionId, &[u8]) -> Result<PublicKey, Rejection>,
    ) -> Result<Self, Rejection> {
        let e: pb::Endorsement = decode_canonical(body, "endorsement body")?;
        let coalition = id("coalition", &e.coalition)?;
        text("comment", &e.comment, 0, MAX_COMMENT_BYTES, false)?;
        let stance = match pb::Stance::try_from(e.stance) {
            Ok(pb::Stance::Endorse) => Stance::Endorse,
            Ok(pb::Stance::Object) => Stance::Object,
            Ok(pb::Stance::Abstain) => Stance::Abstain,
            _ => {
                return Err(Rejection::InvalidField {
                    field: "stance",
                    reason: format!("{} is not endorse (1), object (2) or abstain (3)", e.stance),
                })
            }
        };
        let proposal = id("proposal", &e.proposal)?;
        let delegation = if e.delegation.is_empty() { None } else { Some(id("delegation", &e.delegation)?) };
        Ok(Endorsement {
            coalition,
            delegation,
            proposal,
            trust: trust_key(coalition, &e.trust)?,
            created_at_ms: time("endorsement created_at_ms", e.created_at_ms)?,
            stance,
            comment: (!e.comment.is_empty()).then_some(e.comment),
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Endorsement {
            coalition: self.coalition.0.to_vec(),
            proposal: self.proposal.0.to_vec(),
            trust: self.trust.as_bytes().to_vec(),
            created_at_ms: self.created_at_ms,
            stance: self.stance.wire(),
            comment: self.comment.clone().unwrap_or_default(),
            delegation: self.delegation.map(|d| d.0.to_vec()).unwrap_or_default(),
        }
        .encode_to_vec()
    }
}

/// Scope bit: the delegate may sign stances for the trust.
pub const SCOPE_STANCES: u32 = 1;
/// Scope bit: the delegate is a node key of the trust.
pub const SCOPE_NODE: u32 = 2;

/// Kind 5: a trust authorises a delegate key (PROTOCOL.md 12.5).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delegation {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Trust id of the delegating trust.
    pub trust: PublicKey,
    /// The delegate's key.
    pub delegate: PublicKey,
    /// Delegate's name.
    pub name: String,
    /// Delegate's role.
    pub role: String,
    /// Start of validity, ms.
    pub valid_from_ms: u64,
    /// End of validity (inclusive), if any.
    pub valid_until_ms: Option<u64>,
    /// Scope bits ([`SCOPE_STANCES`], [`SCOPE_NODE`]).
    pub scope: u32,
    /// Signing time, ms.
    pub created_at_ms: u64,
}

impl Delegation {
    /// Parses and checks a delegation body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let d: pb::Delegation = decode_canonical(body, "delegation body")?;
        let coalition = id("coalition", &d.coalition)?;
        let trust = key("trust", &d.trust)?;
        let delegate = key("delegate", &d.delegate)?;
        if delegate == trust {
            return Err(Rejection::InvalidField { field: "delegate", reason: "must differ from the trust id".into() });
        }
        text("delegate name", &d.name, 1, MAX_NAME_BYTES, true)?;
        text("delegate role", &d.role, 0, MAX_NAME_BYTES, true)?;
        let valid_from_ms = time("valid_from_ms", d.valid_from_ms)?;
        let valid_until_ms = (d.valid_until_ms != 0).then_some(d.valid_until_ms);
        if valid_until_ms.is_some_and(|u| u < valid_from_ms) {
            return Err(Rejection::InvalidField { field: "valid_until_ms", reason: "is before valid_from_ms".into() });
        }
        if d.scope == 0 || d.scope & !(SCOPE_STANCES | SCOPE_NODE) != 0 {
            return Err(Rejection::InvalidField {
                field: "scope",
                reason: format!("{} must be a non-empty combination of stances (1) and node (2)", d.scope),
            });
        }
        Ok(Delegation {
            coalition,
            trust,
            delegate,
            name: d.name,
            role: d.role,
            valid_from_ms,
            valid_until_ms,
            scope: d.scope,
            created_at_ms: time("delegation created_at_ms", d.created_at_ms)?,
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Delegation {
            coalition: self.coalition.0.to_vec(),
            trust: self.trust.as_bytes().to_vec(),
            delegate: self.delegate.as_bytes().to_vec(),
            name: self.name.clone(),
            role: self.role.clone(),
            valid_from_ms: self.valid_from_ms,
            valid_until_ms: self.valid_until_ms.unwrap_or(0),
            scope: self.scope,
            created_at_ms: self.created_at_ms,
        }
        .encode_to_vec()
    }

    /// True when a stance signed at `t` falls in the validity period.
    pub fn valid_at(&self, t: u64) -> bool {
        self.valid_from_ms <= t && self.valid_until_ms.is_none_or(|u| t <= u)
    }
}

/// Kind 6: a trust withdraws a delegation (PROTOCOL.md 12.7).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Revocation {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Trust id.
    pub trust: PublicKey,
    /// The delegation withdrawn.
    pub delegation: ObjectId,
    /// Stances under it that keep counting, sorted.
    pub keep: Vec<ObjectId>,
    /// Signing time, ms.
    pub created_at_ms: u64,
}

impl Revocation {
    /// Parses and checks a revocation body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let r: pb::Revocation = decode_canonical(body, "revocation body")?;
        Ok(Revocation {
            coalition: id("coalition", &r.coalition)?,
            trust: key("trust", &r.trust)?,
            delegation: id("delegation", &r.delegation)?,
            keep: sorted_ids("keep", &r.keep, MAX_KEEP_IDS)?,
            created_at_ms: time("revocation created_at_ms", r.created_at_ms)?,
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Revocation {
            coalition: self.coalition.0.to_vec(),
            trust: self.trust.as_bytes().to_vec(),
            delegation: self.delegation.0.to_vec(),
            keep: self.keep.iter().map(|k| k.0.to_vec()).collect(),
            created_at_ms: self.created_at_ms,
        }
        .encode_to_vec()
    }
}

/// Kind 7: a trust's key hands over to a new key, signed by the old key
/// (PROTOCOL.md 12.6).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyRotation {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Trust id.
    pub trust: PublicKey,
    /// The new key.
    pub new_key: PublicKey,
    /// Objects signed by the old key that keep their effect, sorted.
    pub keep: Vec<ObjectId>,
    /// Signing time, ms.
    pub created_at_ms: u64,
}

impl KeyRotation {
    /// Parses and checks a key rotation body (the signer is checked against
    /// `new_key` with the envelope).
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let r: pb::KeyRotation = decode_canonical(body, "key rotation body")?;
        Ok(KeyRotation {
            coalition: id("coalition", &r.coalition)?,
            trust: key("trust", &r.trust)?,
            new_key: key("new_key", &r.new_key)?,
            keep: sorted_ids("keep", &r.keep, MAX_KEEP_IDS)?,
            created_at_ms: time("rotation created_at_ms", r.created_at_ms)?,
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::KeyRotation {
            coalition: self.coalition.0.to_vec(),
            trust: self.trust.as_bytes().to_vec(),
            new_key: self.new_key.as_bytes().to_vec(),
            keep: self.keep.iter().map(|k| k.0.to_vec()).collect(),
            created_at_ms: self.created_at_ms,
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adoption_rule_thresholds() {
        let majority = AdoptionRule::default();
        assert_eq!(majority.required(1), 1);
        assert_eq!(majority.required(2), 2);
        assert_eq!(majority.required(3), 2);
        assert_eq!(majority.required(4), 3);
        assert_eq!(majority.required(3000), 1501);
        let all = AdoptionRule::new(1, 1).unwrap();
        assert_eq!(all.required(5), 5);
        let two_thirds = AdoptionRule::new(2, 3).unwrap();
        assert_eq!(two_thirds.required(9), 7);
        let any = AdoptionRule::new(0, 1).unwrap();
        assert_eq!(any.required(9), 1);
        assert!(AdoptionRule::new(3, 2).is_err());
        assert!(AdoptionRule::new(1, 0).is_err());
        assert_eq!(AdoptionRule::new(1, 1).unwrap().required(MAX_MEMBERS), MAX_MEMBERS);
    }

    #[test]
    fn text_rules() {
        assert!(text("t", "", 1, 10, true).is_err());
        assert!(text("t", "a\nb", 1, 10, true).is_err());
        assert!(text("t", "a\nb", 1, 10, false).is_ok());
        assert!(text("t", "a\u{1b}[2J", 1, 10, false).is_err());
        assert!(text("t", "abcdefghijk", 1, 10, false).is_err());
    }

    #[test]
    fn parallel_founder_parsing_names_the_same_founder() {
        let mut keys: Vec<[u8; 32]> = (0..600u32).map(|i| *crate::testkit::member_key(i).public().as_bytes()).collect();
        keys.sort();
        let genesis = |keys: &[[u8; 32]]| pb::Genesis {
            name: "G".into(),
            charter: None,
            founders: keys
                .iter()
                .map(|k| pb::Member { trust_key: k.to_vec(), name: "t".into(), external_id: String::new() })
                .collect(),
            created_at_ms: 1,
            nonce: vec![],
        };
        let ok = genesis(&keys).encode_to_vec();
        let seq = Genesis::from_body_with_threads(&ok, 1).unwrap();
        for threads in [2, 3, 7] {
            assert_eq!(Genesis::from_body_with_threads(&ok, threads).unwrap(), seq);
        }
        // A bad key late and a sort fault early: the early fault is named;
        // a bad name before a bad key: the name.
        let mut g = genesis(&keys);
        g.founders[500].trust_key = vec![0; 32];
        g.founders[500].trust_key[0] = 1; // the identity, small order
        g.founders.swap(10, 11);
        let mut h = genesis(&keys);
        h.founders[450].name.clear();
        h.founders[460].trust_key.truncate(5);
        let mut k = genesis(&keys);
        k.founders[599].trust_key = vec![0xff; 32];
        for bad in [g, h, k] {
            let body = bad.encode_to_vec();
            let want = Genesis::from_body_with_threads(&body, 1).unwrap_err();
            for threads in [2, 3, 7] {
                assert_eq!(Genesis::from_body_with_threads(&body, threads).unwrap_err(), want);
            }
        }
    }
}
