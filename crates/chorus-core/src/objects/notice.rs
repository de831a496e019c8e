//! The author's notices on a proposal: opening voting (kind 13) and
//! withdrawing it (kind 14), PROTOCOL.md 6.8.

use chorus_proto::v1 as pb;
use prost::Message;

use super::{id, key, text, time};
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::MAX_REASON_BYTES;

/// The author opens voting on a proposal (kind 13, signing name
/// `kind-13`): voting opens at its `created_at_ms`, if it counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OpenVoting {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Signing time, ms since 1970; the time voting opens.
    pub created_at_ms: u64,
    /// The proposal.
    pub proposal: ObjectId,
    /// The proposal's author trust.
    pub author: PublicKey,
}

/// The author withdraws a proposal (kind 14, signing name `kind-14`): no
/// stance signed after its `created_at_ms` counts, if it counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Withdrawal {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Signing time, ms since 1970; the time the vote ends.
    pub created_at_ms: u64,
    /// The proposal.
    pub proposal: ObjectId,
    /// The proposal's author trust.
    pub author: PublicKey,
    /// Why, if given.
    pub reason: Option<String>,
}

impl OpenVoting {
    /// Parses and checks an open-voting body: decoding and canonical form
    /// ("open-voting body"), coalition, time, proposal, author key.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let o: pb::OpenVoting = decode_canonical(body, "open-voting body")?;
        Ok(OpenVoting {
            coalition: id("coalition", &o.coalition)?,
            created_at_ms: time("open-voting created_at_ms", o.created_at_ms)?,
            proposal: id("proposal", &o.proposal)?,
            author: key("author", &o.author)?,
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::OpenVoting {
            coalition: self.coalition.0.to_vec(),
            created_at_ms: self.created_at_ms,
            proposal: self.proposal.0.to_vec(),
            author: self.author.as_bytes().to_vec(),
        }
        .encode_to_vec()
    }
}

impl Withdrawal {
    /// Parses and checks a withdrawal body: decoding and canonical form
    /// ("withdrawal body"), coalition, time, proposal, author key, reason.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        let w: pb::Withdrawal = decode_canonical(body, "withdrawal body")?;
        let coalition = id("coalition", &w.coalition)?;
        let created_at_ms = time("withdrawal created_at_ms", w.created_at_ms)?;
        let proposal = id("proposal", &w.proposal)?;
        let author = key("author", &w.author)?;
        text("reason", &w.reason, 0, MAX_REASON_BYTES, false)?;
        Ok(Withdrawal {
            coalition,
            created_at_ms,
            proposal,
            author,
            reason: (!w.reason.is_empty()).then_some(w.reason),
        })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Withdrawal {
            coalition: self.coalition.0.to_vec(),
            created_at_ms: self.created_at_ms,
            proposal: self.proposal.0.to_vec(),
            author: self.author.as_bytes().to_vec(),
            reason: self.reason.clone().unwrap_or_default(),
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn notices_round_trip_and_name_their_fields() {
        let author = Keypair::from_seed(&[3; 32]).public();
        let o = OpenVoting { coalition: ObjectId([1; 32]), created_at_ms: 7, proposal: ObjectId([2; 32]), author };
        assert_eq!(OpenVoting::from_body(&o.to_body()).unwrap(), o);
        let h = crate::objects::OpaqueHeader::from_body(&o.to_body()).unwrap();
        assert_eq!(h.created_at_ms, 7);
        let mut w = Withdrawal {
            coalition: o.coalition,
            created_at_ms: 8,
            proposal: o.proposal,
            author,
            reason: Some("Superseded by the revised text.\nThanks all.".into()),
        };
        assert_eq!(Withdrawal::from_body(&w.to_body()).unwrap(), w);
        w.reason = Some("x".repeat(MAX_REASON_BYTES + 1));
        assert_eq!(
            Withdrawal::from_body(&w.to_body()).unwrap_err().to_string(),
            "reason: is 1001 bytes, over the limit of 1000"
        );
        let zero = OpenVoting { created_at_ms: 0, ..o.clone() };
        assert_eq!(
            OpenVoting::from_body(&zero.to_body()).unwrap_err().to_string(),
            "open-voting created_at_ms: must be set (milliseconds since 1970)"
        );
        let mut raw = pb::OpenVoting::decode(o.to_body().as_slice()).unwrap();
        raw.author = vec![1; 3];
        assert!(OpenVoting::from_body(&raw.encode_to_vec()).unwrap_err().to_string().starts_with("author: "));
        let mut bytes = o.to_body();
        bytes.extend_from_slice(&[0x28, 0x01]);
        assert_eq!(OpenVoting::from_body(&bytes), Err(Rejection::NonCanonical { what: "open-voting body" }));
    }
}
