//! Proposals, their links and governance actions, and roster version ids
//! (PROTOCOL.md 6, 12.2, 12.3).

use chorus_proto::v1 as pb;
use prost::Message;

use super::{id, key, sorted_ids, text, time, Charter, Member, MemberAttributes};
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::*;

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
    /// Replace every attribute of a member trust (under the membership
    /// rule).
    AmendMember {
        /// Trust id.
        trust: PublicKey,
        /// The new attributes; empty clears them all.
        attributes: MemberAttributes,
    },
}

impl Action {
    /// The trust the action is about, if any.
    pub fn trust(&self) -> Option<&PublicKey> {
        match self {
            Action::Admit(m) => Some(&m.key),
            Action::Remove(t) => Some(t),
            Action::ReplaceKey { trust, .. } => Some(trust),
            Action::AmendCharter(_) => None,
            Action::AmendMember { trust, .. } => Some(trust),
        }
    }

    fn from_proto(a: pb::Action) -> Result<Self, Rejection> {
        let set = usize::from(a.admit.is_some())
            + usize::from(!a.remove.is_empty())
            + usize::from(a.replace_key.is_some())
            + usize::from(a.amend_charter.is_some())
            + usize::from(a.amend_member.is_some());
        if set != 1 {
            return Err(Rejection::InvalidField {
                field: "action",
                reason: "must set exactly one of admit, remove, replace_key, amend_charter, amend_member".into(),
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
        if let Some(m) = a.amend_member {
            let trust = key("amend member trust", &m.trust)?;
            return Ok(Action::AmendMember { trust, attributes: MemberAttributes::from_proto(m.attributes)? });
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
            Action::AmendMember { trust, attributes } => {
                a.amend_member =
                    Some(pb::AmendMember { trust: trust.as_bytes().to_vec(), attributes: attributes.to_proto() })
            }
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
    /// Time voting opens, if fixed (at or after `created_at_ms`, at or
    /// before `closes_at_ms`). `None` with `draft` false: voting is open
    /// from the start, as for every proposal made before drafts existed.
    pub voting_opens_at_ms: Option<u64>,
    /// Published as a draft: voting opens only at `voting_opens_at_ms` or
    /// by the author's open-voting object, whichever is earlier.
    pub draft: bool,
    /// Amendments (comment ids) this revised text takes up: sorted, no id
    /// twice, at most [`MAX_AMENDMENTS`]; non-empty only with a `link`.
    /// Informative: not checked to exist.
    pub amendments: Vec<ObjectId>,
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
        let voting_opens_at_ms = opening(p.voting_opens_at_ms, created_at_ms, closes_at_ms)?;
        let amendments = amendments(&p.amendments, p.link.is_some())?;
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
            voting_opens_at_ms,
            draft: p.draft,
            amendments,
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
            voting_opens_at_ms: self.voting_opens_at_ms.unwrap_or(0),
            draft: self.draft,
            amendments: self.amendments.iter().map(|a| a.0.to_vec()).collect(),
        }
        .encode_to_vec()
    }
}

/// Rule P5a: a fixed opening time is at or after the creation time and,
/// when the proposal closes, at or before its closing time.
fn opening(at: u64, created_at_ms: u64, closes_at_ms: Option<u64>) -> Result<Option<u64>, Rejection> {
    if at == 0 {
        return Ok(None);
    }
    let invalid = |reason: &str| Rejection::InvalidField { field: "voting_opens_at_ms", reason: reason.into() };
    if at < created_at_ms {
        return Err(invalid("is before created_at_ms"));
    }
    if closes_at_ms.is_some_and(|c| at > c) {
        return Err(invalid("is after closes_at_ms"));
    }
    Ok(Some(at))
}

/// Rule P5b: at most [`MAX_AMENDMENTS`] ids of 32 bytes, strictly
/// ascending, and only in a proposal that links to the draft it revises.
fn amendments(list: &[Vec<u8>], linked: bool) -> Result<Vec<ObjectId>, Rejection> {
    let invalid = |reason: String| Rejection::InvalidField { field: "amendments", reason };
    if list.len() > MAX_AMENDMENTS {
        return Err(invalid(format!("lists {} ids, more than {MAX_AMENDMENTS}", list.len())));
    }
    let mut out: Vec<ObjectId> = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        let a =
            ObjectId::from_slice(b).ok_or_else(|| invalid(format!("entry {i} is {} bytes, an id is 32", b.len())))?;
        if out.last().is_some_and(|p| *p >= a) {
            return Err(invalid(format!("not sorted or an id twice (entry {i})")));
        }
        out.push(a);
    }
    if !out.is_empty() && !linked {
        return Err(invalid("a text that takes up amendments must link to the draft it revises".into()));
    }
    Ok(out)
}
