//! Typed bodies of v1 objects, with the field rules of PROTOCOL.md.
//!
//! Parsing (`from_body`) checks everything that can be checked on the body
//! alone: canonical encoding, lengths, required fields, enum values. Rules
//! that need context (coalition, signatures, known keys, roster versions)
//! live in [`crate::Ledger`] (PROTOCOL.md 12.8).
//!
//! One module per kind of object: the genesis with its members and charter
//! (`genesis`; member attributes, value sets and breadth rules in
//! `attributes`), proposals and their actions (`proposal`), stances
//! (`stance`), and the objects that say which keys speak for a trust
//! (`delegation`: delegations, revocations, key rotations), and the common
//! header of the reserved kinds, whose bodies are otherwise opaque
//! (`opaque`), and deliberation: comments and amendments (`comment`), the
//! author's open-voting and withdrawal notices (`notice`).

mod attributes;
mod comment;
mod delegation;
mod genesis;
mod notice;
mod opaque;
mod proposal;
mod stance;

pub use attributes::{Attribute, AttributeSets, BreadthRule, MemberAttributes};
pub use comment::{Amendment, Comment};
pub use delegation::{Delegation, KeyRotation, Revocation, SCOPE_NODE, SCOPE_STANCES};
pub use genesis::{AdoptionRule, BreadthRules, Charter, Genesis, Member, ObserverAccess};
pub use notice::{OpenVoting, Withdrawal};
pub use opaque::OpaqueHeader;
pub use proposal::{version_id, Action, Proposal, ProposalLink, Relation};
pub use stance::{Endorsement, Stance};

use crate::error::Rejection;
use crate::id::ObjectId;
use crate::keys::PublicKey;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(text("t", "", 1, 10, true).is_err());
        assert!(text("t", "a\nb", 1, 10, true).is_err());
        assert!(text("t", "a\nb", 1, 10, false).is_ok());
        assert!(text("t", "a\u{1b}[2J", 1, 10, false).is_err());
        assert!(text("t", "abcdefghijk", 1, 10, false).is_err());
    }
}
