//! Governance commands (PROTOCOL.md section 12): the roster, membership and
//! charter proposals, delegation of stances to a leader, revocation, key
//! rotation, and leader key files. Every object is built and signed here,
//! where the keys are, and submitted to the node, which validates it.
//!
//! [`membership`] holds the roster's member and charter commands (and the
//! attribute and value-set arguments they share with `chorus coalition
//! draft`), [`keys`] the delegation, revocation and key commands; this file
//! the helpers they share and the signer of a stance.

use std::path::PathBuf;

use anyhow::Result;
use chorus_core::{Keypair, ObjectId, PublicKey};
use chorus_node::control::{Client, RosterInfo};
use chorus_node::datadir::{read_secret, DataDir};
use chorus_node::founding::parse_key;

use crate::error::Usage;
use crate::leader;
use crate::output::Output;

mod keys;
mod membership;

pub use keys::{delegate, leader_key, revoke, rotate_key, trust_key, DelegateArgs, RevokeArgs, TrustKeyCmd};
pub(crate) use membership::{attributes_text, observers_line, sets_lines};
pub use membership::{charter, member, AttributeArgs, CharterCmd, MemberCmd, SetsArgs};

/// The trust's signing key and id (they differ after `chorus rotate-key`).
pub fn trust_signer(dd: &DataDir) -> Result<(Keypair, PublicKey)> {
    Ok((dd.trust_key()?, dd.trust_id()?))
}

fn find_member<'a>(roster: &'a RosterInfo, trust: &PublicKey) -> Option<&'a chorus_node::control::MemberInfo> {
    let hex = trust.to_hex();
    roster.members.iter().find(|m| m.key == hex)
}

fn key_arg(what: &str, s: &str) -> Result<PublicKey> {
    parse_key(s.trim()).map_err(|e| Usage(format!("{what} {s:?} is not a trust key: {e}")).into())
}

fn id_arg(what: &str, s: &str) -> Result<ObjectId> {
    s.trim().parse().map_err(|_| Usage(format!("{what} {s:?} is not an object id (64 hex characters)")).into())
}

/// `chorus roster`.
pub fn roster(client: &Client) -> Result<Output> {
    let r = leader::roster(client)?;
    Ok(Output::new(&r, leader::roster_text(&r)))
}

/// The signer of a stance: the trust key, or a leader key file with its
/// delegation.
pub fn stance_signer(dd: &DataDir, leader: Option<&PathBuf>, delegation: Option<&str>) -> Result<leader::Signer> {
    let trust = dd.trust_id()?;
    match (leader, delegation) {
        (None, None) => Ok(leader::Signer { key: dd.trust_key()?, trust, delegation: None }),
        (Some(file), Some(d)) => {
            let key = read_secret(file)?;
            Ok(leader::Signer { key, trust, delegation: Some(id_arg("--delegation", d)?) })
        }
        _ => Err(Usage("--as-leader KEYFILE and --delegation ID go together".into()).into()),
    }
}
