//! A trust's signed stance on a proposal (PROTOCOL.md 7).

use chorus_proto::v1 as pb;
use prost::Message;

use super::{id, key, text, time};
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::*;

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
