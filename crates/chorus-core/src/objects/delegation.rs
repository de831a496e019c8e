//! Kinds 5-7, which say which keys speak for a trust: delegations,
//! revocations and key rotations (PROTOCOL.md 12.5-12.7).

use chorus_proto::v1 as pb;
use prost::Message;

use super::{id, key, sorted_ids, text, time};
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::PublicKey;
use crate::limits::*;

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
