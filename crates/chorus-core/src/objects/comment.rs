//! A member's comment on a proposal, optionally a reply or an amendment
//! (kind 10, PROTOCOL.md 6.7).

use chorus_proto::v1 as pb;
use prost::Message;

use super::{id, key, text, time};
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::*;

/// A text proposed in place of a draft's: what makes a comment an
/// amendment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Amendment {
    /// The proposed body, 1..=65536 bytes (Markdown).
    pub body: String,
    /// The proposed title; `None` keeps the proposal's.
    pub title: Option<String>,
}

/// A member trust's comment on a proposal (kind 10). Never affects
/// adoption.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Comment {
    /// Coalition id.
    pub coalition: CoalitionId,
    /// Signing time, ms since 1970.
    pub created_at_ms: u64,
    /// The proposal commented on (held or not).
    pub proposal: ObjectId,
    /// The commenting trust.
    pub trust: PublicKey,
    /// The delegation under which a delegate signed, if any.
    pub delegation: Option<ObjectId>,
    /// The comment; empty only in an amendment.
    pub text: String,
    /// The comment this one replies to, if any (not checked to exist).
    pub reply_to: Option<ObjectId>,
    /// The proposed text, if this comment is an amendment.
    pub amendment: Option<Amendment>,
}

impl Comment {
    /// Parses and checks a comment body (rules C1 to C9, in order):
    /// decoding and canonical form ("comment body"), coalition, time,
    /// proposal, trust key, delegation, text, reply_to, amendment, and a
    /// text that says something unless the comment is an amendment.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        Self::from_body_with(body, |b| key("trust", b))
    }

    /// As [`Comment::from_body`], resolving the trust field with
    /// `trust_key` (a founder's key is taken from the roster).
    pub(crate) fn from_body_with(
        body: &[u8],
        trust_key: impl FnOnce(&[u8]) -> Result<PublicKey, Rejection>,
    ) -> Result<Self, Rejection> {
        let c: pb::Comment = decode_canonical(body, "comment body")?;
        let coalition = id("coalition", &c.coalition)?;
        let created_at_ms = time("comment created_at_ms", c.created_at_ms)?;
        let proposal = id("proposal", &c.proposal)?;
        let trust = trust_key(&c.trust)?;
        let delegation = if c.delegation.is_empty() { None } else { Some(id("delegation", &c.delegation)?) };
        text("text", &c.text, 0, MAX_COMMENT_TEXT_BYTES, false)?;
        let reply_to = if c.reply_to.is_empty() { None } else { Some(id("reply_to", &c.reply_to)?) };
        let amendment = match c.amendment {
            None => None,
            Some(a) => {
                text("amendment body", &a.body, 1, MAX_BODY_BYTES, false)?;
                text("amendment title", &a.title, 0, MAX_TITLE_BYTES, true)?;
                Some(Amendment { body: a.body, title: (!a.title.is_empty()).then_some(a.title) })
            }
        };
        if c.text.is_empty() && amendment.is_none() {
            return Err(Rejection::InvalidField {
                field: "text",
                reason: "a comment must say something (only an amendment may leave it empty)".into(),
            });
        }
        Ok(Comment { coalition, created_at_ms, proposal, trust, delegation, text: c.text, reply_to, amendment })
    }

    /// The canonical body encoding.
    pub fn to_body(&self) -> Vec<u8> {
        pb::Comment {
            coalition: self.coalition.0.to_vec(),
            created_at_ms: self.created_at_ms,
            proposal: self.proposal.0.to_vec(),
            trust: self.trust.as_bytes().to_vec(),
            delegation: self.delegation.map(|d| d.0.to_vec()).unwrap_or_default(),
            text: self.text.clone(),
            reply_to: self.reply_to.map(|r| r.0.to_vec()).unwrap_or_default(),
            amendment: self
                .amendment
                .as_ref()
                .map(|a| pb::Amendment { body: a.body.clone(), title: a.title.clone().unwrap_or_default() }),
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn comment() -> Comment {
        Comment {
            coalition: ObjectId([1; 32]),
            created_at_ms: 5,
            proposal: ObjectId([2; 32]),
            trust: Keypair::from_seed(&[3; 32]).public(),
            delegation: None,
            text: "Agreed, with one change.\nSee below.".into(),
            reply_to: Some(ObjectId([4; 32])),
            amendment: None,
        }
    }

    fn refused(c: &Comment) -> String {
        Comment::from_body(&c.to_body()).unwrap_err().to_string()
    }

    #[test]
    fn a_comment_round_trips_and_starts_with_the_common_header() {
        let mut c = comment();
        assert_eq!(Comment::from_body(&c.to_body()).unwrap(), c);
        c.amendment = Some(Amendment { body: "New text".into(), title: Some("New title".into()) });
        c.text.clear();
        c.delegation = Some(ObjectId([9; 32]));
        assert_eq!(Comment::from_body(&c.to_body()).unwrap(), c);
        let h = crate::objects::OpaqueHeader::from_body(&c.to_body()).unwrap();
        assert_eq!((h.coalition, h.created_at_ms), (c.coalition, c.created_at_ms));
    }

    #[test]
    fn each_body_rule_names_its_field() {
        let mut c = comment();
        c.text.clear();
        assert_eq!(refused(&c), "text: a comment must say something (only an amendment may leave it empty)");
        c.text = "x".repeat(MAX_COMMENT_TEXT_BYTES + 1);
        assert_eq!(refused(&c), "text: is 8193 bytes, over the limit of 8192");
        let mut c = comment();
        c.amendment = Some(Amendment { body: String::new(), title: None });
        assert_eq!(refused(&c), "amendment body: must not be empty");
        c.amendment = Some(Amendment { body: "b".into(), title: Some("two\nlines".into()) });
        assert_eq!(refused(&c), "amendment title: contains control character U+000A");
        let mut c = comment();
        c.created_at_ms = 0;
        assert_eq!(refused(&c), "comment created_at_ms: must be set (milliseconds since 1970)");
        let mut raw = pb::Comment::decode(comment().to_body().as_slice()).unwrap();
        raw.reply_to = vec![1; 31];
        let e = Comment::from_body(&raw.encode_to_vec()).unwrap_err().to_string();
        assert_eq!(e, "reply_to: must be 32 bytes, is 31");
        let mut raw = pb::Comment::decode(comment().to_body().as_slice()).unwrap();
        raw.trust = vec![0; 31];
        assert!(Comment::from_body(&raw.encode_to_vec()).unwrap_err().to_string().starts_with("trust: "));
    }
}
